// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * Delta snapshots: the last cumulative value seen per connection and
 * per thread, and the delta records that turn counters into a trace.
 * The first sighting of a connection or thread emits its identity.
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

/* A socket we have not reported yet: its process, then itself. */
struct snap *snap__conn(struct collector *c, const struct xt_conn *k)
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
	ident__ensure_net_proc(c, k->tgid, k->owner_start_ns, k->netns, k->cgroup_id,
			k->comm);
	REC_INIT(r, XT_REC_CONN);
	r.id = k->id;
	r.first_ns = k->first_ns;
	r.start_ns = k->owner_start_ns;
	r.netns = k->netns;
	r.cgroup_id = k->cgroup_id;
	r.pid = k->tgid;
	r.tuple = k->tuple;
	collector__emit(c, &r);
	return s;
}

void snap__conn_delta(struct collector *c, const struct xt_conn *k,
		       __u64 ts)
{
	const __u64 cur[5] = { k->tx_bytes, k->rx_bytes, k->tx_calls,
			       k->rx_calls, k->active_ns };
	struct xt_rec_conn_delta r;
	struct snap *s = snap__conn(c, k);
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
		collector__emit(c, &r);
}

void snap__conn_final(struct collector *c, const struct xt_conn *k,
		       __u64 ts)
{
	struct xt_rec_conn_close r;

	snap__conn_delta(c, k, ts);
	REC_INIT(r, XT_REC_CONN_CLOSE);
	r.ts_ns = ts;
	r.id = k->id;
	collector__emit(c, &r);
	free(hmap__del(c->conn_snaps, k->id));
}

struct tsnap *snap__thread(struct collector *c,
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
	ident__ensure_proc(c, t->tgid, t->leader_start_ns, 0, 0,
		    t->tid == t->tgid ? t->comm : "");
	REC_INIT(r, XT_REC_THREAD);
	r.tid = t->tid;
	r.pid = t->tgid;
	r.start_ns = t->start_ns;
	r.leader_start_ns = t->leader_start_ns;
	clean_str(r.comm, t->comm, sizeof(r.comm));
	collector__emit(c, &r);
	return s;
}

/* cpu_ns may include the run still in progress (see harvest_threads). */
void snap__thread_delta(struct collector *c, const struct xt_thread *t,
			 __u64 cpu_ns, __u64 ts)
{
	struct xt_rec_thread_delta r;
	struct tsnap *s = snap__thread(c, t);

	if (!s)
		return;
	if (t->tid == t->tgid && strncmp(s->comm, t->comm, XT_COMM_LEN)) {
		memcpy(s->comm, t->comm, sizeof(s->comm));
		ident__proc_emit(c, t->tgid, t->leader_start_ns, 0, 0, t->comm, true);
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
		collector__emit(c, &r);
	}
}

void snap__thread_final(struct collector *c, const struct xt_thread *t,
			 __u64 ts)
{
	__u64 key = hkey2(t->tid, t->start_ns);
	struct xt_rec_thread_exit r;

	snap__thread_delta(c, t, t->cpu_ns, ts);
	REC_INIT(r, XT_REC_THREAD_EXIT);
	r.ts_ns = ts;
	r.tid = t->tid;
	r.start_ns = t->start_ns;
	collector__emit(c, &r);
	free(hmap__del(c->thread_snaps, key));
}
