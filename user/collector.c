// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * Collection core. The BPF maps hold cumulative counters; we remember
 * the last value seen per entry and emit the difference. Nothing is
 * deleted to reset a counter, so nothing that arrives between a read and
 * a delete can be lost. Entries leave the maps in two ways only: the BPF
 * side deletes a closed socket or dead thread after queueing its final
 * counts on the ring buffer, or we take a leftover out with one atomic
 * lookup-and-delete.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/utsname.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include "collector_priv.h"
#include "util.h"

int collector__emit(struct collector *c, const void *rec)
{
	int err = c->opts.sink(c->opts.sink_ctx, rec);

	if (err && !c->err)
		c->err = err;
	if (err)
		c->ustats.write_errors++;
	return err;
}

/* Slices for this process from now on; told to the trace once. */
void coll__detail_add(struct collector *c, __u32 pid, __u64 start_ns,
		       __u64 ts)
{
	struct xt_rec_detail r;
	__u32 one = 1;
	void *had = hmap__get(c->detailed, pid);

	if (had && (__u64)(unsigned long)had == start_ns + 1)
		return;
	if (bpf_map_update_elem(bpf_map__fd(c->skel->maps.detail_pids), &pid,
				&one, BPF_ANY))
		return;
	hmap__put(c->detailed, pid, (void *)(unsigned long)(start_ns + 1));
	c->any_detail = true;
	__atomic_add_fetch(&c->skel->data->detail_gen, 1, __ATOMIC_SEQ_CST);
	/* Not the listen time: threads are covered from their next switch. */
	REC_INIT(r, XT_REC_DETAIL);
	r.ts_ns = ts > now_mono_ns() ? ts : now_mono_ns();
	r.start_ns = start_ns;
	r.pid = pid;
	collector__emit(c, &r);
}

/* Slices of one thread out of a batch: one record per thread. */
static void emit_thread_slices(struct collector *c,
			       const struct xt_ev_slices *b, __u32 first,
			       bool *done)
{
	/* Room for the header and XT_SLICES_MAX entries, 8-byte aligned. */
	__u64 buf[(sizeof(struct xt_rec_slices) +
		   XT_SLICES_MAX * sizeof(struct xt_rec_slice)) / 8];
	struct xt_rec_slices *r = (struct xt_rec_slices *)buf;
	const struct xt_slice *k = &b->s[first];
	__u32 i;

	memset(r, 0, sizeof(*r));
	r->hdr.type = XT_REC_SLICES;
	r->start_ns = k->start_ns;
	r->tid = k->tid;
	r->pid = k->tgid;
	for (i = first; i < b->n && i < XT_SLICE_BATCH; i++) {
		const struct xt_slice *x = &b->s[i];

		if (done[i] || x->tid != k->tid || x->start_ns != k->start_ns)
			continue;
		done[i] = true;
		r->s[r->n].start_ns = x->end_ns - x->cpu_ns;
		r->s[r->n++].cpu_ns = x->cpu_ns;
		if (r->n == XT_SLICES_MAX)
			break;
	}
	r->hdr.len = sizeof(*r) + r->n * sizeof(r->s[0]);
	collector__emit(c, r);
}

static void on_slices(struct collector *c, const struct xt_ev_slices *b)
{
	bool done[XT_SLICE_BATCH] = {};
	struct xt_rec_slices_lost l;
	__u32 i;

	if (b->lost) {
		REC_INIT(l, XT_REC_SLICES_LOST);
		l.ts_ns = b->hdr.ts_ns;
		l.lost = b->lost;
		l.from_ns = b->first_lost_ns;
		l.to_ns = b->last_lost_ns;
		l.cpu = b->cpu;
		collector__emit(c, &l);
	}
	for (i = 0; i < b->n && i < XT_SLICE_BATCH; i++)
		if (!done[i])
			emit_thread_slices(c, b, i, done);
}

static int on_event(void *ctx, void *data, size_t len)
{
	const struct xt_ev_hdr *h = data;
	struct collector *c = ctx;

	if (len < sizeof(*h))
		return 0;
	switch (h->type) {
	case XT_EV_CONN_CLOSE:
		if (len >= sizeof(struct xt_ev_conn))
			snap__conn_final(c, &((struct xt_ev_conn *)data)->conn,
				   h->ts_ns);
		break;
	case XT_EV_LISTEN:
	case XT_EV_LISTEN_CLOSE:
		if (len >= sizeof(struct xt_ev_listen))
			disc__emit_listen(c, data, h->type == XT_EV_LISTEN,
				    h->ts_ns);
		break;
	case XT_EV_DIRTY:
	case XT_EV_DIRTY_THREAD:
		if (len >= sizeof(struct xt_ev_dirty))
			hmap__put(h->type == XT_EV_DIRTY ? c->dirty :
				  c->dirty_threads,
				  ((struct xt_ev_dirty *)data)->key,
				  (void *)(unsigned long)
				  ((struct xt_ev_dirty *)data)->gen);
		break;
	case XT_EV_SLICES:
		if (len >= sizeof(struct xt_ev_slices))
			on_slices(c, data);
		break;
	case XT_EV_THREAD_EXIT:
		if (len >= sizeof(struct xt_ev_thread))
			snap__thread_final(c, &((struct xt_ev_thread *)data)->th,
				     h->ts_ns);
		break;
	}
	return 0;
}

/*
 * One read path for every map that is harvested: fn sees each (key,
 * value), with ctx passed through, and ts, when the entry was read.
 */
int collector__kstats(const struct collector *c, struct xt_stats *out)
{
	struct xt_stats *per;
	__u32 zero = 0;
	int i, j, err;

	per = calloc(c->ncpus, sizeof(*per));
	if (!per)
		return -ENOMEM;
	err = bpf_map_lookup_elem(bpf_map__fd(c->skel->maps.stats), &zero,
				  per);
	if (err) {
		err = -errno;
		free(per);
		return err;
	}
	memset(out, 0, sizeof(*out));
	for (i = 0; i < c->ncpus; i++)
		for (j = 0; j < (int)(sizeof(*out) / 8); j++)
			((__u64 *)out)[j] += ((__u64 *)&per[i])[j];
	free(per);
	return 0;
}

/* Processes named by PID, and `all`: slices from the first harvest. */
static void detail_start(struct collector *c)
{
	struct xt_rec_detail r;
	const __u32 *pids;
	char path[64], buf[1024], *p;
	int i, n;

	if (detail__all(c->detail)) {
		c->any_detail = true;
		REC_INIT(r, XT_REC_DETAIL);
		r.ts_ns = c->start_mono_ns;
		collector__emit(c, &r);
	}
	pids = detail__pids(c->detail, &n);
	for (i = 0; i < n; i++) {
		__u64 start = 0;
		int f;

		/* start_boottime in ticks: field 22, after the ")" of comm. */
		snprintf(path, sizeof(path), "/proc/%u/stat", pids[i]);
		if (read_file(path, buf, sizeof(buf)) <= 0 ||
		    !(p = strrchr(buf, ')'))) {
			p_warn("--detail %u: no such process; ignored", pids[i]);
			continue;
		}
		for (f = 2; p && f < 22; f++)
			p = strchr(p + 1, ' ');
		if (p)
			start = strtoull(p + 1, NULL, 10) * ident__tick_ns();
		coll__detail_add(c, pids[i], start, c->start_mono_ns);
	}
}

/*
 * Each CPU's part-filled batch of slices to the ring: the flush program
 * runs on that CPU in an IPI, so it cannot interleave with the switch
 * hook there. Where that is refused, batches go when full, and what is
 * left is read from the map once the hooks are detached.
 */
static void slices_flush(struct collector *c)
{
	LIBBPF_OPTS(bpf_test_run_opts, ro, .flags = BPF_F_TEST_RUN_ON_CPU);
	int fd = bpf_program__fd(c->skel->progs.flush_slices), i;
	struct xt_ev_slices *per;
	__u32 zero = 0;

	if (!c->any_detail)
		return;
	for (i = 0; i < c->ncpus && !c->flush_off; i++) {
		ro.cpu = i;
		if (bpf_prog_test_run_opts(fd, &ro) && errno != ENXIO) {
			p_warn("flushing on-CPU slices per CPU refused (%s); they are written in batches",
			       strerror(errno));
			c->flush_off = true;
		}
	}
	if (!c->flush_off || !c->stopped)
		return;
	per = calloc(c->ncpus, sizeof(*per));
	if (!per)
		return;
	if (!bpf_map_lookup_elem(bpf_map__fd(c->skel->maps.slice_bufs),
				 &zero, per)) {
		for (i = 0; i < c->ncpus; i++)
			on_slices(c, &per[i]);
		memset(per, 0, c->ncpus * sizeof(*per));
		bpf_map_update_elem(bpf_map__fd(c->skel->maps.slice_bufs),
				    &zero, per, BPF_ANY);
	}
	free(per);
}

/*
 * Runs the kernel skipped because the same program was already running
 * on that CPU (say, a TCP state change in a softirq inside another in
 * process context): each one is an event we never saw, so it is counted.
 */
static __u64 prog_misses(struct collector *c)
{
	struct bpf_program *prog;
	__u64 sum = 0;

	bpf_object__for_each_program(prog, c->skel->obj) {
		struct bpf_prog_info info = {};
		__u32 len = sizeof(info);
		int fd = bpf_program__fd(prog);

		if (fd >= 0 && !bpf_obj_get_info_by_fd(fd, &info, &len))
			sum += info.recursion_misses;
	}
	return sum;
}

int collector__harvest(struct collector *c)
{
	struct xt_rec_interval iv;
	struct xt_rec_stats st;
	__u64 ts;

	/*
	 * Discovery runs after attach (a listener opened in between is
	 * seen by the state hook) and once the caller's sink is in place.
	 */
	if (!c->discovered) {
		c->discovered = true;
		detail_start(c);
		disc__listeners(c);
	}
	/*
	 * A new generation first, so the sockets noted from here on are
	 * those that move bytes after this read. Then the queued events:
	 * close events' entries are already out of the maps.
	 */
	if (c->hooks.harvest == XT_HARVEST_NOTES)
		c->skel->data->harvest_gen++;
	/* Read and clear in one step: a note lost in between is kept. */
	c->lost_seen = __atomic_exchange_n(&c->skel->bss->dirty_lost, 0,
					   __ATOMIC_SEQ_CST);
	slices_flush(c);
	ring_buffer__consume(c->rb);
	ts = now_mono_ns();
	c->harvests++;
	c->ustats.harvests++;
	/*
	 * Global counters before the maps: while traffic flows the maps may
	 * run ahead, never behind; after collector__stop() they agree.
	 */
	REC_INIT(st, XT_REC_STATS);
	st.ts_ns = ts;
	collector__kstats(c, &st.k);
	harvest__conns(c);
	if (!c->opts.no_proc_active)
		harvest__procs(c);
	harvest__threads(c);
	if (c->harvests % REAP_EVERY == 0)
		harvest__reap(c, ts);
	if (ts - c->last_cgroup_ns >= 1000000000ull) {
		c->last_cgroup_ns = ts;
		ident__cgroups(c, ts);
	}
	c->ustats.prog_misses = prog_misses(c);
	st.u = c->ustats;
	collector__emit(c, &st);
	if (c->stopped)
		disc__pend_drain(c);
	/* The interval ends when the last map was read. */
	ts = now_mono_ns();
	REC_INIT(iv, XT_REC_INTERVAL);
	iv.start_ns = c->last_harvest_ns ? c->last_harvest_ns :
		      c->start_mono_ns;
	iv.end_ns = ts;
	c->last_harvest_ns = ts;
	collector__emit(c, &iv);
	return c->err;
}

void collector__stop(struct collector *c)
{
	xfertrace_bpf__detach(c->skel);
	c->stopped = true;
}

int collector__poll(struct collector *c, int timeout_ms)
{
	int err = ring_buffer__poll(c->rb, timeout_ms);

	if (err == -EINTR)
		return 0;
	if (err < 0)
		return err;
	return c->err;
}

__u64 collector__mono_to_wall(const struct collector *c)
{
	return c->mono_to_wall_ns;
}

int collector__mark(struct collector *c, const char *text, size_t len,
		    __u64 ts_ns)
{
	union {			/* the record and room for its text */
		struct xt_rec_mark m;
		char buf[sizeof(struct xt_rec_mark) + XT_MARK_TEXT_MAX + 8];
	} r;

	if (len > XT_MARK_TEXT_MAX)
		return -E2BIG;
	memset(&r, 0, sizeof(struct xt_rec_mark) + len + 8);
	r.m.hdr.type = XT_REC_MARK;
	r.m.hdr.len = (sizeof(struct xt_rec_mark) + len + 7) & ~7u;
	r.m.ts_ns = ts_ns ? ts_ns : now_mono_ns();
	r.m.text_len = len;
	memcpy(r.m.text, text, len);
	c->ustats.marks_received++;
	return collector__emit(c, &r.m.hdr);
}

json_t *collector__header(const struct collector *c)
{
	struct utsname u;
	json_t *h, *hk;
	char host[256], buf[32];
	__u64 pid_max = 4194304;

	uname(&u);
	clean_str(host, u.nodename, sizeof(host));
	hk = json_pack("{s:s, s:s, s:s, s:b, s:s, s:s, s:s}",
		       "sock", hook_name(c->hooks.use[XT_C_SOCK]),
		       "state", hook_name(c->hooks.use[XT_C_STATE]),
		       "sched", hook_name(c->hooks.use[XT_C_SCHED]),
		       "iter_listeners", c->hooks.discovery == XT_DISC_ITER,
		       "io_clock", c->hooks.coarse_clock ? "coarse" : "precise",
		       "harvest", harvest_name(c->hooks.harvest),
		       "discovery", discovery_name(c->hooks.discovery));
	if (read_file("/proc/sys/kernel/pid_max", buf, sizeof(buf)) > 0)
		pid_max = strtoull(buf, NULL, 10);
	h = json_pack("{s:s, s:s, s:s, s:s, s:I, s:I, s:I, s:I, s:I, s:o, s:i, s:I}",
		      "format", "xfertrace.trace/1",
		      "host", host,
		      "kernel", u.release,
		      "arch", u.machine,
		      "start_mono_ns", (json_int_t)c->start_mono_ns,
		      "mono_to_wall_ns", (json_int_t)c->mono_to_wall_ns,
		      "boot_to_mono_ns",
		      (json_int_t)(now_mono_ns() - now_boot_ns()),
		      "interval_ms", (json_int_t)c->opts.interval_ms,
		      "burst_gap_ns", (json_int_t)c->opts.burst_gap_ns,
		      "hooks", hk,
		      "ncpus", c->ncpus,
		      "pid_max", (json_int_t)pid_max);
	return h;
}

void collector__set_sink(struct collector *c, xt_sink_fn sink, void *ctx)
{
	c->opts.sink = sink;
	c->opts.sink_ctx = ctx;
}

const struct xt_hooks *collector__hooks(const struct collector *c)
{
	return &c->hooks;
}

struct xt_user_stats *collector__user_stats(struct collector *c)
{
	return &c->ustats;
}

int collector__ringbuf_fd(const struct collector *c)
{
	return ring_buffer__epoll_fd(c->rb);
}

int collector__new(const struct collector_opts *opts, struct collector **out)
{
	struct collector *c;
	int err;

	c = calloc(1, sizeof(*c));
	if (!c)
		return -ENOMEM;
	c->opts = *opts;
	loader__size_maps(&c->opts);
	c->ncpus = libbpf_num_possible_cpus();
	c->procs_seen = hmap__new();
	c->conn_snaps = hmap__new();
	c->thread_snaps = hmap__new();
	c->proc_snaps = hmap__new();
	c->dirty = hmap__new();
	c->dirty_threads = hmap__new();
	c->detailed = hmap__new();
	err = detail__parse(opts->detail, &c->detail);
	if (err)
		goto fail;
	c->kbuf = calloc(BATCH, sizeof(__u64));
	c->vbuf = calloc(BATCH, sizeof(struct xt_conn));
	if (c->ncpus <= 0 || !c->procs_seen || !c->conn_snaps ||
	    !c->thread_snaps || !c->proc_snaps || !c->dirty ||
	    !c->dirty_threads || !c->kbuf || !c->detailed ||
	    !c->vbuf) {
		err = -ENOMEM;
		goto fail;
	}
	libbpf_set_print(loader__libbpf_print);
	err = hooks__choose(&opts->paths, &c->hooks, stderr);
	if (err)
		goto fail;
	/*
	 * A dry run with an explicit TCP hook loads that path even where it
	 * cannot attach, so the verifier checks the fallback programs too.
	 */
	if (opts->dry_run && opts->paths.hook &&
	    c->hooks.use[XT_C_SOCK] != opts->paths.hook) {
		fprintf(stderr, "xfertrace: dry run: loading the %s path anyway, to verify it\n",
			hook_name(opts->paths.hook));
		c->hooks.use[XT_C_SOCK] = opts->paths.hook;
	}
	err = loader__open(c);
	if (err)
		goto fail;
	err = loader__configure(c);
	if (err) {
		p_err("configuring BPF maps failed: %s", strerror(-err));
		goto fail;
	}
	err = xfertrace_bpf__load(c->skel);
	if (err) {
		p_err("loading BPF programs failed (%s); rerun with -v for the verifier log",
		      strerror(-err));
		goto fail;
	}
	/* Jiffies time bursts only if libbpf found the kernel's CONFIG_HZ. */
	c->hooks.coarse_clock = c->hooks.coarse_clock && c->skel->kconfig &&
				c->skel->kconfig->CONFIG_HZ;
	if (opts->paths.strict && opts->paths.clock == XT_CLOCK_COARSE &&
	    !c->hooks.coarse_clock) {
		err = -ENOTSUP;
		p_err("clock: the coarse clock needs CONFIG_HZ from the kernel config, which is not readable; drop --strict to fall back");
		goto fail;
	}
	c->rb = ring_buffer__new(bpf_map__fd(c->skel->maps.events), on_event,
				 c, NULL);
	if (!c->rb) {
		err = -errno;
		p_err("creating ring buffer failed: %s", strerror(-err));
		goto fail;
	}
	c->start_mono_ns = now_mono_ns();
	c->mono_to_wall_ns = loader__clock_offset();
	if (opts->dry_run) {
		*out = c;
		return 0;
	}
	c->skel->bss->attach_boot_ns = now_boot_ns();
	err = xfertrace_bpf__attach(c->skel);
	if (!err && c->hooks.use[XT_C_SOCK] == XT_HOOK_KPROBE)
		err = loader__attach_kretprobes(c);
	if (err) {
		p_err("attaching BPF programs failed: %s", strerror(-err));
		goto fail;
	}
	/* Old threads' CPU counts from here: after every hook is in. */
	__atomic_store_n(&c->skel->bss->attach_mono_ns, now_mono_ns(),
			 __ATOMIC_RELEASE);
	if (c->hooks.harvest == XT_HARVEST_ITER) {
		c->conn_iter = loader__attach_map_iter(c->skel->progs.dump_conns,
					       c->skel->maps.conns);
		c->thread_iter = loader__attach_map_iter(c->skel->progs.dump_threads,
						 c->skel->maps.threads);
		if ((!c->conn_iter || !c->thread_iter) && opts->paths.strict) {
			err = -ENOTSUP;
			p_err("harvest: the iter path could not attach its map iterators; drop --strict to fall back");
			goto fail;
		}
		/* Without both, every harvest reads whole maps. */
		if (!c->conn_iter || !c->thread_iter)
			c->hooks.harvest = XT_HARVEST_MAP;
	}
	*out = c;
	return 0;
fail:
	collector__free(c);
	return err;
}

static void free_all(struct hmap *m)
{
	size_t pos = 0;
	__u64 key;
	void *v;

	if (!m)
		return;
	while (hmap__next(m, &pos, &key, &v))
		free(v);
	hmap__free(m);
}

void collector__free(struct collector *c)
{
	if (!c)
		return;
	ring_buffer__free(c->rb);
	bpf_link__destroy(c->conn_iter);
	bpf_link__destroy(c->thread_iter);
	kretprobe__detach(c->kret[0]);
	kretprobe__detach(c->kret[1]);
	xfertrace_bpf__destroy(c->skel);
	free(c->ibuf);
	free(c->pend);
	free_all(c->procs_seen);
	free_all(c->conn_snaps);
	free_all(c->thread_snaps);
	free_all(c->proc_snaps);
	hmap__free(c->dirty);
	hmap__free(c->dirty_threads);
	hmap__free(c->detailed);
	detail__free(c->detail);
	free(c->kbuf);
	free(c->vbuf);
	free(c);
}
