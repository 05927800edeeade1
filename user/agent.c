// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * `xfertrace agent [--listen ADDR:PORT] [--dir D] ...`: the DaemonSet face.
 * The collector's records go through a netns scope (--netns) into the
 * live model (as for top) and into rotating trace files (as for record).
 * After each harvest the model's window is added to the Prometheus
 * counters; /summary is report's JSON over the trace files of the last
 * minutes. One thread: the HTTP server runs from the same poll loop.
 * See docs/agent.md.
 */
#include <errno.h>
#include <getopt.h>
#include <malloc.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <unistd.h>
#include <linux/capability.h>
#include "agent.h"
#include "caps.h"
#include "collector.h"
#include "commands.h"
#include "hmap.h"
#include "httpd.h"
#include "marksock.h"
#include "metrics.h"
#include "podid.h"
#include "rotate.h"
#include "trace.h"
#include "util.h"

struct agent_opts {
	const char *listen;
	const char *dir;
	__u64 interval_ms;
	__u64 max_file_mb, max_file_s, max_total_mb;
	const char *marks_path;
	const char *netns_arg;
	__u64 netns;
	__u64 max_series;
	char node[256];
	struct xt_paths paths;
	__u64 max_conns, max_threads;
	bool keep_caps;
};

struct pinfo {
	__u32 pid;
	__u64 start_ns;
	bool in_scope;
	bool have_pod;
	int reads;		/* identity reads so far */
	struct podid pod;
};

struct agent {
	struct agent_opts o;
	struct collector *c;
	struct model *m;
	struct rotator *rot;
	struct marksock *ms;
	struct httpd *http;
	struct metrics *mx;
	struct hmap *pinfo;
	bool attached;
	__u64 harvests;
	bool unfolded;		/* harvests not yet added to the metrics */
	__u64 folded_ns;
};

static volatile sig_atomic_t stop_signals;

static void on_stop(int sig)
{
	if (++stop_signals > 2)
		_exit(128 + sig);
}

static void usage(FILE *f)
{
	fprintf(f,
		"usage: xfertrace agent [--listen ADDR:PORT] [--dir D] [--interval MS]\n"
		"                       [--max-file-mb N] [--max-file-s S] [--max-total-mb N]\n"
		"                       [--marks-socket PATH] [--netns INODE|PATH]\n"
		"                       [--max-series N] [--node NAME] [--keep-caps]\n"
		"                       [--max-conns N] [--max-threads N] [path options]\n"
		"  --listen       HTTP address for /metrics, /healthz, /summary (default 127.0.0.1:9477)\n"
		"  --dir          trace files, rotated (default /var/lib/xfertrace)\n"
		"  --interval     harvest period in ms (default 1000)\n"
		"  --max-file-mb  rotate at this size (default 64); --max-file-s at this age (default 3600)\n"
		"  --max-total-mb oldest files go past this total (default 1024)\n"
		"  --netns        record only this network namespace (inode, or a path like /proc/PID/ns/net)\n"
		"  --max-series   label sets in /metrics before folding into other (default 2000)\n"
		"  --node         node label (default $NODE_NAME, else the host name)\n"
		"  --keep-caps    do not drop capabilities after attaching\n"
		"path options (as for record):\n" XT_PATH_USAGE);
}

static int parse_netns(const char *s, __u64 *out)
{
	struct stat st;

	if (!parse_u64(s, 1, ~0ull, out))
		return 0;
	if (stat(s, &st))
		return -errno;
	*out = st.st_ino;
	return 0;
}

static int parse_num(int c, const char *arg, struct agent_opts *o)
{
	static const struct {
		int c;
		const char *name;
		__u64 min, max;
		size_t off;
	} nums[] = {
		{ 'i', "--interval", 10, 60000, offsetof(struct agent_opts, interval_ms) },
		{ 'S', "--max-file-mb", 1, 1 << 20, offsetof(struct agent_opts, max_file_mb) },
		{ 's', "--max-file-s", 1, 31 * 86400, offsetof(struct agent_opts, max_file_s) },
		{ 'T', "--max-total-mb", 1, 1 << 24, offsetof(struct agent_opts, max_total_mb) },
		{ 'x', "--max-series", 10, 10000000, offsetof(struct agent_opts, max_series) },
		{ 'C', "--max-conns", 1024, 1 << 22, offsetof(struct agent_opts, max_conns) },
		{ 'H', "--max-threads", 1024, 1 << 22, offsetof(struct agent_opts, max_threads) },
	};
	size_t i;

	for (i = 0; i < sizeof(nums) / sizeof(nums[0]); i++) {
		if (nums[i].c != c)
			continue;
		if (parse_u64(arg, nums[i].min, nums[i].max,
			      (__u64 *)((char *)o + nums[i].off))) {
			p_err("agent: %s takes a number from %llu to %llu, not '%s'",
			      nums[i].name, (unsigned long long)nums[i].min,
			      (unsigned long long)nums[i].max, arg);
			return -EINVAL;
		}
		return 0;
	}
	return 1;
}

static int check_args(struct agent_opts *o, bool file_mb_given)
{
	if (!file_mb_given && o->max_file_mb > o->max_total_mb)
		o->max_file_mb = o->max_total_mb;	/* a small cap: smaller files */
	if (o->max_file_mb > o->max_total_mb) {
		p_err("agent: --max-file-mb (%llu) is larger than --max-total-mb (%llu)",
		      (unsigned long long)o->max_file_mb,
		      (unsigned long long)o->max_total_mb);
		return -EINVAL;
	}
	if (o->netns_arg && parse_netns(o->netns_arg, &o->netns)) {
		p_err("agent: --netns takes a namespace inode or a path such as /proc/PID/ns/net or /run/netns/NAME, not '%s'",
		      o->netns_arg);
		return -EINVAL;
	}
	if (!*o->dir || !*o->listen) {
		p_err("agent: --dir and --listen need a value");
		return -EINVAL;
	}
	return 0;
}

static int parse_args(int argc, char **argv, struct agent_opts *o)
{
	static const struct option opts[] = {
		{ "listen", required_argument, NULL, 'l' },
		{ "dir", required_argument, NULL, 'D' },
		{ "interval", required_argument, NULL, 'i' },
		{ "max-file-mb", required_argument, NULL, 'S' },
		{ "max-file-s", required_argument, NULL, 's' },
		{ "max-total-mb", required_argument, NULL, 'T' },
		{ "marks-socket", required_argument, NULL, 'm' },
		{ "netns", required_argument, NULL, 'N' },
		{ "max-series", required_argument, NULL, 'x' },
		{ "node", required_argument, NULL, 'n' },
		{ "max-conns", required_argument, NULL, 'C' },
		{ "max-threads", required_argument, NULL, 'H' },
		{ "keep-caps", no_argument, NULL, 'k' },
		{ "help", no_argument, NULL, 'h' },
		XT_PATH_LONGOPTS,
		{},
	};
	bool file_mb_given = false;
	int c, err;

	if (paths__from_env(&o->paths))
		return -EINVAL;
	optind = 1;
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":h", opts, NULL)) != -1) {
		switch (c) {
		case 'l': o->listen = optarg; break;
		case 'D': o->dir = optarg; break;
		case 'm': o->marks_path = optarg; break;
		case 'N': o->netns_arg = optarg; break;
		case 'n': snprintf(o->node, sizeof(o->node), "%s", optarg); break;
		case 'k': o->keep_caps = true; break;
		case 'S':
			file_mb_given = true;
			err = parse_num(c, optarg, o);
			if (err)
				return -EINVAL;
			break;
		case 'h':
			usage(stdout);
			return 1;
		case ':':
			p_err("agent: option '%s' needs a value (try --help)",
			      argv[optind - 1]);
			return -EINVAL;
		case '?':
			p_err("agent: unknown option '%s' (try --help)",
			      argv[optind - 1]);
			return -EINVAL;
		default:
			err = paths__opt(&o->paths, c, optarg, "agent");
			if (err == 1)
				err = parse_num(c, optarg, o);
			if (err)
				return -EINVAL;
		}
	}
	if (optind < argc) {
		p_err("agent: unexpected argument '%s' (try --help)", argv[optind]);
		return -EINVAL;
	}
	return check_args(o, file_mb_given);
}

/* ---- scope: what this agent records ---- */

static __u64 proc_netns(__u32 pid)
{
	char p[64];
	struct stat st;

	snprintf(p, sizeof(p), "/proc/%u/ns/net", pid);
	return stat(p, &st) ? 0 : st.st_ino;
}

/* Read again; a process that has gone keeps what was read before. */
static void pod_reread(struct pinfo *pi)
{
	struct podid id;
	int err = podid__read(pi->pid, &id);

	if (err == -ESRCH)
		return;
	pi->have_pod = !err;
	pi->pod = id;
}

static struct pinfo *pinfo_get(struct agent *a, __u32 pid, __u64 start_ns,
			       __u64 netns, bool refresh)
{
	__u64 key = hkey2(pid, start_ns);
	struct pinfo *pi = hmap__get(a->pinfo, key);

	if (pi && refresh && pi->in_scope)	/* exec: a new environment */
		pod_reread(pi);
	if (pi)
		return pi;
	pi = calloc(1, sizeof(*pi));
	if (!pi || hmap__put(a->pinfo, key, pi)) {
		free(pi);
		return NULL;
	}
	pi->pid = pid;
	pi->start_ns = start_ns;
	if (a->o.netns && !netns)
		netns = proc_netns(pid);
	pi->in_scope = !a->o.netns || netns == a->o.netns;
	if (pi->in_scope)
		pi->have_pod = !podid__read(pid, &pi->pod);
	return pi;
}

static bool in_scope(struct agent *a, const struct xt_rec_hdr *h)
{
	const struct model *m = a->m;
	struct pinfo *pi;

	switch (h->type) {
	case XT_REC_PROC: {
		const struct xt_rec_proc *r = (const void *)h;

		pi = pinfo_get(a, r->pid, r->start_ns, r->netns, true);
		return pi && pi->in_scope;
	}
	case XT_REC_LISTEN:
		return !a->o.netns ||
		       ((const struct xt_rec_listen *)h)->netns == a->o.netns;
	case XT_REC_CONN:
		return !a->o.netns ||
		       ((const struct xt_rec_conn *)h)->netns == a->o.netns;
	case XT_REC_THREAD: {
		const struct xt_rec_thread *r = (const void *)h;

		pi = pinfo_get(a, r->pid, r->leader_start_ns, 0, false);
		return pi && pi->in_scope;
	}
	case XT_REC_CONN_DELTA:
		return model__conn(m, ((const struct xt_rec_conn_delta *)h)->id);
	case XT_REC_CONN_CLOSE:
		return model__conn(m, ((const struct xt_rec_conn_close *)h)->id);
	case XT_REC_THREAD_DELTA: {
		const struct xt_rec_thread_delta *r = (const void *)h;

		return model__thread(m, r->tid, r->start_ns);
	}
	case XT_REC_THREAD_EXIT: {
		const struct xt_rec_thread_exit *r = (const void *)h;

		return model__thread(m, r->tid, r->start_ns);
	}
	case XT_REC_PROC_DELTA: {
		const struct xt_rec_proc_delta *r = (const void *)h;

		return model__proc(m, r->pid, r->start_ns);
	}
	case XT_REC_CGROUP_CPU: {
		const struct xt_rec_cgroup_cpu *r = (const void *)h;

		return model__proc(m, r->pid, r->start_ns);
	}
	}
	return true;	/* stats, intervals, marks */
}

/* The collector's sink: scope, then the live model, then the trace. */
static int agent_sink(void *ctx, const struct xt_rec_hdr *rec)
{
	struct agent *a = ctx;

	if (a->o.netns && !in_scope(a, rec))
		return 0;
	if (!a->o.netns && rec->type == XT_REC_PROC)
		in_scope(a, rec);	/* pod identity while it lives */
	model__apply(a->m, rec);
	return a->rot ? rotator__sink(a->rot, rec) : 0;
}

/* A fresh trace file starts with what is live, so it reads on its own. */
static void agent_snapshot(void *ctx, xt_sink_fn sink, void *sctx)
{
	const struct model *m = ((struct agent *)ctx)->m;
	int i;

	for (i = 0; i < m->n_procs; i++) {
		const struct mproc *p = m->procs[i];
		struct xt_rec_proc r = { .hdr = { XT_REC_PROC, sizeof(r) },
			.start_ns = p->start_ns, .netns = p->netns,
			.cgroup_id = p->cgroup_id, .pid = p->pid,
			.ppid = p->ppid };

		memcpy(r.comm, p->comm, sizeof(r.comm));
		memcpy(r.cmdline, p->cmdline, sizeof(r.cmdline));
		sink(sctx, &r.hdr);
	}
	for (i = 0; i < m->n_listens; i++) {
		const struct mlisten *l = m->listens[i];
		struct xt_rec_listen r = { .hdr = { XT_REC_LISTEN, sizeof(r) },
			.ts_ns = l->open_ns, .start_ns = l->proc->start_ns,
			.netns = l->netns, .pid = l->proc->pid, .open = 1,
			.tuple = l->t, .backlog = l->backlog };

		if (!l->close_ns)
			sink(sctx, &r.hdr);
	}
	for (i = 0; i < m->n_conns; i++) {
		const struct mconn *c = m->conns[i];
		struct xt_rec_conn r = { .hdr = { XT_REC_CONN, sizeof(r) },
			.id = c->id, .first_ns = c->first_ns,
			.start_ns = c->proc->start_ns, .netns = c->netns,
			.cgroup_id = c->proc->cgroup_id, .pid = c->proc->pid,
			.tuple = c->t };

		if (!c->closed)
			sink(sctx, &r.hdr);
	}
	for (i = 0; i < m->n_threads; i++) {
		const struct mthread *t = m->threads[i];
		struct xt_rec_thread r = { .hdr = { XT_REC_THREAD, sizeof(r) },
			.start_ns = t->start_ns,
			.leader_start_ns = t->proc->start_ns,
			.tid = t->tid, .pid = t->pid };

		memcpy(r.comm, t->comm, sizeof(r.comm));
		if (!t->exited)
			sink(sctx, &r.hdr);
	}
}

/* ---- after each harvest ---- */

#define POD_REREADS 3
#define ADD_EVERY_NS (10 * 1000000000ull)

static void add_window(struct agent *a)
{
	struct model *m = a->m;
	int i;

	model__resolve(m);
	for (i = 0; i < m->n_procs; i++) {
		const struct mproc *p = m->procs[i];
		struct pinfo *pi;
		struct ep_labels l = { .endpoint = p->name,
				       .role = role_name(p->role) };
		char cid[16];

		if (!p->w_tx_bytes && !p->w_rx_bytes && !p->w_cpu_ns &&
		    !p->w_runq_ns && !p->w_active_ns)
			continue;
		pi = pinfo_get(a, p->pid, p->start_ns, p->netns, false);
		/*
		 * A runtime moves a new process into its cgroup and execs it
		 * just after it is born: read its identity again while it is new.
		 */
		if (pi && pi->in_scope && pi->reads < POD_REREADS) {
			pi->reads++;
			pod_reread(pi);
		}
		/* CPU of processes without TCP: one series, not one each. */
		if (!p->n_listens && !p->tx_bytes && !p->rx_bytes) {
			metrics__add_endpoint(a->mx, &(struct ep_labels){
					      .endpoint = "no-tcp", .role = "other" },
					      0, 0, p->w_cpu_ns, p->w_runq_ns, 0);
			continue;
		}
		if (pi && pi->have_pod) {
			l.pod = pi->pod.pod[0] ? pi->pod.pod : pi->pod.uid;
			l.ns = pi->pod.ns;
			snprintf(cid, sizeof(cid), "%.12s", pi->pod.container);
			l.container = cid;
		}
		metrics__add_endpoint(a->mx, &l, p->w_tx_bytes, p->w_rx_bytes,
				      p->w_cpu_ns, p->w_runq_ns, p->w_active_ns);
	}
	for (i = 0; i < m->n_flows; i++) {
		const struct mflow *f = m->flows[i];

		if (f->w_tx_bytes || f->w_rx_bytes)
			metrics__add_pair(a->mx, f->src, f->dst, f->w_tx_bytes,
					  f->w_rx_bytes);
	}
	model__window_reset(m, m->last_ns);
	model__prune(m, m->last_ns);
	model__drop_marks(m);
	a->unfolded = false;
	a->folded_ns = now_mono_ns();
	malloc_trim(0);		/* what prune freed goes back: RSS stays bounded */
}

/* Forget identities of processes that are gone (now and then). */
static void pinfo_prune(struct agent *a)
{
	struct hmap *keep = hmap__new();
	size_t pos = 0;
	__u64 key;
	void *v;

	if (!keep)
		return;
	while (hmap__next(a->pinfo, &pos, &key, &v)) {
		struct pinfo *pi = v;
		bool live = pi->in_scope ?
			    model__proc(a->m, pi->pid, pi->start_ns) != NULL :
			    (kill(pi->pid, 0) == 0 || errno == EPERM);

		if (live && !hmap__put(keep, key, pi))
			continue;
		free(pi);
	}
	hmap__free(a->pinfo);
	a->pinfo = keep;
}

static int harvest(struct agent *a)
{
	int err = collector__harvest(a->c);

	if (err)
		return err;
	a->unfolded = true;
	/*
	 * Resolving names walks every connection: do it when someone reads
	 * /metrics (which folds first) or every ADD_EVERY_NS, not each
	 * harvest. The model keeps the deltas until then.
	 */
	if (now_mono_ns() - a->folded_ns >= ADD_EVERY_NS)
		add_window(a);
	if (a->rot)
		rotator__tick(a->rot, now_mono_ns());
	if (++a->harvests % 64 == 0)
		pinfo_prune(a);
	return 0;
}

/* ---- HTTP ---- */

static __u64 self_rss(void)
{
	unsigned long long size = 0, rss = 0;
	FILE *f = fopen("/proc/self/statm", "re");

	if (f) {
		if (fscanf(f, "%llu %llu", &size, &rss) != 2)
			rss = 0;
		fclose(f);
	}
	return rss * sysconf(_SC_PAGESIZE);
}

static double self_cpu(void)
{
	struct rusage ru;

	if (getrusage(RUSAGE_SELF, &ru))
		return 0;
	return ru.ru_utime.tv_sec + ru.ru_stime.tv_sec +
	       (ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

static void serve_metrics(struct agent *a, struct httpd_reply *out)
{
	struct xt_stats k = {};
	struct metrics_self s = { .k = &k, .u = collector__user_stats(a->c) };
	FILE *f;
	int i;

	if (a->unfolded)
		add_window(a);
	collector__kstats(a->c, &k);
	s.cpu_s = self_cpu();
	s.rss_bytes = self_rss();
	if (a->rot) {
		s.trace_bytes = rotator__bytes_written(a->rot);
		s.trace_files = rotator__files(a->rot);
		s.trace_removed = rotator__removed(a->rot);
		s.recording = rotator__recording(a->rot);
	}
	for (i = 0; i < a->m->n_conns; i++)
		s.live_conns += !a->m->conns[i]->closed;
	s.live_procs = a->m->n_procs;
	f = open_memstream(&out->body, &out->len);
	if (!f)
		return;
	if (metrics__render(a->mx, &s, f)) {
		fclose(f);
		free(out->body);
		out->body = NULL;
		out->status = 500;
		return;
	}
	fclose(f);
	out->status = 200;
	out->type = "text/plain; version=0.0.4; charset=utf-8";
}

/*
 * Files last written before the window hold nothing in it (each file
 * starts with its own snapshot): move them past the first k.
 */
static int recent_files(char **paths, int n, __u64 since_wall_ns)
{
	struct stat st;
	int i, k = 0;
	char *t;

	for (i = 0; i < n; i++) {
		if (stat(paths[i], &st) ||
		    (__u64)st.st_mtim.tv_sec * 1000000000ull + st.st_mtim.tv_nsec <
		    since_wall_ns)
			continue;
		t = paths[k];
		paths[k++] = paths[i];
		paths[i] = t;
	}
	return k;
}

/* The report of the last N minutes, from this node's trace files. */
static void serve_summary(struct agent *a, const char *min_arg,
			  struct httpd_reply *out)
{
	__u64 minutes = 10;
	struct load_info li;
	struct model *m = NULL;
	char **paths = NULL;
	json_t *root;
	int i, n = 0, k = 0;
	__u64 since;

	out->type = "application/json";
	if (min_arg && parse_u64(min_arg, 1, 44640, &minutes)) {
		out->status = 400;
		out->body = strdup("{\"error\":\"minutes takes a whole number from 1 to 44640\"}\n");
		out->len = out->body ? strlen(out->body) : 0;
		return;
	}
	if (a->rot)
		rotator__flush(a->rot);
	since = now_wall_ns() - minutes * 60000000000ull;
	if (report__dir_files(a->o.dir, &paths, &n) ||
	    !(k = recent_files(paths, n, since)) ||
	    report__load_many(paths, k, since, NULL, &m, &li)) {
		out->status = 503;
		out->body = strdup("{\"error\":\"no readable trace files\"}\n");
		out->len = out->body ? strlen(out->body) : 0;
	} else {
		report__sort(m);
		root = report__json(m, &li);
		json_object_set_new(root, "window_minutes", json_integer(minutes));
		out->body = json_dumps(root, JSON_COMPACT | JSON_PRESERVE_ORDER);
		out->len = out->body ? strlen(out->body) : 0;
		out->status = 200;
		json_decref(root);
		model__free(m);
	}
	for (i = 0; i < n; i++)
		free(paths[i]);
	free(paths);
}

static void set_text(struct httpd_reply *out, unsigned int st, const char *s)
{
	out->status = st;
	out->type = "text/plain; charset=utf-8";
	out->body = strdup(s);
	out->len = out->body ? strlen(s) : 0;
}

static void on_http(void *ctx, const char *path,
		    const char *(*arg)(void *conn, const char *name),
		    void *conn, struct httpd_reply *out)
{
	struct agent *a = ctx;

	if (!strcmp(path, "/metrics"))
		serve_metrics(a, out);
	else if (!strcmp(path, "/healthz"))
		set_text(out, a->attached ? 200 : 503,
			 a->attached ? "ok\n" : "not attached\n");
	else if (!strcmp(path, "/summary"))
		serve_summary(a, arg(conn, "minutes"), out);
	else
		set_text(out, 404, "not found: /metrics, /healthz, /summary\n");
}

/* ---- run ---- */

/* MHD may have buffered work that no new event announces. */
static int agent_timeout(void *ctx)
{
	return httpd__timeout_ms(((struct agent *)ctx)->http);
}

/* Also when idle: MHD times out slow clients in MHD_run(). */
static int agent_wake(void *ctx)
{
	httpd__run(((struct agent *)ctx)->http);
	return 0;
}

static int agent_tick(void *ctx)
{
	return harvest(ctx);
}

static int run_loop(struct agent *a)
{
	struct collector_run r = {
		.interval_ns = a->o.interval_ms * 1000000ull,
		.ms = a->ms,
		.face_fd = httpd__fd(a->http),
		.stop = &stop_signals,
		.tick = agent_tick,
		.wake = agent_wake,
		.timeout_ms = agent_timeout,
		.ctx = a,
	};

	return collector__run(a->c, &r);
}

/*
 * After attaching: what is left to do is read maps through fds we hold,
 * read other processes' /proc files (pod identity, netns, cgroup
 * throttling, reaping) and write our own files. Measured in
 * tests/t_agent.sh; docs/agent.md.
 */
#define AGENT_KEEP_CAPS ((1ull << CAP_SYS_PTRACE) | (1ull << CAP_DAC_READ_SEARCH))

static void drop_caps(struct agent *a)
{
	char names[256];
	__u64 eff = 0;
	int err;

	if (a->o.keep_caps)
		return;
	err = caps__keep_only(AGENT_KEEP_CAPS);
	caps__effective(&eff);
	caps__names(eff, names, sizeof(names));
	if (err)
		p_warn("agent: cannot drop capabilities (%s); running with %s",
		       strerror(-err), names);
	else
		fprintf(stderr, "xfertrace: agent: attached; capabilities now %s\n",
			names);
}

static json_t *agent_header(struct agent *a)
{
	json_t *hdr = collector__header(a->c);
	unsigned char rnd[8] = {};
	char run[300];

	if (getrandom(rnd, sizeof(rnd), 0) != sizeof(rnd))
		memset(rnd, 0, sizeof(rnd));
	snprintf(run, sizeof(run), "%s-%02x%02x%02x%02x%02x%02x%02x%02x",
		 a->o.node, rnd[0], rnd[1], rnd[2], rnd[3], rnd[4], rnd[5],
		 rnd[6], rnd[7]);
	json_object_set_new(hdr, "agent", json_pack("{s:s, s:s, s:I, s:i}",
		"node", a->o.node, "run", run,
		"netns", (json_int_t)a->o.netns, "file_seq", 0));
	return hdr;
}

static int open_marks(struct agent *a)
{
	int err = marksock__open(a->o.marks_path, &a->ms);

	if (err)
		p_err("agent: cannot listen for marks on %s: %s",
		      a->o.marks_path,
		      err == -EEXIST ? "a file that is not a socket is there" :
		      err == -EADDRINUSE ? "another xfertrace is listening there; give this one its own --marks-socket path" :
		      strerror(-err));
	return err;
}

static int start_recording(struct agent *a)
{
	struct rotate_opts ro = {
		.dir = a->o.dir,
		.max_file_bytes = a->o.max_file_mb << 20,
		.max_file_ns = a->o.max_file_s * 1000000000ull,
		.max_total_bytes = a->o.max_total_mb << 20,
		.snapshot = agent_snapshot,
		.ctx = a,
	};
	json_t *hdr = agent_header(a);
	int err;

	if (!hdr)
		return -ENOMEM;
	model__set_header(a->m, hdr);
	err = rotator__new(&ro, hdr, &a->rot);
	json_decref(hdr);
	return err;
}

/*
 * Before 5.11 BPF maps are charged to RLIMIT_MEMLOCK, which only
 * CAP_SYS_RESOURCE can raise; from 5.11 they are charged to the memory
 * cgroup and the limit does not matter. Say it once where it matters.
 */
static void memlock_note(void)
{
	struct rlimit r = { RLIM_INFINITY, RLIM_INFINITY };
	struct utsname u;
	int maj = 0, min = 0;

	if (uname(&u) || sscanf(u.release, "%d.%d", &maj, &min) != 2 ||
	    maj > 5 || (maj == 5 && min >= 11))
		return;
	if (!setrlimit(RLIMIT_MEMLOCK, &r))
		return;
	getrlimit(RLIMIT_MEMLOCK, &r);
	p_warn("agent: kernel %s charges BPF maps to RLIMIT_MEMLOCK (%llu KiB here) and raising it needs CAP_SYS_RESOURCE; if loading fails, grant SYS_RESOURCE",
	       u.release, (unsigned long long)r.rlim_cur / 1024);
}

static int setup(struct agent *a)
{
	struct collector_opts co = {
		.interval_ms = a->o.interval_ms,
		.burst_gap_ns = 5000000ull,
		.paths = a->o.paths,
		.max_conns = a->o.max_conns,
		.max_threads = a->o.max_threads,
		/*
		 * A smaller ring than record's: the agent drains it every
		 * interval and at half full, records no slices, and its pages
		 * count twice in its RSS (kernel and user mappings).
		 */
		.ringbuf_bytes = 1u << 20,
		.sink = agent_sink,
		.sink_ctx = a,
	};
	int err;

	if (mkdir(a->o.dir, 0750) && errno != EEXIST) {
		p_err("agent: cannot make --dir %s: %s", a->o.dir, strerror(errno));
		return -errno;
	}
	a->m = model__new();
	a->pinfo = hmap__new();
	if (!a->m || !a->pinfo ||
	    metrics__new(a->o.node, a->o.max_series, &a->mx))
		return -ENOMEM;
	err = httpd__new(a->o.listen, on_http, a, &a->http);
	if (err) {
		p_err("agent: cannot serve HTTP on %s (%s)", a->o.listen,
		      err == -EINVAL ? "not IP:PORT or [IPv6]:PORT" :
		      "the port is taken, or the address is not this host's");
		return err;
	}
	if (a->o.marks_path && open_marks(a))
		return -EINVAL;
	memlock_note();
	err = collector__new(&co, &a->c);
	if (err)
		return err;
	err = start_recording(a);
	if (err)
		return err;
	/* Listeners known and the first counts in: ready. */
	err = collector__harvest(a->c);
	if (err)
		return err;
	add_window(a);
	a->attached = true;
	return 0;
}

static void install_signals(void)
{
	struct sigaction sa = { .sa_handler = on_stop };

	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
}

static void agent_free(struct agent *a)
{
	size_t pos = 0;
	__u64 key;
	void *v;

	httpd__free(a->http);
	marksock__free(a->ms);
	collector__free(a->c);
	rotator__free(a->rot);
	model__free(a->m);
	metrics__free(a->mx);
	while (a->pinfo && hmap__next(a->pinfo, &pos, &key, &v))
		free(v);
	hmap__free(a->pinfo);
}

/* SIGTERM: detach, read the final counts, close the file whole. */
static int finish(struct agent *a)
{
	int err;

	a->attached = false;
	collector__stop(a->c);
	err = collector__harvest(a->c);
	if (!err)
		add_window(a);
	if (rotator__close(a->rot))
		err = err ?: -EIO;
	return err;
}

int cmd_agent(int argc, char **argv)
{
	struct agent a = {
		.o = {
			.listen = "127.0.0.1:9477",
			.dir = "/var/lib/xfertrace",
			.interval_ms = 1000,
			.max_file_mb = 64,
			.max_file_s = 3600,
			.max_total_mb = 1024,
			.max_series = 2000,
		},
	};
	const char *env = getenv("NODE_NAME");
	int err, ret = 1;

	if (env && *env)
		snprintf(a.o.node, sizeof(a.o.node), "%s", env);
	else if (gethostname(a.o.node, sizeof(a.o.node) - 1))
		snprintf(a.o.node, sizeof(a.o.node), "unknown");
	err = parse_args(argc, argv, &a.o);
	if (err)
		return err > 0 ? 0 : 2;
	install_signals();
	err = setup(&a);
	if (!err) {
		fprintf(stderr, "xfertrace: agent: node %s, serving http://%s/metrics, recording to %s%s\n",
			a.o.node, a.o.listen, a.o.dir,
			a.o.netns ? " (one network namespace)" : "");
		drop_caps(&a);
		err = run_loop(&a);
		if (err)
			p_err("agent: %s", strerror(-err));
		if (!finish(&a) && !err)
			ret = 0;
	}
	agent_free(&a);
	return ret;
}
