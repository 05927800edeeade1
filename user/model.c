// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * Trace model. Identity is (pid, start time) for processes and (tid,
 * start time) for threads, so pid reuse never merges two processes;
 * listeners carry their open/close times, so port reuse never does
 * either. Resolution rules are in docs/identity.md.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "hmap.h"
#include "model.h"
#include "util.h"

struct model_priv {
	struct hmap *procs;	/* (pid, start) -> mproc */
	struct hmap *threads;	/* (tid, start) -> mthread */
	struct hmap *conns;	/* id -> mconn */
	struct hmap *flows;	/* hash(src, dst) -> mflow */
};

#define PRIV(m) ((struct model_priv *)(m)->priv)

static int vec_push(void *vecp, int *n, void *item)
{
	void ***vec = vecp;
	void **p;

	/* Grow in powers of two. */
	if ((*n & (*n - 1)) == 0) {
		p = realloc(*vec, (size_t)(*n ? *n * 2 : 1) * sizeof(void *));
		if (!p)
			return -ENOMEM;
		*vec = p;
	}
	(*vec)[(*n)++] = item;
	return 0;
}

struct model *model__new(void)
{
	struct model *m = calloc(1, sizeof(*m));
	struct model_priv *p = calloc(1, sizeof(*p));

	if (!m || !p)
		goto fail;
	m->priv = p;
	m->pid_max = XT_PID_MAX_LIMIT;
	p->procs = hmap__new();
	p->threads = hmap__new();
	p->conns = hmap__new();
	p->flows = hmap__new();
	if (!p->procs || !p->threads || !p->conns || !p->flows)
		goto fail;
	return m;
fail:
	model__free(m);
	if (!m)
		free(p);
	return NULL;
}

static void free_flows(struct model *m)
{
	int i;

	for (i = 0; i < m->n_flows; i++)
		free(m->flows[i]);
	free(m->flows);
	m->flows = NULL;
	m->n_flows = 0;
	if (m->priv) {
		hmap__free(PRIV(m)->flows);
		PRIV(m)->flows = hmap__new();
	}
}

void model__free(struct model *m)
{
	int i;

	if (!m)
		return;
	for (i = 0; i < m->n_procs; i++) {
		free(m->procs[i]->listens);
		free(m->procs[i]);
	}
	for (i = 0; i < m->n_threads; i++)
		free(m->threads[i]);
	for (i = 0; i < m->n_conns; i++)
		free(m->conns[i]);
	for (i = 0; i < m->n_listens; i++)
		free(m->listens[i]);
	for (i = 0; i < m->n_marks; i++)
		free(m->marks[i].text);
	free_flows(m);
	free(m->procs);
	free(m->threads);
	free(m->conns);
	free(m->listens);
	free(m->marks);
	if (m->priv) {
		hmap__free(PRIV(m)->procs);
		hmap__free(PRIV(m)->threads);
		hmap__free(PRIV(m)->conns);
		hmap__free(PRIV(m)->flows);
		free(m->priv);
	}
	json_decref(m->header);
	free(m);
}

void model__set_header(struct model *m, const json_t *hdr)
{
	json_t *v;

	json_decref(m->header);
	m->header = json_deep_copy(hdr);
	v = m->header ? json_object_get(m->header, "pid_max") : NULL;
	if (json_is_integer(v) && json_integer_value(v) > 0 &&
	    json_integer_value(v) <= XT_PID_MAX_LIMIT)
		m->pid_max = json_integer_value(v);
}

__u64 model__mono_to_wall(const struct model *m)
{
	json_t *v = m->header ? json_object_get(m->header, "mono_to_wall_ns") :
		    NULL;

	return v ? (__u64)json_integer_value(v) : 0;
}

/* Find or make a process; a placeholder if no PROC record came first. */
static struct mproc *proc_get(struct model *m, __u32 pid, __u64 start_ns)
{
	__u64 key = hkey2(pid, start_ns);
	struct mproc *p = hmap__get(PRIV(m)->procs, key);

	if (p)
		return p;
	p = calloc(1, sizeof(*p));
	if (!p)
		return NULL;
	p->pid = pid;
	p->start_ns = start_ns;
	p->order = m->n_procs;
	p->role = XT_ROLE_OTHER;
	snprintf(p->comm, sizeof(p->comm), "?");
	if (hmap__put(PRIV(m)->procs, key, p) ||
	    vec_push(&m->procs, &m->n_procs, p)) {
		hmap__del(PRIV(m)->procs, key);
		free(p);
		return NULL;
	}
	return p;
}

/* A pid beyond pid_max cannot exist: the record is garbage. */
static bool pid_bad(struct model *m, __u32 pid)
{
	if (pid <= m->pid_max)
		return false;
	m->bad_pid_records++;
	return true;
}

static void apply_proc(struct model *m, const struct xt_rec_proc *r)
{
	struct mproc *p;

	if (pid_bad(m, r->pid))
		return;
	p = proc_get(m, r->pid, r->start_ns);
	if (!p)
		return;
	p->have_rec = true;
	p->ppid = r->ppid;
	if (r->netns)
		p->netns = r->netns;
	if (r->cgroup_id)
		p->cgroup_id = r->cgroup_id;
	if (r->comm[0])
		clean_str(p->comm, r->comm, sizeof(p->comm));
	clean_str(p->cmdline, r->cmdline, sizeof(p->cmdline));
}

static void apply_listen(struct model *m, const struct xt_rec_listen *r)
{
	struct mproc *p = proc_get(m, r->pid, r->start_ns);
	struct mlisten *l;
	int i;

	if (!p)
		return;
	for (i = 0; i < p->n_listens; i++) {
		l = p->listens[i];
		if (!l->close_ns && l->t.lport == r->tuple.lport &&
		    l->t.family == r->tuple.family &&
		    !memcmp(l->t.laddr, r->tuple.laddr, 16)) {
			if (!r->open)
				l->close_ns = r->ts_ns ? r->ts_ns : 1;
			return;		/* already known open */
		}
	}
	if (!r->open)
		return;
	l = calloc(1, sizeof(*l));
	if (!l)
		return;
	l->proc = p;
	l->netns = r->netns;
	l->t = r->tuple;
	addr_normalize(&l->t.family, l->t.laddr);
	l->open_ns = r->ts_ns;
	l->backlog = r->backlog;
	if (vec_push(&m->listens, &m->n_listens, l) ||
	    vec_push(&p->listens, &p->n_listens, l))
		return;		/* leaks nothing: l is owned by m->listens */
	if (!p->netns)
		p->netns = r->netns;
}

static void apply_conn(struct model *m, const struct xt_rec_conn *r)
{
	struct mconn *c;

	if (hmap__get(PRIV(m)->conns, r->id))
		return;
	c = calloc(1, sizeof(*c));
	if (!c)
		return;
	c->id = r->id;
	c->first_ns = c->last_ns = r->first_ns;
	c->netns = r->netns;
	c->t = r->tuple;
	addr_normalize(&c->t.family, c->t.laddr);
	addr_normalize(&c->t.family, c->t.raddr);
	c->proc = proc_get(m, r->pid, r->start_ns);
	if (!c->proc || hmap__put(PRIV(m)->conns, r->id, c) ||
	    vec_push(&m->conns, &m->n_conns, c)) {
		hmap__del(PRIV(m)->conns, r->id);
		free(c);
		return;
	}
	c->proc->n_conns++;
	c->proc->n_live_conns++;
	if (!c->proc->netns)
		c->proc->netns = r->netns;
	if (!c->proc->cgroup_id)
		c->proc->cgroup_id = r->cgroup_id;
}

static void apply_conn_delta(struct model *m,
			     const struct xt_rec_conn_delta *r)
{
	struct mconn *c = hmap__get(PRIV(m)->conns, r->id);
	struct mproc *p;

	if (!c)
		return;
	c->tx_bytes += r->tx_bytes;
	c->rx_bytes += r->rx_bytes;
	c->tx_calls += r->tx_calls;
	c->rx_calls += r->rx_calls;
	c->active_ns += r->active_ns;
	c->w_tx_bytes += r->tx_bytes;
	c->w_rx_bytes += r->rx_bytes;
	c->w_active_ns += r->active_ns;
	c->last_ns = r->ts_ns;
	p = c->proc;
	p->tx_bytes += r->tx_bytes;
	p->rx_bytes += r->rx_bytes;
	p->w_tx_bytes += r->tx_bytes;
	p->w_rx_bytes += r->rx_bytes;
}

static void apply_conn_close(struct model *m,
			     const struct xt_rec_conn_close *r)
{
	struct mconn *c = hmap__get(PRIV(m)->conns, r->id);

	if (!c || c->closed)
		return;
	c->closed = true;
	c->last_ns = r->ts_ns;
	c->proc->n_live_conns--;
}

static struct mthread *thread_get(struct model *m, __u32 tid,
				  __u64 start_ns)
{
	return hmap__get(PRIV(m)->threads, hkey2(tid, start_ns));
}

static void apply_thread(struct model *m, const struct xt_rec_thread *r)
{
	__u64 key = hkey2(r->tid, r->start_ns);
	struct mthread *t;

	if (hmap__get(PRIV(m)->threads, key) || pid_bad(m, r->tid) ||
	    pid_bad(m, r->pid))
		return;
	t = calloc(1, sizeof(*t));
	if (!t)
		return;
	t->tid = r->tid;
	t->pid = r->pid;
	t->start_ns = r->start_ns;
	clean_str(t->comm, r->comm, sizeof(t->comm));
	t->proc = proc_get(m, r->pid, r->leader_start_ns);
	if (!t->proc || hmap__put(PRIV(m)->threads, key, t) ||
	    vec_push(&m->threads, &m->n_threads, t)) {
		hmap__del(PRIV(m)->threads, key);
		free(t);
		return;
	}
	t->proc->n_threads++;
	if (r->tid == r->pid && t->proc->comm[0] == '?')
		clean_str(t->proc->comm, r->comm, sizeof(t->proc->comm));
}

static void apply_thread_delta(struct model *m,
			       const struct xt_rec_thread_delta *r)
{
	struct mthread *t = thread_get(m, r->tid, r->start_ns);
	struct mproc *p;

	if (!t)
		return;
	t->cpu_ns += r->cpu_ns;
	t->runq_ns += r->runq_ns;
	t->switches += r->switches;
	t->w_cpu_ns += r->cpu_ns;
	p = t->proc;
	p->cpu_ns += r->cpu_ns;
	p->runq_ns += r->runq_ns;
	p->switches += r->switches;
	p->w_cpu_ns += r->cpu_ns;
	p->w_runq_ns += r->runq_ns;
}

static void apply_thread_exit(struct model *m,
			      const struct xt_rec_thread_exit *r)
{
	struct mthread *t = thread_get(m, r->tid, r->start_ns);

	if (!t || t->exited)
		return;
	t->exited = true;
	if (t->tid == t->pid) {
		t->proc->gone = true;
		t->proc->gone_ns = r->ts_ns;
	}
}

static void apply_proc_delta(struct model *m,
			     const struct xt_rec_proc_delta *r)
{
	struct mproc *p = proc_get(m, r->pid, r->start_ns);

	if (!p)
		return;
	p->active_ns += r->active_ns;
	p->w_active_ns += r->active_ns;
}

static void apply_cgroup_cpu(struct model *m,
			     const struct xt_rec_cgroup_cpu *r)
{
	struct mproc *p = proc_get(m, r->pid, r->start_ns);

	if (!p)
		return;
	if (!p->have_cg) {
		p->have_cg = true;
		p->cg0_periods = r->nr_periods;
		p->cg0_throttled = r->nr_throttled;
		p->cg0_throttled_ns = r->throttled_ns;
	}
	p->cg_periods = r->nr_periods;
	p->cg_throttled = r->nr_throttled;
	p->cg_throttled_ns = r->throttled_ns;
	p->cg_quota_us = r->quota_us;
	p->cg_period_us = r->period_us;
}

static void apply_mark(struct model *m, const struct xt_rec_mark *r)
{
	struct mmark *nm;
	char *text;

	if ((m->n_marks & (m->n_marks - 1)) == 0) {
		nm = realloc(m->marks, (size_t)(m->n_marks ? m->n_marks * 2 : 1) *
			     sizeof(*nm));
		if (!nm)
			return;
		m->marks = nm;
	}
	text = strndup(r->text, r->text_len);
	if (!text)
		return;
	m->marks[m->n_marks].ts_ns = r->ts_ns;
	m->marks[m->n_marks++].text = text;
}

int model__apply(struct model *m, const struct xt_rec_hdr *h)
{
	m->records++;
	switch (h->type) {
	case XT_REC_PROC:
		apply_proc(m, (const void *)h);
		break;
	case XT_REC_LISTEN:
		apply_listen(m, (const void *)h);
		break;
	case XT_REC_CONN:
		apply_conn(m, (const void *)h);
		break;
	case XT_REC_CONN_DELTA:
		apply_conn_delta(m, (const void *)h);
		break;
	case XT_REC_CONN_CLOSE:
		apply_conn_close(m, (const void *)h);
		break;
	case XT_REC_THREAD:
		apply_thread(m, (const void *)h);
		break;
	case XT_REC_THREAD_DELTA:
		apply_thread_delta(m, (const void *)h);
		break;
	case XT_REC_THREAD_EXIT:
		apply_thread_exit(m, (const void *)h);
		break;
	case XT_REC_PROC_DELTA:
		apply_proc_delta(m, (const void *)h);
		break;
	case XT_REC_STATS:
		memcpy(&m->stats, h, sizeof(m->stats));
		m->have_stats = true;
		break;
	case XT_REC_INTERVAL: {
		const struct xt_rec_interval *iv = (const void *)h;

		if (!m->first_ns || iv->start_ns < m->first_ns)
			m->first_ns = iv->start_ns;
		if (iv->end_ns > m->last_ns)
			m->last_ns = iv->end_ns;
		m->intervals++;
		break;
	}
	case XT_REC_MARK:
		apply_mark(m, (const void *)h);
		break;
	case XT_REC_CGROUP_CPU:
		apply_cgroup_cpu(m, (const void *)h);
		break;
	}
	return 0;
}

void model__drop_marks(struct model *m)
{
	int i;

	for (i = 0; i < m->n_marks; i++)
		free(m->marks[i].text);
	free(m->marks);
	m->marks = NULL;
	m->n_marks = 0;
}

struct mconn *model__conn(const struct model *m, __u64 id)
{
	return hmap__get(PRIV(m)->conns, id);
}

struct mthread *model__thread(const struct model *m, __u32 tid,
			      __u64 start_ns)
{
	return hmap__get(PRIV(m)->threads, hkey2(tid, start_ns));
}

struct mproc *model__proc(const struct model *m, __u32 pid, __u64 start_ns)
{
	return hmap__get(PRIV(m)->procs, hkey2(pid, start_ns));
}

int model__sink(void *ctx, const struct xt_rec_hdr *rec)
{
	return model__apply(ctx, rec);
}

void model__window_reset(struct model *m, __u64 now_ns)
{
	int i;

	m->w_start_ns = now_ns;
	for (i = 0; i < m->n_procs; i++) {
		struct mproc *p = m->procs[i];

		p->w_cpu_ns = p->w_runq_ns = p->w_tx_bytes = 0;
		p->w_rx_bytes = p->w_active_ns = 0;
	}
	for (i = 0; i < m->n_threads; i++)
		m->threads[i]->w_cpu_ns = 0;
	for (i = 0; i < m->n_conns; i++) {
		struct mconn *c = m->conns[i];

		c->w_tx_bytes = c->w_rx_bytes = c->w_active_ns = 0;
	}
}

static bool doomed(const struct mproc *p, __u64 before_ns)
{
	return p->gone && p->gone_ns < before_ns && p->n_live_conns <= 0;
}

/*
 * Forget gone processes and closed connections. Processes are decided
 * first; then everything that points at a doomed process goes with it,
 * so no pointer is left dangling.
 */
void model__prune(struct model *m, __u64 before_ns)
{
	int i, n;

	for (i = n = 0; i < m->n_conns; i++) {
		struct mconn *c = m->conns[i];

		if (doomed(c->proc, before_ns) ||
		    (c->closed && c->last_ns < before_ns)) {
			if (!c->closed)
				c->proc->n_live_conns--;
			hmap__del(PRIV(m)->conns, c->id);
			free(c);
		} else {
			m->conns[n++] = c;
		}
	}
	m->n_conns = n;
	for (i = n = 0; i < m->n_threads; i++) {
		struct mthread *t = m->threads[i];

		if (doomed(t->proc, before_ns)) {
			hmap__del(PRIV(m)->threads, hkey2(t->tid, t->start_ns));
			free(t);
		} else {
			m->threads[n++] = t;
		}
	}
	m->n_threads = n;
	for (i = n = 0; i < m->n_listens; i++) {
		struct mlisten *l = m->listens[i];

		if (doomed(l->proc, before_ns))
			free(l);
		else
			m->listens[n++] = l;
	}
	m->n_listens = n;
	for (i = n = 0; i < m->n_procs; i++) {
		struct mproc *p = m->procs[i];

		if (doomed(p, before_ns)) {
			hmap__del(PRIV(m)->procs, hkey2(p->pid, p->start_ns));
			free(p->listens);
			free(p);
		} else {
			m->procs[n++] = p;
		}
	}
	m->n_procs = n;
	/* Peers and flows may name a freed process: resolve again. */
	for (i = 0; i < m->n_conns; i++)
		m->conns[i]->peer = NULL;
	free_flows(m);
}

/* ---- resolution ---- */

static bool is_loopback(__u32 family, const __u32 a[4])
{
	if (family == 2)
		return (ntohl(a[0]) >> 24) == 127;
	return !a[0] && !a[1] && !a[2] && a[3] == htonl(1);
}

static void endpoint_name(char *buf, size_t len, __u32 family,
			  const __u32 addr[4], __u32 port)
{
	char a[64];

	addr_str(family, addr, a, sizeof(a), true);
	snprintf(buf, len, "tcp://%s:%u", a, port);
}

static bool listen_live_at(const struct mlisten *l, __u64 ts)
{
	return (!l->open_ns || l->open_ns <= ts || ts == 0) &&
	       (!l->close_ns || ts <= l->close_ns);
}

/* Does listener l accept connections addressed to (family, addr, port)? */
static bool listen_covers(const struct mlisten *l, __u32 family,
			  const __u32 addr[4], __u32 port)
{
	if (l->t.lport != port)
		return false;
	if (addr_is_any(l->t.family, l->t.laddr))
		/* An IPv6 wildcard also takes IPv4 unless v6only; assume so. */
		return l->t.family == family || l->t.family == 10;
	return l->t.family == family && !memcmp(l->t.laddr, addr, 16);
}

static void mark_accepted(struct model *m)
{
	int i, j;

	for (i = 0; i < m->n_listens; i++)
		m->listens[i]->accepted = m->listens[i]->bytes = 0;
	for (i = 0; i < m->n_conns; i++) {
		struct mconn *c = m->conns[i];
		struct mproc *p = c->proc;

		c->accepted = false;
		for (j = 0; j < p->n_listens; j++) {
			struct mlisten *l = p->listens[j];

			if (listen_covers(l, c->t.family, c->t.laddr,
					  c->t.lport) &&
			    listen_live_at(l, c->first_ns)) {
				c->accepted = true;
				l->accepted++;
				l->bytes += c->tx_bytes + c->rx_bytes;
				break;
			}
		}
	}
}

static __u64 tuple_key(__u32 family, const __u32 la[4], __u32 lp,
		       const __u32 ra[4], __u32 rp)
{
	__u64 h = 1469598103934665603ull;
	int i;

	for (i = 0; i < 4; i++) {
		h = (h ^ la[i]) * 1099511628211ull;
		h = (h ^ ra[i]) * 1099511628211ull;
	}
	h = (h ^ (lp << 16 | rp)) * 1099511628211ull;
	return (h ^ family) * 1099511628211ull;
}

/* Name wildcard listeners by an address their connections really used. */
static void name_listeners(struct model *m)
{
	int i, j;

	for (i = 0; i < m->n_listens; i++) {
		struct mlisten *l = m->listens[i];
		const __u32 *addr = l->t.laddr;
		__u32 family = l->t.family;

		if (addr_is_any(family, addr)) {
			for (j = 0; j < m->n_conns; j++) {
				struct mconn *c = m->conns[j];

				if (c->proc == l->proc && c->accepted &&
				    c->t.lport == l->t.lport &&
				    !addr_is_any(c->t.family, c->t.laddr)) {
					addr = c->t.laddr;
					family = c->t.family;
					break;
				}
			}
		}
		endpoint_name(l->name, sizeof(l->name), family, addr,
			      l->t.lport);
	}
}

static int cmp_listen(const void *a, const void *b)
{
	const struct mlisten *x = *(struct mlisten *const *)a;
	const struct mlisten *y = *(struct mlisten *const *)b;

	/*
	 * Busiest first: a Dask address is where peers come for data. When
	 * idle, the deeper backlog: Dask's comm listener asks for 2048, its
	 * HTTP server for 128.
	 */
	if (x->bytes != y->bytes)
		return x->bytes > y->bytes ? -1 : 1;
	if (x->accepted != y->accepted)
		return x->accepted > y->accepted ? -1 : 1;
	if (x->backlog != y->backlog)
		return x->backlog > y->backlog ? -1 : 1;
	if (x->open_ns != y->open_ns)
		return x->open_ns < y->open_ns ? -1 : 1;
	return x->t.lport < y->t.lport ? -1 : x->t.lport > y->t.lport;
}

static void name_procs(struct model *m)
{
	struct hmap *names = hmap__new();
	int i;

	for (i = 0; i < m->n_procs; i++) {
		struct mproc *p = m->procs[i];
		__u64 h = 1469598103934665603ull;
		const char *s;

		if (p->n_listens) {
			qsort(p->listens, p->n_listens, sizeof(*p->listens),
			      cmp_listen);
			snprintf(p->name, sizeof(p->name), "%s",
				 p->listens[0]->name);
		} else {
			snprintf(p->name, sizeof(p->name), "pid:%u/%s",
				 p->pid, p->comm);
		}
		/* Pid or port reuse: two processes, one name. Keep apart. */
		for (s = p->name; *s; s++)
			h = (h ^ (unsigned char)*s) * 1099511628211ull;
		if (names && hmap__get(names, h)) {
			size_t n = strlen(p->name);

			snprintf(p->name + n, sizeof(p->name) - n, "#%u",
				 p->pid);
		} else if (names) {
			hmap__put(names, h, p);
		}
	}
	hmap__free(names);
}

static __u64 addr_key(__u64 netns, __u32 family, const __u32 addr[4])
{
	return hkey2(netns, tuple_key(family, addr, 0, addr, 0));
}

/* Which netns owns which address: learned from local ends of sockets. */
static struct hmap *netns_addrs(struct model *m)
{
	struct hmap *h = hmap__new();
	int i;

	for (i = 0; h && i < m->n_conns; i++) {
		struct mconn *c = m->conns[i];

		hmap__put(h, addr_key(c->netns, c->t.family, c->t.laddr),
			  (void *)1);
	}
	return h;
}

static struct mproc *listener_for(struct model *m, const struct mconn *c,
				  struct hmap *owned)
{
	struct mlisten *hit = NULL;
	bool loop = is_loopback(c->t.family, c->t.raddr);
	int i, n = 0;

	/* Exact address first. */
	for (i = 0; i < m->n_listens; i++) {
		struct mlisten *l = m->listens[i];

		if (addr_is_any(l->t.family, l->t.laddr) ||
		    !listen_covers(l, c->t.family, c->t.raddr, c->t.rport) ||
		    !listen_live_at(l, c->first_ns) ||
		    (loop && l->netns != c->netns))
			continue;
		return l->proc;
	}
	/* Then wildcard listeners, if exactly one fits. */
	for (i = 0; i < m->n_listens; i++) {
		struct mlisten *l = m->listens[i];

		if (!addr_is_any(l->t.family, l->t.laddr) ||
		    !listen_covers(l, c->t.family, c->t.raddr, c->t.rport) ||
		    !listen_live_at(l, c->first_ns))
			continue;
		if (loop ? l->netns != c->netns :
		    !(owned && hmap__get(owned, addr_key(l->netns, c->t.family,
							   c->t.raddr))))
			continue;
		hit = l;
		n++;
	}
	return n == 1 ? hit->proc : NULL;
}

static void resolve_peers(struct model *m)
{
	struct hmap *idx = hmap__new(), *owned = netns_addrs(m);
	int i;

	/* Index by 4-tuple; the reverse tuple finds a local peer. */
	for (i = 0; idx && i < m->n_conns; i++) {
		struct mconn *c = m->conns[i];

		hmap__put(idx, tuple_key(c->t.family, c->t.laddr, c->t.lport,
					 c->t.raddr, c->t.rport), c);
	}
	for (i = 0; i < m->n_conns; i++) {
		struct mconn *c = m->conns[i], *r = NULL;
		char a[64];

		if (idx)
			r = hmap__get(idx, tuple_key(c->t.family, c->t.raddr,
						     c->t.rport, c->t.laddr,
						     c->t.lport));
		if (r && (r->t.lport != c->t.rport ||
			  r->t.rport != c->t.lport ||
			  (is_loopback(c->t.family, c->t.raddr) &&
			   r->netns != c->netns)))
			r = NULL;
		c->peer = r ? r->proc : NULL;
		if (!c->peer && !c->accepted)
			c->peer = listener_for(m, c, owned);
		if (c->peer) {
			snprintf(c->peer_name, sizeof(c->peer_name), "%s",
				 c->peer->name);
		} else if (c->accepted) {
			addr_str(c->t.family, c->t.raddr, a, sizeof(a), true);
			snprintf(c->peer_name, sizeof(c->peer_name),
				 "host://%s", a);
		} else {
			endpoint_name(c->peer_name, sizeof(c->peer_name),
				      c->t.family, c->t.raddr, c->t.rport);
		}
	}
	hmap__free(idx);
	hmap__free(owned);
}

static struct mflow *flow_get(struct model *m, const char *src,
			      const char *dst)
{
	/* 0xff between the two names: no name holds it. */
	__u64 h = hstr(dst, (hstr(src, HSTR_SEED) ^ 0xff) *
			    1099511628211ull);
	struct mflow *f;

	/* Probe past the rare hash collision. */
	for (;; h++) {
		f = hmap__get(PRIV(m)->flows, h);
		if (!f)
			break;
		if (!strcmp(f->src, src) && !strcmp(f->dst, dst))
			return f;
	}
	f = calloc(1, sizeof(*f));
	if (!f)
		return NULL;
	snprintf(f->src, sizeof(f->src), "%s", src);
	snprintf(f->dst, sizeof(f->dst), "%s", dst);
	if (hmap__put(PRIV(m)->flows, h, f) ||
	    vec_push(&m->flows, &m->n_flows, f)) {
		hmap__del(PRIV(m)->flows, h);
		free(f);
		return NULL;
	}
	return f;
}

static void build_flows(struct model *m)
{
	int i;

	free_flows(m);
	m->tx_bytes = m->rx_bytes = m->unresolved_tx = m->unresolved_rx = 0;
	for (i = 0; i < m->n_conns; i++) {
		struct mconn *c = m->conns[i];
		struct mflow *f;

		m->tx_bytes += c->tx_bytes;
		m->rx_bytes += c->rx_bytes;
		if (!c->peer) {
			m->unresolved_tx += c->tx_bytes;
			m->unresolved_rx += c->rx_bytes;
		}
		if (c->tx_bytes || c->w_tx_bytes) {
			f = flow_get(m, c->proc->name, c->peer_name);
			if (f) {
				f->src_proc = c->proc;
				f->dst_proc = c->peer;
				f->tx_bytes += c->tx_bytes;
				f->w_tx_bytes += c->w_tx_bytes;
			}
		}
		if (c->rx_bytes || c->w_rx_bytes) {
			f = flow_get(m, c->peer_name, c->proc->name);
			if (f) {
				f->src_proc = c->peer;
				f->dst_proc = c->proc;
				f->rx_bytes += c->rx_bytes;
				f->w_rx_bytes += c->w_rx_bytes;
			}
		}
	}
	for (i = 0; i < m->n_flows; i++) {
		struct mflow *f = m->flows[i];

		/* The sender's count when we saw the sender, else receiver's. */
		f->bytes = f->src_proc ? f->tx_bytes : f->rx_bytes;
	}
}

/* Distinct listening and non-listening processes calling into p. */
struct callers {
	struct mproc *p;
	int listening;
	int plain;
};

static int cmp_callers(const void *a, const void *b)
{
	const struct callers *x = a, *y = b;

	if (x->listening != y->listening)
		return y->listening - x->listening;
	if (x->plain != y->plain)
		return y->plain - x->plain;
	/* A scheduler is started before the workers that join it. */
	return x->p->start_ns < y->p->start_ns ? -1 :
	       x->p->start_ns > y->p->start_ns;
}

static const char *const role_names[XT_ROLE_MAX] = {
	[XT_ROLE_SCHEDULER] = "scheduler",
	[XT_ROLE_WORKER] = "worker",
	[XT_ROLE_NANNY] = "nanny",
	[XT_ROLE_CLIENT] = "client",
	[XT_ROLE_OTHER] = "other",
};

const char *role_name(enum xt_role r)
{
	return r < XT_ROLE_MAX ? role_names[r] : "other";
}

int role_parse(const char *s, enum xt_role *out)
{
	int i;

	for (i = 0; i < XT_ROLE_MAX; i++)
		if (!strcmp(s, role_names[i])) {
			*out = i;
			return 0;
		}
	return -EINVAL;
}

static void set_role(struct mproc *p, enum xt_role role, struct mproc *sched)
{
	if (p->role == XT_ROLE_OTHER) {
		p->role = role;
		p->sched = sched;
	}
}

/*
 * Roles (docs/identity.md). Schedulers are taken one at a time, busiest
 * first: a listening process that at least two other listening processes
 * connect to, none of them already part of another cluster. Its listening
 * callers are workers, its other callers clients; a worker's listening
 * parent is its nanny.
 */
static void assign_roles(struct model *m)
{
	struct hmap *pairs = hmap__new(), *idx = hmap__new();
	struct callers *cs = calloc(m->n_procs + 1, sizeof(*cs));
	int i, j, n = 0;

	for (i = 0; i < m->n_procs; i++) {
		m->procs[i]->role = XT_ROLE_OTHER;
		m->procs[i]->sched = NULL;
	}
	if (!pairs || !idx || !cs)
		goto out;
	for (;;) {
		n = 0;
		hmap__free(pairs);
		hmap__free(idx);
		pairs = hmap__new();
		idx = hmap__new();
		if (!pairs || !idx)
			goto out;
		for (i = 0; i < m->n_conns; i++) {
			struct mconn *c = m->conns[i];
			struct callers *e;
			__u64 pk = hkey2((__u64)(unsigned long)c->proc,
					 (__u64)(unsigned long)c->peer);

			if (!c->peer || c->accepted || c->peer == c->proc ||
			    !c->peer->n_listens ||
			    c->peer->role != XT_ROLE_OTHER ||
			    c->proc->role != XT_ROLE_OTHER ||
			    hmap__get(pairs, pk))
				continue;
			hmap__put(pairs, pk, (void *)1);
			e = hmap__get(idx, (__u64)(unsigned long)c->peer);
			if (!e) {
				e = &cs[n++];
				*e = (struct callers){ .p = c->peer };
				hmap__put(idx, (__u64)(unsigned long)c->peer, e);
			}
			if (c->proc->n_listens)
				e->listening++;
			else
				e->plain++;
		}
		if (!n)
			break;
		qsort(cs, n, sizeof(*cs), cmp_callers);
		if (cs[0].listening < 2)
			break;
		cs[0].p->role = XT_ROLE_SCHEDULER;
		cs[0].p->sched = cs[0].p;
		for (i = 0; i < m->n_conns; i++) {
			struct mconn *c = m->conns[i];

			if (c->peer == cs[0].p && !c->accepted &&
			    c->proc != cs[0].p)
				set_role(c->proc, c->proc->n_listens ?
					 XT_ROLE_WORKER : XT_ROLE_CLIENT, cs[0].p);
		}
	}
	/* A nanny spawns its worker; it may have moved no bytes at all. */
	for (i = 0; i < m->n_procs; i++) {
		struct mproc *w = m->procs[i];

		if (w->role != XT_ROLE_WORKER)
			continue;
		for (j = 0; j < m->n_procs; j++) {
			struct mproc *q = m->procs[j];

			if (q != w && q->pid == w->ppid && q->n_listens &&
			    q->start_ns <= w->start_ns &&
			    q->role != XT_ROLE_SCHEDULER) {
				q->role = XT_ROLE_NANNY;
				q->sched = w->sched;
				break;
			}
		}
	}
out:
	free(cs);
	hmap__free(pairs);
	hmap__free(idx);
}

int model__resolve(struct model *m)
{
	int i;

	mark_accepted(m);
	name_listeners(m);
	name_procs(m);
	resolve_peers(m);
	build_flows(m);
	assign_roles(m);
	m->cpu_ns = m->runq_ns = 0;
	for (i = 0; i < m->n_procs; i++) {
		m->cpu_ns += m->procs[i]->cpu_ns;
		m->runq_ns += m->procs[i]->runq_ns;
	}
	return 0;
}
