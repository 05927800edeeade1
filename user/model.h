/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * The trace model: processes, threads, connections and listeners built
 * from records, whether they come from a trace file (report) or straight
 * from the collector (top, agent). Read-only structs for the views.
 */
#ifndef XT_MODEL_H
#define XT_MODEL_H

#include <stdbool.h>
#include <jansson.h>
#include "records.h"

#define XT_NAME_LEN 96

/* What a process is to Dask, in the order reports list them. */
enum xt_role {
	XT_ROLE_SCHEDULER,
	XT_ROLE_WORKER,
	XT_ROLE_NANNY,
	XT_ROLE_CLIENT,
	XT_ROLE_OTHER,
	XT_ROLE_MAX
};

const char *role_name(enum xt_role r);
/* -EINVAL if s names no role. */
int role_parse(const char *s, enum xt_role *out);
/* Linux's PID_MAX_LIMIT on 64-bit: no pid can be larger. */
#define XT_PID_MAX_LIMIT 4194304

struct mproc;

struct mthread {
	__u32 tid;
	__u32 pid;
	__u64 start_ns;
	char comm[XT_COMM_LEN];
	__u64 cpu_ns;
	__u64 runq_ns;
	__u64 switches;
	__u64 w_cpu_ns;		/* since the last window reset */
	bool exited;
	struct mproc *proc;
};

struct mconn {
	__u64 id;
	__u64 first_ns;
	__u64 last_ns;
	__u64 netns;
	struct xt_tuple t;	/* v4-mapped addresses made plain v4 */
	__u64 tx_bytes, rx_bytes, tx_calls, rx_calls, active_ns;
	__u64 w_tx_bytes, w_rx_bytes, w_active_ns;
	bool closed;
	bool accepted;		/* local end is one of the owner's listeners */
	struct mproc *proc;
	struct mproc *peer;	/* resolved process at the other end */
	char peer_name[XT_NAME_LEN];	/* peer's name, resolved or not */
};

struct mlisten {
	struct mproc *proc;
	__u64 netns;
	struct xt_tuple t;
	__u64 open_ns;
	__u64 close_ns;		/* 0 while open */
	__u64 accepted;		/* connections accepted on it */
	__u32 backlog;
	__u64 bytes;
	char name[XT_NAME_LEN];
};

struct mproc {
	__u32 pid;
	__u32 ppid;
	__u64 start_ns;
	__u64 netns;
	__u64 cgroup_id;
	char comm[XT_COMM_LEN];
	char cmdline[XT_CMDLINE_LEN];
	char name[XT_NAME_LEN];		/* primary endpoint or pid:<pid>/<comm> */
	enum xt_role role;
	struct mproc *sched;		/* the scheduler of its cluster, if any */
	struct mlisten **listens;
	int n_listens;
	__u64 cpu_ns, runq_ns, switches;
	__u64 tx_bytes, rx_bytes, active_ns;
	__u64 w_cpu_ns, w_runq_ns, w_tx_bytes, w_rx_bytes, w_active_ns;
	int n_conns;
	int n_live_conns;
	int n_threads;
	/* cgroup CPU throttling: first and last cumulative readings */
	bool have_cg;
	__u64 cg0_periods, cg0_throttled, cg0_throttled_ns;
	__u64 cg_periods, cg_throttled, cg_throttled_ns;
	__s64 cg_quota_us;
	__u64 cg_period_us;
	bool gone;
	__u64 gone_ns;
	bool have_rec;			/* a PROC record named it */
	int order;			/* first-seen order */
};

struct mflow {
	char src[XT_NAME_LEN];
	char dst[XT_NAME_LEN];
	struct mproc *src_proc;		/* NULL when not a local process */
	struct mproc *dst_proc;
	__u64 tx_bytes;			/* measured at the sender */
	__u64 rx_bytes;			/* measured at the receiver */
	__u64 bytes;
	__u64 w_tx_bytes, w_rx_bytes;
};

struct mmark {
	__u64 ts_ns;
	char *text;
};

struct model {
	json_t *header;
	struct mproc **procs;
	int n_procs;
	struct mthread **threads;
	int n_threads;
	struct mconn **conns;
	int n_conns;
	struct mlisten **listens;
	int n_listens;
	struct mflow **flows;
	int n_flows;
	struct mmark *marks;
	int n_marks;
	struct xt_rec_stats stats;	/* last seen, cumulative */
	bool have_stats;
	__u64 first_ns, last_ns;	/* monotonic span of the intervals */
	__u64 intervals;
	__u64 records;
	__u64 w_start_ns;		/* window start for live views */
	/* totals, set by model__resolve() */
	__u64 tx_bytes, rx_bytes, unresolved_tx, unresolved_rx;
	__u64 cpu_ns, runq_ns;
	/* records refused as impossible (see user/sanity.c) */
	__u64 pid_max;			/* from the header, else the limit */
	__u64 bad_pid_records;		/* pid or tid beyond pid_max */
	void *priv;
};

struct model *model__new(void);
void model__free(struct model *m);
void model__set_header(struct model *m, const json_t *hdr);
int model__apply(struct model *m, const struct xt_rec_hdr *rec);
int model__sink(void *ctx, const struct xt_rec_hdr *rec);
/* Names, peers, roles, flows and totals; call again after more records. */
int model__resolve(struct model *m);
/* Start a new window for rates (live views). */
void model__window_reset(struct model *m, __u64 now_ns);
/* Drop processes marked gone before `before_ns` (live views). */
void model__prune(struct model *m, __u64 before_ns);
/* Free the marks seen so far (a live view that has consumed them). */
void model__drop_marks(struct model *m);
/* Lookups by the keys records carry; NULL if unknown. */
struct mconn *model__conn(const struct model *m, __u64 id);
struct mthread *model__thread(const struct model *m, __u32 tid,
			      __u64 start_ns);
struct mproc *model__proc(const struct model *m, __u32 pid, __u64 start_ns);
/* Header helpers. */
__u64 model__mono_to_wall(const struct model *m);

#endif
