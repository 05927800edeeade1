// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * Attribution (docs/attribution.md). A second pass over the trace turns
 * the delta records into per-bin series (a bin is one harvest interval):
 * worker-to-worker bytes per (source, destination) pair, and per worker
 * the CPU of the event-loop thread (tid == pid) and of the other threads,
 * run-queue wait and burst-active time. Then, bin by bin:
 *
 *  1. bytes into a worker go to the trials fetching into it (one demand
 *     per trial and aggregation worker): from the peer each input was
 *     computed on, each up to what it needs — fetches whose window closes
 *     in the bin first, then the set of fetches whose needs fit the bin's
 *     bytes if one does, else oldest window first;
 *     the rest (framing, pickle headers) in proportion to what each got
 *     in this bin, each up to an overhead allowance; then to any
 *     remaining need (copies fetched from a replica);
 *  2. CPU of a worker's threads goes to the tasks running on it, by
 *     overlap, at most one CPU per task: executor threads are compute,
 *     the event loop is comm;
 *  3. what is left in a bin goes to trials known only by TRIAL_BEGIN/END
 *     that were running then, by overlap; the rest is unattributed.
 *
 * All shares are whole bytes and nanoseconds; they add up exactly.
 */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "hmap.h"
#include "trace.h"
#include "trials.h"
#include "util.h"

struct attr {
	struct trials *t;
	struct hmap *proc_w;	/* mproc pointer -> worker index + 1 */
	struct hmap *conn_w;	/* conn id -> peer worker index + 2 (1: none) */
	int cap_samples;
};

/* ---- bins ---- */

struct ival {
	__s64 lo, hi;
};

static int cmp_ival(const void *a, const void *b)
{
	const struct ival *x = a, *y = b;

	return x->hi < y->hi ? -1 : x->hi > y->hi;
}

/* The bin holding ts: the first whose end is at or after it. */
static int bin_of(const struct trials *t, __s64 ts)
{
	int lo = 0, hi = t->n_bins - 1, mid;

	if (ts > t->bin_hi[hi])
		return hi;
	while (lo < hi) {
		mid = (lo + hi) / 2;
		if (t->bin_hi[mid] >= ts)
			hi = mid;
		else
			lo = mid + 1;
	}
	return lo;
}

static __s64 overlap(__s64 a0, __s64 a1, __s64 b0, __s64 b1)
{
	__s64 lo = a0 > b0 ? a0 : b0, hi = a1 < b1 ? a1 : b1;

	return hi > lo ? hi - lo : 0;
}

static int read_bins(struct trials *t, const char *path)
{
	const struct xt_rec_hdr *rec;
	struct trace_reader *r;
	struct ival *v = NULL, *nv;
	int n = 0, cap = 0, err, i, k = 0;

	err = trace_reader__open(path, &r);
	if (err)
		return err;
	while ((err = trace_reader__next(r, &rec)) > 0) {
		const struct xt_rec_interval *iv = (const void *)rec;

		if (rec->type != XT_REC_INTERVAL || iv->end_ns <= iv->start_ns)
			continue;
		if (n == cap) {
			cap = cap ? cap * 2 : 1024;
			nv = realloc(v, cap * sizeof(*v));
			if (!nv) {
				err = -ENOMEM;
				break;
			}
			v = nv;
		}
		v[n].lo = (__s64)iv->start_ns;
		v[n++].hi = (__s64)iv->end_ns;
	}
	trace_reader__free(r);
	if (err < 0 || !n) {
		free(v);
		return err < 0 ? err : -ENODATA;
	}
	qsort(v, n, sizeof(*v), cmp_ival);
	t->bin_lo = calloc(n, sizeof(*t->bin_lo));
	t->bin_hi = calloc(n, sizeof(*t->bin_hi));
	if (!t->bin_lo || !t->bin_hi) {
		free(v);
		return -ENOMEM;
	}
	for (i = 0; i < n; i++) {
		if (k && v[i].hi == t->bin_hi[k - 1])
			continue;
		/* Bins tile time: each starts where the one before ended. */
		t->bin_lo[k] = k ? t->bin_hi[k - 1] : v[i].lo;
		t->bin_hi[k++] = v[i].hi;
	}
	t->n_bins = k;
	free(v);
	return 0;
}

/* ---- series ---- */

/* Per-bin CPU series for the local workers. */
static int alloc_series(struct trials *t)
{
	int i;

	for (i = 0; i < t->n_workers; i++) {
		struct tr_worker *w = &t->workers[i];

		if (w->proc) {
			w->s = calloc(t->n_bins, sizeof(*w->s));
			if (!w->s)
				return -ENOMEM;
		}
	}
	return 0;
}

/*
 * What is left per bin, for the workers that can have any: local ones and
 * those that received bytes. Workers only named in marks have none, so
 * memory follows the trace, not the number of marks.
 */
static int alloc_left(struct trials *t)
{
	int i, n = t->n_bins;
	bool *rx = calloc(t->n_workers + 1, sizeof(*rx));

	if (!rx)
		return -ENOMEM;
	for (i = 0; i < t->n_samples; i++)
		rx[t->samples[i].dst] = true;
	for (i = 0; i < t->n_workers; i++) {
		struct tr_worker *w = &t->workers[i];

		if (!w->proc && !rx[i])
			continue;
		w->left_bytes = calloc(n, sizeof(__u64));
		w->left_compute = calloc(n, sizeof(__u64));
		w->left_comm = calloc(n, sizeof(__u64));
		w->xfer_pool = calloc(n, sizeof(__u64));
		w->xfer_den = calloc(n, sizeof(__u64));
		if (!w->left_bytes || !w->left_compute || !w->left_comm ||
		    !w->xfer_pool || !w->xfer_den) {
			free(rx);
			return -ENOMEM;
		}
	}
	free(rx);
	return 0;
}

static int proc_worker(const struct attr *a, const struct mproc *p)
{
	return p ? (int)(long)hmap__get(a->proc_w, (__u64)(unsigned long)p) - 1 :
		   -1;
}

/*
 * "host://IP" (a remote process that connected to us): the one worker
 * named in the marks with that address and no local process, if unique.
 */
static int host_worker(const struct trials *t, const char *name)
{
	const char *ip = name + 7;
	size_t n = strlen(ip);
	int i, hit = -1;

	for (i = 0; i < t->n_workers; i++) {
		const char *w = t->workers[i].name;

		if (t->workers[i].proc || strncmp(w, "tcp://", 6) ||
		    strncmp(w + 6, ip, n) || w[6 + n] != ':')
			continue;
		if (hit >= 0)
			return -1;
		hit = i;
	}
	return hit;
}

static int peer_worker(struct attr *a, const struct mconn *c)
{
	void *v = hmap__get(a->conn_w, c->id);
	int w;

	if (v)
		return (int)(long)v - 2;
	w = proc_worker(a, c->peer);
	if (w < 0 && !c->peer)
		w = tr_worker_find(a->t, c->peer_name);
	if (w < 0 && !c->peer && !strncmp(c->peer_name, "host://", 7))
		w = host_worker(a->t, c->peer_name);
	hmap__put(a->conn_w, c->id, (void *)(long)(w + 2));
	return w;
}

static int add_sample(struct attr *a, int bin, int src, int dst,
		      __u64 bytes, const struct xt_rec_conn_delta *r)
{
	struct trials *t = a->t;
	struct tr_sample *s;

	if (t->n_samples == a->cap_samples) {
		a->cap_samples = a->cap_samples ? a->cap_samples * 2 : 4096;
		s = realloc(t->samples, a->cap_samples * sizeof(*s));
		if (!s)
			return -ENOMEM;
		t->samples = s;
	}
	s = &t->samples[t->n_samples++];
	memset(s, 0, sizeof(*s));
	s->bin = bin;
	s->src = src;
	s->dst = dst;
	s->bytes = bytes;
	s->active_ns = r->active_ns;
	s->conn_bytes = r->tx_bytes + r->rx_bytes;
	return 0;
}

static int on_conn_delta(struct attr *a, const struct xt_rec_conn_delta *r)
{
	struct trials *t = a->t;
	const struct mconn *c = model__conn(t->m, r->id);
	int lw, rw, bin;

	if (!c)
		return 0;
	lw = proc_worker(a, c->proc);
	if (lw < 0)
		return 0;
	bin = bin_of(t, (__s64)r->ts_ns);
	if (bin + 1 < t->n_bins && (__s64)r->ts_ns < t->bytes_lo[bin + 1])
		t->bytes_lo[bin + 1] = (__s64)r->ts_ns;
	if (t->workers[lw].s)
		t->workers[lw].s[bin].io += r->tx_bytes + r->rx_bytes;
	rw = peer_worker(a, c);
	if (rw < 0 || rw == lw)
		return 0;
	/* Received here: counted at the receiver. */
	if (r->rx_bytes && add_sample(a, bin, rw, lw, r->rx_bytes, r))
		return -ENOMEM;
	/* Sent to a worker on another node: only the sender saw it. */
	if (r->tx_bytes && !t->workers[rw].proc &&
	    add_sample(a, bin, lw, rw, r->tx_bytes, r))
		return -ENOMEM;
	return 0;
}

static void on_thread_delta(struct attr *a,
			    const struct xt_rec_thread_delta *r)
{
	struct trials *t = a->t;
	const struct mthread *th = model__thread(t->m, r->tid, r->start_ns);
	struct tr_bin_series *s;
	int w;

	if (!th)
		return;
	w = proc_worker(a, th->proc);
	if (w < 0 || !t->workers[w].s)
		return;
	s = &t->workers[w].s[bin_of(t, (__s64)r->ts_ns)];
	/* Python leaves OS threads unnamed: the main thread is the loop. */
	if (th->tid == th->pid)
		s->cpu_main += r->cpu_ns;
	else
		s->cpu_other += r->cpu_ns;
	s->runq += r->runq_ns;
}

static void on_proc_delta(struct attr *a, const struct xt_rec_proc_delta *r)
{
	struct trials *t = a->t;
	int w = proc_worker(a, model__proc(t->m, r->pid, r->start_ns));

	if (w < 0 || !t->workers[w].s)
		return;
	t->workers[w].s[bin_of(t, (__s64)r->ts_ns)].active += r->active_ns;
	t->workers[w].have_active = true;
}

static int read_series(struct attr *a, const char *path)
{
	const struct xt_rec_hdr *rec;
	struct trace_reader *r;
	int err;

	err = trace_reader__open(path, &r);
	if (err)
		return err;
	while ((err = trace_reader__next(r, &rec)) > 0) {
		switch (rec->type) {
		case XT_REC_CONN_DELTA:
			err = on_conn_delta(a, (const void *)rec);
			break;
		case XT_REC_THREAD_DELTA:
			on_thread_delta(a, (const void *)rec);
			break;
		case XT_REC_PROC_DELTA:
			on_proc_delta(a, (const void *)rec);
			break;
		}
		if (err < 0)
			break;
	}
	trace_reader__free(r);
	return err < 0 ? err : 0;
}

static int cmp_sample(const void *a, const void *b)
{
	const struct tr_sample *x = a, *y = b;

	if (x->dst != y->dst)
		return x->dst - y->dst;
	if (x->bin != y->bin)
		return x->bin - y->bin;
	return x->src - y->src;
}

/* Sort by (dst, bin, src) and merge samples of the same pair and bin. */
static void merge_samples(struct trials *t)
{
	int i, n = 0;

	if (t->n_samples)
		qsort(t->samples, t->n_samples, sizeof(*t->samples),
		      cmp_sample);
	for (i = 0; i < t->n_samples; i++) {
		struct tr_sample *s = &t->samples[i];
		struct tr_sample *p = n ? &t->samples[n - 1] : NULL;

		if (p && p->dst == s->dst && p->bin == s->bin &&
		    p->src == s->src) {
			p->bytes += s->bytes;
			p->active_ns += s->active_ns;
			p->conn_bytes += s->conn_bytes;
		} else {
			t->samples[n++] = *s;
		}
	}
	t->n_samples = n;
}

/* ---- window ---- */

static void set_window(struct trials *t)
{
	bool any = false;
	int i, b, k;

	for (i = 0; i < t->n_trials; i++) {
		const struct tr_trial *tr = &t->trials[i];

		if (!tr->timed || tr->dropped)
			continue;
		if (!any || tr->t0 < t->w0)
			t->w0 = tr->t0;
		if (!any || tr->t1 > t->w1)
			t->w1 = tr->t1;
		any = true;
	}
	if (!any || !t->n_bins)
		return;
	t->w0 -= t->slack;
	t->w1 += t->slack;
	if (t->w1 <= t->bin_lo[0] || t->w0 >= t->bin_hi[t->n_bins - 1])
		return;
	t->have_window = true;
	t->win_lo = bin_of(t, t->w0 + 1);
	t->win_hi = bin_of(t, t->w1);
	for (i = 0; i < t->n_samples; i++)
		if (t->samples[i].bin >= t->win_lo &&
		    t->samples[i].bin <= t->win_hi) {
			t->w_bytes += t->samples[i].bytes;
			t->workers[t->samples[i].dst].w_rx_w2w +=
				t->samples[i].bytes;
		}
	for (k = 0; k < t->n_workers; k++) {
		struct tr_worker *w = &t->workers[k];

		for (b = t->win_lo; w->s && b <= t->win_hi; b++) {
			w->w_compute += w->s[b].cpu_other;
			w->w_comm += w->s[b].cpu_main;
			w->w_runq += w->s[b].runq;
			w->w_active += w->s[b].active;
		}
		w->w_cpu = w->w_compute + w->w_comm;
		t->w_compute += w->w_compute;
		t->w_comm += w->w_comm;
		t->w_runq += w->w_runq;
	}
	t->w_cpu = t->w_compute + t->w_comm;
}

/* ---- demands: one per trial and aggregation worker ---- */

/* A new fetch of one trial into one worker. */
static struct tr_demand *demand_new(struct trials *t, int trial, int worker)
{
	struct tr_demand *d;

	if ((t->n_demands & (t->n_demands - 1)) == 0) {
		d = realloc(t->demands, (size_t)(t->n_demands ? t->n_demands * 2 : 1) *
			    sizeof(*d));
		if (!d)
			return NULL;
		t->demands = d;
	}
	d = &t->demands[t->n_demands++];
	memset(d, 0, sizeof(*d));
	d->trial = trial;
	d->worker = worker;
	return d;
}

/* The demand's need from worker w (n_workers: unknown place), or NULL. */
static struct tr_need *need_of(const struct tr_demand *d, int w)
{
	int lo = 0, hi = d->n_from, mid;

	while (lo < hi) {
		mid = lo + (hi - lo) / 2;
		if (d->from[mid].worker < w)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo < d->n_from && d->from[lo].worker == w ? &d->from[lo] : NULL;
}

static __u64 rem_of(const struct tr_demand *d, int w)
{
	const struct tr_need *n = need_of(d, w);

	return n ? n->rem : 0;
}

/*
 * What the demand needs: inputs computed elsewhere, at the claimed size.
 * sims: the workers of the trial's SIM tasks, sorted.
 */
static int demand_need(struct trials *t, struct tr_trial *tr,
		       struct tr_demand *d, double per_input, __u32 n_inputs,
		       const int *sims, int n_sim)
{
	__u64 each = (__u64)(per_input + 0.5);
	int i, j, k = 0, remote = 0;

	for (i = 0; i < n_sim; i++)
		k += (!i || sims[i] != sims[i - 1]) && sims[i] != d->worker;
	d->from = calloc(k + 1, sizeof(*d->from));
	if (!d->from)
		return -ENOMEM;
	for (i = 0; i < n_sim; i = j) {
		for (j = i; j < n_sim && sims[j] == sims[i]; j++)
			;
		if (sims[i] == d->worker)
			continue;
		d->from[d->n_from++] = (struct tr_need){ sims[i],
							 each * (j - i), 0 };
		remote += j - i;
	}
	if (n_inputs > (__u32)n_sim) {
		d->from[d->n_from++] = (struct tr_need){ t->n_workers,
			(__u64)((n_inputs - n_sim) * per_input + 0.5), 0 };
		remote += n_inputs - n_sim;
	}
	for (i = 0; i < d->n_from; i++)
		d->need += d->from[i].need;
	d->remote = remote;
	d->per_input = per_input;
	tr->need_bytes += d->need;
	return 0;
}

/* Start a sharing pass: needs in full, overhead allowed up to frac. */
static void demands_reset(struct trials *t, double frac)
{
	int i, j;

	for (i = 0; i < t->n_demands; i++) {
		struct tr_demand *d = &t->demands[i];

		for (j = 0; j < d->n_from; j++)
			d->from[j].rem = d->from[j].need;
		d->rem = d->need;
		d->got = d->got_need = d->transfer_ns = d->bin_got = 0;
		d->allow = frac < 0 ? ~0ull >> 2 : (__u64)(d->need * frac) +
			   (__u64)d->remote * TRIALS_OVERHEAD_OBJ;
	}
	for (i = 0; i < t->n_workers; i++) {
		struct tr_worker *w = &t->workers[i];

		if (!w->left_bytes)
			continue;
		memset(w->left_bytes, 0, t->n_bins * sizeof(__u64));
		memset(w->xfer_pool, 0, t->n_bins * sizeof(__u64));
		memset(w->xfer_den, 0, t->n_bins * sizeof(__u64));
	}
}

/* Each demand's largest claim per input and input count, in one pass. */
static void demand_claims(struct trials *t, struct tr_trial *tr, int first,
			  double *per, __u32 *n_in)
{
	int i;

	for (i = 0; i < tr->n_tasks; i++) {
		const struct tr_task *g = &t->tasks[tr->tasks[i]];
		int k = g->demand - first;

		if (g->demand < first || !g->n_inputs)
			continue;
		if (g->claimed_bytes / g->n_inputs > per[k])
			per[k] = g->claimed_bytes / g->n_inputs;
		if (g->n_inputs > n_in[k])
			n_in[k] = g->n_inputs;
	}
}

struct wpos {			/* an aggregation: its worker, its task */
	int worker, pos;
};

static int cmp_wpos(const void *a, const void *b)
{
	const struct wpos *x = a, *y = b;

	if (x->worker != y->worker)
		return x->worker < y->worker ? -1 : 1;
	return x->pos - y->pos;
}

static int cmp_pos(const void *a, const void *b)
{
	return ((const struct wpos *)a)->pos - ((const struct wpos *)b)->pos;
}

/*
 * One demand per aggregation worker of the trial, made in the order the
 * workers first appear among its tasks; each aggregation points to its
 * own. Sorting, not a lookup table: memory stays with the trial.
 */
static int assign_fetches(struct trials *t, int ti)
{
	struct tr_trial *tr = &t->trials[ti];
	struct wpos *v = malloc((size_t)(2 * tr->n_tasks + 1) * sizeof(*v));
	struct wpos *lead = v + tr->n_tasks;	/* .worker: group start */
	int i, j, k, n = 0, nl = 0;
	struct tr_demand *d;

	if (!v)
		return -ENOMEM;
	for (i = 0; i < tr->n_tasks; i++) {
		const struct tr_task *g = &t->tasks[tr->tasks[i]];

		/* An aggregation's window must be sound to share bytes. */
		if (g->kind == XT_MARK_AGG && g->cpu_ok)
			v[n++] = (struct wpos){ g->worker, i };
	}
	if (n > 1)
		qsort(v, n, sizeof(*v), cmp_wpos);
	for (i = 0; i < n; i++)
		if (!i || v[i].worker != v[i - 1].worker)
			lead[nl++] = (struct wpos){ i, v[i].pos };
	if (nl > 1)
		qsort(lead, nl, sizeof(*lead), cmp_pos);
	for (k = 0; k < nl; k++) {
		i = lead[k].worker;
		d = demand_new(t, ti, v[i].worker);
		if (!d) {
			free(v);
			return -ENOMEM;
		}
		for (j = i; j < n && v[j].worker == v[i].worker; j++)
			t->tasks[tr->tasks[v[j].pos]].demand = d - t->demands;
	}
	free(v);
	return 0;
}

static int trial_fetches(struct trials *t, int ti, __s64 *agg_end)
{
	struct tr_trial *tr = &t->trials[ti];
	int i, err = assign_fetches(t, ti);

	for (i = 0; i < tr->n_tasks && !err; i++) {
		struct tr_task *g = &t->tasks[tr->tasks[i]];
		struct tr_demand *d;

		if (g->kind != XT_MARK_AGG || !g->cpu_ok)
			continue;
		d = &t->demands[g->demand];
		if (!d->n_aggs++ || g->start > d->b)
			d->b = g->start;
		if (g->claimed_bytes > d->claimed_bytes)
			d->claimed_bytes = g->claimed_bytes;
		if (g->end > *agg_end)
			*agg_end = g->end;
	}
	return err;
}

static int trial_demands(struct trials *t, int ti)
{
	struct tr_trial *tr = &t->trials[ti];
	__s64 last_sim = 0, agg_end = 0;
	bool have_sim = false;
	int i, n_sim, first = t->n_demands, err;
	int *sims = NULL;
	double *per = NULL;
	__u32 *n_in = NULL;

	for (i = 0; i < tr->n_tasks; i++) {
		const struct tr_task *s = &t->tasks[tr->tasks[i]];

		if (s->kind == XT_MARK_SIM && s->timed &&
		    (!have_sim || s->end > last_sim)) {
			last_sim = s->end;
			have_sim = true;
		}
	}
	err = trial_fetches(t, ti, &agg_end);
	if (err || first == t->n_demands)
		return err;
	sims = tr_task_workers(t, tr, XT_MARK_SIM, &n_sim);
	per = calloc(t->n_demands - first, sizeof(*per));
	n_in = calloc(t->n_demands - first, sizeof(*n_in));
	err = -ENOMEM;
	if (!sims || !per || !n_in)
		goto out;
	demand_claims(t, tr, first, per, n_in);
	for (i = first; i < t->n_demands; i++) {
		struct tr_demand *d = &t->demands[i];

		/* Inputs become fetchable when the last one is computed. */
		d->a = have_sim ? last_sim : tr->t0;
		if (tr->has_begin && d->a < tr->begin)
			d->a = tr->begin;
		if (d->b < d->a)
			d->b = agg_end;
		if (d->b < d->a)
			d->a = d->b;
		if (demand_need(t, tr, d, per[i - first], n_in[i - first],
				sims, n_sim))
			goto out;
	}
	err = 0;
out:
	free(sims);
	free(per);
	free(n_in);
	return err;
}

static int build_demands(struct trials *t)
{
	int i, err = 0;

	for (i = 0; i < t->n_trials && !err; i++) {
		if (t->trials[i].mode != TR_TASK || t->trials[i].dropped)
			continue;
		err = trial_demands(t, i);
	}
	return err;
}

/* ---- bytes ---- */

static __u64 min3(__u64 a, __u64 b, __u64 c)
{
	__u64 m = a < b ? a : b;

	return m < c ? m : c;
}

static void give(struct tr_demand *d, struct tr_sample *s, __u64 x)
{
	d->got += x;
	d->bin_got += x;
	s->left -= x;
}

/* x bytes that count against the need (steps 1 and 3). */
static void give_need(struct tr_demand *d, struct tr_sample *s, __u64 x)
{
	d->rem -= x;
	d->got_need += x;
	give(d, s, x);
}

#define FIT_MAX 12

/*
 * The set of open fetches whose remaining needs from this peer add up to
 * the bin's bytes, within the overhead tolerance: Dask moves each fetch's
 * inputs from one peer in one message, so a bin's bytes from a peer are
 * usually whole fetches. Among fits, the closest; when two are as close
 * as the overhead noise (equal needs), the one with the oldest windows.
 * 0 if none fits (or too many to try).
 */
static unsigned int fit_set(const struct trials *t, const struct tr_sample *s,
			    struct tr_demand **c, int nc)
{
	double best_err = -1, b = (double)s->left, r = t->overhead_ratio;
	unsigned int mask, best = 0;
	int idx[FIT_MAX], n = 0, j;

	for (j = 0; j < nc; j++) {
		if (!rem_of(c[j], s->src) || !c[j]->rem)
			continue;
		if (n == FIT_MAX)
			return 0;
		idx[n++] = j;
	}
	if (n < 2)
		return 0;
	for (mask = 1; mask < 1u << n; mask++) {
		double sum = 0, obj = 0, err;

		for (j = 0; j < n; j++) {
			const struct tr_demand *d = c[idx[j]];
			__u64 r = rem_of(d, s->src);
			__u64 x = r < d->rem ? r : d->rem;

			if (!(mask & (1u << j)))
				continue;
			sum += x;
			obj += d->per_input > 0 ? ceil(x / d->per_input) : 1;
		}
		if (b < sum * (1 - TRIALS_OVERHEAD_MARGIN) ||
		    b > sum * (1 + t->fit_frac) + obj * TRIALS_OVERHEAD_OBJ)
			continue;
		/* Closer by more than the overhead noise, or the first. */
		err = fabs(b - sum * (1 + r));
		if (best_err < 0 || err < best_err - sum * TRIALS_OVERHEAD_MARGIN -
		    obj * TRIALS_OVERHEAD_OBJ) {
			best_err = err;
			best = mask;
		}
	}
	for (mask = 0, j = 0; j < n; j++)
		if (best & (1u << j))
			mask |= 1u << idx[j];
	return mask;
}

static void take_need(struct tr_demand *d, struct tr_sample *s)
{
	struct tr_need *n = need_of(d, s->src);
	__u64 x;

	if (!n)
		return;
	x = min3(s->left, n->rem, d->rem);
	n->rem -= x;
	give_need(d, s, x);
}

/*
 * Step 1: each candidate up to its need from the peer. First the fetches
 * whose window closes in this bin (their aggregation started: this is
 * their last chance), then the set of fetches that fits the bytes if one
 * does, else oldest window first.
 */
static void share_needs(struct trials *t, int bin, struct tr_sample *s,
			int ns, struct tr_demand **c, int nc)
{
	__s64 end = t->bin_hi[bin] - t->slack;
	unsigned int fit;
	int i, j;

	for (i = 0; i < ns; i++) {
		for (j = 0; j < nc && s[i].left; j++)
			if (c[j]->b <= end)
				take_need(c[j], &s[i]);
		fit = nc <= FIT_MAX ? fit_set(t, &s[i], c, nc) : 0;
		for (j = 0; j < nc && s[i].left; j++)
			if (!fit || (fit & (1u << j)))
				take_need(c[j], &s[i]);
	}
}

/* Step 3: remaining need from anywhere (a copy fetched from a replica). */
static void share_any(struct trials *t, struct tr_sample *s, int ns,
		      struct tr_demand **c, int nc)
{
	int i, j, unk = t->n_workers;
	__u64 x;

	for (i = 0; i < ns; i++)
		for (j = 0; j < nc && s[i].left; j++) {
			struct tr_need *n = need_of(c[j], unk);

			x = s[i].left < c[j]->rem ? s[i].left : c[j]->rem;
			if (n)
				n->rem -= x < n->rem ? x : n->rem;
			give_need(c[j], &s[i], x);
		}
}

/*
 * Step 2: the rest of each sample (framing, pickle headers), by what each
 * candidate got in this bin, each up to its overhead allowance.
 */
static void share_rest(struct tr_sample *s, int ns, struct tr_demand **c,
		       int nc, double *w, __u64 *out)
{
	double *base = w + nc;
	int i, j, round;
	__u64 x;

	for (j = 0; j < nc; j++)
		base[j] = (double)c[j]->bin_got;
	for (i = 0; i < ns; i++) {
		for (round = 0; s[i].left && round < nc; round++) {
			bool any = false;

			for (j = 0; j < nc; j++) {
				w[j] = c[j]->allow ? base[j] : 0;
				any |= w[j] > 0;
			}
			if (!any)
				break;
			tr_split_int(s[i].left, w, nc, out);
			for (j = 0; j < nc; j++) {
				x = out[j] < c[j]->allow ? out[j] : c[j]->allow;
				c[j]->allow -= x;
				give(c[j], &s[i], x);
			}
		}
	}
}

/* Burst-active time of the bin, shared by bytes. */
static void share_xfer(struct trials *t, struct tr_worker *w, int bin,
		       struct tr_sample *s, int ns, struct tr_demand **c,
		       int nc)
{
	__u64 pool = 0, den = 0, x, used = 0;
	int i;

	if (w->s && w->have_active) {
		pool = w->s[bin].active;
		den = w->s[bin].io;
	} else {
		for (i = 0; i < ns; i++) {
			pool += s[i].active_ns;
			den += s[i].conn_bytes;
		}
	}
	w->xfer_pool[bin] = pool;
	w->xfer_den[bin] = den;
	if (!den)
		return;
	for (i = 0; i < nc; i++) {
		x = (__u64)((long double)pool * c[i]->bin_got / den);
		if (x > pool - used)
			x = pool - used;
		c[i]->transfer_ns += x;
		used += x;
	}
}

static void share_bin(struct trials *t, int wi, int bin, struct tr_sample *s,
		      int ns, struct tr_demand **c, int nc, double *wt,
		      __u64 *out)
{
	int i;

	for (i = 0; i < nc; i++)
		c[i]->bin_got = 0;
	for (i = 0; i < ns; i++)
		s[i].left = s[i].bytes;
	share_needs(t, bin, s, ns, c, nc);
	share_rest(s, ns, c, nc, wt, out);
	share_any(t, s, ns, c, nc);
	share_xfer(t, &t->workers[wi], bin, s, ns, c, nc);
	for (i = 0; i < ns; i++)
		t->workers[wi].left_bytes[bin] += s[i].left;
}

static int cmp_demand(const void *a, const void *b)
{
	const struct tr_demand *x = *(struct tr_demand *const *)a;
	const struct tr_demand *y = *(struct tr_demand *const *)b;

	if (x->worker != y->worker)
		return x->worker - y->worker;
	if (x->a != y->a)
		return x->a < y->a ? -1 : 1;
	return x->trial - y->trial;
}

/*
 * Open fetches for a bin, oldest window first: a sweep, as bins only move
 * forward. dv[*p..nd) are the worker's fetches not yet opened.
 */
static int open_fetches(const struct trials *t, int bin,
			struct tr_demand **dv, int nd, int *p,
			struct tr_demand **act, int na)
{
	__s64 lo = t->bytes_lo[bin] - t->slack, hi = t->bin_hi[bin] + t->slack;
	int i, n = 0;

	while (*p < nd && dv[*p]->a < hi)
		act[na++] = dv[(*p)++];
	for (i = 0; i < na; i++)
		if (act[i]->b > lo)
			act[n++] = act[i];
	return n;
}

static int share_pass(struct trials *t)
{
	struct tr_demand **dv = calloc(t->n_demands + 1, sizeof(*dv));
	struct tr_demand **act = calloc(t->n_demands + 1, sizeof(*act));
	double *wt = calloc(2 * (t->n_demands + 1), sizeof(*wt));
	__u64 *out = calloc(t->n_demands + 1, sizeof(*out));
	int w, i = 0, j, d0 = 0, d1, p, na, err = 0;

	if (!dv || !act || !wt || !out) {
		err = -ENOMEM;
		goto out;
	}
	for (j = 0; j < t->n_demands; j++)
		dv[j] = &t->demands[j];
	if (t->n_demands)
		qsort(dv, t->n_demands, sizeof(*dv), cmp_demand);
	for (w = 0; w < t->n_workers; w++, d0 = d1) {
		for (d1 = d0; d1 < t->n_demands && dv[d1]->worker == w; d1++)
			;
		for (p = 0, na = 0; i < t->n_samples && t->samples[i].dst == w;
		     i = j) {
			int bin = t->samples[i].bin;

			for (j = i; j < t->n_samples && t->samples[j].dst == w &&
			     t->samples[j].bin == bin; j++)
				;
			if (bin < t->win_lo || bin > t->win_hi)
				continue;
			na = open_fetches(t, bin, dv + d0, d1 - d0, &p, act, na);
			share_bin(t, w, bin, &t->samples[i], j - i, act, na, wt,
				  out);
		}
	}
out:
	free(dv);
	free(act);
	free(wt);
	free(out);
	return err;
}

/*
 * Two passes: the first, with no limit on overhead, learns the run's
 * typical overhead ratio (25th percentile over fetches: fetches that also
 * took bytes of trials without marks sit above it); the second allows
 * each fetch twice that plus a margin.
 */
static int share_bytes(struct trials *t)
{
	double *v, frac;
	int i, n = 0, err;

	t->overhead_ratio = 0;
	t->fit_frac = 0.02;
	demands_reset(t, -1);
	err = share_pass(t);
	if (err || !t->n_demands)
		return err;
	v = calloc(t->n_demands, sizeof(*v));
	if (!v)
		return -ENOMEM;
	for (i = 0; i < t->n_demands; i++)
		if (t->demands[i].got_need)
			v[n++] = (double)(t->demands[i].got -
					  t->demands[i].got_need) /
				 t->demands[i].got_need;
	t->overhead_ratio = n ? tr_percentile(v, n, 25) : 0;
	free(v);
	frac = 2 * t->overhead_ratio + TRIALS_OVERHEAD_MARGIN;
	t->fit_frac = frac;
	demands_reset(t, frac);
	return share_pass(t);
}

/* ---- CPU ---- */

struct claim {
	int worker, bin, task;
	__s64 o;		/* overlap of the task with the bin, ns */
};

static int cmp_claim(const void *a, const void *b)
{
	const struct claim *x = a, *y = b;

	if (x->worker != y->worker)
		return x->worker - y->worker;
	if (x->bin != y->bin)
		return x->bin - y->bin;
	return x->task - y->task;
}

static int make_claims(struct trials *t, struct claim **out, int *n_out)
{
	struct claim *v = NULL, *nv;
	int n = 0, cap = 0, i, b;

	for (i = 0; i < t->n_tasks; i++) {
		const struct tr_task *k = &t->tasks[i];
		int b0, b1;

		if (!k->cpu_ok || t->trials[k->trial].dropped ||
		    !t->workers[k->worker].s || k->end <= k->start)
			continue;
		b0 = bin_of(t, k->start + 1);
		b1 = bin_of(t, k->end);
		for (b = b0 < t->win_lo ? t->win_lo : b0;
		     b <= b1 && b <= t->win_hi; b++) {
			__s64 o = overlap(k->start, k->end, t->bin_lo[b],
					  t->bin_hi[b]);

			if (o <= 0)
				continue;
			if (n == cap) {
				cap = cap ? cap * 2 : 1024;
				nv = realloc(v, cap * sizeof(*v));
				if (!nv) {
					free(v);
					return -ENOMEM;
				}
				v = nv;
			}
			v[n++] = (struct claim){ k->worker, b, i, o };
		}
	}
	if (n)
		qsort(v, n, sizeof(*v), cmp_claim);
	*out = v;
	*n_out = n;
	return 0;
}

/* Share total by the overlaps, each at most its overlap (one CPU). */
static __u64 cap_split(__u64 total, const double *o, int n, __u64 *out)
{
	__u64 sum = 0;
	int i;

	for (i = 0; i < n; i++)
		sum += (__u64)o[i];
	if (total <= sum) {
		tr_split_int(total, o, n, out);
		return 0;
	}
	for (i = 0; i < n; i++)
		out[i] = (__u64)o[i];
	return total - sum;
}

/*
 * A bin with slices: each task gets what its thread ran inside its window
 * (comm: the event loop's); overlapping windows (clock noise) share the
 * bin's CPU.
 */
static __u64 exact_split(struct trials *t, int wi, int bin, bool main,
			 const struct claim *cl, int n, double *o, __u64 *out)
{
	__u64 pool = main ? t->workers[wi].s[bin].cpu_main :
		     t->workers[wi].s[bin].cpu_other, sum = 0;
	int i;

	for (i = 0; i < n; i++) {
		const struct tr_task *k = &t->tasks[cl[i].task];
		__s64 lo = k->start > t->bin_lo[bin] ? k->start : t->bin_lo[bin];
		__s64 hi = k->end < t->bin_hi[bin] ? k->end : t->bin_hi[bin];

		out[i] = main ? tr_slices_cpu(t, wi, lo, hi, true) :
			 tr_slices_task_cpu(t, wi, k->start, k->end, lo, hi);
		o[i] = (double)out[i];
		sum += out[i];
	}
	if (sum <= pool)
		return pool - sum;
	tr_split_int(pool, o, n, out);
	return 0;
}

static void share_cpu_bin(struct trials *t, struct tr_worker *w, int bin,
			  const struct claim *cl, int n, double *o, __u64 *out)
{
	int i, wi = (int)(w - t->workers);

	if (tr_slices_exact(t, wi, bin)) {
		w->left_compute[bin] = exact_split(t, wi, bin, false, cl, n,
						   o, out);
		for (i = 0; i < n; i++)
			t->tasks[cl[i].task].cpu_ns += out[i];
		w->left_comm[bin] = exact_split(t, wi, bin, true, cl, n, o,
						out);
		for (i = 0; i < n; i++)
			t->tasks[cl[i].task].comm_cpu_ns += out[i];
		return;
	}
	for (i = 0; i < n; i++)
		t->tasks[cl[i].task].cpu_exact = false;

	for (i = 0; i < n; i++)
		o[i] = (double)cl[i].o;
	w->left_compute[bin] = cap_split(w->s[bin].cpu_other, o, n, out);
	for (i = 0; i < n; i++)
		t->tasks[cl[i].task].cpu_ns += out[i];
	w->left_comm[bin] = cap_split(w->s[bin].cpu_main, o, n, out);
	for (i = 0; i < n; i++)
		t->tasks[cl[i].task].comm_cpu_ns += out[i];
}

static int share_cpu(struct trials *t)
{
	struct claim *cl;
	double *o;
	__u64 *out;
	int n, i, j, w, b, err;

	err = make_claims(t, &cl, &n);
	if (err)
		return err;
	for (i = 0; i < t->n_tasks; i++)
		t->tasks[i].cpu_exact = t->sl &&
					t->workers[t->tasks[i].worker].s;
	o = calloc(n + 1, sizeof(*o));
	out = calloc(n + 1, sizeof(*out));
	if (!o || !out) {
		err = -ENOMEM;
		goto out;
	}
	for (w = 0, i = 0; w < t->n_workers; w++) {
		struct tr_worker *wk = &t->workers[w];

		for (b = t->win_lo; wk->s && b <= t->win_hi; b++) {
			for (j = i; j < n && cl[j].worker == w &&
			     cl[j].bin == b; j++)
				;
			/* No claims at all: cl is NULL, and NULL + 0 is UB. */
			share_cpu_bin(t, wk, b, cl ? cl + i : NULL, j - i, o,
				      out);
			i = j;
		}
	}
out:
	free(cl);
	free(o);
	free(out);
	return err;
}

/* ---- trial level: what is left, to trials known by BEGIN/END only ---- */

static int cmp_trial_t0(const void *a, const void *b, void *ctx)
{
	const struct trials *t = ctx;
	const struct tr_trial *x = &t->trials[*(const int *)a];
	const struct tr_trial *y = &t->trials[*(const int *)b];

	return x->t0 < y->t0 ? -1 : x->t0 > y->t0;
}

static void share_left_bin(struct trials *t, struct tr_worker *w, int b,
			   const int *act, int na, double *wt, __u64 *out)
{
	__s64 lo = t->bin_lo[b], hi = t->bin_hi[b];
	int i;

	for (i = 0; i < na; i++)
		wt[i] = (double)overlap(t->trials[act[i]].t0,
					t->trials[act[i]].t1, lo, hi);
	if (w->left_bytes[b]) {
		tr_split_int(w->left_bytes[b], wt, na, out);
		for (i = 0; i < na; i++) {
			struct tr_trial *tr = &t->trials[act[i]];

			tr->bytes += out[i];
			w->left_bytes[b] -= out[i];
			if (w->xfer_den[b])
				tr->transfer_ns += (__u64)((long double)
					w->xfer_pool[b] * out[i] / w->xfer_den[b]);
		}
	}
	tr_split_int(w->left_compute[b], wt, na, out);
	for (i = 0; i < na; i++) {
		t->trials[act[i]].compute_ns += out[i];
		w->left_compute[b] -= out[i];
	}
	tr_split_int(w->left_comm[b], wt, na, out);
	for (i = 0; i < na; i++) {
		t->trials[act[i]].comm_ns += out[i];
		w->left_comm[b] -= out[i];
	}
}

static int share_trial_level(struct trials *t)
{
	int *ord = calloc(t->n_trials + 1, sizeof(int));
	int *act = calloc(t->n_trials + 1, sizeof(int));
	double *wt = calloc(t->n_trials + 1, sizeof(double));
	__u64 *out = calloc(t->n_trials + 1, sizeof(__u64));
	int n = 0, na, p, i, w, b, err = 0;

	if (!ord || !act || !wt || !out) {
		err = -ENOMEM;
		goto out;
	}
	for (i = 0; i < t->n_trials; i++)
		if (t->trials[i].mode == TR_TRIAL && !t->trials[i].dropped)
			ord[n++] = i;
	qsort_r(ord, n, sizeof(int), cmp_trial_t0, t);
	for (w = 0; n && w < t->n_workers; w++) {
		struct tr_worker *wk = &t->workers[w];

		if (!wk->left_bytes)
			continue;
		for (b = t->win_lo, p = 0, na = 0; b <= t->win_hi; b++) {
			/* Sweep: add trials that began, drop those that ended. */
			while (p < n && t->trials[ord[p]].t0 < t->bin_hi[b])
				act[na++] = ord[p++];
			for (i = 0; i < na;)
				if (t->trials[act[i]].t1 <= t->bin_lo[b])
					act[i] = act[--na];
				else
					i++;
			if (na)
				share_left_bin(t, wk, b, act, na, wt, out);
		}
	}
out:
	free(ord);
	free(act);
	free(wt);
	free(out);
	return err;
}

/* ---- totals ---- */

static void sum_up(struct trials *t)
{
	int i, w, b;

	for (i = 0; i < t->n_demands; i++) {
		struct tr_trial *tr = &t->trials[t->demands[i].trial];

		tr->bytes += t->demands[i].got;
		tr->transfer_ns += t->demands[i].transfer_ns;
	}
	for (i = 0; i < t->n_tasks; i++) {
		struct tr_trial *tr = &t->trials[t->tasks[i].trial];

		tr->compute_ns += t->tasks[i].cpu_ns;
		tr->comm_ns += t->tasks[i].comm_cpu_ns;
	}
	for (i = 0; i < t->n_trials; i++) {
		t->a_bytes += t->trials[i].bytes;
		t->a_compute += t->trials[i].compute_ns;
		t->a_comm += t->trials[i].comm_ns;
	}
	for (w = 0; w < t->n_workers && t->have_window; w++) {
		struct tr_worker *wk = &t->workers[w];

		for (b = t->win_lo; wk->left_bytes && b <= t->win_hi; b++) {
			t->un_bytes += wk->left_bytes[b];
			t->un_compute += wk->left_compute[b];
			t->un_comm += wk->left_comm[b];
		}
	}
	if (t->a_bytes + t->un_bytes != t->w_bytes ||
	    t->a_compute + t->un_compute != t->w_compute ||
	    t->a_comm + t->un_comm != t->w_comm)
		p_warn("report: attribution does not add up (bytes %llu+%llu vs %llu); please report this",
		       (unsigned long long)t->a_bytes,
		       (unsigned long long)t->un_bytes,
		       (unsigned long long)t->w_bytes);
}

int tr_attribute(struct trials *t, const char *trace_path)
{
	struct attr a = { .t = t };
	int i, err;

	err = read_bins(t, trace_path);
	if (err == -ENODATA)
		return 0;		/* no intervals: nothing measured */
	if (err)
		return err;
	a.proc_w = hmap__new();
	a.conn_w = hmap__new();
	if (!a.proc_w || !a.conn_w) {
		err = -ENOMEM;
		goto out;
	}
	for (i = 0; i < t->n_workers; i++)
		if (t->workers[i].proc &&
		    !hmap__get(a.proc_w, (__u64)(unsigned long)t->workers[i].proc))
			hmap__put(a.proc_w,
				  (__u64)(unsigned long)t->workers[i].proc,
				  (void *)(long)(i + 1));
	err = alloc_series(t);
	t->bytes_lo = calloc(t->n_bins, sizeof(*t->bytes_lo));
	if (!err && !t->bytes_lo)
		err = -ENOMEM;
	for (i = 0; !err && i < t->n_bins; i++)
		t->bytes_lo[i] = t->bin_lo[i];
	if (!err)
		err = read_series(&a, trace_path);
	if (!err)
		err = tr_slices_load(t, trace_path);
	if (err)
		goto out;
	t->n_slices = tr_slices_count(t);
	merge_samples(t);
	err = alloc_left(t);
	if (err)
		goto out;
	set_window(t);
	err = build_demands(t);
	if (err || !t->have_window)
		goto out;
	err = share_bytes(t);
	if (!err)
		err = share_cpu(t);
	if (!err)
		err = share_trial_level(t);
	if (!err)
		sum_up(t);
out:
	tr_slices_free(t);
	free(t->bytes_lo);
	t->bytes_lo = NULL;
	hmap__free(a.proc_w);
	hmap__free(a.conn_w);
	return err;
}
