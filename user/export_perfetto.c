// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * `report --format perfetto -o FILE.json`: Chrome trace-event JSON for
 * Perfetto UI and chrome://tracing. One process track per listed process
 * (its pid, named after its endpoint and role) with counter tracks of TX
 * and RX bytes per second and CPU % per harvest interval; a "transfers"
 * thread with one slice per interval that moved worker-to-worker bytes and
 * flow arrows from sender to receiver; a "tasks" thread of the marks' SIM
 * and AGG tasks; and a "Trials" process with one slice per trial.
 * Times are microseconds since otherData.t0_unix.
 */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "export.h"
#include "hmap.h"

#define PF_TRIALS_PID	999999990	/* the "Trials (marks)" process */
#define PF_TID_XFER	1000000001	/* per process: send slices */
#define PF_TID_RECV	1000000002	/* per process: receive slices */
#define PF_TID_TASK	1000000100	/* per process: task lanes from here */
#define PF_FLOWS_MAX	20000		/* largest per-interval flows shown */
#define PF_LANES	64

struct pf {
	FILE *f;
	double t0;		/* unix seconds at ts 0 */
	int n;			/* events written */
	int *pid;		/* per series row */
};

static void emit(struct pf *p, json_t *ev)
{
	if (!ev)
		return;
	fputs(p->n++ ? ",\n" : "\n", p->f);
	json_dumpf(ev, p->f, JSON_COMPACT | JSON_REAL_PRECISION(12));
	json_decref(ev);
}

static double us(const struct pf *p, double unix_s)
{
	return round((unix_s - p->t0) * 1e9) / 1e3;
}

static void meta(struct pf *p, int pid, int tid, const char *what,
		 const char *name)
{
	emit(p, json_pack("{s:s, s:s, s:i, s:i, s:f, s:{s:s}}", "ph", "M",
			  "name", what, "pid", pid, "tid", tid, "ts", 0.0,
			  "args", "name", name));
}

/* Counter value at ts; only changes are written. */
static void counter(struct pf *p, int pid, const char *name, double ts,
		    double v, double *last)
{
	if (v == *last)
		return;
	*last = v;
	emit(p, json_pack("{s:s, s:s, s:i, s:i, s:f, s:{s:f}}", "ph", "C",
			  "name", name, "pid", pid, "tid", 0, "ts", ts,
			  "args", name, v));
}

static void counters(struct pf *p, const struct xseries *s, int r)
{
	static const char *const nm[3] = { "TX bytes/s", "RX bytes/s",
					   "CPU %" };
	const struct xs_row *row = &s->rows[r];
	double last[3] = { NAN, NAN, NAN }, dt, v[3];
	int b, k;

	for (b = 0; b < s->n_bins; b++) {
		dt = s->hi[b] - s->lo[b];
		v[0] = dt > 0 ? row->tx[b] / dt : 0;
		v[1] = dt > 0 ? row->rx[b] / dt : 0;
		v[2] = dt > 0 ? row->cpu[b] / dt / 1e7 : 0;
		for (k = 0; k < 3; k++)
			counter(p, p->pid[r], nm[k], us(p, s->lo[b]), v[k],
				&last[k]);
		/* Back to zero at the end and across gaps between bins. */
		if (b + 1 == s->n_bins || s->lo[b + 1] != s->hi[b])
			for (k = 0; k < 3; k++)
				counter(p, p->pid[r], nm[k], us(p, s->hi[b]),
					0, &last[k]);
	}
}

static void slice(struct pf *p, int pid, int tid, const char *name,
		  const char *cat, double t0, double t1, json_t *args)
{
	emit(p, json_pack("{s:s, s:s, s:s, s:i, s:i, s:f, s:f, s:o}", "ph",
			  "X", "name", name, "cat", cat, "pid", pid, "tid", tid,
			  "ts", us(p, t0), "dur", fmax(us(p, t1) - us(p, t0), 0),
			  "args", args ? args : json_object()));
}

static int cmp_pair_bytes(const void *a, const void *b)
{
	const struct xs_pair *x = *(struct xs_pair *const *)a;
	const struct xs_pair *y = *(struct xs_pair *const *)b;

	return x->bytes < y->bytes ? 1 : x->bytes > y->bytes ? -1 : 0;
}

/* Slice per (process, interval) that sent or received, then arrows. */
static int transfers(struct pf *p, const struct xseries *s)
{
	struct xs_pair **ord = calloc(s->n_pairs + 1, sizeof(*ord));
	__u64 *snd = calloc((size_t)s->n_rows + 1, sizeof(*snd));
	__u64 *rcv = calloc((size_t)s->n_rows + 1, sizeof(*rcv));
	int i, j, r, n;

	if (!ord || !snd || !rcv) {
		free(ord);
		free(snd);
		free(rcv);
		return -ENOMEM;
	}
	for (i = 0; i < s->n_pairs; i = j) {
		int b = s->pairs[i].bin;

		for (j = i; j < s->n_pairs && s->pairs[j].bin == b; j++) {
			snd[s->pairs[j].src] += s->pairs[j].bytes;
			rcv[s->pairs[j].dst] += s->pairs[j].bytes;
		}
		for (r = 0; r < s->n_rows; r++) {
			if (snd[r])
				slice(p, p->pid[r], PF_TID_XFER, "send", "transfer",
				      s->lo[b], s->hi[b], json_pack("{s:I}",
				      "bytes", (json_int_t)snd[r]));
			if (rcv[r])
				slice(p, p->pid[r], PF_TID_RECV, "receive",
				      "transfer", s->lo[b], s->hi[b],
				      json_pack("{s:I}", "bytes",
						(json_int_t)rcv[r]));
			snd[r] = rcv[r] = 0;
		}
	}
	for (i = 0; i < s->n_pairs; i++)
		ord[i] = &s->pairs[i];
	qsort(ord, s->n_pairs, sizeof(*ord), cmp_pair_bytes);
	n = s->n_pairs < PF_FLOWS_MAX ? s->n_pairs : PF_FLOWS_MAX;
	for (i = 0; i < n; i++) {
		const struct xs_pair *q = ord[i];
		double mid = (s->lo[q->bin] + s->hi[q->bin]) / 2;

		emit(p, json_pack("{s:s, s:s, s:s, s:i, s:i, s:f, s:i, s:{s:I}}",
				  "ph", "s", "name", "bytes", "cat", "transfer",
				  "pid", p->pid[q->src], "tid", PF_TID_XFER,
				  "ts", us(p, mid), "id", i + 1, "args", "bytes",
				  (json_int_t)q->bytes));
		emit(p, json_pack("{s:s, s:s, s:s, s:i, s:i, s:f, s:i, s:s}",
				  "ph", "f", "name", "bytes", "cat", "transfer",
				  "pid", p->pid[q->dst], "tid", PF_TID_RECV,
				  "ts", us(p, mid), "id", i + 1, "bp", "e"));
	}
	free(ord);
	free(snd);
	free(rcv);
	return n;
}

static int row_by_name(const struct xseries *s, const char *name)
{
	int i;

	for (i = 0; i < s->n_rows; i++)
		if (!strcmp(s->rows[i].p->name, name))
			return i;
	return -1;
}

/* First lane whose last slice ended by t0 (slices on a lane must nest). */
static int lane(double *ends, double t0, double t1)
{
	int i;

	for (i = 0; i < PF_LANES - 1 && ends[i] > t0; i++)
		;
	ends[i] = fmax(ends[i], t1);
	return i;
}

static int tasks(struct pf *p, const struct xseries *s, const json_t *trial,
		 double *ends)
{
	const json_t *k;
	int hidden = 0;
	size_t i;

	json_array_foreach(json_object_get(trial, "tasks"), i, k) {
		double a = jd(k, "start_unix"), b = jd(k, "end_unix");
		int r = row_by_name(s, js(k, "worker")), l;
		char name[160];

		if (isnan(a) || isnan(b) || r < 0) {
			hidden++;
			continue;
		}
		l = lane(&ends[r * PF_LANES], a, b);
		snprintf(name, sizeof(name), "%s %s", js(k, "kind"),
			 js(trial, "id"));
		slice(p, p->pid[r], PF_TID_TASK + l, name, "task", a, b,
		      json_deep_copy(k));
	}
	return hidden;
}

static int trials(struct pf *p, const struct xseries *s, const json_t *arr)
{
	double tends[PF_LANES] = {}, *ends;
	const json_t *t;
	int hidden = 0, i, n;
	size_t k;

	ends = calloc((size_t)(s->n_rows + 1) * PF_LANES, sizeof(*ends));
	if (!ends)
		return -ENOMEM;
	meta(p, PF_TRIALS_PID, 0, "process_name", "Trials (marks)");
	json_array_foreach(arr, k, t) {
		double a = jd(t, "start_unix"), b = jd(t, "end_unix");
		json_t *args = json_deep_copy(t);

		json_object_del(args, "tasks");
		if (!isnan(a) && !isnan(b))
			slice(p, PF_TRIALS_PID, 1 + lane(tends, a, b),
			      js(t, "id"), "trial", a, b, args);
		else
			json_decref(args);
		hidden += tasks(p, s, t, ends);
	}
	for (i = 0; i < PF_LANES && tends[i] > 0; i++)
		;
	for (n = i, i = 0; i < n; i++)
		meta(p, PF_TRIALS_PID, i + 1, "thread_name", "trials");
	for (i = 0; i < s->n_rows * PF_LANES; i++)
		if (ends[i] > 0)
			meta(p, p->pid[i / PF_LANES],
			     PF_TID_TASK + i % PF_LANES, "thread_name",
			     "tasks (marks)");
	free(ends);
	return hidden;
}

/* Real pids, unless two listed processes share one (pid reuse). */
static int assign_pids(struct pf *p, const struct xseries *s)
{
	int i, j;

	p->pid = calloc(s->n_rows + 1, sizeof(int));
	if (!p->pid)
		return -ENOMEM;
	for (i = 0; i < s->n_rows; i++) {
		p->pid[i] = s->rows[i].p->pid;
		for (j = 0; j < i; j++)
			if (p->pid[j] == p->pid[i])
				p->pid[i] = 2000000000 + i;
	}
	return 0;
}

static void processes(struct pf *p, const struct xseries *s)
{
	char name[160];
	int r;

	for (r = 0; r < s->n_rows; r++) {
		const struct mproc *q = s->rows[r].p;

		snprintf(name, sizeof(name), "%s (%s)", q->name,
			 role_name(q->role));
		meta(p, p->pid[r], 0, "process_name", name);
		emit(p, json_pack("{s:s, s:s, s:i, s:i, s:f, s:{s:i}}", "ph",
				  "M", "name", "process_sort_index", "pid",
				  p->pid[r], "tid", 0, "ts", 0.0, "args",
				  "sort_index", r));
		meta(p, p->pid[r], PF_TID_XFER, "thread_name",
		     "sent to workers");
		meta(p, p->pid[r], PF_TID_RECV, "thread_name",
		     "received from workers");
		counters(p, s, r);
	}
}

/*
 * On-CPU stints of detailed processes (record --detail): "X" events on
 * each thread's own track (tid = the thread's tid, named by its comm).
 */
static void on_cpu(struct pf *p, const struct export_doc *d)
{
	const struct xseries *s = d->s;
	struct hmap *named = hmap__new();
	char name[48];
	int i;

	for (i = 0; i < s->n_slices; i++) {
		const struct xs_slice *x = &s->slices[i];
		__u64 key = hkey2(x->row, x->tid);

		if (named && !hmap__get(named, key)) {
			const struct mthread *t = NULL;
			int k;

			for (k = 0; k < d->m->n_threads && !t; k++)
				if (d->m->threads[k]->tid == x->tid &&
				    d->m->threads[k]->proc == s->rows[x->row].p)
					t = d->m->threads[k];
			snprintf(name, sizeof(name), "%s %u (on CPU)",
				 t ? t->comm : "thread", x->tid);
			meta(p, p->pid[x->row], x->tid, "thread_name", name);
			hmap__put(named, key, (void *)1);
		}
		slice(p, p->pid[x->row], x->tid, "on CPU", "cpu", x->t0,
		      x->t0 + x->dur, NULL);
	}
	hmap__free(named);
}

int export_perfetto__write(FILE *f, const struct export_doc *d)
{
	const json_t *tr = json_object_get(d->root, "trace");
	struct pf p = { .f = f, .t0 = jd(tr, "start_unix") };
	int shown, hidden = 0;

	if (isnan(p.t0) || (d->s->n_bins && d->s->lo[0] < p.t0))
		p.t0 = d->s->n_bins ? d->s->lo[0] : 0;
	if (assign_pids(&p, d->s))
		return -ENOMEM;
	fputs("{\"displayTimeUnit\":\"ms\",\"traceEvents\":[", f);
	processes(&p, d->s);
	on_cpu(&p, d);
	shown = transfers(&p, d->s);
	if (json_object_get(d->root, "trials"))
		hidden = trials(&p, d->s, json_object_get(d->root, "trials"));
	fprintf(f, "\n],\"otherData\":{\"source\":\"xfertrace\",\"t0_unix\":%.9f,\"flows_shown\":%d,\"flows_total\":%d,\"tasks_not_shown\":%d,\"oncpu_slices\":%d,\"oncpu_slices_not_shown\":%llu}}\n",
		p.t0, shown, d->s->n_pairs, hidden, d->s->n_slices,
		(unsigned long long)d->s->slices_dropped);
	free(p.pid);
	return shown < 0 || hidden < 0 ? -ENOMEM : ferror(f) ? -EIO : 0;
}
