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

/* How a harvest reads the socket and thread maps. */
enum xt_harvest {
	XT_HARVEST_AUTO = 0,
	XT_HARVEST_ITER,	/* iter/bpf_map_elem: changed entries only */
	XT_HARVEST_NOTES,	/* keys noted on the ring, periodic whole map */
	XT_HARVEST_MAP,		/* whole map every harvest */
	XT_HARVEST_MAX
};

/* How listeners that exist before the trace starts are found. */
enum xt_discovery {
	XT_DISC_AUTO = 0,
	XT_DISC_ITER,		/* iter/task_file + bpf_sock_from_file */
	XT_DISC_PROC,		/* /proc/net/tcp* and /proc/PID/fd */
	XT_DISC_MAX
};

/* Clock for send/recv bursts. */
enum xt_clock {
	XT_CLOCK_AUTO = 0,
	XT_CLOCK_COARSE,	/* jiffies (needs CONFIG_HZ) */
	XT_CLOCK_PRECISE,	/* the clock source */
	XT_CLOCK_MAX
};

/*
 * What the user asked for. Without strict, a path this kernel cannot take
 * is reported in one line and the next one is used; with strict it is an
 * error (tests force each path this way).
 */
struct xt_paths {
	enum xt_hook hook;
	enum xt_harvest harvest;
	enum xt_discovery discovery;
	enum xt_clock clock;
	bool strict;
};

struct xt_hooks {
	enum xt_hook use[XT_C_MAX];
	enum xt_harvest harvest;	/* chosen harvest path */
	enum xt_discovery discovery;	/* chosen discovery path */
	bool iter_listeners;	/* iter/task_file + bpf_sock_from_file */
	bool iter_maps;		/* iter/bpf_map_elem (5.9): dirty-only harvest */
	bool recv_old_abi;	/* tcp_recvmsg still has the nonblock arg */
	bool coarse_clock;	/* bursts timed in jiffies (bpf_jiffies64) */
};

const char *hook_name(enum xt_hook h);
int hook_parse(const char *s, enum xt_hook *out);
const char *harvest_name(enum xt_harvest h);
int harvest_parse(const char *s, enum xt_harvest *out);
const char *discovery_name(enum xt_discovery d);
int discovery_parse(const char *s, enum xt_discovery *out);
const char *clock_name(enum xt_clock k);
int clock_parse(const char *s, enum xt_clock *out);
/* Long options of every tracing face (record, top, agent). */
#define XT_OPT_HOOKS		0x100
#define XT_OPT_HARVEST		0x101
#define XT_OPT_DISCOVERY	0x102
#define XT_OPT_CLOCK		0x103
#define XT_OPT_PRECISE		0x104
#define XT_OPT_STRICT		0x105
#define XT_PATH_LONGOPTS						\
	{ "hooks", required_argument, NULL, XT_OPT_HOOKS },		\
	{ "harvest", required_argument, NULL, XT_OPT_HARVEST },		\
	{ "discovery", required_argument, NULL, XT_OPT_DISCOVERY },	\
	{ "clock", required_argument, NULL, XT_OPT_CLOCK },		\
	{ "precise-clock", no_argument, NULL, XT_OPT_PRECISE },		\
	{ "strict", no_argument, NULL, XT_OPT_STRICT }
#define XT_PATH_USAGE							\
	"  --hooks auto|tp_btf|raw_tp|fexit|kprobe   --harvest auto|iter|notes|map\n" \
	"  --discovery auto|iter|proc   --clock auto|coarse|precise   --strict\n"
/*
 * Handle one of XT_PATH_LONGOPTS for command cmd. Returns 0 when handled,
 * 1 when id is not one of them, -EINVAL (after one line) on a bad value.
 */
int paths__opt(struct xt_paths *p, int id, const char *arg, const char *cmd);
/* Defaults from XFERTRACE_HOOKS/_HARVEST/_DISCOVERY/_CLOCK/_STRICT. */
int paths__from_env(struct xt_paths *p);
const char *concern_name(enum xt_concern c);

/*
 * Walk each concern's ladder, starting with `want` when it is not NONE,
 * printing one line per step that is unavailable. Returns 0, -EPERM when
 * privileges are missing, or -ENOTSUP when a required concern (TCP bytes)
 * has no usable hook.
 */
int hooks__choose(const struct xt_paths *want, struct xt_hooks *out,
		  FILE *log);
/* `xfertrace check`: print the full table. Returns 0 if tracing can run. */
int hooks__report(FILE *out);
/* One line telling the user how to get the privileges, if missing. */
int probe__privileges(void);

#endif
