// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * `report --format csv --table trials|intervals|flows`: one table with a
 * header row, RFC 4180 quoting and CRLF line ends; null is an empty cell.
 * trials and flows are the JSON report's trials[] and flows[] fields;
 * intervals has one row per harvest interval and process that moved bytes
 * or used CPU in it.
 */
#include <errno.h>
#include <math.h>
#include <string.h>
#include "export.h"
#include "util.h"

static const char *const trial_cols[] = {
	"id", "param_id", "run_id", "attribution", "start_unix", "end_unix",
	"wall_ns", "n_sims", "n_aggs", "agg_workers", "compute_cpu_ns",
	"comm_cpu_ns", "transfer_bytes", "transfer_ns", "transfer_share",
	"split", "dup_factor", "unique_bytes", "need_bytes", "partial", NULL,
};

static const char *const flow_cols[] = {
	"src", "dst", "bytes", "tx_bytes", "rx_bytes", NULL,
};

static void csv_str(FILE *f, const char *s)
{
	if (!strpbrk(s, ",\"\r\n")) {
		fputs(s, f);
		return;
	}
	fputc('"', f);
	for (; *s; s++) {
		if (*s == '"')
			fputc('"', f);
		fputc(*s, f);
	}
	fputc('"', f);
}

static void csv_val(FILE *f, const json_t *v)
{
	if (json_is_string(v))
		csv_str(f, json_string_value(v));
	else if (json_is_integer(v))
		fprintf(f, "%lld", (long long)json_integer_value(v));
	else if (json_is_real(v))
		fprintf(f, "%.17g", json_real_value(v));
	else if (json_is_boolean(v))
		fputs(json_is_true(v) ? "true" : "false", f);
}

static void csv_header(FILE *f, const char *const *cols)
{
	int i;

	for (i = 0; cols[i]; i++) {
		if (i)
			fputc(',', f);
		csv_str(f, cols[i]);
	}
	fputs("\r\n", f);
}

static void csv_objects(FILE *f, const json_t *arr, const char *const *cols)
{
	size_t k;
	json_t *o;
	int i;

	csv_header(f, cols);
	json_array_foreach(arr, k, o) {
		for (i = 0; cols[i]; i++) {
			if (i)
				fputc(',', f);
			csv_val(f, json_object_get(o, cols[i]));
		}
		fputs("\r\n", f);
	}
}

static void csv_intervals(FILE *f, const struct xseries *s)
{
	static const char *const cols[] = {
		"start_unix", "end_unix", "endpoint", "pid", "role",
		"tx_bytes", "rx_bytes", "cpu_ns", NULL,
	};
	int b, i;

	csv_header(f, cols);
	for (b = 0; b < s->n_bins; b++)
		for (i = 0; i < s->n_rows; i++) {
			const struct xs_row *r = &s->rows[i];

			if (!r->tx[b] && !r->rx[b] && !r->cpu[b])
				continue;
			fprintf(f, "%.9f,%.9f,", s->lo[b], s->hi[b]);
			csv_str(f, r->p->name);
			fprintf(f, ",%u,", r->p->pid);
			csv_str(f, role_name(r->p->role));
			fprintf(f, ",%llu,%llu,%llu\r\n",
				(unsigned long long)r->tx[b],
				(unsigned long long)r->rx[b],
				(unsigned long long)r->cpu[b]);
		}
}

int export_csv__write(FILE *f, const struct export_doc *d, const char *table)
{
	const json_t *trials = json_object_get(d->root, "trials");

	if (!strcmp(table, "intervals")) {
		csv_intervals(f, d->s);
	} else if (!strcmp(table, "flows")) {
		csv_objects(f, json_object_get(d->root, "flows"), flow_cols);
	} else {
		if (!trials)
			p_warn("%s: no trial marks (give --marks FILE): the trials table is empty",
			       d->path);
		csv_objects(f, trials, trial_cols);
	}
	return ferror(f) ? -EIO : 0;
}
