// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * Listeners: LISTEN records from the state hook, and the listening
 * sockets that already exist when the trace starts, found by the BPF
 * file iterator or, on older kernels, from /proc.
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
#include "procnet.h"
#include "util.h"

void disc__emit_listen(struct collector *c, const struct xt_ev_listen *e,
			__u32 open, __u64 ts)
{
	struct xt_rec_listen r;

	if (open && detail__listener(c->detail, &e->tuple))
		coll__detail_add(c, e->tgid, e->start_ns, ts);

	ident__ensure_net_proc(c, e->tgid, e->start_ns, e->netns, 0, e->comm);
	REC_INIT(r, XT_REC_LISTEN);
	r.ts_ns = ts;
	r.start_ns = e->start_ns;
	r.netns = e->netns;
	r.pid = e->tgid;
	r.open = open;
	r.tuple = e->tuple;
	r.backlog = e->backlog;
	collector__emit(c, &r);
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
	disc__emit_listen(c, &e, 1, c->start_mono_ns);
}

/*
 * /proc gives a process's start in clock ticks; records need the exact
 * start_boottime that BPF reports, or one process would become two. So a
 * listener found in /proc waits until BPF shows its owner.
 */
void disc__pend_flush(struct collector *c, __u32 pid, __u64 start_ns)
{
	int i, n = 0;

	for (i = 0; i < c->n_pend; i++) {
		struct procnet_listener p = c->pend[i];

		if (p.pid == pid && p.start_ticks == start_ns / ident__tick_ns())
			pend_emit(c, &p, start_ns);
		else
			c->pend[n++] = p;
	}
	c->n_pend = n;
}

/* Those never seen by the end: the tick-grained start is all there is. */
void disc__pend_drain(struct collector *c)
{
	int i;

	for (i = 0; i < c->n_pend; i++)
		pend_emit(c, &c->pend[i], c->pend[i].start_ticks * ident__tick_ns());
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

		disc__pend_flush(c, p->pid, p->start_ns);
	}
	return n;
}

/* Startup discovery: every listening socket that exists right now. */
int disc__listeners(struct collector *c)
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
		disc__emit_listen(c, &e, 1, ts);
		n++;
	}
	hmap__free(dup);
	close(fd);
	return n;
}
