// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * SVG charts for the HTML report (svg.h). Coordinates are rounded to one
 * decimal so that pages of thousands of shapes stay small.
 */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "svg.h"

/* Okabe & Ito (2008), with a grey for "other". */
static const char *const palette[SVG_N_COLORS] = {
	"#000000", "#E69F00", "#56B4E9", "#009E73", "#F0E442", "#0072B2",
	"#D55E00", "#CC79A7", "#999999",
};

struct svg {
	FILE *f;
	int w, h;
	int ml, mt, mr, mb;	/* margins */
	double x0, x1, y0, y1, r0, r1;
	bool have_right;
	double hlo, hhi;	/* fixed heatmap range, or 0 */
};

const char *svg__color(int c)
{
	return palette[c >= 0 && c < SVG_N_COLORS ? c : SVG_GREY];
}

void svg__escape(FILE *f, const char *t)
{
	for (; t && *t; t++) {
		switch (*t) {
		case '<': fputs("&lt;", f); break;
		case '>': fputs("&gt;", f); break;
		case '&': fputs("&amp;", f); break;
		case '"': fputs("&quot;", f); break;
		default: fputc(*t, f);
		}
	}
}

void svg__si(char *buf, size_t n, double v)
{
	static const char *const pre[] = { "", "k", "M", "G", "T", "P" };
	double a = fabs(v);
	int i = 0;

	while (a >= 1000 && i < 5) {
		a /= 1000;
		v /= 1000;
		i++;
	}
	if (a == 0 || a >= 100)
		snprintf(buf, n, "%.0f%s", v, pre[i]);
	else if (a >= 10)
		snprintf(buf, n, "%.1f%s", v, pre[i]);
	else if (a >= 0.01)
		snprintf(buf, n, "%.2f%s", v, pre[i]);
	else
		snprintf(buf, n, "%.2g%s", v, pre[i]);
}

struct svg *svg__begin(FILE *f, int w, int h, const char *title,
		       const char *desc)
{
	struct svg *s = calloc(1, sizeof(*s));

	if (!s)
		return NULL;
	s->f = f;
	s->w = w;
	s->h = h;
	s->ml = 70;
	s->mt = 16;
	s->mr = 20;
	s->mb = 44;
	fprintf(f, "<svg xmlns=\"http://www.w3.org/2000/svg\" class=\"chart\" role=\"img\" viewBox=\"0 0 %d %d\" width=\"%d\" height=\"%d\"><title>",
		w, h, w, h);
	svg__escape(f, title);
	fputs("</title><desc>", f);
	svg__escape(f, desc);
	fputs("</desc>\n", f);
	return s;
}

void svg__margins(struct svg *s, int l, int t, int r, int b)
{
	s->ml = l;
	s->mt = t;
	s->mr = r;
	s->mb = b;
}

static double px(const struct svg *s, double v)
{
	double d = s->x1 - s->x0;

	return s->ml + (d > 0 ? (v - s->x0) / d : 0) * (s->w - s->ml - s->mr);
}

static double py_on(const struct svg *s, double v, double lo, double hi)
{
	double d = hi - lo, ph = s->h - s->mt - s->mb;

	return s->h - s->mb - (d > 0 ? (v - lo) / d : 0) * ph;
}

static double py(const struct svg *s, double v)
{
	return py_on(s, v, s->y0, s->y1);
}

/* Ticks at 1, 2 or 5 times a power of ten, about `want` of them. */
static double tick_step(double lo, double hi, int want)
{
	double raw = (hi - lo) / want, p, m;

	if (!(raw > 0))
		return 1;
	p = pow(10, floor(log10(raw)));
	m = raw / p;
	return p * (m < 1.5 ? 1 : m < 3.5 ? 2 : m < 7.5 ? 5 : 10);
}

static void axis_label(struct svg *s, double x, double y, int rot,
		       const char *text)
{
	fprintf(s->f, "<text class=\"al\" x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\"",
		x, y);
	if (rot)
		fprintf(s->f, " transform=\"rotate(%d %.1f %.1f)\"", rot, x, y);
	fputc('>', s->f);
	svg__escape(s->f, text);
	fputs("</text>\n", s->f);
}

static void y_ticks(struct svg *s, double lo, double hi, bool right)
{
	double st = tick_step(lo, hi, 4), v, y;
	char b[32];

	for (v = ceil(lo / st) * st; v <= hi + st * 1e-9; v += st) {
		y = py_on(s, v, lo, hi);
		svg__si(b, sizeof(b), fabs(v) < st * 1e-9 ? 0 : v);
		if (!right)
			fprintf(s->f, "<line class=\"grid\" x1=\"%d\" x2=\"%d\" y1=\"%.1f\" y2=\"%.1f\"/>",
				s->ml, s->w - s->mr, y, y);
		fprintf(s->f, "<text class=\"tk\" x=\"%d\" y=\"%.1f\" text-anchor=\"%s\">%s</text>\n",
			right ? s->w - s->mr + 4 : s->ml - 4, y + 4,
			right ? "start" : "end", b);
	}
}

void svg__axes(struct svg *s, const struct svg_axis *x,
	       const struct svg_axis *y)
{
	double st, v;
	char b[32];

	s->x0 = x->lo;
	s->x1 = x->hi > x->lo ? x->hi : x->lo + 1;
	s->y0 = y->lo;
	s->y1 = y->hi > y->lo ? y->hi : y->lo + 1;
	if (y->label && y->label[0])
		y_ticks(s, s->y0, s->y1, false);
	if (x->label && x->label[0]) {
		st = tick_step(s->x0, s->x1, 8);
		if (x->integer && st < 1)
			st = 1;
		for (v = ceil(s->x0 / st) * st; v <= s->x1 + st * 1e-9; v += st) {
			if (x->integer)
				snprintf(b, sizeof(b), "%.0f", v);
			else
				svg__si(b, sizeof(b), fabs(v) < st * 1e-9 ? 0 : v);
			fprintf(s->f, "<text class=\"tk\" x=\"%.1f\" y=\"%d\" text-anchor=\"middle\">%s</text>",
				px(s, v), s->h - s->mb + 14, b);
		}
		axis_label(s, (s->ml + s->w - s->mr) / 2.0, s->h - 6, 0,
			   x->label);
	}
	fprintf(s->f, "<rect class=\"frame\" x=\"%d\" y=\"%d\" width=\"%d\" height=\"%d\"/>\n",
		s->ml, s->mt, s->w - s->ml - s->mr, s->h - s->mt - s->mb);
	if (y->label && y->label[0])
		axis_label(s, 14, (s->mt + s->h - s->mb) / 2.0, -90, y->label);
}

void svg__axis_right(struct svg *s, const struct svg_axis *y2)
{
	s->r0 = y2->lo;
	s->r1 = y2->hi > y2->lo ? y2->hi : y2->lo + 1;
	s->have_right = true;
	y_ticks(s, s->r0, s->r1, true);
	axis_label(s, s->w - 10, (s->mt + s->h - s->mb) / 2.0, 90,
		   y2->label);
}

void svg__x_labels(struct svg *s, int n, const char *const *l, int step)
{
	int i;

	for (i = 0; i < n; i += step > 0 ? step : 1) {
		fprintf(s->f, "<text class=\"tk\" x=\"%.1f\" y=\"%d\" text-anchor=\"middle\">",
			px(s, i + 0.5), s->h - s->mb + 14);
		svg__escape(s->f, l[i]);
		fputs("</text>", s->f);
	}
	fputc('\n', s->f);
}

static void tip(FILE *f, const char *t)
{
	if (!t)
		return;
	fputs("<title>", f);
	svg__escape(f, t);
	fputs("</title>", f);
}

static void rect(struct svg *s, double X0, double X1, double Y0, double Y1,
		 const char *fill, const char *extra, const char *t)
{
	double x = fmin(X0, X1), y = fmin(Y0, Y1);

	fprintf(s->f, "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" fill=\"%s\"%s",
		x, y, fmax(fabs(X1 - X0), 0.4), fabs(Y1 - Y0), fill,
		extra ? extra : "");
	if (t) {
		fputc('>', s->f);
		tip(s->f, t);
		fputs("</rect>\n", s->f);
	} else {
		fputs("/>\n", s->f);
	}
}

void svg__bar(struct svg *s, double x0, double x1, double y0, double y1,
	      int c, const char *t)
{
	rect(s, px(s, x0), px(s, x1), py(s, y0), py(s, y1), svg__color(c),
	     NULL, t);
}

void svg__stack(struct svg *s, double x0, double x1, const double *v, int n,
		const int *colors, const char *t)
{
	double base = 0;
	int i;

	fputs("<g>", s->f);
	tip(s->f, t);
	for (i = 0; i < n; i++) {
		if (v[i] > 0)
			rect(s, px(s, x0), px(s, x1), py(s, base),
			     py(s, base + v[i]), svg__color(colors[i]), NULL,
			     NULL);
		base += v[i] > 0 ? v[i] : 0;
	}
	fputs("</g>\n", s->f);
}

void svg__line(struct svg *s, const double *x, const double *y, int n,
	       int c, bool dashed, bool right, const char *name)
{
	double lo = right ? s->r0 : s->y0, hi = right ? s->r1 : s->y1;
	int i;

	if (n <= 0)
		return;
	fprintf(s->f, "<polyline class=\"ln\" stroke=\"%s\"%s points=\"",
		svg__color(c), dashed ? " stroke-dasharray=\"4 3\"" : "");
	for (i = 0; i < n; i++)
		fprintf(s->f, "%s%.1f,%.1f", i ? " " : "", px(s, x[i]),
			py_on(s, fmin(y[i], hi), lo, hi));
	fputs("\">", s->f);
	tip(s->f, name);
	fputs("</polyline>\n", s->f);
}

void svg__band(struct svg *s, double x0, double x1, double f0, double f1,
	       int c, double op, const char *t)
{
	double ph = s->h - s->mt - s->mb;
	char extra[48];

	snprintf(extra, sizeof(extra), " fill-opacity=\"%.2f\"", op);
	rect(s, px(s, fmax(x0, s->x0)), px(s, fmin(x1, s->x1)),
	     s->h - s->mb - f0 * ph, s->h - s->mb - f1 * ph, svg__color(c),
	     extra, t);
}

/* A sequential colour-blind-safe ramp (viridis stops), t in [0,1]. */
static void ramp(double t, char *buf, size_t n)
{
	static const int st[5][3] = { { 253, 231, 37 }, { 94, 201, 98 },
				      { 33, 145, 140 }, { 59, 82, 139 },
				      { 68, 1, 84 } };
	int i = t >= 1 ? 3 : (int)(t * 4);
	double f = t * 4 - i;
	int rgb[3], k;

	for (k = 0; k < 3; k++)
		rgb[k] = (int)lround(st[i][k] + (st[i + 1][k] - st[i][k]) * f);
	snprintf(buf, n, "#%02x%02x%02x", rgb[0], rgb[1], rgb[2]);
}

static void heat_scale(struct svg *s, double lo, double hi, const char *unit)
{
	int x = s->w - s->mr + 12, top = s->mt, hgt = s->h - s->mt - s->mb;
	char c[8], b[32];
	int i;

	for (i = 0; i < 20; i++) {
		ramp(1 - i / 19.0, c, sizeof(c));
		fprintf(s->f, "<rect x=\"%d\" y=\"%.1f\" width=\"14\" height=\"%.1f\" fill=\"%s\"/>",
			x, top + i * hgt / 20.0, hgt / 20.0 + 0.5, c);
	}
	svg__si(b, sizeof(b), hi);
	fprintf(s->f, "<text class=\"tk\" x=\"%d\" y=\"%d\">%s%s</text>", x + 18,
		top + 10, b, unit);
	svg__si(b, sizeof(b), lo);
	fprintf(s->f, "<text class=\"tk\" x=\"%d\" y=\"%d\">%s%s</text>\n",
		x + 18, top + hgt, b, unit);
}

static void heat_labels(struct svg *s, int nx, int ny,
			const char *const *xl, const char *const *yl)
{
	int i, step = nx > 24 ? (nx + 23) / 24 : 1;

	for (i = 0; i < ny; i += ny > 32 ? (ny + 31) / 32 : 1) {
		fprintf(s->f, "<text class=\"tk\" x=\"%d\" y=\"%.1f\" text-anchor=\"end\">",
			s->ml - 4, py(s, ny - i - 0.5) + 4);
		svg__escape(s->f, yl[i]);
		fputs("</text>", s->f);
	}
	for (i = 0; i < nx; i += step) {
		double x = px(s, i + 0.5), y = s->h - s->mb + 6;

		fprintf(s->f, "<text class=\"tk\" x=\"%.1f\" y=\"%.1f\" text-anchor=\"end\" transform=\"rotate(-45 %.1f %.1f)\">",
			x, y, x, y);
		svg__escape(s->f, xl[i]);
		fputs("</text>", s->f);
	}
	fputc('\n', s->f);
}

void svg__heatmap(struct svg *s, int nx, int ny, const double *v,
		  const char *const *xl, const char *const *yl,
		  bool mark_diag, const char *unit)
{
	double lo = INFINITY, hi = 0, t;
	char c[8], tp[320], b[32];
	int r, k;

	s->x0 = 0;
	s->x1 = nx > 0 ? nx : 1;
	s->y0 = 0;
	s->y1 = ny > 0 ? ny : 1;
	for (k = 0; k < nx * ny; k++)
		if (v[k] > 0) {
			lo = fmin(lo, v[k]);
			hi = fmax(hi, v[k]);
		}
	if (s->hhi > 0) {
		lo = s->hlo;
		hi = s->hhi;
	}
	fprintf(s->f, "<rect class=\"frame\" x=\"%d\" y=\"%d\" width=\"%d\" height=\"%d\"/>\n",
		s->ml, s->mt, s->w - s->ml - s->mr, s->h - s->mt - s->mb);
	for (r = 0; r < ny; r++)
		for (k = 0; k < nx; k++) {
			double val = v[r * nx + k];
			bool diag = mark_diag && r == k;

			if (!(val > 0) && !diag)
				continue;
			t = hi > lo ? (log10(val) - log10(lo)) /
				      (log10(hi) - log10(lo)) : 1;
			t = fmin(fmax(t, 0), 1);
			if (val > 0)
				ramp(t, c, sizeof(c));
			svg__si(b, sizeof(b), val);
			snprintf(tp, sizeof(tp), "%s -> %s: %s%s%s", yl[r],
				 xl[k], b, unit, diag ? " (diagonal: local)" : "");
			rect(s, px(s, k), px(s, k + 1), py(s, ny - r),
			     py(s, ny - r - 1), val > 0 ? c : "#ffffff",
			     diag ? " class=\"diag\"" : NULL, tp);
		}
	heat_labels(s, nx, ny, xl, yl);
	if (hi > 0)
		heat_scale(s, lo, hi, unit);
}

void svg__heat_range(struct svg *s, double lo, double hi)
{
	s->hlo = lo;
	s->hhi = hi;
}

void svg__legend(struct svg *s, int n, const char *const *labels,
		 const int *colors, const int *kinds)
{
	double x = s->ml;
	int i;

	for (i = 0; i < n; i++) {
		const char *c = svg__color(colors[i]);

		if (!kinds || !kinds[i])
			fprintf(s->f, "<rect x=\"%.0f\" y=\"3\" width=\"11\" height=\"11\" fill=\"%s\"/>",
				x, c);
		else
			fprintf(s->f, "<line class=\"ln\" x1=\"%.0f\" x2=\"%.0f\" y1=\"9\" y2=\"9\" stroke=\"%s\"%s/>",
				x, x + 14, c, kinds[i] == 2 ?
				" stroke-dasharray=\"4 3\"" : "");
		fprintf(s->f, "<text class=\"lg\" x=\"%.0f\" y=\"13\">", x + 18);
		svg__escape(s->f, labels[i]);
		fputs("</text>", s->f);
		x += 34 + 7.5 * strlen(labels[i]);
	}
	fputc('\n', s->f);
}

int svg__end(struct svg *s)
{
	int err;

	fputs("</svg>\n", s->f);
	err = ferror(s->f) ? -EIO : 0;
	free(s);
	return err;
}
