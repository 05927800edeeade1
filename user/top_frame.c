// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * Frames for `xfertrace top`: per-process rates from the model's window
 * fields (bytes, CPU, run-queue wait and transfer-active time since the
 * last model__window_reset(), divided by the window length), the top
 * peer of each process, the window's flows and the active trials. Every
 * pass is linear in processes, connections, flows or new marks; nothing
 * here is quadratic. Which rows are kept is described in docs/top.md.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include "hmap.h"
#include "probe.h"
#include "counters.h"
#include "top_frame.h"
#include "util.h"

/* Kernel threads use at least this much CPU to be listed by default. */
#define KTHREAD_MIN_CPU_PCT	1.0

static const char *const key_names[TOP_K_N] = {
	[TOP_K_ENDPOINT] = "endpoint",
	[TOP_K_PID] = "pid",
	[TOP_K_ROLE] = "role",
	[TOP_K_RX] = "rx",
	[TOP_K_TX] = "tx",
	[TOP_K_CPU] = "cpu",
	[TOP_K_RUNQ] = "runq",
	[TOP_K_ACTIVE] = "active",
	[TOP_K_CONNS] = "connections",
	[TOP_K_PEER] = "peer",
	[TOP_K_TOTAL] = "total",
};


const char *top_key__name(enum top_key k)
{
	return k < TOP_K_N ? key_names[k] : "?";
}

int top_key__parse(const char *s, enum top_key *out)
{
	int i;

	for (i = 0; i < TOP_K_N; i++)
		if (!strcmp(s, key_names[i])) {
			*out = i;
			return 0;
		}
	if (!strcmp(s, "conns")) {
		*out = TOP_K_CONNS;
		return 0;
	}
	return -EINVAL;
}

bool top_key__descending(enum top_key k)
{
	return !(k == TOP_K_ENDPOINT || k == TOP_K_PID || k == TOP_K_ROLE ||
		 k == TOP_K_PEER);
}

/* ---- trials from live marks ---- */

static struct top_trial *trial_find(struct top_trials *tr, const char *id)
{
	int i;

	for (i = 0; i < tr->n; i++)
		if (!strcmp(tr->v[i].param_id, id))
			return &tr->v[i];
	return NULL;
}

static void trial_begin(struct top_trials *tr, const struct xt_mark *xm,
			__u64 ts)
{
	struct top_trial *t = trial_find(tr, xm->param_id);

	if (!t) {
		if (!tr->v) {
			tr->v = calloc(TOP_MAX_TRIALS, sizeof(*tr->v));
			if (!tr->v)
				return;
		}
		/* Bounded: the oldest unfinished trial makes room. */
		if (tr->n == TOP_MAX_TRIALS) {
			memmove(tr->v, tr->v + 1, (tr->n - 1) * sizeof(*tr->v));
			tr->n--;
		}
		t = &tr->v[tr->n++];
	}
	memset(t, 0, sizeof(*t));
	snprintf(t->param_id, sizeof(t->param_id), "%s", xm->param_id);
	t->begin_ns = ts;
}

static void trial_end(struct top_trials *tr, const struct xt_mark *xm)
{
	struct top_trial *t = trial_find(tr, xm->param_id);

	if (!t)
		return;
	memmove(t, t + 1, (tr->v + tr->n - t - 1) * sizeof(*t));
	tr->n--;
}

static void trial_work(struct top_trials *tr, const struct xt_mark *xm)
{
	struct top_trial *t = trial_find(tr, xm->param_id);
	int i;

	if (!t)
		return;
	if (xm->kind == XT_MARK_SIM)
		t->n_sim++;
	else
		t->n_agg++;
	if (!xm->worker[0])
		return;
	for (i = 0; i < t->n_workers; i++)
		if (!strcmp(t->workers[i], xm->worker))
			return;
	if (t->n_workers < TOP_TRIAL_WORKERS)
		snprintf(t->workers[t->n_workers++], XT_MARK_WORKER_LEN, "%s",
			 xm->worker);
}

void top_trials__update(struct top_trials *tr, const struct model *m)
{
	struct xt_mark xm;

	if (tr->next_mark > m->n_marks)
		tr->next_mark = m->n_marks;
	for (; tr->next_mark < m->n_marks; tr->next_mark++) {
		const struct mmark *mk = &m->marks[tr->next_mark];

		tr->n_marks++;
		if (mark__parse(mk->text, strlen(mk->text), &xm, NULL, 0) != 1) {
			tr->n_bad++;
			continue;
		}
		switch (xm.kind) {
		case XT_MARK_TRIAL_BEGIN:
			trial_begin(tr, &xm, mk->ts_ns);
			break;
		case XT_MARK_TRIAL_END:
			trial_end(tr, &xm);
			break;
		default:
			trial_work(tr, &xm);
		}
	}
}

void top_trials__free(struct top_trials *tr)
{
	free(tr->v);
	memset(tr, 0, sizeof(*tr));
}

/* ---- building a frame ---- */

static bool is_kthread(const struct mproc *p)
{
	static const char *const pfx[] = {
		"kworker", "ksoftirqd", "migration", "rcu_", "irq/",
		"kthreadd", "kswapd", "khugepaged", "jbd2", "cpuhp",
		"watchdog", "idle_inject", "kcompactd", "kauditd",
	};
	size_t i;

	if (p->pid == 2 || p->ppid == 2)
		return true;
	if (p->cmdline[0])
		return false;
	for (i = 0; i < sizeof(pfx) / sizeof(pfx[0]); i++)
		if (!strncmp(p->comm, pfx[i], strlen(pfx[i])))
			return true;
	return false;
}

static int open_listens(const struct mproc *p)
{
	int i, n = 0;

	for (i = 0; i < p->n_listens; i++)
		n += !p->listens[i]->close_ns;
	return n;
}

static double pct(__u64 v, __u64 window)
{
	return window ? v * 100.0 / window : 0;
}

static double per_s(__u64 v, __u64 window)
{
	return window ? v * 1e9 / window : 0;
}

/* Listed by default: see docs/top.md, "Which rows". */
static bool row_wanted(const struct model *m, const struct mproc *p,
		       bool all, __u64 window)
{
	__u64 bytes = p->w_rx_bytes + p->w_tx_bytes;

	if (p->pid == 0)
		return false;
	/* Went away in an earlier window: shown once already. */
	if (p->gone && p->gone_ns < m->w_start_ns)
		return false;
	if (all)
		return true;
	if (is_kthread(p))
		return bytes || pct(p->w_cpu_ns, window) >= KTHREAD_MIN_CPU_PCT;
	return bytes || p->w_cpu_ns || open_listens(p) ||
	       (p->gone && p->n_listens);
}

static void fill_row(struct top_row *r, const struct mproc *p, __u64 window)
{
	int i;

	memset(r, 0, sizeof(*r));
	snprintf(r->endpoint, sizeof(r->endpoint), "%s", p->name);
	snprintf(r->role, sizeof(r->role), "%s", role_name(p->role));
	snprintf(r->comm, sizeof(r->comm), "%s", p->comm);
	r->pid = p->pid;
	for (i = 0; i < p->n_listens && r->n_ports < TOP_MAX_PORTS; i++)
		if (!p->listens[i]->close_ns)
			r->ports[r->n_ports++] = p->listens[i]->t.lport;
	r->rx_bytes = p->w_rx_bytes;
	r->tx_bytes = p->w_tx_bytes;
	r->cpu_ns = p->w_cpu_ns;
	r->runq_ns = p->w_runq_ns;
	r->active_ns = p->w_active_ns;
	r->rx_bps = per_s(p->w_rx_bytes, window);
	r->tx_bps = per_s(p->w_tx_bytes, window);
	r->cpu_pct = pct(p->w_cpu_ns, window);
	r->runq_pct = pct(p->w_runq_ns, window);
	r->active_pct = pct(p->w_active_ns, window);
	r->conns = p->n_live_conns > 0 ? p->n_live_conns : 0;
	r->gone = p->gone;
	r->kthread = is_kthread(p);
}

struct peer_acc {
	int row;
	const char *name;
	__u64 bytes;
};

/* Add a connection's window bytes to (row, peer name). */
static int peer_add(struct hmap *idx, struct peer_acc **accs, int *n,
		    int *cap, int row, const char *name, __u64 bytes)
{
	__u64 key = hkey2(row + 1, hstr(name, HSTR_SEED));
	struct peer_acc *a;
	long v;

	for (;; key++) {
		v = (long)hmap__get(idx, key);
		if (!v)
			break;
		a = &(*accs)[v - 1];
		if (a->row == row && !strcmp(a->name, name)) {
			a->bytes += bytes;
			return 0;
		}
	}
	if (*n == *cap) {
		int nc = *cap ? *cap * 2 : 64;
		void *p = realloc(*accs, nc * sizeof(**accs));

		if (!p)
			return -ENOMEM;
		*accs = p;
		*cap = nc;
	}
	(*accs)[*n] = (struct peer_acc){ row, name, bytes };
	(*n)++;
	return hmap__put(idx, key, (void *)(long)*n);
}

/* Each row's best peer index into accs; ties go to the smaller name. */
static void pick_peers(struct top_frame *f, const struct peer_acc *accs,
		       int n, int *best)
{
	int i;

	for (i = 0; i < f->n_rows; i++)
		best[i] = -1;
	for (i = 0; i < n; i++) {
		int r = accs[i].row, b = best[r];

		if (b < 0 || accs[i].bytes > accs[b].bytes ||
		    (accs[i].bytes == accs[b].bytes &&
		     strcmp(accs[i].name, accs[b].name) < 0))
			best[r] = i;
	}
	for (i = 0; i < f->n_rows; i++)
		if (best[i] >= 0)
			snprintf(f->rows[i].peer, sizeof(f->rows[i].peer),
				 "%s", accs[best[i]].name);
}

/* Each row's top peer: the peer its connections moved most bytes with. */
static int top_peers(struct top_frame *f, const struct model *m,
		     struct hmap *rows_of)
{
	struct hmap *idx = hmap__new();
	struct peer_acc *accs = NULL;
	int i, n = 0, cap = 0, err = 0, *best = NULL;

	if (!idx)
		return -ENOMEM;
	for (i = 0; i < m->n_conns && !err; i++) {
		const struct mconn *c = m->conns[i];
		__u64 b = c->w_tx_bytes + c->w_rx_bytes;
		long row;

		if (!b || !c->peer_name[0])
			continue;
		row = (long)hmap__get(rows_of, (__u64)(unsigned long)c->proc);
		if (row)
			err = peer_add(idx, &accs, &n, &cap, row - 1,
				       c->peer_name, b);
	}
	if (!err && n) {
		best = malloc(f->n_rows * sizeof(*best));
		if (best)
			pick_peers(f, accs, n, best);
		else
			err = -ENOMEM;
	}
	free(best);
	free(accs);
	hmap__free(idx);
	return err;
}

static int build_flows(struct top_frame *f, const struct model *m)
{
	int i, n = 0;

	for (i = 0; i < m->n_flows; i++) {
		const struct mflow *fl = m->flows[i];

		n += (fl->src_proc ? fl->w_tx_bytes : fl->w_rx_bytes) != 0;
	}
	f->flows = calloc(n ? n : 1, sizeof(*f->flows));
	if (!f->flows)
		return -ENOMEM;
	for (i = 0; i < m->n_flows; i++) {
		const struct mflow *fl = m->flows[i];
		__u64 b = fl->src_proc ? fl->w_tx_bytes : fl->w_rx_bytes;
		struct top_flow *t;

		if (!b)
			continue;
		t = &f->flows[f->n_flows++];
		snprintf(t->src, sizeof(t->src), "%s", fl->src);
		snprintf(t->dst, sizeof(t->dst), "%s", fl->dst);
		t->bytes = b;
		t->bps = per_s(b, f->window_ns);
	}
	return 0;
}

static void header_info(struct top_frame *f, const struct model *m)
{
	json_t *h = m->header, *hk = h ? json_object_get(h, "hooks") : NULL;
	const char *sock, *sched, *state;

#define JSTR(o, k) (json_is_string(json_object_get(o, k)) ? \
		    json_string_value(json_object_get(o, k)) : "?")
	snprintf(f->host, sizeof(f->host), "%s", h ? JSTR(h, "host") : "?");
	snprintf(f->kernel, sizeof(f->kernel), "%s",
		 h ? JSTR(h, "kernel") : "?");
	sock = hk ? JSTR(hk, "sock") : "?";
	sched = hk ? JSTR(hk, "sched") : "?";
	state = hk ? JSTR(hk, "state") : "?";
#undef JSTR
	snprintf(f->hooks, sizeof(f->hooks),
		 "tcp-bytes=%s cpu=%s tcp-state=%s", sock, sched, state);
	f->ncpus = h ? json_integer_value(json_object_get(h, "ncpus")) : 0;
}

static void totals(struct top_frame *f, const struct model *m)
{
	__u64 rx = 0, tx = 0, cpu = 0, runq = 0;
	int i;

	for (i = 0; i < m->n_procs; i++) {
		const struct mproc *p = m->procs[i];

		rx += p->w_rx_bytes;
		tx += p->w_tx_bytes;
		cpu += p->w_cpu_ns;
		runq += p->w_runq_ns;
		if (!p->gone)
			f->n_procs++;
		if (p->n_live_conns > 0)
			f->n_conns += p->n_live_conns;
	}
	f->rx_bps = per_s(rx, f->window_ns);
	f->tx_bps = per_s(tx, f->window_ns);
	f->cpu_pct = pct(cpu, f->window_ns);
	f->runq_pct = pct(runq, f->window_ns);
}

static int build_rows(struct top_frame *f, const struct model *m,
		      const struct top_build_opts *o, struct hmap *rows_of)
{
	int i;

	f->rows = calloc(m->n_procs ? m->n_procs : 1, sizeof(*f->rows));
	if (!f->rows)
		return -ENOMEM;
	for (i = 0; i < m->n_procs; i++) {
		const struct mproc *p = m->procs[i];

		if (!row_wanted(m, p, o->show_all, f->window_ns))
			continue;
		fill_row(&f->rows[f->n_rows], p, f->window_ns);
		if (hmap__put(rows_of, (__u64)(unsigned long)p,
			      (void *)(long)(f->n_rows + 1)))
			return -ENOMEM;
		f->n_rows++;
	}
	return 0;
}

static int copy_trials(struct top_frame *f, const struct top_trials *tr)
{
	f->n_marks = tr->n_marks;
	if (!tr->n)
		return 0;
	f->trials = malloc(tr->n * sizeof(*f->trials));
	if (!f->trials)
		return -ENOMEM;
	memcpy(f->trials, tr->v, tr->n * sizeof(*f->trials));
	f->n_trials = tr->n;
	return 0;
}

int top_frame__build(struct top_frame *f, struct model *m,
		     const struct top_build_opts *o, struct top_trials *tr)
{
	struct hmap *rows_of = hmap__new();
	int err;

	memset(f, 0, sizeof(*f));
	if (!rows_of)
		return -ENOMEM;
	f->end_mono_ns = m->last_ns;
	f->window_ns = m->last_ns > m->w_start_ns ? m->last_ns - m->w_start_ns : 0;
	f->time_wall_ns = m->last_ns + model__mono_to_wall(m);
	header_info(f, m);
	totals(f, m);
	f->k = m->stats.k;
	f->u = m->stats.u;
	f->marks_on = o->marks_on;
	err = build_rows(f, m, o, rows_of);
	if (!err)
		err = top_peers(f, m, rows_of);
	if (!err)
		err = build_flows(f, m);
	if (!err && o->marks_on && tr) {
		top_trials__update(tr, m);
		err = copy_trials(f, tr);
	}
	hmap__free(rows_of);
	if (err)
		top_frame__free(f);
	return err;
}

void top_frame__free(struct top_frame *f)
{
	free(f->rows);
	free(f->flows);
	free(f->trials);
	f->rows = NULL;
	f->flows = NULL;
	f->trials = NULL;
	f->n_rows = f->n_flows = f->n_trials = 0;
}

/* ---- filter ---- */

static bool filter_char_ok(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	       (c >= '0' && c <= '9') || strchr(".:/_-[]#@%", c);
}

int top_filter__parse(const char *text, struct top_filter *out,
		      char *err, size_t errlen)
{
	const char *s = text, *p;
	__u64 port;
	int i;

	memset(out, 0, sizeof(*out));
	if (!*s) {
		snprintf(err, errlen, "empty filter: type part of an endpoint, a port or a role");
		return -EINVAL;
	}
	if (strlen(s) >= TOP_FILTER_LEN) {
		snprintf(err, errlen, "filter too long (at most %d characters)",
			 TOP_FILTER_LEN - 1);
		return -EINVAL;
	}
	for (p = s; *p; p++)
		if (!filter_char_ok(*p)) {
			snprintf(err, errlen,
				 "bad filter '%s': '%c' is not allowed; use plain text (part of an endpoint), a port or a role, no patterns",
				 s, *p);
			return -EINVAL;
		}
	snprintf(out->text, sizeof(out->text), "%s", s);
	if (!strncmp(s, "port:", 5) || (s[0] >= '0' && s[0] <= '9' &&
					 !parse_u64(s, 0, ~0ull, &port))) {
		const char *num = strncmp(s, "port:", 5) ? s : s + 5;

		if (parse_u64(num, 1, 65535, &port)) {
			snprintf(err, errlen, "bad filter '%s': a port is 1 to 65535", s);
			return -EINVAL;
		}
		out->kind = TOP_F_PORT;
		out->port = port;
		return 0;
	}
	if (!strncmp(s, "role:", 5))
		s += 5;
	if (!strcasecmp(s, "gone")) {
		out->kind = TOP_F_ROLE;
		snprintf(out->text, sizeof(out->text), "gone");
		return 0;
	}
	for (i = 0; i < XT_ROLE_MAX; i++)
		if (!strcasecmp(s, role_name(i))) {
			out->kind = TOP_F_ROLE;
			snprintf(out->text, sizeof(out->text), "%s",
				 role_name(i));
			return 0;
		}
	if (s != text) {
		snprintf(err, errlen, "bad filter '%s': roles are scheduler, worker, nanny, client, other, gone",
			 text);
		return -EINVAL;
	}
	out->kind = TOP_F_TEXT;
	return 0;
}

static bool ends_with_port(const char *name, __u32 port)
{
	const char *c = strrchr(name, ':');
	char *end;

	return c && strtoul(c + 1, &end, 10) == port && end != c + 1 &&
	       (!*end || *end == '#');
}

bool top_filter__match(const struct top_filter *flt, const struct top_row *r)
{
	int i;

	switch (flt->kind) {
	case TOP_F_NONE:
		return true;
	case TOP_F_PORT:
		for (i = 0; i < r->n_ports; i++)
			if (r->ports[i] == flt->port)
				return true;
		return !strncmp(r->endpoint, "tcp://", 6) &&
		       ends_with_port(r->endpoint, flt->port);
	case TOP_F_ROLE:
		if (!strcmp(flt->text, "gone"))
			return r->gone;
		return !strcmp(r->role, flt->text);
	case TOP_F_TEXT:
		return strcasestr(r->endpoint, flt->text) ||
		       strcasestr(r->comm, flt->text);
	}
	return false;
}

/* ---- view ---- */

/* Rows keep the role's name; the enum's order is the report order. */
static int role_rank(const char *role)
{
	enum xt_role r;

	return role_parse(role, &r) ? XT_ROLE_MAX : (int)r;
}

static int cmp_d(double a, double b)
{
	return a < b ? -1 : a > b;
}

/* Natural order: ascending for names, descending for amounts. */
static int cmp_key(const struct top_row *a, const struct top_row *b,
		   enum top_key k)
{
	switch (k) {
	case TOP_K_ENDPOINT:
		return strcmp(a->endpoint, b->endpoint);
	case TOP_K_PID:
		return (a->pid > b->pid) - (a->pid < b->pid);
	case TOP_K_ROLE:
		return role_rank(a->role) - role_rank(b->role) ?:
		       cmp_d(b->rx_bps + b->tx_bps, a->rx_bps + a->tx_bps);
	case TOP_K_RX:
		return cmp_d(b->rx_bps, a->rx_bps);
	case TOP_K_TX:
		return cmp_d(b->tx_bps, a->tx_bps);
	case TOP_K_CPU:
		return cmp_d(b->cpu_pct, a->cpu_pct);
	case TOP_K_RUNQ:
		return cmp_d(b->runq_pct, a->runq_pct);
	case TOP_K_ACTIVE:
		return cmp_d(b->active_pct, a->active_pct);
	case TOP_K_CONNS:
		return (b->conns > a->conns) - (b->conns < a->conns);
	case TOP_K_PEER:
		if (!a->peer[0] != !b->peer[0])
			return a->peer[0] ? -1 : 1;
		return strcmp(a->peer, b->peer);
	default:
		return cmp_d(b->rx_bps + b->tx_bps, a->rx_bps + a->tx_bps);
	}
}

struct sort_ctx {
	const struct top_frame *f;
	const struct top_view *v;
};

static int cmp_rows(const void *x, const void *y, void *arg)
{
	const struct sort_ctx *s = arg;
	const struct top_row *a = &s->f->rows[*(const int *)x];
	const struct top_row *b = &s->f->rows[*(const int *)y];
	int c = cmp_key(a, b, s->v->sort);

	if (s->v->reverse)
		c = -c;
	/* Ties: busiest, then CPU, then name; a stable order frame to frame. */
	return c ?: cmp_key(a, b, TOP_K_TOTAL) ?: cmp_key(a, b, TOP_K_CPU) ?:
	       strcmp(a->endpoint, b->endpoint) ?:
	       (a->pid > b->pid) - (a->pid < b->pid);
}

int top_view__select(const struct top_frame *f, const struct top_view *v,
		     int *idx, int max, int *matched)
{
	struct sort_ctx ctx = { f, v };
	int i, n = 0;

	for (i = 0; i < f->n_rows; i++)
		if (top_filter__match(&v->filter, &f->rows[i]))
			idx[n++] = i;
	qsort_r(idx, n, sizeof(*idx), cmp_rows, &ctx);
	if (matched)
		*matched = n;
	if (v->max_rows > 0 && n > v->max_rows)
		n = v->max_rows;
	return max >= 0 && n > max ? max : n;
}

/* ---- batch text and JSON ---- */

static void fmt_time(char *buf, size_t len, __u64 wall_ns)
{
	time_t t = wall_ns / 1000000000ull;
	struct tm tm;

	localtime_r(&t, &tm);
	strftime(buf, len, "%Y-%m-%d %H:%M:%S", &tm);
}

int top_print_text(FILE *out, const struct top_frame *f,
		   const struct top_view *v)
{
	int *idx = malloc((f->n_rows ? f->n_rows : 1) * sizeof(int));
	int i, n, matched;
	char ts[32];

	if (!idx)
		return -ENOMEM;
	n = top_view__select(f, v, idx, -1, &matched);
	fmt_time(ts, sizeof(ts), f->time_wall_ns);
	fprintf(out, "xfertrace top - %s (%.3f)  host %s  kernel %s  interval %.3f s  %s\n",
		ts, f->time_wall_ns / 1e9, f->host, f->kernel,
		f->window_ns / 1e9, f->hooks);
	fprintf(out, "total  rx %.3f MB/s  tx %.3f MB/s  cpu %.1f%% of %d cpus  runq %.1f%%  processes %d  connections %d\n",
		f->rx_bps / 1e6, f->tx_bps / 1e6, f->cpu_pct, f->ncpus,
		f->runq_pct, f->n_procs, f->n_conns);
	fprintf(out, "drops  ");
	counters__print(out, &f->k, &f->u, XT_CK_DROP | XT_CK_HEALTH, "=", " ");
	fputc('\n', out);
	if (f->marks_on)
		fprintf(out, "marks  live=%llu active_trials=%d\n",
			(unsigned long long)f->n_marks, f->n_trials);
	fprintf(out, "rows   %d of %d  sort %s%s%s%s\n", n, matched,
		top_key__name(v->sort), v->reverse ? " reversed" : "",
		v->filter.kind ? "  filter " : "", v->filter.text);
	fprintf(out, "%7s %-9s %9s %9s %6s %6s %6s %5s %-40s %s\n", "PID",
		"ROLE", "RX_MB/s", "TX_MB/s", "CPU%", "RUNQ%", "ACT%",
		"CONNS", "ENDPOINT", "TOP_PEER");
	for (i = 0; i < n; i++) {
		const struct top_row *r = &f->rows[idx[i]];

		fprintf(out, "%7u %-9s %9.3f %9.3f %6.1f %6.1f %6.1f %5d %-40s %s\n",
			r->pid, r->gone ? "gone" : r->role, r->rx_bps / 1e6,
			r->tx_bps / 1e6, r->cpu_pct, r->runq_pct,
			r->active_pct, r->conns, r->endpoint,
			r->peer[0] ? r->peer : "-");
	}
	fputc('\n', out);
	free(idx);
	return 0;
}

static json_t *drops_json(const struct top_frame *f)
{
	return counters__json(&f->k, &f->u, XT_CK_DROP | XT_CK_HEALTH);
}

static json_t *row_json(const struct top_row *r)
{
	return json_pack("{s:s, s:i, s:s, s:f, s:f, s:f, s:f, s:f, s:i, s:o, s:b, s:s, s:I, s:I, s:I}",
			 "endpoint", r->endpoint, "pid", (int)r->pid,
			 "role", r->role,
			 "rx_bytes_per_s", r->rx_bps,
			 "tx_bytes_per_s", r->tx_bps,
			 "cpu_pct", r->cpu_pct, "runq_pct", r->runq_pct,
			 "transfer_active_pct", r->active_pct,
			 "connections", r->conns,
			 "top_peer", r->peer[0] ? json_string(r->peer) :
						  json_null(),
			 "gone", r->gone, "comm", r->comm,
			 "rx_bytes", (json_int_t)r->rx_bytes,
			 "tx_bytes", (json_int_t)r->tx_bytes,
			 "cpu_ns", (json_int_t)r->cpu_ns);
}

static json_t *trials_json(const struct top_frame *f)
{
	json_t *arr = json_array();
	int i, j;

	for (i = 0; i < f->n_trials; i++) {
		const struct top_trial *t = &f->trials[i];
		json_t *w = json_array();

		for (j = 0; j < t->n_workers; j++)
			json_array_append_new(w, json_string(t->workers[j]));
		json_array_append_new(arr, json_pack(
			"{s:s, s:f, s:i, s:i, s:o}", "param_id", t->param_id,
			"age_s", f->end_mono_ns > t->begin_ns ?
				 (f->end_mono_ns - t->begin_ns) / 1e9 : 0.0,
			"sim_marks", t->n_sim, "agg_marks", t->n_agg,
			"workers", w));
	}
	return arr;
}

json_t *top_frame__json(const struct top_frame *f, const struct top_view *v)
{
	int *idx = malloc((f->n_rows ? f->n_rows : 1) * sizeof(int));
	json_t *rows = json_array(), *flows = json_array(), *o;
	int i, n;

	if (!idx)
		return NULL;
	n = top_view__select(f, v, idx, -1, NULL);
	for (i = 0; i < n; i++)
		json_array_append_new(rows, row_json(&f->rows[idx[i]]));
	free(idx);
	for (i = 0; i < f->n_flows; i++)
		json_array_append_new(flows, json_pack(
			"{s:s, s:s, s:f, s:I}", "src", f->flows[i].src,
			"dst", f->flows[i].dst,
			"bytes_per_s", f->flows[i].bps,
			"bytes", (json_int_t)f->flows[i].bytes));
	o = json_pack("{s:f, s:I, s:s, s:s, s:s, s:{s:f, s:f, s:f, s:f, s:i, s:i, s:i}, s:o, s:o, s:o}",
		      "time_unix", f->time_wall_ns / 1e9,
		      "interval_ns", (json_int_t)f->window_ns,
		      "host", f->host, "kernel", f->kernel,
		      "hooks", f->hooks,
		      "totals", "rx_bytes_per_s", f->rx_bps,
		      "tx_bytes_per_s", f->tx_bps, "cpu_pct", f->cpu_pct,
		      "runq_pct", f->runq_pct, "processes", f->n_procs,
		      "connections", f->n_conns, "ncpus", f->ncpus,
		      "drops", drops_json(f), "rows", rows, "flows", flows);
	if (o && f->marks_on)
		json_object_set_new(o, "marks", json_pack(
			"{s:I, s:o}", "live", (json_int_t)f->n_marks,
			"active_trials", trials_json(f)));
	return o;
}
