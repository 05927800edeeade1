// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * `xfertrace report FILE [--format text|json] [--marks FILE|-]`: load a
 * trace into the model and print the per-process table, the flow matrix,
 * totals and drop counters. JSON schema: docs/report-schema.md.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>	/* agent: unlink */
#include "commands.h"
#include "counters.h"
#include "fmt.h"
#include "model.h"
#include "report.h"
#include "sanity.h"
#include "trace.h"
#include "trials.h"	/* trials: --marks, --compare */
#include "util.h"
#include "export.h"	/* --format html|perfetto|md|csv, -o */
#include "agent.h"	/* several traces: report__load_many */

static const char *hdr_str(const struct model *m, const char *key)
{
	json_t *v = m->header ? json_object_get(m->header, key) : NULL;

	return json_is_string(v) ? json_string_value(v) : "?";
}

static const char *hook_str(const struct model *m, const char *key)
{
	json_t *h = m->header ? json_object_get(m->header, "hooks") : NULL;
	json_t *v = h ? json_object_get(h, key) : NULL;

	return json_is_string(v) ? json_string_value(v) : "?";
}


static json_t *drops_json(const struct model *m, const struct load_info *li)
{
	json_t *o = counters__json(&m->stats.k, &m->stats.u, XT_CK_DROP);

	json_object_set_new(o, "trace_truncated",
			    json_integer(li && li->truncated));
	return o;
}

/* Throttling during the trace: differences of the first and last reads. */
static json_t *cgroup_json(const struct mproc *p)
{
	if (!p->have_cg)
		return json_null();
	return json_pack("{s:I, s:I, s:I, s:I, s:I}",
			 "nr_periods", (json_int_t)(p->cg_periods - p->cg0_periods),
			 "nr_throttled",
			 (json_int_t)(p->cg_throttled - p->cg0_throttled),
			 "throttled_ns",
			 (json_int_t)(p->cg_throttled_ns - p->cg0_throttled_ns),
			 "quota_us", (json_int_t)p->cg_quota_us,
			 "period_us", (json_int_t)p->cg_period_us);
}

json_t *report__workers_json(const struct model *m, const char *filter_role)
{
	json_t *arr = json_array();
	int i, j, bad = !arr;

	for (i = 0; i < m->n_procs; i++) {
		const struct mproc *p = m->procs[i];
		json_t *eps, *ths, *o;

		if (!report__proc_listed(p))
			continue;
		if (filter_role && strcmp(role_name(p->role), filter_role))
			continue;
		/* Only now: a skipped process must not leak its arrays. */
		eps = json_array();
		ths = json_array();
		bad |= !eps || !ths;
		for (j = 0; j < p->n_listens; j++)
			bad |= json_array_append_new(eps,
					json_str(p->listens[j]->name));
		for (j = 0; j < m->n_threads; j++) {
			const struct mthread *t = m->threads[j];

			if (t->proc != p)
				continue;
			bad |= json_array_append_new(ths, json_pack(
				"{s:i, s:o, s:I, s:I, s:I, s:b}",
				"tid", (int)t->tid, "comm", json_str(t->comm),
				"cpu_ns", (json_int_t)t->cpu_ns,
				"runq_wait_ns", (json_int_t)t->runq_ns,
				"switches", (json_int_t)t->switches,
				"exited", t->exited));
		}
		o = json_pack("{s:o, s:o, s:i, s:i, s:o, s:o, s:o, s:I, s:I, s:I, s:I, s:I, s:I, s:i, s:I, s:I, s:o}",
			      "endpoint", json_str(p->name), "endpoints", eps,
			      "pid", (int)p->pid, "ppid", (int)p->ppid,
			      "comm", json_str(p->comm),
			      "cmdline", json_str(p->cmdline),
			      "role", json_str(role_name(p->role)),
			      "cpu_ns", (json_int_t)p->cpu_ns,
			      "runq_wait_ns", (json_int_t)p->runq_ns,
			      "switches", (json_int_t)p->switches,
			      "tx_bytes", (json_int_t)p->tx_bytes,
			      "rx_bytes", (json_int_t)p->rx_bytes,
			      "transfer_active_ns", (json_int_t)p->active_ns,
			      "connections", p->n_conns,
			      "netns", (json_int_t)p->netns,
			      "cgroup_id", (json_int_t)p->cgroup_id,
			      "threads", ths);
		bad |= json_object_set_new(o, "scheduler", p->sched ?
					   json_str(p->sched->name) :
					   json_null());
		bad |= json_object_set_new(o, "cgroup_cpu", cgroup_json(p));
		bad |= json_array_append_new(arr, o);
	}
	if (bad) {
		json_decref(arr);
		return NULL;
	}
	return arr;
}

json_t *report__json(const struct model *m, const struct load_info *li)
{
	__u64 dur = m->last_ns > m->first_ns ? m->last_ns - m->first_ns : 0;
	__u64 off = model__mono_to_wall(m);
	json_t *root, *flows = json_array(), *trace, *totals;
	int i, bad = !flows;

	for (i = 0; i < m->n_flows && !bad; i++) {
		const struct mflow *f = m->flows[i];

		bad |= json_array_append_new(flows, json_pack(
			"{s:o, s:o, s:I, s:I, s:I}", "src", json_str(f->src),
			"dst", json_str(f->dst), "bytes", (json_int_t)f->bytes,
			"tx_bytes", (json_int_t)f->tx_bytes,
			"rx_bytes", (json_int_t)f->rx_bytes));
	}
	trace = json_pack("{s:s, s:s, s:{s:s, s:s, s:s, s:s, s:s, s:s}, s:f, s:I, s:b, s:I, s:I, s:I, s:I}",
			  "host", hdr_str(m, "host"),
			  "kernel", hdr_str(m, "kernel"),
			  "hooks", "sock", hook_str(m, "sock"),
			  "sched", hook_str(m, "sched"),
			  "state", hook_str(m, "state"),
			  "harvest", hook_str(m, "harvest"),
			  "discovery", hook_str(m, "discovery"),
			  "clock", hook_str(m, "io_clock"),
			  "start_unix", (double)(m->first_ns + off) / 1e9,
			  "duration_ns", (json_int_t)dur,
			  "truncated", li ? li->truncated : 0,
			  "truncated_at", (json_int_t)(li && li->truncated ?
						       li->offset : 0),
			  "chunks", (json_int_t)(li ? li->chunks : 0),
			  "truncated_records_kept",
			  (json_int_t)(li ? li->partial_records : 0),
			  "harvest_overruns",
			  (json_int_t)m->stats.u.harvest_overruns);
	json_object_set_new(trace, "interval_ms", json_integer(	/* exports */
		json_integer_value(m->header ? json_object_get(m->header,
				   "interval_ms") : NULL)));
	totals = json_pack("{s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:i, s:i, s:i}",
			   "tx_bytes", (json_int_t)m->tx_bytes,
			   "rx_bytes", (json_int_t)m->rx_bytes,
			   "kernel_tx_bytes", (json_int_t)m->stats.k.tx_bytes,
			   "kernel_rx_bytes", (json_int_t)m->stats.k.rx_bytes,
			   "unresolved_tx_bytes", (json_int_t)m->unresolved_tx,
			   "unresolved_rx_bytes", (json_int_t)m->unresolved_rx,
			   "cpu_ns", (json_int_t)m->cpu_ns,
			   "runq_wait_ns", (json_int_t)m->runq_ns,
			   "connections", m->n_conns,
			   "processes", m->n_procs,
			   "threads", m->n_threads);
	if (bad) {
		json_decref(flows);
		flows = NULL;	/* fails the root: json_print() says so */
	}
	root = json_pack("{s:s, s:o, s:o, s:o, s:o, s:o, s:o, s:o*}",
			 "schema", "xfertrace.report/1",
			 "trace", trace,
			 "workers", report__workers_json(m, NULL),
			 "flows", flows,
			 "totals", totals,
			 "drops", drops_json(m, li),
			 "health", counters__json(&m->stats.k, &m->stats.u,
						  XT_CK_HEALTH),
			 "problems", sanity__check(m, li && li->truncated));
	return root;
}

#define TEXT_FLOWS_MAX 40

static void print_text(FILE *f, const struct model *m,
		       const struct load_info *li)
{
	__u64 dur = m->last_ns > m->first_ns ? m->last_ns - m->first_ns : 0;
	const struct xt_stats *k = &m->stats.k;
	char tx[32], rx[32], b[40];
	__u64 fold_cpu = 0, fold_runq = 0;
	int i, shown = 0, folded = 0;

	fprintf(f, "xfertrace report: host %s, kernel %s, %.1f s, hooks tcp-bytes=%s cpu=%s tcp-state=%s harvest=%s discovery=%s%s\n\n",
		hdr_str(m, "host"), hdr_str(m, "kernel"), dur / 1e9,
		hook_str(m, "sock"), hook_str(m, "sched"),
		hook_str(m, "state"), hook_str(m, "harvest"),
		hook_str(m, "discovery"), li && li->truncated ? " (TRUNCATED)" : "");
	fprintf(f, "%-34s %8s %-9s %9s %9s %10s %10s\n", "ENDPOINT", "PID",
		"ROLE", "CPU(s)", "RUNQ(s)", "TX", "RX");
	for (i = 0; i < m->n_procs; i++) {
		const struct mproc *p = m->procs[i];

		if (!report__proc_listed(p))
			continue;
		/* Keep the table readable on a busy node: fold them. */
		if (p->role == XT_ROLE_OTHER && !p->tx_bytes &&
		    !p->rx_bytes && p->cpu_ns * 100 < m->cpu_ns) {
			folded++;
			fold_cpu += p->cpu_ns;
			fold_runq += p->runq_ns;
			continue;
		}
		fmt_bytes(tx, sizeof(tx), p->tx_bytes);
		fmt_bytes(rx, sizeof(rx), p->rx_bytes);
		fprintf(f, "%-34s %8u %-9s %9.3f %9.3f %10s %10s\n", p->name,
			p->pid, role_name(p->role), p->cpu_ns / 1e9,
			p->runq_ns / 1e9,
			tx, rx);
		shown++;
	}
	if (folded) {
		snprintf(b, sizeof(b), "(%d more, <1%% CPU each)", folded);
		fprintf(f, "%-34s %8s %-9s %9.3f %9.3f %10s %10s\n", b, "-",
			"other", fold_cpu / 1e9, fold_runq / 1e9, "0B", "0B");
	}
	fprintf(f, "\nFLOWS (bytes src sent to dst)\n%-34s %-34s %10s\n",
		"SRC", "DST", "BYTES");
	for (i = 0; i < m->n_flows && i < TEXT_FLOWS_MAX; i++) {
		const struct mflow *fl = m->flows[i];

		fmt_bytes(b, sizeof(b), fl->bytes);
		fprintf(f, "%-34s %-34s %10s\n", fl->src, fl->dst, b);
	}
	if (m->n_flows > TEXT_FLOWS_MAX)
		fprintf(f, "(%d smaller flows not shown; --format json lists all)\n",
			m->n_flows - TEXT_FLOWS_MAX);
	fprintf(f, "\nTOTALS  tx %llu B (kernel %llu), rx %llu B (kernel %llu), unresolved tx %llu rx %llu, cpu %.3f s, %d connections, %d processes\n",
		(unsigned long long)m->tx_bytes,
		(unsigned long long)k->tx_bytes,
		(unsigned long long)m->rx_bytes,
		(unsigned long long)k->rx_bytes,
		(unsigned long long)m->unresolved_tx,
		(unsigned long long)m->unresolved_rx, m->cpu_ns / 1e9,
		m->n_conns, m->n_procs);
	fprintf(f, "DROPS   ");
	counters__print(f, k, &m->stats.u, XT_CK_DROP, " ", ", ");
	fprintf(f, ", truncated %s\n", li && li->truncated ? "yes" : "no");
	fprintf(f, "HEALTH  ");
	counters__print(f, k, &m->stats.u, XT_CK_HEALTH, " ", ", ");
	fputc('\n', f);
	fprintf(f, "SLICES  %llu on-CPU slices recorded, %llu lost (ring buffer full)\n",
		(unsigned long long)k->slices,
		(unsigned long long)k->slices_lost);
}

static void usage(FILE *f)
{
	fprintf(f, "usage: xfertrace report FILE [--format text|json|html|perfetto|md|csv]\n"
		"                        [-o FILE] [--table trials|intervals|flows]\n");
	/* agent: several traces (docs/agent.md) */
	fprintf(f, "       xfertrace report FILE FILE... | --merge DIR  [--format text|json]\n");
	/* trials (docs/attribution.md) */
	fprintf(f, "                        [--marks FILE|-] [--skew-ms MS]\n"
		"       xfertrace report --compare A B [--marks-a FILE] [--marks-b FILE]\n"
		"                        [--format text|json] [--skew-ms MS]\n");
}

/* trials: --marks, --compare (docs/attribution.md) */
static int report_trials(const char *path, const struct model *m,
			 const struct trials_opts *to, json_t *root, FILE *f)
{
	struct trials *t;

	if (!trials__wanted(m, to))
		return 0;
	if (trials__analyze(path, m, to, &t))
		return 1;
	if (root && trials__add_json(t, root)) {
		p_err("report: could not build the JSON for the trials (out of memory?)");
		trials__free(t);
		return 1;
	}
	if (!root)
		trials__print(t, f);
	trials__free(t);
	return 0;
}

/* text or json, to stdout or -o FILE (through a temp file). */
static int report_out(const char *path, const struct model *m,
		      const struct load_info *li, const struct trials_opts *to,
		      const char *fmt, const char *out)
{
	struct xt_out o;
	json_t *root;
	int err;

	if (out__open(&o, out))
		return 1;
	if (!strcmp(fmt, "json")) {
		root = report__json(m, li);
		err = report_trials(path, m, to, root, o.f);	/* trials */
		if (!err && json_print(root, o.f, "report"))
			err = -EIO;
		json_decref(root);
	} else {
		print_text(o.f, m, li);
		err = report_trials(path, m, to, NULL, o.f);	/* trials */
	}
	return out__close(&o, err);
}

static int report_many_print(struct model *m, const struct load_info *li,
			     bool json, const char *name,
			     const struct trials_opts *to);

/* agent: one report over several traces (docs/agent.md). */
static int report_many(int n, char **files, const char *dir, bool json,
		       const struct trials_opts *to)
{
	char merged[] = "/tmp/xfertrace-merged-XXXXXX";
	const char *name = merged;
	char **paths = files;
	struct load_info li;
	struct model *m;
	int i, err, fd, ret;

	if (dir && n) {
		p_err("report: --merge DIR takes no trace files besides");
		return 2;
	}
	if (dir && report__dir_files(dir, &paths, &n)) {
		p_err("report: cannot read directory %s", dir);
		return 1;
	}
	/* Trials read their trace again: give them the merged stream. */
	fd = n ? mkstemp(merged) : -1;
	if (fd >= 0) {
		close(fd);
		err = report__load_many(paths, n, 0, merged, &m, &li);
	} else if (n) {
		p_err("report: cannot make a temporary file: %s", strerror(errno));
		err = -errno;
	} else {
		p_err("report: no .xft trace files in %s", dir);
		err = -ENOENT;
	}
	if (dir) {
		for (i = 0; i < n; i++)
			free(paths[i]);
		free(paths);
	}
	if (err) {
		if (fd >= 0)
			unlink(merged);
		return 1;
	}
	ret = report_many_print(m, &li, json, name, to);
	unlink(merged);
	return ret;
}

static int report_many_print(struct model *m, const struct load_info *li,
			     bool json, const char *name,
			     const struct trials_opts *to)
{
	json_t *root;

	report__sort(m);
	if (json) {
		root = report__json(m, li);
		json_object_set(root, "sources",
				json_object_get(m->header, "sources"));
		if (report_trials(name, m, to, root, stdout)) {
			json_decref(root);
			model__free(m);
			return 1;
		}
		if (json_print(root, stdout, "report")) {
			json_decref(root);
			model__free(m);
			return 1;
		}
		json_decref(root);
	} else {
		print_text(stdout, m, li);
		report__print_reconcile(stdout, m);
		if (report_trials(name, m, to, NULL, stdout)) {
			model__free(m);
			return 1;
		}
	}
	model__free(m);
	return fflush(stdout) ? 1 : 0;
}

int cmd_report(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "format", required_argument, NULL, 'f' },
		{ "help", no_argument, NULL, 'h' },
		/* trials (docs/attribution.md) */
		{ "marks", required_argument, NULL, 'm' },
		{ "compare", required_argument, NULL, 'C' },
		{ "marks-a", required_argument, NULL, 'A' },
		{ "marks-b", required_argument, NULL, 'B' },
		{ "skew-ms", required_argument, NULL, 'S' },
		/* exports (export.h) */
		{ "output", required_argument, NULL, 'o' },
		{ "table", required_argument, NULL, 'T' },
		{ "merge", required_argument, NULL, 'M' },	/* agent */
		{},
	};
	struct trials_opts to = {}, toa = {}, tob = {};	/* trials */
	const char *path = NULL, *fmt = "text", *cmp_a = NULL;
	const char *out = NULL, *table = NULL;	/* exports */
	const char *merge_dir = NULL;	/* agent: --merge DIR */
	__u64 skew_ms;
	struct load_info li;
	struct model *m;
	json_t *root;
	int c, err;

	optind = 1;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "f:ho:", opts, NULL)) != -1) {
		switch (c) {
		case 'f':
			fmt = optarg;
			break;
		case 'h':
			usage(stdout);
			return 0;
		case 'o':	/* exports */
			out = optarg;
			break;
		case 'T':
			table = optarg;
			break;
		/* trials (docs/attribution.md) */
		case 'm':
			to.marks_path = optarg;
			break;
		case 'C':
			cmp_a = optarg;
			break;
		case 'A':
			toa.marks_path = optarg;
			break;
		case 'B':
			tob.marks_path = optarg;
			break;
		case 'M':
			merge_dir = optarg;
			break;
		case 'S':
			if (parse_u64(optarg, 0, 3600000, &skew_ms)) {
				p_err("report: --skew-ms takes milliseconds, not '%s'",
				      optarg);
				return 2;
			}
			to.slack_ns = toa.slack_ns = tob.slack_ns =
				(__s64)skew_ms * 1000000;
			break;
		default:
			p_err("report: unknown or incomplete option '%s' (try --help)",
			      argv[optind - 1]);
			return 2;
		}
	}
	if (export__check_args(fmt, table))	/* text, json and exports */
		return 2;
	/* trials: --compare A B */
	if (cmp_a) {
		if (optind != argc - 1 || to.marks_path) {
			p_err("report: --compare takes two trace files, A B (marks: --marks-a, --marks-b)");
			return 2;
		}
		return compare__run(cmp_a, argv[optind], &toa, &tob, fmt,
				    out);
	}
	if (toa.marks_path || tob.marks_path) {
		p_err("report: --marks-a and --marks-b go with --compare A B");
		return 2;
	}
	/* agent: several trace files, or a directory of them */
	if (merge_dir || argc - optind > 1)
		return report_many(argc - optind, argv + optind, merge_dir,
				   !strcmp(fmt, "json"), &to);
	if (optind != argc - 1) {
		p_err(optind == argc ? "report: which trace file? (usage: xfertrace report FILE)" :
		      "report: expected one trace file, got more arguments");
		return 2;
	}
	path = argv[optind];
	err = report__load(path, &m, &li);
	if (err)
		return 1;
	report__sort(m);
	/* What cannot be true is said on stderr, not passed off as data. */
	root = sanity__check(m, li.truncated);
	sanity__print(root, stderr);
	json_decref(root);
	if (export__is_format(fmt)) {	/* exports */
		err = export__run(path, m, &li, &to, fmt, table, out);
		model__free(m);
		return err ? 1 : 0;
	}
	err = report_out(path, m, &li, &to, fmt, out);
	model__free(m);
	return err ? 1 : 0;
}
