/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * The collector's rooms share this: struct collector and the calls
 * between them. Only user/collector.c and the modules it is made of
 * include it; everyone else sees user/collector.h.
 *   collector.c  lifecycle (new, harvest loop step, poll, free), ring events
 *   loader.c     which programs load, settings, map sizes, iterators
 *   harvest.c    map reads: iterator, notes or whole map; running threads
 *   snapshots.c  last values seen, delta records
 *   identity.c   /proc identity of processes, cgroup throttling
 *   discovery.c  listeners: events and the ones open at start
 */
#ifndef XT_COLLECTOR_PRIV_H
#define XT_COLLECTOR_PRIV_H

#include <stdbool.h>
#include "cgroup.h"
#include "collector.h"
#include "detail.h"
#include "hmap.h"
#include "kretprobe.h"
#include "procnet.h"
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
	struct kretprobe *kret[2];	/* kprobe path: send, recv returns */
	char *ibuf;			/* iterator read buffer */
	/* Listeners found in /proc, waiting for their owner's exact start. */
	struct procnet_listener *pend;
	int n_pend;
	bool stopped;
	struct hmap *dirty;		/* sockets noted since the last read */
	struct hmap *dirty_threads;	/* threads noted since the last read */
	bool lost_seen;			/* a note was lost: read whole maps */
	void *kbuf, *vbuf;
	struct detail *detail;		/* who gets on-CPU slices */
	struct hmap *detailed;		/* tgid -> start ns: in detail_pids */
	bool flush_off;			/* per-CPU flush refused: read at stop */
	bool any_detail;		/* some process is selected: flush */
};

#define REC_INIT(r, t) do {					\
	memset(&(r), 0, sizeof(r));				\
	(r).hdr.type = (t);					\
	(r).hdr.len = sizeof(r);				\
} while (0)

/* collector.c */
int collector__emit(struct collector *c, const void *rec);
void coll__detail_add(struct collector *c, __u32 pid, __u64 start_ns,
		      __u64 ts);

/* identity.c */
__u64 ident__tick_ns(void);
bool ident__proc_matches(__u32 pid, __u64 start_ns, __u32 *ppid);
/* PROC record for (pid, start) once; again when rename and comm changed. */
struct pseen *ident__proc_emit(struct collector *c, __u32 pid,
			       __u64 start_ns, __u64 netns, __u64 cgroup_id,
			       const char *comm, bool rename);
struct pseen *ident__ensure_proc(struct collector *c, __u32 pid,
				 __u64 start_ns, __u64 netns,
				 __u64 cgroup_id, const char *comm);
void ident__ensure_net_proc(struct collector *c, __u32 pid, __u64 start_ns,
			    __u64 netns, __u64 cgroup_id, const char *comm);
void ident__cgroups(struct collector *c, __u64 ts);

/* discovery.c */
void disc__emit_listen(struct collector *c, const struct xt_ev_listen *e,
		       __u32 open, __u64 ts);
void disc__pend_flush(struct collector *c, __u32 pid, __u64 start_ns);
void disc__pend_drain(struct collector *c);
int disc__listeners(struct collector *c);

/* snapshots.c */
void snap__conn_delta(struct collector *c, const struct xt_conn *k,
		      __u64 ts);
void snap__conn_final(struct collector *c, const struct xt_conn *k,
		      __u64 ts);
void snap__thread_delta(struct collector *c, const struct xt_thread *t,
			__u64 cpu_ns, __u64 ts);
void snap__thread_final(struct collector *c, const struct xt_thread *t,
			__u64 ts);

/* harvest.c */
void harvest__conns(struct collector *c);
void harvest__procs(struct collector *c);
int harvest__threads(struct collector *c);
void harvest__reap(struct collector *c, __u64 ts);

/* loader.c */
__u64 loader__clock_offset(void);
int loader__open(struct collector *c);
int loader__attach_kretprobes(struct collector *c);
int loader__libbpf_print(enum libbpf_print_level level, const char *fmt,
			 va_list ap);
int loader__configure(struct collector *c);
void loader__size_maps(struct collector_opts *o);
struct bpf_link *loader__attach_map_iter(struct bpf_program *prog,
					 struct bpf_map *map);

#endif
