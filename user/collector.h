/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * The collection core shared by record, top and agent: loads the BPF
 * skeleton, learns listeners, and turns map counters into delta records
 * handed to a sink. Lifecycle: new (open, configure, load, attach),
 * poll/harvest in a loop, free.
 */
#ifndef XT_COLLECTOR_H
#define XT_COLLECTOR_H

#include <signal.h>
#include <jansson.h>
#include "probe.h"
#include "records.h"

struct collector;

struct collector_opts {
	__u32 interval_ms;		/* harvest period, for the header */
	__u64 burst_gap_ns;		/* transfer-active gap threshold */
	struct xt_paths paths;		/* hooks, harvest, discovery, clock */
	__u32 max_conns;
	__u32 max_threads;
	__u32 max_procs;
	__u32 ringbuf_bytes;		/* power of 2; 0: XT_RINGBUF_BYTES */
	bool no_proc_active;		/* skip per-process active time */
	bool dry_run;			/* load, do not attach */
	const char *detail;		/* --detail list ("": endpoints); NULL: none */
	xt_sink_fn sink;
	void *sink_ctx;
};

int collector__new(const struct collector_opts *opts, struct collector **out);
/* Where records go; set before the first poll or harvest. */
void collector__set_sink(struct collector *c, xt_sink_fn sink, void *ctx);
/* Consume ring buffer events for up to timeout_ms. */
int collector__poll(struct collector *c, int timeout_ms);
/* Read every map once and emit deltas, stats and an interval record. */
int collector__harvest(struct collector *c);
/* Detach every hook; a harvest after this one reads final counts. */
void collector__stop(struct collector *c);
/* Store a live mark stamped ts_ns (monotonic; 0 = now). */
int collector__mark(struct collector *c, const char *text, size_t len,
		    __u64 ts_ns);
/* CLOCK_REALTIME minus CLOCK_MONOTONIC, as in the trace header. */
__u64 collector__mono_to_wall(const struct collector *c);
/* Trace header: host, kernel, clocks, hooks. Caller owns the reference. */
json_t *collector__header(const struct collector *c);
const struct xt_hooks *collector__hooks(const struct collector *c);
struct xt_user_stats *collector__user_stats(struct collector *c);
/* Sum the kernel's per-CPU stats. */
int collector__kstats(const struct collector *c, struct xt_stats *out);
int collector__ringbuf_fd(const struct collector *c);
void collector__free(struct collector *c);

struct marksock;

/*
 * The loop every face runs: wait for ring events, marks and one face fd,
 * and call tick every interval (tick harvests). Overruns are counted.
 * Stops when *stop is set, or a callback returns non-zero: < 0 is an
 * error, > 0 a clean end (returned as 0).
 */
struct collector_run {
	__u64 interval_ns;
	struct marksock *ms;		/* live marks, or NULL */
	int face_fd;			/* stdin, HTTP server...; -1: none */
	volatile sig_atomic_t *stop;
	int (*tick)(void *ctx);		/* harvest and whatever follows */
	int (*wake)(void *ctx);		/* after every wakeup; may be NULL */
	int (*timeout_ms)(void *ctx);	/* a shorter poll bound, or -1 */
	void *ctx;
};

int collector__run(struct collector *c, const struct collector_run *r);

#endif
