// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * Exact CPU from on-CPU slices (docs/attribution.md, "CPU from slices").
 * For a worker whose process was detailed (`record --detail`), every
 * stint of its threads on a CPU is in the trace. A bin is exact for it
 * when slices were recorded all through the bin (after the process was
 * selected, and no slice of any detailed process was dropped then); its
 * CPU series is then rebuilt from the slices, clipped at the bin's edges,
 * and a task gets exactly what its thread ran inside its window (the
 * compute thread that ran most then; comm: the event-loop thread).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include "trace.h"
#include "trials.h"

struct sl {			/* one stint */
	__s64 lo, hi;
	__u32 tid;
	bool main;		/* the event-loop thread (tid == pid) */
};

struct wslices {
	struct sl *v;
	int n, cap;
	__s64 max_len;		/* longest stint: search window */
	__s64 from;		/* slices recorded from here on; 0: never */
	bool *exact;		/* per bin */
};

struct tr_slices {
	struct wslices *w;	/* per worker */
	struct { __s64 lo, hi; } *lost;
	int n_lost, cap_lost;
	__u64 n_slices;
};

static int worker_of(const struct trials *t, const struct mproc *p)
{
	int i;

	for (i = 0; p && i < t->n_workers; i++)
		if (t->workers[i].proc == p)
			return i;
	return -1;
}

static int on_slices(struct trials *t, const struct xt_rec_slices *r)
{
	const struct mthread *th = model__thread(t->m, r->tid, r->start_ns);
	struct wslices *ws;
	__u32 i;
	int w;

	w = th ? worker_of(t, th->proc) : -1;
	if (w < 0)
		return 0;
	ws = &t->sl->w[w];
	for (i = 0; i < r->n; i++) {
		struct sl *nv, *s;

		if (ws->n == ws->cap) {
			ws->cap = ws->cap ? ws->cap * 2 : 4096;
			nv = realloc(ws->v, ws->cap * sizeof(*nv));
			if (!nv)
				return -ENOMEM;
			ws->v = nv;
		}
		s = &ws->v[ws->n++];
		s->lo = (__s64)r->s[i].start_ns;
		s->hi = s->lo + (__s64)r->s[i].cpu_ns;
		s->tid = r->tid;
		s->main = r->tid == r->pid;
		if (s->hi - s->lo > ws->max_len)
			ws->max_len = s->hi - s->lo;
		t->sl->n_slices++;
	}
	return 0;
}

static void on_detail(struct trials *t, const struct xt_rec_detail *r)
{
	int i;

	for (i = 0; i < t->n_workers; i++) {
		const struct mproc *p = t->workers[i].proc;
		__s64 d;

		if (!p || (r->pid && r->pid != p->pid))
			continue;
		/* --detail PID gives the start in clock ticks only. */
		d = (__s64)(r->start_ns - p->start_ns);
		if (r->pid && r->start_ns && (d > 20000000 || d < -20000000))
			continue;
		if (!t->sl->w[i].from || (__s64)r->ts_ns < t->sl->w[i].from)
			t->sl->w[i].from = (__s64)r->ts_ns;
	}
}

static int on_lost(struct tr_slices *sl, const struct xt_rec_slices_lost *r)
{
	void *nv;

	if (sl->n_lost == sl->cap_lost) {
		sl->cap_lost = sl->cap_lost ? sl->cap_lost * 2 : 64;
		nv = realloc(sl->lost, sl->cap_lost * sizeof(*sl->lost));
		if (!nv)
			return -ENOMEM;
		sl->lost = nv;
	}
	sl->lost[sl->n_lost].lo = (__s64)r->from_ns;
	sl->lost[sl->n_lost++].hi = (__s64)(r->to_ns > r->from_ns ?
					      r->to_ns : r->ts_ns);
	return 0;
}

static int read_slices(struct trials *t, const char *path)
{
	const struct xt_rec_hdr *rec;
	struct trace_reader *r;
	int err;

	err = trace_reader__open(path, &r);
	if (err)
		return err;
	while ((err = trace_reader__next(r, &rec)) > 0) {
		if (rec->type == XT_REC_SLICES)
			err = on_slices(t, (const void *)rec);
		else if (rec->type == XT_REC_DETAIL)
			on_detail(t, (const void *)rec);
		else if (rec->type == XT_REC_SLICES_LOST)
			err = on_lost(t->sl, (const void *)rec);
		if (err < 0)
			break;
	}
	trace_reader__free(r);
	return err < 0 ? err : 0;
}

static int cmp_sl(const void *a, const void *b)
{
	const struct sl *x = a, *y = b;

	return x->lo < y->lo ? -1 : x->lo > y->lo;
}

static bool bin_lost(const struct tr_slices *sl, __s64 lo, __s64 hi)
{
	int i;

	for (i = 0; i < sl->n_lost; i++)
		if (sl->lost[i].lo < hi && sl->lost[i].hi > lo)
			return true;
	return false;
}

/* First stint that may end after lo: it starts after lo - max_len. */
static int first_at(const struct wslices *ws, __s64 lo)
{
	int a = 0, b = ws->n, m;

	while (a < b) {
		m = (a + b) / 2;
		if (ws->v[m].lo < lo - ws->max_len)
			a = m + 1;
		else
			b = m;
	}
	return a;
}

static __s64 clip(const struct sl *s, __s64 lo, __s64 hi)
{
	__s64 x = s->lo > lo ? s->lo : lo, y = s->hi < hi ? s->hi : hi;

	return y > x ? y - x : 0;
}

/* CPU of a worker's threads (main or the others) inside [lo, hi]. */
static __u64 cpu_in(const struct wslices *ws, __s64 lo, __s64 hi, bool main)
{
	__u64 sum = 0;
	int i;

	for (i = first_at(ws, lo); i < ws->n && ws->v[i].lo < hi; i++)
		if (ws->v[i].main == main)
			sum += clip(&ws->v[i], lo, hi);
	return sum;
}

/*
 * The thread that ran a task: the compute thread with the most CPU in
 * its window [k0, k1]. 0 if none ran. The few others that ran then too
 * (Dask's profiler samples every 10 ms) are not the task's.
 */
static __u32 task_thread(const struct wslices *ws, __s64 k0, __s64 k1)
{
	__u32 tids[16] = {}, best = 0;
	__u64 cpu[16] = {}, top = 0;
	int i, j, n = 0;

	for (i = first_at(ws, k0); i < ws->n && ws->v[i].lo < k1; i++) {
		if (ws->v[i].main)
			continue;
		for (j = 0; j < n && tids[j] != ws->v[i].tid; j++)
			;
		if (j == n && n == 16)
			continue;	/* more threads than that: ignore */
		if (j == n)
			tids[n++] = ws->v[i].tid;
		cpu[j] += clip(&ws->v[i], k0, k1);
		if (cpu[j] > top) {
			top = cpu[j];
			best = tids[j];
		}
	}
	return best;
}

/* Exact bins: the CPU series comes from the slices. */
static int rebuild(struct trials *t, int w)
{
	struct wslices *ws = &t->sl->w[w];
	struct tr_worker *wk = &t->workers[w];
	int b;

	if (!ws->from || !wk->s)
		return 0;
	qsort(ws->v, ws->n, sizeof(*ws->v), cmp_sl);
	ws->exact = calloc(t->n_bins, sizeof(bool));
	if (!ws->exact)
		return -ENOMEM;
	for (b = 0; b < t->n_bins; b++) {
		if (t->bin_lo[b] < ws->from ||
		    bin_lost(t->sl, t->bin_lo[b], t->bin_hi[b]))
			continue;
		ws->exact[b] = true;
		wk->s[b].cpu_main = cpu_in(ws, t->bin_lo[b], t->bin_hi[b],
					   true);
		wk->s[b].cpu_other = cpu_in(ws, t->bin_lo[b], t->bin_hi[b],
					    false);
	}
	return 0;
}

int tr_slices_load(struct trials *t, const char *trace_path)
{
	int err, w;

	t->sl = calloc(1, sizeof(*t->sl));
	if (!t->sl)
		return -ENOMEM;
	t->sl->w = calloc(t->n_workers + 1, sizeof(*t->sl->w));
	if (!t->sl->w)
		return -ENOMEM;
	err = read_slices(t, trace_path);
	for (w = 0; !err && w < t->n_workers; w++)
		err = rebuild(t, w);
	return err;
}

bool tr_slices_exact(const struct trials *t, int w, int bin)
{
	return t->sl && t->sl->w[w].exact && t->sl->w[w].exact[bin];
}

__u64 tr_slices_cpu(const struct trials *t, int w, __s64 lo, __s64 hi,
		    bool main)
{
	return cpu_in(&t->sl->w[w], lo, hi, main);
}

__u64 tr_slices_task_cpu(const struct trials *t, int w, __s64 k0, __s64 k1,
			 __s64 lo, __s64 hi)
{
	const struct wslices *ws = &t->sl->w[w];
	__u32 tid = task_thread(ws, k0, k1);
	__u64 sum = 0;
	int i;

	for (i = first_at(ws, lo); tid && i < ws->n && ws->v[i].lo < hi; i++)
		if (ws->v[i].tid == tid)
			sum += clip(&ws->v[i], lo, hi);
	return sum;
}

__u64 tr_slices_count(const struct trials *t)
{
	return t->sl ? t->sl->n_slices : 0;
}

void tr_slices_free(struct trials *t)
{
	int w;

	if (!t->sl)
		return;
	for (w = 0; w < t->n_workers; w++) {
		free(t->sl->w[w].v);
		free(t->sl->w[w].exact);
	}
	free(t->sl->w);
	free(t->sl->lost);
	free(t->sl);
	t->sl = NULL;
}
