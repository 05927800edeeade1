// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * Unit tests for user/metrics.c: label value escaping, counters that sum,
 * the series cap folding into "other" and counting the folded label sets,
 * and HELP/TYPE lines in the exposition. Expected values are the ones the
 * tests put in. Ends with "N passed, N failed".
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "metrics.h"

static int n_pass, n_fail;

__attribute__((format(printf, 2, 3)))
static void check(int ok, const char *fmt, ...)
{
	va_list ap;

	printf("%s - ", ok ? "ok  " : "FAIL");
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	putchar('\n');
	ok ? n_pass++ : n_fail++;
}

static char *render(struct metrics *mx)
{
	struct xt_stats k = { .conn_map_full = 7, .thread_map_full_ns = 1500000000 };
	struct xt_user_stats u = { .marks_rejected = 3 };
	struct metrics_self s = { .k = &k, .u = &u, .cpu_s = 1.5,
				  .rss_bytes = 4096 };
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	metrics__render(mx, &s, f);
	fclose(f);
	return buf;
}

static int has(const char *text, const char *line)
{
	const char *p = text;
	size_t n = strlen(line);

	while ((p = strstr(p, line))) {
		if ((p == text || p[-1] == '\n') && p[n] == '\n')
			return 1;
		p += n;
	}
	return 0;
}

int main(void)
{
	struct metrics *mx;
	char esc[64], name[32], *out;
	int i;

	metrics__escape(esc, sizeof(esc), "a\"b\\c\nd");
	check(!strcmp(esc, "a\\\"b\\\\c\\nd"), "escape: quote, backslash, newline -> %s", esc);
	if (metrics__new("node\"1", 4, &mx)) {
		check(0, "metrics__new");
		return 1;
	}
	metrics__add_endpoint(mx, &(struct ep_labels){ .endpoint = "tcp://10.0.0.1:1", .role = "worker",
			      .pod = "p", .ns = "n", .container = "c" }, 100, 50, 2000000000, 0, 0);
	metrics__add_endpoint(mx, &(struct ep_labels){ .endpoint = "tcp://10.0.0.1:1", .role = "worker",
			      .pod = "p", .ns = "n", .container = "c" }, 23, 0, 500000000, 0, 0);
	metrics__add_pair(mx, "a", "b", 77, 76);
	/* Two more fill the cap of 4; six more fold into other. */
	for (i = 0; i < 8; i++) {
		snprintf(name, sizeof(name), "pid:%d/x", i);
		metrics__add_endpoint(mx, &(struct ep_labels){ .endpoint = name }, 10, 0, 0, 0, 0);
	}
	out = render(mx);
	check(has(out, "xfertrace_endpoint_sent_bytes_total{node=\"node\\\"1\",endpoint=\"tcp://10.0.0.1:1\",role=\"worker\",pod=\"p\",namespace=\"n\",container=\"c\"} 123"),
	      "endpoint counter sums two windows (123), node label escaped");
	check(has(out, "xfertrace_endpoint_cpu_seconds_total{node=\"node\\\"1\",endpoint=\"tcp://10.0.0.1:1\",role=\"worker\",pod=\"p\",namespace=\"n\",container=\"c\"} 2.500000000"),
	      "cpu seconds from ns (2.5)");
	check(has(out, "xfertrace_pair_sent_bytes_total{node=\"node\\\"1\",src=\"a\",dst=\"b\"} 77") &&
	      has(out, "xfertrace_pair_received_bytes_total{node=\"node\\\"1\",src=\"a\",dst=\"b\"} 76"),
	      "pair sent 77 (sender) and received 76 (receiver)");
	check(has(out, "xfertrace_endpoint_sent_bytes_total{node=\"node\\\"1\",endpoint=\"other\"} 60"),
	      "six label sets past the cap of 4 summed into other (60)");
	check(has(out, "xfertrace_agent_series_folded{node=\"node\\\"1\"} 6"), "folded label sets counted (6)");
	check(!strstr(out, "pid:7/x"), "no series past the cap");
	check(has(out, "# TYPE xfertrace_kernel_conn_map_full_total counter") &&
	      has(out, "xfertrace_kernel_conn_map_full_total{node=\"node\\\"1\"} 7"),
	      "drop counter with TYPE line (7)");
	check(has(out, "xfertrace_kernel_thread_map_full_seconds_total{node=\"node\\\"1\"} 1.500000000"),
	      "nanosecond drop counter exported in seconds (1.5)");
	check(has(out, "xfertrace_user_marks_rejected_total{node=\"node\\\"1\"} 3"), "user drop counter (3)");
	free(out);
	/* Adding to a folded label set again does not count it twice. */
	metrics__add_endpoint(mx, &(struct ep_labels){ .endpoint = "pid:7/x" }, 1, 0, 0, 0, 0);
	out = render(mx);
	check(has(out, "xfertrace_agent_series_folded{node=\"node\\\"1\"} 6") &&
	      has(out, "xfertrace_endpoint_sent_bytes_total{node=\"node\\\"1\",endpoint=\"other\"} 61"),
	      "a folded label set seen again: still 6 folded, other 61");
	free(out);
	metrics__free(mx);
	printf("%d passed, %d failed\n", n_pass, n_fail);
	return n_fail ? 1 : 0;
}
