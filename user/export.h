/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * Report exports: `report --format html|perfetto|md|csv [-o FILE]`.
 * Every export renders the same JSON report object `--format json` prints
 * (report__json() plus the trials fields), so their figures are the JSON
 * report's; only the per-interval series, which the JSON report does not
 * hold, comes from one more pass over the trace (export.c).
 *
 * export.c: the document, the interval series, output files
 * export_html.c, export_md.c, export_csv.c, export_perfetto.c: renderers
 * svg.c: the charts the HTML page draws
 */
#ifndef XT_EXPORT_H
#define XT_EXPORT_H

#include <stdio.h>
#include <jansson.h>
#include "model.h"
#include "report.h"
#include "trials.h"

/* Per harvest interval ("bin"), per listed process ("row"). */
struct xs_row {
	const struct mproc *p;
	__u64 *tx, *rx, *cpu;	/* n_bins each */
};

struct xs_pair {		/* bytes row src sent to row dst in one bin */
	int bin, src, dst;
	__u64 bytes;
};

/* One on-CPU stint of one thread (trace SLICES records). */
struct xs_slice {
	int row;
	__u32 tid;
	double t0, dur;		/* unix seconds, seconds */
};

/* A bound on what one page or timeline holds (about 40 bytes each). */
#define XS_SLICES_MAX	500000

struct xseries {
	int n_bins;
	double *lo, *hi;	/* bin bounds, unix seconds */
	struct xs_row *rows;	/* same order as the JSON report's workers[] */
	int n_rows;
	struct xs_pair *pairs;
	int n_pairs;
	struct xs_slice *slices;	/* on-CPU stints of detailed processes */
	int n_slices;
	__u64 slices_dropped;	/* past XS_SLICES_MAX: not kept */
};

struct export_doc {
	const char *path;
	json_t *root;		/* the JSON report (+ trials, diagnostics) */
	struct xseries *s;
	const struct model *m;	/* for names the JSON does not carry */
};

/* Build the document of a loaded, sorted model; prints its own errors. */
int export__doc(const char *path, const struct model *m,
		const struct load_info *li, const struct trials *t,
		struct export_doc *d);
void export__doc_free(struct export_doc *d);

/* Output to FILE through a temp file renamed at the end, or to stdout. */
struct xt_out {
	FILE *f;
	const char *path;
	char tmp[4096];
};
int out__open(struct xt_out *o, const char *path);
/* Commits when rc == 0 (and the writes succeeded); else drops the file. */
int out__close(struct xt_out *o, int rc);

/*
 * `report FILE --format html|perfetto|md|csv [-o OUT]` of a loaded, sorted
 * model: trials when marks are given or in the trace. 0 or negative errno.
 */
int export__run(const char *path, const struct model *m,
		const struct load_info *li, const struct trials_opts *to,
		const char *fmt, const char *table, const char *out);
/* --format and --table make sense together? Prints the error. */
int export__check_args(const char *fmt, const char *table);
/* Is fmt one of the export formats? */
bool export__is_format(const char *fmt);
/* Render one trace's document in fmt; table is for csv. */
int export__render(FILE *f, const char *fmt, const char *table,
		   const struct export_doc *d);

/* Renderers; 0 or a negative errno. */
int export_html__write(FILE *f, const struct export_doc *d);
int export_html__compare(FILE *f, const struct export_doc *a,
			 const struct export_doc *b, const json_t *cmp);
int export_md__write(FILE *f, const struct export_doc *d);
int export_md__compare(FILE *f, const struct export_doc *a,
		       const struct export_doc *b, const json_t *cmp);
int export_csv__write(FILE *f, const struct export_doc *d,
		      const char *table);
int export_perfetto__write(FILE *f, const struct export_doc *d);

/* `report --compare A B` in any format, to out (NULL: stdout). compare.c */
int compare__run(const char *a, const char *b, const struct trials_opts *oa,
		 const struct trials_opts *ob, const char *fmt,
		 const char *out);

/* Shared by the renderers (export.c). */
double jd(const json_t *o, const char *key);	/* NaN when absent/null */
const char *js(const json_t *o, const char *key);	/* "" when absent */

#endif
