/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * One frame of `xfertrace top`: rates computed from the model's window
 * fields, copied out so a frame outlives the model state it came from
 * (the TUI keeps showing it while paused). Plus the view (sort, filter)
 * shared by the TUI and the batch/JSON printers. See docs/top.md.
 */
#ifndef XT_TOP_FRAME_H
#define XT_TOP_FRAME_H

#include <stdbool.h>
#include <stdio.h>
#include <jansson.h>
#include "marks.h"
#include "model.h"

#define TOP_MAX_PORTS		8
#define TOP_ROLE_LEN		16
#define TOP_TRIAL_WORKERS	16
#define TOP_MAX_TRIALS		256
#define TOP_FILTER_LEN		64

/* Columns, in display order; also the sort keys (plus TOP_K_TOTAL). */
enum top_key {
	TOP_K_ENDPOINT,
	TOP_K_PID,
	TOP_K_ROLE,
	TOP_K_RX,
	TOP_K_TX,
	TOP_K_CPU,
	TOP_K_RUNQ,
	TOP_K_ACTIVE,
	TOP_K_CONNS,
	TOP_K_PEER,
	TOP_K_TOTAL,		/* rx + tx bytes per second; the default */
	TOP_K_N
};

struct top_row {
	char endpoint[XT_NAME_LEN];
	char peer[XT_NAME_LEN];		/* "" when no bytes in the window */
	char role[TOP_ROLE_LEN];
	char comm[XT_COMM_LEN];
	__u32 pid;
	__u32 ports[TOP_MAX_PORTS];	/* open listening ports */
	int n_ports;
	__u64 rx_bytes, tx_bytes, cpu_ns, runq_ns, active_ns;	/* window */
	double rx_bps, tx_bps, cpu_pct, runq_pct, active_pct;
	int conns;			/* live connections */
	bool gone;			/* went away during this window */
	bool kthread;
};

struct top_flow {
	char src[XT_NAME_LEN];
	char dst[XT_NAME_LEN];
	__u64 bytes;			/* in the window */
	double bps;
};

struct top_trial {
	char param_id[XT_MARK_ID_LEN];
	__u64 begin_ns;			/* monotonic, when TRIAL_BEGIN arrived */
	int n_sim, n_agg;
	int n_workers;
	char workers[TOP_TRIAL_WORKERS][XT_MARK_WORKER_LEN];
};

/* Active trials, followed incrementally over the model's live marks. */
struct top_trials {
	int next_mark;			/* first mark of m->marks not yet seen */
	__u64 n_marks;
	__u64 n_bad;			/* stored marks that did not parse */
	struct top_trial *v;
	int n;
};

struct top_frame {
	__u64 seq;
	__u64 end_mono_ns;
	__u64 time_wall_ns;		/* window end */
	__u64 window_ns;
	char host[64];
	char kernel[64];
	char hooks[96];			/* "tcp-bytes=tp_btf cpu=... tcp-state=..." */
	int ncpus;
	double rx_bps, tx_bps, cpu_pct, runq_pct;	/* all processes */
	int n_procs, n_conns;
	struct xt_stats k;
	struct xt_user_stats u;
	struct top_row *rows;		/* candidates (see top_frame__build) */
	int n_rows;
	struct top_flow *flows;		/* bytes moved in the window only */
	int n_flows;
	bool marks_on;
	__u64 n_marks;
	struct top_trial *trials;
	int n_trials;
};

struct top_build_opts {
	bool show_all;			/* -a: every process, idle ones too */
	bool marks_on;
};

enum top_filter_kind { TOP_F_NONE, TOP_F_TEXT, TOP_F_PORT, TOP_F_ROLE };

struct top_filter {
	enum top_filter_kind kind;
	char text[TOP_FILTER_LEN];	/* as typed */
	__u32 port;
};

struct top_view {
	enum top_key sort;
	bool reverse;			/* flip the key's natural order */
	struct top_filter filter;
	int max_rows;			/* 0: no limit */
};

/* Make a frame from a resolved model; the caller resets the window. */
int top_frame__build(struct top_frame *f, struct model *m,
		     const struct top_build_opts *o, struct top_trials *tr);
void top_frame__free(struct top_frame *f);

/* Follow m->marks since the last call; O(new marks). */
void top_trials__update(struct top_trials *tr, const struct model *m);
void top_trials__free(struct top_trials *tr);

/* Parse a filter; -EINVAL with a one-line reason for bad text. */
int top_filter__parse(const char *text, struct top_filter *out,
		      char *err, size_t errlen);
bool top_filter__match(const struct top_filter *flt, const struct top_row *r);

/* Sort keys: short names for --sort, headers, and the natural order. */
const char *top_key__name(enum top_key k);
int top_key__parse(const char *s, enum top_key *out);
bool top_key__descending(enum top_key k);

/*
 * Rows to show: indexes into f->rows, filtered and sorted, at most
 * `max` (and v->max_rows). Returns how many; *matched gets how many
 * passed the filter before the limit.
 */
int top_view__select(const struct top_frame *f, const struct top_view *v,
		     int *idx, int max, int *matched);

/* Batch text and NDJSON printers. */
int top_print_text(FILE *out, const struct top_frame *f,
		   const struct top_view *v);
json_t *top_frame__json(const struct top_frame *f, const struct top_view *v);

#endif
