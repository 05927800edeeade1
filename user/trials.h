/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * Per-trial transfer-against-compute attribution (docs/attribution.md).
 *
 * Marks (the workload's SIM_TIMING / AGG_TIMING / TRIAL_BEGIN / TRIAL_END
 * lines, from a log file or from the trace's live MARK records) say which
 * task of which trial ran on which Dask worker and when. A second pass over
 * the trace gives, per harvest interval ("bin"), the bytes each worker
 * received from each other worker and the CPU of each worker's threads.
 * Those measured quantities are shared out to trials; whatever cannot be
 * shared goes to `unattributed`, so totals are conserved exactly.
 *
 * trials.c: marks intake, trial and task assembly, public API
 * trials_attr.c: trace series and the sharing rules
 * trials_out.c: JSON, text, diagnostics and the verdict
 * compare.c: `report --compare A B`
 */
#ifndef XT_TRIALS_H
#define XT_TRIALS_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <jansson.h>
#include "marks.h"
#include "model.h"

/* Clock slack around mark times: NTP skew between machines. */
#define TRIALS_SLACK_NS		5000000LL		/* 5 ms */
/* A mark this far outside the trace has a wrong clock or another run. */
#define TRIALS_OUTSIDE_NS	1000000000LL		/* 1 s */
/* Problem lines kept for the report (all are counted). */
#define TRIALS_PROBLEMS_MAX	50
/*
 * Bytes a fetch may take beyond the inputs' claimed size (framing, pickle
 * headers): twice the run's typical overhead ratio (its 25th percentile
 * over fetches, learnt in a first pass) plus this margin, plus a little
 * per remote object.
 */
#define TRIALS_OVERHEAD_MARGIN	0.005
#define TRIALS_OVERHEAD_OBJ	256

struct trials_opts {
	const char *marks_path;	/* log file or "-"; NULL: live MARK records */
	__s64 slack_ns;		/* 0: TRIALS_SLACK_NS */
};

struct trials;

/* Names to indexes: open addressing, 4 bytes a slot (index + 1; 0 free). */
struct tr_sidx {
	int *slot;
	size_t cap, n;
};

/* Marks given or live marks in the trace: is there anything to do? */
bool trials__wanted(const struct model *m, const struct trials_opts *o);
/*
 * Read the marks, re-read the trace at trace_path for the time series and
 * attribute. m is report__load()'s model of the same file. Prints its own
 * errors; returns 0 or a negative errno (marks file unreadable).
 */
int trials__analyze(const char *trace_path, const struct model *m,
		    const struct trials_opts *o, struct trials **out);
/*
 * Add "trials", "diagnostics" and "marks" to a report__json() root.
 * -EINVAL if a part could not be built (the caller reports it).
 */
int trials__add_json(const struct trials *t, json_t *root);
/* The per-trial table, diagnostics and verdict, after the base report. */
void trials__print(const struct trials *t, FILE *f);
void trials__free(struct trials *t);

/* Run-level figures, for --compare. */
struct trials_summary {
	int n_trials;		/* trials with timing */
	double window_s;	/* first trial start to last trial end */
	double trials_per_min;
	double bytes_per_trial;
	double transfer_share;	/* sum transfer_ns / sum wall_ns */
	double split_rate;	/* -1: no trial had an aggregation */
	double dup_factor;	/* -1: unknown */
	double unattributed_share;
	bool transfer_dominates;
};
void trials__summary(const struct trials *t, struct trials_summary *s);
const char *trials__verdict(const struct trials *t);

/* `report --compare A B [--marks-a F] [--marks-b F]`. Exit status. */
int trials__compare(const char *a, const char *b,
		    const struct trials_opts *oa,
		    const struct trials_opts *ob, bool json);

/* ---- internal: shared by trials*.c and compare.c ---- */

struct tr_problem {
	__u64 line;		/* line in the marks file, or mark number */
	char reason[XT_MARK_ERR_MAX + 64];
};

struct tr_task {
	__u32 kind;		/* XT_MARK_SIM or XT_MARK_AGG */
	int trial;
	int worker;		/* index in workers[] */
	bool timed;		/* end time known and inside the trace */
	bool cpu_ok;		/* window usable for CPU sharing */
	__s64 start, end;	/* trace monotonic ns */
	__u64 dur_ns;
	double dur_ms;
	__u64 seed;
	const char *target;
	__u32 n_inputs;		/* AGG: n_sim_returns */
	__u32 n_outputs;	/* AGG: outputs per input */
	double claimed_bytes;	/* AGG: total_inline_mb * 1e6 */
	__u32 local_inputs;	/* AGG: sims of the trial on its worker */
	int demand;		/* AGG: index in demands[], -1 */
	__u64 line;
	/* results */
	__u64 cpu_ns, comm_cpu_ns;
	bool cpu_exact;		/* every bin it overlaps had slices */
};

enum tr_mode {
	TR_NONE = 0,		/* no usable times: nothing attributed */
	TR_TASK,		/* SIM/AGG lines with times */
	TR_TRIAL,		/* TRIAL_BEGIN/END only */
};

/* Strings of trials, tasks and workers live in t->pool (tr_strdup). */
struct tr_trial {
	const char *id;
	const char *param_id;
	const char *run_id;		/* "" if none */
	bool has_begin, has_end, timed;
	__s64 begin, end;	/* as logged, when has_begin/has_end */
	__s64 t0, t1;		/* effective span */
	int n_sims, n_aggs, n_agg_workers;
	bool split;
	enum tr_mode mode;
	bool partial;		/* span not wholly inside the trace */
	bool dropped;		/* every timed mark was outside the trace */
	int n_in_trace, n_outside;	/* its timed marks */
	double unique_bytes;	/* result bytes, each counted once */
	double need_bytes;	/* what the marks say had to move */
	int *tasks;
	int n_tasks;
	int next;		/* next instance of the same param_id */
	int last, n_inst;	/* on the first instance: the latest, count */
	/* results */
	__u64 compute_ns, comm_ns, bytes, transfer_ns;
};

struct tr_bin_series {		/* per bin, for a worker seen locally */
	__u64 cpu_main, cpu_other, runq, active, io;
};

struct tr_worker {
	const char *name;
	const struct mproc *proc;	/* local process, or NULL */
	bool from_marks;
	bool have_active;		/* PROC_DELTA records seen */
	struct tr_bin_series *s;	/* n_bins, NULL if not local */
	/* per bin (only for local workers and those that received bytes),
	 * what task-level sharing left for the trial level */
	__u64 *left_bytes, *left_compute, *left_comm;
	/* per bin, the burst-active time to share and the bytes it covers */
	__u64 *xfer_pool, *xfer_den;
	/* window totals */
	__u64 w_cpu, w_compute, w_comm, w_runq, w_active, w_rx_w2w;
};

struct tr_sample {		/* bytes src -> dst within one bin */
	int bin, src, dst;
	__u64 bytes;		/* worker-to-worker bytes */
	__u64 active_ns;	/* the connections' burst-active time */
	__u64 conn_bytes;	/* all bytes on those connections */
	__u64 left;		/* scratch: not yet shared */
};

struct tr_need {		/* a fetch's need from one source worker */
	int worker;
	__u64 need, rem;
};

struct tr_demand {		/* one trial's fetch into one worker */
	int trial, worker;
	__s64 a, b;		/* fetch window: last sim end .. agg start */
	struct tr_need *from;	/* sorted by worker; n_workers: unknown */
	int n_from;
	__u64 need, rem;
	__u64 allow;		/* overhead still allowed beyond the need */
	__u32 remote;		/* inputs computed elsewhere */
	double per_input;	/* claimed bytes per input */
	__u64 got, got_need, transfer_ns, bin_got;
	int n_aggs;
	double claimed_bytes;	/* largest claim among its aggregations */
};

struct tr_marks_info {
	const char *source;	/* "file" or "trace" */
	char path[256];
	__u64 lines, marks, ignored, bad, bad_dropped;
	__u64 outside, untimed, clipped, implausible, used;
	__u64 end_before_begin;	/* TRIAL_END seen before its TRIAL_BEGIN */
	__u64 trials_outside;
	struct tr_problem *problems;
	int n_problems;
	__u64 problems_dropped;
};

struct trials {
	const struct model *m;
	__s64 off;			/* unix ns = mono ns + off */
	__s64 slack;
	__s64 span0, span1;		/* trace span, monotonic */
	struct tr_marks_info mi;
	struct tr_trial *trials;
	int n_trials;
	struct tr_task *tasks;
	int n_tasks;
	struct tr_worker *workers;
	int n_workers;
	struct tr_sidx w_idx;		/* workers by name */
	struct tr_pool *pool;		/* the strings above */
	int *task_idx;			/* backs each trial's tasks[] */
	__s64 *bin_lo, *bin_hi;
	int n_bins;
	struct tr_sample *samples;
	int n_samples;
	struct tr_demand *demands;
	int n_demands;
	/* window and conservation */
	bool have_window;
	__s64 w0, w1;
	int win_lo, win_hi;
	__u64 w_bytes, w_cpu, w_compute, w_comm, w_runq;
	__u64 a_bytes, a_compute, a_comm;	/* attributed */
	__u64 un_bytes, un_compute, un_comm;	/* unattributed */
	__u64 burst_gap_ns;
	double overhead_ratio;		/* wire bytes / claimed - 1, typical */
	double fit_frac;		/* overhead tolerated when fitting */
	int n_task_level, n_trial_level, n_untimed;
	char verdict[512];
	void *priv;
	struct tr_slices *sl;		/* on-CPU slices, while attributing */
	/*
	 * Per bin, while attributing: when the bytes it holds may have
	 * started to arrive, the previous harvest's first socket read
	 * (earlier than bin_lo when a harvest is slow).
	 */
	__s64 *bytes_lo;
	__u64 n_slices;
};

/*
 * Times from marks and headers can be anything (a crafted file): sums and
 * differences of nanosecond times saturate instead of overflowing.
 */
static inline __s64 tr_add(__s64 a, __s64 b)
{
	__s64 r;

	if (__builtin_add_overflow(a, b, &r))
		return b > 0 ? INT64_MAX : INT64_MIN;
	return r;
}

static inline __s64 tr_sub(__s64 a, __s64 b)
{
	__s64 r;

	if (__builtin_sub_overflow(a, b, &r))
		return b < 0 ? INT64_MAX : INT64_MIN;
	return r;
}

/* trials.c */
const char *tr_strdup(struct trials *t, const char *s);
int tr_worker_get(struct trials *t, const char *name, bool from_marks);
int tr_worker_find(const struct trials *t, const char *name);
void tr_problem(struct tr_marks_info *mi, __u64 line, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
void tr_split_int(__u64 total, const double *w, int n, __u64 *out);
double tr_percentile(double *v, int n, double p);
int *tr_task_workers(const struct trials *t, const struct tr_trial *tr,
		     __u32 kind, int *n);
int tr_count_sorted(const int *v, int n, int x);
/* trials_attr.c */
int tr_attribute(struct trials *t, const char *trace_path);
/* trials_slices.c: exact CPU from on-CPU slices */
int tr_slices_load(struct trials *t, const char *trace_path);
bool tr_slices_exact(const struct trials *t, int w, int bin);
__u64 tr_slices_cpu(const struct trials *t, int w, __s64 lo, __s64 hi,
		    bool main);
__u64 tr_slices_task_cpu(const struct trials *t, int w, __s64 k0, __s64 k1,
			 __s64 lo, __s64 hi);
__u64 tr_slices_count(const struct trials *t);
void tr_slices_free(struct trials *t);
/* trials_out.c */
void tr_finish(struct trials *t);

#endif
