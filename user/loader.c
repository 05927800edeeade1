// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * The skeleton's life before the first harvest: which programs load
 * (the hook ladder's choice), settings written between open and load,
 * map sizes, map iterators attached by hand, and libbpf's messages.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include "collector_priv.h"
#include "kconfig.h"
#include "util.h"

/* Wall minus monotonic, from the tightest of a few bracketing reads. */
__u64 loader__clock_offset(void)
{
	__u64 best = ~0ull, off = 0;
	int i;

	for (i = 0; i < 5; i++) {
		__u64 w1 = now_wall_ns(), m = now_mono_ns();
		__u64 w2 = now_wall_ns();

		if (w2 - w1 < best) {
			best = w2 - w1;
			off = w1 + (w2 - w1) / 2 - m;
		}
	}
	return off;
}

/*
 * Which hook each BPF program serves: the chosen step of its concern's
 * ladder (probe.c) loads, the others stay out. abi picks one of the two
 * tcp_recvmsg signatures (0: either).
 */
static const struct prog_use {
	const char *name;
	enum xt_concern c;
	enum xt_hook h;
	int abi;		/* 1: 5.19+ tcp_recvmsg, 2: older */
} prog_uses[] = {
	{ "send_btf", XT_C_SOCK, XT_HOOK_TP_BTF },
	{ "recv_btf", XT_C_SOCK, XT_HOOK_TP_BTF },
	{ "send_raw", XT_C_SOCK, XT_HOOK_RAW_TP },
	{ "recv_raw", XT_C_SOCK, XT_HOOK_RAW_TP },
	{ "send_fexit", XT_C_SOCK, XT_HOOK_FEXIT },
	{ "recv_fexit", XT_C_SOCK, XT_HOOK_FEXIT, 1 },
	{ "recv_fexit_old", XT_C_SOCK, XT_HOOK_FEXIT, 2 },
	{ "send_kprobe", XT_C_SOCK, XT_HOOK_KPROBE },
	{ "send_kretprobe", XT_C_SOCK, XT_HOOK_KPROBE },
	{ "recv_kprobe", XT_C_SOCK, XT_HOOK_KPROBE },
	{ "recv_kretprobe", XT_C_SOCK, XT_HOOK_KPROBE },
	{ "state_btf", XT_C_STATE, XT_HOOK_TP_BTF },
	{ "state_raw", XT_C_STATE, XT_HOOK_RAW_TP },
	{ "switch_btf", XT_C_SCHED, XT_HOOK_TP_BTF },
	{ "switch_raw", XT_C_SCHED, XT_HOOK_RAW_TP },
	{ "exec_btf", XT_C_SCHED, XT_HOOK_TP_BTF },
	{ "exec_raw", XT_C_SCHED, XT_HOOK_RAW_TP },
};

/* Does the program serve a chosen hook? -ENOENT if it is not listed. */
static int prog_wanted(const char *name, const struct xt_hooks *h)
{
	size_t i;

	for (i = 0; i < sizeof(prog_uses) / sizeof(prog_uses[0]); i++) {
		const struct prog_use *u = &prog_uses[i];

		if (strcmp(u->name, name))
			continue;
		return h->use[u->c] == u->h &&
		       (!u->abi || u->abi == (h->recv_old_abi ? 2 : 1));
	}
	return -ENOENT;
}

/* Programs not in the table (iterators) are set here by name. */
static void set_autoload(struct xfertrace_bpf *s, const struct xt_hooks *h)
{
	struct bpf_program *prog;
	int want;

	bpf_object__for_each_program(prog, s->obj) {
		want = prog_wanted(bpf_program__name(prog), h);
		if (want >= 0)
			bpf_program__set_autoload(prog, want);
	}
	bpf_program__set_autoload(s->progs.dump_listeners,
				  h->discovery == XT_DISC_ITER);
	bpf_program__set_autoload(s->progs.dump_conns,
				  h->harvest == XT_HARVEST_ITER);
	bpf_program__set_autoload(s->progs.dump_threads,
				  h->harvest == XT_HARVEST_ITER);
	/* kretprobes with room for many blocked callers: by hand (kretprobe.h). */
	bpf_program__set_autoattach(s->progs.send_kretprobe, false);
	bpf_program__set_autoattach(s->progs.recv_kretprobe, false);
	/* Map iterators need their map: attached by hand after load. */
	bpf_program__set_autoattach(s->progs.dump_conns, false);
	bpf_program__set_autoattach(s->progs.dump_threads, false);
}

struct bpf_link *loader__attach_map_iter(struct bpf_program *prog,
					struct bpf_map *map)
{
	LIBBPF_OPTS(bpf_iter_attach_opts, io);
	union bpf_iter_link_info li = {};
	struct bpf_link *l;

	li.map.map_fd = bpf_map__fd(map);
	io.link_info = &li;
	io.link_info_len = sizeof(li);
	l = bpf_program__attach_iter(prog, &io);
	if (!l) {
		/* Harvests fall back to reading the whole map. */
		p_warn("map iterator for %s unavailable (%s); reading whole maps",
		       bpf_map__name(map), strerror(errno));
		return NULL;
	}
	return l;
}

int loader__libbpf_print(enum libbpf_print_level level, const char *fmt,
			va_list ap)
{
	/* Our own one-line error says what failed; -v shows libbpf's detail. */
	if (!xt_verbose)
		return 0;
	return vfprintf(stderr, fmt, ap);
}

int loader__configure(struct collector *c)
{
	struct xfertrace_bpf *s = c->skel;
	const struct collector_opts *o = &c->opts;

	s->rodata->burst_gap_ns = o->burst_gap_ns;
	s->rodata->note_dirty_keys = c->hooks.harvest == XT_HARVEST_NOTES;
	s->rodata->coarse_clock = c->hooks.coarse_clock;
	s->rodata->track_proc_active = !o->no_proc_active;
	s->rodata->kp_recv_old_abi = c->hooks.recv_old_abi;
	s->rodata->detail_all = detail__all(c->detail);
	set_autoload(s, &c->hooks);
	bpf_program__set_autoattach(s->progs.flush_slices, false);
	if (o->ringbuf_bytes) {
		if (bpf_map__set_max_entries(s->maps.events, o->ringbuf_bytes))
			return -EINVAL;
		s->rodata->rb_wake_bytes = o->ringbuf_bytes / 2;
	}
	if (bpf_map__set_max_entries(s->maps.conns, o->max_conns) ||
	    bpf_map__set_max_entries(s->maps.threads, o->max_threads) ||
	    bpf_map__set_max_entries(s->maps.procs, o->max_procs))
		return -EINVAL;
	/* The kprobe path's scratch map is useless elsewhere: keep it tiny. */
	if (c->hooks.use[XT_C_SOCK] != XT_HOOK_KPROBE)
		bpf_map__set_max_entries(s->maps.kp_inflight, 1);
	return 0;
}

static __u32 pow2_at_least(__u64 v, __u32 floor)
{
	__u32 n = floor;

	while (n < v && n < (1u << 22))
		n <<= 1;
	return n;
}

/*
 * Room for four times the tasks and TCP sockets there are now, and never
 * less than the floors: a harvest walks every bucket, so the maps should
 * not be much bigger than the machine needs. --max-* override it.
 */
void loader__size_maps(struct collector_opts *o)
{
	char buf[4096], *p;
	__u64 tasks = 0, tcp = 0;

	if (read_file("/proc/loadavg", buf, sizeof(buf)) > 0 &&
	    (p = strchr(buf, '/')))
		tasks = strtoull(p + 1, NULL, 10);
	if (read_file("/proc/net/sockstat", buf, sizeof(buf)) > 0 &&
	    (p = strstr(buf, "TCP: inuse ")))
		tcp = strtoull(p + 11, NULL, 10);
	if (!o->max_threads)
		o->max_threads = pow2_at_least(4 * tasks, XT_MAX_THREADS);
	if (!o->max_conns)
		o->max_conns = pow2_at_least(4 * tcp, XT_MAX_CONNS);
	if (!o->max_procs)
		o->max_procs = pow2_at_least(tasks, XT_MAX_PROCS);
}

/*
 * Every thread asleep in tcp_recvmsg holds a kretprobe instance; the
 * default max(10, 2 * CPUs) loses the returns of the rest. Ask tracefs for
 * the most the kernel allows, else take the default and say so.
 */
#define KRET_MAXACTIVE	4096

int loader__attach_kretprobes(struct collector *c)
{
	struct bpf_program *p[2] = { c->skel->progs.send_kretprobe,
				     c->skel->progs.recv_kretprobe };
	static const char *const fn[2] = { "tcp_sendmsg", "tcp_recvmsg" };
	struct bpf_link *l;
	int i, err;

	for (i = 0; i < 2; i++) {
		err = kretprobe__attach(p[i], fn[i], KRET_MAXACTIVE,
					&c->kret[i]);
		if (!err)
			continue;
		p_warn("kretprobe on %s: no tracefs event (%s); at most 10 or 2 per CPU blocked callers are counted",
		       fn[i], strerror(-err));
		l = bpf_program__attach(p[i]);
		if (!l)
			return -errno;
		/* The skeleton's destroy frees it with the others. */
		*(i ? &c->skel->links.recv_kretprobe :
		      &c->skel->links.send_kretprobe) = l;
	}
	return 0;
}

/*
 * Open the skeleton with the kernel config values we found ourselves, so
 * libbpf never needs /boot or /proc/config.gz (kconfig.h).
 */
int loader__open(struct collector *c)
{
	LIBBPF_OPTS(bpf_object_open_opts, oo);
	struct kconfig *k;
	int err;

	err = kconfig__load(&k);
	if (err)
		return err;
	oo.kconfig = kconfig__libbpf(k);
	if (!kconfig__hz(k) && c->hooks.coarse_clock)
		fprintf(stderr, "xfertrace: no kernel config readable (%s): CONFIG_HZ unknown, bursts timed with the precise clock\n",
			kconfig__tried(k));
	c->skel = xfertrace_bpf__open_opts(&oo);
	err = c->skel ? 0 : -errno;
	kconfig__free(k);
	if (err)
		p_err("opening BPF skeleton failed: %s", strerror(-err));
	return err;
}
