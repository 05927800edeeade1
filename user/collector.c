// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * Collection core. The BPF maps hold cumulative counters; we remember
 * the last value seen per entry and emit the difference. Nothing is
 * deleted to reset a counter, so nothing that arrives between a read and
 * a delete can be lost. Entries leave the maps in two ways only: the BPF
 * side deletes a closed socket or dead thread after queueing its final
 * counts on the ring buffer, or we take a leftover out with one atomic
 * lookup-and-delete.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/utsname.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include "cgroup.h"
#include "collector.h"
#include "hmap.h"
#include "procnet.h"
#include "util.h"
#include "xfertrace.skel.h"

#define BATCH		1024
#define REAP_EVERY	50	/* harvests between dead-entry sweeps */

struct snap {
	__u64 id;
	__u64 v[5];		/* tx, rx, tx calls, rx calls, active */
};

struct tsnap {
	__u32 tid;
	__u32 pid;
	__u64 start_ns;
	__u64 leader_start_ns;
	char comm[XT_COMM_LEN];
	__u64 cpu_ns;
	__u64 runq_ns;
	__u64 switches;
	__u64 seen;		/* harvest number when last changed */
};

/* A process already reported. */
struct pseen {
	char comm[XT_COMM_LEN];
	__u32 pid;
	__u64 start_ns;
	bool net;		/* has sockets: worth watching its cgroup */
	bool cg_gone;		/* cgroup unreadable: stop trying */
	struct cg_cpu cg;	/* last emitted */
};

struct psnap {
	__u32 pid;
	__u64 start_ns;
	__u64 active_ns;
	__u64 seen;
};

struct collector {
	struct xfertrace_bpf *skel;
	struct ring_buffer *rb;
	struct xt_hooks hooks;
	struct collector_opts opts;
	struct hmap *procs_seen;	/* (pid, start) already emitted */
	struct hmap *conn_snaps;	/* conn id -> struct snap */
	struct hmap *thread_snaps;	/* (tid, start) -> struct tsnap */
	struct hmap *proc_snaps;	/* (pid, start) -> struct psnap */
	struct xt_user_stats ustats;
	__u64 harvests;
	__u64 last_harvest_ns;
	__u64 mono_to_wall_ns;
	__u64 start_mono_ns;
	int ncpus;
	int err;			/* first sink error */
	bool discovered;
	__u64 last_cgroup_ns;
	struct bpf_link *conn_iter;	/* dirty-only harvest, if supported */
	struct bpf_link *thread_iter;
	char *ibuf;			/* iterator read buffer */
	/* Listeners found in /proc, waiting for their owner's exact start. */
	struct procnet_listener *pend;
	int n_pend;
	bool stopped;
	struct hmap *dirty;		/* sockets noted since the last read */
	struct hmap *dirty_threads;	/* threads noted since the last read */
	bool lost_seen;			/* a note was lost: read whole maps */
	void *kbuf, *vbuf;
};

static int emit(struct collector *c, const void *rec)
{
	int err = c->opts.sink(c->opts.sink_ctx, rec);

	if (err && !c->err)
		c->err = err;
	if (err)
		c->ustats.write_errors++;
	return err;
}

#define REC_INIT(r, t) do {					\
	memset(&(r), 0, sizeof(r));				\
	(r).hdr.type = (t);					\
	(r).hdr.len = sizeof(r);				\
} while (0)

/* /proc/<pid>/stat starttime is start_boottime in clock ticks. */
static bool proc_matches(__u32 pid, __u64 start_ns, __u32 *ppid)
{
	char path[64], buf[1024], *p;
	unsigned long long st = 0;
	long hz = sysconf(_SC_CLK_TCK);
	int field, n;

	snprintf(path, sizeof(path), "/proc/%u/stat", pid);
	n = read_file(path, buf, sizeof(buf));
	if (n <= 0)
		return false;
	p = strrchr(buf, ')');
	if (!p)
		return false;
	/* Fields after comm: 3=state 4=ppid ... 22=starttime. */
	for (field = 3, p += 2; *p && field < 22; p++)
		if (*p == ' ') {
			field++;
			if (field == 4)
				*ppid = strtoul(p + 1, NULL, 10);
		}
	st = strtoull(p, NULL, 10);
	return hz > 0 && st == start_ns / (1000000000ull / hz);
}

static void read_cmdline(__u32 pid, char *out, size_t len)
{
	char path[64], buf[XT_CMDLINE_LEN];
	int n, i;

	snprintf(path, sizeof(path), "/proc/%u/cmdline", pid);
	n = read_file(path, buf, sizeof(buf));
	if (n <= 0) {
		out[0] = 0;
		return;
	}
	for (i = 0; i < n - 1; i++)
		if (!buf[i])
			buf[i] = ' ';
	clean_str(out, buf, len);
}

static void pend_flush(struct collector *c, __u32 pid, __u64 start_ns);

/*
 * Emit a process record the first time (pid, start) appears, and again
 * when exec gives it a new name (rename: comm of its main thread).
 */
static struct pseen *proc_emit(struct collector *c, __u32 pid,
			       __u64 start_ns, __u64 netns, __u64 cgroup_id,
			       const char *comm, bool rename)
{
	__u64 key = hkey2(pid, start_ns);
	struct pseen *seen = hmap__get(c->procs_seen, key);
	struct xt_rec_proc r;
	bool fresh = false;
	__u32 ppid = 0;

	if (seen && !(rename && comm[0] &&
		      strncmp(seen->comm, comm, XT_COMM_LEN)))
		return seen;
	if (!seen) {
		seen = calloc(1, sizeof(*seen));
		if (!seen || hmap__put(c->procs_seen, key, seen)) {
			free(seen);
			return NULL;
		}
		seen->pid = pid;
		seen->start_ns = start_ns;
		fresh = true;
	}
	strncpy(seen->comm, comm, XT_COMM_LEN - 1);
	REC_INIT(r, XT_REC_PROC);
	r.pid = pid;
	r.start_ns = start_ns;
	r.netns = netns;
	r.cgroup_id = cgroup_id;
	clean_str(r.comm, comm, sizeof(r.comm));
	/* Only trust /proc when it is still the same process. */
	if (proc_matches(pid, start_ns, &ppid)) {
		r.ppid = ppid;
		read_cmdline(pid, r.cmdline, sizeof(r.cmdline));
	}
	emit(c, &r);
	if (fresh && c->n_pend)
		pend_flush(c, pid, start_ns);
	return seen;
}

static struct pseen *ensure_proc(struct collector *c, __u32 pid,
				 __u64 start_ns, __u64 netns,
				 __u64 cgroup_id, const char *comm)
{
	return proc_emit(c, pid, start_ns, netns, cgroup_id, comm, false);
}

/* Processes with sockets get their cgroup's throttling watched. */
static void ensure_net_proc(struct collector *c, __u32 pid, __u64 start_ns,
			    __u64 netns, __u64 cgroup_id, const char *comm)
{
	struct pseen *p = ensure_proc(c, pid, start_ns, netns, cgroup_id,
				      comm);

	if (p)
		p->net = true;
}

/* Once a second: cpu.stat of every networked process's cgroup. */
static void harvest_cgroups(struct collector *c, __u64 ts)
{
	struct xt_rec_cgroup_cpu r;
	struct cg_cpu cg;
	size_t pos = 0;
	__u32 ppid;
	__u64 key;
	void *v;

	while (hmap__next(c->procs_seen, &pos, &key, &v)) {
		struct pseen *p = v;

		if (!p->net || p->cg_gone)
			continue;
		if (!proc_matches(p->pid, p->start_ns, &ppid) ||
		    cgroup__cpu_stat(p->pid, &cg)) {
			p->cg_gone = true;
			continue;
		}
		if (!memcmp(&cg, &p->cg, sizeof(cg)))
			continue;
		p->cg = cg;
		REC_INIT(r, XT_REC_CGROUP_CPU);
		r.ts_ns = ts;
		r.pid = p->pid;
		r.start_ns = p->start_ns;
		r.nr_periods = cg.nr_periods;
		r.nr_throttled = cg.nr_throttled;
		r.throttled_ns = cg.throttled_ns;
		r.quota_us = cg.quota_us;
		r.period_us = cg.period_us;
		emit(c, &r);
	}
}

static void emit_listen(struct collector *c, const struct xt_ev_listen *e,
			__u32 open, __u64 ts)
{
	struct xt_rec_listen r;

	ensure_net_proc(c, e->tgid, e->start_ns, e->netns, 0, e->comm);
	REC_INIT(r, XT_REC_LISTEN);
	r.ts_ns = ts;
	r.start_ns = e->start_ns;
	r.netns = e->netns;
	r.pid = e->tgid;
	r.open = open;
	r.tuple = e->tuple;
	r.backlog = e->backlog;
	emit(c, &r);
}

/* A socket we have not reported yet: its process, then itself. */
static struct snap *conn_snap(struct collector *c, const struct xt_conn *k)
{
	struct xt_rec_conn r;
	struct snap *s;

	s = hmap__get(c->conn_snaps, k->id);
	if (s)
		return s;
	s = calloc(1, sizeof(*s));
	if (!s || hmap__put(c->conn_snaps, k->id, s)) {
		free(s);
		return NULL;
	}
	s->id = k->id;
	ensure_net_proc(c, k->tgid, k->owner_start_ns, k->netns, k->cgroup_id,
			k->comm);
	REC_INIT(r, XT_REC_CONN);
	r.id = k->id;
	r.first_ns = k->first_ns;
	r.start_ns = k->owner_start_ns;
	r.netns = k->netns;
	r.cgroup_id = k->cgroup_id;
	r.pid = k->tgid;
	r.tuple = k->tuple;
	emit(c, &r);
	return s;
}

static void conn_delta(struct collector *c, const struct xt_conn *k,
		       __u64 ts)
{
	const __u64 cur[5] = { k->tx_bytes, k->rx_bytes, k->tx_calls,
			       k->rx_calls, k->active_ns };
	struct xt_rec_conn_delta r;
	struct snap *s = conn_snap(c, k);
	bool any = false;
	int i;

	if (!s)
		return;
	REC_INIT(r, XT_REC_CONN_DELTA);
	r.ts_ns = ts;
	r.id = k->id;
	for (i = 0; i < 5; i++) {
		__u64 d = cur[i] > s->v[i] ? cur[i] - s->v[i] : 0;

		any |= d != 0;
		s->v[i] = cur[i] > s->v[i] ? cur[i] : s->v[i];
		(&r.tx_bytes)[i] = d;
	}
	if (any)
		emit(c, &r);
}

static void conn_final(struct collector *c, const struct xt_conn *k,
		       __u64 ts)
{
	struct xt_rec_conn_close r;

	conn_delta(c, k, ts);
	REC_INIT(r, XT_REC_CONN_CLOSE);
	r.ts_ns = ts;
	r.id = k->id;
	emit(c, &r);
	free(hmap__del(c->conn_snaps, k->id));
}

static struct tsnap *thread_snap(struct collector *c,
				 const struct xt_thread *t)
{
	__u64 key = hkey2(t->tid, t->start_ns);
	struct xt_rec_thread r;
	struct tsnap *s;

	s = hmap__get(c->thread_snaps, key);
	if (s)
		return s;
	s = calloc(1, sizeof(*s));
	if (!s || hmap__put(c->thread_snaps, key, s)) {
		free(s);
		return NULL;
	}
	s->tid = t->tid;
	s->pid = t->tgid;
	s->start_ns = t->start_ns;
	s->leader_start_ns = t->leader_start_ns;
	memcpy(s->comm, t->comm, sizeof(s->comm));
	ensure_proc(c, t->tgid, t->leader_start_ns, 0, 0,
		    t->tid == t->tgid ? t->comm : "");
	REC_INIT(r, XT_REC_THREAD);
	r.tid = t->tid;
	r.pid = t->tgid;
	r.start_ns = t->start_ns;
	r.leader_start_ns = t->leader_start_ns;
	clean_str(r.comm, t->comm, sizeof(r.comm));
	emit(c, &r);
	return s;
}

/* cpu_ns may include the run still in progress (see harvest_threads). */
static void thread_delta(struct collector *c, const struct xt_thread *t,
			 __u64 cpu_ns, __u64 ts)
{
	struct xt_rec_thread_delta r;
	struct tsnap *s = thread_snap(c, t);

	if (!s)
		return;
	if (t->tid == t->tgid && strncmp(s->comm, t->comm, XT_COMM_LEN)) {
		memcpy(s->comm, t->comm, sizeof(s->comm));
		proc_emit(c, t->tgid, t->leader_start_ns, 0, 0, t->comm, true);
	}
	REC_INIT(r, XT_REC_THREAD_DELTA);
	r.ts_ns = ts;
	r.tid = t->tid;
	r.start_ns = t->start_ns;
	/* A run counted live may be re-read a bit short: never go back. */
	r.cpu_ns = cpu_ns > s->cpu_ns ? cpu_ns - s->cpu_ns : 0;
	r.runq_ns = t->runq_ns > s->runq_ns ? t->runq_ns - s->runq_ns : 0;
	r.switches = t->switches > s->switches ? t->switches - s->switches : 0;
	if (cpu_ns > s->cpu_ns)
		s->cpu_ns = cpu_ns;
	if (t->runq_ns > s->runq_ns)
		s->runq_ns = t->runq_ns;
	if (t->switches > s->switches)
		s->switches = t->switches;
	if (r.cpu_ns || r.runq_ns || r.switches) {
		s->seen = c->harvests;
		emit(c, &r);
	}
}

static void thread_final(struct collector *c, const struct xt_thread *t,
			 __u64 ts)
{
	__u64 key = hkey2(t->tid, t->start_ns);
	struct xt_rec_thread_exit r;

	thread_delta(c, t, t->cpu_ns, ts);
	REC_INIT(r, XT_REC_THREAD_EXIT);
	r.ts_ns = ts;
	r.tid = t->tid;
	r.start_ns = t->start_ns;
	emit(c, &r);
	free(hmap__del(c->thread_snaps, key));
}

static int on_event(void *ctx, void *data, size_t len)
{
	const struct xt_ev_hdr *h = data;
	struct collector *c = ctx;

	if (len < sizeof(*h))
		return 0;
	switch (h->type) {
	case XT_EV_CONN_CLOSE:
		if (len >= sizeof(struct xt_ev_conn))
			conn_final(c, &((struct xt_ev_conn *)data)->conn,
				   h->ts_ns);
		break;
	case XT_EV_LISTEN:
	case XT_EV_LISTEN_CLOSE:
		if (len >= sizeof(struct xt_ev_listen))
			emit_listen(c, data, h->type == XT_EV_LISTEN,
				    h->ts_ns);
		break;
	case XT_EV_DIRTY:
	case XT_EV_DIRTY_THREAD:
		if (len >= sizeof(struct xt_ev_dirty))
			hmap__put(h->type == XT_EV_DIRTY ? c->dirty :
				  c->dirty_threads,
				  ((struct xt_ev_dirty *)data)->key,
				  (void *)(unsigned long)
				  ((struct xt_ev_dirty *)data)->gen);
		break;
	case XT_EV_THREAD_EXIT:
		if (len >= sizeof(struct xt_ev_thread))
			thread_final(c, &((struct xt_ev_thread *)data)->th,
				     h->ts_ns);
		break;
	}
	return 0;
}

static __u64 tick_ns(void)
{
	long hz = sysconf(_SC_CLK_TCK);

	return 1000000000ull / (hz > 0 ? hz : 100);
}

static void pend_emit(struct collector *c, const struct procnet_listener *p,
		      __u64 start_ns)
{
	struct xt_ev_listen e = {
		.hdr.type = XT_EV_LISTEN,
		.start_ns = start_ns,
		.netns = p->netns,
		.tgid = p->pid,
		.tuple = p->tuple,
	};

	memcpy(e.comm, p->comm, sizeof(e.comm));
	emit_listen(c, &e, 1, c->start_mono_ns);
}

/*
 * /proc gives a process's start in clock ticks; records need the exact
 * start_boottime that BPF reports, or one process would become two. So a
 * listener found in /proc waits until BPF shows its owner.
 */
static void pend_flush(struct collector *c, __u32 pid, __u64 start_ns)
{
	int i, n = 0;

	for (i = 0; i < c->n_pend; i++) {
		struct procnet_listener p = c->pend[i];

		if (p.pid == pid && p.start_ticks == start_ns / tick_ns())
			pend_emit(c, &p, start_ns);
		else
			c->pend[n++] = p;
	}
	c->n_pend = n;
}

/* Those never seen by the end: the tick-grained start is all there is. */
static void pend_drain(struct collector *c)
{
	int i;

	for (i = 0; i < c->n_pend; i++)
		pend_emit(c, &c->pend[i], c->pend[i].start_ticks * tick_ns());
	c->n_pend = 0;
}

static int discover_listeners_proc(struct collector *c)
{
	struct procnet_listener *v;
	size_t pos = 0;
	__u64 key;
	void *val;
	int n, err;

	err = procnet__listeners(&v, &n);
	if (err) {
		p_warn("listener discovery from /proc failed (%s); listeners are learned as they open",
		       strerror(-err));
		return 0;
	}
	free(c->pend);
	c->pend = v;
	c->n_pend = n;
	/* Owners BPF has already shown go out now. */
	while (c->n_pend && hmap__next(c->procs_seen, &pos, &key, &val)) {
		struct pseen *p = val;

		pend_flush(c, p->pid, p->start_ns);
	}
	return n;
}

/* Startup discovery: every listening socket that exists right now. */
static int discover_listeners(struct collector *c)
{
	struct xt_ev_listen e;
	__u64 ts = now_mono_ns();
	struct hmap *dup;
	int fd, n = 0;
	ssize_t r;

	if (!c->skel->links.dump_listeners)
		return discover_listeners_proc(c);
	fd = bpf_iter_create(bpf_link__fd(c->skel->links.dump_listeners));
	if (fd < 0) {
		p_warn("listener discovery failed (%s); listeners are learned as they open",
		       strerror(errno));
		return 0;
	}
	dup = hmap__new();
	/* Threads share one file table: the iterator repeats sockets. */
	while ((r = read(fd, &e, sizeof(e))) == sizeof(e)) {
		__u64 key = hkey2(e.sk, e.tgid);

		if (dup && hmap__get(dup, key))
			continue;
		if (dup)
			hmap__put(dup, key, (void *)1);
		emit_listen(c, &e, 1, ts);
		n++;
	}
	hmap__free(dup);
	close(fd);
	return n;
}

/*
 * One read path for every map that is harvested: fn sees each (key,
 * value), with ctx passed through, and ts, when the entry was read.
 */
typedef void (*entry_fn)(struct collector *c, void *ctx, const void *key,
			 const void *val, __u64 ts);

/* How the entries of one map are read and laid out by its iterator. */
struct walk_desc {
	struct bpf_map *map;
	struct bpf_link *iter;		/* changed-entries iterator, or NULL */
	struct hmap *noted;		/* keys the BPF side noted as changed */
	size_t ksz, vsz;		/* map key and value sizes */
	size_t rec_sz, val_off;		/* iterator record: key at 0, value */
	size_t live;			/* entries we know of */
	entry_fn fn;
	void *ctx;
};

#define IBUF_SIZE	(256 * 1024)

/*
 * Run a map iterator and hand each record to fn. Records are the shared
 * xt_iter_* structs (key first, value at val_off), copied out of the
 * byte stream into aligned storage. A stream that ends inside a record
 * means the two sides disagree on the layout: refuse it loudly rather
 * than read garbage. Returns 0 or negative errno (the caller then reads
 * the whole map).
 */
static int iter_walk(struct collector *c, const struct walk_desc *d)
{
	__u64 rec[64];
	size_t have = 0, off;
	ssize_t n;
	int fd;

	if (d->rec_sz > sizeof(rec))
		return -E2BIG;
	if (!c->ibuf && !(c->ibuf = malloc(IBUF_SIZE)))
		return -ENOMEM;
	fd = bpf_iter_create(bpf_link__fd(d->iter));
	if (fd < 0)
		return -errno;
	while ((n = read(fd, c->ibuf + have, IBUF_SIZE - have)) > 0 ||
	       (n < 0 && errno == EINTR)) {
		__u64 ts = now_mono_ns();

		if (n < 0)
			continue;
		have += n;
		for (off = 0; off + d->rec_sz <= have; off += d->rec_sz) {
			memcpy(rec, c->ibuf + off, d->rec_sz);
			d->fn(c, d->ctx, rec, (char *)rec + d->val_off, ts);
		}
		memmove(c->ibuf, c->ibuf + off, have - off);
		have -= off;
	}
	close(fd);
	if (n < 0)
		return -errno;
	if (have) {
		c->ustats.iter_partial++;
		return -EPROTO;
	}
	return 0;
}

/* Read a hash map in batches, or a key at a time where batches fail. */
static int map_walk(struct collector *c, const struct walk_desc *d)
{
	LIBBPF_OPTS(bpf_map_batch_opts, bo);
	int fd = bpf_map__fd(d->map);
	__u32 in = 0, out = 0, n, i;
	bool first = true;
	__u64 ts;
	int err;

	for (;;) {
		n = BATCH;
		err = bpf_map_lookup_batch(fd, first ? NULL : &in, &out,
					   c->kbuf, c->vbuf, &n, &bo);
		if (err && errno != ENOENT)
			goto fallback;
		/* Stamp deltas when they were read, not when harvest began. */
		ts = now_mono_ns();
		for (i = 0; i < n; i++)
			d->fn(c, d->ctx, (char *)c->kbuf + i * d->ksz,
			      (char *)c->vbuf + i * d->vsz, ts);
		if (err)	/* ENOENT: that was the last batch */
			return 0;
		in = out;
		first = false;
	}
fallback:
	{
		char key[16], next[16];
		void *cur = NULL;

		while (!bpf_map_get_next_key(fd, cur, next)) {
			memcpy(key, next, d->ksz);
			cur = key;
			if (!bpf_map_lookup_elem(fd, key, c->vbuf))
				d->fn(c, d->ctx, key, c->vbuf, now_mono_ns());
		}
	}
	return 0;
}

#define FULL_WALK_EVERY	50	/* harvests between whole-map reads */

/* Notes path: whole map this time (a note lost, most changed, time up). */
static bool read_all(struct collector *c, const struct walk_desc *d)
{
	size_t live = d->live;

	return c->lost_seen || c->stopped ||
	       c->harvests % FULL_WALK_EVERY == 0 ||
	       hmap__count(d->noted) > (live > 128 ? live / 2 : 64);
}

/* Forget notes once read, except those of the current generation. */
static void notes_done(struct hmap *noted, __u32 gen)
{
	size_t pos = 0;
	__u64 key;
	void *g;

	while (hmap__next(noted, &pos, &key, &g))
		if ((unsigned long)g != gen)
			hmap__del(noted, key);
}

/* Read the noted keys one lookup each. */
static void notes_walk(struct collector *c, const struct walk_desc *d)
{
	int fd = bpf_map__fd(d->map);
	size_t pos = 0;
	__u64 key, val[64];
	void *g;

	while (hmap__next(d->noted, &pos, &key, &g)) {
		__u32 k32 = key;
		void *kp = d->ksz == sizeof(k32) ? (void *)&k32 : (void *)&key;

		if (!bpf_map_lookup_elem(fd, kp, val))
			d->fn(c, d->ctx, kp, val, now_mono_ns());
	}
}

/*
 * The one harvest read, for sockets and threads alike, by the path chosen
 * at start: the changed-entries iterator, the BPF side's notes (with a
 * periodic whole-map read that also finds entries closed while the ring
 * was full), or the whole map every time.
 */
static void harvest_walk(struct collector *c, const struct walk_desc *d)
{
	switch (c->hooks.harvest) {
	case XT_HARVEST_ITER:
		if (d->iter && !iter_walk(c, d))
			return;
		c->ustats.iter_fallbacks++;
		map_walk(c, d);
		return;
	case XT_HARVEST_NOTES:
		if (read_all(c, d))
			map_walk(c, d);
		else
			notes_walk(c, d);
		notes_done(d->noted, c->skel->data->harvest_gen);
		return;
	default:
		map_walk(c, d);
		return;
	}
}

static void on_conn(struct collector *c, void *ctx, const void *key,
		    const void *val, __u64 ts)
{
	const struct xt_conn *k = val;
	struct xt_conn fin;

	if (!k->closed) {
		conn_delta(c, k, ts);
		return;
	}
	/* Close event was lost to a full ring: take the entry atomically. */
	if (!bpf_map_lookup_and_delete_elem(bpf_map__fd(c->skel->maps.conns),
					    key, &fin)) {
		c->ustats.conns_reaped++;
		conn_final(c, &fin, ts);
	}
}

static void on_proc(struct collector *c, void *ctx, const void *key,
		    const void *val, __u64 ts)
{
	const struct xt_proc *p = val;
	__u32 pid = *(const __u32 *)key;
	__u64 hk = hkey2(pid, p->start_ns);
	struct xt_rec_proc_delta r;
	struct psnap *s;

	s = hmap__get(c->proc_snaps, hk);
	if (!s) {
		s = calloc(1, sizeof(*s));
		if (!s || hmap__put(c->proc_snaps, hk, s)) {
			free(s);
			return;
		}
		s->pid = pid;
		s->start_ns = p->start_ns;
		ensure_proc(c, pid, p->start_ns, 0, 0, "");
	}
	if (p->active_ns <= s->active_ns)
		return;
	REC_INIT(r, XT_REC_PROC_DELTA);
	r.ts_ns = ts;
	r.pid = pid;
	r.start_ns = p->start_ns;
	r.active_ns = p->active_ns - s->active_ns;
	s->active_ns = p->active_ns;
	s->seen = c->harvests;
	emit(c, &r);
}

/* A thread on a CPU now, with its on-CPU total from /proc. */
struct running {
	__u32 tid;
	__u64 sum_ns;
};

/*
 * A thread that never leaves its CPU has no sched_switch to count it: for
 * the threads on a CPU now, take the kernel's own total from schedstat
 * (current to the last tick).
 */
static int read_running(struct collector *c, struct running *run)
{
	int sfd = bpf_map__fd(c->skel->maps.cpu_slots);
	struct xt_cpu_slot *slots;
	char path[64], buf[128];
	__u32 zero = 0;
	int i, n = 0;

	slots = calloc(c->ncpus, sizeof(*slots));
	if (!slots)
		return 0;
	if (!bpf_map_lookup_elem(sfd, &zero, slots))
		for (i = 0; i < c->ncpus; i++) {
			if (!slots[i].tid)
				continue;
			snprintf(path, sizeof(path), "/proc/%u/schedstat",
				 slots[i].tid);
			if (read_file(path, buf, sizeof(buf)) <= 0)
				continue;
			run[n].tid = slots[i].tid;
			run[n++].sum_ns = strtoull(buf, NULL, 10);
		}
	free(slots);
	return n;
}

static __u64 thread_cpu_now(const struct xt_thread *th,
			    const struct running *run, int n)
{
	int i;

	for (i = 0; i < n; i++)
		if (run[i].tid == th->tid &&
		    run[i].sum_ns > th->base_cpu_ns + th->cpu_ns)
			return run[i].sum_ns - th->base_cpu_ns;
	return th->cpu_ns;
}

/* Threads read this harvest, so the running ones are not read twice. */
struct tvec {
	struct xt_thread *v;
	__u32 n, cap;
};

static void tvec_push(struct tvec *tv, const struct xt_thread *th)
{
	struct xt_thread *p;

	if (tv->n == tv->cap) {
		tv->cap = tv->cap ? tv->cap * 2 : 1024;
		p = realloc(tv->v, (size_t)tv->cap * sizeof(*p));
		if (!p)
			return;
		tv->v = p;
	}
	tv->v[tv->n++] = *th;
}

static void collect_thread(struct collector *c, void *ctx, const void *key,
			   const void *val, __u64 ts)
{
	const struct xt_thread *th = val;

	/* The key is the tid: a record whose value disagrees is garbage. */
	if (th->tid != *(const __u32 *)key) {
		c->ustats.bad_records++;
		return;
	}
	tvec_push(ctx, th);
}

static void harvest_conns(struct collector *c)
{
	struct walk_desc d = {
		.map = c->skel->maps.conns,
		.iter = c->conn_iter,
		.noted = c->dirty,
		.ksz = sizeof(__u64),
		.vsz = sizeof(struct xt_conn),
		.rec_sz = sizeof(struct xt_iter_conn),
		.val_off = offsetof(struct xt_iter_conn, conn),
		.live = hmap__count(c->conn_snaps),
		.fn = on_conn,
	};

	harvest_walk(c, &d);
}

/*
 * Threads that switched out since the last harvest, plus the threads on
 * a CPU now (they have not switched out, so they are not marked), with
 * their running totals from /proc.
 */
static int harvest_threads(struct collector *c)
{
	int fd = bpf_map__fd(c->skel->maps.threads);
	struct tvec tv = {};
	struct walk_desc d = {
		.map = c->skel->maps.threads,
		.iter = c->thread_iter,
		.noted = c->dirty_threads,
		.ksz = sizeof(__u32),
		.vsz = sizeof(struct xt_thread),
		.rec_sz = sizeof(struct xt_iter_thread),
		.val_off = offsetof(struct xt_iter_thread, th),
		.live = hmap__count(c->thread_snaps),
		.fn = collect_thread,
		.ctx = &tv,
	};
	struct running *run;
	struct xt_thread th;
	int i, nrun;
	__u32 j;
	__u64 ts;

	harvest_walk(c, &d);
	run = calloc(c->ncpus, sizeof(*run));
	nrun = run ? read_running(c, run) : 0;
	for (i = 0; i < nrun; i++) {
		for (j = 0; j < tv.n && tv.v[j].tid != run[i].tid; j++)
			;
		if (j == tv.n && !bpf_map_lookup_elem(fd, &run[i].tid, &th))
			tvec_push(&tv, &th);
	}
	ts = now_mono_ns();
	for (j = 0; j < tv.n; j++)
		thread_delta(c, &tv.v[j], thread_cpu_now(&tv.v[j], run, nrun),
			     ts);
	free(run);
	free(tv.v);
	return 0;
}

static bool task_alive(__u32 pid, __u32 tid, __u64 start_ns)
{
	char path[64];
	__u32 ppid;

	if (pid == tid)
		return proc_matches(pid, start_ns, &ppid);
	snprintf(path, sizeof(path), "/proc/%u/task/%u", pid, tid);
	return access(path, F_OK) == 0;
}

/* Entries of tasks that died while the ring buffer was full. */
static void reap_dead(struct collector *c, __u64 ts)
{
	int tfd = bpf_map__fd(c->skel->maps.threads);
	int pfd = bpf_map__fd(c->skel->maps.procs);
	struct xt_thread th;
	struct xt_proc pr;
	size_t pos = 0;
	__u64 key;
	void *v;

	while (hmap__next(c->thread_snaps, &pos, &key, &v)) {
		struct tsnap *s = v;

		if (s->seen + REAP_EVERY > c->harvests ||
		    task_alive(s->pid, s->tid, s->start_ns))
			continue;
		if (!bpf_map_lookup_elem(tfd, &s->tid, &th) &&
		    th.start_ns == s->start_ns &&
		    !bpf_map_lookup_and_delete_elem(tfd, &s->tid, &th)) {
			c->ustats.threads_reaped++;
			thread_final(c, &th, ts);
		}
	}
	pos = 0;
	while (hmap__next(c->proc_snaps, &pos, &key, &v)) {
		struct psnap *s = v;
		__u32 ppid;

		if (s->seen + REAP_EVERY > c->harvests ||
		    proc_matches(s->pid, s->start_ns, &ppid))
			continue;
		if (!bpf_map_lookup_and_delete_elem(pfd, &s->pid, &pr)) {
			on_proc(c, NULL, &s->pid, &pr, ts);
			free(hmap__del(c->proc_snaps, key));
		}
	}
}

int collector__kstats(const struct collector *c, struct xt_stats *out)
{
	struct xt_stats *per;
	__u32 zero = 0;
	int i, j, err;

	per = calloc(c->ncpus, sizeof(*per));
	if (!per)
		return -ENOMEM;
	err = bpf_map_lookup_elem(bpf_map__fd(c->skel->maps.stats), &zero,
				  per);
	if (err) {
		err = -errno;
		free(per);
		return err;
	}
	memset(out, 0, sizeof(*out));
	for (i = 0; i < c->ncpus; i++)
		for (j = 0; j < (int)(sizeof(*out) / 8); j++)
			((__u64 *)out)[j] += ((__u64 *)&per[i])[j];
	free(per);
	return 0;
}

int collector__harvest(struct collector *c)
{
	struct xt_rec_interval iv;
	struct xt_rec_stats st;
	__u64 ts;

	/*
	 * Discovery runs after attach (a listener opened in between is
	 * seen by the state hook) and once the caller's sink is in place.
	 */
	if (!c->discovered) {
		c->discovered = true;
		discover_listeners(c);
	}
	/*
	 * A new generation first, so the sockets noted from here on are
	 * those that move bytes after this read. Then the queued events:
	 * close events' entries are already out of the maps.
	 */
	if (c->hooks.harvest == XT_HARVEST_NOTES)
		c->skel->data->harvest_gen++;
	/* Read and clear in one step: a note lost in between is kept. */
	c->lost_seen = __atomic_exchange_n(&c->skel->bss->dirty_lost, 0,
					   __ATOMIC_SEQ_CST);
	ring_buffer__consume(c->rb);
	ts = now_mono_ns();
	c->harvests++;
	c->ustats.harvests++;
	/*
	 * Global counters before the maps: while traffic flows the maps may
	 * run ahead, never behind; after collector__stop() they agree.
	 */
	REC_INIT(st, XT_REC_STATS);
	st.ts_ns = ts;
	collector__kstats(c, &st.k);
	harvest_conns(c);
	if (!c->opts.no_proc_active)
		map_walk(c, &(struct walk_desc){
			.map = c->skel->maps.procs, .ksz = sizeof(__u32),
			.vsz = sizeof(struct xt_proc), .fn = on_proc });
	harvest_threads(c);
	if (c->harvests % REAP_EVERY == 0)
		reap_dead(c, ts);
	if (ts - c->last_cgroup_ns >= 1000000000ull) {
		c->last_cgroup_ns = ts;
		harvest_cgroups(c, ts);
	}
	st.u = c->ustats;
	emit(c, &st);
	if (c->stopped)
		pend_drain(c);
	/* The interval ends when the last map was read. */
	ts = now_mono_ns();
	REC_INIT(iv, XT_REC_INTERVAL);
	iv.start_ns = c->last_harvest_ns ? c->last_harvest_ns :
		      c->start_mono_ns;
	iv.end_ns = ts;
	c->last_harvest_ns = ts;
	emit(c, &iv);
	return c->err;
}

void collector__stop(struct collector *c)
{
	xfertrace_bpf__detach(c->skel);
	c->stopped = true;
}

int collector__poll(struct collector *c, int timeout_ms)
{
	int err = ring_buffer__poll(c->rb, timeout_ms);

	if (err == -EINTR)
		return 0;
	if (err < 0)
		return err;
	return c->err;
}

__u64 collector__mono_to_wall(const struct collector *c)
{
	return c->mono_to_wall_ns;
}

int collector__mark(struct collector *c, const char *text, size_t len,
		    __u64 ts_ns)
{
	union {			/* the record and room for its text */
		struct xt_rec_mark m;
		char buf[sizeof(struct xt_rec_mark) + XT_MARK_TEXT_MAX + 8];
	} r;

	if (len > XT_MARK_TEXT_MAX)
		return -E2BIG;
	memset(&r, 0, sizeof(struct xt_rec_mark) + len + 8);
	r.m.hdr.type = XT_REC_MARK;
	r.m.hdr.len = (sizeof(struct xt_rec_mark) + len + 7) & ~7u;
	r.m.ts_ns = ts_ns ? ts_ns : now_mono_ns();
	r.m.text_len = len;
	memcpy(r.m.text, text, len);
	c->ustats.marks_received++;
	return emit(c, &r.m.hdr);
}

json_t *collector__header(const struct collector *c)
{
	struct utsname u;
	json_t *h, *hk;
	char host[256];

	uname(&u);
	clean_str(host, u.nodename, sizeof(host));
	hk = json_pack("{s:s, s:s, s:s, s:b, s:s, s:s, s:s}",
		       "sock", hook_name(c->hooks.use[XT_C_SOCK]),
		       "state", hook_name(c->hooks.use[XT_C_STATE]),
		       "sched", hook_name(c->hooks.use[XT_C_SCHED]),
		       "iter_listeners", c->hooks.discovery == XT_DISC_ITER,
		       "io_clock", c->hooks.coarse_clock ? "coarse" : "precise",
		       "harvest", harvest_name(c->hooks.harvest),
		       "discovery", discovery_name(c->hooks.discovery));
	h = json_pack("{s:s, s:s, s:s, s:s, s:I, s:I, s:I, s:I, s:I, s:o, s:i}",
		      "format", "xfertrace.trace/1",
		      "host", host,
		      "kernel", u.release,
		      "arch", u.machine,
		      "start_mono_ns", (json_int_t)c->start_mono_ns,
		      "mono_to_wall_ns", (json_int_t)c->mono_to_wall_ns,
		      "boot_to_mono_ns",
		      (json_int_t)(now_mono_ns() - now_boot_ns()),
		      "interval_ms", (json_int_t)c->opts.interval_ms,
		      "burst_gap_ns", (json_int_t)c->opts.burst_gap_ns,
		      "hooks", hk,
		      "ncpus", c->ncpus);
	return h;
}

void collector__set_sink(struct collector *c, xt_sink_fn sink, void *ctx)
{
	c->opts.sink = sink;
	c->opts.sink_ctx = ctx;
}

const struct xt_hooks *collector__hooks(const struct collector *c)
{
	return &c->hooks;
}

struct xt_user_stats *collector__user_stats(struct collector *c)
{
	return &c->ustats;
}

int collector__ringbuf_fd(const struct collector *c)
{
	return ring_buffer__epoll_fd(c->rb);
}

/* Wall minus monotonic, from the tightest of a few bracketing reads. */
static __u64 clock_offset(void)
{
	__u64 best = ~0ull, off = 0;
	int i;

	for (i = 0; i < 5; i++) {
		__u64 w1 = now_wall_ns(), m = now_mono_ns();
		__u64 w2 = now_wall_ns();

		if (w2 - w1 < best) {
			best = w2 - w1;
			off = w1 + (w2 - w1) / 2 - m;
		}
	}
	return off;
}

static void set_autoload(struct xfertrace_bpf *s, const struct xt_hooks *h)
{
	enum xt_hook sk = h->use[XT_C_SOCK], st = h->use[XT_C_STATE];
	enum xt_hook sc = h->use[XT_C_SCHED];

	bpf_program__set_autoload(s->progs.send_btf, sk == XT_HOOK_TP_BTF);
	bpf_program__set_autoload(s->progs.recv_btf, sk == XT_HOOK_TP_BTF);
	bpf_program__set_autoload(s->progs.send_raw, sk == XT_HOOK_RAW_TP);
	bpf_program__set_autoload(s->progs.recv_raw, sk == XT_HOOK_RAW_TP);
	bpf_program__set_autoload(s->progs.send_fexit, sk == XT_HOOK_FEXIT);
	bpf_program__set_autoload(s->progs.recv_fexit,
				  sk == XT_HOOK_FEXIT && !h->recv_old_abi);
	bpf_program__set_autoload(s->progs.recv_fexit_old,
				  sk == XT_HOOK_FEXIT && h->recv_old_abi);
	bpf_program__set_autoload(s->progs.send_kprobe, sk == XT_HOOK_KPROBE);
	bpf_program__set_autoload(s->progs.send_kretprobe,
				  sk == XT_HOOK_KPROBE);
	bpf_program__set_autoload(s->progs.recv_kprobe, sk == XT_HOOK_KPROBE);
	bpf_program__set_autoload(s->progs.recv_kretprobe,
				  sk == XT_HOOK_KPROBE);
	bpf_program__set_autoload(s->progs.state_btf, st == XT_HOOK_TP_BTF);
	bpf_program__set_autoload(s->progs.state_raw, st == XT_HOOK_RAW_TP);
	bpf_program__set_autoload(s->progs.switch_btf, sc == XT_HOOK_TP_BTF);
	bpf_program__set_autoload(s->progs.switch_raw, sc == XT_HOOK_RAW_TP);
	bpf_program__set_autoload(s->progs.exec_btf, sc == XT_HOOK_TP_BTF);
	bpf_program__set_autoload(s->progs.exec_raw, sc == XT_HOOK_RAW_TP);
	bpf_program__set_autoload(s->progs.dump_listeners,
				  h->discovery == XT_DISC_ITER);
	bpf_program__set_autoload(s->progs.dump_conns,
				  h->harvest == XT_HARVEST_ITER);
	bpf_program__set_autoload(s->progs.dump_threads,
				  h->harvest == XT_HARVEST_ITER);
	/* Map iterators need their map: attached by hand after load. */
	bpf_program__set_autoattach(s->progs.dump_conns, false);
	bpf_program__set_autoattach(s->progs.dump_threads, false);
}

static struct bpf_link *attach_map_iter(struct bpf_program *prog,
					struct bpf_map *map)
{
	LIBBPF_OPTS(bpf_iter_attach_opts, io);
	union bpf_iter_link_info li = {};
	struct bpf_link *l;

	li.map.map_fd = bpf_map__fd(map);
	io.link_info = &li;
	io.link_info_len = sizeof(li);
	l = bpf_program__attach_iter(prog, &io);
	if (!l) {
		/* Harvests fall back to reading the whole map. */
		p_warn("map iterator for %s unavailable (%s); reading whole maps",
		       bpf_map__name(map), strerror(errno));
		return NULL;
	}
	return l;
}

static int libbpf_print(enum libbpf_print_level level, const char *fmt,
			va_list ap)
{
	/* Our own one-line error says what failed; -v shows libbpf's detail. */
	if (!xt_verbose)
		return 0;
	return vfprintf(stderr, fmt, ap);
}

static int configure(struct collector *c)
{
	struct xfertrace_bpf *s = c->skel;
	const struct collector_opts *o = &c->opts;

	s->rodata->burst_gap_ns = o->burst_gap_ns;
	s->rodata->note_dirty_keys = c->hooks.harvest == XT_HARVEST_NOTES;
	s->rodata->coarse_clock = c->hooks.coarse_clock;
	s->rodata->track_proc_active = !o->no_proc_active;
	s->rodata->kp_recv_old_abi = c->hooks.recv_old_abi;
	set_autoload(s, &c->hooks);
	if (bpf_map__set_max_entries(s->maps.conns, o->max_conns) ||
	    bpf_map__set_max_entries(s->maps.threads, o->max_threads) ||
	    bpf_map__set_max_entries(s->maps.procs, o->max_procs))
		return -EINVAL;
	/* The kprobe path's scratch map is useless elsewhere: keep it tiny. */
	if (c->hooks.use[XT_C_SOCK] != XT_HOOK_KPROBE)
		bpf_map__set_max_entries(s->maps.kp_inflight, 1);
	return 0;
}

static __u32 pow2_at_least(__u64 v, __u32 floor)
{
	__u32 n = floor;

	while (n < v && n < (1u << 22))
		n <<= 1;
	return n;
}

/*
 * Room for four times the tasks and TCP sockets there are now, and never
 * less than the floors: a harvest walks every bucket, so the maps should
 * not be much bigger than the machine needs. --max-* override it.
 */
static void size_maps(struct collector_opts *o)
{
	char buf[4096], *p;
	__u64 tasks = 0, tcp = 0;

	if (read_file("/proc/loadavg", buf, sizeof(buf)) > 0 &&
	    (p = strchr(buf, '/')))
		tasks = strtoull(p + 1, NULL, 10);
	if (read_file("/proc/net/sockstat", buf, sizeof(buf)) > 0 &&
	    (p = strstr(buf, "TCP: inuse ")))
		tcp = strtoull(p + 11, NULL, 10);
	if (!o->max_threads)
		o->max_threads = pow2_at_least(4 * tasks, XT_MAX_THREADS);
	if (!o->max_conns)
		o->max_conns = pow2_at_least(4 * tcp, XT_MAX_CONNS);
	if (!o->max_procs)
		o->max_procs = pow2_at_least(tasks, XT_MAX_PROCS);
}

int collector__new(const struct collector_opts *opts, struct collector **out)
{
	struct collector *c;
	int err;

	c = calloc(1, sizeof(*c));
	if (!c)
		return -ENOMEM;
	c->opts = *opts;
	size_maps(&c->opts);
	c->ncpus = libbpf_num_possible_cpus();
	c->procs_seen = hmap__new();
	c->conn_snaps = hmap__new();
	c->thread_snaps = hmap__new();
	c->proc_snaps = hmap__new();
	c->dirty = hmap__new();
	c->dirty_threads = hmap__new();
	c->kbuf = calloc(BATCH, sizeof(__u64));
	c->vbuf = calloc(BATCH, sizeof(struct xt_conn));
	if (c->ncpus <= 0 || !c->procs_seen || !c->conn_snaps ||
	    !c->thread_snaps || !c->proc_snaps || !c->dirty ||
	    !c->dirty_threads || !c->kbuf ||
	    !c->vbuf) {
		err = -ENOMEM;
		goto fail;
	}
	libbpf_set_print(libbpf_print);
	err = hooks__choose(&opts->paths, &c->hooks, stderr);
	if (err)
		goto fail;
	/*
	 * A dry run with an explicit TCP hook loads that path even where it
	 * cannot attach, so the verifier checks the fallback programs too.
	 */
	if (opts->dry_run && opts->paths.hook &&
	    c->hooks.use[XT_C_SOCK] != opts->paths.hook) {
		fprintf(stderr, "xfertrace: dry run: loading the %s path anyway, to verify it\n",
			hook_name(opts->paths.hook));
		c->hooks.use[XT_C_SOCK] = opts->paths.hook;
	}
	c->skel = xfertrace_bpf__open();
	if (!c->skel) {
		err = -errno;
		p_err("opening BPF skeleton failed: %s", strerror(-err));
		goto fail;
	}
	err = configure(c);
	if (err) {
		p_err("configuring BPF maps failed: %s", strerror(-err));
		goto fail;
	}
	err = xfertrace_bpf__load(c->skel);
	if (err) {
		p_err("loading BPF programs failed (%s); rerun with -v for the verifier log",
		      strerror(-err));
		goto fail;
	}
	/* Jiffies time bursts only if libbpf found the kernel's CONFIG_HZ. */
	c->hooks.coarse_clock = c->hooks.coarse_clock && c->skel->kconfig &&
				c->skel->kconfig->CONFIG_HZ;
	if (opts->paths.strict && opts->paths.clock == XT_CLOCK_COARSE &&
	    !c->hooks.coarse_clock) {
		err = -ENOTSUP;
		p_err("clock: the coarse clock needs CONFIG_HZ from the kernel config, which is not readable; drop --strict to fall back");
		goto fail;
	}
	c->rb = ring_buffer__new(bpf_map__fd(c->skel->maps.events), on_event,
				 c, NULL);
	if (!c->rb) {
		err = -errno;
		p_err("creating ring buffer failed: %s", strerror(-err));
		goto fail;
	}
	c->start_mono_ns = now_mono_ns();
	c->mono_to_wall_ns = clock_offset();
	if (opts->dry_run) {
		*out = c;
		return 0;
	}
	c->skel->bss->attach_boot_ns = now_boot_ns();
	err = xfertrace_bpf__attach(c->skel);
	if (err) {
		p_err("attaching BPF programs failed: %s", strerror(-err));
		goto fail;
	}
	if (c->hooks.harvest == XT_HARVEST_ITER) {
		c->conn_iter = attach_map_iter(c->skel->progs.dump_conns,
					       c->skel->maps.conns);
		c->thread_iter = attach_map_iter(c->skel->progs.dump_threads,
						 c->skel->maps.threads);
		if ((!c->conn_iter || !c->thread_iter) && opts->paths.strict) {
			err = -ENOTSUP;
			p_err("harvest: the iter path could not attach its map iterators; drop --strict to fall back");
			goto fail;
		}
		/* Without both, every harvest reads whole maps. */
		if (!c->conn_iter || !c->thread_iter)
			c->hooks.harvest = XT_HARVEST_MAP;
	}
	*out = c;
	return 0;
fail:
	collector__free(c);
	return err;
}

static void free_all(struct hmap *m)
{
	size_t pos = 0;
	__u64 key;
	void *v;

	if (!m)
		return;
	while (hmap__next(m, &pos, &key, &v))
		free(v);
	hmap__free(m);
}

void collector__free(struct collector *c)
{
	if (!c)
		return;
	ring_buffer__free(c->rb);
	bpf_link__destroy(c->conn_iter);
	bpf_link__destroy(c->thread_iter);
	xfertrace_bpf__destroy(c->skel);
	free(c->ibuf);
	free(c->pend);
	free_all(c->procs_seen);
	free_all(c->conn_snaps);
	free_all(c->thread_snaps);
	free_all(c->proc_snaps);
	hmap__free(c->dirty);
	hmap__free(c->dirty_threads);
	free(c->kbuf);
	free(c->vbuf);
	free(c);
}
