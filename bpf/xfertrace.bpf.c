// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * xfertrace kernel side. Entry programs stay thin: each fallback variant
 * of a hook reads its arguments its own way and calls one static handler.
 * User code picks one variant per concern and turns the others off with
 * bpf_program__set_autoload() before load.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_endian.h>
#include "xfertrace.h"

#define AF_INET		2
#define AF_INET6	10
#define IPPROTO_TCP	6
#define MSG_PEEK	2
#define TCP_CLOSE	7
#define TCP_LISTEN	10
#define TASK_DEAD	0x80

char LICENSE[] SEC("license") = "Dual BSD/GPL";

/* Settings, written by user code between open and load. */
const volatile __u64 burst_gap_ns = 5000000;
const volatile bool track_proc_active = true;

/*
 * Clock for send/recv bursts. On VMs reading the clock source costs more
 * than everything else in these programs, so by default bursts are timed
 * in jiffies (a plain variable; tick-grained). Only differences of it are
 * used. Without CONFIG_HZ known (no kernel config to read), the precise
 * clock is used.
 */
extern unsigned int CONFIG_HZ __kconfig __weak;
const volatile bool coarse_clock = true;

static __always_inline __u64 io_clock(void)
{
	if (coarse_clock && CONFIG_HZ)
		return bpf_jiffies64() * (1000000000ull / CONFIG_HZ);
	return bpf_ktime_get_ns();
}

/* Unique connection ids; only touched when a socket is first seen. */
__u64 next_conn_id = 1;

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, XT_MAX_CONNS);
	__type(key, __u64);			/* struct sock * */
	__type(value, struct xt_conn);
} conns SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, XT_MAX_THREADS);
	__type(key, __u32);			/* tid */
	__type(value, struct xt_thread);
} threads SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, XT_MAX_PROCS);
	__type(key, __u32);			/* tgid */
	__type(value, struct xt_proc);
} procs SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct xt_cpu_slot);
} cpu_slots SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct xt_stats);
} stats SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, XT_RINGBUF_BYTES);
} events SEC(".maps");

/*
 * User code drains the ring at every harvest, so waking it for each record
 * only costs context switches; wake it early only when the ring is half
 * full.
 */
const volatile __u64 rb_wake_bytes = XT_RINGBUF_BYTES / 2;

static __always_inline __u64 rb_flags(void)
{
	return bpf_ringbuf_query(&events, BPF_RB_AVAIL_DATA) >
	       rb_wake_bytes ? BPF_RB_FORCE_WAKEUP : BPF_RB_NO_WAKEUP;
}

/* task_struct->state was renamed __state in 5.14 (commit 2f064a59a11f). */
struct task_struct___pre514 {
	long state;
} __attribute__((preserve_access_index));

#define TASK_STATE(RD, t)						\
	(bpf_core_field_exists(((struct task_struct___pre514 *)(t))->state) ? \
	 (long)RD((struct task_struct___pre514 *)(t), state) :		\
	 (long)RD(t, __state))

static __always_inline struct xt_stats *stats_get(void)
{
	__u32 zero = 0;

	return bpf_map_lookup_elem(&stats, &zero);
}

static __always_inline void read_tuple(struct sock *sk, struct xt_tuple *t)
{
	struct sock_common *c = &sk->__sk_common;

	t->family = BPF_CORE_READ(c, skc_family);
	t->lport = BPF_CORE_READ(c, skc_num);
	t->rport = bpf_ntohs(BPF_CORE_READ(c, skc_dport));
	if (t->family == AF_INET) {
		t->laddr[0] = BPF_CORE_READ(c, skc_rcv_saddr);
		t->raddr[0] = BPF_CORE_READ(c, skc_daddr);
	} else {
		/* &array: BPF_CORE_READ_INTO copies sizeof(*dst) bytes. */
		BPF_CORE_READ_INTO(&t->laddr, c, skc_v6_rcv_saddr.in6_u.u6_addr32);
		BPF_CORE_READ_INTO(&t->raddr, c, skc_v6_daddr.in6_u.u6_addr32);
	}
}

static __always_inline bool sock_is_tcp(struct sock *sk)
{
	__u16 family = BPF_CORE_READ(sk, __sk_common.skc_family);

	if (family != AF_INET && family != AF_INET6)
		return false;
	return BPF_CORE_READ(sk, sk_protocol) == IPPROTO_TCP;
}

static __always_inline __u64 leader_start_ns(struct task_struct *task)
{
	return BPF_CORE_READ(task, group_leader, start_boottime);
}

/* First byte on a socket: fill in who owns it and where it goes. */
static __noinline struct xt_conn *conn_create(struct sock *sk, __u64 now)
{
	struct task_struct *task = (void *)bpf_get_current_task();
	struct xt_conn c = {};
	__u64 key = (__u64)sk;
	struct xt_stats *st;

	c.id = __sync_fetch_and_add(&next_conn_id, 1);
	c.tgid = bpf_get_current_pid_tgid() >> 32;
	c.owner_start_ns = leader_start_ns(task);
	c.netns = BPF_CORE_READ(sk, __sk_common.skc_net.net, ns.inum);
	c.cgroup_id = bpf_get_current_cgroup_id();
	c.first_ns = bpf_ktime_get_ns();	/* compared with other events */
	bpf_get_current_comm(c.comm, sizeof(c.comm));
	read_tuple(sk, &c.tuple);
	/*
	 * Reading what was queued before an RST: the close event has gone
	 * by, so user code reaps this entry at its next harvest.
	 */
	c.closed = BPF_CORE_READ(sk, __sk_common.skc_state) == TCP_CLOSE;
	if (bpf_map_update_elem(&conns, &key, &c, BPF_NOEXIST) == 0) {
		st = stats_get();
		if (st)
			st->conns_opened++;
	}
	return bpf_map_lookup_elem(&conns, &key);
}

/* Grow a burst-active total: gaps shorter than burst_gap_ns count. */
static __always_inline void burst_add(__u64 *active, __u64 *last, __u64 now)
{
	__u64 prev = *last;

	if (prev && now > prev && now - prev <= burst_gap_ns)
		__sync_fetch_and_add(active, now - prev);
	if (now > prev)
		*last = now;
}

/*
 * Process-level activity is the union of its sockets' bursts. A busy
 * socket updates its process at most once per PROC_STRIDE_NS, first with
 * its previous event (which recovers the tail it skipped), then with now.
 */
#define PROC_STRIDE_NS	1000000ull

static __always_inline void proc_account(struct xt_conn *c, __u64 prev_io,
					 __u64 now, bool in_flight)
{
	struct xt_proc *p, zero = {};
	struct xt_stats *st;
	__u32 tgid;

	if (now - c->proc_ns < PROC_STRIDE_NS)
		return;
	c->proc_ns = now;
	tgid = bpf_get_current_pid_tgid() >> 32;
	p = bpf_map_lookup_elem(&procs, &tgid);
	if (!p) {
		zero.start_ns = leader_start_ns((void *)bpf_get_current_task());
		bpf_map_update_elem(&procs, &tgid, &zero, BPF_NOEXIST);
		p = bpf_map_lookup_elem(&procs, &tgid);
		if (!p) {
			st = stats_get();
			if (st)
				st->proc_map_full++;
			return;
		}
	}
	if (prev_io)
		burst_add(&p->active_ns, &p->last_io_ns, prev_io);
	if (in_flight && now > p->last_io_ns) {
		/* The socket was busy all through [prev_io, now]. */
		__sync_fetch_and_add(&p->active_ns, now - p->last_io_ns);
		p->last_io_ns = now;
	}
	burst_add(&p->active_ns, &p->last_io_ns, now);
}

/* Hand the final counts of a closing socket to user code, then forget it. */
static __always_inline void conn_close(struct sock *sk, __u64 now)
{
	__u64 key = (__u64)sk;
	struct xt_ev_conn *e;
	struct xt_stats *st;
	struct xt_conn *c;

	c = bpf_map_lookup_elem(&conns, &key);
	if (!c)
		return;
	st = stats_get();
	e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);
	if (!e) {
		/* Keep the entry; user code reaps it atomically later. */
		c->closed = 1;
		if (st) {
			st->ringbuf_full++;
			st->close_deferred++;
		}
		return;
	}
	e->hdr.type = XT_EV_CONN_CLOSE;
	e->hdr.ts_ns = now;
	e->sk = key;
	e->conn = *c;
	e->conn.closed = 1;
	/*
	 * Whoever deletes the entry reports it, exactly once. User code takes
	 * closed entries with lookup-and-delete, and a closed entry can be
	 * closed here again (a socket read after an RST is re-created closed;
	 * its close() sets TCP_CLOSE once more): if both reported it, user
	 * code would count its bytes twice. (-ENOENT: taken by user code.)
	 */
	if (bpf_map_delete_elem(&conns, &key) == -2) {
		bpf_ringbuf_discard(e, 0);
		return;
	}
	bpf_ringbuf_submit(e, rb_flags());
	if (st)
		st->conns_closed++;
}

/* Bytes written before this send's ret bytes are still unacknowledged. */
static __noinline bool tx_outstanding(struct sock *sk, int ret)
{
	struct tcp_sock *tp = (struct tcp_sock *)sk;
	__u32 write_seq = BPF_CORE_READ(tp, write_seq);
	__u32 snd_una = BPF_CORE_READ(tp, snd_una);

	return (__s32)(write_seq - (__u32)ret - snd_una) > 0;
}

/* Harvest generation, bumped by user code before each harvest. */
__u32 harvest_gen = 1;
/* Set when a dirty note could not be queued: user code reads all. */
__u32 dirty_lost;
const volatile bool note_dirty_keys = false;

static __noinline void note_dirty(__u32 type, __u64 key)
{
	struct xt_ev_dirty e = {
		.hdr.type = type,
		.key = key,
		.gen = harvest_gen,
	};

	if (bpf_ringbuf_output(&events, &e, sizeof(e), rb_flags()))
		dirty_lost = 1;
}

/* Local and remote port still the entry's: one read of skc_portpair. */
static __always_inline bool same_ports(const struct xt_conn *c, struct sock *sk)
{
	__u32 pp = BPF_CORE_READ(sk, __sk_common.skc_portpair);

	/* skc_dport (network order) in the low half, skc_num in the high. */
	return pp == ((c->tuple.lport << 16) | bpf_htons(c->tuple.rport));
}

/* One send or receive that returned ret bytes. */
static __always_inline int handle_io(struct sock *sk, int ret, int flags,
				     bool tx)
{
	__u64 key = (__u64)sk, now, bytes, prev_io;
	struct xt_stats *st;
	struct xt_conn *c;
	bool in_flight;

	if (ret <= 0 || !sk)
		return 0;
	st = stats_get();
	if (!st)
		return 0;
	if (!tx && (flags & MSG_PEEK)) {
		c = bpf_map_lookup_elem(&conns, &key);
		if (c || sock_is_tcp(sk))
			st->peek_skipped++;
		return 0;
	}
	now = io_clock();
	bytes = ret;
	c = bpf_map_lookup_elem(&conns, &key);
	/*
	 * A freed socket's memory reused: a closed entry whose socket is
	 * open again, or an open one whose ports are no longer the
	 * socket's (its close was never seen: the kernel skips a state
	 * change nested in another on the same CPU). Hand the old counts
	 * over and start afresh, so a new connection is never credited to
	 * a dead one.
	 */
	if (c && (c->closed ?
		  BPF_CORE_READ(sk, __sk_common.skc_state) != TCP_CLOSE :
		  !same_ports(c, sk))) {
		conn_close(sk, bpf_ktime_get_ns());
		c = bpf_map_lookup_elem(&conns, &key);
		if (c && c->closed)
			c = NULL;	/* ring full: keep the old entry intact */
	}
	if (!c) {
		/* Unix and UDP sockets reach here too: weed them out once. */
		if (!sock_is_tcp(sk))
			return 0;
		c = conn_create(sk, now);
		if (!c) {
			st->conn_map_full++;
			st->conn_map_full_bytes += bytes;
			goto global;
		}
	}
	if (tx) {
		__sync_fetch_and_add(&c->tx_bytes, bytes);
		__sync_fetch_and_add(&c->tx_calls, 1);
	} else {
		__sync_fetch_and_add(&c->rx_bytes, bytes);
		__sync_fetch_and_add(&c->rx_calls, 1);
	}
	prev_io = c->last_io_ns;
	/*
	 * A long gap between sends still counts when bytes sent before it
	 * are unacknowledged now: the connection was moving data throughout.
	 */
	in_flight = tx && prev_io && now > prev_io &&
		    now - prev_io > burst_gap_ns && tx_outstanding(sk, ret);
	if (in_flight) {
		__sync_fetch_and_add(&c->active_ns, now - prev_io);
		c->last_io_ns = now;
	} else {
		burst_add(&c->active_ns, &c->last_io_ns, now);
	}
	/*
	 * First bytes in this harvest generation: mark the entry, and where
	 * map iterators are refused, tell user code which socket to read.
	 */
	if (c->dirty != harvest_gen) {
		c->dirty = harvest_gen;
		if (note_dirty_keys)
			note_dirty(XT_EV_DIRTY, key);
	}
	if (track_proc_active)
		proc_account(c, prev_io, now, in_flight);
global:
	if (tx) {
		st->tx_bytes += bytes;
		st->tx_calls++;
	} else {
		st->rx_bytes += bytes;
		st->rx_calls++;
	}
	return 0;
}

static __always_inline void listen_event(struct sock *sk, __u32 type,
					 __u64 now)
{
	struct task_struct *task = (void *)bpf_get_current_task();
	struct xt_ev_listen *e;
	struct xt_stats *st = stats_get();

	e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);
	if (!e) {
		if (st)
			st->ringbuf_full++;
		return;
	}
	__builtin_memset(e, 0, sizeof(*e));
	e->hdr.type = type;
	e->hdr.ts_ns = now;
	e->sk = (__u64)sk;
	e->tgid = bpf_get_current_pid_tgid() >> 32;
	e->start_ns = leader_start_ns(task);
	e->netns = BPF_CORE_READ(sk, __sk_common.skc_net.net, ns.inum);
	bpf_get_current_comm(e->comm, sizeof(e->comm));
	read_tuple(sk, &e->tuple);
	e->backlog = BPF_CORE_READ(sk, sk_max_ack_backlog);
	bpf_ringbuf_submit(e, rb_flags());
	if (st)
		st->listen_events++;
}

static __always_inline int handle_state(struct sock *sk, int oldstate,
					int newstate)
{
	__u64 now;

	if (BPF_CORE_READ(sk, sk_protocol) != IPPROTO_TCP)
		return 0;
	now = bpf_ktime_get_ns();
	if (newstate == TCP_LISTEN)
		listen_event(sk, XT_EV_LISTEN, now);
	else if (oldstate == TCP_LISTEN && newstate == TCP_CLOSE)
		listen_event(sk, XT_EV_LISTEN_CLOSE, now);
	else if (newstate == TCP_CLOSE)
		conn_close(sk, now);
	return 0;
}

/*
 * CPU comes from the kernel's own per-task accounting, read when a task is
 * switched out: se.sum_exec_runtime (on-CPU ns, what schedstat and
 * CLOCK_THREAD_CPUTIME_ID show) and sched_info.run_delay (ns runnable but
 * waiting: after a wakeup or a preemption). Stores, not adds: one writer,
 * and nothing to lose. No wakeup hook is needed.
 */
struct sw_vals {
	__u64 sum_ns;		/* se.sum_exec_runtime */
	__u64 stint_ns;		/* se.prev_sum_exec_runtime: fair class only */
	__u64 next_sum_ns;	/* next's se.sum_exec_runtime: at switch-in */
	__u64 delay_ns;		/* sched_info.run_delay */
	__u64 pcount;		/* sched_info.pcount: times run */
	long state;
	__u32 prev_tid;
	__u32 next_tid;
};

/*
 * Set by user code: the boot-clock time just before attach (threads
 * started earlier are older than the trace; compared with start_boottime)
 * and the monotonic time just after attach (bpf_ktime_get_ns()), from
 * which their CPU counts.
 */
__u64 attach_boot_ns;
__u64 attach_mono_ns;

/*
 * CPU of a thread older than the trace counts from attach. If its
 * switch-in on this CPU was seen (in), it counts from there: the kernel's
 * own total at that switch. Otherwise its current run began before we
 * saw it: no more than the wall time since attach of it counts, and no
 * more than the run itself, where the kernel marks where it began
 * (se.prev_sum_exec_runtime: only the fair class keeps it current; RT and
 * stop-class threads such as migration/N carry an older, lower one). The
 * second bound matters: on some kernels a switch-in is not seen (a task
 * found switching out while the CPU's last switch-in named another).
 * One clock read, once per old thread.
 */
static __always_inline __u64 base_at_attach(const struct sw_vals *v,
					    const struct xt_cpu_slot *in)
{
	__u64 now, since, base;

	if (in->tid == v->prev_tid)
		return in->in_sum_ns;
	now = bpf_ktime_get_ns();
	since = now > attach_mono_ns ? now - attach_mono_ns : 0;
	base = v->sum_ns > since ? v->sum_ns - since : 0;
	return base > v->stint_ns ? base : v->stint_ns;
}

static __noinline struct xt_thread *thread_create(struct task_struct *t,
						   const struct sw_vals *v,
						   const struct xt_cpu_slot *in)
{
	struct xt_thread n = {};
	struct xt_stats *st;
	__u32 tid = v->prev_tid;

	n.tid = tid;
	n.tgid = BPF_CORE_READ(t, tgid);
	n.start_ns = BPF_CORE_READ(t, start_boottime);
	n.leader_start_ns = leader_start_ns(t);
	BPF_CORE_READ_STR_INTO(&n.comm, t, comm);
	/*
	 * A thread older than the trace counts from attach. Until user code
	 * has stamped the end of attach, wait: its next switch-in is seen.
	 */
	if (n.start_ns < attach_boot_ns) {
		if (!attach_mono_ns)
			return NULL;
		n.base_cpu_ns = base_at_attach(v, in);
		n.base_runq_ns = v->delay_ns;
		n.base_switches = v->pcount ? v->pcount - 1 : 0;
	}
	bpf_map_update_elem(&threads, &tid, &n, BPF_NOEXIST);
	n.tid = 0;
	st = stats_get();
	if (!bpf_map_lookup_elem(&threads, &tid) && st)
		st->thread_map_full++;
	return bpf_map_lookup_elem(&threads, &tid);
}

/* A dead thread is switched out for the last time: flush and forget it. */
static __always_inline void thread_exit(struct xt_thread *th, __u32 tid,
					__u64 now)
{
	struct xt_ev_thread *e;
	struct xt_stats *st = stats_get();

	e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);
	if (!e) {
		/* Left in the map; user code reaps dead threads. */
		if (st)
			st->ringbuf_full++;
		return;
	}
	e->hdr.type = XT_EV_THREAD_EXIT;
	e->hdr.pad = 0;
	e->hdr.ts_ns = now;
	e->th = *th;
	bpf_map_delete_elem(&threads, &tid);
	bpf_ringbuf_submit(e, rb_flags());
	if (st)
		st->threads_exited++;
}

/*
 * On-CPU slices of detailed processes (docs/performance.md, "Slices").
 * detail_pids holds the selected tgids; user code fills it as listeners
 * appear and bumps detail_gen after each change. A thread caches the
 * answer in xt_thread.detail with the generation it was read in, so an
 * unselected thread costs a global read and a compare per switch, not a
 * hash lookup; a change is seen at each thread's next switch-out.
 */
const volatile bool detail_all = false;
__u32 detail_gen = 1;

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, XT_MAX_PROCS);
	__type(key, __u32);			/* tgid */
	__type(value, __u32);			/* unused */
} detail_pids SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct xt_ev_slices);
} slice_bufs SEC(".maps");

static __always_inline bool thread_detailed(struct xt_thread *th)
{
	__u32 gen = detail_gen;

	if (detail_all)
		return true;
	if (th->detail >> 1 != (gen & 0x7fffffff))
		th->detail = gen << 1 |
			     !!bpf_map_lookup_elem(&detail_pids, &th->tgid);
	return th->detail & 1;
}

/* Queue this CPU's batch; count what the ring had no room for. */
static __noinline void slices_flush(struct xt_ev_slices *b)
{
	struct xt_stats *st;
	__u32 i, n = b->n;

	if (!n)
		return;
	b->hdr.type = XT_EV_SLICES;
	b->cpu = bpf_get_smp_processor_id();
	if (n - 1 < XT_SLICE_BATCH)
		b->hdr.ts_ns = b->s[n - 1].end_ns;
	if (!bpf_ringbuf_output(&events, b, sizeof(*b), rb_flags())) {
		b->lost = 0;
		b->first_lost_ns = 0;
		b->last_lost_ns = 0;
		b->n = 0;
		return;
	}
	st = stats_get();
	if (st)
		st->slices_lost += n;
	b->lost += n;
	for (i = 0; i < XT_SLICE_BATCH && i < n; i++) {
		__u64 s0 = b->s[i].end_ns - b->s[i].cpu_ns;

		if (!b->first_lost_ns || s0 < b->first_lost_ns)
			b->first_lost_ns = s0;
		if (b->s[i].end_ns > b->last_lost_ns)
			b->last_lost_ns = b->s[i].end_ns;
	}
	b->n = 0;
}

static __noinline void slice_add(const struct xt_thread *th, __u64 cpu_ns)
{
	struct xt_ev_slices *b;
	struct xt_slice *sl;
	struct xt_stats *st;
	__u32 zero = 0, i;

	b = bpf_map_lookup_elem(&slice_bufs, &zero);
	if (!b)
		return;
	if (b->n >= XT_SLICE_BATCH)
		slices_flush(b);
	i = b->n;
	if (i >= XT_SLICE_BATCH)
		return;
	sl = &b->s[i];
	sl->end_ns = bpf_ktime_get_ns();
	sl->cpu_ns = cpu_ns;
	sl->start_ns = th->start_ns;
	sl->tid = th->tid;
	sl->tgid = th->tgid;
	b->n = i + 1;
	st = stats_get();
	if (st)
		st->slices++;
	if (b->n >= XT_SLICE_BATCH)
		slices_flush(b);
}

/*
 * Run by user code on each CPU (BPF_F_TEST_RUN_ON_CPU) at harvest: it
 * runs in an IPI, so it never interleaves with the switch hook there.
 */
SEC("raw_tp")
int flush_slices(void *ctx)
{
	__u32 zero = 0;
	struct xt_ev_slices *b = bpf_map_lookup_elem(&slice_bufs, &zero);

	if (b)
		slices_flush(b);
	return 0;
}

static __always_inline int handle_switch(struct task_struct *prev,
					 const struct sw_vals *v)
{
	struct xt_cpu_slot *slot, in;
	struct xt_thread *th;
	__u32 zero = 0, tid = v->prev_tid;
	bool created = false;
	__u64 stint;

	slot = bpf_map_lookup_elem(&cpu_slots, &zero);
	if (!slot)
		return 0;
	/*
	 * Who runs on each CPU now, and its total at switch-in: user code
	 * reads a thread that never stops from /proc, and a thread's first
	 * switch-out finds its switch-in here. No clock read here: on VMs
	 * it is the costliest part of this program.
	 */
	in = *slot;
	slot->tid = v->next_tid;
	slot->in_sum_ns = v->next_sum_ns;
	if (!tid)
		return 0;
	th = bpf_map_lookup_elem(&threads, &tid);
	if (!th) {
		th = thread_create(prev, v, &in);
		if (!th)
			return 0;
		created = true;
	}
	/*
	 * The stint that ends now: what sum_exec_runtime grew by since its
	 * last switch-out (a new entry: since its switch-in on this CPU if
	 * seen, else prev_sum_exec_runtime, which the fair class sets at
	 * switch-in). A thread runs only between its switches.
	 */
	stint = !created ? v->sum_ns - th->base_cpu_ns - th->cpu_ns :
		v->sum_ns - (in.tid == tid ? in.in_sum_ns : v->stint_ns);
	th->cpu_ns = v->sum_ns - th->base_cpu_ns;
	if (thread_detailed(th) && stint)
		slice_add(th, stint);
	th->runq_ns = v->delay_ns - th->base_runq_ns;
	th->switches = v->pcount - th->base_switches;
	if (th->dirty != harvest_gen) {
		th->dirty = harvest_gen;
		if (note_dirty_keys)
			note_dirty(XT_EV_DIRTY_THREAD, tid);
	}
	if (v->state & TASK_DEAD)
		thread_exit(th, tid, bpf_ktime_get_ns());
	return 0;
}

/* ---- TCP bytes: tp_btf (6.3+), raw_tp, fexit, kprobe ---- */

SEC("tp_btf/sock_send_length")
int BPF_PROG(send_btf, struct sock *sk, int ret, int flags)
{
	return handle_io(sk, ret, flags, true);
}

SEC("tp_btf/sock_recv_length")
int BPF_PROG(recv_btf, struct sock *sk, int ret, int flags)
{
	return handle_io(sk, ret, flags, false);
}

SEC("raw_tp/sock_send_length")
int BPF_PROG(send_raw, struct sock *sk, int ret, int flags)
{
	return handle_io(sk, ret, flags, true);
}

SEC("raw_tp/sock_recv_length")
int BPF_PROG(recv_raw, struct sock *sk, int ret, int flags)
{
	return handle_io(sk, ret, flags, false);
}

SEC("fexit/tcp_sendmsg")
int BPF_PROG(send_fexit, struct sock *sk, struct msghdr *msg, size_t size,
	     int ret)
{
	return handle_io(sk, ret, 0, true);
}

/* 5.19+ signature: (sk, msg, len, flags, addr_len). */
SEC("fexit/tcp_recvmsg")
int BPF_PROG(recv_fexit, struct sock *sk, struct msghdr *msg, size_t len,
	     int flags, int *addr_len, int ret)
{
	return handle_io(sk, ret, flags, false);
}

/* Before 5.19: (sk, msg, len, nonblock, flags, addr_len). */
SEC("fexit/tcp_recvmsg")
int BPF_PROG(recv_fexit_old, struct sock *sk, struct msghdr *msg, size_t len,
	     int nonblock, int flags, int *addr_len, int ret)
{
	return handle_io(sk, ret, flags, false);
}

/* kprobe path: remember the arguments at entry, count at return. */
struct kp_args {
	__u64 sk;
	__u32 flags;
	__u32 pad;
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 16384);
	__type(key, __u64);			/* pid_tgid */
	__type(value, struct kp_args);
} kp_inflight SEC(".maps");

const volatile bool kp_recv_old_abi = false;

static __always_inline int kp_enter(struct sock *sk, int flags)
{
	__u64 id = bpf_get_current_pid_tgid();
	struct kp_args a = { .sk = (__u64)sk, .flags = flags };

	bpf_map_update_elem(&kp_inflight, &id, &a, BPF_ANY);
	return 0;
}

static __always_inline int kp_exit(int ret, bool tx)
{
	__u64 id = bpf_get_current_pid_tgid();
	struct kp_args *a = bpf_map_lookup_elem(&kp_inflight, &id);
	struct kp_args copy;

	if (!a)
		return 0;
	copy = *a;
	bpf_map_delete_elem(&kp_inflight, &id);
	return handle_io((struct sock *)copy.sk, ret, copy.flags, tx);
}

SEC("kprobe/tcp_sendmsg")
int BPF_KPROBE(send_kprobe, struct sock *sk)
{
	return kp_enter(sk, 0);
}

SEC("kretprobe/tcp_sendmsg")
int BPF_KRETPROBE(send_kretprobe, int ret)
{
	return kp_exit(ret, true);
}

SEC("kprobe/tcp_recvmsg")
int BPF_KPROBE(recv_kprobe, struct sock *sk, void *msg, __u64 len, long a4,
	       long a5)
{
	return kp_enter(sk, kp_recv_old_abi ? a5 : a4);
}

SEC("kretprobe/tcp_recvmsg")
int BPF_KRETPROBE(recv_kretprobe, int ret)
{
	return kp_exit(ret, false);
}

/* ---- connection lifecycle ---- */

SEC("tp_btf/inet_sock_set_state")
int BPF_PROG(state_btf, struct sock *sk, int oldstate, int newstate)
{
	return handle_state(sk, oldstate, newstate);
}

SEC("raw_tp/inet_sock_set_state")
int BPF_PROG(state_raw, struct sock *sk, int oldstate, int newstate)
{
	return handle_state(sk, oldstate, newstate);
}

/* ---- CPU ---- */

/* sched_info exists with CONFIG_SCHED_INFO (schedstats or delayacct). */
#define SW_VALS(RD, prev, next) {					\
	.sum_ns = RD(prev, se.sum_exec_runtime),			\
	.stint_ns = RD(prev, se.prev_sum_exec_runtime),			\
	.next_sum_ns = RD(next, se.sum_exec_runtime),			\
	.delay_ns = bpf_core_field_exists(prev->sched_info) ?		\
		    RD(prev, sched_info.run_delay) : 0,			\
	.pcount = bpf_core_field_exists(prev->sched_info) ?		\
		  RD(prev, sched_info.pcount) : 0,			\
	.state = TASK_STATE(RD, prev),					\
	.prev_tid = RD(prev, pid),					\
	.next_tid = RD(next, pid),					\
}

/* tp_btf arguments are BTF pointers: plain loads, no helper calls. */
#define DIRECT(p, f) ((p)->f)

SEC("tp_btf/sched_switch")
int BPF_PROG(switch_btf, bool preempt, struct task_struct *prev,
	     struct task_struct *next)
{
	struct sw_vals v = SW_VALS(DIRECT, prev, next);

	return handle_switch(prev, &v);
}

SEC("raw_tp/sched_switch")
int BPF_PROG(switch_raw, bool preempt, struct task_struct *prev,
	     struct task_struct *next)
{
	struct sw_vals v = SW_VALS(BPF_CORE_READ, prev, next);

	return handle_switch(prev, &v);
}

/* exec renames a process: keep its thread entry's comm current. */
static __always_inline int handle_exec(struct task_struct *p)
{
	__u32 tid = BPF_CORE_READ(p, pid);
	struct xt_thread *th = bpf_map_lookup_elem(&threads, &tid);

	if (th) {
		BPF_CORE_READ_STR_INTO(&th->comm, p, comm);
		th->dirty = 0;	/* noted again at its next switch */
	}
	return 0;
}

SEC("tp_btf/sched_process_exec")
int BPF_PROG(exec_btf, struct task_struct *p)
{
	return handle_exec(p);
}

SEC("raw_tp/sched_process_exec")
int BPF_PROG(exec_raw, struct task_struct *p)
{
	return handle_exec(p);
}

/* ---- startup discovery: every listening TCP socket and its owner ---- */

SEC("iter/task_file")
int dump_listeners(struct bpf_iter__task_file *ctx)
{
	struct task_struct *task = ctx->task;
	struct file *file = ctx->file;
	struct xt_ev_listen e = {};
	struct socket *sock;
	struct sock *sk;

	if (!task || !file)
		return 0;
	sock = bpf_sock_from_file(file);
	if (!sock)
		return 0;
	sk = BPF_CORE_READ(sock, sk);
	if (!sk || !sock_is_tcp(sk))
		return 0;
	if (BPF_CORE_READ(sk, __sk_common.skc_state) != TCP_LISTEN)
		return 0;
	e.hdr.type = XT_EV_LISTEN;
	e.sk = (__u64)sk;
	e.tgid = task->tgid;
	e.start_ns = leader_start_ns(task);
	e.netns = BPF_CORE_READ(sk, __sk_common.skc_net.net, ns.inum);
	BPF_CORE_READ_STR_INTO(&e.comm, task, comm);
	read_tuple(sk, &e.tuple);
	e.backlog = BPF_CORE_READ(sk, sk_max_ack_backlog);
	bpf_seq_write(ctx->meta->seq, &e, sizeof(e));
	return 0;
}

/*
 * Harvest iterators: only entries that changed since the last harvest
 * (and closed sockets) go to user space, so a harvest costs what moved,
 * not what is open. The flag is cleared before the copy: an update in
 * between is in the copy and sets the flag again, so nothing is missed.
 * When the record does not fit the kernel's buffer, the kernel shows the
 * same entry again at the next read(): the flag is put back for that.
 */
SEC("iter/bpf_map_elem")
int dump_conns(struct bpf_iter__bpf_map_elem *ctx)
{
	struct xt_conn *c = ctx->value;
	__u64 *key = ctx->key;
	struct xt_iter_conn rec;
	__u32 dirty;

	if (!key || !c || (!c->dirty && !c->closed))
		return 0;
	dirty = c->dirty;
	c->dirty = 0;
	rec.sk = *key;
	rec.conn = *c;
	if (bpf_seq_write(ctx->meta->seq, &rec, sizeof(rec)))
		c->dirty = dirty;
	return 0;
}

SEC("iter/bpf_map_elem")
int dump_threads(struct bpf_iter__bpf_map_elem *ctx)
{
	struct xt_thread *th = ctx->value;
	__u32 *key = ctx->key;
	struct xt_iter_thread rec;
	__u32 dirty;

	if (!key || !th || !th->dirty)
		return 0;
	dirty = th->dirty;
	th->dirty = 0;
	rec.tid = *key;
	rec.pad = 0;
	rec.th = *th;
	if (bpf_seq_write(ctx->meta->seq, &rec, sizeof(rec)))
		th->dirty = dirty;
	return 0;
}
