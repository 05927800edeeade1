// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * Trace rotation for the agent. Files are named
 * xfertrace-<UTC time>-<seq>.xft so that name order is age order. A write
 * error (a full disk) is said once; the file is cut back to its last whole
 * chunk and recording stops, every earlier file untouched.
 */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include "rotate.h"
#include "trace.h"
#include "util.h"

struct rotator {
	struct rotate_opts o;
	json_t *hdr;
	struct trace_writer *w;
	char path[4096];
	__u64 opened_ns;
	__u64 flushed_ns;
	__u64 seq;
	__u64 bytes_done;	/* bytes of files already closed */
	__u64 removed;
	bool stopped;
};

static int open_next(struct rotator *r, __u64 now_ns);

int rotator__new(const struct rotate_opts *o, const json_t *hdr,
		 struct rotator **out)
{
	struct rotator *r = calloc(1, sizeof(*r));
	int err;

	if (!r)
		return -ENOMEM;
	r->o = *o;
	r->hdr = json_deep_copy(hdr);
	if (!r->hdr) {
		free(r);
		return -ENOMEM;
	}
	err = open_next(r, now_mono_ns());
	if (err) {
		p_err("agent: cannot write %s: %s", r->path, strerror(-err));
		rotator__free(r);
		return err;
	}
	*out = r;
	return 0;
}

struct tfile {
	char name[256];
	off_t size;
};

static int cmp_tfile(const void *a, const void *b)
{
	return strcmp(((const struct tfile *)a)->name,
		      ((const struct tfile *)b)->name);
}

/* Trace files in the directory, oldest first; caller frees. */
static int list_files(const char *dir, struct tfile **out, int *n)
{
	struct tfile *v = NULL, *nv;
	int cap = 0, cnt = 0;
	struct dirent *de;
	char p[4400];
	struct stat st;
	DIR *d;

	d = opendir(dir);
	if (!d)
		return -errno;
	while ((de = readdir(d))) {
		size_t l = strlen(de->d_name);

		if (strncmp(de->d_name, "xfertrace-", 10) || l < 5 || l > 255 ||
		    strcmp(de->d_name + l - 4, ".xft"))
			continue;
		snprintf(p, sizeof(p), "%s/%s", dir, de->d_name);
		if (stat(p, &st) || !S_ISREG(st.st_mode))
			continue;
		if (cnt == cap) {
			cap = cap ? cap * 2 : 16;
			nv = realloc(v, cap * sizeof(*v));
			if (!nv)
				break;
			v = nv;
		}
		snprintf(v[cnt].name, sizeof(v[cnt].name), "%s", de->d_name);
		v[cnt++].size = st.st_size;
	}
	closedir(d);
	qsort(v, cnt, sizeof(*v), cmp_tfile);
	*out = v;
	*n = cnt;
	return 0;
}

/* Remove the oldest files until `room` more bytes fit under the cap. */
static void enforce_cap(struct rotator *r, __u64 room)
{
	struct tfile *v = NULL;
	__u64 total = 0;
	char p[4400];
	int i, n = 0;

	if (!r->o.max_total_bytes || list_files(r->o.dir, &v, &n))
		return;
	for (i = 0; i < n; i++)
		total += v[i].size;
	for (i = 0; i < n && total + room > r->o.max_total_bytes; i++) {
		snprintf(p, sizeof(p), "%s/%s", r->o.dir, v[i].name);
		if (!strcmp(p, r->path) || unlink(p))
			continue;
		total -= v[i].size;
		r->removed++;
		if (xt_verbose)
			fprintf(stderr, "xfertrace: agent: removed %s (total cap)\n", p);
	}
	free(v);
}

static void stop_recording(struct rotator *r, int err)
{
	struct trace_reader *rd;
	__u64 good = 0;

	p_err("agent: writing %s failed: %s; trace recording stopped (earlier files are whole; metrics go on)",
	      r->path, strerror(-err));
	r->stopped = true;
	trace_writer__close(r->w);
	r->w = NULL;
	/* Cut a partly written chunk off, so the file ends cleanly. */
	if (!trace_reader__open(r->path, &rd)) {
		const struct xt_rec_hdr *rec;

		while (trace_reader__next(rd, &rec) > 0)
			;
		trace_reader__truncated(rd, &good, NULL);
		trace_reader__free(rd);
		if (good && truncate(r->path, good))
			p_warn("agent: cannot cut %s back to %llu bytes: %s",
			       r->path, (unsigned long long)good,
			       strerror(errno));
	}
}

static int open_next(struct rotator *r, __u64 now_ns)
{
	char stamp[32];
	time_t t = time(NULL);
	struct tm tm;
	json_t *agent;
	int err;

	gmtime_r(&t, &tm);
	strftime(stamp, sizeof(stamp), "%Y%m%dT%H%M%SZ", &tm);
	r->seq++;
	enforce_cap(r, r->o.max_file_bytes);
	snprintf(r->path, sizeof(r->path), "%s/xfertrace-%s-%06llu.xft",
		 r->o.dir, stamp, (unsigned long long)r->seq);
	agent = json_object_get(r->hdr, "agent");
	if (json_is_object(agent))
		json_object_set_new(agent, "file_seq", json_integer(r->seq));
	err = trace_writer__open(r->path, r->hdr, &r->w);
	if (err) {
		r->w = NULL;
		return err;
	}
	/*
	 * A new name in the agent's own directory, so nothing of the user's
	 * to protect: in place at once, so /summary and a fetch see the file
	 * being written (readable up to its last whole chunk).
	 */
	err = trace_writer__commit(r->w);
	if (err) {
		trace_writer__discard(r->w);
		r->w = NULL;
		return err;
	}
	r->opened_ns = r->flushed_ns = now_ns;
	if (r->o.snapshot)
		r->o.snapshot(r->o.ctx, rotator__sink, r);
	return 0;
}

int rotator__sink(void *ctx, const struct xt_rec_hdr *rec)
{
	struct rotator *r = ctx;
	int err;

	if (!r->w)
		return 0;
	err = trace_writer__add(r->w, rec);
	if (err)
		stop_recording(r, err);
	return 0;	/* the collector and the metrics go on */
}

static int close_current(struct rotator *r)
{
	int err;

	if (!r->w)
		return 0;
	err = trace_writer__flush(r->w);
	if (err) {
		stop_recording(r, err);
		return err;
	}
	r->bytes_done += trace_writer__bytes(r->w);
	err = trace_writer__close(r->w);
	r->w = NULL;
	if (err) {
		p_err("agent: closing %s failed: %s; trace recording stopped",
		      r->path, strerror(-err));
		r->stopped = true;
	}
	return err;
}

void rotator__flush(struct rotator *r)
{
	int err;

	if (!r->w)
		return;
	err = trace_writer__flush(r->w);
	if (err)
		stop_recording(r, err);
}

void rotator__tick(struct rotator *r, __u64 now_ns)
{
	bool due;

	if (!r->w)
		return;
	due = (r->o.max_file_bytes &&
	       trace_writer__bytes(r->w) >= r->o.max_file_bytes) ||
	      (r->o.max_file_ns && now_ns - r->opened_ns >= r->o.max_file_ns);
	if (due) {
		if (!close_current(r)) {
			int err = open_next(r, now_ns);

			if (err) {
				p_err("agent: cannot start %s: %s; trace recording stopped (earlier files are whole; metrics go on)",
				      r->path, strerror(-err));
				r->stopped = true;
			}
		}
		return;
	}
	if (now_ns - r->flushed_ns >= 1000000000ull) {
		r->flushed_ns = now_ns;
		rotator__flush(r);
		/* Files grow: keep the total under the cap as they do. */
		enforce_cap(r, 0);
	}
}

bool rotator__recording(const struct rotator *r)
{
	return r && r->w;
}

__u64 rotator__bytes_written(const struct rotator *r)
{
	return r->bytes_done + (r->w ? trace_writer__bytes(r->w) : 0);
}

__u64 rotator__files(const struct rotator *r)
{
	return r->seq;
}

__u64 rotator__removed(const struct rotator *r)
{
	return r->removed;
}

const char *rotator__dir(const struct rotator *r)
{
	return r->o.dir;
}

int rotator__close(struct rotator *r)
{
	return r ? close_current(r) : 0;
}

void rotator__free(struct rotator *r)
{
	if (!r)
		return;
	if (r->w)
		trace_writer__close(r->w);
	json_decref(r->hdr);
	free(r);
}
