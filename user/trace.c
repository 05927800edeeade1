// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * Trace file writer and reader; the layout is in docs/trace-format.md.
 * A chunk is written whole with one write(), so a crash leaves at most
 * one partial chunk at the end, and the reader stops cleanly before it.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>
#include "trace.h"
#include "util.h"

struct file_hdr {
	char magic[8];
	__u32 version;
	__u32 byte_order;	/* 0x01020304 as written by the host */
	__u32 json_len;
	__u32 json_crc;
};

struct chunk_hdr {
	__u32 magic;
	__u32 raw_len;
	__u32 z_len;
	__u32 crc;		/* CRC32 of the compressed bytes */
};

struct trace_writer {
	int fd;
	int err;
	char *path;		/* where the trace goes once committed */
	char *tmp;		/* where it is written until then */
	bool committed;
	char *buf;
	size_t len;
	unsigned char *zbuf;
	size_t zcap;
	__u64 written;
};

struct trace_reader {
	FILE *f;
	json_t *header;
	unsigned char *raw;
	size_t raw_len;
	size_t pos;
	unsigned char *zbuf;
	__u64 offset;		/* file offset of the next chunk */
	__u64 chunk_start;	/* file offset of the loaded chunk */
	__u64 chunks;		/* whole chunks read */
	__u64 rec_in_chunk;	/* records of the loaded chunk read so far */
	__u64 partial_records;	/* records kept from a damaged chunk */
	bool truncated;
	const char *why;
	char why_buf[160];
	bool done;
	__u64 scratch[64];	/* an old, shorter record padded out */
};

/* Sizes before a record gained fields at its end (trace version 1). */
static __u32 legacy_min_len(__u32 type)
{
	switch (type) {
	case XT_REC_LISTEN:
		return 88;	/* before backlog */
	default:
		return xt_rec_min_len(type);
	}
}

/*
 * STATS before struct xt_stats gained its slice counters: 16 kernel
 * counters, then the user ones as they were then (at least the first 7;
 * later ones were appended). Move the user counters to their place and
 * zero what the record did not have.
 */
#define XT_STATS_V0_K		16
#define XT_STATS_V0_MIN		(16 + XT_STATS_V0_K * 8 + 7 * 8)

static bool stats_old(const struct xt_rec_hdr *h)
{
	return h->type == XT_REC_STATS && h->len >= XT_STATS_V0_MIN &&
	       h->len < sizeof(struct xt_rec_stats) &&
	       h->len - (16 + XT_STATS_V0_K * 8) <= sizeof(struct xt_user_stats);
}

static void stats_v0(__u64 *scratch, const struct xt_rec_hdr *h)
{
	struct xt_rec_stats *st = (struct xt_rec_stats *)scratch;

	_Static_assert(sizeof(struct xt_rec_stats) <= 64 * 8, "scratch");
	memset(st, 0, sizeof(*st));
	memcpy(st, h, 16 + XT_STATS_V0_K * 8);
	memcpy(&st->u, (const char *)h + 16 + XT_STATS_V0_K * 8,
	       h->len - (16 + XT_STATS_V0_K * 8));
	st->hdr.len = sizeof(*st);
}

static int write_all(int fd, const void *p, size_t n)
{
	const char *c = p;

	while (n) {
		ssize_t w = write(fd, c, n);

		if (w < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		c += w;
		n -= w;
	}
	return 0;
}

/*
 * The trace is written to a new file beside PATH and renamed onto it by
 * trace_writer__commit(), so a start that fails later never harms what
 * the user had. A symbolic link, a directory or a device at PATH is
 * refused rather than written through or replaced.
 */
static int check_target(const char *path)
{
	struct stat st;

	if (lstat(path, &st))
		return errno == ENOENT ? 0 : -errno;
	if (S_ISLNK(st.st_mode))
		return -ELOOP;
	if (S_ISDIR(st.st_mode))
		return -EISDIR;
	return S_ISREG(st.st_mode) ? 0 : -EEXIST;
}

static int open_tmp(struct trace_writer *w, const char *path)
{
	const char *base = strrchr(path, '/');
	int dlen = base ? base - path + 1 : 0, i, fd = -1;

	base = base ? base + 1 : path;
	w->path = strdup(path);
	w->tmp = malloc(strlen(path) + 32);
	if (!w->path || !w->tmp)
		return -ENOMEM;
	for (i = 0; i < 100 && fd < 0; i++) {
		snprintf(w->tmp, strlen(path) + 32, "%.*s.%s.%08x.tmp", dlen,
			 path, base, (unsigned)(now_mono_ns() ^ (i * 2654435761u)));
		fd = open(w->tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW |
			  O_CLOEXEC, 0640);
		if (fd < 0 && errno != EEXIST)
			break;
	}
	if (fd < 0)
		return -errno;
	/* 0640 whatever the umask: traces name every process on the node. */
	if (fchmod(fd, 0640)) {
		i = -errno;
		close(fd);
		unlink(w->tmp);
		return i;
	}
	w->fd = fd;
	return 0;
}

static void writer_free(struct trace_writer *w)
{
	free(w->path);
	free(w->tmp);
	free(w->buf);
	free(w->zbuf);
	free(w);
}

int trace_writer__open(const char *path, json_t *header,
		       struct trace_writer **out)
{
	struct trace_writer *w;
	struct file_hdr fh = {};
	char *js = NULL;
	int err;

	err = check_target(path);
	if (err)
		return err;
	w = calloc(1, sizeof(*w));
	if (!w)
		return -ENOMEM;
	w->fd = -1;
	w->buf = malloc(XT_CHUNK_RAW_MAX);
	w->zcap = compressBound(XT_CHUNK_RAW_MAX);
	w->zbuf = malloc(w->zcap);
	js = json_dumps(header, JSON_COMPACT | JSON_SORT_KEYS);
	if (!w->buf || !w->zbuf || !js) {
		err = -ENOMEM;
		goto fail;
	}
	err = open_tmp(w, path);
	if (err)
		goto fail;
	memcpy(fh.magic, XT_TRACE_MAGIC, 8);
	fh.version = XT_TRACE_VERSION;
	fh.byte_order = 0x01020304;
	fh.json_len = strlen(js);
	fh.json_crc = crc32(0, (const Bytef *)js, fh.json_len);
	err = write_all(w->fd, &fh, sizeof(fh));
	if (!err)
		err = write_all(w->fd, js, fh.json_len);
	if (err)
		goto fail;
	w->written = sizeof(fh) + fh.json_len;
	free(js);
	*out = w;
	return 0;
fail:
	free(js);
	if (w->fd >= 0) {
		close(w->fd);
		unlink(w->tmp);
	}
	writer_free(w);
	return err;
}

int trace_writer__commit(struct trace_writer *w)
{
	int err;

	if (w->committed)
		return 0;
	err = check_target(w->path);
	if (!err && rename(w->tmp, w->path))
		err = -errno;
	if (err)
		return err;
	w->committed = true;
	return 0;
}

const char *trace_writer__tmp_path(const struct trace_writer *w)
{
	return w->tmp;
}

int trace_writer__discard(struct trace_writer *w)
{
	if (!w)
		return 0;
	if (w->committed)
		return trace_writer__close(w);
	close(w->fd);
	unlink(w->tmp);
	writer_free(w);
	return 0;
}

int trace_writer__flush(struct trace_writer *w)
{
	struct chunk_hdr ch = { .magic = XT_CHUNK_MAGIC };
	uLongf zlen = w->zcap;
	int err;

	if (!w->len || w->err)
		return w->err;
	if (compress2(w->zbuf, &zlen, (const Bytef *)w->buf, w->len, 1) != Z_OK)
		return w->err = -EIO;
	ch.raw_len = w->len;
	ch.z_len = zlen;
	ch.crc = crc32(0, w->zbuf, zlen);
	/* Header and body in one buffer so one write() lands the chunk. */
	{
		size_t n = sizeof(ch) + zlen;
		unsigned char *one = malloc(n);

		if (!one)
			return w->err = -ENOMEM;
		memcpy(one, &ch, sizeof(ch));
		memcpy(one + sizeof(ch), w->zbuf, zlen);
		err = write_all(w->fd, one, n);
		free(one);
		if (err)
			return w->err = err;
		w->written += n;
	}
	w->len = 0;
	return 0;
}

int trace_writer__add(struct trace_writer *w, const struct xt_rec_hdr *rec)
{
	int err;

	if (rec->len < sizeof(*rec) || rec->len > XT_CHUNK_RAW_MAX / 2)
		return -EINVAL;
	if (w->len + rec->len > XT_CHUNK_RAW_MAX) {
		err = trace_writer__flush(w);
		if (err)
			return err;
	}
	memcpy(w->buf + w->len, rec, rec->len);
	w->len += rec->len;
	return 0;
}

int trace_writer__sink(void *ctx, const struct xt_rec_hdr *rec)
{
	return trace_writer__add(ctx, rec);
}

__u64 trace_writer__written(const struct trace_writer *w)
{
	return w ? w->written : 0;
}

__u64 trace_writer__bytes(const struct trace_writer *w)
{
	return w->written + w->len;
}

int trace_writer__close(struct trace_writer *w)
{
	int err;

	if (!w)
		return 0;
	err = trace_writer__flush(w);
	if (fsync(w->fd) && !err && errno != EINVAL)
		err = -errno;
	if (close(w->fd) && !err)
		err = -errno;
	w->fd = -1;
	/* A trace that was never committed was never the user's file. */
	if (!w->committed && !err)
		err = trace_writer__commit(w);
	if (!w->committed)
		unlink(w->tmp);
	writer_free(w);
	return err;
}

/* Control characters in a (crafted) header never reach a terminal. */
static void clean_header(json_t *v)
{
	const char *key;
	json_t *e;
	size_t i;

	if (json_is_object(v)) {
		json_object_foreach(v, key, e)
			clean_header(e);
	} else if (json_is_array(v)) {
		json_array_foreach(v, i, e)
			clean_header(e);
	} else if (json_is_string(v)) {
		const unsigned char *s = (const void *)json_string_value(v);
		size_t n = json_string_length(v), j, k = 0;
		char *c = malloc(n + 1);
		bool changed = false;

		if (!c)
			return;
		for (j = 0; j < n; j++) {
			/* C0, DEL, and C1 (U+0080..U+009F: 0xc2 0x80..0x9f). */
			if (s[j] < 0x20 || s[j] == 0x7f) {
				c[k++] = '?';
				changed = true;
			} else if (s[j] == 0xc2 && j + 1 < n &&
				   s[j + 1] >= 0x80 && s[j + 1] <= 0x9f) {
				c[k++] = '?';
				j++;
				changed = true;
			} else {
				c[k++] = s[j];
			}
		}
		if (changed)
			json_string_setn(v, c, k);
		free(c);
	}
}

int trace_reader__open(const char *path, struct trace_reader **out)
{
	struct trace_reader *r;
	struct file_hdr fh;
	json_error_t jerr;
	char *js = NULL;
	int err;

	r = calloc(1, sizeof(*r));
	if (!r)
		return -ENOMEM;
	r->f = fopen(path, "rb");
	if (!r->f) {
		err = -errno;
		goto fail;
	}
	{
		struct stat st;

		if (!fstat(fileno(r->f), &st) && S_ISDIR(st.st_mode)) {
			err = -EISDIR;
			goto fail;
		}
	}
	err = -EBADMSG;
	if (fread(&fh, sizeof(fh), 1, r->f) != 1 ||
	    memcmp(fh.magic, XT_TRACE_MAGIC, 8))
		goto fail;
	if (fh.byte_order != 0x01020304) {
		err = -EPROTO;
		goto fail;
	}
	if (fh.version != XT_TRACE_VERSION) {
		err = -EPROTONOSUPPORT;
		goto fail;
	}
	if (fh.json_len == 0 || fh.json_len > XT_HEADER_JSON_MAX)
		goto fail;
	js = malloc(fh.json_len);
	if (!js) {
		err = -ENOMEM;
		goto fail;
	}
	if (fread(js, fh.json_len, 1, r->f) != 1 ||
	    crc32(0, (const Bytef *)js, fh.json_len) != fh.json_crc)
		goto fail;
	r->header = json_loadb(js, fh.json_len, 0, &jerr);
	if (!r->header || !json_is_object(r->header))
		goto fail;
	clean_header(r->header);
	free(js);
	r->offset = sizeof(fh) + fh.json_len;
	r->raw = malloc(XT_CHUNK_RAW_MAX);
	r->zbuf = malloc(compressBound(XT_CHUNK_RAW_MAX));
	if (!r->raw || !r->zbuf) {
		err = -ENOMEM;
		goto fail_nojs;
	}
	*out = r;
	return 0;
fail:
	free(js);
fail_nojs:
	trace_reader__free(r);
	return err;
}

const json_t *trace_reader__header(const struct trace_reader *r)
{
	return r->header;
}

static void stop_at(struct trace_reader *r, const char *why)
{
	r->done = true;
	r->truncated = true;
	r->why = why;
}

/*
 * A damaged record inside a chunk: the chunk is not whole. Report the
 * chunk's own offset and exactly how many of its records were kept.
 */
static void stop_in_chunk(struct trace_reader *r, const char *what)
{
	snprintf(r->why_buf, sizeof(r->why_buf),
		 "%s at record %llu, data byte %zu of the chunk at byte %llu",
		 what, (unsigned long long)r->rec_in_chunk + 1, r->pos,
		 (unsigned long long)r->chunk_start);
	stop_at(r, r->why_buf);
	r->offset = r->chunk_start;
	r->chunks--;
	r->partial_records = r->rec_in_chunk;
}

/* Load the next chunk; false at the end of the usable file. */
static bool load_chunk(struct trace_reader *r)
{
	struct chunk_hdr ch;
	uLongf rawlen = XT_CHUNK_RAW_MAX;
	size_t n;

	n = fread(&ch, 1, sizeof(ch), r->f);
	if (n == 0 && feof(r->f)) {
		r->done = true;
		return false;
	}
	if (n != sizeof(ch)) {
		stop_at(r, "partial chunk header");
		return false;
	}
	if (ch.magic != XT_CHUNK_MAGIC) {
		stop_at(r, "bad chunk magic");
		return false;
	}
	if (ch.raw_len == 0 || ch.raw_len > XT_CHUNK_RAW_MAX ||
	    ch.z_len == 0 || ch.z_len > compressBound(XT_CHUNK_RAW_MAX)) {
		stop_at(r, "bad chunk length");
		return false;
	}
	if (fread(r->zbuf, 1, ch.z_len, r->f) != ch.z_len) {
		stop_at(r, "partial chunk");
		return false;
	}
	if (crc32(0, r->zbuf, ch.z_len) != ch.crc) {
		stop_at(r, "chunk CRC mismatch");
		return false;
	}
	if (uncompress(r->raw, &rawlen, r->zbuf, ch.z_len) != Z_OK ||
	    rawlen != ch.raw_len) {
		stop_at(r, "chunk does not decompress");
		return false;
	}
	r->chunk_start = r->offset;
	r->offset += sizeof(ch) + ch.z_len;
	r->raw_len = rawlen;
	r->pos = 0;
	r->rec_in_chunk = 0;
	r->chunks++;
	return true;
}

int trace_reader__next(struct trace_reader *r, const struct xt_rec_hdr **rec)
{
	struct xt_rec_hdr *h;
	__u32 min;

	for (;;) {
		if (r->done)
			return 0;
		if (r->pos >= r->raw_len) {
			if (!load_chunk(r))
				return 0;
			continue;
		}
		if (r->raw_len - r->pos < sizeof(*h)) {
			stop_in_chunk(r, "record crosses chunk end");
			return 0;
		}
		h = (struct xt_rec_hdr *)(r->raw + r->pos);
		if (h->len < sizeof(*h) || h->len % 8 ||
		    h->len > r->raw_len - r->pos) {
			stop_in_chunk(r, "bad record length");
			return 0;
		}
		r->pos += h->len;
		r->rec_in_chunk++;
		min = xt_rec_min_len(h->type);
		if (!min)
			continue;	/* unknown type: skip it */
		if (stats_old(h)) {
			stats_v0(r->scratch, h);
			h = (struct xt_rec_hdr *)r->scratch;
		} else if (h->len < min) {
			/* Records only grow at the end: zero-fill older ones. */
			if (h->len < legacy_min_len(h->type))
				continue;
			memset(r->scratch, 0, min);
			memcpy(r->scratch, h, h->len);
			h = (struct xt_rec_hdr *)r->scratch;
		}
		if (h->type == XT_REC_MARK &&
		    ((struct xt_rec_mark *)h)->text_len > h->len - min)
			continue;
		if (h->type == XT_REC_SLICES &&
		    ((struct xt_rec_slices *)h)->n >
		    (h->len - min) / sizeof(struct xt_rec_slice))
			continue;
		*rec = h;
		return 1;
	}
}

bool trace_reader__truncated(const struct trace_reader *r, __u64 *offset,
			     const char **why)
{
	if (offset)
		*offset = r->offset;
	if (why)
		*why = r->why;
	return r->truncated;
}

__u64 trace_reader__chunks(const struct trace_reader *r)
{
	return r->chunks;
}

__u64 trace_reader__partial_records(const struct trace_reader *r)
{
	return r->partial_records;
}

void trace_reader__free(struct trace_reader *r)
{
	if (!r)
		return;
	if (r->f)
		fclose(r->f);
	json_decref(r->header);
	free(r->raw);
	free(r->zbuf);
	free(r);
}
