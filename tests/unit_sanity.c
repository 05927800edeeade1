// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * The report's sanity invariants (user/sanity.c): models built from
 * records through the real model code, one impossible fact at a time;
 * each must be named in problems[] (and the report JSON), and a clean
 * model must have none.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <linux/types.h>
#include "model.h"
#include "report.h"
#include "sanity.h"

static int n_pass, n_fail;

static void check(int ok, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	printf(ok ? "ok   - " : "FAIL - ");
	vprintf(fmt, ap);
	printf("\n");
	va_end(ap);
	ok ? n_pass++ : n_fail++;
}

#define SEC 1000000000ull
#define REC(r, t) do {						\
	memset(&(r), 0, sizeof(r));				\
	(r).hdr.type = (t);					\
	(r).hdr.len = sizeof(r);				\
} while (0)

/* A model of a 10 s trace on 2 CPUs with pid_max 32768. */
static struct model *base(void)
{
	struct model *m = model__new();
	json_t *h = json_pack("{s:i, s:i}", "ncpus", 2, "pid_max", 32768);
	struct xt_rec_interval iv;

	model__set_header(m, h);
	json_decref(h);
	REC(iv, XT_REC_INTERVAL);
	iv.start_ns = 100 * SEC;
	iv.end_ns = 110 * SEC;
	model__apply(m, &iv.hdr);
	return m;
}

static void add_proc(struct model *m, __u32 pid)
{
	struct xt_rec_proc p;

	REC(p, XT_REC_PROC);
	p.pid = pid;
	p.start_ns = pid;
	strcpy(p.comm, "w");
	model__apply(m, &p.hdr);
}

static void add_thread(struct model *m, __u32 pid, __u32 tid, __u64 cpu)
{
	struct xt_rec_thread t;
	struct xt_rec_thread_delta d;

	REC(t, XT_REC_THREAD);
	t.pid = pid;
	t.tid = tid;
	t.start_ns = tid;
	t.leader_start_ns = pid;
	model__apply(m, &t.hdr);
	REC(d, XT_REC_THREAD_DELTA);
	d.tid = tid;
	d.start_ns = tid;
	d.cpu_ns = cpu;
	model__apply(m, &d.hdr);
}

/* Does problems[] hold kind? */
static bool has(const struct model *m, const char *kind)
{
	json_t *arr = sanity__check(m, false), *p;
	bool found = false;
	size_t i;

	json_array_foreach(arr, i, p)
		found |= !strcmp(json_string_value(json_object_get(p, "kind")),
				 kind);
	json_decref(arr);
	return found;
}

static size_t count(const struct model *m)
{
	json_t *arr = sanity__check(m, false);
	size_t n = json_array_size(arr);

	json_decref(arr);
	return n;
}

int main(void)
{
	struct load_info li = {};
	struct model *m;
	json_t *root;

	m = base();
	add_proc(m, 1000);
	add_thread(m, 1000, 1000, 3 * SEC);
	add_thread(m, 1000, 1001, 9 * SEC);
	model__resolve(m);
	check(count(m) == 0, "a plausible model has no problems");
	root = report__json(m, &li);
	check(json_array_size(json_object_get(root, "problems")) == 0,
	      "report JSON has an empty problems[]");
	json_decref(root);
	model__free(m);

	m = base();
	add_proc(m, 40000);
	add_proc(m, 1000);
	add_thread(m, 1000, 50000, SEC);
	model__resolve(m);
	check(has(m, "pid_beyond_pid_max"), "pid beyond pid_max is named");
	check(m->bad_pid_records == 2, "both records refused (%llu)",
	      (unsigned long long)m->bad_pid_records);
	check(!model__proc(m, 40000, 40000), "the refused process is not in the model");
	model__free(m);

	m = base();
	add_proc(m, 1000);
	add_thread(m, 1000, 1001, 12 * SEC);
	model__resolve(m);
	check(has(m, "thread_cpu_over_span"), "a thread busier than the trace is long is named");
	model__free(m);

	m = base();
	add_proc(m, 1000);
	add_thread(m, 1000, 1001, 9 * SEC);
	add_thread(m, 1000, 1002, 9 * SEC);
	add_thread(m, 1000, 1003, 9 * SEC);
	model__resolve(m);
	check(has(m, "cpu_over_capacity"), "27 s of CPU in 10 s on 2 CPUs is named");
	check(!has(m, "thread_cpu_over_span"), "no thread alone is over the span");
	model__free(m);

	m = base();
	add_thread(m, 2000, 2001, SEC);
	model__resolve(m);
	check(has(m, "thread_without_process"), "a thread of a process never seen is named");
	model__free(m);

	m = base();
	add_proc(m, 1000);
	add_thread(m, 1000, 1001, ~0ull - 5);
	model__resolve(m);
	check(has(m, "counter_out_of_range"), "a counter past 2^63 is named");
	root = report__json(m, &li);
	check(json_array_size(json_object_get(root, "problems")) >= 2,
	      "report JSON lists them in problems[]");
	json_decref(root);
	model__free(m);

	m = base();
	{
		struct xt_rec_stats st;

		REC(st, XT_REC_STATS);
		st.k.tx_bytes = 10;
		model__apply(m, &st.hdr);
	}
	m->tx_bytes = 11;	/* as resolved flows would hold */
	check(has(m, "bytes_over_kernel"), "more bytes than the kernel counted is named");
	model__free(m);

	printf("%d passed, %d failed\n", n_pass, n_fail);
	return n_fail != 0;
}
