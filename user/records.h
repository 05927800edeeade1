/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * Trace records: what the collector emits, what a trace file stores and
 * what the model consumes. Fixed little structs, host byte order, 8-byte
 * aligned; `len` covers the header. Documented in docs/trace-format.md
 * (keep in sync). Times are CLOCK_MONOTONIC ns unless named otherwise;
 * process and thread start times are the kernel's start_boottime.
 */
#ifndef XT_RECORDS_H
#define XT_RECORDS_H

#include <linux/types.h>
#include "xfertrace.h"

enum xt_rec_type {
	XT_REC_PROC		= 1,	/* a process, first time it is seen */
	XT_REC_LISTEN		= 2,	/* a listener opened or closed */
	XT_REC_CONN		= 3,	/* a connection, first time seen */
	XT_REC_CONN_DELTA	= 4,	/* bytes moved since the last delta */
	XT_REC_CONN_CLOSE	= 5,
	XT_REC_THREAD		= 6,
	XT_REC_THREAD_DELTA	= 7,
	XT_REC_THREAD_EXIT	= 8,
	XT_REC_PROC_DELTA	= 9,	/* process transfer-active time */
	XT_REC_STATS		= 10,	/* kernel and user counters, cumulative */
	XT_REC_INTERVAL		= 11,	/* one harvest finished */
	XT_REC_MARK		= 12,	/* a live mark line (variable length) */
	XT_REC_CGROUP_CPU	= 13,	/* cgroup CPU throttling, cumulative */
	XT_REC_SLICES		= 14,	/* on-CPU slices of one thread */
	XT_REC_DETAIL		= 15,	/* slices recorded for a process from now */
	XT_REC_SLICES_LOST	= 16,	/* slices dropped (ring buffer full) */
	XT_REC_MAX
};

struct xt_rec_hdr {
	__u32 type;
	__u32 len;
};

#define XT_CMDLINE_LEN 160

struct xt_rec_proc {
	struct xt_rec_hdr hdr;
	__u64 start_ns;
	__u64 netns;
	__u64 cgroup_id;
	__u32 pid;
	__u32 ppid;
	char comm[XT_COMM_LEN];
	char cmdline[XT_CMDLINE_LEN];
};

struct xt_rec_listen {
	struct xt_rec_hdr hdr;
	__u64 ts_ns;
	__u64 start_ns;		/* owner process start */
	__u64 netns;
	__u32 pid;
	__u32 open;		/* 1 opened (or found at start), 0 closed */
	struct xt_tuple tuple;
	__u32 backlog;		/* listen() backlog */
	__u32 pad;
};

struct xt_rec_conn {
	struct xt_rec_hdr hdr;
	__u64 id;
	__u64 first_ns;
	__u64 start_ns;		/* owner process start */
	__u64 netns;
	__u64 cgroup_id;
	__u32 pid;
	__u32 pad;
	struct xt_tuple tuple;
};

struct xt_rec_conn_delta {
	struct xt_rec_hdr hdr;
	__u64 ts_ns;
	__u64 id;
	__u64 tx_bytes;
	__u64 rx_bytes;
	__u64 tx_calls;
	__u64 rx_calls;
	__u64 active_ns;
};

struct xt_rec_conn_close {
	struct xt_rec_hdr hdr;
	__u64 ts_ns;
	__u64 id;
};

struct xt_rec_thread {
	struct xt_rec_hdr hdr;
	__u64 start_ns;
	__u64 leader_start_ns;
	__u32 tid;
	__u32 pid;
	char comm[XT_COMM_LEN];
};

struct xt_rec_thread_delta {
	struct xt_rec_hdr hdr;
	__u64 ts_ns;
	__u64 start_ns;
	__u32 tid;
	__u32 pad;
	__u64 cpu_ns;
	__u64 runq_ns;
	__u64 switches;
};

struct xt_rec_thread_exit {
	struct xt_rec_hdr hdr;
	__u64 ts_ns;
	__u64 start_ns;
	__u32 tid;
	__u32 pad;
};

struct xt_rec_proc_delta {
	struct xt_rec_hdr hdr;
	__u64 ts_ns;
	__u64 start_ns;
	__u32 pid;
	__u32 pad;
	__u64 active_ns;
};

/* Counters kept by user code, beside the kernel's struct xt_stats. */
struct xt_user_stats {
	__u64 marks_received;
	__u64 marks_rejected;	/* oversized or garbage datagrams */
	__u64 harvests;
	__u64 harvest_overruns;	/* harvest took longer than the interval */
	__u64 conns_reaped;	/* closed sockets taken from the map */
	__u64 threads_reaped;
	__u64 write_errors;
	__u64 iter_partial;	/* iterator stream ended inside a record */
	__u64 iter_fallbacks;	/* iterator failed: whole map read instead */
	__u64 bad_records;	/* harvested entries whose key and value disagree */
	__u64 prog_misses;	/* program runs the kernel skipped (recursion) */
};

struct xt_rec_stats {
	struct xt_rec_hdr hdr;
	__u64 ts_ns;
	struct xt_stats k;
	struct xt_user_stats u;
};

struct xt_rec_interval {
	struct xt_rec_hdr hdr;
	__u64 start_ns;
	__u64 end_ns;
};

/* cpu.stat of a process's cgroup; values as the kernel shows them. */
struct xt_rec_cgroup_cpu {
	struct xt_rec_hdr hdr;
	__u64 ts_ns;
	__u64 start_ns;
	__u32 pid;
	__u32 pad;
	__u64 nr_periods;
	__u64 nr_throttled;
	__u64 throttled_ns;
	__s64 quota_us;		/* -1: no limit */
	__u64 period_us;
};

#define XT_MARK_TEXT_MAX 4096

struct xt_rec_mark {
	struct xt_rec_hdr hdr;
	__u64 ts_ns;		/* when the datagram arrived */
	__u32 text_len;
	__u32 pad;
	char text[];		/* text_len bytes, padded to 8 */
};

/*
 * On-CPU slices of one thread of a detailed process (variable length):
 * n entries, each one continuous stint on a CPU of cpu_ns that began at
 * start_ns (= switch-out time - cpu_ns), in switch-out order per CPU.
 */
struct xt_rec_slice {
	__u64 start_ns;
	__u64 cpu_ns;
};

#define XT_SLICES_MAX	64	/* entries per record */

struct xt_rec_slices {
	struct xt_rec_hdr hdr;
	__u64 start_ns;		/* thread start */
	__u32 tid;
	__u32 pid;
	__u32 n;
	__u32 pad;
	struct xt_rec_slice s[];
};

/* From ts_ns on, every stint of this process's threads is recorded. */
struct xt_rec_detail {
	struct xt_rec_hdr hdr;
	__u64 ts_ns;
	__u64 start_ns;		/* process start */
	__u32 pid;		/* 0: every process (record --detail all) */
	__u32 pad;
};

/*
 * lost slices of detailed processes on one CPU, which ran within
 * [from_ns, to_ns], never reached the trace (ring buffer full).
 */
struct xt_rec_slices_lost {
	struct xt_rec_hdr hdr;
	__u64 ts_ns;
	__u64 lost;
	__u64 from_ns;
	__u64 to_ns;
	__u32 cpu;
	__u32 pad;
};

/* Every record is a whole number of 8-byte words (trace-format.md). */
#define XT_REC_ALIGNED(t) _Static_assert(sizeof(t) % 8 == 0 && sizeof(t) <= 512, #t)
XT_REC_ALIGNED(struct xt_rec_proc);
XT_REC_ALIGNED(struct xt_rec_listen);
XT_REC_ALIGNED(struct xt_rec_conn);
XT_REC_ALIGNED(struct xt_rec_conn_delta);
XT_REC_ALIGNED(struct xt_rec_conn_close);
XT_REC_ALIGNED(struct xt_rec_thread);
XT_REC_ALIGNED(struct xt_rec_thread_delta);
XT_REC_ALIGNED(struct xt_rec_thread_exit);
XT_REC_ALIGNED(struct xt_rec_proc_delta);
XT_REC_ALIGNED(struct xt_rec_stats);
XT_REC_ALIGNED(struct xt_rec_interval);
XT_REC_ALIGNED(struct xt_rec_mark);
XT_REC_ALIGNED(struct xt_rec_cgroup_cpu);
XT_REC_ALIGNED(struct xt_rec_slices);
XT_REC_ALIGNED(struct xt_rec_detail);
XT_REC_ALIGNED(struct xt_rec_slices_lost);

/* Consumer of records: the trace writer, the live model, or both. */
typedef int (*xt_sink_fn)(void *ctx, const struct xt_rec_hdr *rec);

static inline __u32 xt_rec_min_len(__u32 type)
{
	static const __u32 lens[XT_REC_MAX] = {
		[XT_REC_PROC] = sizeof(struct xt_rec_proc),
		[XT_REC_LISTEN] = sizeof(struct xt_rec_listen),
		[XT_REC_CONN] = sizeof(struct xt_rec_conn),
		[XT_REC_CONN_DELTA] = sizeof(struct xt_rec_conn_delta),
		[XT_REC_CONN_CLOSE] = sizeof(struct xt_rec_conn_close),
		[XT_REC_THREAD] = sizeof(struct xt_rec_thread),
		[XT_REC_THREAD_DELTA] = sizeof(struct xt_rec_thread_delta),
		[XT_REC_THREAD_EXIT] = sizeof(struct xt_rec_thread_exit),
		[XT_REC_PROC_DELTA] = sizeof(struct xt_rec_proc_delta),
		[XT_REC_STATS] = sizeof(struct xt_rec_stats),
		[XT_REC_INTERVAL] = sizeof(struct xt_rec_interval),
		[XT_REC_MARK] = sizeof(struct xt_rec_mark),
		[XT_REC_CGROUP_CPU] = sizeof(struct xt_rec_cgroup_cpu),
		[XT_REC_SLICES] = sizeof(struct xt_rec_slices),
		[XT_REC_DETAIL] = sizeof(struct xt_rec_detail),
		[XT_REC_SLICES_LOST] = sizeof(struct xt_rec_slices_lost),
	};

	return type && type < XT_REC_MAX ? lens[type] : 0;
}

#endif
