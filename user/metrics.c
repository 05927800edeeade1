// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/* Prometheus exposition of the agent's counters; see metrics.h. */
#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include "hmap.h"
#include "metrics.h"

enum { S_EP, S_PAIR };

struct series {
	int kind;
	char labels[768];	/* rendered and escaped: a="x",b="y" */
	__u64 v[5];
};

struct metrics {
	char node[256];		/* escaped */
	__u32 max_series;
	struct hmap *idx;
	struct series **v;
	int n, cap;
	struct hmap *folded;	/* label-set hashes summed into other */
	__u64 n_folded;
};

#define FOLDED_MAX 1000000	/* past this the count stops growing */

void metrics__escape(char *dst, size_t len, const char *src)
{
	size_t o = 0;

	for (; *src && o + 3 < len; src++) {
		if (*src == '\\' || *src == '"') {
			dst[o++] = '\\';
			dst[o++] = *src;
		} else if (*src == '\n') {
			dst[o++] = '\\';
			dst[o++] = 'n';
		} else {
			dst[o++] = *src;
		}
	}
	dst[o] = '\0';
}

int metrics__new(const char *node, __u32 max_series, struct metrics **out)
{
	struct metrics *mx = calloc(1, sizeof(*mx));

	if (!mx)
		return -ENOMEM;
	metrics__escape(mx->node, sizeof(mx->node), node);
	mx->max_series = max_series;
	mx->idx = hmap__new();
	mx->folded = hmap__new();
	if (!mx->idx || !mx->folded) {
		metrics__free(mx);
		return -ENOMEM;
	}
	*out = mx;
	return 0;
}

/* Find or make a series; NULL when out of memory. Probes past collisions. */
static struct series *lookup(struct metrics *mx, int kind, const char *lab,
			     bool may_create)
{
	__u64 h = hstr(lab, HSTR_SEED ^ kind);
	struct series *s, **nv;

	for (;; h++) {
		s = hmap__get(mx->idx, h);
		if (!s)
			break;
		if (s->kind == kind && !strcmp(s->labels, lab))
			return s;
	}
	if (!may_create)
		return NULL;
	if (mx->n == mx->cap) {
		int cap = mx->cap ? mx->cap * 2 : 64;

		nv = realloc(mx->v, cap * sizeof(*nv));
		if (!nv)
			return NULL;
		mx->v = nv;
		mx->cap = cap;
	}
	s = calloc(1, sizeof(*s));
	if (!s || hmap__put(mx->idx, h, s)) {
		free(s);
		return NULL;
	}
	s->kind = kind;
	snprintf(s->labels, sizeof(s->labels), "%s", lab);
	mx->v[mx->n++] = s;
	return s;
}

static struct series *get(struct metrics *mx, int kind, const char *lab,
			  const char *other)
{
	struct series *s = lookup(mx, kind, lab, false);
	__u64 h;

	if (s)
		return s;
	if (!mx->max_series || (__u32)mx->n < mx->max_series)
		return lookup(mx, kind, lab, true);
	/* Over the cap: count the label set once, add to other. */
	h = hstr(lab, HSTR_SEED ^ kind) | 1;
	if (!hmap__get(mx->folded, h) && mx->n_folded < FOLDED_MAX &&
	    !hmap__put(mx->folded, h, (void *)1))
		mx->n_folded++;
	return lookup(mx, kind, other, true);
}

static size_t add_label(char *buf, size_t len, size_t o, const char *name,
			const char *val)
{
	char esc[600];

	if (!val || !*val || o >= len)
		return o;
	metrics__escape(esc, sizeof(esc), val);
	o += snprintf(buf + o, len - o, ",%s=\"%s\"", name, esc);
	return o < len ? o : len;
}

void metrics__add_endpoint(struct metrics *mx, const struct ep_labels *l,
			   __u64 tx, __u64 rx, __u64 cpu_ns, __u64 runq_ns,
			   __u64 active_ns)
{
	char lab[768], other[300];
	struct series *s;
	size_t o;

	o = snprintf(lab, sizeof(lab), "node=\"%s\"", mx->node);
	o = add_label(lab, sizeof(lab), o, "endpoint", l->endpoint);
	o = add_label(lab, sizeof(lab), o, "role", l->role);
	o = add_label(lab, sizeof(lab), o, "pod", l->pod);
	o = add_label(lab, sizeof(lab), o, "namespace", l->ns);
	add_label(lab, sizeof(lab), o, "container", l->container);
	snprintf(other, sizeof(other), "node=\"%s\",endpoint=\"other\"",
		 mx->node);
	s = get(mx, S_EP, lab, other);
	if (!s)
		return;
	s->v[0] += tx;
	s->v[1] += rx;
	s->v[2] += cpu_ns;
	s->v[3] += runq_ns;
	s->v[4] += active_ns;
}

void metrics__add_pair(struct metrics *mx, const char *src, const char *dst,
		       __u64 tx, __u64 rx)
{
	char lab[768], other[300];
	struct series *s;
	size_t o;

	o = snprintf(lab, sizeof(lab), "node=\"%s\"", mx->node);
	o = add_label(lab, sizeof(lab), o, "src", src);
	add_label(lab, sizeof(lab), o, "dst", dst);
	snprintf(other, sizeof(other),
		 "node=\"%s\",src=\"other\",dst=\"other\"", mx->node);
	s = get(mx, S_PAIR, lab, other);
	if (!s)
		return;
	s->v[0] += tx;
	s->v[1] += rx;
}

static const struct fam {
	int kind, idx;
	bool seconds;
	const char *name, *help;
} fams[] = {
	{ S_EP, 0, false, "xfertrace_endpoint_sent_bytes_total",
	  "TCP bytes the endpoint's process sent (returned by the kernel)." },
	{ S_EP, 1, false, "xfertrace_endpoint_received_bytes_total",
	  "TCP bytes the endpoint's process received (MSG_PEEK not counted)." },
	{ S_EP, 2, true, "xfertrace_endpoint_cpu_seconds_total",
	  "On-CPU time of the endpoint's threads." },
	{ S_EP, 3, true, "xfertrace_endpoint_runqueue_seconds_total",
	  "Time the endpoint's threads were runnable but waiting for a CPU." },
	{ S_EP, 4, true, "xfertrace_endpoint_transfer_active_seconds_total",
	  "Time the endpoint's process was inside send/receive bursts." },
	{ S_PAIR, 0, false, "xfertrace_pair_sent_bytes_total",
	  "Bytes src sent to dst, measured at the sender." },
	{ S_PAIR, 1, false, "xfertrace_pair_received_bytes_total",
	  "Bytes dst received from src, measured at the receiver." },
};

#define KS(f, h) { offsetof(struct xt_stats, f), "xfertrace_kernel_" #f "_total", h }
#define KSEC(f, n, h) { offsetof(struct xt_stats, f), "xfertrace_kernel_" n "_seconds_total", h, true }
#define US(f, h) { offsetof(struct xt_user_stats, f), "xfertrace_user_" #f "_total", h }
static const struct cnt {
	size_t off;
	const char *name, *help;
	bool ns;		/* nanoseconds, exported as seconds */
} kcnt[] = {
	KS(tx_bytes, "Every TCP byte sent, seen by the hooks."),
	KS(rx_bytes, "Every TCP byte received, seen by the hooks."),
	KS(tx_calls, "TCP send calls seen."),
	KS(rx_calls, "TCP receive calls seen."),
	KS(peek_skipped, "MSG_PEEK reads, not counted."),
	KS(conn_map_full, "Drops: events whose socket found the connection map full."),
	KS(conn_map_full_bytes, "Drops: bytes of those events."),
	KS(thread_map_full, "Drops: switches whose thread found the thread map full."),
	KSEC(thread_map_full_ns, "thread_map_full", "Drops: CPU time not attributed to a thread."),
	KS(proc_map_full, "Drops: events whose process found the process map full."),
	KS(ringbuf_full, "Drops: events that could not be queued on the ring buffer."),
	KS(close_deferred, "Closed sockets left for user space to reap."),
	KS(conns_opened, "Connections first seen."),
	KS(conns_closed, "Connections closed."),
	KS(threads_exited, "Threads exited."),
	KS(listen_events, "Listener open and close events."),
}, ucnt[] = {
	US(marks_received, "Trial marks received."),
	US(marks_rejected, "Drops: oversized or malformed mark datagrams."),
	US(harvests, "Harvests done."),
	US(harvest_overruns, "Drops: harvests that took longer than the interval."),
	US(conns_reaped, "Closed sockets taken from the map by user space."),
	US(threads_reaped, "Dead threads taken from the map by user space."),
	US(write_errors, "Drops: trace write errors."),
	US(iter_partial, "Drops: iterator streams that ended inside a record."),
	US(iter_fallbacks, "Iterator failures answered by a whole-map read."),
	US(bad_records, "Drops: harvested entries whose key and value disagree."),
};

static void head(FILE *f, const char *name, const char *type, const char *help)
{
	fprintf(f, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static void render_series(const struct metrics *mx, FILE *f)
{
	size_t i;
	int j;

	for (i = 0; i < sizeof(fams) / sizeof(fams[0]); i++) {
		head(f, fams[i].name, "counter", fams[i].help);
		for (j = 0; j < mx->n; j++) {
			const struct series *s = mx->v[j];

			if (s->kind != fams[i].kind)
				continue;
			if (fams[i].seconds)
				fprintf(f, "%s{%s} %.9f\n", fams[i].name,
					s->labels, s->v[fams[i].idx] / 1e9);
			else
				fprintf(f, "%s{%s} %llu\n", fams[i].name,
					s->labels,
					(unsigned long long)s->v[fams[i].idx]);
		}
	}
}

static void render_counts(FILE *f, const char *node, const struct cnt *c,
			  size_t n, const void *base)
{
	size_t i;

	for (i = 0; i < n; i++) {
		__u64 v = *(const __u64 *)((const char *)base + c[i].off);

		head(f, c[i].name, "counter", c[i].help);
		if (c[i].ns)
			fprintf(f, "%s{node=\"%s\"} %.9f\n", c[i].name, node,
				v / 1e9);
		else
			fprintf(f, "%s{node=\"%s\"} %llu\n", c[i].name, node,
				(unsigned long long)v);
	}
}

static void gauge(FILE *f, const char *node, const char *name,
		  const char *help, double v)
{
	head(f, name, "gauge", help);
	fprintf(f, "%s{node=\"%s\"} %.17g\n", name, node, v);
}

int metrics__render(const struct metrics *mx, const struct metrics_self *s,
		    FILE *f)
{
	const char *n = mx->node;

	render_series(mx, f);
	render_counts(f, n, kcnt, sizeof(kcnt) / sizeof(kcnt[0]), s->k);
	render_counts(f, n, ucnt, sizeof(ucnt) / sizeof(ucnt[0]), s->u);
	head(f, "xfertrace_agent_cpu_seconds_total", "counter",
	     "CPU time of the agent itself (user and system).");
	fprintf(f, "xfertrace_agent_cpu_seconds_total{node=\"%s\"} %.6f\n", n,
		s->cpu_s);
	gauge(f, n, "xfertrace_agent_resident_memory_bytes",
	      "Resident set size of the agent.", s->rss_bytes);
	gauge(f, n, "xfertrace_agent_series", "Label sets exported (cap: --max-series).",
	      mx->n);
	gauge(f, n, "xfertrace_agent_series_folded",
	      "Label sets past the cap, summed into the other series.",
	      mx->n_folded);
	head(f, "xfertrace_agent_trace_written_bytes_total", "counter",
	     "Bytes written to trace files.");
	fprintf(f, "xfertrace_agent_trace_written_bytes_total{node=\"%s\"} %llu\n",
		n, (unsigned long long)s->trace_bytes);
	head(f, "xfertrace_agent_trace_files_removed_total", "counter",
	     "Trace files removed to stay under the total cap.");
	fprintf(f, "xfertrace_agent_trace_files_removed_total{node=\"%s\"} %llu\n",
		n, (unsigned long long)s->trace_removed);
	gauge(f, n, "xfertrace_agent_trace_files", "Trace files opened since start.",
	      s->trace_files);
	gauge(f, n, "xfertrace_agent_recording",
	      "1 while trace files are written, 0 once recording stopped.",
	      s->recording);
	gauge(f, n, "xfertrace_agent_live_connections",
	      "Connections the agent follows now.", s->live_conns);
	gauge(f, n, "xfertrace_agent_live_processes",
	      "Processes the agent follows now.", s->live_procs);
	return ferror(f) ? -EIO : 0;
}

void metrics__free(struct metrics *mx)
{
	int i;

	if (!mx)
		return;
	for (i = 0; i < mx->n; i++)
		free(mx->v[i]);
	free(mx->v);
	hmap__free(mx->idx);
	hmap__free(mx->folded);
	free(mx);
}
