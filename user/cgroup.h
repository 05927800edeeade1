/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/* CPU throttling of a process's cgroup, from cpu.stat (v1 and v2). */
#ifndef XT_CGROUP_H
#define XT_CGROUP_H

#include <linux/types.h>

struct cg_cpu {
	__u64 nr_periods;
	__u64 nr_throttled;
	__u64 throttled_ns;
	__s64 quota_us;		/* -1: no limit */
	__u64 period_us;
};

/* Read the CPU controller files of pid's cgroup; 0 or negative errno. */
int cgroup__cpu_stat(__u32 pid, struct cg_cpu *out);

#endif
