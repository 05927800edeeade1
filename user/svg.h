/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * Small SVG chart writer: a plot area with labelled axes and units, bars,
 * stacked bars, lines, bands, heatmaps and a legend, in the Okabe-Ito
 * colour-blind-safe palette. Every chart carries a <title> and <desc> text
 * equivalent. Coordinates given to the drawing calls are data values.
 */
#ifndef XT_SVG_H
#define XT_SVG_H

#include <stdbool.h>
#include <stdio.h>

/* Okabe-Ito palette indices. */
enum svg_color {
	SVG_BLACK, SVG_ORANGE, SVG_SKY, SVG_GREEN, SVG_YELLOW, SVG_BLUE,
	SVG_VERMILION, SVG_PURPLE, SVG_GREY, SVG_N_COLORS
};

struct svg_axis {
	double lo, hi;
	const char *label;	/* with the unit, e.g. "time (s)" */
	bool integer;		/* ticks on whole numbers only */
};

struct svg;

/* Opens <svg>, writes its <title> and <desc>; NULL on no memory. */
struct svg *svg__begin(FILE *f, int width, int height, const char *title,
		       const char *desc);
/* Margins around the plot area, in pixels. */
void svg__margins(struct svg *s, int left, int top, int right, int bottom);
/* Sets the scales and draws frame, grid, ticks and axis labels. */
void svg__axes(struct svg *s, const struct svg_axis *x,
	       const struct svg_axis *y);
/* A second y scale on the right (lines may use it). */
void svg__axis_right(struct svg *s, const struct svg_axis *y2);
/* Category labels under the x axis instead of numbers (every `step`th). */
void svg__x_labels(struct svg *s, int n, const char *const *labels,
		   int step);
/* Filled rectangle [x0,x1] x [y0,y1] in data units; tip goes in <title>. */
void svg__bar(struct svg *s, double x0, double x1, double y0, double y1,
	      int color, const char *tip);
/* n segments stacked from 0 upwards over [x0,x1]. */
void svg__stack(struct svg *s, double x0, double x1, const double *v, int n,
		const int *colors, const char *tip);
/* A polyline; on_right uses the right axis. */
void svg__line(struct svg *s, const double *x, const double *y, int n,
	       int color, bool dashed, bool on_right, const char *name);
/* A band over [x0,x1] from fraction f0 to f1 of the plot height (0 = bottom). */
void svg__band(struct svg *s, double x0, double x1, double f0, double f1,
	       int color, double opacity, const char *tip);
/*
 * nx * ny cells, v[row * nx + col]; colour by log10(v) between the
 * smallest and largest non-zero value; zero cells are left white. Labels
 * name rows and columns; mark_diag outlines the diagonal.
 */
void svg__heatmap(struct svg *s, int nx, int ny, const double *v,
		  const char *const *xl, const char *const *yl,
		  bool mark_diag, const char *unit);
/* Fix the heatmap colour range (for charts side by side); 0,0 = auto. */
void svg__heat_range(struct svg *s, double lo, double hi);
/* One row of swatches; kind 0 = box, 1 = line, 2 = dashed line. */
void svg__legend(struct svg *s, int n, const char *const *labels,
		 const int *colors, const int *kinds);
/* Closes </svg>; 0, or -EIO if the stream failed. Frees s. */
int svg__end(struct svg *s);

/* XML/HTML-escaped text. */
void svg__escape(FILE *f, const char *text);
const char *svg__color(int color);
/* A value with a unit prefix and 3 significant digits ("12.3M"). */
void svg__si(char *buf, size_t n, double v);

#endif
