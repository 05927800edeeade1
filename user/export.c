// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * The export document (export.h): the JSON report object, plus the
 * per-interval series of each listed process from one more pass over the
 * trace. The pass counts exactly what the model counted (a delta counts
 * once its connection or thread record has been seen, as in model.c), so
 * each series sums to the process's tx_bytes, rx_bytes and cpu_ns.
 */
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>
#include "export.h"
#include "hmap.h"
#include "trace.h"
#include "util.h"

struct pass {
	const struct model *m;
	struct xseries *s;
	__u64 off;
	struct hmap *row_of;	/* mproc pointer -> row + 1 */
	struct hmap *seen;	/* conn ids and thread keys seen so far */
	struct hmap *pend_pair;	/* src << 32 | dst -> pending index + 1 */
	__u64 *ptx, *prx, *pcpu;	/* pending, per row */
	struct xs_pair *pp;
	int n_pp, cap_pp, cap_bins, cap_pairs;
	bool pending;
	__u64 last_hi, max_ts;
};

double jd(const json_t *o, const char *key)
{
	json_t *v = o ? json_object_get(o, key) : NULL;

	return json_is_number(v) ? json_number_value(v) : NAN;
}

const char *js(const json_t *o, const char *key)
{
	json_t *v = o ? json_object_get(o, key) : NULL;

	return json_is_string(v) ? json_string_value(v) : "";
}

static int row_of(const struct pass *ps, const struct mproc *p)
{
	void *v = p ? hmap__get(ps->row_of, (__u64)(uintptr_t)p) : NULL;

	return v ? (int)(uintptr_t)v - 1 : -1;
}

static int grow(void **arr, int *cap, int need, size_t sz)
{
	void *n;
	int c = *cap ? *cap : 64;

	if (need <= *cap)
		return 0;
	while (c < need)
		c *= 2;
	n = realloc(*arr, (size_t)c * sz);
	if (!n)
		return -ENOMEM;
	*arr = n;
	*cap = c;
	return 0;
}

static int add_pair(struct pass *ps, int src, int dst, __u64 bytes)
{
	__u64 key = (__u64)src << 32 | (__u32)dst;
	void *v = hmap__get(ps->pend_pair, key);

	if (v) {
		ps->pp[(uintptr_t)v - 1].bytes += bytes;
		return 0;
	}
	if (grow((void **)&ps->pp, &ps->cap_pp, ps->n_pp + 1, sizeof(*ps->pp)))
		return -ENOMEM;
	ps->pp[ps->n_pp] = (struct xs_pair){ .src = src, .dst = dst,
					     .bytes = bytes };
	ps->n_pp++;
	return hmap__put(ps->pend_pair, key, (void *)(uintptr_t)ps->n_pp);
}

/* Close the pending bin as [lo, hi] (monotonic ns). */
static int flush_bin(struct pass *ps, __u64 lo, __u64 hi)
{
	struct xseries *s = ps->s;
	int i, n = s->n_bins, cap = ps->cap_bins;

	if (grow((void **)&s->lo, &cap, n + 1, sizeof(double)) ||
	    grow((void **)&s->hi, &ps->cap_bins, n + 1, sizeof(double)))
		return -ENOMEM;
	for (i = 0; i < s->n_rows; i++) {
		struct xs_row *r = &s->rows[i];
		size_t sz = (size_t)ps->cap_bins * sizeof(__u64);
		__u64 *a = realloc(r->tx, sz), *b, *c;

		if (a)
			r->tx = a;
		b = realloc(r->rx, sz);
		if (b)
			r->rx = b;
		c = realloc(r->cpu, sz);
		if (c)
			r->cpu = c;
		if (!a || !b || !c)
			return -ENOMEM;
		r->tx[n] = ps->ptx[i];
		r->rx[n] = ps->prx[i];
		r->cpu[n] = ps->pcpu[i];
	}
	s->lo[n] = (double)(lo + ps->off) / 1e9;
	s->hi[n] = (double)(hi + ps->off) / 1e9;
	if (grow((void **)&s->pairs, &ps->cap_pairs, s->n_pairs + ps->n_pp,
		 sizeof(*s->pairs)))
		return -ENOMEM;
	for (i = 0; i < ps->n_pp; i++) {
		ps->pp[i].bin = n;
		s->pairs[s->n_pairs++] = ps->pp[i];
		hmap__del(ps->pend_pair, (__u64)ps->pp[i].src << 32 |
			  (__u32)ps->pp[i].dst);
	}
	ps->n_pp = 0;
	s->n_bins++;
	memset(ps->ptx, 0, s->n_rows * sizeof(__u64));
	memset(ps->prx, 0, s->n_rows * sizeof(__u64));
	memset(ps->pcpu, 0, s->n_rows * sizeof(__u64));
	ps->pending = false;
	ps->last_hi = hi;
	return 0;
}

static int on_conn_delta(struct pass *ps, const struct xt_rec_conn_delta *r)
{
	const struct mconn *c;
	int src, dst;

	if (!hmap__get(ps->seen, r->id) || !(c = model__conn(ps->m, r->id)))
		return 0;
	src = row_of(ps, c->proc);
	if (src < 0)
		return 0;
	ps->ptx[src] += r->tx_bytes;
	ps->prx[src] += r->rx_bytes;
	ps->pending = true;
	if (r->ts_ns > ps->max_ts)
		ps->max_ts = r->ts_ns;
	dst = row_of(ps, c->peer);
	if (dst >= 0 && r->tx_bytes)
		return add_pair(ps, src, dst, r->tx_bytes);
	return 0;
}

static void on_thread_delta(struct pass *ps,
			    const struct xt_rec_thread_delta *r)
{
	const struct mthread *t;
	int i;

	if (!hmap__get(ps->seen, hkey2(r->tid, r->start_ns) ^ (1ull << 63)))
		return;
	t = model__thread(ps->m, r->tid, r->start_ns);
	i = t ? row_of(ps, t->proc) : -1;
	if (i < 0)
		return;
	ps->pcpu[i] += r->cpu_ns;
	ps->pending = true;
	if (r->ts_ns > ps->max_ts)
		ps->max_ts = r->ts_ns;
}

/* A thread's on-CPU stints, for timelines; rows only, bounded. */
static int on_slices(struct pass *ps, const struct xt_rec_slices *r)
{
	const struct mthread *t = model__thread(ps->m, r->tid, r->start_ns);
	struct xseries *s = ps->s;
	int i, row = t ? row_of(ps, t->proc) : -1;
	void *p;

	if (row < 0)
		return 0;
	for (i = 0; i < (int)r->n; i++) {
		if (s->n_slices >= XS_SLICES_MAX) {
			s->slices_dropped++;
			continue;
		}
		if (s->n_slices % 4096 == 0) {
			p = realloc(s->slices, (s->n_slices + 4096) *
				    sizeof(*s->slices));
			if (!p)
				return -ENOMEM;
			s->slices = p;
		}
		s->slices[s->n_slices++] = (struct xs_slice){
			.row = row, .tid = r->tid,
			.t0 = (r->s[i].start_ns + ps->off) / 1e9,
			.dur = r->s[i].cpu_ns / 1e9,
		};
	}
	return 0;
}

static int on_record(struct pass *ps, const struct xt_rec_hdr *h)
{
	const struct xt_rec_interval *iv = (const void *)h;
	const struct xt_rec_thread *th = (const void *)h;
	const struct xt_rec_conn *c = (const void *)h;

	switch (h->type) {
	case XT_REC_CONN:
		return hmap__put(ps->seen, c->id, (void *)1);
	case XT_REC_THREAD:	/* thread keys live in the upper half */
		return hmap__put(ps->seen, hkey2(th->tid, th->start_ns) ^
				 (1ull << 63), (void *)1);
	case XT_REC_CONN_DELTA:
		return on_conn_delta(ps, (const void *)h);
	case XT_REC_THREAD_DELTA:
		on_thread_delta(ps, (const void *)h);
		return 0;
	case XT_REC_INTERVAL:
		return flush_bin(ps, iv->start_ns, iv->end_ns);
	case XT_REC_SLICES:
		return on_slices(ps, (const void *)h);
	}
	return 0;
}

static int pass_init(struct pass *ps, const struct model *m)
{
	struct xseries *s = ps->s;
	int i;

	ps->m = m;
	ps->off = model__mono_to_wall(m);
	ps->row_of = hmap__new();
	ps->seen = hmap__new();
	ps->pend_pair = hmap__new();
	s->rows = calloc(m->n_procs + 1, sizeof(*s->rows));
	ps->ptx = calloc(m->n_procs + 1, sizeof(__u64));
	ps->prx = calloc(m->n_procs + 1, sizeof(__u64));
	ps->pcpu = calloc(m->n_procs + 1, sizeof(__u64));
	if (!ps->row_of || !ps->seen || !ps->pend_pair || !s->rows ||
	    !ps->ptx || !ps->prx || !ps->pcpu)
		return -ENOMEM;
	for (i = 0; i < m->n_procs; i++) {
		if (!report__proc_listed(m->procs[i]))
			continue;
		s->rows[s->n_rows].p = m->procs[i];
		if (hmap__put(ps->row_of, (__u64)(uintptr_t)m->procs[i],
			      (void *)(uintptr_t)(s->n_rows + 1)))
			return -ENOMEM;
		s->n_rows++;
	}
	return 0;
}

static void pass_free(struct pass *ps)
{
	hmap__free(ps->row_of);
	hmap__free(ps->seen);
	hmap__free(ps->pend_pair);
	free(ps->ptx);
	free(ps->prx);
	free(ps->pcpu);
	free(ps->pp);
}

static void series_free(struct xseries *s)
{
	int i;

	if (!s)
		return;
	for (i = 0; i < s->n_rows; i++) {
		free(s->rows[i].tx);
		free(s->rows[i].rx);
		free(s->rows[i].cpu);
	}
	free(s->rows);
	free(s->lo);
	free(s->hi);
	free(s->pairs);
	free(s->slices);
	free(s);
}

static int series_build(const char *path, const struct model *m,
			struct xseries **out)
{
	struct pass ps = { .s = calloc(1, sizeof(struct xseries)) };
	const struct xt_rec_hdr *rec;
	struct trace_reader *r = NULL;
	int err;

	if (!ps.s)
		return -ENOMEM;
	err = pass_init(&ps, m);
	if (!err)
		err = trace_reader__open(path, &r);
	while (!err && (err = trace_reader__next(r, &rec)) > 0)
		err = on_record(&ps, rec);
	/* Deltas after the last interval record: one more bin. */
	if (!err && ps.pending)
		err = flush_bin(&ps, ps.last_hi ? ps.last_hi : ps.max_ts,
				ps.max_ts > ps.last_hi ? ps.max_ts : ps.last_hi);
	trace_reader__free(r);
	pass_free(&ps);
	if (err) {
		p_err("reading %s for the interval series failed: %s", path,
		      strerror(-err));
		series_free(ps.s);
		return err;
	}
	*out = ps.s;
	return 0;
}

int export__doc(const char *path, const struct model *m,
		const struct load_info *li, const struct trials *t,
		struct export_doc *d)
{
	memset(d, 0, sizeof(*d));
	d->path = path;
	d->m = m;
	d->root = report__json(m, li);
	if (!d->root) {
		p_err("report: out of memory");
		return -ENOMEM;
	}
	if (t)
		trials__add_json(t, d->root);
	return series_build(path, m, &d->s);
}

void export__doc_free(struct export_doc *d)
{
	json_decref(d->root);
	series_free(d->s);
	memset(d, 0, sizeof(*d));
}

int out__open(struct xt_out *o, const char *path)
{
	int fd;

	memset(o, 0, sizeof(*o));
	o->path = path;
	if (!path || !strcmp(path, "-")) {
		o->f = stdout;
		o->path = NULL;
		return 0;
	}
	if (snprintf(o->tmp, sizeof(o->tmp), "%s.tmp.XXXXXX", path) >=
	    (int)sizeof(o->tmp)) {
		p_err("output path too long: %s", path);
		return -ENAMETOOLONG;
	}
	fd = mkstemp(o->tmp);
	if (fd < 0 || !(o->f = fdopen(fd, "w"))) {
		p_err("cannot write %s: %s", path, strerror(errno));
		if (fd >= 0) {
			close(fd);
			unlink(o->tmp);
		}
		return -errno;
	}
	(void)fchmod(fd, 0644);	/* mkstemp makes 0600 */
	return 0;
}

int out__close(struct xt_out *o, int rc)
{
	int err = 0;

	if (!o->f)
		return rc;
	if (!o->path) {
		if (fflush(stdout) || ferror(stdout))
			err = -EIO;
		o->f = NULL;
		if (err && !rc)
			p_err("writing the report to stdout failed");
		return rc ? rc : err;
	}
	if (ferror(o->f) || fflush(o->f) || fsync(fileno(o->f)))
		err = -errno ? -errno : -EIO;
	if (fclose(o->f) && !err)
		err = -errno;
	o->f = NULL;
	if (!rc && !err && rename(o->tmp, o->path))
		err = -errno;
	if (rc || err)
		unlink(o->tmp);
	if (err && !rc)
		p_err("cannot write %s: %s", o->path, strerror(-err));
	return rc ? rc : err;
}

int export__check_args(const char *fmt, const char *table)
{
	if (strcmp(fmt, "text") && strcmp(fmt, "json") &&
	    !export__is_format(fmt)) {
		p_err("report: --format must be text, json, html, perfetto, md or csv, not '%s'",
		      fmt);
		return -EINVAL;
	}
	if (!strcmp(fmt, "csv") != !!table || (table &&
	    strcmp(table, "trials") && strcmp(table, "intervals") &&
	    strcmp(table, "flows"))) {
		p_err("report: --format csv takes --table trials|intervals|flows (and only csv does)");
		return -EINVAL;
	}
	return 0;
}

bool export__is_format(const char *fmt)
{
	return !strcmp(fmt, "html") || !strcmp(fmt, "perfetto") ||
	       !strcmp(fmt, "md") || !strcmp(fmt, "csv");
}

int export__render(FILE *f, const char *fmt, const char *table,
		   const struct export_doc *d)
{
	if (!strcmp(fmt, "html"))
		return export_html__write(f, d);
	if (!strcmp(fmt, "perfetto"))
		return export_perfetto__write(f, d);
	if (!strcmp(fmt, "md"))
		return export_md__write(f, d);
	return export_csv__write(f, d, table);
}

int export__run(const char *path, const struct model *m,
		const struct load_info *li, const struct trials_opts *to,
		const char *fmt, const char *table, const char *out)
{
	struct trials *t = NULL;
	struct export_doc d;
	struct xt_out o;
	int err;

	if (trials__wanted(m, to) && trials__analyze(path, m, to, &t))
		return -EINVAL;
	err = export__doc(path, m, li, t, &d);
	if (!err)
		err = out__open(&o, out);
	if (!err) {
		err = export__render(o.f, fmt, table, &d);
		if (err)
			p_err("report: writing the %s export failed: %s", fmt,
			      strerror(-err));
		err = out__close(&o, err);
	}
	export__doc_free(&d);
	trials__free(t);
	return err;
}
