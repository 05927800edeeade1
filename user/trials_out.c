// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * Trials output: the `trials`, `diagnostics` and `marks` JSON fields, the
 * text tables and the verdict. Field list in docs/attribution.md.
 */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "fmt.h"
#include "trials.h"
#include "util.h"

struct tr_diag {
	int n_timed, n_split, n_with_agg;
	double sim_p50, sim_p95, agg_p50, agg_p95;		/* ms */
	double sim_cpu_p50, sim_cpu_p95, agg_cpu_p50, agg_cpu_p95; /* ms */
	double pay_p50, pay_p95, claim_p50, claim_p95;		/* bytes */
	double pay_over_claim;
	double split_rate, locality;
	__u64 local, inputs;
	double dup;
	__u64 xfer, compute, comm, wall, bytes;
	double transfer_share, un_share, un_cpu_share, runq_share;
};



static double unix_s(const struct trials *t, __s64 mono)
{
	__s64 u;

	/* A crafted header's offset can be anything. */
	if (__builtin_add_overflow(mono, t->off, &u))
		return ((double)mono + (double)t->off) / 1e9;
	return (double)u / 1e9;
}

static bool trial_counts(const struct tr_trial *tr)
{
	return tr->timed && !tr->dropped;
}

static __u64 trial_wall(const struct tr_trial *tr)
{
	return tr->t1 > tr->t0 ? (__u64)(tr->t1 - tr->t0) : 0;
}

/* p50 and p95 of the tasks of one kind: marks' duration or kernel CPU. */
static void task_pcts(const struct trials *t, __u32 kind, bool cpu,
		      double *p50, double *p95)
{
	double *v = calloc(t->n_tasks + 1, sizeof(*v));
	int i, n = 0;

	*p50 = *p95 = NAN;
	if (!v)
		return;
	for (i = 0; i < t->n_tasks; i++) {
		const struct tr_task *k = &t->tasks[i];

		if (k->kind != kind || t->trials[k->trial].dropped)
			continue;
		if (cpu && !(k->cpu_ok && t->have_window))
			continue;
		v[n++] = cpu ? k->cpu_ns / 1e6 : k->dur_ms;
	}
	if (n) {
		*p50 = tr_percentile(v, n, 50);
		*p95 = tr_percentile(v, n, 95);
	}
	free(v);
}

static void payload_pcts(const struct trials *t, struct tr_diag *d)
{
	double *v = calloc(t->n_demands + 1, sizeof(*v));
	double *c = calloc(t->n_tasks + 1, sizeof(*c));
	double got = 0, claimed = 0;
	int i, n = 0, nc = 0;

	d->pay_p50 = d->pay_p95 = d->claim_p50 = d->claim_p95 = NAN;
	d->pay_over_claim = NAN;
	if (!v || !c)
		goto out;
	for (i = 0; i < t->n_demands && t->have_window; i++) {
		v[n++] = (double)t->demands[i].got;
		got += t->demands[i].got;
		claimed += t->demands[i].claimed_bytes;
	}
	for (i = 0; i < t->n_tasks; i++)
		if (t->tasks[i].kind == XT_MARK_AGG &&
		    !t->trials[t->tasks[i].trial].dropped)
			c[nc++] = t->tasks[i].claimed_bytes;
	if (n) {
		d->pay_p50 = tr_percentile(v, n, 50);
		d->pay_p95 = tr_percentile(v, n, 95);
		d->pay_over_claim = fmt_ratio(got, claimed);
	}
	if (nc) {
		d->claim_p50 = tr_percentile(c, nc, 50);
		d->claim_p95 = tr_percentile(c, nc, 95);
	}
out:
	free(v);
	free(c);
}

static void diag_compute(const struct trials *t, struct tr_diag *d)
{
	double uniq = 0, moved = 0;
	__u64 runq = 0, cpu = 0;
	int i;

	memset(d, 0, sizeof(*d));
	task_pcts(t, XT_MARK_SIM, false, &d->sim_p50, &d->sim_p95);
	task_pcts(t, XT_MARK_AGG, false, &d->agg_p50, &d->agg_p95);
	task_pcts(t, XT_MARK_SIM, true, &d->sim_cpu_p50, &d->sim_cpu_p95);
	task_pcts(t, XT_MARK_AGG, true, &d->agg_cpu_p50, &d->agg_cpu_p95);
	payload_pcts(t, d);
	for (i = 0; i < t->n_tasks; i++) {
		const struct tr_task *k = &t->tasks[i];

		if (k->kind != XT_MARK_AGG || t->trials[k->trial].dropped)
			continue;
		d->local += k->local_inputs;
		d->inputs += k->n_inputs ? k->n_inputs : k->local_inputs;
	}
	for (i = 0; i < t->n_trials; i++) {
		const struct tr_trial *tr = &t->trials[i];

		if (tr->dropped)
			continue;
		if (tr->n_aggs) {
			d->n_with_agg++;
			d->n_split += tr->split;
		}
		if (!trial_counts(tr))
			continue;
		d->n_timed++;
		d->xfer += tr->transfer_ns;
		d->compute += tr->compute_ns;
		d->comm += tr->comm_ns;
		d->wall += trial_wall(tr);
		d->bytes += tr->bytes;
		if (tr->unique_bytes > 0 && t->have_window) {
			uniq += tr->unique_bytes;
			moved += tr->bytes;
		}
	}
	for (i = 0; i < t->n_workers; i++) {
		runq += t->workers[i].w_runq;
		cpu += t->workers[i].w_cpu;
	}
	d->split_rate = d->n_with_agg ? (double)d->n_split / d->n_with_agg :
		       NAN;
	d->locality = fmt_ratio(d->local, d->inputs);
	d->dup = fmt_ratio(moved, uniq);
	d->transfer_share = fmt_ratio(d->xfer, d->wall);
	d->un_share = fmt_ratio(t->un_bytes, t->w_bytes);
	d->un_cpu_share = fmt_ratio(t->un_compute + t->un_comm, t->w_cpu);
	d->runq_share = fmt_ratio(runq, runq + cpu);
}

static void pct(char *buf, size_t n, double v)
{
	if (isnan(v))
		snprintf(buf, n, "-");
	else if (v > 0 && v < 0.1)
		snprintf(buf, n, "%.1f%%", v * 100);
	else
		snprintf(buf, n, "%.0f%%", v * 100);
}

/* Share of CFS periods in which the workers' cgroups were throttled. */
static bool throttled_share(const struct trials *t, double *share)
{
	__u64 periods = 0, throttled = 0;
	int i;

	for (i = 0; i < t->n_workers; i++) {
		const struct mproc *p = t->workers[i].proc;

		if (!p || !p->have_cg || p->cg_quota_us <= 0)
			continue;
		periods += p->cg_periods - p->cg0_periods;
		throttled += p->cg_throttled - p->cg0_throttled;
	}
	if (!periods || !throttled)
		return false;
	*share = (double)throttled / periods;
	return true;
}

static void make_verdict(struct trials *t, const struct tr_diag *d)
{
	char *v = t->verdict, sh[16], sp[16], lo[16], un[16];
	double thr;
	size_t n = sizeof(t->verdict), len;

	if (!d->n_timed || !t->have_window) {
		snprintf(v, n, "no timed trial marks inside the trace: cannot weigh transfer against compute");
		return;
	}
	pct(sh, sizeof(sh), d->transfer_share);
	pct(sp, sizeof(sp), d->split_rate);
	pct(lo, sizeof(lo), d->locality);
	pct(un, sizeof(un), d->un_share);
	len = snprintf(v, n,
		       "%s: aggregation transfer is %s of trial wall time (transfer %.3f s against compute CPU %.3f s over %d trials)",
		       d->xfer > d->compute ? "transfer dominates" :
		       "compute dominates", sh, d->xfer / 1e9,
		       d->compute / 1e9, d->n_timed);
	if (!isnan(d->dup) && len < n)
		len += snprintf(v + len, n - len,
				"; the aggregations move the data %.2fx",
				d->dup);
	if (!isnan(d->split_rate) && len < n)
		len += snprintf(v + len, n - len,
				"; %s of trials split, %s of inputs already local",
				sp, lo);
	if (!isnan(d->runq_share) && d->runq_share > 0.25 && len < n)
		len += snprintf(v + len, n - len,
				"; workers waited for a CPU %.0f%% of their runnable time (CPU contention)",
				d->runq_share * 100);
	if (throttled_share(t, &thr) && len < n)
		len += snprintf(v + len, n - len,
				"; workers' cgroups were CPU-throttled in %.0f%% of periods",
				thr * 100);
	if (len < n)
		snprintf(v + len, n - len,
			 "; %s of worker-to-worker bytes unattributed", un);
}

void tr_finish(struct trials *t)
{
	struct tr_diag d;
	int i;

	for (i = 0; i < t->n_trials; i++) {
		const struct tr_trial *tr = &t->trials[i];

		if (tr->dropped)
			continue;
		if (tr->mode == TR_TASK)
			t->n_task_level++;
		else if (tr->mode == TR_TRIAL)
			t->n_trial_level++;
		else
			t->n_untimed++;
	}
	diag_compute(t, &d);
	make_verdict(t, &d);
}

const char *trials__verdict(const struct trials *t)
{
	return t->verdict;
}

void trials__summary(const struct trials *t, struct trials_summary *s)
{
	struct tr_diag d;
	__s64 lo = 0, hi = 0;
	bool any = false;
	int i;

	diag_compute(t, &d);
	memset(s, 0, sizeof(*s));
	for (i = 0; i < t->n_trials; i++) {
		const struct tr_trial *tr = &t->trials[i];

		if (!trial_counts(tr))
			continue;
		if (!any || tr->t0 < lo)
			lo = tr->t0;
		if (!any || tr->t1 > hi)
			hi = tr->t1;
		any = true;
	}
	s->n_trials = d.n_timed;
	s->window_s = any ? (hi - lo) / 1e9 : 0;
	s->trials_per_min = s->window_s > 0 ? d.n_timed * 60.0 / s->window_s :
			    NAN;
	s->bytes_per_trial = d.n_timed && t->have_window ?
			     (double)d.bytes / d.n_timed : NAN;
	s->transfer_share = d.transfer_share;
	s->split_rate = d.split_rate;
	s->dup_factor = d.dup;
	s->unattributed_share = d.un_share;
	s->transfer_dominates = d.xfer > d.compute;
}

/* ---- JSON ---- */

/* o, or NULL (and o freed) if a part of it failed to build. */
static json_t *json_or_null(json_t *o, int bad)
{
	if (bad) {
		json_decref(o);
		return NULL;
	}
	return o;
}

static const char *kind_name(__u32 kind)
{
	return kind == XT_MARK_SIM ? "sim" : "agg";
}

static const char *mode_name(enum tr_mode m)
{
	return m == TR_TASK ? "task" : m == TR_TRIAL ? "trial" : "none";
}

static json_t *task_json(const struct trials *t, const struct tr_task *k)
{
	const struct tr_demand *d = k->demand >= 0 ? &t->demands[k->demand] :
				    NULL;
	bool have = t->have_window;
	json_t *o;

	int bad = 0;

	o = json_pack("{s:s, s:o, s:o, s:o, s:I, s:o, s:o, s:I, s:I, s:I, s:b, s:I}",
		      "kind", kind_name(k->kind),
		      "worker", json_str(t->workers[k->worker].name),
		      "start_unix", k->timed ? json_real(unix_s(t, k->start)) :
		      json_null(),
		      "end_unix", k->timed ? json_real(unix_s(t, k->end)) :
		      json_null(),
		      "duration_ns", (json_int_t)k->dur_ns,
		      "cpu_ns", k->cpu_ok && have ?
		      json_integer(k->cpu_ns) : json_null(),
		      "comm_cpu_ns", k->cpu_ok && have ?
		      json_integer(k->comm_cpu_ns) : json_null(),
		      "in_bytes", (json_int_t)(d ? d->got : 0),
		      "in_shared", (json_int_t)(d ? d->n_aggs : 0),
		      "transfer_ns", (json_int_t)(d ? d->transfer_ns : 0),
		      "timed", k->timed,
		      "line", (json_int_t)k->line);
	if (k->kind == XT_MARK_SIM) {
		bad |= json_object_set_new(o, "seed", json_integer(k->seed));
	} else {
		bad |= json_object_set_new(o, "target", json_str(k->target));
		bad |= json_object_set_new(o, "n_inputs",
					   json_integer(k->n_inputs));
		bad |= json_object_set_new(o, "local_inputs",
					   json_integer(k->local_inputs));
		bad |= json_object_set_new(o, "claimed_bytes",
					   json_integer((json_int_t)
							llround(k->claimed_bytes)));
		bad |= json_object_set_new(o, "need_bytes",
					   json_integer(d ? d->need : 0));
	}
	bad |= json_object_set_new(o, "cpu_exact", k->cpu_ok && have ?
				   json_boolean(k->cpu_exact) : json_null());
	return json_or_null(o, bad);
}

/* Share of the tasks with a CPU figure whose CPU came from slices. */
static double exact_share(const struct trials *t, int *n_exact, int *n_all)
{
	int i;

	*n_exact = *n_all = 0;
	for (i = 0; t->have_window && i < t->n_tasks; i++) {
		const struct tr_task *k = &t->tasks[i];

		if (!k->cpu_ok || t->trials[k->trial].dropped)
			continue;
		++*n_all;
		*n_exact += k->cpu_exact;
	}
	return *n_all ? (double)*n_exact / *n_all : NAN;
}

static json_t *trial_json(const struct trials *t, const struct tr_trial *tr)
{
	bool timed = trial_counts(tr), have = t->have_window && timed;
	__u64 wall = trial_wall(tr);
	json_t *tasks = json_array(), *o;
	int i, bad = !tasks;

	for (i = 0; i < tr->n_tasks && !bad; i++)
		bad |= json_array_append_new(tasks,
				task_json(t, &t->tasks[tr->tasks[i]]));
	o = json_pack("{s:o, s:o, s:s, s:o, s:o, s:o, s:i, s:i, s:o, s:o, s:o, s:o, s:o, s:b, s:o}",
		      "id", json_str(tr->id), "param_id", json_str(tr->param_id),
		      "attribution", have ? mode_name(tr->mode) : "none",
		      "start_unix", timed ? json_real(unix_s(t, tr->t0)) :
		      json_null(),
		      "end_unix", timed ? json_real(unix_s(t, tr->t1)) :
		      json_null(),
		      "wall_ns", timed ? json_integer(wall) : json_null(),
		      "n_sims", tr->n_sims, "n_aggs", tr->n_aggs,
		      "compute_cpu_ns", have ? json_integer(tr->compute_ns) :
		      json_null(),
		      "comm_cpu_ns", have ? json_integer(tr->comm_ns) :
		      json_null(),
		      "transfer_bytes", have ? json_integer(tr->bytes) :
		      json_null(),
		      "transfer_ns", have ? json_integer(tr->transfer_ns) :
		      json_null(),
		      "transfer_share", have ? fmt_jnum(fmt_ratio(tr->transfer_ns, wall)) :
		      json_null(),
		      "split", tr->split,
		      "dup_factor", have ? fmt_jnum(fmt_ratio(tr->bytes,
						     tr->unique_bytes)) :
		      json_null());
	bad |= json_object_set_new(o, "agg_workers", json_integer(tr->n_agg_workers));
	bad |= json_object_set_new(o, "unique_bytes",
			    json_integer((json_int_t)llround(tr->unique_bytes)));
	bad |= json_object_set_new(o, "need_bytes",
			    json_integer((json_int_t)llround(tr->need_bytes)));
	bad |= json_object_set_new(o, "has_begin", json_boolean(tr->has_begin));
	bad |= json_object_set_new(o, "has_end", json_boolean(tr->has_end));
	bad |= json_object_set_new(o, "partial", json_boolean(tr->partial));
	if (tr->run_id[0])
		bad |= json_object_set_new(o, "run_id", json_str(tr->run_id));
	if (bad) {
		json_decref(tasks);
		json_decref(o);
		return NULL;
	}
	return json_or_null(o, json_object_set_new(o, "tasks", tasks));
}

/* cgroup cpu.stat throttled time over the trace, when it was readable. */
static json_t *throttled_json(const struct tr_worker *w)
{
	const struct mproc *p = w->proc;

	if (!p || !p->have_cg)
		return json_null();
	return json_integer(p->cg_throttled_ns - p->cg0_throttled_ns);
}

static json_t *workers_json(const struct trials *t)
{
	json_t *arr = json_array();
	int i, bad = !arr;

	for (i = 0; i < t->n_workers && !bad; i++) {
		const struct tr_worker *w = &t->workers[i];
		bool loc = w->proc && t->have_window;

		bad |= json_array_append_new(arr, json_pack(
			"{s:o, s:b, s:o, s:o, s:o, s:o, s:o, s:o, s:s, s:I, s:o}",
			"endpoint", json_str(w->name), "local", w->proc != NULL,
			"cpu_ns", loc ? json_integer(w->w_cpu) : json_null(),
			"compute_cpu_ns", loc ? json_integer(w->w_compute) :
			json_null(),
			"comm_cpu_ns", loc ? json_integer(w->w_comm) :
			json_null(),
			"runq_wait_ns", loc ? json_integer(w->w_runq) :
			json_null(),
			"runq_share", loc ? fmt_jnum(fmt_ratio(w->w_runq,
						       w->w_runq + w->w_cpu)) :
			json_null(),
			"throttled_ns", throttled_json(w),
			"throttle_source", w->proc && w->proc->have_cg ?
			"cgroup" : "runq",
			"rx_worker_bytes", (json_int_t)w->w_rx_w2w,
			"transfer_active_ns", loc && w->have_active ?
			json_integer(w->w_active) : json_null()));
	}
	return json_or_null(arr, bad);
}

static json_t *window_json(const struct trials *t)
{
	if (!t->have_window)
		return json_null();
	return json_pack("{s:f, s:f, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I}",
			 "start_unix", unix_s(t, t->bin_lo[t->win_lo]),
			 "end_unix", unix_s(t, t->bin_hi[t->win_hi]),
			 "bins", (json_int_t)(t->win_hi - t->win_lo + 1),
			 "worker_bytes", (json_int_t)t->w_bytes,
			 "attributed_bytes", (json_int_t)t->a_bytes,
			 "unattributed_bytes", (json_int_t)t->un_bytes,
			 "worker_cpu_ns", (json_int_t)t->w_cpu,
			 "compute_cpu_ns", (json_int_t)t->w_compute,
			 "comm_cpu_ns", (json_int_t)t->w_comm,
			 "attributed_compute_ns", (json_int_t)t->a_compute,
			 "attributed_comm_ns", (json_int_t)t->a_comm,
			 "unattributed_compute_ns", (json_int_t)t->un_compute,
			 "unattributed_comm_ns", (json_int_t)t->un_comm);
}

static json_t *diag_json(const struct trials *t)
{
	struct tr_diag d;
	json_t *o;
	int bad = 0, i, k;

	diag_compute(t, &d);
	o = json_pack("{s:i, s:i, s:i, s:i, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o}",
		      "trials", d.n_timed, "task_level", t->n_task_level,
		      "trial_level", t->n_trial_level,
		      "untimed", t->n_untimed,
		      "sim_ms_p50", fmt_jnum(d.sim_p50),
		      "sim_ms_p95", fmt_jnum(d.sim_p95),
		      "agg_ms_p50", fmt_jnum(d.agg_p50),
		      "agg_ms_p95", fmt_jnum(d.agg_p95),
		      "sim_cpu_ms_p50", fmt_jnum(d.sim_cpu_p50),
		      "sim_cpu_ms_p95", fmt_jnum(d.sim_cpu_p95),
		      "agg_cpu_ms_p50", fmt_jnum(d.agg_cpu_p50),
		      "agg_cpu_ms_p95", fmt_jnum(d.agg_cpu_p95));
	bad |= json_object_set_new(o, "payload_per_agg_bytes_p50", fmt_jnum(d.pay_p50));
	bad |= json_object_set_new(o, "payload_per_agg_bytes_p95", fmt_jnum(d.pay_p95));
	bad |= json_object_set_new(o, "claimed_per_agg_bytes_p50",
			    fmt_jnum(d.claim_p50));
	bad |= json_object_set_new(o, "claimed_per_agg_bytes_p95",
			    fmt_jnum(d.claim_p95));
	bad |= json_object_set_new(o, "payload_over_claimed", fmt_jnum(d.pay_over_claim));
	bad |= json_object_set_new(o, "overhead_ratio", json_real(t->overhead_ratio));
	bad |= json_object_set_new(o, "split_rate", fmt_jnum(d.split_rate));
	bad |= json_object_set_new(o, "split_trials", json_integer(d.n_split));
	bad |= json_object_set_new(o, "trials_with_aggs", json_integer(d.n_with_agg));
	bad |= json_object_set_new(o, "locality", fmt_jnum(d.locality));
	bad |= json_object_set_new(o, "dup_factor", fmt_jnum(d.dup));
	bad |= json_object_set_new(o, "transfer_share", fmt_jnum(d.transfer_share));
	bad |= json_object_set_new(o, "transfer_ns", json_integer(d.xfer));
	bad |= json_object_set_new(o, "compute_cpu_ns", json_integer(d.compute));
	bad |= json_object_set_new(o, "comm_cpu_ns", json_integer(d.comm));
	bad |= json_object_set_new(o, "wall_ns", json_integer(d.wall));
	bad |= json_object_set_new(o, "transfer_bytes", json_integer(d.bytes));
	bad |= json_object_set_new(o, "unattributed_share", fmt_jnum(d.un_share));
	bad |= json_object_set_new(o, "unattributed_cpu_share",
			    fmt_jnum(d.un_cpu_share));
	bad |= json_object_set_new(o, "runq_share", fmt_jnum(d.runq_share));
	bad |= json_object_set_new(o, "cpu_exact_share",
				   fmt_jnum(exact_share(t, &i, &k)));
	bad |= json_object_set_new(o, "cpu_exact_tasks", json_integer(i));
	bad |= json_object_set_new(o, "slices", json_integer(t->n_slices));
	bad |= json_object_set_new(o, "burst_gap_ns", json_integer(t->burst_gap_ns));
	bad |= json_object_set_new(o, "slack_ns", json_integer(t->slack));
	bad |= json_object_set_new(o, "window", window_json(t));
	bad |= json_object_set_new(o, "workers", workers_json(t));
	bad |= json_object_set_new(o, "transfer_dominates",
			    json_boolean(d.n_timed && t->have_window &&
					 d.xfer > d.compute));
	bad |= json_object_set_new(o, "verdict", json_str(t->verdict));
	return json_or_null(o, bad);
}

static json_t *marks_json(const struct trials *t)
{
	const struct tr_marks_info *mi = &t->mi;
	json_t *pr = json_array(), *o;
	int i, bad = !pr;

	for (i = 0; i < mi->n_problems && !bad; i++)
		bad |= json_array_append_new(pr, json_pack("{s:I, s:o}",
			"line", (json_int_t)mi->problems[i].line,
			"reason", json_str(mi->problems[i].reason)));
	if (bad) {
		json_decref(pr);
		return NULL;
	}
	o = json_pack("{s:s, s:o, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:o, s:I}",
		      "source", mi->source ? mi->source : "trace",
		      "path", json_str(mi->path),
		      "lines", (json_int_t)mi->lines,
		      "marks", (json_int_t)mi->marks,
		      "ignored", (json_int_t)mi->ignored,
		      "bad", (json_int_t)mi->bad,
		      "outside_trace", (json_int_t)mi->outside,
		      "untimed", (json_int_t)mi->untimed,
		      "window_not_used", (json_int_t)mi->clipped,
		      "trials_outside_trace", (json_int_t)mi->trials_outside,
		      "implausible", (json_int_t)mi->implausible,
		      "rejected_live", (json_int_t)t->m->stats.u.marks_rejected,
		      "problems", pr,
		      "problems_not_listed",
		      (json_int_t)(mi->problems_dropped + mi->bad_dropped));
	if (o && json_object_set_new(o, "end_before_begin",
				     json_integer(mi->end_before_begin))) {
		json_decref(o);
		return NULL;
	}
	return o;
}

int trials__add_json(const struct trials *t, json_t *root)
{
	json_t *arr = json_array();
	int i, bad = !arr;

	for (i = 0; i < t->n_trials && !bad; i++)
		if (!t->trials[i].dropped)
			bad |= json_array_append_new(arr,
					trial_json(t, &t->trials[i]));
	if (bad) {
		json_decref(arr);
		arr = NULL;
	}
	bad |= json_object_set_new(root, "trials", arr);
	bad |= json_object_set_new(root, "diagnostics", diag_json(t));
	bad |= json_object_set_new(root, "marks", marks_json(t));
	return bad ? -EINVAL : 0;
}

/* ---- text ---- */

static void fmt_clock(char *buf, size_t n, double unix_s)
{
	time_t s = (time_t)unix_s;
	struct tm tm;

	gmtime_r(&s, &tm);
	snprintf(buf, n, "%02d:%02d:%06.3f", tm.tm_hour, tm.tm_min,
		 tm.tm_sec + (unix_s - (double)s));
}

static void fmt_ms(char *buf, size_t n, double v)
{
	if (isnan(v))
		snprintf(buf, n, "-");
	else
		snprintf(buf, n, "%.1f", v);
}

static void print_trial(FILE *f, const struct trials *t,
			const struct tr_trial *tr)
{
	char start[32] = "-", b[32], sh[16], dup[16];
	bool have = t->have_window && trial_counts(tr);
	__u64 wall = trial_wall(tr);

	if (trial_counts(tr))
		fmt_clock(start, sizeof(start), unix_s(t, tr->t0));
	fmt_bytes(b, sizeof(b), tr->bytes);
	pct(sh, sizeof(sh), have ? fmt_ratio(tr->transfer_ns, wall) : NAN);
	if (have && tr->unique_bytes > 0)
		snprintf(dup, sizeof(dup), "%.2f", tr->bytes / tr->unique_bytes);
	else
		snprintf(dup, sizeof(dup), "-");
	fprintf(f, "%-12s %-12s %8.3f %4d %4d %8.3f %8.3f %9s %8.2f %6s %-5s %5s %s\n",
		tr->id, start, trial_counts(tr) ? wall / 1e9 : 0.0,
		tr->n_sims, tr->n_aggs, tr->compute_ns / 1e9,
		tr->comm_ns / 1e9, have ? b : "-", tr->transfer_ns / 1e6, sh,
		tr->split ? "yes" : "no", dup,
		have ? mode_name(tr->mode) : "none");
}

static void print_diag(FILE *f, const struct trials *t)
{
	char a[4][16], p[4][32], sr[16], lo[16], un[16], uc[16];
	struct tr_diag d;
	int i, ne, na;

	diag_compute(t, &d);
	fmt_ms(a[0], 16, d.sim_p50);
	fmt_ms(a[1], 16, d.sim_p95);
	fmt_ms(a[2], 16, d.sim_cpu_p50);
	fmt_ms(a[3], 16, d.sim_cpu_p95);
	fprintf(f, "\nDIAGNOSTICS\n  sim duration p50/p95 %s/%s ms (marks); CPU p50/p95 %s/%s ms (kernel)\n",
		a[0], a[1], a[2], a[3]);
	fmt_ms(a[0], 16, d.agg_p50);
	fmt_ms(a[1], 16, d.agg_p95);
	fmt_ms(a[2], 16, d.agg_cpu_p50);
	fmt_ms(a[3], 16, d.agg_cpu_p95);
	fprintf(f, "  agg duration p50/p95 %s/%s ms (marks); CPU p50/p95 %s/%s ms (kernel)\n",
		a[0], a[1], a[2], a[3]);
	fmt_bytes(p[0], 32, isnan(d.pay_p50) ? 0 : d.pay_p50);
	fmt_bytes(p[1], 32, isnan(d.pay_p95) ? 0 : d.pay_p95);
	fmt_bytes(p[2], 32, isnan(d.claim_p50) ? 0 : d.claim_p50);
	fmt_bytes(p[3], 32, isnan(d.claim_p95) ? 0 : d.claim_p95);
	fprintf(f, "  payload per aggregation worker: in %s p50, %s p95 (measured) against total_inline %s p50, %s p95 (AGG lines)\n",
		p[0], p[1], p[2], p[3]);
	pct(sr, sizeof(sr), d.split_rate);
	pct(lo, sizeof(lo), d.locality);
	fprintf(f, "  split aggregations %s of trials (%d/%d); locality %s of inputs already on the aggregation's worker\n",
		sr, d.n_split, d.n_with_agg, lo);
	exact_share(t, &ne, &na);
	fprintf(f, "  task CPU exact (from on-CPU slices) for %d of %d tasks; the rest shared from harvest bins\n",
		ne, na);
	pct(un, sizeof(un), d.un_share);
	pct(uc, sizeof(uc), d.un_cpu_share);
	fprintf(f, "  unattributed: %s of worker-to-worker bytes, %s of worker CPU (window %.3f s)\n",
		un, uc, t->have_window ?
		(t->bin_hi[t->win_hi] - t->bin_lo[t->win_lo]) / 1e9 : 0.0);
	fprintf(f, "  CPU contention per worker (run-queue wait; cgroup CPU throttling where cpu.stat was readable):\n");
	for (i = 0; i < t->n_workers; i++) {
		const struct tr_worker *w = &t->workers[i];
		const struct mproc *p = w->proc;

		if (!p || !t->have_window)
			continue;
		pct(sr, sizeof(sr), fmt_ratio(w->w_runq, w->w_runq + w->w_cpu));
		fprintf(f, "    %-30s cpu %8.3f s  runq wait %8.3f s (%s of runnable time)",
			w->name, w->w_cpu / 1e9, w->w_runq / 1e9, sr);
		if (p->have_cg && p->cg_quota_us > 0 && p->cg_period_us)
			fprintf(f, "  throttled %.3f s in %llu of %llu periods (quota %.2f CPUs)",
				(p->cg_throttled_ns - p->cg0_throttled_ns) / 1e9,
				(unsigned long long)(p->cg_throttled - p->cg0_throttled),
				(unsigned long long)(p->cg_periods - p->cg0_periods),
				(double)p->cg_quota_us / p->cg_period_us);
		else if (p->have_cg)
			fprintf(f, "  no CPU quota");
		fputc('\n', f);
	}
}

static void print_marks(FILE *f, const struct trials *t)
{
	const struct tr_marks_info *mi = &t->mi;
	const char *what = mi->source && !strcmp(mi->source, "file") ?
			   "line" : "mark";
	int i, shown = mi->n_problems < 10 ? mi->n_problems : 10;
	__u64 more = mi->n_problems - shown + mi->problems_dropped +
		     mi->bad_dropped;

	fprintf(f, "\nMARKS from %s%s%s: %llu lines, %llu marks, %llu ignored, %llu bad, %llu outside the trace, %llu without time\n",
		mi->source ? mi->source : "trace", mi->path[0] ? " " : "",
		mi->path, (unsigned long long)mi->lines,
		(unsigned long long)mi->marks,
		(unsigned long long)mi->ignored, (unsigned long long)mi->bad,
		(unsigned long long)mi->outside,
		(unsigned long long)mi->untimed);
	for (i = 0; i < shown; i++)
		fprintf(f, "  %s:%llu: %s\n", what,
			(unsigned long long)mi->problems[i].line,
			mi->problems[i].reason);
	if (more)
		fprintf(f, "  ... %llu more (the JSON report lists the first %d)\n",
			(unsigned long long)more, TRIALS_PROBLEMS_MAX);
}

void trials__print(const struct trials *t, FILE *f)
{
	int i;

	fprintf(f, "\nTRIALS (%d task-level, %d trial-level, %d without times; times UTC; CPU in s)\n",
		t->n_task_level, t->n_trial_level, t->n_untimed);
	fprintf(f, "%-12s %-12s %8s %4s %4s %8s %8s %9s %8s %6s %-5s %5s %s\n",
		"TRIAL", "START", "WALL(s)", "SIMS", "AGGS", "COMPUTE", "COMM",
		"XFER", "XFER(ms)", "XFER%", "SPLIT", "DUP", "BY");
	for (i = 0; i < t->n_trials; i++)
		if (!t->trials[i].dropped)
			print_trial(f, t, &t->trials[i]);
	print_diag(f, t);
	print_marks(f, t);
	fprintf(f, "\nVERDICT: %s\n", t->verdict);
}
