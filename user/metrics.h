/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * The agent's Prometheus counters. Each harvest adds the model's window
 * (what moved since the last one) to series named by their labels, so a
 * counter only grows even when its connection or process is forgotten.
 * At most max_series label sets; past that, the rest add to an "other"
 * series and the number of label sets folded there is itself exported.
 */
#ifndef XT_METRICS_H
#define XT_METRICS_H

#include <stdio.h>
#include "records.h"

struct metrics;

struct ep_labels {
	const char *endpoint;
	const char *role;
	const char *pod;
	const char *ns;
	const char *container;
};

/* What the agent knows of itself and the kernel, for one exposition. */
struct metrics_self {
	const struct xt_stats *k;
	const struct xt_user_stats *u;
	double cpu_s;
	__u64 rss_bytes;
	__u64 trace_bytes;
	__u64 trace_files;
	__u64 trace_removed;
	int recording;
	__u64 live_conns;
	__u64 live_procs;
};

int metrics__new(const char *node, __u32 max_series, struct metrics **out);
void metrics__add_endpoint(struct metrics *mx, const struct ep_labels *l,
			   __u64 tx, __u64 rx, __u64 cpu_ns, __u64 runq_ns,
			   __u64 active_ns);
void metrics__add_pair(struct metrics *mx, const char *src, const char *dst,
		       __u64 tx, __u64 rx);
/* The text exposition format (version 0.0.4). */
int metrics__render(const struct metrics *mx, const struct metrics_self *s,
		    FILE *f);
/* Label value escaping of the exposition format; for the tests too. */
void metrics__escape(char *dst, size_t len, const char *src);
void metrics__free(struct metrics *mx);

#endif
