// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * report over several traces: one node's rotated files, or the files of
 * agents on several nodes (docs/agent.md). Records are rewritten on the
 * way into the model: connection ids get the run's index in their top
 * bits, times move by the difference of the wall-clock offsets.
 */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "agent.h"
#include "trace.h"
#include "util.h"

struct src {
	const char *path;
	char run[128];
	__u64 seq;
	__u64 off;		/* mono_to_wall_ns of its header */
	int group;
};

struct merge {
	struct model *m;
	__s64 shift;
	__u64 id_hi;
	__u64 since_mono;	/* on the merged clock; 0: all */
	struct xt_rec_stats *last;	/* per group */
	struct trace_writer *out;	/* the merged stream, for trials */
	bool *have;
	__u64 buf[1100];	/* one record, rewritten */
};

static int read_src(struct src *s)
{
	struct trace_reader *r;
	const json_t *h, *a;
	int err;

	err = trace_reader__open(s->path, &r);
	if (err)
		return err;
	h = trace_reader__header(r);
	s->off = json_integer_value(json_object_get(h, "mono_to_wall_ns"));
	a = json_object_get(h, "agent");
	if (json_is_string(json_object_get(a, "run"))) {
		snprintf(s->run, sizeof(s->run), "%s",
			 json_string_value(json_object_get(a, "run")));
		s->seq = json_integer_value(json_object_get(a, "file_seq"));
	} else {
		snprintf(s->run, sizeof(s->run), "file:%s", s->path);
	}
	trace_reader__free(r);
	return 0;
}

static int cmp_src(const void *a, const void *b)
{
	const struct src *x = a, *y = b;

	if (x->group != y->group)
		return x->group - y->group;
	return x->seq < y->seq ? -1 : x->seq > y->seq;
}

static void shift(const struct merge *g, __u64 *ts)
{
	if (*ts)
		*ts += g->shift;
}

/* Rewrite times and ids; false to skip the record. */
static bool rewrite(struct merge *g, struct xt_rec_hdr *h)
{
	__u64 *ts = NULL;

	switch (h->type) {
	case XT_REC_LISTEN: shift(g, &((struct xt_rec_listen *)h)->ts_ns); return true;
	case XT_REC_CONN:
		shift(g, &((struct xt_rec_conn *)h)->first_ns);
		((struct xt_rec_conn *)h)->id |= g->id_hi;
		return true;
	case XT_REC_CONN_DELTA:
		((struct xt_rec_conn_delta *)h)->id |= g->id_hi;
		ts = &((struct xt_rec_conn_delta *)h)->ts_ns;
		break;
	case XT_REC_CONN_CLOSE:
		((struct xt_rec_conn_close *)h)->id |= g->id_hi;
		shift(g, &((struct xt_rec_conn_close *)h)->ts_ns);
		return true;
	case XT_REC_THREAD_DELTA: ts = &((struct xt_rec_thread_delta *)h)->ts_ns; break;
	case XT_REC_THREAD_EXIT: shift(g, &((struct xt_rec_thread_exit *)h)->ts_ns); return true;
	case XT_REC_PROC_DELTA: ts = &((struct xt_rec_proc_delta *)h)->ts_ns; break;
	case XT_REC_STATS: shift(g, &((struct xt_rec_stats *)h)->ts_ns); return true;
	case XT_REC_MARK: ts = &((struct xt_rec_mark *)h)->ts_ns; break;
	case XT_REC_CGROUP_CPU: shift(g, &((struct xt_rec_cgroup_cpu *)h)->ts_ns); return true;
	case XT_REC_INTERVAL:
		shift(g, &((struct xt_rec_interval *)h)->start_ns);
		ts = &((struct xt_rec_interval *)h)->end_ns;
		break;
	default:
		return true;
	}
	shift(g, ts);
	return !g->since_mono || *ts >= g->since_mono;
}

static int apply_file(struct merge *g, const struct src *s, struct load_info *li)
{
	const struct xt_rec_hdr *rec;
	struct trace_reader *r;
	__u64 off;
	const char *why;
	int err, werr;

	err = trace_reader__open(s->path, &r);
	if (err)
		return err;
	while ((err = trace_reader__next(r, &rec)) > 0) {
		struct xt_rec_hdr *h = (struct xt_rec_hdr *)g->buf;

		if (rec->len > sizeof(g->buf))
			continue;
		memcpy(h, rec, rec->len);
		if (!rewrite(g, h))
			continue;
		if (h->type == XT_REC_STATS) {
			memcpy(&g->last[s->group], h, sizeof(*g->last));
			g->have[s->group] = true;
			continue;
		}
		model__apply(g->m, h);
		if (g->out && (werr = trace_writer__add(g->out, h)) < 0) {
			err = werr;
			break;
		}
	}
	if (trace_reader__truncated(r, &off, &why)) {
		p_warn("%s is truncated at byte %llu (%s); using the whole chunks before it",
		       s->path, (unsigned long long)off, why);
		li->truncated = true;
		li->offset = off;
		li->why = why;
	}
	li->chunks += trace_reader__chunks(r);
	trace_reader__free(r);
	return err;
}

/* Drop counters: the sum of each run's last (cumulative) reading. */
static void sum_stats(struct merge *g, int groups)
{
	__u64 *dst = (__u64 *)&g->m->stats.k;
	size_t n = (sizeof(struct xt_stats) + sizeof(struct xt_user_stats)) / 8;
	size_t i;
	int k;

	for (k = 0; k < groups; k++) {
		const __u64 *src = (const __u64 *)&g->last[k].k;

		if (!g->have[k])
			continue;
		for (i = 0; i < n; i++)
			dst[i] += src[i];
		g->m->have_stats = true;
	}
}

static json_t *sources_json(const struct src *v, int n)
{
	json_t *arr = json_array();
	int i;

	for (i = 0; i < n; i++)
		json_array_append_new(arr, json_pack("{s:s, s:s, s:I}",
			"path", v[i].path, "run", v[i].run,
			"mono_to_wall_ns", (json_int_t)v[i].off));
	return arr;
}

static int group_srcs(struct src *v, int n)
{
	int i, j, groups = 0;

	for (i = 0; i < n; i++) {
		v[i].group = -1;
		for (j = 0; j < i; j++)
			if (!strcmp(v[i].run, v[j].run)) {
				v[i].group = v[j].group;
				break;
			}
		if (v[i].group < 0)
			v[i].group = groups++;
	}
	qsort(v, n, sizeof(*v), cmp_src);
	return groups;
}

static int load_all(struct merge *g, struct src *v, int n, int groups,
		    __u64 since_wall_ns, struct load_info *li)
{
	int i, err;

	for (i = 0; i < n; i++) {
		g->shift = (__s64)(v[i].off - v[0].off);
		g->id_hi = (__u64)v[i].group << 48;
		g->since_mono = since_wall_ns > v[0].off ?
				since_wall_ns - v[0].off : 0;
		err = apply_file(g, &v[i], li);
		if (err) {
			p_err("reading %s failed: %s", v[i].path, strerror(-err));
			return err;
		}
	}
	sum_stats(g, groups);
	return 0;
}

int report__load_many(char *const *paths, int n, __u64 since_wall_ns,
		      const char *merged_path, struct model **out,
		      struct load_info *li)
{
	struct merge g = {};
	struct src *v;
	int i, err = -ENOMEM, groups;
	struct trace_reader *r;

	memset(li, 0, sizeof(*li));
	v = calloc(n, sizeof(*v));
	if (!v)
		return -ENOMEM;
	for (i = 0; i < n; i++) {
		v[i].path = paths[i];
		err = read_src(&v[i]);
		if (err) {
			p_err("%s: %s", paths[i], err == -EBADMSG ?
			      "not an xfertrace trace (bad or damaged header)" :
			      strerror(-err));
			goto out;
		}
	}
	groups = group_srcs(v, n);
	g.m = model__new();
	g.last = calloc(groups, sizeof(*g.last));
	g.have = calloc(groups, sizeof(*g.have));
	err = -ENOMEM;
	if (!g.m || !g.last || !g.have)
		goto out;
	/* The first file's header speaks for the whole (host, hooks...). */
	err = trace_reader__open(v[0].path, &r);
	if (err)
		goto out;
	model__set_header(g.m, trace_reader__header(r));
	trace_reader__free(r);
	json_object_set_new(g.m->header, "sources", sources_json(v, n));
	if (merged_path) {
		err = trace_writer__open(merged_path, g.m->header, &g.out);
		if (err) {
			p_err("cannot write %s: %s", merged_path, strerror(-err));
			goto out;
		}
	}
	err = load_all(&g, v, n, groups, since_wall_ns, li);
	if (!err && g.out)
		err = trace_writer__close(g.out);
	else if (g.out)
		trace_writer__close(g.out);
	if (err)
		goto out;
	model__resolve(g.m);
	*out = g.m;
	g.m = NULL;
out:
	model__free(g.m);
	free(g.last);
	free(g.have);
	free(v);
	return err;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

int report__dir_files(const char *dir, char ***paths, int *n)
{
	char **v = NULL, **nv;
	int cnt = 0, cap = 0;
	struct dirent *de;
	DIR *d = opendir(dir);

	if (!d)
		return -errno;
	while ((de = readdir(d))) {
		size_t l = strlen(de->d_name);

		if (l < 5 || strcmp(de->d_name + l - 4, ".xft") ||
		    de->d_name[0] == '.')
			continue;
		if (cnt == cap) {
			cap = cap ? cap * 2 : 16;
			nv = realloc(v, cap * sizeof(*v));
			if (!nv)
				break;
			v = nv;
		}
		if (asprintf(&v[cnt], "%s/%s", dir, de->d_name) < 0)
			break;
		cnt++;
	}
	closedir(d);
	qsort(v, cnt, sizeof(*v), cmp_str);
	*paths = v;
	*n = cnt;
	return 0;
}

void report__print_reconcile(FILE *f, const struct model *m)
{
	int i, shown = 0;

	fprintf(f, "\nRECONCILED FLOWS (both ends traced: sender tx against receiver rx)\n"
		"%-34s %-34s %14s %14s %8s\n", "SRC", "DST", "TX(sender)",
		"RX(receiver)", "DIFF%");
	for (i = 0; i < m->n_flows; i++) {
		const struct mflow *fl = m->flows[i];
		double d;

		if (!fl->src_proc || !fl->dst_proc || !fl->tx_bytes)
			continue;
		d = 100.0 * ((double)fl->rx_bytes - (double)fl->tx_bytes) /
		    (double)fl->tx_bytes;
		fprintf(f, "%-34s %-34s %14llu %14llu %+8.3f\n", fl->src,
			fl->dst, (unsigned long long)fl->tx_bytes,
			(unsigned long long)fl->rx_bytes, d);
		shown++;
	}
	if (!shown)
		fprintf(f, "(none)\n");
}
