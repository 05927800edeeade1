// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * `xfertrace report --compare A B [--marks-a F] [--marks-b F]`: two runs
 * (the plan's Test A/B: two targets against one multi-target aggregation,
 * or sims only against the full trial) side by side, with B/A ratios for
 * trials per minute, transfer bytes per trial, transfer share of wall time
 * and split rate. Each side uses its marks file, or its trace's live marks.
 */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "export.h"
#include "fmt.h"
#include "load.h"
#include "trials.h"
#include "util.h"

struct side {
	const char *path;
	const struct trials_opts *o;
	struct model *m;
	struct trials *t;
	struct trials_summary s;
	struct load_info li;
};

static int load_side(struct side *sd)
{
	int err;

	err = report__load(sd->path, &sd->m, &sd->li);
	if (err)
		return err;
	report__sort(sd->m);
	err = trials__analyze(sd->path, sd->m, sd->o, &sd->t);
	if (err)
		return err;
	trials__summary(sd->t, &sd->s);
	return 0;
}



static json_t *side_json(const struct side *sd)
{
	const struct trials_summary *s = &sd->s;

	/* Paths may be in any encoding: json_str() keeps the JSON valid. */
	return json_pack("{s:o, s:o, s:i, s:f, s:o, s:o, s:o, s:o, s:o, s:o, s:b, s:o}",
			 "file", json_str(sd->path),
			 "marks", json_str(sd->o->marks_path ? sd->o->marks_path :
					   "(trace)"),
			 "trials", s->n_trials, "window_s", s->window_s,
			 "trials_per_min", fmt_jnum(s->trials_per_min),
			 "bytes_per_trial", fmt_jnum(s->bytes_per_trial),
			 "transfer_share", fmt_jnum(s->transfer_share),
			 "split_rate", fmt_jnum(s->split_rate),
			 "dup_factor", fmt_jnum(s->dup_factor),
			 "unattributed_share", fmt_jnum(s->unattributed_share),
			 "transfer_dominates", s->transfer_dominates,
			 "verdict", json_str(trials__verdict(sd->t)));
}

static json_t *compare_json(const struct side *a, const struct side *b)
{
	const struct trials_summary *x = &a->s, *y = &b->s;

	return json_pack("{s:s, s:{s:o, s:o, s:{s:o, s:o, s:o, s:o, s:o}}}",
			 "schema", "xfertrace.report/1",
			 "compare",
			 "a", side_json(a), "b", side_json(b),
			 "ratios",
			 "trials_per_min", fmt_jnum(fmt_ratio(y->trials_per_min,
						      x->trials_per_min)),
			 "bytes_per_trial", fmt_jnum(fmt_ratio(y->bytes_per_trial,
						       x->bytes_per_trial)),
			 "transfer_share", fmt_jnum(fmt_ratio(y->transfer_share,
						      x->transfer_share)),
			 "split_rate", fmt_jnum(fmt_ratio(y->split_rate,
						  x->split_rate)),
			 "dup_factor", fmt_jnum(fmt_ratio(y->dup_factor,
						  x->dup_factor)));
}

static void cell(char *buf, size_t n, double v, const char *how)
{
	if (isnan(v) || isinf(v))
		snprintf(buf, n, "-");
	else if (!strcmp(how, "%"))
		snprintf(buf, n, "%.1f%%", v * 100);
	else if (!strcmp(how, "B"))
		fmt_bytes(buf, n, v);
	else
		snprintf(buf, n, how, v);
}

static void row(FILE *f, const char *name, double a, double b,
		const char *how)
{
	char x[32], y[32], r[32];

	cell(x, sizeof(x), a, how);
	cell(y, sizeof(y), b, how);
	cell(r, sizeof(r), fmt_ratio(b, a), "%.2f");
	fprintf(f, "%-22s %14s %14s %8s\n", name, x, y, r);
}

static void print_text(FILE *f, const struct side *a, const struct side *b)
{
	const struct trials_summary *x = &a->s, *y = &b->s;

	fprintf(f, "COMPARE  A = %s\n         B = %s\n\n", a->path, b->path);
	fprintf(f, "%-22s %14s %14s %8s\n", "", "A", "B", "B/A");
	row(f, "trials", x->n_trials, y->n_trials, "%.0f");
	row(f, "trials per minute", x->trials_per_min, y->trials_per_min, "%.1f");
	row(f, "bytes per trial", x->bytes_per_trial, y->bytes_per_trial, "B");
	row(f, "transfer share", x->transfer_share, y->transfer_share, "%");
	row(f, "split rate", x->split_rate, y->split_rate, "%");
	row(f, "dup factor", x->dup_factor, y->dup_factor, "%.2f");
	row(f, "unattributed bytes", x->unattributed_share,
	    y->unattributed_share, "%");
	fprintf(f, "\nVERDICT A: %s\nVERDICT B: %s\n", trials__verdict(a->t),
	       trials__verdict(b->t));
}

/* html and md of the pair; A/B charts use each side's whole report. */
static int compare_render(FILE *f, const char *fmt, struct side *s,
			  const json_t *cmp)
{
	struct export_doc d[2] = {};
	int i, err = 0;

	for (i = 0; i < 2 && !err; i++)
		err = export__doc(s[i].path, s[i].m, &s[i].li, s[i].t, &d[i]);
	if (!err && !strcmp(fmt, "md"))
		err = export_md__compare(f, &d[0], &d[1], cmp);
	else if (!err)
		err = export_html__compare(f, &d[0], &d[1], cmp);
	for (i = 0; i < 2; i++)
		export__doc_free(&d[i]);
	return err;
}

static int compare_out(struct side *s, const char *fmt, const char *out)
{
	json_t *cmp = compare_json(&s[0], &s[1]);
	struct xt_out o;
	int err;

	if (!cmp)
		return -ENOMEM;
	err = out__open(&o, out);
	if (!err) {
		if (!strcmp(fmt, "text"))
			print_text(o.f, &s[0], &s[1]);
		else if (!strcmp(fmt, "json"))
			err = json_print(cmp, o.f, "report --compare") ?
			      -EIO : 0;
		else
			err = compare_render(o.f, fmt, s, cmp);
		if (err)
			p_err("report --compare: writing the %s output failed: %s",
			      fmt, strerror(-err));
		err = out__close(&o, err);
	}
	json_decref(cmp);
	return err;
}

int compare__run(const char *a, const char *b, const struct trials_opts *oa,
		 const struct trials_opts *ob, const char *fmt,
		 const char *out)
{
	struct side s[2] = { { .path = a, .o = oa }, { .path = b, .o = ob } };
	int i, rc = 0;

	if (!strcmp(fmt, "perfetto") || !strcmp(fmt, "csv")) {
		p_err("report --compare: --format %s exports one trace at a time (text, json, html or md compare)",
		      fmt);
		return 2;
	}
	for (i = 0; i < 2 && !rc; i++)
		if (load_side(&s[i]))
			rc = 1;
	if (!rc && compare_out(s, fmt, out))
		rc = 1;
	for (i = 0; i < 2; i++) {
		trials__free(s[i].t);
		model__free(s[i].m);
	}
	return rc;
}

int trials__compare(const char *a, const char *b,
		    const struct trials_opts *oa,
		    const struct trials_opts *ob, bool json)
{
	return compare__run(a, b, oa, ob, json ? "json" : "text", NULL);
}
