/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * Listener discovery from /proc, for kernels without the BPF file
 * iterator path (before 5.11): /proc/PID/net/tcp{,6} per network
 * namespace, and /proc/PID/fd to find each socket's owner.
 */
#ifndef XT_PROCNET_H
#define XT_PROCNET_H

#include <linux/types.h>
#include "xfertrace.h"

struct procnet_listener {
	__u32 pid;
	__u32 backlog;		/* unknown here: 0 */
	__u64 start_ticks;	/* /proc/PID/stat starttime */
	__u64 netns;
	struct xt_tuple tuple;
	char comm[XT_COMM_LEN];
};

/* Every listening TCP socket and its owner; *out is malloc'd. */
int procnet__listeners(struct procnet_listener **out, int *n);

#endif
