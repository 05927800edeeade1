/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * Records shared by the BPF programs (bpf/xfertrace.bpf.c) and user code.
 * Plain __u32/__u64 and char arrays only, so the header compiles on both
 * sides unchanged. Units are in the field names. Padding is explicit.
 */
#ifndef XFERTRACE_H
#define XFERTRACE_H

#define XT_COMM_LEN		16

/*
 * Smallest map sizes; user code sizes them before load from what the
 * machine runs now (a harvest walks every bucket, so bigger costs CPU).
 */
#define XT_MAX_CONNS		16384
#define XT_MAX_THREADS		16384
#define XT_MAX_PROCS		4096
#define XT_RINGBUF_BYTES	(1 << 22)

/* Connection 4-tuple. Addresses in network order, IPv4 in addr[0]. */
struct xt_tuple {
	__u32 family;		/* AF_INET (2) or AF_INET6 (10) */
	__u32 lport;		/* host order */
	__u32 rport;		/* host order */
	__u32 pad;
	__u32 laddr[4];
	__u32 raddr[4];
};

/*
 * One TCP socket as seen by the tracer. Map key: the struct sock pointer.
 * Counters are cumulative for the life of the entry; user code takes
 * deltas against the last value it saw, so it never deletes to reset.
 */
struct xt_conn {
	/* Hot: touched on every send and receive, kept together. */
	__u64 tx_bytes;
	__u64 rx_bytes;
	__u64 tx_calls;
	__u64 rx_calls;
	__u64 active_ns;	/* time inside send/recv bursts */
	__u64 last_io_ns;
	__u64 proc_ns;		/* last time it updated its process */
	__u32 closed;		/* 1 once TCP_CLOSE was seen */
	__u32 dirty;		/* harvest generation it last moved bytes in */
	/* Cold: written once, when the socket is first seen. */
	__u64 id;		/* unique per entry (global counter) */
	__u32 tgid;		/* first process that moved bytes on it */
	__u32 pad;
	__u64 owner_start_ns;	/* owner group leader start_boottime */
	__u64 netns;		/* netns inode number */
	__u64 cgroup_id;
	__u64 first_ns;
	struct xt_tuple tuple;
	char comm[XT_COMM_LEN];
};

/* Per-process transfer activity. Map key: tgid. */
struct xt_proc {
	__u64 start_ns;
	__u64 active_ns;	/* union of its sockets' bursts */
	__u64 last_io_ns;
};

/*
 * One thread. Map key: tid. Values are the kernel's own cumulative
 * per-task counters as of the last switch-out, less a base taken when
 * the thread is older than the trace.
 */
struct xt_thread {
	__u64 start_ns;		/* thread start_boottime */
	__u64 leader_start_ns;	/* process start_boottime */
	__u64 cpu_ns;		/* on-CPU time */
	__u64 runq_ns;		/* runnable but waiting for a CPU */
	__u64 switches;		/* times run */
	__u64 base_cpu_ns;
	__u64 base_runq_ns;
	__u64 base_switches;
	__u32 tid;
	__u32 tgid;
	__u32 dirty;		/* harvest generation it last ran in */
	__u32 detail;		/* detail_gen << 1 | slices recorded */
	char comm[XT_COMM_LEN];
};

/* Per-CPU stats. All cumulative, summed over CPUs by user code. */
struct xt_stats {
	__u64 tx_bytes;		/* every TCP byte sent, seen by the hooks */
	__u64 rx_bytes;		/* every TCP byte received */
	__u64 tx_calls;
	__u64 rx_calls;
	__u64 peek_skipped;	/* MSG_PEEK reads, not counted */
	__u64 conn_map_full;	/* events whose socket had no entry */
	__u64 conn_map_full_bytes;
	__u64 thread_map_full;
	__u64 thread_map_full_ns; /* CPU time not attributed to a thread */
	__u64 proc_map_full;
	__u64 ringbuf_full;	/* events that could not be queued */
	__u64 close_deferred;	/* closed sockets left for user reaping */
	__u64 conns_opened;
	__u64 conns_closed;
	__u64 threads_exited;
	__u64 listen_events;
	/* Appended: on-CPU slices of detailed processes. */
	__u64 slices;		/* slices recorded */
	__u64 slices_lost;	/* slices dropped: ring buffer full */
};

enum xt_event_type {
	XT_EV_CONN_CLOSE	= 1,	/* final counts of a closed socket */
	XT_EV_LISTEN		= 2,	/* socket entered TCP_LISTEN */
	XT_EV_LISTEN_CLOSE	= 3,	/* listener closed */
	XT_EV_THREAD_EXIT	= 4,	/* final counts of a dead thread */
	XT_EV_DIRTY		= 5,	/* a socket moved bytes in a new generation */
	XT_EV_DIRTY_THREAD	= 6,	/* a thread ran in a new generation */
	XT_EV_SLICES		= 7,	/* a batch of on-CPU slices */
};

struct xt_ev_hdr {
	__u32 type;
	__u32 pad;
	__u64 ts_ns;		/* bpf_ktime_get_ns() */
};

struct xt_ev_conn {
	struct xt_ev_hdr hdr;
	__u64 sk;
	struct xt_conn conn;
};

/* Also the record the listener iterator writes (type XT_EV_LISTEN). */
struct xt_ev_listen {
	struct xt_ev_hdr hdr;
	__u64 sk;
	__u64 start_ns;		/* owner group leader start */
	__u64 netns;
	__u32 tgid;
	__u32 backlog;		/* listen() backlog */
	struct xt_tuple tuple;	/* local address and port only */
	char comm[XT_COMM_LEN];
};

/* A socket (key = struct sock *) or thread (key = tid) to read. */
struct xt_ev_dirty {
	struct xt_ev_hdr hdr;
	__u64 key;
	__u32 gen;
	__u32 pad;
};

struct xt_ev_thread {
	struct xt_ev_hdr hdr;
	struct xt_thread th;
};

/*
 * What the harvest map iterators write, one record per changed entry:
 * key and value together, in one bpf_seq_write(). The user-side reader
 * walks the stream in steps of exactly these sizes; both sides assert
 * them, so a layout change cannot put them out of step.
 */
struct xt_iter_conn {
	__u64 sk;		/* map key: struct sock * */
	struct xt_conn conn;
};

struct xt_iter_thread {
	__u32 tid;		/* map key */
	__u32 pad;
	struct xt_thread th;
};

/* What each CPU runs now (per-CPU array, one slot). */
struct xt_cpu_slot {
	__u32 tid;		/* switched in last */
	__u32 pad;
	__u64 in_sum_ns;	/* its se.sum_exec_runtime at that switch */
};

/*
 * One on-CPU stint of a thread of a detailed process: it ran cpu_ns
 * (the kernel's se.sum_exec_runtime grew by that much) and was switched
 * out at end_ns (bpf_ktime_get_ns, CLOCK_MONOTONIC).
 */
struct xt_slice {
	__u64 end_ns;
	__u64 cpu_ns;
	__u64 start_ns;		/* thread start_boottime */
	__u32 tid;
	__u32 tgid;
};

/*
 * Slices are batched per CPU (a per-CPU array slot of this layout) and
 * queued as one ring record when the batch is full or when user code
 * flushes it at harvest. first_lost_ns..last_lost_ns: end times of the
 * slices this CPU dropped since the last batch that got through (0: none).
 */
#define XT_SLICE_BATCH		32
struct xt_ev_slices {
	struct xt_ev_hdr hdr;
	__u32 n;
	__u32 cpu;
	__u64 lost;		/* slices dropped before this batch */
	__u64 first_lost_ns;
	__u64 last_lost_ns;
	struct xt_slice s[XT_SLICE_BATCH];
};

#define XT_ITER_CONN_BYTES	(8 + 176)
#define XT_ITER_THREAD_BYTES	(8 + 96)
_Static_assert(sizeof(struct xt_conn) == 176, "xt_conn layout");
_Static_assert(sizeof(struct xt_thread) == 96, "xt_thread layout");
_Static_assert(sizeof(struct xt_stats) == 18 * 8, "xt_stats layout");
_Static_assert(sizeof(struct xt_slice) == 32, "xt_slice layout");
_Static_assert(sizeof(struct xt_iter_conn) == XT_ITER_CONN_BYTES,
	       "conn iterator record layout");
_Static_assert(sizeof(struct xt_iter_thread) == XT_ITER_THREAD_BYTES,
	       "thread iterator record layout");

#endif /* XFERTRACE_H */
