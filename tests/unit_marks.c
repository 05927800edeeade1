// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * Unit tests for user/marks.c: the mark line parser and the file reader.
 * Expected values are the ones written into the lines the tests build.
 * Prints "ok - ..." / "FAIL - ..." and ends with "N passed, N failed".
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <locale.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>
#include <linux/types.h>

#include "marks.h"

static int n_pass, n_fail;

__attribute__((format(printf, 2, 3)))
static int check(int ok, const char *fmt, ...)
{
	va_list ap;

	printf("%s - ", ok ? "ok" : "FAIL");
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	putchar('\n');
	if (ok)
		n_pass++;
	else
		n_fail++;
	return ok;
}

/* ---- helpers ---- */

static __u64 rng_state = 0x9e3779b97f4a7c15ULL;

static __u64 rnd(void)
{
	__u64 x = rng_state;

	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	return rng_state = x;
}

static unsigned int rnd_below(unsigned int n)
{
	return n ? (unsigned int)(rnd() % n) : 0;
}

static double rnd_unit(void)
{
	return (double)(rnd() >> 11) / (double)(1ULL << 53);
}

static int parse_str(const char *line, struct xt_mark *m, char *err)
{
	return mark__parse(line, strlen(line), m, err, XT_MARK_ERR_MAX);
}

/* Field-by-field equality; names the first difference in why. */
static int mark_eq(const struct xt_mark *a, const struct xt_mark *b,
		   const char **why)
{
#define CMP(f) do { if (a->f != b->f) { *why = #f; return 0; } } while (0)
#define SCMP(f) do { if (strcmp(a->f, b->f)) { *why = #f; return 0; } } while (0)
	CMP(kind); CMP(has_ts); CMP(ts_unix_ns); SCMP(param_id); SCMP(run_id);
	SCMP(target); SCMP(worker); CMP(seed); CMP(n_sim_returns);
	CMP(n_outputs); CMP(total_inline_mb); CMP(max_single_kb);
	CMP(duration_ms);
#undef CMP
#undef SCMP
	*why = "";
	return 1;
}

static void sim_expect(struct xt_mark *m)
{
	memset(m, 0, sizeof(*m));
	m->kind = XT_MARK_SIM;
	strcpy(m->param_id, "abc12345");
	m->seed = 42;
	m->duration_ms = 1234.5;
	strcpy(m->worker, "tcp://10.0.0.1:8786");
}

#define SIM_FIELDS "param_id=abc12345 seed=42 duration_ms=1234.5 worker=tcp://10.0.0.1:8786"

static void agg_expect(struct xt_mark *m)
{
	memset(m, 0, sizeof(*m));
	m->kind = XT_MARK_AGG;
	strcpy(m->run_id, "abc123");
	strcpy(m->param_id, "def45678");
	strcpy(m->target, "my_target");
	m->n_sim_returns = 10;
	m->n_outputs = 15;
	m->total_inline_mb = 2.34;
	m->max_single_kb = 156.2;
	m->duration_ms = 567.8;
	strcpy(m->worker, "tcp://10.0.0.2:8786");
}

#define AGG_FIELDS "run_id=abc123 param_id=def45678 target=my_target " \
	"n_sim_returns=10 n_outputs=15 total_inline_mb=2.34 " \
	"max_single_kb=156.2 duration_ms=567.8 worker=tcp://10.0.0.2:8786"

/* Parse line and compare with exp; one ok/FAIL line. */
static void expect_mark(const char *desc, const char *line, size_t len,
			const struct xt_mark *exp)
{
	char err[XT_MARK_ERR_MAX] = "";
	struct xt_mark m;
	const char *why = "return value";
	int ret = mark__parse(line, len, &m, err, sizeof(err));

	if (ret == 1 && mark_eq(&m, exp, &why))
		check(1, "%s", desc);
	else
		check(0, "%s: ret %d err '%s' differs in %s", desc, ret, err, why);
}

static void expect_bad(const char *desc, const char *line, size_t len,
		       const char *reason)
{
	char err[XT_MARK_ERR_MAX] = "x";
	struct xt_mark m;
	int ret = mark__parse(line, len, &m, err, sizeof(err));
	size_t n = strnlen(err, sizeof(err));

	check(ret == -EINVAL && n > 0 && n < sizeof(err) &&
	      strstr(err, reason), "%s -> '%s'", desc, err);
}

static void expect_none(const char *desc, const char *line, size_t len)
{
	char err[XT_MARK_ERR_MAX] = "x";
	struct xt_mark m;
	int ret = mark__parse(line, len, &m, err, sizeof(err));

	check(ret == 0 && err[0] == 0, "%s (ret %d)", desc, ret);
}

/* ---- good lines ---- */

static void test_good_basic(void)
{
	struct xt_mark e;

	sim_expect(&e);
	expect_mark("SIM_TIMING plan example", "SIM_TIMING: " SIM_FIELDS,
		    strlen("SIM_TIMING: " SIM_FIELDS), &e);
	agg_expect(&e);
	expect_mark("AGG_TIMING plan example", "AGG_TIMING: " AGG_FIELDS,
		    strlen("AGG_TIMING: " AGG_FIELDS), &e);

	memset(&e, 0, sizeof(e));
	e.kind = XT_MARK_TRIAL_BEGIN;
	strcpy(e.param_id, "p0001");
	expect_mark("TRIAL_BEGIN", "TRIAL_BEGIN param_id=p0001", 26, &e);
	e.kind = XT_MARK_TRIAL_END;
	strcpy(e.run_id, "r7");
	expect_mark("TRIAL_END with colon and run_id",
		    "TRIAL_END: param_id=p0001 run_id=r7", 35, &e);

	sim_expect(&e);
	e.seed = 0;
	expect_mark("SIM_TIMING without optional seed",
		    "SIM_TIMING: param_id=abc12345 duration_ms=1234.5 worker=tcp://10.0.0.1:8786",
		    strlen("SIM_TIMING: param_id=abc12345 duration_ms=1234.5 worker=tcp://10.0.0.1:8786"),
		    &e);

	agg_expect(&e);
	e.run_id[0] = 0;
	e.n_outputs = 0;
	e.max_single_kb = 0;
	expect_mark("AGG_TIMING with only required fields",
		    "AGG_TIMING: param_id=def45678 target=my_target n_sim_returns=10 total_inline_mb=2.34 duration_ms=567.8 worker=tcp://10.0.0.2:8786",
		    strlen("AGG_TIMING: param_id=def45678 target=my_target n_sim_returns=10 total_inline_mb=2.34 duration_ms=567.8 worker=tcp://10.0.0.2:8786"),
		    &e);
}

static void test_terminators(void)
{
	static const char *const ends[] = { "\n", "\r\n", "\r", "", " ", "\t" };
	char line[256], desc[64];
	struct xt_mark e;
	size_t i, n;

	sim_expect(&e);
	for (i = 0; i < sizeof(ends) / sizeof(ends[0]); i++) {
		n = snprintf(line, sizeof(line), "SIM_TIMING: %s%s", SIM_FIELDS, ends[i]);
		snprintf(desc, sizeof(desc), "line end #%zu accepted", i);
		expect_mark(desc, line, n, &e);
	}
	/* A datagram sender may include the C string terminator. */
	n = snprintf(line, sizeof(line), "SIM_TIMING: %s", SIM_FIELDS);
	expect_mark("trailing NUL (datagram) accepted", line, n + 1, &e);
}

struct ts_case {
	const char *text;
	int y, mo, d, h, mi, s;
	__u64 frac_ns;
	long off_s;		/* zone offset, seconds east */
};

static const struct ts_case ts_cases[] = {
	{ "2026-01-24T10:11:12.123456789Z", 2026, 1, 24, 10, 11, 12, 123456789, 0 },
	{ "2026-01-24T10:11:12Z", 2026, 1, 24, 10, 11, 12, 0, 0 },
	{ "2026-01-24T10:11:12.5+02:00", 2026, 1, 24, 10, 11, 12, 500000000, 7200 },
	{ "2026-01-24T10:11:12.123-05:30", 2026, 1, 24, 10, 11, 12, 123000000, -19800 },
	{ "2026-01-24t10:11:12.123456789987654z", 2026, 1, 24, 10, 11, 12, 123456789, 0 },
	{ "2026-01-24 10:11:12.000001Z", 2026, 1, 24, 10, 11, 12, 1000, 0 },
	{ "2026-01-24 10:11:12+01:00", 2026, 1, 24, 10, 11, 12, 0, 3600 },
	{ "2024-02-29T23:59:59.999999999+00:00", 2024, 2, 29, 23, 59, 59, 999999999, 0 },
	{ "2016-12-31T23:59:60Z", 2016, 12, 31, 23, 59, 60, 0, 0 },
	{ "2000-01-01T00:00:00Z", 2000, 1, 1, 0, 0, 0, 0, 0 },
	{ "2200-12-31T23:59:59.9Z", 2200, 12, 31, 23, 59, 59, 900000000, 0 },
	{ "2026-01-24T00:30:00+01:00", 2026, 1, 24, 0, 30, 0, 0, 3600 },
	{ "2026-12-31T23:30:00-00:45", 2026, 12, 31, 23, 30, 0, 0, -2700 },
	{ "2000-02-29T12:00:00.1-12:00", 2000, 2, 29, 12, 0, 0, 100000000, -43200 },
};

/* Expected ns from libc's timegm (independent of the parser). */
static __u64 ts_case_ns(const struct ts_case *c)
{
	struct tm tm = { 0 };

	tm.tm_year = c->y - 1900;
	tm.tm_mon = c->mo - 1;
	tm.tm_mday = c->d;
	tm.tm_hour = c->h;
	tm.tm_min = c->mi;
	tm.tm_sec = c->s;
	return (__u64)(timegm(&tm) - c->off_s) * 1000000000ULL + c->frac_ns;
}

static void test_timestamps(void)
{
	char line[512], desc[128];
	struct xt_mark e;
	size_t i, n;

	for (i = 0; i < sizeof(ts_cases) / sizeof(ts_cases[0]); i++) {
		sim_expect(&e);
		e.has_ts = 1;
		e.ts_unix_ns = ts_case_ns(&ts_cases[i]);
		n = snprintf(line, sizeof(line), "%s SIM_TIMING: %s",
			     ts_cases[i].text, SIM_FIELDS);
		snprintf(desc, sizeof(desc), "timestamp %s", ts_cases[i].text);
		expect_mark(desc, line, n, &e);
		agg_expect(&e);
		e.has_ts = 1;
		e.ts_unix_ns = ts_case_ns(&ts_cases[i]);
		n = snprintf(line, sizeof(line),
			     "%s\tINFO dask_simulation - AGG_TIMING: %s",
			     ts_cases[i].text, AGG_FIELDS);
		snprintf(desc, sizeof(desc), "timestamp %s, tab, prefix", ts_cases[i].text);
		expect_mark(desc, line, n, &e);
	}
}

static void test_prefixes(void)
{
	static const char *const sim_prefixes[] = {
		"INFO:dask_simulation:SIM_TIMING: ",
		"2026-01-24 10:11:12,345 INFO dask_simulation - SIM_TIMING: ",
		"2026-01-24 10:11:12 - INFO - SIM_TIMING: ",
		"2026-01-24 INFO SIM_TIMING: ",
		"[worker-3] (pid 17) SIM_TIMING:",
		"distributed.worker - INFO - SIM_TIMING:\t",
		"\xe2\x86\x92 SIM_TIMING: ",
		"x.SIM_TIMING: ",
		"-SIM_TIMING ",
	};
	char line[512], desc[160];
	struct xt_mark e;
	size_t i, n;

	sim_expect(&e);
	for (i = 0; i < sizeof(sim_prefixes) / sizeof(sim_prefixes[0]); i++) {
		n = snprintf(line, sizeof(line), "%s%s", sim_prefixes[i], SIM_FIELDS);
		snprintf(desc, sizeof(desc), "prefix '%s' (no timestamp)", sim_prefixes[i]);
		expect_mark(desc, line, n, &e);
	}
	e.has_ts = 1;
	e.ts_unix_ns = ts_case_ns(&ts_cases[0]);
	n = snprintf(line, sizeof(line), "%s 2026-01-24 10:11:12,345 - dask_simulation - INFO - SIM_TIMING: %s",
		     ts_cases[0].text, SIM_FIELDS);
	expect_mark("kubectl timestamp then python logging prefix", line, n, &e);
}

static void test_field_order(void)
{
	static const char *const sim_kv[] = {
		"param_id=abc12345", "seed=42", "duration_ms=1234.5",
		"worker=tcp://10.0.0.1:8786",
	};
	static const char *const agg_kv[] = {
		"run_id=abc123", "param_id=def45678", "target=my_target",
		"n_sim_returns=10", "n_outputs=15", "total_inline_mb=2.34",
		"max_single_kb=156.2", "duration_ms=567.8",
		"worker=tcp://10.0.0.2:8786",
	};
	static const char *const seps[] = { " ", "  ", "\t", " \t " };
	char line[1024], err[XT_MARK_ERR_MAX];
	const char *why = "";
	struct xt_mark e, m;
	int perm[9], bad = 0, i, j, k, t, tries = 0;
	size_t n;

	/* All 24 orders of the SIM fields. */
	sim_expect(&e);
	for (i = 0; i < 4; i++)
		for (j = 0; j < 4; j++)
			for (k = 0; k < 4; k++) {
				if (i == j || i == k || j == k)
					continue;
				t = 6 - i - j - k;
				snprintf(line, sizeof(line), "SIM_TIMING: %s %s %s %s",
					 sim_kv[i], sim_kv[j], sim_kv[k], sim_kv[t]);
				tries++;
				if (parse_str(line, &m, err) != 1 || !mark_eq(&m, &e, &why))
					bad++;
			}
	check(bad == 0 && tries == 24, "SIM fields in all 24 orders (%d bad)", bad);

	/* Random orders and separators of the AGG fields. */
	agg_expect(&e);
	bad = 0;
	for (t = 0; t < 500; t++) {
		for (i = 0; i < 9; i++)
			perm[i] = i;
		for (i = 8; i > 0; i--) {
			j = rnd_below(i + 1);
			k = perm[i];
			perm[i] = perm[j];
			perm[j] = k;
		}
		n = snprintf(line, sizeof(line), "AGG_TIMING:");
		for (i = 0; i < 9; i++)
			n += snprintf(line + n, sizeof(line) - n, "%s%s",
				      seps[rnd_below(4)], agg_kv[perm[i]]);
		if (parse_str(line, &m, err) != 1 || !mark_eq(&m, &e, &why)) {
			if (!bad)
				printf("# first failure: %s (%s, %s)\n", line, err, why);
			bad++;
		}
	}
	check(bad == 0, "AGG fields in 500 random orders with mixed blanks (%d bad)", bad);
}

static void test_unknown_ignored(void)
{
	struct xt_mark e;
	const char *l;

	sim_expect(&e);
	l = "SIM_TIMING: note: starting foo=bar param_id=abc12345 =x seed=42 "
	    "duration_ms=1234.5 extra=tcp://z worker=tcp://10.0.0.1:8786 k= done";
	expect_mark("unknown keys and free text ignored", l, strlen(l), &e);
	l = "SIM_TIMING: param_id=abc12345 seed=42 duration_ms=1234.5 "
	    "worker=tcp://10.0.0.1:8786 n_sim_returns=abc target=" "x";
	expect_mark("AGG-only keys ignored on a SIM line", l, strlen(l), &e);
	memset(&e, 0, sizeof(e));
	e.kind = XT_MARK_TRIAL_BEGIN;
	strcpy(e.param_id, "p1");
	l = "TRIAL_BEGIN param_id=p1 duration_ms=nan worker=junk";
	expect_mark("keys not defined for TRIAL_* ignored", l, strlen(l), &e);
	l = "TRIAL_BEGIN param_id=p1 SIM_TIMING: duration_ms=nan";
	expect_mark("first marker wins", l, strlen(l), &e);
	l = "PARAM TRIAL_BEGIN param_id=p1";
	expect_mark("words before marker ignored", l, strlen(l), &e);
}

static void test_bounds_ok(void)
{
	struct {
		const char *key, *val;
		size_t off;
		int type;	/* 0 double, 1 u32, 2 u64 */
		double d;
		unsigned long long u;
	} c[] = {
		{ "duration_ms", "0", offsetof(struct xt_mark, duration_ms), 0, 0.0, 0 },
		{ "duration_ms", "-0", offsetof(struct xt_mark, duration_ms), 0, 0.0, 0 },
		{ "duration_ms", "86400000", offsetof(struct xt_mark, duration_ms), 0, 86400000.0, 0 },
		{ "duration_ms", ".5", offsetof(struct xt_mark, duration_ms), 0, 0.5, 0 },
		{ "duration_ms", "5.", offsetof(struct xt_mark, duration_ms), 0, 5.0, 0 },
		{ "duration_ms", "1e-05", offsetof(struct xt_mark, duration_ms), 0, 1e-05, 0 },
		{ "duration_ms", "+3", offsetof(struct xt_mark, duration_ms), 0, 3.0, 0 },
		{ "duration_ms", "1.5E3", offsetof(struct xt_mark, duration_ms), 0, 1500.0, 0 },
		{ "duration_ms", "0001.25", offsetof(struct xt_mark, duration_ms), 0, 1.25, 0 },
		{ "duration_ms", "1e-400", offsetof(struct xt_mark, duration_ms), 0, 0.0, 0 },
		{ "total_inline_mb", "1000000", offsetof(struct xt_mark, total_inline_mb), 0, 1e6, 0 },
		{ "max_single_kb", "1024000000", offsetof(struct xt_mark, max_single_kb), 0, 1024000000.0, 0 },
		{ "n_sim_returns", "100000", offsetof(struct xt_mark, n_sim_returns), 1, 0, 100000 },
		{ "n_sim_returns", "0", offsetof(struct xt_mark, n_sim_returns), 1, 0, 0 },
		{ "n_outputs", "10000000", offsetof(struct xt_mark, n_outputs), 1, 0, 10000000 },
		{ "n_outputs", "007", offsetof(struct xt_mark, n_outputs), 1, 0, 7 },
		{ "seed", "18446744073709551615", offsetof(struct xt_mark, seed), 2, 0, 18446744073709551615ULL },
		{ "seed", "0", offsetof(struct xt_mark, seed), 2, 0, 0 },
	};
	char line[512], err[XT_MARK_ERR_MAX];
	struct xt_mark m;
	size_t i;
	int ret, ok;
	double d;
	__u32 u32;
	__u64 u64;

	for (i = 0; i < sizeof(c) / sizeof(c[0]); i++) {
		if (!strcmp(c[i].key, "seed"))
			snprintf(line, sizeof(line),
				 "SIM_TIMING: param_id=a duration_ms=1 worker=tcp://1.2.3.4:5 seed=%s", c[i].val);
		else
			snprintf(line, sizeof(line),
				 "AGG_TIMING: param_id=a target=t n_sim_returns=1 total_inline_mb=1 duration_ms=1 worker=tcp://1.2.3.4:5 %s=%s",
				 c[i].key, c[i].val);
		/* The key under test may repeat a required one: replace it. */
		if (strstr(line, " duration_ms=1 ") && !strcmp(c[i].key, "duration_ms"))
			memcpy(strstr(line, " duration_ms=1 "), " xuration_ms=1 ", 15);
		if (!strcmp(c[i].key, "total_inline_mb"))
			memcpy(strstr(line, " total_inline_mb=1 "), " xotal_inline_mb=1 ", 19);
		if (!strcmp(c[i].key, "n_sim_returns"))
			memcpy(strstr(line, " n_sim_returns=1 "), " x_sim_returns=1 ", 17);
		ret = parse_str(line, &m, err);
		ok = ret == 1;
		if (ok && c[i].type == 0) {
			memcpy(&d, (char *)&m + c[i].off, sizeof(d));
			ok = d == c[i].d && !signbit(d);
		} else if (ok && c[i].type == 1) {
			memcpy(&u32, (char *)&m + c[i].off, sizeof(u32));
			ok = u32 == c[i].u;
		} else if (ok) {
			memcpy(&u64, (char *)&m + c[i].off, sizeof(u64));
			ok = u64 == c[i].u;
		}
		check(ok, "accepted %s=%s (ret %d %s)", c[i].key, c[i].val, ret, err);
	}
}

static void test_workers_ok(void)
{
	static const char *const w[][2] = {
		{ "tcp://127.0.0.1:1", "tcp://127.0.0.1:1" },
		{ "tcp://10.0.0.1:65535", "tcp://10.0.0.1:65535" },
		{ "tcp://[::1]:8786", "tcp://[::1]:8786" },
		{ "tcp://[2001:DB8::1]:40001", "tcp://[2001:db8::1]:40001" },
		{ "tcp://[0:0:0:0:0:0:0:1]:9", "tcp://[::1]:9" },
		{ "tcp://[::ffff:10.1.2.3]:80", "tcp://[::ffff:10.1.2.3]:80" },
		{ "tcp://localhost:8786", "tcp://localhost:8786" },
		{ "tcp://dask-worker-0.dask.svc.cluster.local:8786",
		  "tcp://dask-worker-0.dask.svc.cluster.local:8786" },
	};
	char line[512], err[XT_MARK_ERR_MAX];
	struct xt_mark m;
	size_t i;
	int ret;

	for (i = 0; i < sizeof(w) / sizeof(w[0]); i++) {
		snprintf(line, sizeof(line),
			 "SIM_TIMING: param_id=a duration_ms=1 worker=%s", w[i][0]);
		ret = parse_str(line, &m, err);
		check(ret == 1 && !strcmp(m.worker, w[i][1]),
		      "worker %s -> %s (got '%s' %s)", w[i][0], w[i][1], m.worker, err);
	}
}

/* ---- not marks ---- */

static void test_not_marks(void)
{
	static const char *const l[] = {
		"",
		"hello world",
		"sim_timing: param_id=x duration_ms=1 worker=tcp://1.2.3.4:5",
		"MY_SIM_TIMING: param_id=x",
		"SIM_TIMINGS: param_id=x",
		"SIM_TIMING_V2: param_id=x",
		"XAGG_TIMING: param_id=x",
		"9TRIAL_BEGIN param_id=x",
		"TRIAL_ENDED param_id=x",
		"TRIAL_BEGINNING",
		"1999-01-01T00:00:00Z not a mark, bad year",
		"2026-99-99Tgarbage no marker here",
		"distributed.worker - INFO - Starting Worker",
	};
	char buf[XT_MARK_LINE_MAX * 2 + 8];
	size_t i;

	for (i = 0; i < sizeof(l) / sizeof(l[0]); i++)
		expect_none(l[i], l[i], strlen(l[i]));
	expect_none("NULL line, zero length", NULL, 0);
	memcpy(buf, "abc\0def SIM_TIMIN", 17);
	expect_none("NUL byte, no marker", buf, 17);
	memset(buf, 'x', sizeof(buf));
	memcpy(buf + XT_MARK_LINE_MAX + 10, "SIM_TIMING: ", 12);
	expect_none("overlong line, marker only past the limit", buf, sizeof(buf));
	expect_none("overlong line, no marker", buf, XT_MARK_LINE_MAX + 1);
}

/* ---- malformed ---- */

/* Builds a line of kind from its field list, leaving out field skip. */
static void build_without(char *line, size_t size, const char *head,
			  const char *const *kv, int nkv, int skip)
{
	size_t n = snprintf(line, size, "%s", head);
	int i;

	for (i = 0; i < nkv; i++)
		if (i != skip)
			n += snprintf(line + n, size - n, " %s", kv[i]);
}

static void test_missing(void)
{
	static const char *const sim_kv[] = {
		"param_id=abc", "duration_ms=1", "worker=tcp://1.2.3.4:5",
	};
	static const char *const agg_kv[] = {
		"param_id=abc", "target=t", "n_sim_returns=1",
		"total_inline_mb=1", "duration_ms=1", "worker=tcp://1.2.3.4:5",
	};
	char line[512], reason[64], desc[128];
	int i;

	for (i = 0; i < 3; i++) {
		build_without(line, sizeof(line), "SIM_TIMING:", sim_kv, 3, i);
		snprintf(reason, sizeof(reason), "missing %.*s",
			 (int)(strchr(sim_kv[i], '=') - sim_kv[i]), sim_kv[i]);
		snprintf(desc, sizeof(desc), "SIM without required field: %s", reason);
		expect_bad(desc, line, strlen(line), reason);
	}
	for (i = 0; i < 6; i++) {
		build_without(line, sizeof(line), "AGG_TIMING:", agg_kv, 6, i);
		snprintf(reason, sizeof(reason), "missing %.*s",
			 (int)(strchr(agg_kv[i], '=') - agg_kv[i]), agg_kv[i]);
		snprintf(desc, sizeof(desc), "AGG without required field: %s", reason);
		expect_bad(desc, line, strlen(line), reason);
	}
	expect_bad("TRIAL_BEGIN without param_id", "TRIAL_BEGIN", 11, "missing param_id");
	expect_bad("TRIAL_END without param_id", "TRIAL_END: run_id=x", 19, "missing param_id");
	expect_bad("key without value is not the field", "TRIAL_END param_id", 18,
		   "missing param_id");
}

static void test_bad_values(void)
{
	static const struct { const char *key, *val, *reason; } c[] = {
		{ "duration_ms", "abc", "duration_ms" },
		{ "duration_ms", "12x", "not a number" },
		{ "duration_ms", "1.2.3", "not a number" },
		{ "duration_ms", "", "not a number" },
		{ "duration_ms", "1,5", "not a number" },
		{ "duration_ms", "--1", "not a number" },
		{ "duration_ms", ".", "not a number" },
		{ "duration_ms", "+", "not a number" },
		{ "duration_ms", "1e", "not a number" },
		{ "duration_ms", "1e+", "not a number" },
		{ "duration_ms", "0x10", "not a number" },
		{ "duration_ms", "1_000", "not a number" },
		{ "duration_ms", "nan", "not finite" },
		{ "duration_ms", "NaN", "not finite" },
		{ "duration_ms", "inf", "not finite" },
		{ "duration_ms", "-inf", "not finite" },
		{ "duration_ms", "Infinity", "not finite" },
		{ "duration_ms", "1e999", "out of range" },
		{ "duration_ms", "-1", "negative" },
		{ "duration_ms", "-0.001", "negative" },
		{ "duration_ms", "86400000.1", "too large" },
		{ "duration_ms", "1e8", "too large" },
		{ "total_inline_mb", "1000000.5", "too large" },
		{ "total_inline_mb", "-2", "negative" },
		{ "total_inline_mb", "2MB", "not a number" },
		{ "max_single_kb", "1024000001", "too large" },
		{ "max_single_kb", "nan", "not finite" },
		{ "n_sim_returns", "100001", "too large" },
		{ "n_sim_returns", "-1", "not an integer" },
		{ "n_sim_returns", "1.0", "not an integer" },
		{ "n_sim_returns", "ten", "not an integer" },
		{ "n_sim_returns", "+5", "not an integer" },
		{ "n_sim_returns", "99999999999999999999999", "out of range" },
		{ "n_outputs", "10000001", "too large" },
		{ "n_outputs", "4294967296", "too large" },
		{ "n_outputs", "", "not an integer" },
		{ "param_id", "", "param_id: empty" },
		{ "param_id", "0123456789012345678901234567890123456789012345678901234567890123",
		  "param_id: too long" },
		{ "target", "0123456789012345678901234567890123456789012345678901234567890123",
		  "target: too long" },
		{ "run_id", "0123456789012345678901234567890123456789012345678901234567890123",
		  "run_id: too long" },
		{ "param_id", "a\x01" "b", "bad character" },
		{ "target", "caf\xc3\xa9", "bad character" },
		{ "worker", "udp://1.2.3.4:5", "not tcp://host:port" },
		{ "worker", "TCP://1.2.3.4:5", "not tcp://host:port" },
		{ "worker", "1.2.3.4:5", "not tcp://host:port" },
		{ "worker", "tcp://1.2.3.4", "missing port" },
		{ "worker", "tcp://1.2.3.4:", "bad port" },
		{ "worker", "tcp://1.2.3.4:0", "bad port" },
		{ "worker", "tcp://1.2.3.4:65536", "bad port" },
		{ "worker", "tcp://1.2.3.4:123456", "bad port" },
		{ "worker", "tcp://1.2.3.4:08786", "bad port" },
		{ "worker", "tcp://1.2.3.4:+80", "bad port" },
		{ "worker", "tcp://1.2.3.4:80x", "bad port" },
		{ "worker", "tcp://1.2.3.4:-1", "bad port" },
		{ "worker", "tcp://:80", "missing host" },
		{ "worker", "tcp://256.1.1.1:80", "bad host" },
		{ "worker", "tcp://1.2.3:80", "bad host" },
		{ "worker", "tcp://01.2.3.4:80", "bad host" },
		{ "worker", "tcp://-host:80", "bad host" },
		{ "worker", "tcp://host-:80", "bad host" },
		{ "worker", "tcp://ho_st:80", "bad host" },
		{ "worker", "tcp://a..b:80", "bad host" },
		{ "worker", "tcp://host.:80", "bad host" },
		{ "worker", "tcp://::1:80", "bad host" },
		{ "worker", "tcp://[::1:80", "bad IPv6" },
		{ "worker", "tcp://[]:80", "bad IPv6" },
		{ "worker", "tcp://[zz::]:80", "bad IPv6" },
		{ "worker", "tcp://[fe80::1%eth0]:80", "bad IPv6" },
		{ "worker", "tcp://[1.2.3.4]:80", "bad IPv6" },
		{ "worker", "tcp://[::1]80", "missing port" },
		{ "worker", "tcp://[::1]", "missing port" },
		{ "worker", "tcp://[::1]:0", "bad port" },
		{ "worker", "tcp://aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa:1",
		  "too long" },
		{ "worker", "tcp://aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa.b:1",
		  "bad host" },
	};
	char line[512], desc[400];
	size_t i;

	for (i = 0; i < sizeof(c) / sizeof(c[0]); i++) {
		/* All required fields present except the one under test. */
		snprintf(line, sizeof(line), "AGG_TIMING: %s%s%s%s%s%s %s=%s",
			 strcmp(c[i].key, "param_id") ? "param_id=p " : "",
			 strcmp(c[i].key, "target") ? "target=t " : "",
			 strcmp(c[i].key, "n_sim_returns") ? "n_sim_returns=1 " : "",
			 strcmp(c[i].key, "total_inline_mb") ? "total_inline_mb=1 " : "",
			 strcmp(c[i].key, "duration_ms") ? "duration_ms=1 " : "",
			 strcmp(c[i].key, "worker") ? "worker=tcp://1.2.3.4:5" : "",
			 c[i].key, c[i].val);
		snprintf(desc, sizeof(desc), "rejected %s=%s", c[i].key, c[i].val);
		expect_bad(desc, line, strlen(line), c[i].reason);
	}
}

static void test_seed_and_ids(void)
{
	static const char *const seeds[] = {
		"-1", "18446744073709551616", "0x2A", "4.2", "", "42abc",
	};
	char line[512], id63[64], desc[128];
	struct xt_mark e;
	size_t i;

	for (i = 0; i < sizeof(seeds) / sizeof(seeds[0]); i++) {
		snprintf(line, sizeof(line),
			 "SIM_TIMING: param_id=a duration_ms=1 worker=tcp://1.2.3.4:5 seed=%s",
			 seeds[i]);
		snprintf(desc, sizeof(desc), "rejected seed=%s", seeds[i]);
		expect_bad(desc, line, strlen(line), "seed");
	}
	/* 63 characters fit each id field. */
	for (i = 0; i < 63; i++)
		id63[i] = 0x21 + (i * 7) % 94;
	id63[63] = 0;
	for (i = 0; i < 63; i++)	/* no blanks, no '=' confusion */
		if (id63[i] == '=')
			id63[i] = '~';
	agg_expect(&e);
	strcpy(e.param_id, id63);
	strcpy(e.run_id, id63);
	strcpy(e.target, id63);
	snprintf(line, sizeof(line),
		 "AGG_TIMING: run_id=%s param_id=%s target=%s n_sim_returns=10 n_outputs=15 total_inline_mb=2.34 max_single_kb=156.2 duration_ms=567.8 worker=tcp://10.0.0.2:8786",
		 id63, id63, id63);
	expect_mark("63-char ids of all printable characters accepted", line,
		    strlen(line), &e);
	memset(&e, 0, sizeof(e));
	e.kind = XT_MARK_TRIAL_BEGIN;
	strcpy(e.param_id, "a=b");
	expect_mark("'=' inside a value kept", "TRIAL_BEGIN param_id=a=b", 24, &e);
}

static void test_duplicates_nul_long(void)
{
	char buf[XT_MARK_LINE_MAX + 64];
	struct xt_mark e;
	size_t n;

	expect_bad("duplicate param_id",
		   "TRIAL_BEGIN param_id=a param_id=b", 33, "duplicate param_id");
	expect_bad("duplicate duration_ms",
		   "SIM_TIMING: param_id=a duration_ms=1 worker=tcp://1.2.3.4:5 duration_ms=1",
		   73, "duplicate duration_ms");

	n = snprintf(buf, sizeof(buf), "SIM_TIMING: %s", SIM_FIELDS);
	buf[20] = 0;
	expect_bad("embedded NUL in a mark line", buf, n, "NUL");
	n = snprintf(buf, sizeof(buf), "SIM_TIMING: %s", SIM_FIELDS);
	buf[n] = 0;
	buf[n + 1] = 'x';
	expect_bad("NUL then more bytes after a mark", buf, n + 2, "NUL");

	/* Exactly XT_MARK_LINE_MAX bytes: accepted; one more: too long. */
	sim_expect(&e);
	n = snprintf(buf, sizeof(buf), "SIM_TIMING: %s pad=", SIM_FIELDS);
	memset(buf + n, 'p', XT_MARK_LINE_MAX - n);
	expect_mark("line of exactly XT_MARK_LINE_MAX bytes", buf,
		    XT_MARK_LINE_MAX, &e);
	memcpy(buf + XT_MARK_LINE_MAX, "\r\n", 2);
	expect_mark("XT_MARK_LINE_MAX bytes plus CRLF", buf,
		    XT_MARK_LINE_MAX + 2, &e);
	buf[XT_MARK_LINE_MAX] = 'p';
	expect_bad("XT_MARK_LINE_MAX + 1 bytes", buf, XT_MARK_LINE_MAX + 1,
		   "line too long");
}

static void test_bad_timestamps(void)
{
	static const char *const ts[][2] = {
		{ "2026-13-01T00:00:00Z", "bad timestamp" },
		{ "2026-00-10T00:00:00Z", "bad timestamp" },
		{ "2026-01-00T00:00:00Z", "bad timestamp" },
		{ "2026-02-29T00:00:00Z", "bad timestamp" },
		{ "2100-02-29T00:00:00Z", "bad timestamp" },
		{ "2026-04-31T00:00:00Z", "bad timestamp" },
		{ "2026-01-24T24:00:00Z", "bad timestamp" },
		{ "2026-01-24T10:60:00Z", "bad timestamp" },
		{ "2026-01-24T10:11:61Z", "bad timestamp" },
		{ "2026-01-24T10:11:12", "bad timestamp" },
		{ "2026-01-24T10:11:12.123", "bad timestamp" },
		{ "2026-01-24T10:11:12+0200", "bad timestamp" },
		{ "2026-01-24T10:11:12+02", "bad timestamp" },
		{ "2026-01-24T10:11:12+24:00", "bad timestamp" },
		{ "2026-01-24T10:11:12+02:60", "bad timestamp" },
		{ "2026-01-24T10:11:12.Z", "bad timestamp" },
		{ "2026-01-24T10:11:12,5Z", "bad timestamp" },
		{ "2026-01-24T10:11:12Zjunk", "bad timestamp" },
		{ "2026-01-24T10:11:12.5Z,", "bad timestamp" },
		{ "2026-01-24T1:11:12Z", "bad timestamp" },
		{ "2026-01-24T", "bad timestamp" },
		{ "2026-01-24X10:11:12Z", "bad timestamp" },
		{ "2026-01-24_", "bad timestamp" },
		{ "2026-01-24 10:11:12+25:00", "bad timestamp" },
		{ "2026-01-24 10:11:12Zx", "bad timestamp" },
		{ "1999-12-31T23:59:59Z", "year out of range" },
		{ "2201-01-01T00:00:00Z", "year out of range" },
		{ "0000-01-01T00:00:00Z", "year out of range" },
		{ "9999-12-31T23:59:59Z", "year out of range" },
		{ "2000-01-01T00:30:00+01:00", "year out of range" },
		{ "2200-12-31T23:30:00-01:00", "year out of range" },
		{ "2201-01-01T00:30:00+01:00", "year out of range" },
		{ "1999-12-31T23:30:00-01:00", "year out of range" },
	};
	char line[512], desc[128];
	size_t i;

	for (i = 0; i < sizeof(ts) / sizeof(ts[0]); i++) {
		snprintf(line, sizeof(line), "%s SIM_TIMING: %s", ts[i][0], SIM_FIELDS);
		snprintf(desc, sizeof(desc), "rejected timestamp '%s'", ts[i][0]);
		expect_bad(desc, line, strlen(line), ts[i][1]);
	}
}

static void test_err_buffers(void)
{
	const char *bad = "TRIAL_BEGIN param_id=";
	char err[8];
	struct xt_mark m;
	int ret;

	check(mark__parse(bad, strlen(bad), &m, NULL, 0) == -EINVAL,
	      "NULL err buffer");
	memset(err, 'x', sizeof(err));
	ret = mark__parse(bad, strlen(bad), &m, err, 0);
	check(ret == -EINVAL && err[0] == 'x', "errlen 0 leaves err untouched");
	ret = mark__parse(bad, strlen(bad), &m, err, 1);
	check(ret == -EINVAL && err[0] == 0, "errlen 1 gives empty string");
	memset(err, 'x', sizeof(err));
	ret = mark__parse(bad, strlen(bad), &m, err, 5);
	check(ret == -EINVAL && strlen(err) == 4 && err[5] == 'x',
	      "short err buffer truncated, not overrun");
	ret = mark__parse(bad, strlen(bad), NULL, err, sizeof(err));
	check(ret == -EINVAL, "NULL out, malformed line");
	ret = mark__parse("TRIAL_END param_id=z", 20, NULL, NULL, 0);
	check(ret == 1, "NULL out, good line");
	ret = mark__parse(NULL, 5, &m, err, sizeof(err));
	check(ret == -EINVAL, "NULL line with length rejected");
	memset(&m, 0x5a, sizeof(m));
	ret = mark__parse(bad, strlen(bad), &m, NULL, 0);
	check(ret == -EINVAL && m.kind == 0 && m.param_id[0] == 0,
	      "out zeroed on malformed line");
	check(!strcmp(mark_kind__name(XT_MARK_SIM), "SIM_TIMING") &&
	      !strcmp(mark_kind__name(XT_MARK_AGG), "AGG_TIMING") &&
	      !strcmp(mark_kind__name(XT_MARK_TRIAL_BEGIN), "TRIAL_BEGIN") &&
	      !strcmp(mark_kind__name(XT_MARK_TRIAL_END), "TRIAL_END") &&
	      !strcmp(mark_kind__name(0), "?") && !strcmp(mark_kind__name(99), "?"),
	      "mark_kind__name");
}

/* ---- format / parse round trip ---- */

static void rnd_id(char *dst, size_t size)
{
	size_t n = 1 + rnd_below(size - 1), i;

	for (i = 0; i < n; i++)
		dst[i] = 0x21 + rnd_below(94);
	dst[n] = 0;
}

static void rnd_worker(char *dst, size_t size)
{
	unsigned char a6[16];
	char txt[INET6_ADDRSTRLEN];
	unsigned int port = 1 + rnd_below(65535), i;

	switch (rnd_below(3)) {
	case 0:
		snprintf(dst, size, "tcp://%u.%u.%u.%u:%u", rnd_below(256),
			 rnd_below(256), rnd_below(256), rnd_below(256), port);
		break;
	case 1:
		for (i = 0; i < 16; i++)
			a6[i] = rnd_below(4) ? 0 : rnd_below(256);
		inet_ntop(AF_INET6, a6, txt, sizeof(txt));
		snprintf(dst, size, "tcp://[%s]:%u", txt, port);
		break;
	default:
		snprintf(dst, size, "tcp://worker-%u.pod.local:%u",
			 rnd_below(1000), port);
	}
}

static double rnd_double(double max)
{
	switch (rnd_below(4)) {
	case 0:
		return 0.0;
	case 1:
		return max;
	case 2:
		return rnd_below(100000) / 10.0;
	default:
		return rnd_unit() * max;
	}
}

static void rnd_mark(struct xt_mark *m)
{
	memset(m, 0, sizeof(*m));
	m->kind = 1 + rnd_below(4);
	if (rnd_below(2)) {
		m->has_ts = 1;
		m->ts_unix_ns = 946684800ULL * 1000000000ULL +
			rnd() % ((7289654400ULL - 946684800ULL) * 1000000000ULL);
	}
	rnd_id(m->param_id, sizeof(m->param_id));
	if (rnd_below(2))
		rnd_id(m->run_id, sizeof(m->run_id));
	if (m->kind == XT_MARK_TRIAL_BEGIN || m->kind == XT_MARK_TRIAL_END)
		return;
	rnd_worker(m->worker, sizeof(m->worker));
	m->duration_ms = rnd_double(XT_MARK_MAX_DURATION_MS);
	if (m->kind == XT_MARK_SIM) {
		m->seed = rnd_below(2) ? rnd() : rnd_below(1000);
		return;
	}
	rnd_id(m->target, sizeof(m->target));
	m->n_sim_returns = rnd_below(XT_MARK_MAX_SIM_RETURNS + 1);
	m->n_outputs = rnd_below(XT_MARK_MAX_OUTPUTS + 1);
	m->total_inline_mb = rnd_double(XT_MARK_MAX_MB);
	m->max_single_kb = rnd_double(XT_MARK_MAX_KB);
}

static void test_roundtrip(void)
{
	char line[XT_MARK_LINE_MAX], small[16], err[XT_MARK_ERR_MAX];
	const char *why = "";
	struct xt_mark m, back;
	int i, n, bad = 0, bad_small = 0, ret;

	for (i = 0; i < 20000; i++) {
		rnd_mark(&m);
		n = mark__format(&m, line, sizeof(line));
		ret = n > 0 && n < (int)sizeof(line) ?
		      mark__parse(line, n, &back, err, sizeof(err)) : -999;
		if (ret != 1 || !mark_eq(&m, &back, &why)) {
			if (!bad)
				printf("# first failure: '%s' ret %d err '%s' field %s\n",
				       line, ret, err, why);
			bad++;
		}
		if (mark__format(&m, small, sizeof(small)) != n ||
		    strlen(small) != sizeof(small) - 1 ||
		    strncmp(small, line, sizeof(small) - 1))
			bad_small++;
	}
	check(bad == 0, "20000 random marks: format then parse gives them back (%d bad)", bad);
	agg_expect(&m);
	n = mark__format(&m, line, sizeof(line));
	check(n > 0 && strstr(line, " total_inline_mb=2.34 ") &&
	      strstr(line, " max_single_kb=156.2 ") && n > 18 && !strcmp(line + n - 18, " duration_ms=567.8"),
	      "format writes the shortest decimal that reads back: %s", line);
	check(bad_small == 0, "format into a short buffer truncates like snprintf (%d bad)", bad_small);
	memset(&m, 0, sizeof(m));
	check(mark__format(&m, line, sizeof(line)) == -EINVAL, "format rejects kind 0");
	m.kind = XT_MARK_TRIAL_BEGIN;
	memset(m.param_id, 'a', sizeof(m.param_id));
	check(mark__format(&m, line, sizeof(line)) == -EINVAL,
	      "format rejects an unterminated id");
}

/* ---- the file reader ---- */

static char tmpdir[] = "/tmp/unit_marks.XXXXXX";

static FILE *tmp_create(const char *name, char *path, size_t size)
{
	snprintf(path, size, "%s/%s", tmpdir, name);
	return fopen(path, "w");
}

/* Writes a line of n bytes: head, then fill up to n, then "\n". */
static void put_long_line(FILE *f, const char *head, size_t n, char fill)
{
	char chunk[65536];
	size_t left;

	fputs(head, f);
	memset(chunk, fill, sizeof(chunk));
	for (left = n - strlen(head); left; ) {
		size_t k = left < sizeof(chunk) ? left : sizeof(chunk);

		fwrite(chunk, 1, k, f);
		left -= k;
	}
	fputc('\n', f);
}

struct cb_log {
	__u64 lines[16];
	char reasons[16][XT_MARK_ERR_MAX];
	int n;
};

static void bad_cb(void *ctx, __u64 line, const char *reason)
{
	struct cb_log *log = ctx;

	if (log->n < 16) {
		log->lines[log->n] = line;
		snprintf(log->reasons[log->n], XT_MARK_ERR_MAX, "%s", reason);
	}
	log->n++;
}

/* Expected content of the mixed file. */
struct exp_line {
	int kind;		/* 0 ignored, -1 bad, else mark kind */
	const char *what;	/* param_id, or reason substring */
};

static const struct exp_line mixed_exp[] = {
	{ XT_MARK_SIM, "abc12345" },		/* 1 */
	{ 0, NULL },				/* 2 */
	{ -1, "missing target" },		/* 3 */
	{ -1, "line too long" },		/* 4: 1 MiB mark line */
	{ XT_MARK_AGG, "def45678" },		/* 5 */
	{ 0, NULL },				/* 6: 1 MiB other line */
	{ XT_MARK_TRIAL_BEGIN, "t1" },		/* 7 */
	{ 0, NULL },				/* 8: empty */
	{ -1, "embedded NUL" },			/* 9 */
	{ XT_MARK_SIM, "abc12345" },		/* 10: exactly the limit */
	{ -1, "line too long" },		/* 11: limit + 1 */
	{ -1, "bad timestamp" },		/* 12 */
	{ XT_MARK_TRIAL_END, "t1" },		/* 13: no final newline */
};

#define MIXED_LINES ((int)(sizeof(mixed_exp) / sizeof(mixed_exp[0])))

static void write_mixed(const char *path)
{
	FILE *f = fopen(path, "w");
	char pad[XT_MARK_LINE_MAX + 1];
	int n;

	fprintf(f, "SIM_TIMING: %s\n", SIM_FIELDS);
	fprintf(f, "distributed.worker - INFO - Starting worker\n");
	fprintf(f, "AGG_TIMING: param_id=x n_sim_returns=1 total_inline_mb=1 duration_ms=1 worker=tcp://1.2.3.4:5\n");
	put_long_line(f, "2026-01-24T10:11:12Z SIM_TIMING: param_id=big junk=", 1 << 20, 'A');
	fprintf(f, "%s AGG_TIMING: %s\n", ts_cases[2].text, AGG_FIELDS);
	put_long_line(f, "", 1 << 20, 'x');
	fprintf(f, "TRIAL_BEGIN param_id=t1\r\n");
	fprintf(f, "\n");
	fprintf(f, "SIM_TIMING: param_id=a%cb duration_ms=1 worker=tcp://1.2.3.4:5\n", 0);
	n = snprintf(pad, sizeof(pad), "SIM_TIMING: %s pad=", SIM_FIELDS);
	memset(pad + n, 'p', XT_MARK_LINE_MAX - n);
	pad[XT_MARK_LINE_MAX] = 0;
	fprintf(f, "%s\n", pad);
	fprintf(f, "%sp\n", pad);
	fprintf(f, "2026-01-24T10:11:12 SIM_TIMING: %s\n", SIM_FIELDS);
	fprintf(f, "TRIAL_END param_id=t1");
	fclose(f);
}

static void test_file_mixed(void)
{
	struct mark_file_stats st;
	struct mark_file *mf;
	struct cb_log log = { .n = 0 };
	struct xt_mark m;
	char path[256], printed[8192], expect[8192];
	const char *reason;
	int i, ret, bad_seen = 0, ok = 1, order_ok = 1, j;
	__u64 line;
	size_t pn = 0, en = 0;
	FILE *f;

	snprintf(path, sizeof(path), "%s/mixed.log", tmpdir);
	write_mixed(path);

	ret = mark_file__open(path, &mf);
	if (!check(ret == 0, "open mixed file (%d)", ret))
		return;
	/* Each mark comes back in order, with its line number. */
	for (i = 0; i < MIXED_LINES; i++) {
		if (mixed_exp[i].kind <= 0)
			continue;
		ret = mark_file__next(mf, &m);
		if (ret != 1 || m.kind != (__u32)mixed_exp[i].kind ||
		    strcmp(m.param_id, mixed_exp[i].what) ||
		    mark_file__lineno(mf) != (__u64)i + 1) {
			printf("# line %d: ret %d kind %u param_id '%s' lineno %llu\n",
			       i + 1, ret, m.kind, m.param_id,
			       (unsigned long long)mark_file__lineno(mf));
			order_ok = 0;
		}
	}
	check(order_ok, "marks of the mixed file returned in order with line numbers");
	check(mark_file__next(mf, &m) == 0 && mark_file__next(mf, &m) == 0,
	      "EOF after the last (unterminated) line, and again");
	mark_file__stats(mf, &st);
	check(st.lines == MIXED_LINES && st.marks == 5 && st.ignored == 3 &&
	      st.bad == 5 && st.bad_dropped == 0,
	      "stats: lines %llu marks %llu ignored %llu bad %llu",
	      (unsigned long long)st.lines, (unsigned long long)st.marks,
	      (unsigned long long)st.ignored, (unsigned long long)st.bad);
	/* Stored bad lines: numbers and reasons. */
	for (i = 0, j = 0; i < MIXED_LINES; i++) {
		if (mixed_exp[i].kind != -1)
			continue;
		bad_seen++;
		if (mark_file__bad(mf, j++, &line, &reason) ||
		    line != (__u64)i + 1 || !strstr(reason, mixed_exp[i].what)) {
			printf("# bad line %d not reported as '%s'\n", i + 1,
			       mixed_exp[i].what);
			ok = 0;
			continue;
		}
		en += snprintf(expect + en, sizeof(expect) - en, "marks:%d: %s\n",
			       i + 1, reason);
	}
	check(ok && mark_file__bad_count(mf) == (size_t)bad_seen &&
	      mark_file__bad(mf, bad_seen, &line, &reason) == -ERANGE,
	      "bad lines stored with their line numbers and reasons");
	f = tmpfile();
	mark_file__print_bad(mf, f);
	rewind(f);
	pn = fread(printed, 1, sizeof(printed) - 1, f);
	printed[pn] = 0;
	fclose(f);
	check(pn == en && !memcmp(printed, expect, en),
	      "print_bad writes marks:LINE: reason for each");
	mark_file__free(mf);

	/* Same file with a callback. */
	ret = mark_file__open(path, &mf);
	mark_file__set_bad_cb(mf, bad_cb, &log);
	while ((ret = mark_file__next(mf, NULL)) == 1)
		;
	ok = ret == 0 && log.n == bad_seen && mark_file__bad_count(mf) == 0;
	for (i = 0, j = 0; ok && i < MIXED_LINES; i++)
		if (mixed_exp[i].kind == -1) {
			ok = log.lines[j] == (__u64)i + 1 &&
			     strstr(log.reasons[j], mixed_exp[i].what);
			j++;
		}
	check(ok, "callback gets each bad line number and reason, list stays empty");
	mark_file__free(mf);
}

static void test_file_edges(void)
{
	struct mark_file_stats st;
	struct mark_file *mf;
	struct xt_mark m;
	char path[256], buf[256];
	const char *reason = "";
	int i, ret;
	FILE *f;

	f = tmp_create("empty.log", path, sizeof(path));
	fclose(f);
	ret = mark_file__open(path, &mf);
	mark_file__stats(mf, &st);
	check(ret == 0 && mark_file__next(mf, &m) == 0 && st.lines == 0,
	      "empty file: EOF, no lines");
	mark_file__free(mf);

	f = tmp_create("blank.log", path, sizeof(path));
	fputs("\n\n\r\n", f);
	fclose(f);
	mark_file__open(path, &mf);
	ret = mark_file__next(mf, &m);
	mark_file__stats(mf, &st);
	check(ret == 0 && st.lines == 3 && st.ignored == 3, "blank lines are ignored lines");
	mark_file__free(mf);

	/* More bad lines than are stored. */
	f = tmp_create("manybad.log", path, sizeof(path));
	for (i = 0; i < MARK_FILE_BAD_MAX + 500; i++)
		fprintf(f, "TRIAL_BEGIN run_id=%d\n", i);
	fprintf(f, "TRIAL_END param_id=last\n");
	fclose(f);
	mark_file__open(path, &mf);
	ret = mark_file__next(mf, &m);
	mark_file__stats(mf, &st);
	check(ret == 1 && !strcmp(m.param_id, "last") &&
	      mark_file__lineno(mf) == MARK_FILE_BAD_MAX + 501 &&
	      st.bad == MARK_FILE_BAD_MAX + 500 &&
	      mark_file__bad_count(mf) == MARK_FILE_BAD_MAX &&
	      st.bad_dropped == 500, "bad list capped at %d, rest counted",
	      MARK_FILE_BAD_MAX);
	f = tmpfile();
	mark_file__print_bad(mf, f);
	fseek(f, -64, SEEK_END);
	i = fread(buf, 1, 64, f);
	buf[i] = 0;
	fclose(f);
	check(strstr(buf, "marks: 500 more bad lines\n") != NULL,
	      "print_bad reports the dropped count");
	mark_file__free(mf);

	/* A line cut just after "\r\r" must not pass as a short line. */
	f = tmp_create("crcut.log", path, sizeof(path));
	i = snprintf(buf, sizeof(buf), "TRIAL_END param_id=t9 pad=");
	fputs(buf, f);
	for (; i < XT_MARK_LINE_MAX; i++)
		fputc('p', f);
	fputs("\r\rmore\nTRIAL_END param_id=t10\n", f);
	fclose(f);
	mark_file__open(path, &mf);
	ret = mark_file__next(mf, &m);
	mark_file__stats(mf, &st);
	check(ret == 1 && !strcmp(m.param_id, "t10") && st.bad == 1 &&
	      mark_file__bad(mf, 0, NULL, &reason) == 0 &&
	      !strcmp(reason, "line too long"),
	      "line longer than the limit after trailing CRs is too long");
	mark_file__free(mf);
	unlink(path);

	check(mark_file__open("/nonexistent/dir/x.log", &mf) == -ENOENT,
	      "open of a missing file gives -ENOENT");
	check(mark_file__open(NULL, &mf) == -EINVAL && mark_file__next(NULL, &m) == -EINVAL,
	      "NULL arguments rejected");

	/* Reading a write-only stream fails: an I/O error, sticky. */
	f = fopen("/dev/null", "w");
	mark_file__open_fp(f, 1, &mf);
	ret = mark_file__next(mf, &m);
	check(ret < 0 && mark_file__next(mf, &m) == ret, "read error returned (%d), and again", ret);
	mark_file__free(mf);

	/* "-" reads stdin. */
	f = tmp_create("stdin.log", path, sizeof(path));
	fprintf(f, "noise\nTRIAL_BEGIN param_id=from_stdin\n");
	fclose(f);
	if (freopen(path, "r", stdin)) {
		ret = mark_file__open("-", &mf);
		check(ret == 0 && mark_file__next(mf, &m) == 1 &&
		      !strcmp(m.param_id, "from_stdin") && mark_file__lineno(mf) == 2,
		      "'-' reads stdin");
		mark_file__free(mf);
		check(fcntl(0, F_GETFD) != -1, "stdin left open by free");
	}
}

/* A 64 MiB line must not be buffered: peak RSS stays about the same. */
static void test_file_huge_line(void)
{
	struct rusage before, after;
	struct mark_file_stats st;
	struct mark_file *mf;
	struct xt_mark m;
	char path[256];
	long grown_kb;
	int ret;
	FILE *f;

	f = tmp_create("big.log", path, sizeof(path));
	put_long_line(f, "SIM_TIMING: param_id=huge worker=", 64 << 20, '9');
	fprintf(f, "%s SIM_TIMING: %s\n", ts_cases[0].text, SIM_FIELDS);
	fclose(f);
	getrusage(RUSAGE_SELF, &before);
	mark_file__open(path, &mf);
	ret = mark_file__next(mf, &m);
	getrusage(RUSAGE_SELF, &after);
	mark_file__stats(mf, &st);
	grown_kb = after.ru_maxrss - before.ru_maxrss;
	check(ret == 1 && m.has_ts && !strcmp(m.param_id, "abc12345") &&
	      mark_file__lineno(mf) == 2 && st.bad == 1 && grown_kb < 8192,
	      "64 MiB mark line skipped as bad, next line parsed; peak RSS grew %ld KiB",
	      grown_kb);
	mark_file__free(mf);
	unlink(path);
}

/* ---- fuzzing ---- */

static int mark_sane(const struct xt_mark *m)
{
	int sa = m->kind == XT_MARK_SIM || m->kind == XT_MARK_AGG;

	if (m->kind < XT_MARK_SIM || m->kind > XT_MARK_TRIAL_END || m->has_ts > 1)
		return 0;
	if (!memchr(m->param_id, 0, sizeof(m->param_id)) || !m->param_id[0] ||
	    !memchr(m->run_id, 0, sizeof(m->run_id)) ||
	    !memchr(m->target, 0, sizeof(m->target)) ||
	    !memchr(m->worker, 0, sizeof(m->worker)))
		return 0;
	if (m->has_ts ? m->ts_unix_ns < 946684800ULL * 1000000000ULL ||
	    m->ts_unix_ns >= 7289654400ULL * 1000000000ULL : m->ts_unix_ns)
		return 0;
	if (sa && strncmp(m->worker, "tcp://", 6))
		return 0;
	if (m->kind == XT_MARK_AGG && !m->target[0])
		return 0;
	if (!isfinite(m->duration_ms) || m->duration_ms < 0 ||
	    m->duration_ms > XT_MARK_MAX_DURATION_MS ||
	    !isfinite(m->total_inline_mb) || m->total_inline_mb < 0 ||
	    m->total_inline_mb > XT_MARK_MAX_MB ||
	    !isfinite(m->max_single_kb) || m->max_single_kb < 0 ||
	    m->max_single_kb > XT_MARK_MAX_KB ||
	    m->n_sim_returns > XT_MARK_MAX_SIM_RETURNS ||
	    m->n_outputs > XT_MARK_MAX_OUTPUTS)
		return 0;
	return 1;
}

struct fuzz_stats {
	int runs, bad, marks, ignored, malformed;
};

/* Parse a copy of exactly len bytes (so overreads are caught). */
static void fuzz_one(const char *data, size_t len, struct fuzz_stats *fs)
{
	char err[XT_MARK_ERR_MAX + 8], line[XT_MARK_LINE_MAX];
	char *copy = malloc(len ? len : 1);
	struct xt_mark m, back;
	const char *why = "";
	int ret, ok, n, i;

	memcpy(copy, data, len);
	memset(err, 0x7f, sizeof(err));
	ret = mark__parse(copy, len, &m, err, XT_MARK_ERR_MAX);
	ok = memchr(err, 0, XT_MARK_ERR_MAX) != NULL;
	for (i = XT_MARK_ERR_MAX; i < (int)sizeof(err); i++)
		ok = ok && err[i] == 0x7f;
	if (ret == 1) {
		fs->marks++;
		ok = ok && !err[0] && mark_sane(&m);
		n = mark__format(&m, line, sizeof(line));
		ok = ok && n > 0 && n < (int)sizeof(line) &&
		     mark__parse(line, n, &back, NULL, 0) == 1 &&
		     mark_eq(&m, &back, &why);
	} else if (ret == 0) {
		fs->ignored++;
		ok = ok && !err[0];
	} else if (ret == -EINVAL) {
		fs->malformed++;
		ok = ok && err[0];
	} else {
		ok = 0;
	}
	if (!ok && !fs->bad++)
		printf("# first fuzz failure: ret %d err '%.*s' len %zu\n", ret,
		       XT_MARK_ERR_MAX, err, len);
	fs->runs++;
	free(copy);
}

static const char *const pieces[] = {
	"SIM_TIMING", "AGG_TIMING", "TRIAL_BEGIN", "TRIAL_END", ":", " ",
	" ", " ", "\t", "=", "param_id=", "run_id=", "target=", "worker=",
	"seed=", "n_sim_returns=", "n_outputs=", "total_inline_mb=",
	"max_single_kb=", "duration_ms=", "tcp://", "[", "]", "::1",
	"1.2.3.4", ":8786", "0", "9", "17", ".", "-", "+", "e", "nan", "inf",
	"2026-01-24T10:11:12", "2026-01-24 ", "10:11:12", "Z", "+02:00",
	".123456789", "\r", "\n", "\xff", "x", "INFO:", "abc", "1e308",
	"99999999999999999999",
};

#define N_PIECES (sizeof(pieces) / sizeof(pieces[0]))

/* Random line from the pieces; returns its length. */
static size_t gen_pieces(char *buf, size_t size)
{
	size_t n = 0, k, cnt = rnd_below(60), i;
	const char *p;

	for (i = 0; i < cnt; i++) {
		if (!rnd_below(30)) {	/* a raw NUL now and then */
			if (n < size)
				buf[n++] = 0;
			continue;
		}
		p = pieces[rnd_below(N_PIECES)];
		k = strlen(p);
		if (n + k > size)
			break;
		memcpy(buf + n, p, k);
		n += k;
	}
	return n;
}

/* A valid line, then 1..6 random edits. */
static size_t gen_mutant(char *buf, size_t size)
{
	struct xt_mark m;
	size_t n, pos, k, ops = 1 + rnd_below(6), i;
	const char *p;

	rnd_mark(&m);
	n = mark__format(&m, buf, size);
	for (i = 0; i < ops && n < size - 64; i++) {
		pos = rnd_below(n + 1);
		switch (rnd_below(6)) {
		case 0:
			if (pos < n)
				buf[pos] = rnd();
			break;
		case 1:
			memmove(buf + pos + 1, buf + pos, n - pos);
			buf[pos] = rnd();
			n++;
			break;
		case 2:
			if (pos < n) {
				memmove(buf + pos, buf + pos + 1, n - pos - 1);
				n--;
			}
			break;
		case 3:
			n = pos;
			break;
		case 4:
			p = pieces[rnd_below(N_PIECES)];
			k = strlen(p);
			memmove(buf + pos + k, buf + pos, n - pos);
			memcpy(buf + pos, p, k);
			n += k;
			break;
		default:
			k = rnd_below(16);
			if (pos + k <= n && n + k < size - 64) {
				memmove(buf + pos + k, buf + pos, n - pos);
				n += k;
			}
		}
	}
	return n;
}

static void test_fuzz_parse(void)
{
	static char buf[3 * XT_MARK_LINE_MAX];
	struct fuzz_stats fs = { 0 };
	size_t n, i;
	int round;

	for (round = 0; round < 4000; round++) {	/* random bytes */
		n = rnd_below(round % 10 ? 300 : sizeof(buf));
		for (i = 0; i < n; i++)
			buf[i] = rnd();
		fuzz_one(buf, n, &fs);
	}
	for (round = 0; round < 4000; round++) {	/* marker-rich junk */
		n = gen_pieces(buf, sizeof(buf));
		fuzz_one(buf, n, &fs);
	}
	for (round = 0; round < 6000; round++) {	/* damaged good lines */
		n = gen_mutant(buf, sizeof(buf));
		fuzz_one(buf, n, &fs);
	}
	check(fs.bad == 0, "fuzz: %d inputs (%d marks, %d not marks, %d malformed), "
	      "no crash, valid results, marks round-trip (%d bad)",
	      fs.runs, fs.marks, fs.ignored, fs.malformed, fs.bad);
	check(fs.marks > 100 && fs.malformed > 1000 && fs.ignored > 1000,
	      "fuzz reached all three outcomes");
}

/* Random files through the reader agree with mark__parse line by line. */
static void test_fuzz_reader(void)
{
	static char content[1 << 20];
	char path[256], err[XT_MARK_ERR_MAX];
	struct mark_file_stats st;
	struct mark_file *mf;
	struct xt_mark m, want;
	const char *why = "";
	size_t n, i, start, k;
	int round, bad = 0, ret, lines, marks, ignored, malformed, mismatch;
	FILE *f;

	snprintf(path, sizeof(path), "%s/fuzz.log", tmpdir);
	for (round = 0; round < 60; round++) {
		n = 0;
		while (n < sizeof(content) - 40000) {
			switch (rnd_below(5)) {
			case 0:
				n += gen_mutant(content + n, 2048);
				break;
			case 1:
				n += gen_pieces(content + n, 2048);
				break;
			case 2:
				rnd_mark(&m);
				n += mark__format(&m, content + n, 2048);
				break;
			case 3:
				k = rnd_below(200);
				for (i = 0; i < k; i++)
					content[n++] = rnd();
				break;
			default:
				k = 5000 + rnd_below(30000);
				memset(content + n, 'y', k);
				if (rnd_below(2))
					memcpy(content + n + rnd_below(4000), "AGG_TIMING:", 11);
				n += k;
			}
			if (rnd_below(50) == 0)
				break;
			content[n++] = '\n';
		}
		f = fopen(path, "w");
		fwrite(content, 1, n, f);
		fclose(f);

		/* Expected, from mark__parse on each line. */
		lines = marks = ignored = malformed = 0;
		mark_file__open(path, &mf);
		mismatch = 0;
		for (start = 0; start < n; start = i + 1) {
			for (i = start; i < n && content[i] != '\n'; i++)
				;
			lines++;
			ret = mark__parse(content + start, i - start, &want, err, sizeof(err));
			if (ret == 0) {
				ignored++;
			} else if (ret < 0) {
				malformed++;
			} else {
				marks++;
				if (mark_file__next(mf, &m) != 1 || !mark_eq(&m, &want, &why) ||
				    mark_file__lineno(mf) != (__u64)lines)
					mismatch++;
			}
		}
		if (mark_file__next(mf, &m) != 0)
			mismatch++;
		mark_file__stats(mf, &st);
		if (mismatch || st.lines != (__u64)lines || st.marks != (__u64)marks ||
		    st.ignored != (__u64)ignored || st.bad != (__u64)malformed ||
		    st.lines != st.marks + st.ignored + st.bad) {
			if (!bad)
				printf("# round %d: %d mismatches, lines %llu/%d marks %llu/%d ignored %llu/%d bad %llu/%d\n",
				       round, mismatch, (unsigned long long)st.lines, lines,
				       (unsigned long long)st.marks, marks,
				       (unsigned long long)st.ignored, ignored,
				       (unsigned long long)st.bad, malformed);
			bad++;
		}
		mark_file__free(mf);
	}
	unlink(path);
	check(bad == 0, "60 random 1 MiB files: reader agrees with mark__parse line by line (%d bad)", bad);
}

/* Numbers parse the same under a locale with a decimal comma. */
static void test_locale(void)
{
	static const char *const names[] = {
		"de_DE.UTF-8", "de_DE.utf8", "fr_FR.UTF-8", "fr_FR.utf8", "ru_RU.UTF-8",
	};
	char line[XT_MARK_LINE_MAX];
	struct xt_mark e, m;
	size_t i;
	int n;

	char cmd[600], dir[64];

	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (setlocale(LC_ALL, names[i]))
			break;
	if (i == sizeof(names) / sizeof(names[0]) &&
	    access("/usr/bin/localedef", X_OK) == 0) {
		/* Not installed: build de_DE into our temp dir. */
		snprintf(dir, sizeof(dir), "%s/loc", tmpdir);
		snprintf(cmd, sizeof(cmd),
			 "mkdir -p %s && localedef -i de_DE -f UTF-8 %s/de_DE.UTF-8 >/dev/null 2>&1",
			 dir, dir);
		if (system(cmd) == 0) {
			setenv("LOCPATH", dir, 1);
			i = setlocale(LC_ALL, names[0]) ? 0 : i;
		}
	}
	if (i == sizeof(names) / sizeof(names[0])) {
		printf("# skip: no decimal-comma locale installed\n");
		return;
	}
	agg_expect(&e);
	check(parse_str("AGG_TIMING: " AGG_FIELDS, &m, NULL) == 1 &&
	      m.total_inline_mb == 2.34 && m.duration_ms == 567.8,
	      "decimal point parsed under %s", names[i]);
	n = mark__format(&e, line, sizeof(line));
	check(n > 0 && strstr(line, " duration_ms=567.8") && !strchr(line, ',') &&
	      mark__parse(line, n, &m, NULL, 0) == 1 && m.duration_ms == 567.8,
	      "format writes a decimal point under %s", names[i]);
	setlocale(LC_ALL, "C");
}

int main(void)
{
	static const char *const files[] = {
		"mixed.log", "empty.log", "blank.log", "manybad.log", "stdin.log",
	};
	char path[256];
	size_t i;

	setvbuf(stdout, NULL, _IOLBF, 0);
	if (!mkdtemp(tmpdir)) {
		perror("mkdtemp");
		return 1;
	}
	test_good_basic();
	test_terminators();
	test_timestamps();
	test_prefixes();
	test_field_order();
	test_unknown_ignored();
	test_bounds_ok();
	test_workers_ok();
	test_not_marks();
	test_missing();
	test_bad_values();
	test_seed_and_ids();
	test_duplicates_nul_long();
	test_bad_timestamps();
	test_err_buffers();
	test_roundtrip();
	test_file_mixed();
	test_file_edges();
	test_file_huge_line();
	test_fuzz_parse();
	test_fuzz_reader();
	test_locale();

	for (i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
		snprintf(path, sizeof(path), "%s/%s", tmpdir, files[i]);
		unlink(path);
	}
	snprintf(path, sizeof(path), "rm -rf %s/loc", tmpdir);
	if (system(path) != 0)
		printf("# could not remove %s/loc\n", tmpdir);
	rmdir(tmpdir);
	printf("%d passed, %d failed\n", n_pass, n_fail);
	return n_fail ? 1 : 0;
}
