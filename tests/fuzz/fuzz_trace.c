// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * libFuzzer target: the trace reader plus model plus report. The input is
 * a whole trace file; `report` reads it as text, as JSON (with the trials
 * of its live marks, if any) and in --compare against itself, as a user
 * would. Any crash, leak or undefined behaviour is a bug: a bad trace
 * must give a one-line error.
 *
 * An input that starts with the trace magic is the file as is (reader:
 * chunks, CRCs, truncation). Any other input is "HEADER-JSON\nRECORDS",
 * written through the real trace writer (tests/fuzz/trace2seed.py makes
 * one from a trace), so that mutations of records reach the model.
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "commands.h"
#include "trace.h"

static char path[] = "/tmp/xt-fuzz-trace.XXXXXX";

static void unlink_path(void)
{
	unlink(path);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	int fd = mkstemp(path);

	if (fd < 0) {
		perror("fuzz_trace: mkstemp");
		exit(1);
	}
	close(fd);
	atexit(unlink_path);
	/* Reports go to stdout: away with them (errors stay on stderr). */
	if (!freopen("/dev/null", "w", stdout))
		exit(1);
	return 0;
}

static void write_raw(const unsigned char *data, size_t size)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);

	if (fd < 0 || write(fd, data, size) != (ssize_t)size)
		abort();
	close(fd);
}

/* Header JSON, newline, records: through the writer into path. */
static void write_structured(const unsigned char *data, size_t size)
{
	const unsigned char *nl = memchr(data, '\n', size);
	struct trace_writer *w;
	struct xt_rec_hdr h;
	json_t *hdr;
	size_t off;

	if (!nl)
		return;
	hdr = json_loadb((const char *)data, nl - data, 0, NULL);
	if (!json_is_object(hdr)) {
		json_decref(hdr);
		return;
	}
	if (trace_writer__open(path, hdr, &w)) {
		json_decref(hdr);
		return;
	}
	json_decref(hdr);
	off = nl + 1 - data;
	while (off + sizeof(h) <= size) {
		memcpy(&h, data + off, sizeof(h));
		if (h.len < sizeof(h) || h.len > size - off)
			break;
		/* Aligned copy: the writer reads the record as a struct. */
		{
			__u64 rec[(h.len + 7) / 8];

			memcpy(rec, data + off, h.len);
			trace_writer__add(w, (const void *)rec);
		}
		off += h.len;
	}
	trace_writer__close(w);
}

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size)
{
	char *text[] = { "report", path, NULL };
	char *json[] = { "report", "--format", "json", path, NULL };
	char *cmp[] = { "report", "--format", "json", "--compare", path, path,
			NULL };

	unlink(path);
	if (size >= 8 && !memcmp(data, XT_TRACE_MAGIC, 8))
		write_raw(data, size);
	else
		write_structured(data, size);
	cmd_report(2, text);
	cmd_report(4, json);
	cmd_report(6, cmp);
	return 0;
}
