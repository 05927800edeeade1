// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * `report --format html -o FILE`: one self-contained page (inline CSS and
 * SVG, no script, nothing from the network) that sits next to Dask's
 * performance report: the verdict in plain words, key figures, per-trial
 * stacked bars, the worker-by-worker byte heatmap, per-worker timelines of
 * RX/TX MB/s and CPU % with the marks' trial and task bands, the plan's
 * diagnostics, drop counters and how the trace was taken. With --compare:
 * Test A and Test B side by side on the same scales, and their ratios.
 * All figures come from the JSON report (export.h); all charts from svg.c.
 */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "export.h"
#include "svg.h"

#define H_W		1240		/* chart width, px */
#define H_POINTS	400		/* points per timeline at most */
#define H_HEAT_MAX	80		/* endpoints in the heatmap */
#define H_TIMELINES	64		/* worker timelines */

enum { C_COMPUTE = SVG_BLUE, C_COMM = SVG_SKY, C_XFER = SVG_VERMILION,
       C_IDLE = SVG_GREY, C_RX = SVG_BLUE, C_TX = SVG_ORANGE,
       C_CPU = SVG_GREEN, C_SIM = SVG_SKY, C_AGG = SVG_VERMILION };

static const char css[] =
	"body{font:15px/1.45 system-ui,-apple-system,'Segoe UI',Roboto,sans-serif;color:#111;max-width:1280px;margin:0 auto;padding:12px 20px}\n"
	"h1{font-size:24px;margin:8px 0}h2{font-size:19px;margin:28px 0 6px;border-bottom:1px solid #ccc}\n"
	".verdict{background:#f4f4f0;border-left:6px solid #D55E00;padding:10px 14px;font-size:16px}\n"
	".cards{display:grid;grid-template-columns:repeat(auto-fill,minmax(190px,1fr));gap:10px;margin:12px 0}\n"
	".card{border:1px solid #ddd;border-radius:6px;padding:8px 10px}.card b{display:block;font-size:22px}\n"
	"table{border-collapse:collapse;margin:6px 0;font-size:14px}td,th{border:1px solid #ddd;padding:3px 8px;text-align:right}\n"
	"td:first-child,th:first-child{text-align:left}th{background:#f4f4f4}\n"
	".note{color:#444;font-size:13px;max-width:1100px}.cols{display:grid;grid-template-columns:1fr 1fr;gap:16px;align-items:start}\n"
	"svg.chart{max-width:100%;height:auto;display:block;font:11px system-ui,sans-serif}\n"
	"svg .grid{stroke:#e6e6e6}svg .frame{fill:none;stroke:#888}svg .tk{fill:#333}svg .al{fill:#111;font-size:12px}\n"
	"svg .lg{fill:#111;font-size:12px}svg .ln{fill:none;stroke-width:1.5}svg .diag{stroke:#000;stroke-width:1.5;stroke-dasharray:2 1}\n"
	".cap{font-weight:600;font-size:13px;margin:10px 0 0}details{margin:4px 0}summary{cursor:pointer;color:#0072B2}\n"
	"@media print{body{max-width:none;padding:0;font-size:11pt}section,svg.chart{break-inside:avoid}details{display:none}.verdict{border-left-color:#000}}\n";

struct h {
	FILE *f;
	const struct export_doc *d;
	const json_t *dg;	/* diagnostics, or NULL without marks */
	double t0, t1;		/* timeline span, unix s */
	double y_bytes, y_cpu;	/* fixed scales for side-by-side, or 0 */
	int width;
	const char *tag;	/* "" or "A"/"B": element id suffix */
	json_t *focus;		/* endpoints the charts show; NULL: all */
};

static void esc(FILE *f, const char *s)
{
	svg__escape(f, s);
}

static bool in_focus(const struct h *h, const char *endpoint)
{
	return !h->focus || json_object_get(h->focus, endpoint);
}

/*
 * The cluster the marks are about: their workers, those workers'
 * scheduler and every process of that scheduler (clients, nannies); other
 * processes on the node stay in the tables but out of the charts.
 */
static void make_focus(struct h *h)
{
	const json_t *root = h->d->root, *w;
	json_t *scheds = json_object();
	size_t k;

	h->focus = NULL;
	json_array_foreach(json_object_get(h->dg, "workers"), k, w)
		if (json_is_true(json_object_get(w, "local"))) {
			if (!h->focus)
				h->focus = json_object();
			json_object_set_new(h->focus, js(w, "endpoint"), json_true());
		}
	if (!h->focus || !scheds) {
		json_decref(scheds);
		return;
	}
	json_array_foreach(json_object_get(root, "workers"), k, w)
		if (json_object_get(h->focus, js(w, "endpoint")) && *js(w, "scheduler"))
			json_object_set_new(scheds, js(w, "scheduler"), json_true());
	json_array_foreach(json_object_get(root, "workers"), k, w)
		if (json_object_get(scheds, js(w, "scheduler")) ||
		    json_object_get(scheds, js(w, "endpoint")))
			json_object_set_new(h->focus, js(w, "endpoint"), json_true());
	json_decref(scheds);
}

static void card(struct h *h, const char *label, const char *value)
{
	fputs("<div class=\"card\">", h->f);
	esc(h->f, label);
	fputs("<b>", h->f);
	esc(h->f, value);
	fputs("</b></div>\n", h->f);
}

static void fmt(char *b, size_t n, double v, const char *how)
{
	char si[32];

	if (isnan(v) || isinf(v)) {
		snprintf(b, n, "-");
	} else if (!strcmp(how, "%")) {
		snprintf(b, n, "%.1f%%", v * 100);
	} else if (!strcmp(how, "B")) {
		svg__si(si, sizeof(si), v);
		snprintf(b, n, "%sB", si);
	} else if (!strcmp(how, "s")) {
		snprintf(b, n, "%.3f s", v / 1e9);
	} else if (!strcmp(how, "ms")) {
		snprintf(b, n, "%.1f ms", v);
	} else {
		snprintf(b, n, how, v);
	}
}

/* The reading of the verdict for someone outside the team. */
static void plain_words(struct h *h)
{
	const json_t *dg = h->dg;
	double n = jd(dg, "trials"), sh = jd(dg, "transfer_share");
	char a[32], b[32], c[32], d[32];

	if (!dg || !(n > 0)) {
		fputs("<p class=\"verdict\" id=\"plain\">No timed trial marks were given with this trace (<code>report --marks FILE</code>), so transfer time cannot be weighed against compute. The charts show bytes and CPU per process only.</p>\n",
		      h->f);
		return;
	}
	fmt(a, sizeof(a), sh, "%");
	fmt(b, sizeof(b), jd(dg, "transfer_bytes") / n, "B");
	fmt(c, sizeof(c), jd(dg, "compute_cpu_ns"), "s");
	fmt(d, sizeof(d), jd(dg, "transfer_ns"), "s");
	fprintf(h->f, "<p class=\"verdict\" id=\"plain\"><b>%s.</b> Over %.0f trials, waiting for aggregation inputs to move between workers took %s of the trials' wall time (%s in all), about %s per trial; the workers computed for %s of CPU time.",
		json_is_true(json_object_get(dg, "transfer_dominates")) ?
		"Moving data, not computing, is what the trials mostly wait for" :
		"Computing, not moving data, is what the trials mostly spend their time on",
		n, a, d, b, c);
	if (!isnan(jd(dg, "dup_factor")))
		fprintf(h->f, " Each result crossed the network %.2f times on average.",
			jd(dg, "dup_factor"));
	if (!isnan(jd(dg, "split_rate"))) {
		fmt(a, sizeof(a), jd(dg, "split_rate"), "%");
		fmt(b, sizeof(b), jd(dg, "locality"), "%");
		fprintf(h->f, " %s of trials split their aggregation over several workers; %s of the inputs were already on the aggregating worker.",
			a, b);
	}
	fputs("</p>\n<p class=\"note\" id=\"verdict\">xfertrace verdict: ", h->f);
	esc(h->f, js(dg, "verdict"));
	fputs("</p>\n", h->f);
}

static void key_figures(struct h *h)
{
	const json_t *tot = json_object_get(h->d->root, "totals");
	const json_t *tr = json_object_get(h->d->root, "trace");
	const json_t *dg = h->dg;
	double n = jd(dg, "trials");
	char b[48];

	fputs("<div class=\"cards\" id=\"figures\">\n", h->f);
	fmt(b, sizeof(b), n, "%.0f");
	card(h, "trials timed", b);
	fmt(b, sizeof(b), n > 0 ? jd(dg, "wall_ns") / n : NAN, "s");
	card(h, "wall time per trial", b);
	fmt(b, sizeof(b), n > 0 ? jd(dg, "transfer_bytes") / n : NAN, "B");
	card(h, "bytes moved per trial", b);
	fmt(b, sizeof(b), jd(dg, "transfer_share"), "%");
	card(h, "transfer share of wall time", b);
	fmt(b, sizeof(b), jd(tot, "tx_bytes"), "B");
	card(h, "TCP bytes sent (all)", b);
	fmt(b, sizeof(b), jd(tot, "cpu_ns"), "s");
	card(h, "CPU time (all processes)", b);
	fmt(b, sizeof(b), jd(tr, "duration_ns"), "s");
	card(h, "trace duration", b);
	fmt(b, sizeof(b), json_array_size(json_object_get(h->d->root, "workers")),
	    "%.0f");
	card(h, "processes traced on the node", b);
	fputs("</div>\n", h->f);
}

/* Per-trial seconds: compute CPU, comm CPU, transfer, idle. */
static void trial_parts(const json_t *t, double v[4])
{
	double wall = jd(t, "wall_ns") / 1e9;
	int i;

	v[0] = jd(t, "compute_cpu_ns") / 1e9;
	v[1] = jd(t, "comm_cpu_ns") / 1e9;
	v[2] = jd(t, "transfer_ns") / 1e9;
	for (i = 0; i < 3; i++)
		if (isnan(v[i]))
			v[i] = 0;
	v[3] = fmax(0, (isnan(wall) ? 0 : wall) - v[0] - v[1] - v[2]);
}

static double trials_ymax(const json_t *arr)
{
	double v[4], m = 0;
	const json_t *t;
	size_t k;

	json_array_foreach(arr, k, t) {
		trial_parts(t, v);
		m = fmax(m, v[0] + v[1] + v[2] + v[3]);
	}
	return m;
}

static int trials_chart(struct h *h, const json_t *arr, double ymax)
{
	static const char *const names[] = { "compute CPU", "comm CPU",
					     "transfer", "idle" };
	static const int colors[] = { C_COMPUTE, C_COMM, C_XFER, C_IDLE };
	struct svg_axis x = { 0, json_array_size(arr), "trial (number, in start order)",
			      true };
	struct svg_axis y = { 0, ymax * 1.05, "time (s)" };
	char tip[256], desc[160];
	const json_t *t;
	struct svg *s;
	double v[4];
	size_t k;

	snprintf(desc, sizeof(desc), "Stacked bars, one per trial (%zu): compute CPU, communication CPU, transfer time and idle time in seconds. The table below lists the figures.",
		 json_array_size(arr));
	s = svg__begin(h->f, h->width, 300, "Per-trial time: compute, communication, transfer, idle", desc);
	if (!s)
		return -ENOMEM;
	svg__margins(s, 64, 22, 12, 40);
	svg__legend(s, 4, names, colors, NULL);
	svg__axes(s, &x, &y);
	json_array_foreach(arr, k, t) {
		trial_parts(t, v);
		snprintf(tip, sizeof(tip), "%s: compute %.3f s, comm %.3f s, transfer %.3f s, idle %.3f s",
			 js(t, "id"), v[0], v[1], v[2], v[3]);
		svg__stack(s, k + 0.1, k + 0.9, v, 4, colors, tip);
	}
	return svg__end(s);
}

static void trials_table(struct h *h, const json_t *arr)
{
	const json_t *t;
	double v[4];
	size_t k;

	fputs("<details><summary>Per-trial figures (table)</summary><table><tr><th>trial</th><th>wall (s)</th><th>compute CPU (s)</th><th>comm CPU (s)</th><th>transfer (s)</th><th>idle (s)</th><th>bytes</th><th>split</th></tr>\n",
	      h->f);
	json_array_foreach(arr, k, t) {
		trial_parts(t, v);
		fputs("<tr><td>", h->f);
		esc(h->f, js(t, "id"));
		fprintf(h->f, "</td><td>%.3f</td><td>%.3f</td><td>%.3f</td><td>%.3f</td><td>%.3f</td><td>%.0f</td><td>%s</td></tr>\n",
			jd(t, "wall_ns") / 1e9, v[0], v[1], v[2], v[3],
			jd(t, "transfer_bytes"),
			json_is_true(json_object_get(t, "split")) ? "yes" : "no");
	}
	fputs("</table></details>\n", h->f);
}

/* Endpoints of the heatmap: listed processes first, then remote ends. */
static int heat_names(const struct h *h, const json_t *root,
		      const char **names)
{
	const json_t *o;
	int n = 0, i;
	size_t k;
	const char *nm[2];

	json_array_foreach(json_object_get(root, "workers"), k, o)
		if (n < H_HEAT_MAX && (jd(o, "tx_bytes") > 0 ||
				       jd(o, "rx_bytes") > 0) &&
		    in_focus(h, js(o, "endpoint")))
			names[n++] = js(o, "endpoint");
	json_array_foreach(json_object_get(root, "flows"), k, o) {
		nm[0] = js(o, "src");
		nm[1] = js(o, "dst");
		if (!in_focus(h, nm[0]) && !in_focus(h, nm[1]))
			continue;
		for (int j = 0; j < 2; j++) {
			for (i = 0; i < n && strcmp(names[i], nm[j]); i++)
				;
			if (i == n && n < H_HEAT_MAX)
				names[n++] = nm[j];
		}
	}
	return n;
}

static int name_idx(const char **names, int n, const char *s)
{
	int i;

	for (i = 0; i < n; i++)
		if (!strcmp(names[i], s))
			return i;
	return -1;
}

static int heatmap(struct h *h, const json_t *root, double lo, double hi)
{
	const char *names[H_HEAT_MAX];
	int n = heat_names(h, root, names), i, j, cell;
	double *v = calloc((size_t)n * n + 1, sizeof(*v));
	const json_t *o;
	struct svg *s;
	size_t k;

	if (!v)
		return -ENOMEM;
	json_array_foreach(json_object_get(root, "flows"), k, o) {
		i = name_idx(names, n, js(o, "src"));
		j = name_idx(names, n, js(o, "dst"));
		if (i >= 0 && j >= 0)
			v[i * n + j] += jd(o, "bytes");
	}
	cell = n > 40 ? 12 : n > 16 ? 20 : 36;
	s = svg__begin(h->f, fmin(h->width, 260 + n * cell + 90),
		       n * cell + 160, "Bytes sent, worker by worker",
		       "Heatmap: row = sender, column = receiver, colour = bytes sent (log scale); the dashed outline marks the diagonal (a process to itself, i.e. local data that never crosses the network). The flows table lists every figure.");
	if (!s) {
		free(v);
		return -ENOMEM;
	}
	svg__margins(s, 250, 10, 90, 150);
	svg__heat_range(s, lo, hi);
	svg__heatmap(s, n, n, v, names, names, true, "B");
	free(v);
	return svg__end(s);
}

static void heat_minmax(const struct h *h, double *lo, double *hi)
{
	const json_t *o;
	size_t k;

	json_array_foreach(json_object_get(h->d->root, "flows"), k, o)
		if (jd(o, "bytes") > 0 && (in_focus(h, js(o, "src")) ||
					   in_focus(h, js(o, "dst")))) {
			*lo = *lo > 0 ? fmin(*lo, jd(o, "bytes")) : jd(o, "bytes");
			*hi = fmax(*hi, jd(o, "bytes"));
		}
}

static void flows_table(struct h *h)
{
	const json_t *o;
	size_t k;

	fputs("<details><summary>Flows (table)</summary><table><tr><th>sender</th><th>receiver</th><th>bytes</th></tr>\n",
	      h->f);
	json_array_foreach(json_object_get(h->d->root, "flows"), k, o) {
		fputs("<tr><td>", h->f);
		esc(h->f, js(o, "src"));
		fputs("</td><td>", h->f);
		esc(h->f, js(o, "dst"));
		fprintf(h->f, "</td><td>%.0f</td></tr>\n", jd(o, "bytes"));
	}
	fputs("</table></details>\n", h->f);
}

/* ---- timelines ---- */

static bool timeline_row(const struct h *h, const struct xs_row *r)
{
	return r->p->role == XT_ROLE_WORKER && in_focus(h, r->p->name);
}

/* Down-sample v (per bin) into at most H_POINTS rates; x in s since t0. */
static int rates(const struct h *h, const __u64 *v, double scale, double *x,
		 double *y)
{
	const struct xseries *s = h->d->s;
	int g = (s->n_bins + H_POINTS - 1) / H_POINTS, b, i, n = 0;

	for (b = 0; b < s->n_bins; b += g ? g : 1) {
		double sum = 0, dt = 0;

		for (i = b; i < s->n_bins && i < b + g; i++) {
			sum += v[i];
			dt += s->hi[i] - s->lo[i];
		}
		x[n] = (s->lo[b] + s->hi[i - 1]) / 2 - h->t0;
		y[n++] = dt > 0 ? sum / dt * scale : 0;
	}
	return n;
}

static void rate_max(const struct h *h, const struct xs_row *r, double *x,
		     double *y, double *mb, double *cpu)
{
	int i, n;

	n = rates(h, r->rx, 1e-6, x, y);
	for (i = 0; i < n; i++)
		*mb = fmax(*mb, y[i]);
	n = rates(h, r->tx, 1e-6, x, y);
	for (i = 0; i < n; i++)
		*mb = fmax(*mb, y[i]);
	n = rates(h, r->cpu, 1e-7, x, y);
	for (i = 0; i < n; i++)
		*cpu = fmax(*cpu, y[i]);
}

static void task_bands(struct h *h, struct svg *s, const char *worker)
{
	const json_t *t, *k;
	size_t i, j;
	char tip[200];

	json_array_foreach(json_object_get(h->d->root, "trials"), i, t)
		json_array_foreach(json_object_get(t, "tasks"), j, k) {
			double a = jd(k, "start_unix"), b = jd(k, "end_unix");
			bool sim = !strcmp(js(k, "kind"), "sim");

			if (isnan(a) || isnan(b) || strcmp(js(k, "worker"), worker))
				continue;
			snprintf(tip, sizeof(tip), "%s task of %s: %.1f ms",
				 js(k, "kind"), js(t, "id"), (b - a) * 1e3);
			svg__band(s, a - h->t0, b - h->t0, sim ? 0 : 0.5,
				  sim ? 0.5 : 1, sim ? C_SIM : C_AGG, 0.22, tip);
		}
}

static int timeline(struct h *h, const struct xs_row *r, double *x, double *y)
{
	static const char *const names[] = { "RX MB/s", "TX MB/s", "CPU %",
					      "simulation task", "aggregation task" };
	static const int colors[] = { C_RX, C_TX, C_CPU, C_SIM, C_AGG };
	static const int kinds[] = { 1, 1, 2, 0, 0 };
	struct svg_axis ax = { 0, h->t1 - h->t0, "time since the trace started (s)" };
	struct svg_axis ay = { 0, h->y_bytes, "MB/s" }, ac = { 0, h->y_cpu, "CPU %" };
	char title[200];
	struct svg *s;
	int n;

	snprintf(title, sizeof(title), "%s (%s, pid %u): RX/TX MB/s and CPU %%",
		 r->p->name, role_name(r->p->role), r->p->pid);
	fputs("<div class=\"cap\">", h->f);
	esc(h->f, title);
	fputs("</div>\n", h->f);
	s = svg__begin(h->f, h->width, 150, title,
		       "Lines: bytes received and sent per second, CPU % (100 = one CPU) per harvest interval; bands: the marks' simulation (lower half) and aggregation (upper half) tasks on this worker. Same scales for every worker.");
	if (!s)
		return -ENOMEM;
	svg__margins(s, 64, 20, 54, 36);
	svg__legend(s, 5, names, colors, kinds);
	svg__axes(s, &ax, &ay);
	svg__axis_right(s, &ac);
	task_bands(h, s, r->p->name);
	n = rates(h, r->rx, 1e-6, x, y);
	svg__line(s, x, y, n, C_RX, false, false, "RX MB/s");
	n = rates(h, r->tx, 1e-6, x, y);
	svg__line(s, x, y, n, C_TX, false, false, "TX MB/s");
	n = rates(h, r->cpu, 1e-7, x, y);
	svg__line(s, x, y, n, C_CPU, true, true, "CPU %");
	return svg__end(s);
}

/* Lane of each trial: the first whose last trial ended before it began. */
static int lanes_of(struct h *h, const json_t *arr, int *lane)
{
	double ends[16] = {};
	const json_t *t;
	int l, n = 0;
	size_t k;

	json_array_foreach(arr, k, t) {
		double a = jd(t, "start_unix"), b = jd(t, "end_unix");

		lane[k] = -1;
		if (isnan(a) || isnan(b))
			continue;
		for (l = 0; l < 15 && ends[l] > a; l++)
			;
		ends[l] = fmax(ends[l], b);
		lane[k] = l;
		n = l + 1 > n ? l + 1 : n;
	}
	return n;
}

/* Trials as bars in lanes over the same time axis as the timelines. */
static int trial_lanes(struct h *h)
{
	static const char *const names[] = { "trial (start to end)",
					     "next trial in the lane" };
	static const int colors[] = { SVG_PURPLE, SVG_BLUE };
	const json_t *arr = json_object_get(h->d->root, "trials"), *t;
	struct svg_axis ax = { 0, h->t1 - h->t0, "time since the trace started (s)" };
	struct svg_axis ay = { 0, 1, "" };	/* lanes: no scale */
	int *lane = calloc(json_array_size(arr) + 1, sizeof(int)), n;
	int nth[16] = {};	/* trials drawn per lane: alternate colours */
	char tip[200];
	struct svg *s;
	size_t k;

	s = lane ? svg__begin(h->f, h->width, 130, "Trials over time",
			      "Each bar is one trial from its start to its end (marks); overlapping trials are drawn in separate lanes, alternating colours.") : NULL;
	if (!s) {
		free(lane);
		return -ENOMEM;
	}
	n = lanes_of(h, arr, lane);
	svg__margins(s, 64, 20, 54, 36);
	svg__legend(s, 2, names, colors, NULL);
	svg__axes(s, &ax, &ay);
	json_array_foreach(arr, k, t) {
		double a = jd(t, "start_unix") - h->t0, b = jd(t, "end_unix") - h->t0;

		if (lane[k] < 0)
			continue;
		snprintf(tip, sizeof(tip), "%s: %.3f s to %.3f s", js(t, "id"), a, b);
		svg__band(s, a, b, 1 - (lane[k] + 0.9) / n, 1 - (lane[k] + 0.1) / n,
			  nth[lane[k]]++ % 2 ? SVG_BLUE : SVG_PURPLE, 0.85, tip);
	}
	free(lane);
	return svg__end(s);
}

static void timeline_scales(struct h *h, double *x, double *y)
{
	const struct xseries *s = h->d->s;
	int i;

	h->t0 = s->n_bins ? s->lo[0] : 0;
	h->t1 = s->n_bins ? s->hi[s->n_bins - 1] : 1;
	if (h->y_bytes > 0)
		return;
	for (i = 0; i < s->n_rows; i++)
		if (timeline_row(h, &s->rows[i]))
			rate_max(h, &s->rows[i], x, y, &h->y_bytes, &h->y_cpu);
	h->y_bytes = h->y_bytes > 0 ? h->y_bytes * 1.05 : 1;
	h->y_cpu = h->y_cpu > 0 ? h->y_cpu * 1.05 : 100;
}

static int timelines(struct h *h)
{
	const struct xseries *s = h->d->s;
	double *x = calloc(H_POINTS + 1, sizeof(double));
	double *y = calloc(H_POINTS + 1, sizeof(double));
	int i, n = 0, err = x && y ? 0 : -ENOMEM;

	if (!err)
		timeline_scales(h, x, y);
	fputs("<section id=\"timelines\"><h2>Per-worker timelines: bandwidth, CPU, tasks</h2>\n<p class=\"note\">The kernel's view of Dask's &ldquo;Task Stream&rdquo; and &ldquo;Bandwidth (Workers)&rdquo; plots: what each worker received and sent per second and how busy its CPU was, per harvest interval, under the tasks the marks place on it.</p>\n",
	      h->f);
	if (!err && json_object_get(h->d->root, "trials"))
		err = trial_lanes(h);
	for (i = 0; i < s->n_rows && !err && n < H_TIMELINES; i++)
		if (timeline_row(h, &s->rows[i])) {
			err = timeline(h, &s->rows[i], x, y);
			n++;
		}
	if (!n)
		fputs("<p>No Dask worker processes in this trace.</p>\n", h->f);
	fputs("</section>\n", h->f);
	free(x);
	free(y);
	return err;
}

/* ---- diagnostics, drops, provenance ---- */

struct drow {
	const char *label, *key, *how;
	double scale;
};

static const struct drow diag_rows[] = {
	{ "simulation duration p50 / p95 (marks)", "sim_ms_p50", "ms", 1 },
	{ "", "sim_ms_p95", "ms", 1 },
	{ "simulation CPU p50 / p95 (kernel)", "sim_cpu_ms_p50", "ms", 1 },
	{ "", "sim_cpu_ms_p95", "ms", 1 },
	{ "aggregation duration p50 / p95 (marks)", "agg_ms_p50", "ms", 1 },
	{ "", "agg_ms_p95", "ms", 1 },
	{ "aggregation CPU p50 / p95 (kernel)", "agg_cpu_ms_p50", "ms", 1 },
	{ "", "agg_cpu_ms_p95", "ms", 1 },
	{ "payload per aggregation p50 / p95 (measured)", "payload_per_agg_bytes_p50", "B", 1 },
	{ "", "payload_per_agg_bytes_p95", "B", 1 },
	{ "total_inline_mb per aggregation p50 / p95 (claimed)", "claimed_per_agg_bytes_p50", "B", 1 },
	{ "", "claimed_per_agg_bytes_p95", "B", 1 },
	{ "measured payload / claimed", "payload_over_claimed", "%.3f", 1 },
	{ "split-aggregation rate", "split_rate", "%", 1 },
	{ "locality (inputs already on the aggregating worker)", "locality", "%", 1 },
	{ "duplication factor (bytes moved / unique result bytes)", "dup_factor", "%.3f", 1 },
	{ "transfer share of trial wall time", "transfer_share", "%", 1 },
	{ "unattributed worker-to-worker bytes", "unattributed_share", "%", 1 },
	{ "run-queue wait share of runnable time", "runq_share", "%", 1 },
	{}
};

static void diag_table(struct h *h, const json_t *dg)
{
	const struct drow *r;
	char b[48], c[48];

	fprintf(h->f, "<table id=\"diag%s\"><tr><th>diagnostic</th><th>value</th></tr>\n",
		h->tag);
	for (r = diag_rows; r->key; r++) {
		fmt(b, sizeof(b), jd(dg, r->key) * r->scale, r->how);
		if (r[1].key && !r[1].label[0]) {	/* p50 / p95 pair */
			fmt(c, sizeof(c), jd(dg, r[1].key) * r[1].scale, r[1].how);
			fprintf(h->f, "<tr><td>%s</td><td>%s / %s</td></tr>\n",
				r->label, b, c);
			r++;
		} else {
			fprintf(h->f, "<tr><td>%s</td><td>%s</td></tr>\n",
				r->label, b);
		}
	}
	fputs("</table>\n", h->f);
}

static void worker_diag(struct h *h, const json_t *dg)
{
	const json_t *w;
	char b[6][48];
	size_t k;

	fputs("<table><tr><th>worker</th><th>CPU</th><th>compute CPU</th><th>comm CPU</th><th>run-queue wait</th><th>wait share</th><th>cgroup throttled</th><th>received from workers</th></tr>\n",
	      h->f);
	json_array_foreach(json_object_get(dg, "workers"), k, w) {
		fmt(b[0], 48, jd(w, "cpu_ns"), "s");
		fmt(b[1], 48, jd(w, "compute_cpu_ns"), "s");
		fmt(b[2], 48, jd(w, "comm_cpu_ns"), "s");
		fmt(b[3], 48, jd(w, "runq_wait_ns"), "s");
		fmt(b[4], 48, jd(w, "runq_share"), "%");
		fmt(b[5], 48, jd(w, "throttled_ns"), "s");
		fputs("<tr><td>", h->f);
		esc(h->f, js(w, "endpoint"));
		fprintf(h->f, "</td><td>%s</td><td>%s</td><td>%s</td><td>%s</td><td>%s</td><td>%s</td>",
			b[0], b[1], b[2], b[3], b[4], b[5]);
		fmt(b[0], 48, jd(w, "rx_worker_bytes"), "B");
		fprintf(h->f, "<td>%s</td></tr>\n", b[0]);
	}
	fputs("</table>\n", h->f);
}

static void process_table(struct h *h)
{
	const json_t *w, *cg;
	char b[5][48];
	size_t k;

	fputs("<details><summary>Every process (table)</summary><table><tr><th>endpoint</th><th>role</th><th>pid</th><th>CPU</th><th>run-queue wait</th><th>cgroup throttled</th><th>TX</th><th>RX</th></tr>\n",
	      h->f);
	json_array_foreach(json_object_get(h->d->root, "workers"), k, w) {
		cg = json_object_get(w, "cgroup_cpu");
		fmt(b[0], 48, jd(w, "cpu_ns"), "s");
		fmt(b[1], 48, jd(w, "runq_wait_ns"), "s");
		fmt(b[2], 48, jd(cg, "throttled_ns"), "s");
		fmt(b[3], 48, jd(w, "tx_bytes"), "B");
		fmt(b[4], 48, jd(w, "rx_bytes"), "B");
		fputs("<tr><td>", h->f);
		esc(h->f, js(w, "endpoint"));
		fprintf(h->f, "</td><td>%s</td><td>%.0f</td><td>%s</td><td>%s</td><td>%s</td><td>%s</td><td>%s</td></tr>\n",
			js(w, "role"), jd(w, "pid"), b[0], b[1], b[2], b[3], b[4]);
	}
	fputs("</table></details>\n", h->f);
}

static void kv_rows(FILE *f, const json_t *o, const char *prefix)
{
	const char *key;
	json_t *v;

	json_object_foreach((json_t *)o, key, v) {
		if (json_is_object(v) || json_is_array(v))
			continue;
		fprintf(f, "<tr><td>%s%s</td><td>", prefix, key);
		if (json_is_string(v))
			svg__escape(f, json_string_value(v));
		else if (json_is_integer(v))
			fprintf(f, "%lld", (long long)json_integer_value(v));
		else if (json_is_real(v))
			fprintf(f, "%.3f", json_real_value(v));
		else
			fputs(json_is_true(v) ? "yes" : json_is_null(v) ? "-" : "no", f);
		fputs("</td></tr>\n", f);
	}
}

/* The report's problems[] (figures that cannot be true), if any. */
static void problems(FILE *f, const json_t *arr)
{
	const json_t *p;
	size_t k;

	if (!json_array_size(arr))
		return;
	fputs("<p><b>Problems found in the trace:</b></p><ul id=\"problems\">\n", f);
	json_array_foreach(arr, k, p) {
		fputs("<li>", f);
		svg__escape(f, js(p, "detail"));
		fputs("</li>\n", f);
	}
	fputs("</ul>\n", f);
}

static void provenance(struct h *h)
{
	const json_t *root = h->d->root, *tr = json_object_get(root, "trace");
	const json_t *mk = json_object_get(root, "marks");

	fprintf(h->f, "<section id=\"trace%s\"><h2>How the trace was taken, and what was lost</h2>\n<p class=\"note\">File ",
		h->tag);
	esc(h->f, h->d->path);
	fputs(". Every counter below should be 0; a non-zero one says which figures are short and by how much.</p>\n<div class=\"cols\"><table><tr><th>trace</th><th></th></tr>\n",
	      h->f);
	kv_rows(h->f, tr, "");
	kv_rows(h->f, json_object_get(tr, "hooks"), "hooks.");
	fputs("</table><table id=\"drops\"><tr><th>drop counter</th><th>count</th></tr>\n", h->f);
	kv_rows(h->f, json_object_get(root, "drops"), "");
	kv_rows(h->f, json_object_get(root, "health"), "health.");
	if (mk)
		kv_rows(h->f, mk, "marks.");
	fputs("</table></div>\n", h->f);
	problems(h->f, json_object_get(root, "problems"));
	fputs("</section>\n", h->f);
}

/* ---- pages ---- */

static void head(FILE *f, const char *title)
{
	fputs("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n<title>",
	      f);
	svg__escape(f, title);
	fprintf(f, "</title>\n<style>\n%s</style></head><body>\n", css);
}

static int trials_section(struct h *h, double ymax)
{
	const json_t *arr = json_object_get(h->d->root, "trials");
	int err;

	fprintf(h->f, "<section id=\"trials%s\"><h2>Where each trial's time went</h2>\n<p class=\"note\">Compute and communication are CPU seconds the kernel measured on the trial's workers (serialising and the network stack count as communication); transfer is the time the aggregations waited for their inputs; idle is the rest of the trial's wall time. CPU is summed over workers, so a trial spread over several workers can stack higher than its wall time.</p>\n",
		h->tag);
	if (!arr || !json_array_size(arr)) {
		fputs("<p>No trials: give the workload's marks with <code>--marks FILE</code>.</p></section>\n", h->f);
		return 0;
	}
	err = trials_chart(h, arr, ymax > 0 ? ymax : trials_ymax(arr));
	trials_table(h, arr);
	fputs("</section>\n", h->f);
	return err;
}

static int heat_section(struct h *h, double lo, double hi)
{
	int err;

	fprintf(h->f, "<section id=\"heatmap%s\"><h2>Who sent bytes to whom</h2>\n<p class=\"note\">TCP bytes each process sent to each other endpoint over the whole trace, counted by the kernel at the sender (at the receiver when the sender is on another node).%s</p>\n",
		h->tag, h->focus ? " Shown: the Dask cluster the marks name (its workers, scheduler, nannies and clients); the flows table lists every process on the node." : "");
	err = heatmap(h, h->d->root, lo, hi);
	flows_table(h);
	fputs("</section>\n", h->f);
	return err;
}

int export_html__write(FILE *f, const struct export_doc *d)
{
	struct h h = { .f = f, .d = d, .width = H_W, .tag = "",
		       .dg = json_object_get(d->root, "diagnostics") };
	int err;

	make_focus(&h);
	head(f, "xfertrace report");
	fputs("<h1>Transfer against compute: xfertrace report</h1>\n<p class=\"note\">", f);
	esc(f, d->path);
	fputs("</p>\n", f);
	plain_words(&h);
	key_figures(&h);
	err = trials_section(&h, 0);
	if (!err)
		err = heat_section(&h, 0, 0);
	if (!err)
		err = timelines(&h);
	fputs("<section id=\"diagnostics\"><h2>Diagnostics</h2>\n", f);
	if (h.dg) {
		diag_table(&h, h.dg);
		worker_diag(&h, h.dg);
	}
	process_table(&h);
	fputs("</section>\n", f);
	provenance(&h);
	fputs("</body></html>\n", f);
	json_decref(h.focus);
	return err ? err : ferror(f) ? -EIO : 0;
}

/* ---- --compare A B ---- */

static void cmp_row(FILE *f, const char *label, double a, double b,
		    const char *how)
{
	char x[48], y[48], r[48];

	fmt(x, sizeof(x), a, how);
	fmt(y, sizeof(y), b, how);
	fmt(r, sizeof(r), a > 0 && !isnan(b) ? b / a : NAN, "%.2f");
	fprintf(f, "<tr><td>%s</td><td>%s</td><td>%s</td><td>%s</td></tr>\n",
		label, x, y, r);
}

static double per_trial(const json_t *dg, const char *key)
{
	return jd(dg, "trials") > 0 ? jd(dg, key) / jd(dg, "trials") : NAN;
}

static void cmp_table(FILE *f, const json_t *cmp, const json_t *da,
		      const json_t *db)
{
	const json_t *a = json_object_get(cmp, "a"), *b = json_object_get(cmp, "b");

	fputs("<table id=\"ratios\"><tr><th>figure</th><th>Test A</th><th>Test B</th><th>B / A</th></tr>\n", f);
	cmp_row(f, "bytes per trial", jd(a, "bytes_per_trial"),
		jd(b, "bytes_per_trial"), "B");
	cmp_row(f, "transfer share of wall time", jd(a, "transfer_share"),
		jd(b, "transfer_share"), "%");
	cmp_row(f, "wall time per trial", per_trial(da, "wall_ns"),
		per_trial(db, "wall_ns"), "s");
	cmp_row(f, "trials", jd(a, "trials"), jd(b, "trials"), "%.0f");
	cmp_row(f, "trials per minute", jd(a, "trials_per_min"),
		jd(b, "trials_per_min"), "%.2f");
	cmp_row(f, "split-aggregation rate", jd(a, "split_rate"),
		jd(b, "split_rate"), "%");
	cmp_row(f, "duplication factor", jd(a, "dup_factor"),
		jd(b, "dup_factor"), "%.3f");
	cmp_row(f, "unattributed bytes", jd(a, "unattributed_share"),
		jd(b, "unattributed_share"), "%");
	fputs("</table>\n", f);
}

/* Total RX MB/s and CPU % over all workers of one side. */
static int side_bandwidth(struct h *h, double *x, double *y)
{
	static const char *const names[] = { "RX MB/s, all workers", "CPU %, all workers" };
	static const int colors[] = { C_RX, C_CPU }, kinds[] = { 1, 2 };
	const struct xseries *s = h->d->s;
	struct svg_axis ax = { 0, h->t1 - h->t0, "time since the trace started (s)" };
	struct svg_axis ay = { 0, h->y_bytes, "MB/s" }, ac = { 0, h->y_cpu, "CPU %" };
	__u64 *rx = calloc(s->n_bins + 1, 8), *cpu = calloc(s->n_bins + 1, 8);
	struct svg *g = NULL;
	int i, b, n;

	if (rx && cpu)
		g = svg__begin(h->f, h->width, 200, "Bandwidth and CPU of all workers",
			       "Lines: bytes all workers received per second, and their CPU % (100 = one CPU), per harvest interval; same scales for Test A and Test B.");
	if (!g) {
		free(rx);
		free(cpu);
		return -ENOMEM;
	}
	for (i = 0; i < s->n_rows; i++)
		for (b = 0; timeline_row(h, &s->rows[i]) && b < s->n_bins; b++) {
			rx[b] += s->rows[i].rx[b];
			cpu[b] += s->rows[i].cpu[b];
		}
	svg__margins(g, 64, 20, 54, 36);
	svg__legend(g, 2, names, colors, kinds);
	svg__axes(g, &ax, &ay);
	svg__axis_right(g, &ac);
	n = rates(h, rx, 1e-6, x, y);
	svg__line(g, x, y, n, C_RX, false, false, names[0]);
	n = rates(h, cpu, 1e-7, x, y);
	svg__line(g, x, y, n, C_CPU, true, true, names[1]);
	free(rx);
	free(cpu);
	return svg__end(g);
}

/* Largest total rates and span of a side, for shared scales. */
static void side_scales(struct h *h, double *x, double *y, double *mb,
			double *cp, double *span)
{
	const struct xseries *s = h->d->s;
	struct xs_row tot = {};
	int i, b;

	h->t0 = s->n_bins ? s->lo[0] : 0;
	h->t1 = s->n_bins ? s->hi[s->n_bins - 1] : 1;
	*span = fmax(*span, h->t1 - h->t0);
	tot.rx = calloc(s->n_bins + 1, 8);
	tot.tx = calloc(s->n_bins + 1, 8);
	tot.cpu = calloc(s->n_bins + 1, 8);
	for (i = 0; tot.rx && tot.tx && tot.cpu && i < s->n_rows; i++)
		for (b = 0; timeline_row(h, &s->rows[i]) && b < s->n_bins; b++) {
			tot.rx[b] += s->rows[i].rx[b];
			tot.cpu[b] += s->rows[i].cpu[b];
		}
	if (tot.rx && tot.tx && tot.cpu)
		rate_max(h, &tot, x, y, mb, cp);
	free(tot.rx);
	free(tot.tx);
	free(tot.cpu);
}

static int cmp_charts(struct h *ha, struct h *hb, double *x, double *y)
{
	const json_t *ta = json_object_get(ha->d->root, "trials");
	const json_t *tb = json_object_get(hb->d->root, "trials");
	double ymax = fmax(trials_ymax(ta), trials_ymax(tb)), lo = 0, hi = 0;
	double mb = 0, cp = 0, span = 0;
	struct h *side[2] = { ha, hb };
	int i, err = 0;

	heat_minmax(ha, &lo, &hi);
	heat_minmax(hb, &lo, &hi);
	for (i = 0; i < 2; i++)
		side_scales(side[i], x, y, &mb, &cp, &span);
	for (i = 0; i < 2 && !err; i++) {
		struct h *h = side[i];

		h->y_bytes = mb > 0 ? mb * 1.05 : 1;
		h->y_cpu = cp > 0 ? cp * 1.05 : 100;
		h->t1 = h->t0 + span;
		fprintf(h->f, "<div><h2>Test %s</h2><p class=\"note\">", h->tag);
		esc(h->f, h->d->path);
		fputs("</p>\n", h->f);
		err = trials_section(h, ymax);
		if (!err)
			err = heat_section(h, lo, hi);
		if (!err) {
			fputs("<div class=\"cap\">Bandwidth and CPU of all workers (same scales for A and B)</div>\n",
			      h->f);
			err = side_bandwidth(h, x, y);
		}
		fputs("<h2>Diagnostics</h2>\n", h->f);
		if (h->dg)
			diag_table(h, h->dg);
		fputs("</div>\n", h->f);
	}
	return err;
}

int export_html__compare(FILE *f, const struct export_doc *a,
			 const struct export_doc *b, const json_t *root)
{
	const json_t *cmp = json_object_get(root, "compare");
	struct h ha = { .f = f, .d = a, .width = 610, .tag = "A",
			.dg = json_object_get(a->root, "diagnostics") };
	struct h hb = { .f = f, .d = b, .width = 610, .tag = "B",
			.dg = json_object_get(b->root, "diagnostics") };
	double *x = calloc(H_POINTS + 1, sizeof(double));
	double *y = calloc(H_POINTS + 1, sizeof(double));
	int err = x && y ? 0 : -ENOMEM;

	make_focus(&ha);
	make_focus(&hb);
	head(f, "xfertrace: Test A against Test B");
	fputs("<h1>Test A against Test B: xfertrace report</h1>\n<p class=\"verdict\" id=\"plain\">", f);
	fprintf(f, "Test B moved %.2f times the bytes per trial of Test A, spent %.2f times its share of wall time on transfer, and took %.2f times its wall time per trial.</p>\n",
		jd(json_object_get(cmp, "ratios"), "bytes_per_trial"),
		jd(json_object_get(cmp, "ratios"), "transfer_share"),
		per_trial(ha.dg, "wall_ns") > 0 ? per_trial(hb.dg, "wall_ns") /
		per_trial(ha.dg, "wall_ns") : NAN);
	fputs("<p class=\"note\" id=\"verdict\">Verdict A: ", f);
	esc(f, js(json_object_get(cmp, "a"), "verdict"));
	fputs("<br>Verdict B: ", f);
	esc(f, js(json_object_get(cmp, "b"), "verdict"));
	fputs("</p>\n", f);
	cmp_table(f, cmp, ha.dg, hb.dg);
	fputs("<div class=\"cols\" id=\"sides\">\n", f);
	if (!err)
		err = cmp_charts(&ha, &hb, x, y);
	fputs("</div>\n", f);
	provenance(&ha);
	provenance(&hb);
	fputs("</body></html>\n", f);
	free(x);
	free(y);
	json_decref(ha.focus);
	json_decref(hb.focus);
	return err ? err : ferror(f) ? -EIO : 0;
}
