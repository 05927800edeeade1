// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * Map reads, one path for sockets and threads: the changed-entries
 * iterator, the BPF side's notes with a periodic whole-map read, or the
 * whole map every time; plus running threads from /proc and the sweep of
 * entries whose close or exit never reached the ring buffer.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include "collector_priv.h"
#include "hmap.h"
#include "util.h"

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
		snap__conn_delta(c, k, ts);
		return;
	}
	/* Close event was lost to a full ring: take the entry atomically. */
	if (!bpf_map_lookup_and_delete_elem(bpf_map__fd(c->skel->maps.conns),
					    key, &fin)) {
		c->ustats.conns_reaped++;
		snap__conn_final(c, &fin, ts);
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
		ident__ensure_proc(c, pid, p->start_ns, 0, 0, "");
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
	collector__emit(c, &r);
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

void harvest__conns(struct collector *c)
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
int harvest__threads(struct collector *c)
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
		snap__thread_delta(c, &tv.v[j], thread_cpu_now(&tv.v[j], run, nrun),
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
		return ident__proc_matches(pid, start_ns, &ppid);
	snprintf(path, sizeof(path), "/proc/%u/task/%u", pid, tid);
	return access(path, F_OK) == 0;
}

/* Entries of tasks that died while the ring buffer was full. */
void harvest__reap(struct collector *c, __u64 ts)
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
			snap__thread_final(c, &th, ts);
		}
	}
	pos = 0;
	while (hmap__next(c->proc_snaps, &pos, &key, &v)) {
		struct psnap *s = v;
		__u32 ppid;

		if (s->seen + REAP_EVERY > c->harvests ||
		    ident__proc_matches(s->pid, s->start_ns, &ppid))
			continue;
		if (!bpf_map_lookup_and_delete_elem(pfd, &s->pid, &pr)) {
			on_proc(c, NULL, &s->pid, &pr, ts);
			free(hmap__del(c->proc_snaps, key));
		}
	}
}

/* Per-process transfer-active time: a small map, read whole. */
void harvest__procs(struct collector *c)
{
	map_walk(c, &(struct walk_desc){
		.map = c->skel->maps.procs, .ksz = sizeof(__u32),
		.vsz = sizeof(struct xt_proc), .fn = on_proc });
}
