/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/* Runtime probes: which hooks this kernel offers, and the fallback ladder. */
#ifndef XT_PROBE_H
#define XT_PROBE_H

#include <stdbool.h>
#include <stdio.h>

enum xt_hook {
	XT_HOOK_NONE = 0,
	XT_HOOK_TP_BTF,
	XT_HOOK_RAW_TP,
	XT_HOOK_FEXIT,
	XT_HOOK_KPROBE,
	XT_HOOK_MAX
};

/* Concerns, each with its own ladder. */
enum xt_concern {
	XT_C_SOCK,	/* TCP bytes */
	XT_C_STATE,	/* connection lifecycle */
	XT_C_SCHED,	/* CPU */
	XT_C_MAX
};

struct xt_hooks {
	enum xt_hook use[XT_C_MAX];
	bool iter_listeners;	/* iter/task_file + bpf_sock_from_file */
	bool iter_maps;		/* iter/bpf_map_elem (5.9): dirty-only harvest */
	bool recv_old_abi;	/* tcp_recvmsg still has the nonblock arg */
	bool coarse_clock;	/* bursts timed in jiffies (bpf_jiffies64) */
};

const char *hook_name(enum xt_hook h);
int hook_parse(const char *s, enum xt_hook *out);
const char *concern_name(enum xt_concern c);

/*
 * Walk each concern's ladder, starting with `want` when it is not NONE,
 * printing one line per step that is unavailable. Returns 0, -EPERM when
 * privileges are missing, or -ENOTSUP when a required concern (TCP bytes)
 * has no usable hook.
 */
int hooks__choose(enum xt_hook want, struct xt_hooks *out, FILE *log);
/* `xfertrace check`: print the full table. Returns 0 if tracing can run. */
int hooks__report(FILE *out);
/* One line telling the user how to get the privileges, if missing. */
int probe__privileges(void);

#endif
