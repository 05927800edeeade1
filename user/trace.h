/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/* Trace files: a versioned header, then zlib chunks each with a CRC32. */
#ifndef XT_TRACE_H
#define XT_TRACE_H

#include <stdbool.h>
#include <jansson.h>
#include "records.h"

#define XT_TRACE_MAGIC		"XFERTRC\0"
#define XT_TRACE_VERSION	1
#define XT_CHUNK_MAGIC		0x4b435458u	/* "XTCK" */
#define XT_CHUNK_RAW_MAX	(1u << 20)
#define XT_HEADER_JSON_MAX	(1u << 16)

struct trace_writer;
struct trace_reader;

/* The header is a JSON object (host, kernel, clocks, hooks...). */
int trace_writer__open(const char *path, json_t *header,
		       struct trace_writer **out);
/*
 * Until commit the trace is a temporary file beside PATH (mode 0640);
 * commit renames it onto PATH. Close commits a trace not yet committed
 * unless writing failed; discard drops an uncommitted trace (and
 * closes a committed one, keeping what was written).
 */
int trace_writer__commit(struct trace_writer *w);
int trace_writer__discard(struct trace_writer *w);
const char *trace_writer__tmp_path(const struct trace_writer *w);
/* Queue one record; a chunk goes out when the buffer fills. */
int trace_writer__add(struct trace_writer *w, const struct xt_rec_hdr *rec);
/* Compress and write what is queued as one chunk. */
int trace_writer__flush(struct trace_writer *w);
/* Flush and close; returns the first error seen. */
int trace_writer__close(struct trace_writer *w);
__u64 trace_writer__bytes(const struct trace_writer *w);
/* Bytes safely in the file: header and whole chunks. */
__u64 trace_writer__written(const struct trace_writer *w);
/* A sink for the collector. */
int trace_writer__sink(void *ctx, const struct xt_rec_hdr *rec);

int trace_reader__open(const char *path, struct trace_reader **out);
const json_t *trace_reader__header(const struct trace_reader *r);
/* 1 with *rec set, 0 at the end (clean or not), negative on I/O error. */
int trace_reader__next(struct trace_reader *r, const struct xt_rec_hdr **rec);
/* After the end: was the file cut short or damaged, and where. */
bool trace_reader__truncated(const struct trace_reader *r, __u64 *offset,
			     const char **why);
__u64 trace_reader__chunks(const struct trace_reader *r);
/* Records kept from the damaged chunk the reader stopped in (else 0). */
__u64 trace_reader__partial_records(const struct trace_reader *r);
void trace_reader__free(struct trace_reader *r);

#endif
