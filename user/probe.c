// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * Each probe loads a two-instruction program of the right type and
 * attaches it for real, so the answer includes privileges, lockdown and
 * missing kernel support alike; nothing stays attached afterwards.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <linux/bpf.h>
#include <bpf/bpf.h>
#include <bpf/btf.h>
#include <bpf/libbpf.h>
#include "kconfig.h"
#include "probe.h"
#include "util.h"

static const char *const hook_names[XT_HOOK_MAX] = {
	[XT_HOOK_NONE] = "none",
	[XT_HOOK_TP_BTF] = "tp_btf",
	[XT_HOOK_RAW_TP] = "raw_tp",
	[XT_HOOK_FEXIT] = "fexit",
	[XT_HOOK_KPROBE] = "kprobe",
};

static const char *const concern_names[XT_C_MAX] = {
	[XT_C_SOCK] = "tcp-bytes",
	[XT_C_STATE] = "tcp-state",
	[XT_C_SCHED] = "cpu",
};

/*
 * The fallback ladder, the one list of hooks: each concern's steps in
 * order of preference, with the tracepoint (tp_btf, raw_tp) or kernel
 * function (fexit, kprobe) each attaches to. walk(), `check` and the
 * collector's autoload table follow it.
 */
static const struct step {
	enum xt_concern c;
	enum xt_hook h;
	const char *target;
} ladder[] = {
	{ XT_C_SOCK, XT_HOOK_TP_BTF, "sock_send_length" },
	{ XT_C_SOCK, XT_HOOK_RAW_TP, "sock_send_length" },
	{ XT_C_SOCK, XT_HOOK_FEXIT, "tcp_sendmsg" },
	{ XT_C_SOCK, XT_HOOK_KPROBE, "tcp_sendmsg" },
	{ XT_C_STATE, XT_HOOK_TP_BTF, "inet_sock_set_state" },
	{ XT_C_STATE, XT_HOOK_RAW_TP, "inet_sock_set_state" },
	{ XT_C_SCHED, XT_HOOK_TP_BTF, "sched_switch" },
	{ XT_C_SCHED, XT_HOOK_RAW_TP, "sched_switch" },
};

#define N_STEPS ((int)(sizeof(ladder) / sizeof(ladder[0])))

/* The step of concern c with hook h, or NULL if h is not on its ladder. */
static const struct step *step_of(enum xt_concern c, enum xt_hook h)
{
	int i;

	for (i = 0; i < N_STEPS; i++)
		if (ladder[i].c == c && ladder[i].h == h)
			return &ladder[i];
	return NULL;
}

const char *hook_name(enum xt_hook h)
{
	return h < XT_HOOK_MAX ? hook_names[h] : "?";
}

const char *concern_name(enum xt_concern c)
{
	return concern_names[c];
}

int hook_parse(const char *s, enum xt_hook *out)
{
	int i;

	if (!strcmp(s, "auto")) {
		*out = XT_HOOK_NONE;
		return 0;
	}
	for (i = XT_HOOK_TP_BTF; i < XT_HOOK_MAX; i++)
		if (!strcmp(s, hook_names[i])) {
			*out = i;
			return 0;
		}
	return -EINVAL;
}

static const char *const harvest_names[XT_HARVEST_MAX] = {
	[XT_HARVEST_AUTO] = "auto",
	[XT_HARVEST_ITER] = "iter",
	[XT_HARVEST_NOTES] = "notes",
	[XT_HARVEST_MAP] = "map",
};

static const char *const discovery_names[XT_DISC_MAX] = {
	[XT_DISC_AUTO] = "auto",
	[XT_DISC_ITER] = "iter",
	[XT_DISC_PROC] = "proc",
};

static const char *const clock_names[XT_CLOCK_MAX] = {
	[XT_CLOCK_AUTO] = "auto",
	[XT_CLOCK_COARSE] = "coarse",
	[XT_CLOCK_PRECISE] = "precise",
};

static int name_parse(const char *s, const char *const *names, int n)
{
	int i;

	for (i = 0; i < n; i++)
		if (names[i] && !strcmp(s, names[i]))
			return i;
	return -EINVAL;
}

const char *harvest_name(enum xt_harvest h)
{
	return h < XT_HARVEST_MAX ? harvest_names[h] : "?";
}

int harvest_parse(const char *s, enum xt_harvest *out)
{
	int i = name_parse(s, harvest_names, XT_HARVEST_MAX);

	if (i < 0)
		return i;
	*out = i;
	return 0;
}

const char *discovery_name(enum xt_discovery d)
{
	return d < XT_DISC_MAX ? discovery_names[d] : "?";
}

int discovery_parse(const char *s, enum xt_discovery *out)
{
	int i = name_parse(s, discovery_names, XT_DISC_MAX);

	if (i < 0)
		return i;
	*out = i;
	return 0;
}

const char *clock_name(enum xt_clock k)
{
	return k < XT_CLOCK_MAX ? clock_names[k] : "?";
}

int clock_parse(const char *s, enum xt_clock *out)
{
	int i = name_parse(s, clock_names, XT_CLOCK_MAX);

	if (i < 0)
		return i;
	*out = i;
	return 0;
}

static int opt_bad(const char *cmd, const char *opt, const char *vals,
		   const char *arg)
{
	p_err("%s: --%s takes %s, not '%s'", cmd, opt, vals, arg);
	return -EINVAL;
}

int paths__opt(struct xt_paths *p, int id, const char *arg, const char *cmd)
{
	switch (id) {
	case XT_OPT_HOOKS:
		return hook_parse(arg, &p->hook) ?
		       opt_bad(cmd, "hooks", "auto, tp_btf, raw_tp, fexit or kprobe", arg) : 0;
	case XT_OPT_HARVEST:
		return harvest_parse(arg, &p->harvest) ?
		       opt_bad(cmd, "harvest", "auto, iter, notes or map", arg) : 0;
	case XT_OPT_DISCOVERY:
		return discovery_parse(arg, &p->discovery) ?
		       opt_bad(cmd, "discovery", "auto, iter or proc", arg) : 0;
	case XT_OPT_CLOCK:
		return clock_parse(arg, &p->clock) ?
		       opt_bad(cmd, "clock", "auto, coarse or precise", arg) : 0;
	case XT_OPT_PRECISE:
		p->clock = XT_CLOCK_PRECISE;
		return 0;
	case XT_OPT_STRICT:
		p->strict = true;
		return 0;
	}
	return 1;
}

/* The value of an environment variable, or NULL when unset or empty. */
static const char *env_val(const char *var)
{
	const char *v = getenv(var);

	return v && *v ? v : NULL;
}

static int env_bad(const char *var)
{
	p_err("%s='%s' is not a valid value", var, getenv(var));
	return -EINVAL;
}

int paths__from_env(struct xt_paths *p)
{
	const char *v;

	if ((v = env_val("XFERTRACE_HOOKS")) && hook_parse(v, &p->hook))
		return env_bad("XFERTRACE_HOOKS");
	if ((v = env_val("XFERTRACE_HARVEST")) && harvest_parse(v, &p->harvest))
		return env_bad("XFERTRACE_HARVEST");
	if ((v = env_val("XFERTRACE_DISCOVERY")) &&
	    discovery_parse(v, &p->discovery))
		return env_bad("XFERTRACE_DISCOVERY");
	if ((v = env_val("XFERTRACE_CLOCK")) && clock_parse(v, &p->clock))
		return env_bad("XFERTRACE_CLOCK");
	if ((v = env_val("XFERTRACE_STRICT")) && strcmp(v, "0"))
		p->strict = true;
	return 0;
}

static struct btf *vmlinux_btf(void)
{
	static struct btf *btf;
	static bool tried;

	if (!tried) {
		tried = true;
		btf = btf__load_vmlinux_btf();
		if (!btf)
			btf = NULL;
	}
	return btf;
}

static int btf_id(const char *name, int kind)
{
	struct btf *btf = vmlinux_btf();
	int id;

	if (!btf)
		return -ENOENT;
	id = btf__find_by_name_kind(btf, name, kind);
	return id < 0 ? -ENOENT : id;
}

static int load_trivial(enum bpf_prog_type type, enum bpf_attach_type att,
			int btf_id)
{
	struct bpf_insn insns[] = {
		{ .code = BPF_ALU64 | BPF_MOV | BPF_K, .dst_reg = 0, .imm = 0 },
		{ .code = BPF_JMP | BPF_EXIT },
	};
	LIBBPF_OPTS(bpf_prog_load_opts, opts,
		.expected_attach_type = att,
		.attach_btf_id = btf_id,
	);
	int fd;

	fd = bpf_prog_load(type, NULL, "GPL", insns, 2, &opts);
	return fd < 0 ? -errno : fd;
}

/* Load and attach a do-nothing program; 0 if it works, else -errno. */
static int try_hook(enum xt_hook h, const char *target)
{
	const char *tp = target, *func = target;
	char name[128];
	int id, fd, lfd = -1, err = 0;

	switch (h) {
	case XT_HOOK_TP_BTF:
		snprintf(name, sizeof(name), "btf_trace_%s", tp);
		id = btf_id(name, BTF_KIND_TYPEDEF);
		if (id < 0)
			return -ENOENT;
		fd = load_trivial(BPF_PROG_TYPE_TRACING, BPF_TRACE_RAW_TP, id);
		if (fd < 0)
			return fd;
		lfd = bpf_raw_tracepoint_open(NULL, fd);
		break;
	case XT_HOOK_RAW_TP:
		fd = load_trivial(BPF_PROG_TYPE_RAW_TRACEPOINT, 0, 0);
		if (fd < 0)
			return fd;
		lfd = bpf_raw_tracepoint_open(tp, fd);
		break;
	case XT_HOOK_FEXIT:
		id = btf_id(func, BTF_KIND_FUNC);
		if (id < 0)
			return -ENOENT;
		fd = load_trivial(BPF_PROG_TYPE_TRACING, BPF_TRACE_FEXIT, id);
		if (fd < 0)
			return fd;
		lfd = bpf_raw_tracepoint_open(NULL, fd);
		break;
	case XT_HOOK_KPROBE:
		/* Without the kprobe PMU or kprobe_events, nothing to try. */
		if (access("/sys/bus/event_source/devices/kprobe/type", R_OK) &&
		    access("/sys/kernel/tracing/kprobe_events", W_OK) &&
		    access("/sys/kernel/debug/tracing/kprobe_events", W_OK))
			return -EOPNOTSUPP;
		return 0;
	default:
		return -EINVAL;
	}
	if (lfd < 0)
		err = -errno;
	else
		close(lfd);
	close(fd);
	return err;
}

static const char *why(int err)
{
	switch (err) {
	case -ENOENT:
		return "not in this kernel";
	case -EPERM:
	case -EACCES:
		return "not permitted (EPERM)";
	case -EOPNOTSUPP:
	case -524:	/* kernel-internal ENOTSUPP */
		return "not supported by this kernel build";
	default:
		return strerror(-err);
	}
}

static enum xt_hook walk(enum xt_concern c, enum xt_hook want, FILE *log)
{
	const struct step *order[N_STEPS + 1];
	int i, n = 0, err;

	if (want && step_of(c, want))
		order[n++] = step_of(c, want);
	for (i = 0; i < N_STEPS; i++)
		if (ladder[i].c == c && ladder[i].h != want)
			order[n++] = &ladder[i];
	for (i = 0; i < n; i++) {
		err = try_hook(order[i]->h, order[i]->target);
		if (!err)
			return order[i]->h;
		if (log)
			fprintf(log, "xfertrace: %s: %s unavailable (%s)%s%s\n",
				concern_names[c], hook_names[order[i]->h],
				why(err), i + 1 < n ? ", trying " : "",
				i + 1 < n ? hook_names[order[i + 1]->h] : "");
	}
	return XT_HOOK_NONE;
}

static bool recv_old_abi(void)
{
	struct btf *btf = vmlinux_btf();
	const struct btf_type *t;
	int id = btf_id("tcp_recvmsg", BTF_KIND_FUNC);

	if (id < 0 || !btf)
		return false;
	t = btf__type_by_id(btf, id);
	t = t ? btf__type_by_id(btf, t->type) : NULL;
	return t && btf_vlen(t) == 6;
}

/* Does this kernel's enum bpf_func_id name the helper? */
static bool helper_exists(const char *name)
{
	struct btf *btf = vmlinux_btf();
	const struct btf_enum *e;
	const struct btf_type *t;
	int id, i;

	id = btf_id("bpf_func_id", BTF_KIND_ENUM);
	t = id < 0 ? NULL : btf__type_by_id(btf, id);
	if (!t)
		return false;
	e = btf_enum(t);
	for (i = 0; i < btf_vlen(t); i++, e++)
		if (!strcmp(btf__name_by_offset(btf, e->name_off), name))
			return true;
	return false;
}

/*
 * Tests make this kernel look like one that refuses a feature:
 * XFERTRACE_REFUSE=map_iter,task_iter. Never needed in production.
 */
static bool refused(const char *what)
{
	const char *v = getenv("XFERTRACE_REFUSE");
	size_t n = strlen(what);

	while (v && *v) {
		if (!strncmp(v, what, n) && (v[n] == ',' || !v[n]))
			return true;
		v = strchr(v, ',');
		v = v ? v + 1 : NULL;
	}
	return false;
}

/* iter/task_file (5.8) plus the bpf_sock_from_file helper (5.11). */
static bool iter_listeners_ok(void)
{
	return !refused("task_iter") &&
	       btf_id("bpf_iter__task_file", BTF_KIND_STRUCT) >= 0 &&
	       helper_exists("BPF_FUNC_sock_from_file");
}

/* Map element iterators (5.9): some kernels refuse them (EPERM). */
static bool iter_maps_ok(void)
{
	int id = btf_id("bpf_iter_bpf_map_elem", BTF_KIND_FUNC), fd;

	if (id < 0 || refused("map_iter"))
		return false;
	fd = load_trivial(BPF_PROG_TYPE_TRACING, BPF_TRACE_ITER, id);
	if (fd < 0)
		return false;
	close(fd);
	return true;
}

/* Effective capability set, from /proc/self/status (0 if unreadable). */
static __u64 cap_eff(void)
{
	char buf[4096], *p;
	int n = read_file("/proc/self/status", buf, sizeof(buf));

	if (n <= 0)
		return 0;
	p = strstr(buf, "\nCapEff:");
	return p ? strtoull(p + 8, NULL, 16) : 0;
}

/*
 * Name the capabilities that are missing. CAP_SYS_RESOURCE (for
 * RLIMIT_MEMLOCK) matters only before Linux 5.11: since then BPF memory
 * is charged to the memory cgroup, and libbpf 1.x (strict by default)
 * raises the limit only where the kernel lacks that accounting.
 */
static void explain_eperm(void)
{
	__u64 eff = cap_eff(), bit = 1;
	bool admin = eff & (bit << 21);
	char miss[96] = "";

	if (!admin && !(eff & (bit << 39)))
		strcat(miss, "CAP_BPF");
	if (!admin && !(eff & (bit << 38)))
		strcat(miss, *miss ? " and CAP_PERFMON" : "CAP_PERFMON");
	if (*miss)
		p_err("not permitted to load BPF programs: %s %s missing (or CAP_SYS_ADMIN); run as root or grant them (in Kubernetes, a privileged pod)",
		      miss, strchr(miss, ' ') ? "are" : "is");
	else
		p_err("not permitted to load BPF programs although CAP_BPF and CAP_PERFMON are held: a security module or kernel.unprivileged_bpf_disabled refuses; run as root in the host's namespaces (in Kubernetes, a privileged pod)");
}

int probe__privileges(void)
{
	int fd = load_trivial(BPF_PROG_TYPE_RAW_TRACEPOINT, 0, 0);

	if (fd >= 0) {
		close(fd);
		return 0;
	}
	if (fd == -EPERM || fd == -EACCES) {
		explain_eperm();
		return -EPERM;
	}
	p_err("cannot load BPF programs (%s): this kernel needs CONFIG_BPF_SYSCALL", strerror(-fd));
	return fd;
}

/* A forced hook that this kernel cannot take: error under strict. */
static int strict_hook(const struct xt_paths *want, enum xt_concern c)
{
	const struct step *st = step_of(c, want->hook);
	int err;

	if (!want->hook || !st)
		return 0;
	err = try_hook(st->h, st->target);
	if (!err)
		return 0;
	p_err("%s: the %s path cannot load on this kernel (%s); drop --strict to fall back",
	      concern_names[c], hook_names[want->hook], why(err));
	return -ENOTSUP;
}

/* Pick a harvest path: iterators where permitted, else notes. */
static int choose_harvest(const struct xt_paths *want, struct xt_hooks *out,
			  FILE *log)
{
	enum xt_harvest h = want->harvest;

	if (h == XT_HARVEST_AUTO)
		h = out->iter_maps ? XT_HARVEST_ITER : XT_HARVEST_NOTES;
	if (h == XT_HARVEST_ITER && !out->iter_maps) {
		if (want->strict) {
			p_err("harvest: the iter path needs BPF map iterators, which this kernel refuses; drop --strict to fall back");
			return -ENOTSUP;
		}
		if (log)
			fprintf(log, "xfertrace: harvest: iter unavailable (map iterators refused), using notes\n");
		h = XT_HARVEST_NOTES;
	}
	out->harvest = h;
	return 0;
}

/* Pick a discovery path: the file iterator where it loads, else /proc. */
static int choose_discovery(const struct xt_paths *want,
			    struct xt_hooks *out, FILE *log)
{
	enum xt_discovery d = want->discovery;

	if (d == XT_DISC_AUTO)
		d = out->iter_listeners ? XT_DISC_ITER : XT_DISC_PROC;
	if (d == XT_DISC_ITER && !out->iter_listeners) {
		if (want->strict) {
			p_err("discovery: the iter path needs iter/task_file and bpf_sock_from_file (Linux 5.11+); drop --strict to fall back");
			return -ENOTSUP;
		}
		if (log)
			fprintf(log, "xfertrace: discovery: iter unavailable (needs Linux 5.11+), using /proc\n");
		d = XT_DISC_PROC;
	}
	out->discovery = d;
	out->iter_listeners = d == XT_DISC_ITER;
	return 0;
}

/* Pick the burst clock; coarse may still turn precise at load (no HZ). */
static int choose_clock(const struct xt_paths *want, struct xt_hooks *out)
{
	bool jiffies = helper_exists("BPF_FUNC_jiffies64");

	if (want->clock == XT_CLOCK_COARSE && !jiffies && want->strict) {
		p_err("clock: the coarse clock needs the bpf_jiffies64 helper (Linux 5.5+); drop --strict to fall back");
		return -ENOTSUP;
	}
	out->coarse_clock = jiffies && want->clock != XT_CLOCK_PRECISE;
	return 0;
}

int hooks__choose(const struct xt_paths *want, struct xt_hooks *out,
		  FILE *log)
{
	int c, err;

	memset(out, 0, sizeof(*out));
	err = probe__privileges();
	if (err)
		return err;
	if (!vmlinux_btf()) {
		p_err("kernel BTF is missing (/sys/kernel/btf/vmlinux): xfertrace needs a kernel built with CONFIG_DEBUG_INFO_BTF=y");
		return -ENOTSUP;
	}
	for (c = 0; c < XT_C_MAX; c++) {
		if (want->strict && (err = strict_hook(want, c)))
			return err;
		out->use[c] = walk(c, want->hook, log);
	}
	out->recv_old_abi = recv_old_abi();
	out->iter_listeners = iter_listeners_ok();
	out->iter_maps = iter_maps_ok();
	err = choose_harvest(want, out, log);
	if (!err)
		err = choose_discovery(want, out, log);
	if (!err)
		err = choose_clock(want, out);
	if (err)
		return err;
	if (!out->use[XT_C_SOCK]) {
		p_err("no usable hook for TCP bytes on this kernel: it needs sock_send_length tracepoints (6.3+), fexit or kprobes");
		return -ENOTSUP;
	}
	if (!out->use[XT_C_SCHED] && log)
		fprintf(log, "xfertrace: cpu: no usable hook; CPU columns will read 0\n");
	if (!out->use[XT_C_STATE] && log)
		fprintf(log, "xfertrace: tcp-state: no usable hook; listeners are learned only at start\n");
	return 0;
}

/* Which burst clock a load would use, and where CONFIG_HZ came from. */
static int report_clock(FILE *f, const struct xt_hooks *hk)
{
	struct kconfig *k;
	int err = kconfig__load(&k);

	if (err)
		return err;
	if (kconfig__hz(k))
		fprintf(f, "kernel config: CONFIG_HZ=%u from %s\n",
			kconfig__hz(k), kconfig__source(k));
	else
		fprintf(f, "kernel config: none readable (tried %s)\n",
			kconfig__tried(k));
	fprintf(f, "send/recv burst clock: %s\n",
		!hk->coarse_clock ? "precise (the clock source)" :
		kconfig__hz(k) ? "coarse (jiffies)" :
		"precise (the clock source: CONFIG_HZ unknown)");
	kconfig__free(k);
	return 0;
}

int hooks__report(FILE *f)
{
	struct xt_paths want = {};
	struct xt_hooks hk;
	int c, i, err;

	err = probe__privileges();
	if (err)
		return err;
	fprintf(f, "%-10s %-8s %-22s %s\n", "CONCERN", "HOOK", "TARGET",
		"STATUS");
	for (i = 0; i < N_STEPS; i++) {
		int e = try_hook(ladder[i].h, ladder[i].target);

		fprintf(f, "%-10s %-8s %-22s %s\n", concern_names[ladder[i].c],
			hook_names[ladder[i].h], ladder[i].target,
			e ? why(e) : "ok");
	}
	err = paths__from_env(&want);
	if (!err)
		err = hooks__choose(&want, &hk, NULL);
	if (err)
		return err;
	fprintf(f, "listener discovery at start: %s\n",
		hk.discovery == XT_DISC_ITER ? "iter (iter/task_file)" :
		hk.iter_listeners ? "proc (/proc, as asked)" :
		"proc (/proc: no bpf_sock_from_file before Linux 5.11)");
	fprintf(f, "harvest reads: %s\n",
		hk.harvest == XT_HARVEST_ITER ?
		"iter (changed entries only, iter/bpf_map_elem)" :
		hk.harvest == XT_HARVEST_MAP ? "map (whole maps every harvest)" :
		hk.iter_maps ? "notes (changed entries noted on the ring buffer, as asked)" :
		"notes (changed entries noted on the ring buffer; map iterators refused here)");
	err = report_clock(f, &hk);
	if (err)
		return err;
	for (c = 0; c < XT_C_MAX; c++)
		fprintf(f, "will use for %s: %s\n", concern_names[c],
			hook_name(hk.use[c]));
	fprintf(f, "privileges: ok\n");
	return 0;
}
