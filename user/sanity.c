// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/* Invariants of a model; see sanity.h. */
#include <stdint.h>
#include <stdio.h>
#include "sanity.h"

/*
 * Slack per CPU: a running thread is read up to a tick ahead, and on a
 * saturated VM the kernel's per-task clock and CLOCK_MONOTONIC were seen
 * to disagree by up to ~1.5% over short traces. Garbage is far beyond.
 */
#define SLACK_NS	50000000ull
#define SLACK_PCT	3

static void add(json_t *arr, const char *kind, __u64 count,
		const char *detail)
{
	json_array_append_new(arr, json_pack("{s:s, s:I, s:s}", "kind", kind,
					     "count", (json_int_t)count,
					     "detail", detail));
}

static __u64 span_ns(const struct model *m)
{
	return m->last_ns > m->first_ns ? m->last_ns - m->first_ns : 0;
}

static int ncpus(const struct model *m)
{
	json_t *v = m->header ? json_object_get(m->header, "ncpus") : NULL;

	return json_is_integer(v) && json_integer_value(v) > 0 ?
	       (int)json_integer_value(v) : 0;
}

/* All processes' CPU against what the CPUs could have given. */
static void check_capacity(const struct model *m, json_t *arr)
{
	__u64 span = span_ns(m), cap;
	char d[200];
	int n = ncpus(m);

	if (!n || !span)
		return;
	cap = (__u64)n * (span + span * SLACK_PCT / 100 + SLACK_NS);
	if (m->cpu_ns <= cap)
		return;
	snprintf(d, sizeof(d),
		 "processes' CPU sums to %.3f s, more than %d CPUs x %.3f s span (+3%%)",
		 m->cpu_ns / 1e9, n, span / 1e9);
	add(arr, "cpu_over_capacity", 1, d);
}

/* Each thread against the span, and of a process never seen. */
static void check_threads(const struct model *m, json_t *arr)
{
	__u64 span = span_ns(m), over = 0, orphan = 0;
	__u32 tid_over = 0, pid_orphan = 0;
	char d[200];
	int i;

	for (i = 0; i < m->n_threads; i++) {
		const struct mthread *t = m->threads[i];

		if (span && t->cpu_ns > span + span * SLACK_PCT / 100 + SLACK_NS) {
			over++;
			tid_over = t->tid;
		}
		if (!t->proc->have_rec) {
			orphan++;
			pid_orphan = t->pid;
		}
	}
	if (over) {
		snprintf(d, sizeof(d),
			 "%llu threads ran longer than the %.3f s trace (e.g. tid %u)",
			 (unsigned long long)over, span / 1e9, tid_over);
		add(arr, "thread_cpu_over_span", over, d);
	}
	if (orphan) {
		snprintf(d, sizeof(d),
			 "%llu threads belong to processes no record named (e.g. pid %u)",
			 (unsigned long long)orphan, pid_orphan);
		add(arr, "thread_without_process", orphan, d);
	}
}

static bool neg(__u64 v)
{
	return v > (__u64)INT64_MAX;
}

/* Counters that would print negative as signed 64-bit. */
static void check_counters(const struct model *m, json_t *arr)
{
	__u64 bad = 0;
	char d[160];
	int i;

	for (i = 0; i < m->n_procs; i++) {
		const struct mproc *p = m->procs[i];

		bad += neg(p->cpu_ns) || neg(p->runq_ns) ||
		       neg(p->tx_bytes) || neg(p->rx_bytes) ||
		       neg(p->active_ns);
	}
	bad += neg(m->cpu_ns) || neg(m->runq_ns) || neg(m->tx_bytes) ||
	       neg(m->rx_bytes);
	if (!bad)
		return;
	snprintf(d, sizeof(d), "%llu figures are beyond 2^63 (negative as signed)",
		 (unsigned long long)bad);
	add(arr, "counter_out_of_range", bad, d);
}

/* The hooks saw every byte: the connections cannot hold more. */
static void check_bytes(const struct model *m, json_t *arr)
{
	const struct xt_stats *k = &m->stats.k;
	char d[200];

	if (!m->have_stats)
		return;
	/* Totals include the unresolved bytes already. */
	if (m->tx_bytes <= k->tx_bytes && m->rx_bytes <= k->rx_bytes)
		return;
	snprintf(d, sizeof(d),
		 "connections hold tx %llu rx %llu bytes, more than the kernel's tx %llu rx %llu",
		 (unsigned long long)m->tx_bytes,
		 (unsigned long long)m->rx_bytes,
		 (unsigned long long)k->tx_bytes,
		 (unsigned long long)k->rx_bytes);
	add(arr, "bytes_over_kernel", 1, d);
}

json_t *sanity__check(const struct model *m, bool truncated)
{
	json_t *arr = json_array();
	char d[160];

	if (!arr)
		return NULL;
	if (m->bad_pid_records) {
		snprintf(d, sizeof(d),
			 "%llu records name a pid beyond pid_max %llu; refused",
			 (unsigned long long)m->bad_pid_records,
			 (unsigned long long)m->pid_max);
		add(arr, "pid_beyond_pid_max", m->bad_pid_records, d);
	}
	check_capacity(m, arr);
	check_threads(m, arr);
	check_counters(m, arr);
	/* A cut-short trace may lack the final stats: bytes can run ahead. */
	if (!truncated)
		check_bytes(m, arr);
	return arr;
}

void sanity__print(const json_t *problems, FILE *f)
{
	size_t i;
	json_t *p;

	json_array_foreach(problems, i, p)
		fprintf(f, "xfertrace: problem: %s\n",
			json_string_value(json_object_get(p, "detail")));
}
