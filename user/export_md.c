// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * `report --format md`: the verdict, key figures, the diagnostics table and
 * the per-trial table (or, with --compare, the A/B table), as GitHub
 * Markdown to paste into an issue or a reply. Every figure is a field of
 * the JSON report; the diagnostics table names it.
 */
#include <errno.h>
#include <math.h>
#include <string.h>
#include <time.h>
#include "export.h"

/* How a figure is shown: its scale and decimals. */
struct md_fmt {
	double scale;
	int prec;
	const char *suffix;
};

static const struct md_fmt F_MS = { 1, 1, "" };		/* ms as is */
static const struct md_fmt F_S = { 1e-9, 3, "" };	/* ns -> s */
static const struct md_fmt F_MB = { 1e-6, 3, "" };	/* B -> MB */
static const struct md_fmt F_PCT = { 100, 1, "%" };
static const struct md_fmt F_X = { 1, 3, "" };
static const struct md_fmt F_N = { 1, 0, "" };

/* Table cells must not break the table. */
static void md_text(FILE *f, const char *s)
{
	for (; *s; s++) {
		if (*s == '|')
			fputs("\\|", f);
		else if (*s == '\n' || *s == '\r')
			fputc(' ', f);
		else
			fputc(*s, f);
	}
}

static void md_num(FILE *f, double v, const struct md_fmt *fm)
{
	if (isnan(v) || isinf(v))
		fputs("-", f);
	else
		fprintf(f, "%.*f%s", fm->prec, v * fm->scale, fm->suffix);
}

static void diag_row(FILE *f, const json_t *o, const char *label,
		     const char *key, const struct md_fmt *fm)
{
	fprintf(f, "| %s | ", label);
	md_num(f, jd(o, key), fm);
	fprintf(f, " | `%s` |\n", key);
}

static void md_diagnostics(FILE *f, const json_t *dg)
{
	fputs("\n## Diagnostics\n\n| diagnostic | value | JSON field (diagnostics.) |\n|---|---:|---|\n", f);
	diag_row(f, dg, "trials with timing", "trials", &F_N);
	diag_row(f, dg, "simulation duration p50 (ms, marks)", "sim_ms_p50", &F_MS);
	diag_row(f, dg, "simulation duration p95 (ms, marks)", "sim_ms_p95", &F_MS);
	diag_row(f, dg, "simulation CPU p50 (ms, kernel)", "sim_cpu_ms_p50", &F_MS);
	diag_row(f, dg, "simulation CPU p95 (ms, kernel)", "sim_cpu_ms_p95", &F_MS);
	diag_row(f, dg, "aggregation duration p50 (ms, marks)", "agg_ms_p50", &F_MS);
	diag_row(f, dg, "aggregation duration p95 (ms, marks)", "agg_ms_p95", &F_MS);
	diag_row(f, dg, "aggregation CPU p50 (ms, kernel)", "agg_cpu_ms_p50", &F_MS);
	diag_row(f, dg, "aggregation CPU p95 (ms, kernel)", "agg_cpu_ms_p95", &F_MS);
	diag_row(f, dg, "payload per aggregation p50 (MB, measured)", "payload_per_agg_bytes_p50", &F_MB);
	diag_row(f, dg, "payload per aggregation p95 (MB, measured)", "payload_per_agg_bytes_p95", &F_MB);
	diag_row(f, dg, "total_inline_mb per aggregation p50 (MB, claimed)", "claimed_per_agg_bytes_p50", &F_MB);
	diag_row(f, dg, "total_inline_mb per aggregation p95 (MB, claimed)", "claimed_per_agg_bytes_p95", &F_MB);
	diag_row(f, dg, "measured payload / claimed", "payload_over_claimed", &F_X);
	diag_row(f, dg, "split-aggregation rate", "split_rate", &F_PCT);
	diag_row(f, dg, "locality (inputs already on the aggregation's worker)", "locality", &F_PCT);
	diag_row(f, dg, "duplication factor (bytes moved / unique result bytes)", "dup_factor", &F_X);
	diag_row(f, dg, "transfer share of trial wall time", "transfer_share", &F_PCT);
	diag_row(f, dg, "transfer time (s)", "transfer_ns", &F_S);
	diag_row(f, dg, "compute CPU (s)", "compute_cpu_ns", &F_S);
	diag_row(f, dg, "communication CPU (s)", "comm_cpu_ns", &F_S);
	diag_row(f, dg, "trial wall time, summed (s)", "wall_ns", &F_S);
	diag_row(f, dg, "transfer bytes (MB)", "transfer_bytes", &F_MB);
	diag_row(f, dg, "unattributed worker-to-worker bytes", "unattributed_share", &F_PCT);
	diag_row(f, dg, "run-queue wait share of runnable time", "runq_share", &F_PCT);
}

static void md_clock(FILE *f, double unix_s)
{
	time_t s = (time_t)unix_s;
	struct tm tm;

	if (isnan(unix_s)) {
		fputs("-", f);
		return;
	}
	gmtime_r(&s, &tm);
	fprintf(f, "%02d:%02d:%06.3f", tm.tm_hour, tm.tm_min,
		tm.tm_sec + (unix_s - (double)s));
}

static void md_trials(FILE *f, const json_t *trials)
{
	size_t k;
	json_t *t;

	fputs("\n## Trials\n\n| trial | start (UTC) | wall (s) | sims | aggs | compute CPU (s) | comm CPU (s) | transfer (MB) | transfer time (s) | transfer share | split | dup factor | attribution |\n|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---|---:|---|\n",
	      f);
	json_array_foreach(trials, k, t) {
		fputs("| ", f);
		md_text(f, js(t, "id"));
		fputs(" | ", f);
		md_clock(f, jd(t, "start_unix"));
		fputs(" | ", f);
		md_num(f, jd(t, "wall_ns"), &F_S);
		fprintf(f, " | %d | %d | ", (int)jd(t, "n_sims"),
			(int)jd(t, "n_aggs"));
		md_num(f, jd(t, "compute_cpu_ns"), &F_S);
		fputs(" | ", f);
		md_num(f, jd(t, "comm_cpu_ns"), &F_S);
		fputs(" | ", f);
		md_num(f, jd(t, "transfer_bytes"), &F_MB);
		fputs(" | ", f);
		md_num(f, jd(t, "transfer_ns"), &F_S);
		fputs(" | ", f);
		md_num(f, jd(t, "transfer_share"), &F_PCT);
		fprintf(f, " | %s | ", json_is_true(json_object_get(t, "split")) ?
			"yes" : "no");
		md_num(f, jd(t, "dup_factor"), &F_X);
		fprintf(f, " | %s |\n", js(t, "attribution"));
	}
}

static void md_workers(FILE *f, const json_t *workers)
{
	size_t k;
	json_t *w;

	fputs("\n## Processes\n\n| endpoint | role | pid | CPU (s) | run-queue wait (s) | TX (MB) | RX (MB) |\n|---|---|---:|---:|---:|---:|---:|\n",
	      f);
	json_array_foreach(workers, k, w) {
		fputs("| ", f);
		md_text(f, js(w, "endpoint"));
		fprintf(f, " | %s | %d | ", js(w, "role"), (int)jd(w, "pid"));
		md_num(f, jd(w, "cpu_ns"), &F_S);
		fputs(" | ", f);
		md_num(f, jd(w, "runq_wait_ns"), &F_S);
		fputs(" | ", f);
		md_num(f, jd(w, "tx_bytes"), &F_MB);
		fputs(" | ", f);
		md_num(f, jd(w, "rx_bytes"), &F_MB);
		fputs(" |\n", f);
	}
}

static void md_drops(FILE *f, const json_t *root)
{
	const json_t *tr = json_object_get(root, "trace");
	const json_t *h = json_object_get(tr, "hooks");
	const char *key;
	json_t *v;
	size_t i;

	fprintf(f, "\n## How the trace was taken\n\nhost `%s`, kernel `%s`, %.3f s in %.0f ms intervals; hooks: TCP bytes `%s`, CPU `%s`, TCP state `%s`, harvest `%s`, discovery `%s`, clock `%s`; %s\n",
		js(tr, "host"), js(tr, "kernel"), jd(tr, "duration_ns") / 1e9,
		jd(tr, "interval_ms"),
		js(h, "sock"), js(h, "sched"), js(h, "state"),
		js(h, "harvest"), js(h, "discovery"), js(h, "clock"),
		json_is_true(json_object_get(tr, "truncated")) ?
		"**the trace is truncated**" : "complete trace");
	fputs("\n| drop counter | count |\n|---|---:|\n", f);
	json_object_foreach((json_t *)json_object_get(root, "drops"), key, v)
		fprintf(f, "| %s | %lld |\n", key,
			json_is_integer(v) ? (long long)json_integer_value(v) :
			json_is_true(v) ? 1LL : 0LL);
	json_object_foreach((json_t *)json_object_get(root, "health"), key, v)
		fprintf(f, "| health.%s | %lld |\n", key,
			(long long)json_integer_value(v));
	json_array_foreach(json_object_get(root, "problems"), i, v) {
		fputs(i ? "" : "\n**Problems found in the trace:**\n\n", f);
		fputs("- ", f);
		md_text(f, js(v, "detail"));
		fputc('\n', f);
	}
}

int export_md__write(FILE *f, const struct export_doc *d)
{
	const json_t *dg = json_object_get(d->root, "diagnostics");
	const json_t *tot = json_object_get(d->root, "totals");

	fputs("# xfertrace report: ", f);
	md_text(f, d->path);
	fputs("\n\n", f);
	if (dg) {
		fputs("**Verdict:** ", f);
		md_text(f, js(dg, "verdict"));
		fputs("\n", f);
	} else {
		fputs("No trial marks: no transfer-against-compute verdict (give `--marks FILE`).\n", f);
	}
	fprintf(f, "\nTCP bytes sent %.3f MB, received %.3f MB; CPU %.3f s over %d processes.\n",
		jd(tot, "tx_bytes") / 1e6, jd(tot, "rx_bytes") / 1e6,
		jd(tot, "cpu_ns") / 1e9,
		(int)json_array_size(json_object_get(d->root, "workers")));
	if (dg) {
		md_diagnostics(f, dg);
		md_trials(f, json_object_get(d->root, "trials"));
	}
	md_workers(f, json_object_get(d->root, "workers"));
	md_drops(f, d->root);
	return ferror(f) ? -EIO : 0;
}

static void cmp_row(FILE *f, const json_t *cmp, const char *label,
		    const char *key, const struct md_fmt *fm)
{
	const json_t *a = json_object_get(cmp, "a"), *b = json_object_get(cmp, "b");
	double r;

	fprintf(f, "| %s | ", label);
	md_num(f, jd(a, key), fm);
	fputs(" | ", f);
	md_num(f, jd(b, key), fm);
	fputs(" | ", f);
	r = jd(json_object_get(cmp, "ratios"), key);
	if (!json_object_get(json_object_get(cmp, "ratios"), key))
		r = jd(a, key) > 0 ? jd(b, key) / jd(a, key) : NAN;	/* B/A */
	md_num(f, r, &F_X);
	fprintf(f, " | `%s` |\n", key);
}

/* Mean wall time per trial of one side, from its diagnostics. */
static double wall_per_trial(const struct export_doc *d)
{
	const json_t *dg = json_object_get(d->root, "diagnostics");

	return jd(dg, "trials") > 0 ? jd(dg, "wall_ns") / jd(dg, "trials") :
	       NAN;
}

int export_md__compare(FILE *f, const struct export_doc *da,
		       const struct export_doc *db, const json_t *root)
{
	const json_t *cmp = json_object_get(root, "compare");
	const json_t *a = json_object_get(cmp, "a"), *b = json_object_get(cmp, "b");
	double wa = wall_per_trial(da), wb = wall_per_trial(db);

	fputs("# xfertrace: Test A against Test B\n\n- A: ", f);
	md_text(f, js(a, "file"));
	fputs("\n- B: ", f);
	md_text(f, js(b, "file"));
	fputs("\n\n| figure | A | B | B/A | JSON field (compare.a/b) |\n|---|---:|---:|---:|---|\n", f);
	cmp_row(f, cmp, "trials", "trials", &F_N);
	cmp_row(f, cmp, "trials per minute", "trials_per_min", &F_X);
	cmp_row(f, cmp, "bytes per trial (MB)", "bytes_per_trial", &F_MB);
	cmp_row(f, cmp, "transfer share of wall time", "transfer_share", &F_PCT);
	cmp_row(f, cmp, "split-aggregation rate", "split_rate", &F_PCT);
	cmp_row(f, cmp, "duplication factor", "dup_factor", &F_X);
	cmp_row(f, cmp, "unattributed bytes", "unattributed_share", &F_PCT);
	fputs("| wall per trial (s) | ", f);
	md_num(f, wa, &F_S);
	fputs(" | ", f);
	md_num(f, wb, &F_S);
	fputs(" | ", f);
	md_num(f, wa > 0 ? wb / wa : NAN, &F_X);
	fputs(" | `diagnostics.wall_ns / diagnostics.trials` |\n", f);
	fputs("\n**Verdict A:** ", f);
	md_text(f, js(a, "verdict"));
	fputs("\n\n**Verdict B:** ", f);
	md_text(f, js(b, "verdict"));
	fputs("\n", f);
	return ferror(f) ? -EIO : 0;
}
