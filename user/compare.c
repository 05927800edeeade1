// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * `xfertrace report --compare A B [--marks-a F] [--marks-b F]`: two runs
 * (the plan's Test A/B: two targets against one multi-target aggregation,
 * or sims only against the full trial) side by side, with B/A ratios for
 * trials per minute, transfer bytes per trial, transfer share of wall time
 * and split rate. Each side uses its marks file, or its trace's live marks.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "report.h"
#include "trials.h"
#include "util.h"

struct side {
	const char *path;
	const struct trials_opts *o;
	struct model *m;
	struct trials *t;
	struct trials_summary s;
};

static int load_side(struct side *sd)
{
	struct load_info li;
	int err;

	err = report__load(sd->path, &sd->m, &li);
	if (err)
		return err;
	err = trials__analyze(sd->path, sd->m, sd->o, &sd->t);
	if (err)
		return err;
	trials__summary(sd->t, &sd->s);
	return 0;
}

static json_t *jnum(double v)
{
	return isnan(v) || isinf(v) ? json_null() : json_real(v);
}

/* B/A, or NaN when A is 0 or either is unknown. */
static double ratio(double b, double a)
{
	return a > 0 && !isnan(a) && !isnan(b) ? b / a : NAN;
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
			 "trials_per_min", jnum(s->trials_per_min),
			 "bytes_per_trial", jnum(s->bytes_per_trial),
			 "transfer_share", jnum(s->transfer_share),
			 "split_rate", jnum(s->split_rate),
			 "dup_factor", jnum(s->dup_factor),
			 "unattributed_share", jnum(s->unattributed_share),
			 "transfer_dominates", s->transfer_dominates,
			 "verdict", json_str(trials__verdict(sd->t)));
}

static int print_json(const struct side *a, const struct side *b)
{
	const struct trials_summary *x = &a->s, *y = &b->s;
	json_t *root;
	int err;

	root = json_pack("{s:s, s:{s:o, s:o, s:{s:o, s:o, s:o, s:o, s:o}}}",
			 "schema", "xfertrace.report/1",
			 "compare",
			 "a", side_json(a), "b", side_json(b),
			 "ratios",
			 "trials_per_min", jnum(ratio(y->trials_per_min,
						      x->trials_per_min)),
			 "bytes_per_trial", jnum(ratio(y->bytes_per_trial,
						       x->bytes_per_trial)),
			 "transfer_share", jnum(ratio(y->transfer_share,
						      x->transfer_share)),
			 "split_rate", jnum(ratio(y->split_rate,
						  x->split_rate)),
			 "dup_factor", jnum(ratio(y->dup_factor,
						  x->dup_factor)));
	err = json_print(root, stdout, "report --compare");
	json_decref(root);
	return err;
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

static void row(const char *name, double a, double b, const char *how)
{
	char x[32], y[32], r[32];

	cell(x, sizeof(x), a, how);
	cell(y, sizeof(y), b, how);
	cell(r, sizeof(r), ratio(b, a), "%.2f");
	printf("%-22s %14s %14s %8s\n", name, x, y, r);
}

static void print_text(const struct side *a, const struct side *b)
{
	const struct trials_summary *x = &a->s, *y = &b->s;

	printf("COMPARE  A = %s\n         B = %s\n\n", a->path, b->path);
	printf("%-22s %14s %14s %8s\n", "", "A", "B", "B/A");
	row("trials", x->n_trials, y->n_trials, "%.0f");
	row("trials per minute", x->trials_per_min, y->trials_per_min, "%.1f");
	row("bytes per trial", x->bytes_per_trial, y->bytes_per_trial, "B");
	row("transfer share", x->transfer_share, y->transfer_share, "%");
	row("split rate", x->split_rate, y->split_rate, "%");
	row("dup factor", x->dup_factor, y->dup_factor, "%.2f");
	row("unattributed bytes", x->unattributed_share,
	    y->unattributed_share, "%");
	printf("\nVERDICT A: %s\nVERDICT B: %s\n", trials__verdict(a->t),
	       trials__verdict(b->t));
}

int trials__compare(const char *a, const char *b,
		    const struct trials_opts *oa,
		    const struct trials_opts *ob, bool json)
{
	struct side s[2] = { { .path = a, .o = oa }, { .path = b, .o = ob } };
	int i, rc = 0;

	for (i = 0; i < 2 && !rc; i++)
		if (load_side(&s[i]))
			rc = 1;
	if (!rc) {
		if (json)
			rc = print_json(&s[0], &s[1]) ? 1 : 0;
		else
			print_text(&s[0], &s[1]);
	}
	for (i = 0; i < 2; i++) {
		trials__free(s[i].t);
		model__free(s[i].m);
	}
	return rc ? rc : fflush(stdout) ? 1 : 0;
}
