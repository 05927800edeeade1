// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * Trials: read the marks (a log file, or the trace's live MARK records),
 * put each on the trace's monotonic clock, group them into trials and
 * tasks, and name the workers they ran on. The sharing itself is in
 * trials_attr.c, the output in trials_out.c; rules in docs/attribution.md.
 */
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include "hmap.h"
#include "trials.h"
#include "util.h"

/*
 * A mark waiting to be sorted: its numbers, and its four strings packed
 * in the intake's arena (a mark file can hold millions of them).
 */
struct tr_mark {
	__s64 t;		/* trace monotonic ns, if timed */
	__u64 line;
	size_t str;		/* param_id, run_id, target, worker in arena */
	__u64 seed;
	double mb, dur_ms;
	__u32 kind, n_in, n_out;
	bool timed;
	bool outside;		/* had a time, but far outside the trace */
};

struct intake {
	struct trials *t;
	struct tr_mark *v;
	int n, cap;
	char *arena;
	size_t a_len, a_cap;
	bool live;
};

/* ---- small helpers shared by the trials modules ---- */

/* Strings in blocks that never move: one allocation per many strings. */
struct tr_pool {
	struct tr_pool *next;
	size_t used, size;
	char buf[];
};

#define TR_POOL_BLOCK	(1 << 20)

const char *tr_strdup(struct trials *t, const char *s)
{
	size_t n = strlen(s) + 1, size;
	struct tr_pool *p = t->pool;
	char *r;

	if (!p || p->size - p->used < n) {
		size = n > TR_POOL_BLOCK ? n : TR_POOL_BLOCK;
		p = malloc(sizeof(*p) + size);
		if (!p)
			return NULL;
		p->used = 0;
		p->size = size;
		p->next = t->pool;
		t->pool = p;
	}
	r = p->buf + p->used;
	memcpy(r, s, n);
	p->used += n;
	return r;
}

void tr_problem(struct tr_marks_info *mi, __u64 line, const char *fmt, ...)
{
	struct tr_problem *p;
	va_list ap;

	if (mi->n_problems >= TRIALS_PROBLEMS_MAX) {
		mi->problems_dropped++;
		return;
	}
	if (!mi->problems) {
		mi->problems = calloc(TRIALS_PROBLEMS_MAX, sizeof(*p));
		if (!mi->problems) {
			mi->problems_dropped++;
			return;
		}
	}
	p = &mi->problems[mi->n_problems++];
	p->line = line;
	va_start(ap, fmt);
	vsnprintf(p->reason, sizeof(p->reason), fmt, ap);
	va_end(ap);
}

/*
 * Share total out in proportion to w[] in whole units: floors first, then
 * the largest remainders get one more. The shares add up to total exactly
 * when any weight is positive, and are all 0 otherwise.
 */
/* Largest remainder first; ties: the lower index first. */
static int cmp_rem(const void *a, const void *b, void *ctx)
{
	const double *rem = ctx;
	int x = *(const int *)a, y = *(const int *)b;

	if (rem[x] != rem[y])
		return rem[x] > rem[y] ? -1 : 1;
	return x - y;
}

/*
 * Share total out in proportion to w[] in whole units: floors first, then
 * the largest remainders get one more. The shares add up to total exactly
 * when any weight is positive, and are all 0 otherwise.
 */
void tr_split_int(__u64 total, const double *w, int n, __u64 *out)
{
	long double sum = 0, q;
	double *rem;
	int *ord = NULL;
	__u64 given = 0;
	int i, first = -1, npos = 0;

	for (i = 0; i < n; i++) {
		out[i] = 0;
		if (w[i] > 0)
			sum += w[i];
	}
	if (sum <= 0 || !total)
		return;
	rem = calloc(n, sizeof(*rem));
	for (i = 0; i < n; i++) {
		if (w[i] <= 0)
			continue;
		if (first < 0)
			first = i;
		q = (long double)total * w[i] / sum;
		out[i] = (__u64)floorl(q);
		if (out[i] > total - given)
			out[i] = total - given;
		given += out[i];
		if (rem)
			rem[i] = (double)(q - floorl(q));
	}
	if (given < total && rem)
		ord = calloc(n, sizeof(*ord));
	if (ord) {
		for (i = 0; i < n; i++)
			if (w[i] > 0)
				ord[npos++] = i;
		qsort_r(ord, npos, sizeof(*ord), cmp_rem, rem);
		for (i = 0; i < npos && given < total; i++, given++)
			out[ord[i]]++;
	}
	/* Rounding left more than one unit per weight: the first takes it. */
	out[first] += total - given;
	free(ord);
	free(rem);
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

/* p-th percentile (0..100), linear between closest ranks; sorts v. */
double tr_percentile(double *v, int n, double p)
{
	double pos;
	int lo;

	if (n <= 0)
		return NAN;
	qsort(v, n, sizeof(*v), cmp_double);
	pos = p / 100.0 * (n - 1);
	lo = (int)floor(pos);
	if (lo >= n - 1)
		return v[n - 1];
	return v[lo] + (v[lo + 1] - v[lo]) * (pos - lo);
}

typedef const char *(*tr_name_fn)(const struct trials *t, int i);

/* Index of the entry named s, or -1 with *at the free slot for it. */
static int sidx_find(const struct tr_sidx *x, const struct trials *t,
		     tr_name_fn name, const char *s, size_t *at)
{
	size_t i;
	int v;

	*at = 0;
	if (!x->cap)
		return -1;
	for (i = hstr(s, HSTR_SEED) & (x->cap - 1);;
	     i = (i + 1) & (x->cap - 1)) {
		v = x->slot[i];
		if (!v) {
			*at = i;
			return -1;
		}
		if (!strcmp(name(t, v - 1), s))
			return v - 1;
	}
}

/* Add entry idx (not there yet) under its name; grows at half full. */
static int sidx_add(struct tr_sidx *x, const struct trials *t,
		    tr_name_fn name, int idx)
{
	struct tr_sidx nx = { .cap = x->cap ? x->cap * 2 : 64 };
	size_t i, at;

	if ((x->n + 1) * 2 > x->cap) {
		nx.slot = calloc(nx.cap, sizeof(*nx.slot));
		if (!nx.slot)
			return -ENOMEM;
		for (i = 0; i < x->cap; i++) {
			if (!x->slot[i])
				continue;
			sidx_find(&nx, t, name, name(t, x->slot[i] - 1), &at);
			nx.slot[at] = x->slot[i];
		}
		nx.n = x->n;
		free(x->slot);
		*x = nx;
	}
	sidx_find(x, t, name, name(t, idx), &at);
	x->slot[at] = idx + 1;
	x->n++;
	return 0;
}

static const char *worker_name(const struct trials *t, int i)
{
	return t->workers[i].name;
}

int tr_worker_find(const struct trials *t, const char *name)
{
	size_t at;

	return sidx_find(&t->w_idx, t, worker_name, name, &at);
}

int tr_worker_get(struct trials *t, const char *name, bool from_marks)
{
	struct tr_worker *w;
	int i = tr_worker_find(t, name);

	if (i >= 0) {
		t->workers[i].from_marks |= from_marks;
		return i;
	}
	if ((t->n_workers & (t->n_workers - 1)) == 0) {
		w = realloc(t->workers, (size_t)(t->n_workers ? t->n_workers * 2 : 1) *
			    sizeof(*w));
		if (!w)
			return -ENOMEM;
		t->workers = w;
	}
	w = &t->workers[t->n_workers];
	memset(w, 0, sizeof(*w));
	w->name = tr_strdup(t, name);
	if (!w->name || sidx_add(&t->w_idx, t, worker_name, t->n_workers))
		return -ENOMEM;
	w->from_marks = from_marks;
	return t->n_workers++;
}

/* ---- intake ---- */

static struct tr_mark *intake_push(struct intake *in)
{
	struct tr_mark *v;

	if (in->n == in->cap) {
		v = realloc(in->v, (size_t)(in->cap ? in->cap * 2 : 256) *
			    sizeof(*v));
		if (!v)
			return NULL;
		in->v = v;
		in->cap = in->cap ? in->cap * 2 : 256;
	}
	return &in->v[in->n++];
}

/* Append the mark's strings to the arena; their offset, or -1. */
static ssize_t intake_strs(struct intake *in, const struct xt_mark *mk)
{
	const char *f[4] = { mk->param_id, mk->run_id, mk->target, mk->worker };
	size_t len[4], need = 0, at = in->a_len, cap;
	char *a;
	int i;

	for (i = 0; i < 4; i++)
		need += (len[i] = strnlen(f[i], XT_MARK_WORKER_LEN - 1)) + 1;
	if (in->a_len + need > in->a_cap) {
		cap = in->a_cap ? in->a_cap : 65536;
		while (cap < in->a_len + need)
			cap *= 2;
		a = realloc(in->arena, cap);
		if (!a)
			return -1;
		in->arena = a;
		in->a_cap = cap;
	}
	for (i = 0; i < 4; i++) {
		memcpy(in->arena + in->a_len, f[i], len[i]);
		in->arena[in->a_len + len[i]] = 0;
		in->a_len += len[i] + 1;
	}
	return at;
}

/* The mark back as parsed (minus what routing does not use). */
static void intake_mark(const struct intake *in, const struct tr_mark *tm,
			struct xt_mark *mk)
{
	const char *s = in->arena + tm->str;

	memset(mk, 0, sizeof(*mk));
	mk->kind = tm->kind;
	mk->seed = tm->seed;
	mk->n_sim_returns = tm->n_in;
	mk->n_outputs = tm->n_out;
	mk->total_inline_mb = tm->mb;
	mk->duration_ms = tm->dur_ms;
	snprintf(mk->param_id, sizeof(mk->param_id), "%s", s);
	s += strlen(s) + 1;
	snprintf(mk->run_id, sizeof(mk->run_id), "%s", s);
	s += strlen(s) + 1;
	snprintf(mk->target, sizeof(mk->target), "%s", s);
	s += strlen(s) + 1;
	snprintf(mk->worker, sizeof(mk->worker), "%s", s);
}

/* A mark's time on the trace clock; flags one far outside the trace. */
static void place_mark(struct intake *in, struct tr_mark *tm,
		       const struct xt_mark *mk, __u64 live_ns)
{
	struct trials *t = in->t;
	__s64 d;

	if (mk->has_ts) {
		tm->t = (__s64)(mk->ts_unix_ns - (__u64)t->off);
		tm->timed = true;
	} else if (in->live) {
		tm->t = (__s64)live_ns;
		tm->timed = true;
	} else {
		t->mi.untimed++;
		return;
	}
	if (t->span1 <= t->span0)
		return;
	d = tm->t < t->span0 ? tr_sub(t->span0, tm->t) :
	    tm->t > t->span1 ? tr_sub(tm->t, t->span1) : 0;
	if (d <= TRIALS_OUTSIDE_NS)
		return;
	tm->timed = false;
	tm->outside = true;
	t->mi.outside++;
	tr_problem(&t->mi, tm->line,
		   "%s param_id=%s: timestamp %.1f s %s the trace (wrong clock or another run); used without a time",
		   mark_kind__name(mk->kind), mk->param_id, d / 1e9,
		   tm->t < t->span0 ? "before" : "after");
}

static int add_mark(struct intake *in, const struct xt_mark *mk, __u64 line,
		    __u64 live_ns)
{
	struct tr_mark *tm = intake_push(in);
	ssize_t str;

	if (!tm)
		return -ENOMEM;
	str = intake_strs(in, mk);
	if (str < 0) {
		in->n--;
		return -ENOMEM;
	}
	memset(tm, 0, sizeof(*tm));
	tm->str = str;
	tm->kind = mk->kind;
	tm->seed = mk->seed;
	tm->n_in = mk->n_sim_returns;
	tm->n_out = mk->n_outputs;
	tm->mb = mk->total_inline_mb;
	tm->dur_ms = mk->duration_ms;
	tm->line = line;
	place_mark(in, tm, mk, live_ns);
	return 0;
}

static void on_bad_line(void *ctx, __u64 line, const char *reason)
{
	tr_problem(ctx, line, "malformed: %s", reason);
}

static int read_marks_file(struct intake *in, const char *path)
{
	struct tr_marks_info *mi = &in->t->mi;
	struct mark_file_stats st;
	struct mark_file *mf;
	struct xt_mark mk;
	int err;

	err = mark_file__open(path, &mf);
	if (err) {
		p_err("report: cannot read marks from %s: %s", path,
		      strerror(-err));
		return err;
	}
	mi->source = "file";
	snprintf(mi->path, sizeof(mi->path), "%s", path);
	mark_file__set_bad_cb(mf, on_bad_line, mi);
	while ((err = mark_file__next(mf, &mk)) > 0)
		if (add_mark(in, &mk, mark_file__lineno(mf), 0))
			break;
	if (err == -EFBIG)
		p_warn("marks from %s: stopped after %llu MiB (line %llu), the most read from one input (a device or a pipe that never ends?); using what came before",
		       path, XT_MARK_FILE_MAX >> 20,
		       (unsigned long long)mark_file__lineno(mf));
	else if (err < 0)
		p_warn("reading marks from %s stopped after line %llu: %s; using what came before",
		       path, (unsigned long long)mark_file__lineno(mf),
		       strerror(-err));
	mark_file__stats(mf, &st);
	mi->lines = st.lines;
	mi->marks = st.marks;
	mi->ignored = st.ignored;
	mi->bad = st.bad;
	mi->bad_dropped = st.bad_dropped;
	mark_file__free(mf);
	return 0;
}

static void read_marks_trace(struct intake *in)
{
	const struct model *m = in->t->m;
	struct tr_marks_info *mi = &in->t->mi;
	char err[XT_MARK_ERR_MAX];
	struct xt_mark mk;
	int i, r;

	mi->source = "trace";
	in->live = true;
	for (i = 0; i < m->n_marks; i++) {
		const char *text = m->marks[i].text;

		mi->lines++;
		r = mark__parse(text, strlen(text), &mk, err, sizeof(err));
		if (r == 1) {
			mi->marks++;
			if (add_mark(in, &mk, i + 1, m->marks[i].ts_ns))
				break;
		} else if (r == 0) {
			mi->ignored++;
		} else {
			mi->bad++;
			tr_problem(mi, i + 1, "malformed: %s", err);
		}
	}
}

/* ---- trials ---- */

static const char *trial_pid(const struct trials *t, int i)
{
	return t->trials[i].param_id;
}

/* The first instance of param_id, or -1. */
static int trial_first(const struct trials *t, const struct tr_sidx *idx,
		       const char *pid)
{
	size_t at;

	return sidx_find(idx, t, trial_pid, pid, &at);
}

/* The last instance of param_id, or -1. */
static int trial_latest(const struct trials *t, const struct tr_sidx *idx,
			const char *pid)
{
	int i = trial_first(t, idx, pid);

	return i < 0 ? i : t->trials[i].last;
}

/* A new instance of param_id: "ID", then "ID#2", "ID#3"... */
static int trial_new(struct trials *t, struct tr_sidx *idx, const char *pid)
{
	int first = trial_first(t, idx, pid), i;
	struct tr_trial *tr;

	if ((t->n_trials & (t->n_trials - 1)) == 0) {
		tr = realloc(t->trials, (size_t)(t->n_trials ? t->n_trials * 2 : 1) *
			     sizeof(*tr));
		if (!tr)
			return -ENOMEM;
		t->trials = tr;
	}
	i = t->n_trials;
	tr = &t->trials[i];
	memset(tr, 0, sizeof(*tr));
	tr->next = -1;
	tr->last = i;
	tr->n_inst = 1;
	tr->run_id = "";
	if (first >= 0) {
		char id[XT_MARK_ID_LEN + 12];

		tr->param_id = t->trials[first].param_id;
		t->trials[t->trials[first].last].next = i;
		t->trials[first].last = i;
		snprintf(id, sizeof(id), "%s#%d", pid,
			 ++t->trials[first].n_inst);
		tr->id = tr_strdup(t, id);
		if (!tr->id)
			return -ENOMEM;
	} else {
		tr->param_id = tr->id = tr_strdup(t, pid);
		if (!tr->id)
			return -ENOMEM;
		if (sidx_add(idx, t, trial_pid, i))
			return -ENOMEM;
	}
	t->n_trials++;
	return i;
}

static int cmp_mark(const void *a, const void *b)
{
	const struct tr_mark *x = a, *y = b;

	if (x->timed != y->timed)
		return x->timed ? -1 : 1;
	if (x->timed && x->t != y->t)
		return x->t < y->t ? -1 : 1;
	return x->line < y->line ? -1 : x->line > y->line;
}

static int add_task(struct trials *t, int trial, const struct tr_mark *tm,
		    const struct xt_mark *mk)
{
	struct tr_task *k;
	int w;

	if ((t->n_tasks & (t->n_tasks - 1)) == 0) {
		k = realloc(t->tasks, (size_t)(t->n_tasks ? t->n_tasks * 2 : 1) *
			    sizeof(*k));
		if (!k)
			return -ENOMEM;
		t->tasks = k;
	}
	w = tr_worker_get(t, mk->worker, true);
	if (w < 0)
		return w;
	k = &t->tasks[t->n_tasks++];
	memset(k, 0, sizeof(*k));
	k->kind = mk->kind;
	k->trial = trial;
	k->worker = w;
	k->timed = tm->timed;
	k->end = tm->t;
	k->dur_ms = mk->duration_ms;
	k->dur_ns = (__u64)llround(mk->duration_ms * 1e6);
	k->start = tr_sub(k->end, (__s64)k->dur_ns);
	k->seed = mk->seed;
	k->target = tr_strdup(t, mk->target);
	if (!k->target)
		return -ENOMEM;
	k->n_inputs = mk->n_sim_returns;
	k->n_outputs = mk->n_outputs;
	k->claimed_bytes = mk->total_inline_mb * 1e6;
	k->demand = -1;
	k->line = tm->line;
	return 0;
}

/* Put one mark into its trial (marks come sorted by time). */
static int route_mark(struct trials *t, struct tr_sidx *idx,
		      const struct tr_mark *tm, const struct xt_mark *mk)
{
	int i = trial_latest(t, idx, mk->param_id);
	struct tr_trial *tr;

	switch (mk->kind) {
	case XT_MARK_TRIAL_BEGIN:
		if (i >= 0 && tm->timed && t->trials[i].has_end &&
		    !t->trials[i].has_begin) {
			t->mi.end_before_begin++;
			tr_problem(&t->mi, tm->line,
				   "TRIAL_BEGIN param_id=%s comes after a TRIAL_END without a TRIAL_BEGIN: a new instance of the trial",
				   mk->param_id);
		}
		if (i < 0 || (tm->timed && (t->trials[i].has_begin ||
					    t->trials[i].has_end)))
			i = trial_new(t, idx, mk->param_id);
		if (i < 0)
			return i;
		tr = &t->trials[i];
		if (tm->timed && !tr->has_begin) {
			tr->has_begin = true;
			tr->begin = tm->t;
		}
		break;
	case XT_MARK_TRIAL_END:
		if (i < 0)
			i = trial_new(t, idx, mk->param_id);
		if (i < 0)
			return i;
		tr = &t->trials[i];
		if (!tm->timed)
			break;
		if (tr->has_end) {
			tr_problem(&t->mi, tm->line,
				   "second TRIAL_END for param_id=%s without a TRIAL_BEGIN between: ignored",
				   mk->param_id);
			break;
		}
		tr->has_end = true;
		tr->end = tm->t;
		break;
	default:
		if (i < 0)
			i = trial_new(t, idx, mk->param_id);
		if (i < 0)
			return i;
		if (add_task(t, i, tm, mk))
			return -ENOMEM;
		break;
	}
	tr = &t->trials[i];
	if (mk->run_id[0] && !tr->run_id[0] &&
	    !(tr->run_id = tr_strdup(t, mk->run_id)))
		return -ENOMEM;
	if (tm->timed)
		tr->n_in_trace++;
	else if (tm->outside)
		tr->n_outside++;
	t->mi.used++;
	return 0;
}

static int group_marks(struct intake *in)
{
	struct trials *t = in->t;
	struct tr_sidx idx = {};
	struct xt_mark mk;
	int i, err = 0;

	if (in->n)
		qsort(in->v, in->n, sizeof(*in->v), cmp_mark);
	for (i = 0; i < in->n && !err; i++) {
		intake_mark(in, &in->v[i], &mk);
		err = route_mark(t, &idx, &in->v[i], &mk);
	}
	free(idx.slot);
	if (t->mi.end_before_begin)
		p_warn("report: %llu TRIAL_END marks came before their trial's TRIAL_BEGIN (clocks out of step?); each split its trial in two",
		       (unsigned long long)t->mi.end_before_begin);
	return err;
}

/* Index each trial's tasks: slices of one array, in task order. */
static int index_tasks(struct trials *t)
{
	int i, at = 0;

	t->task_idx = calloc(t->n_tasks + 1, sizeof(*t->task_idx));
	if (!t->task_idx)
		return -ENOMEM;
	for (i = 0; i < t->n_tasks; i++)
		t->trials[t->tasks[i].trial].n_tasks++;
	for (i = 0; i < t->n_trials; i++) {
		struct tr_trial *tr = &t->trials[i];

		tr->tasks = t->task_idx + at;
		at += tr->n_tasks;
		tr->n_tasks = 0;
	}
	for (i = 0; i < t->n_tasks; i++) {
		struct tr_trial *tr = &t->trials[t->tasks[i].trial];

		tr->tasks[tr->n_tasks++] = i;
	}
	return 0;
}

/* Task windows usable for CPU: not absurd, not before the trial began. */
static void check_task(struct trials *t, struct tr_trial *tr,
		       struct tr_task *k)
{
	__s64 span = tr_sub(t->span1, t->span0);

	k->cpu_ok = k->timed;
	if (!k->timed)
		return;
	if (span > 0 && (__s64)k->dur_ns > tr_add(span, TRIALS_OUTSIDE_NS)) {
		k->cpu_ok = false;
		t->mi.clipped++;
		tr_problem(&t->mi, k->line,
			   "%s param_id=%s: duration_ms=%.1f is longer than the trace; its window is not used",
			   mark_kind__name(k->kind), tr->param_id, k->dur_ms);
		return;
	}
	if (tr->has_begin && k->start < tr_sub(tr->begin, t->slack)) {
		k->cpu_ok = false;
		t->mi.clipped++;
		tr_problem(&t->mi, k->line,
			   "%s param_id=%s: duration_ms=%.1f reaches back %.3f s before TRIAL_BEGIN; its window is not used",
			   mark_kind__name(k->kind), tr->param_id, k->dur_ms,
			   ((double)tr->begin - (double)k->start) / 1e9);
	}
}

static int cmp_int(const void *a, const void *b)
{
	int x = *(const int *)a, y = *(const int *)b;

	return x < y ? -1 : x > y;
}

/* The workers of a trial's tasks of one kind, sorted; NULL: no memory. */
int *tr_task_workers(const struct trials *t, const struct tr_trial *tr,
		     __u32 kind, int *n)
{
	int *v = malloc((size_t)(tr->n_tasks + 1) * sizeof(*v)), i;

	*n = 0;
	if (!v)
		return NULL;
	for (i = 0; i < tr->n_tasks; i++)
		if (t->tasks[tr->tasks[i]].kind == kind)
			v[(*n)++] = t->tasks[tr->tasks[i]].worker;
	if (*n > 1)
		qsort(v, *n, sizeof(*v), cmp_int);
	return v;
}

/* How many of the sorted v[0..n) are x. */
int tr_count_sorted(const int *v, int n, int x)
{
	int lo = 0, hi = n, mid, first;

	while (lo < hi) {
		mid = lo + (hi - lo) / 2;
		if (v[mid] < x)
			lo = mid + 1;
		else
			hi = mid;
	}
	first = lo;
	for (hi = n; lo < hi;) {
		mid = lo + (hi - lo) / 2;
		if (v[mid] <= x)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo - first;
}

/* Aggregation workers (split?), inputs local to each, the unique bytes. */
static int count_inputs(struct trials *t, struct tr_trial *tr)
{
	int n_sim, n_agg, n_w = 0, i;
	int *sims = tr_task_workers(t, tr, XT_MARK_SIM, &n_sim);
	int *aggs = tr_task_workers(t, tr, XT_MARK_AGG, &n_agg);

	if (!sims || !aggs) {
		free(sims);
		free(aggs);
		return -ENOMEM;
	}
	for (i = 0; i < n_agg; i++)
		if (!i || aggs[i] != aggs[i - 1])
			n_w++;
	for (i = 0; i < tr->n_tasks; i++) {
		struct tr_task *g = &t->tasks[tr->tasks[i]];

		if (g->kind != XT_MARK_AGG)
			continue;
		if (g->claimed_bytes > tr->unique_bytes)
			tr->unique_bytes = g->claimed_bytes;
		g->local_inputs += tr_count_sorted(sims, n_sim, g->worker);
	}
	tr->n_agg_workers = n_w;
	tr->split = n_w > 1;
	free(sims);
	free(aggs);
	return 0;
}

/*
 * An AGG line claiming far more per input than the others (100x the
 * median) would take every byte in its window: use the median instead.
 */
static void check_claims(struct trials *t)
{
	double *v = calloc(t->n_tasks + 1, sizeof(*v)), med;
	int i, n = 0;

	if (!v)
		return;
	for (i = 0; i < t->n_tasks; i++)
		if (t->tasks[i].kind == XT_MARK_AGG && t->tasks[i].n_inputs)
			v[n++] = t->tasks[i].claimed_bytes / t->tasks[i].n_inputs;
	med = n >= 3 ? tr_percentile(v, n, 50) : 0;
	free(v);
	for (i = 0; i < t->n_tasks && med > 0; i++) {
		struct tr_task *k = &t->tasks[i];

		if (k->kind != XT_MARK_AGG || !k->n_inputs ||
		    k->claimed_bytes / k->n_inputs <= 100 * med)
			continue;
		tr_problem(&t->mi, k->line,
			   "AGG_TIMING param_id=%s: total_inline_mb=%.2f is over 100x the median per input; the median is used to share bytes",
			   t->trials[k->trial].param_id, k->claimed_bytes / 1e6);
		k->claimed_bytes = med * k->n_inputs;
		t->mi.implausible++;
	}
}

static int finish_trial(struct trials *t, struct tr_trial *tr)
{
	bool any_task = false;
	__s64 lo = 0, hi = 0;
	int i;

	for (i = 0; i < tr->n_tasks; i++) {
		struct tr_task *k = &t->tasks[tr->tasks[i]];

		if (k->kind == XT_MARK_SIM)
			tr->n_sims++;
		else
			tr->n_aggs++;
		check_task(t, tr, k);
		if (!k->timed)
			continue;
		if (!any_task || (k->cpu_ok ? k->start : k->end) < lo)
			lo = k->cpu_ok ? k->start : k->end;
		if (!any_task || k->end > hi)
			hi = k->end;
		any_task = true;
	}
	if (count_inputs(t, tr))
		return -ENOMEM;
	tr->t0 = tr->has_begin ? tr->begin : lo;
	tr->t1 = tr->has_end ? tr->end : hi;
	if (tr->has_begin && !tr->has_end && !any_task)
		tr->t1 = t->span1;
	if (tr->has_begin && any_task && hi > tr->t1)
		tr->t1 = hi;
	tr->timed = any_task || (tr->has_begin && tr->has_end) ||
		    (tr->has_begin && t->span1 > tr->begin);
	if (tr->t1 < tr->t0)
		tr->t1 = tr->t0;
	tr->mode = any_task ? TR_TASK : tr->timed ? TR_TRIAL : TR_NONE;
	tr->partial = tr->timed && (tr->t0 < t->span0 || tr->t1 > t->span1 ||
				    !tr->has_begin || !tr->has_end);
	if (tr->n_outside && !tr->n_in_trace) {
		tr->dropped = true;
		t->mi.trials_outside++;
	}
	return 0;
}

struct pname {			/* a local process by one of its names */
	const char *name;
	int prio;		/* 0: its endpoint name, 1: a listener */
	int proc;
};

static int cmp_pname(const void *a, const void *b)
{
	const struct pname *x = a, *y = b;
	int c = strcmp(x->name, y->name);

	if (c)
		return c;
	if (x->prio != y->prio)
		return x->prio - y->prio;
	return x->proc - y->proc;
}

/* The process named name (endpoint first, then listeners), or NULL. */
static const struct mproc *pname_find(const struct model *m,
				      const struct pname *v, int n,
				      const char *name)
{
	int lo = 0, hi = n, mid;

	while (lo < hi) {
		mid = lo + (hi - lo) / 2;
		if (strcmp(v[mid].name, name) < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo < n && !strcmp(v[lo].name, name) ? m->procs[v[lo].proc] :
	       NULL;
}

/* Local processes for the workers the marks name, or role=worker ones. */
static int resolve_workers(struct trials *t)
{
	const struct model *m = t->m;
	struct pname *v;
	int i, j, k, n = 0;

	if (!t->n_workers) {
		for (i = 0; i < m->n_procs; i++)
			if (m->procs[i]->role == XT_ROLE_WORKER &&
			    tr_worker_get(t, m->procs[i]->name, false) < 0)
				return -ENOMEM;
	}
	for (i = 0; i < m->n_procs; i++)
		n += 1 + m->procs[i]->n_listens;
	v = calloc(n + 1, sizeof(*v));
	if (!v)
		return -ENOMEM;
	for (i = 0, n = 0; i < m->n_procs; i++) {
		const struct mproc *p = m->procs[i];

		v[n++] = (struct pname){ p->name, 0, i };
		for (j = 0; j < p->n_listens; j++)
			v[n++] = (struct pname){ p->listens[j]->name, 1, i };
	}
	if (n > 1)
		qsort(v, n, sizeof(*v), cmp_pname);
	for (k = 0; k < t->n_workers; k++)
		t->workers[k].proc = pname_find(m, v, n, t->workers[k].name);
	free(v);
	return 0;
}

static int intake(struct trials *t, const struct trials_opts *o)
{
	struct intake in = { .t = t };
	int err;

	if (o->marks_path)
		err = read_marks_file(&in, o->marks_path);
	else
		read_marks_trace(&in), err = 0;
	if (!err)
		err = group_marks(&in);
	free(in.v);
	free(in.arena);
	return err;
}

bool trials__wanted(const struct model *m, const struct trials_opts *o)
{
	return (o && o->marks_path) || m->n_marks > 0;
}

int trials__analyze(const char *trace_path, const struct model *m,
		    const struct trials_opts *o, struct trials **out)
{
	struct trials *t = calloc(1, sizeof(*t));
	json_t *g;
	int err, i;

	if (!t)
		return -ENOMEM;
	t->m = m;
	t->off = (__s64)model__mono_to_wall(m);
	t->slack = o && o->slack_ns > 0 ? o->slack_ns : TRIALS_SLACK_NS;
	t->span0 = (__s64)m->first_ns;
	t->span1 = (__s64)m->last_ns;
	g = m->header ? json_object_get(m->header, "burst_gap_ns") : NULL;
	t->burst_gap_ns = json_is_integer(g) ? json_integer_value(g) : 0;
	err = intake(t, o);
	if (!err)
		err = index_tasks(t);
	if (err) {
		if (err == -ENOMEM)
			p_err("report: out of memory reading marks");
		trials__free(t);
		return err;
	}
	check_claims(t);
	for (i = 0; i < t->n_trials && !err; i++)
		err = finish_trial(t, &t->trials[i]);
	if (err || resolve_workers(t)) {
		p_err("report: out of memory reading marks");
		trials__free(t);
		return -ENOMEM;
	}
	err = tr_attribute(t, trace_path);
	if (err)
		p_warn("report: per-trial attribution skipped: %s",
		       strerror(-err));
	tr_finish(t);
	*out = t;
	return 0;
}

void trials__free(struct trials *t)
{
	int i;

	if (!t)
		return;
	while (t->pool) {
		struct tr_pool *p = t->pool;

		t->pool = p->next;
		free(p);
	}
	free(t->task_idx);
	for (i = 0; i < t->n_workers; i++) {
		struct tr_worker *w = &t->workers[i];

		free(w->s);
		free(w->left_bytes);
		free(w->left_compute);
		free(w->left_comm);
		free(w->xfer_pool);
		free(w->xfer_den);
	}
	for (i = 0; i < t->n_demands; i++)
		free(t->demands[i].from);
	free(t->trials);
	free(t->tasks);
	free(t->workers);
	free(t->w_idx.slot);
	free(t->bin_lo);
	free(t->bin_hi);
	free(t->samples);
	free(t->demands);
	free(t->mi.problems);
	free(t);
}
