/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * Continuous recording into a directory of trace files that rotate by size
 * or age, under a cap on their total size (oldest removed first). Each file
 * begins with a snapshot of what is live (the caller's snapshot function),
 * so it reads on its own; files of one run also read as one (report).
 */
#ifndef XT_ROTATE_H
#define XT_ROTATE_H

#include <stdbool.h>
#include <jansson.h>
#include "records.h"

struct rotator;

struct rotate_opts {
	const char *dir;
	__u64 max_file_bytes;
	__u64 max_file_ns;
	__u64 max_total_bytes;
	/* Writes the live entities into a fresh file through sink(sink_ctx). */
	void (*snapshot)(void *ctx, xt_sink_fn sink, void *sink_ctx);
	void *ctx;
};

/* hdr is copied; each file gets it plus "agent.file_seq". */
int rotator__new(const struct rotate_opts *o, const json_t *hdr,
		 struct rotator **out);
/* A sink: records go to the current file (nowhere once stopped). */
int rotator__sink(void *ctx, const struct xt_rec_hdr *rec);
/* After a harvest: rotate when due; flush at most once a second. */
void rotator__tick(struct rotator *r, __u64 now_ns);
/* Write out what is queued (before someone reads the files). */
void rotator__flush(struct rotator *r);
bool rotator__recording(const struct rotator *r);
__u64 rotator__bytes_written(const struct rotator *r);
__u64 rotator__files(const struct rotator *r);
__u64 rotator__removed(const struct rotator *r);
const char *rotator__dir(const struct rotator *r);
/* Close the current file cleanly. */
int rotator__close(struct rotator *r);
void rotator__free(struct rotator *r);

#endif
