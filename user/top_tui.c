// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * Full-screen `xfertrace top`. Input is non-blocking: the caller's poll
 * loop wakes us when stdin is readable (or on SIGWINCH, which ncurses
 * turns into KEY_RESIZE), so collection never waits on the keyboard.
 * Layout, keys and the column-dropping order are in docs/top.md.
 */
#include <curses.h>
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "hmap.h"
#include "counters.h"
#include "top_tui.h"
#include "util.h"

#define MSG_SHOW_NS	8000000000ull
#define PAIR_ALERT	1
#define PAIR_WARN	2

enum mode { MODE_TABLE, MODE_MATRIX, MODE_TRIALS };

struct top_tui {
	struct top_frame frame;
	bool have_frame;
	struct top_view view;
	enum mode mode;
	bool help, paused, color, prompt, show_all, marks_on, quit;
	double delay_s;
	char input[TOP_FILTER_LEN + 8];
	int input_len;
	char msg[200];
	bool msg_err;
	__u64 msg_at;
	int *idx;
	int idx_cap;
};

/* ---- columns ---- */

struct col {
	const char *title;
	int width;		/* fixed, or the minimum of a flexible one */
	bool right;
};

static const struct col cols[TOP_K_TOTAL] = {
	[TOP_K_ENDPOINT] = { "ENDPOINT", 20, false },
	[TOP_K_PID] = { "PID", 7, true },
	[TOP_K_ROLE] = { "ROLE", 9, false },
	[TOP_K_RX] = { "RX MB/s", 9, true },
	[TOP_K_TX] = { "TX MB/s", 9, true },
	[TOP_K_CPU] = { "CPU%", 6, true },
	[TOP_K_RUNQ] = { "RUNQ%", 6, true },
	[TOP_K_ACTIVE] = { "ACT%", 6, true },
	[TOP_K_CONNS] = { "CONNS", 5, true },
	[TOP_K_PEER] = { "TOP PEER", 16, false },
};

/* Narrow terminals lose columns in this order; endpoint, RX, TX stay. */
static const enum top_key drop_order[] = {
	TOP_K_PEER, TOP_K_ACTIVE, TOP_K_RUNQ, TOP_K_ROLE, TOP_K_CONNS,
	TOP_K_PID, TOP_K_CPU,
};

struct layout {
	bool on[TOP_K_TOTAL];
	int width[TOP_K_TOTAL];
};

static int layout_need(const struct layout *l)
{
	int k, need = 0;

	for (k = 0; k < TOP_K_TOTAL; k++)
		if (l->on[k])
			need += l->width[k] + (need ? 1 : 0);
	return need;
}

/* Drop columns until the rest fit; widen the endpoint, then the peer. */
static void make_layout(struct layout *l, int cols_avail, int max_ep)
{
	int k, extra, add;
	size_t d;

	for (k = 0; k < TOP_K_TOTAL; k++) {
		l->on[k] = true;
		l->width[k] = cols[k].width;
	}
	for (d = 0; d < sizeof(drop_order) / sizeof(drop_order[0]) &&
	     layout_need(l) > cols_avail; d++)
		l->on[drop_order[d]] = false;
	extra = cols_avail - layout_need(l);
	if (extra < 0) {
		/* Still too narrow: the endpoint gives up what it must. */
		l->width[TOP_K_ENDPOINT] += extra;
		if (l->width[TOP_K_ENDPOINT] < 8)
			l->width[TOP_K_ENDPOINT] = 8;
		return;
	}
	add = max_ep - l->width[TOP_K_ENDPOINT];
	add = add < 0 ? 0 : add > extra ? extra : add;
	l->width[TOP_K_ENDPOINT] += add;
	extra -= add;
	if (l->on[TOP_K_PEER])
		l->width[TOP_K_PEER] += extra;
	else
		l->width[TOP_K_ENDPOINT] += extra;
}

/* ---- drawing helpers ---- */

/*
 * Drawing never relies on the cursor: after writing the last column
 * ncurses wraps it to the next line. Text is clipped at the right edge.
 */
static int cur_y, cur_x;

static void at(int y, int x)
{
	cur_y = y;
	cur_x = x;
}

static bool vapp(attr_t a, const char *fmt, va_list ap)
{
	char buf[1024];

	if (cur_y < 0 || cur_y >= LINES || cur_x >= COLS)
		return false;
	vsnprintf(buf, sizeof(buf), fmt, ap);
	attron(a);
	mvaddnstr(cur_y, cur_x, buf, COLS - cur_x);
	attroff(a);
	cur_x += strlen(buf);
	return true;
}

/* Append on the current line. */
__attribute__((format(printf, 2, 3)))
static bool app(attr_t a, const char *fmt, ...)
{
	va_list ap;
	bool ok;

	va_start(ap, fmt);
	ok = vapp(a, fmt, ap);
	va_end(ap);
	return ok;
}

__attribute__((format(printf, 4, 5)))
static void put(int y, int x, attr_t a, const char *fmt, ...)
{
	va_list ap;

	at(y, x);
	va_start(ap, fmt);
	vapp(a, fmt, ap);
	va_end(ap);
}

/* A full-width bar (the column headers). */
static void bar(int y)
{
	if (y < 0 || y >= LINES)
		return;
	attron(A_REVERSE);
	mvhline(y, 0, ' ', COLS);
	attroff(A_REVERSE);
	at(y, 0);
}

static attr_t alert_attr(const struct top_tui *t)
{
	return A_BOLD | (t->color ? COLOR_PAIR(PAIR_ALERT) : A_STANDOUT);
}

static void set_msg(struct top_tui *t, bool err, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void set_msg(struct top_tui *t, bool err, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(t->msg, sizeof(t->msg), fmt, ap);
	va_end(ap);
	t->msg_err = err;
	t->msg_at = now_mono_ns();
}

/* ---- header ---- */

static int draw_header(struct top_tui *t)
{
	const struct top_frame *f = &t->frame;
	char ts[16];
	time_t now;
	struct tm tm;
	int y = 0;

	now = f->time_wall_ns / 1000000000ull;
	localtime_r(&now, &tm);
	strftime(ts, sizeof(ts), "%H:%M:%S", &tm);
	at(y, 0);
	app(A_BOLD, "xfertrace top");
	app(0, " - %s  host %s  kernel %s  hooks %s  every %gs", ts, f->host,
	    f->kernel, f->hooks, t->delay_s);
	if (t->paused)
		app(A_BOLD | (t->color ? COLOR_PAIR(PAIR_WARN) : A_REVERSE),
		    "  PAUSED");
	at(++y, 0);
	app(0, "total RX %.2f MB/s  TX %.2f MB/s  CPU %.1f%% of %d cpus  run-queue wait %.1f%%  processes %d  connections %d",
	    f->rx_bps / 1e6, f->tx_bps / 1e6, f->cpu_pct, f->ncpus,
	    f->runq_pct, f->n_procs, f->n_conns);
	at(++y, 0);
	app(0, "drops");
	{
		int i;

		for (i = 0; i < xt_n_counters; i++) {
			const struct xt_counter *c = &xt_counters[i];
			__u64 v = counter__value(c, &f->k, &f->u);

			/* Every loss; other counters only once they move. */
			if (c->kind != XT_CK_DROP && !(c->kind == XT_CK_HEALTH && v))
				continue;
			app(0, "  ");
			app(v && c->kind == XT_CK_DROP ? alert_attr(t) : 0,
			    "%s %llu", c->name, (unsigned long long)v);
		}
	}
	if (t->marks_on) {
		at(++y, 0);
		app(0, "marks %llu live, %d active trial%s",
		    (unsigned long long)f->n_marks, f->n_trials,
		    f->n_trials == 1 ? "" : "s");
	}
	return y + 1;
}

static void draw_viewline(struct top_tui *t, int y, int shown, int matched)
{
	at(y, 0);
	app(0, "sort %s%s", top_key__name(t->view.sort),
	    t->view.reverse ? " (reversed)" : "");
	app(0, "   filter %s%s%s", t->view.filter.kind ? "'" : "",
	    t->view.filter.kind ? t->view.filter.text : "none",
	    t->view.filter.kind ? "'" : "");
	app(0, "   rows %d of %d%s", shown, matched,
	    t->show_all ? "   (all processes)" : "");
}

/* ---- process table ---- */

/*
 * Fit a name into w columns: tcp:// names keep their end (the port
 * tells endpoints apart), others their start (pid:<pid>/<comm>).
 */
static const char *fit_name(char *buf, size_t len, const char *s, int w)
{
	int n = strlen(s);

	if (n <= w || w < 4 || strncmp(s, "tcp://", 6))
		return s;
	snprintf(buf, len, "~%s", s + n - (w - 1));
	return buf;
}

static void cell(const struct layout *l, enum top_key k, attr_t a,
		 const char *s)
{
	char fit[XT_NAME_LEN + 2];
	int w = l->width[k];

	if (!l->on[k])
		return;
	if (cur_x > 0)
		app(a & A_REVERSE, " ");
	s = fit_name(fit, sizeof(fit), s, w);
	if (cols[k].right)
		app(a, "%*.*s", w, w, s);
	else
		app(a, "%-*.*s", w, w, s);
}

static int ensure_idx(struct top_tui *t, int n)
{
	int *p;

	if (n <= t->idx_cap)
		return 0;
	p = realloc(t->idx, n * sizeof(*p));
	if (!p)
		return -ENOMEM;
	t->idx = p;
	t->idx_cap = n;
	return 0;
}

static bool sorted_by(const struct top_tui *t, enum top_key k)
{
	return t->view.sort == k || (t->view.sort == TOP_K_TOTAL &&
				     (k == TOP_K_RX || k == TOP_K_TX));
}

static void draw_row(const struct layout *l, const struct top_row *r,
		     int y)
{
	char b[32];

	at(y, 0);
	if (r->gone)
		attron(A_DIM);
	cell(l, TOP_K_ENDPOINT, 0, r->endpoint);
	snprintf(b, sizeof(b), "%u", r->pid);
	cell(l, TOP_K_PID, 0, b);
	cell(l, TOP_K_ROLE, 0, r->gone ? "gone" : r->role);
	snprintf(b, sizeof(b), "%.2f", r->rx_bps / 1e6);
	cell(l, TOP_K_RX, 0, b);
	snprintf(b, sizeof(b), "%.2f", r->tx_bps / 1e6);
	cell(l, TOP_K_TX, 0, b);
	snprintf(b, sizeof(b), "%.1f", r->cpu_pct);
	cell(l, TOP_K_CPU, 0, b);
	snprintf(b, sizeof(b), "%.1f", r->runq_pct);
	cell(l, TOP_K_RUNQ, 0, b);
	snprintf(b, sizeof(b), "%.1f", r->active_pct);
	cell(l, TOP_K_ACTIVE, 0, b);
	snprintf(b, sizeof(b), "%d", r->conns);
	cell(l, TOP_K_CONNS, 0, b);
	cell(l, TOP_K_PEER, 0, r->peer[0] ? r->peer : "-");
	if (r->gone)
		attroff(A_DIM);
}

static void draw_table(struct top_tui *t, int y)
{
	const struct top_frame *f = &t->frame;
	int i, n, matched, k, max_ep = 0;
	int avail = LINES - y - 3;
	struct layout l;

	if (ensure_idx(t, f->n_rows + 1))
		return;
	n = top_view__select(f, &t->view, t->idx, avail > 0 ? avail : 0,
			     &matched);
	draw_viewline(t, y, n, matched);
	for (i = 0; i < n; i++) {
		int a = strlen(f->rows[t->idx[i]].endpoint);

		max_ep = a > max_ep ? a : max_ep;
	}
	make_layout(&l, COLS, max_ep);
	bar(y + 1);
	for (k = 0; k < TOP_K_TOTAL; k++)
		cell(&l, k, A_REVERSE | (sorted_by(t, k) ? A_BOLD | A_UNDERLINE : 0),
		     cols[k].title);
	for (i = 0; i < n; i++)
		draw_row(&l, &f->rows[t->idx[i]], y + 2 + i);
	if (!n)
		put(y + 2, 0, 0, t->view.filter.kind ?
		    "no process matches the filter (x clears it)" :
		    "no active processes in this window (a shows all)");
}

/* ---- matrix ---- */

static __u64 name_key(const char *s)
{
	__u64 h = 1469598103934665603ull;

	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 1099511628211ull;
	return h;
}

/* Name -> index+1 among the matrix endpoints; probes past collisions. */
static int name_find(struct hmap *h, char **names, const char *s)
{
	__u64 k = name_key(s);
	long v;

	for (;; k++) {
		v = (long)hmap__get(h, k);
		if (!v)
			return -1;
		if (!strcmp(names[v - 1], s))
			return v - 1;
	}
}

static void name_add(struct hmap *h, char **names, int i)
{
	__u64 k = name_key(names[i]);

	while (hmap__get(h, k))
		k++;
	hmap__put(h, k, (void *)(long)(i + 1));
}

static void matrix_cell(double bps, int w, attr_t a)
{
	char b[32];

	if (bps <= 0)
		snprintf(b, sizeof(b), ".");
	else if (bps < 5000)
		snprintf(b, sizeof(b), "<0.01");
	else
		snprintf(b, sizeof(b), "%.2f", bps / 1e6);
	app(a, " %*s", w, b);
}

/* Endpoints of the matrix: shown rows, in view order, that moved bytes. */
static int matrix_names(struct top_tui *t, char **names, int max)
{
	const struct top_frame *f = &t->frame;
	int i, n, k = 0;

	n = top_view__select(f, &t->view, t->idx, -1, NULL);
	for (i = 0; i < n && k < max; i++) {
		const struct top_row *r = &f->rows[t->idx[i]];

		if (r->rx_bytes || r->tx_bytes)
			names[k++] = (char *)r->endpoint;
	}
	return k;
}

static void matrix_body(struct top_tui *t, int y, char **names, int k,
			int lw, int cw)
{
	const struct top_frame *f = &t->frame;
	struct hmap *h = hmap__new();
	double *cells = calloc((size_t)k * (k + 1), sizeof(double));
	int i, j;

	if (!h || !cells)
		goto out;
	for (i = 0; i < k; i++)
		name_add(h, names, i);
	for (i = 0; i < f->n_flows; i++) {
		int s = name_find(h, names, f->flows[i].src);
		int d = name_find(h, names, f->flows[i].dst);

		if (s >= 0)
			cells[s * (k + 1) + (d >= 0 ? d : k)] += f->flows[i].bps;
	}
	bar(y);
	app(A_REVERSE, "%-*s", lw, "FROM \\ TO (MB/s)");
	for (j = 0; j < k; j++) {
		char lab[16];

		snprintf(lab, sizeof(lab), "#%d", j + 1);
		app(A_REVERSE, " %*s", cw, lab);
	}
	app(A_REVERSE, " %*s", cw, "elsewhere");
	for (i = 0; i < k; i++) {
		char fit[XT_NAME_LEN + 2];

		at(y + 1 + i, 0);
		app(0, "#%-2d %-*.*s", i + 1, lw - 4, lw - 4,
		    fit_name(fit, sizeof(fit), names[i], lw - 4));
		for (j = 0; j <= k; j++)
			matrix_cell(cells[i * (k + 1) + j], cw,
				    i == j ? A_DIM : 0);
	}
out:
	free(cells);
	hmap__free(h);
}

static void draw_matrix(struct top_tui *t, int y)
{
	const struct top_frame *f = &t->frame;
	int k, kw, kh, lw = 34, cw = 9, maxk;
	char **names;

	put(y, 0, A_BOLD, "MATRIX");
	app(0, "  MB/s each process sent (row) to each other (column) in the last %.2f s; 'elsewhere' = not in the table.  m: back",
	    f->window_ns / 1e9);
	/* Row labels take a third of a narrow screen, at least 16 columns. */
	if (lw > COLS / 3)
		lw = COLS / 3 < 16 ? 16 : COLS / 3;
	kw = (COLS - lw - cw - 1) / (cw + 1);
	kh = LINES - y - 4;
	maxk = kw < kh ? kw : kh;
	if (maxk < 1) {
		put(y + 2, 0, 0, "window too small for the matrix");
		return;
	}
	if (ensure_idx(t, f->n_rows + 1))
		return;
	names = calloc(maxk, sizeof(*names));
	if (!names)
		return;
	k = matrix_names(t, names, maxk);
	if (!k)
		put(y + 2, 0, 0, "no process moved bytes in this window");
	else
		matrix_body(t, y + 1, names, k, lw, cw);
	free(names);
}

/* ---- trials ---- */

static double endpoint_rate(const struct top_frame *f, struct hmap *h,
			    const char *ep, bool *found)
{
	__u64 k = name_key(ep);
	long v;

	for (;; k++) {
		v = (long)hmap__get(h, k);
		if (!v)
			break;
		if (!strcmp(f->rows[v - 1].endpoint, ep)) {
			*found = true;
			return f->rows[v - 1].rx_bps + f->rows[v - 1].tx_bps;
		}
	}
	*found = false;
	return 0;
}

static void trial_line(const struct top_frame *f, struct hmap *h,
		       const struct top_trial *tr, int y)
{
	double age = f->end_mono_ns > tr->begin_ns ?
		     (f->end_mono_ns - tr->begin_ns) / 1e9 : 0;
	bool found;
	double r;
	int j;

	at(y, 0);
	app(0, "%-20.20s %8.1f %5d %5d ", tr->param_id, age, tr->n_sim,
	    tr->n_agg);
	if (!tr->n_workers)
		app(A_DIM, "(no SIM/AGG marks yet)");
	for (j = 0; j < tr->n_workers; j++) {
		r = endpoint_rate(f, h, tr->workers[j], &found);
		if (found)
			app(0, " %s (%.2f MB/s)", tr->workers[j], r / 1e6);
		else
			app(A_DIM, " %s (idle)", tr->workers[j]);
	}
}

static void draw_trials(struct top_tui *t, int y)
{
	const struct top_frame *f = &t->frame;
	struct hmap *h;
	int i, n;

	put(y, 0, A_BOLD, "TRIALS");
	if (!t->marks_on) {
		app(0, "  no marks socket: start top with --marks-socket PATH and send marks there.  t: back");
		return;
	}
	app(0, "  %d active (TRIAL_BEGIN without TRIAL_END), %llu marks received.  t: back",
	    f->n_trials, (unsigned long long)f->n_marks);
	bar(y + 1);
	app(A_REVERSE, "%-20s %8s %5s %5s  %s", "PARAM_ID", "AGE(s)", "SIM",
	    "AGG", "WORKERS (MB/s now)");
	h = hmap__new();
	if (!h)
		return;
	for (i = 0; i < f->n_rows; i++) {
		__u64 k = name_key(f->rows[i].endpoint);

		while (hmap__get(h, k))
			k++;
		hmap__put(h, k, (void *)(long)(i + 1));
	}
	n = LINES - y - 3;
	/* Newest first. */
	for (i = 0; i < f->n_trials && i < n; i++)
		trial_line(f, h, &f->trials[f->n_trials - 1 - i], y + 2 + i);
	if (!f->n_trials)
		put(y + 2, 0, 0, "no active trials");
	hmap__free(h);
}

/* ---- help and status ---- */

static const char *const help_lines[] = {
	"xfertrace top - keys",
	"",
	"  q          quit",
	"  h  ?       this help (any key closes it)",
	"  p          pause / resume the display (collection goes on)",
	"  s  >       sort by the next column",
	"  <          sort by the previous column",
	"  1..9  0    sort by column: 1 endpoint  2 pid  3 role  4 rx  5 tx  6 cpu",
	"             7 runq  8 active  9 connections  0 total bytes/s (default)",
	"  r          reverse the sort order",
	"  /          filter: part of an endpoint, a port (40001 or port:40001) or a",
	"             role (worker, role:client, gone); Enter applies, Esc cancels",
	"  x          clear the filter",
	"  m          matrix of MB/s between processes (flows in the last window)",
	"  t          active trials and their workers (needs --marks-socket)",
	"  a          show every process / only active ones",
	"  Esc        back to the process table",
	"",
	"Columns: RX/TX MB/s bytes received/sent per second; CPU% of one core;",
	"RUNQ% time runnable but waiting for a CPU; ACT% time inside transfer",
	"bursts; CONNS live connections; TOP PEER the peer with most bytes.",
	"Rows: processes that listen, moved bytes or used CPU in the window.",
};

static void draw_help(void)
{
	size_t i;

	for (i = 0; i < sizeof(help_lines) / sizeof(help_lines[0]); i++)
		put(i, 0, i ? 0 : A_BOLD, "%s", help_lines[i]);
}

static void draw_status(struct top_tui *t)
{
	int y = LINES - 1;
	bool msg = t->msg[0] && now_mono_ns() - t->msg_at < MSG_SHOW_NS;

	if (t->prompt) {
		put(y, 0, A_BOLD, "filter: ");
		app(0, "%s", t->input);
		app(A_REVERSE, " ");
		app(A_DIM, "   Enter applies, Esc cancels");
	} else if (msg) {
		put(y, 0, t->msg_err ? alert_attr(t) : A_BOLD, "%s", t->msg);
	} else {
		put(y, 0, A_DIM, "h help  q quit  / filter  s sort  m matrix  t trials  p pause");
	}
}

static void render(struct top_tui *t)
{
	int y;

	erase();
	if (t->help) {
		draw_help();
		draw_status(t);
		refresh();
		return;
	}
	if (!t->have_frame) {
		put(0, 0, A_BOLD, "xfertrace top");
		app(0, " - collecting, first frame in %.1f s", t->delay_s);
		draw_status(t);
		refresh();
		return;
	}
	y = draw_header(t) + 1;
	if (t->mode == MODE_MATRIX)
		draw_matrix(t, y);
	else if (t->mode == MODE_TRIALS)
		draw_trials(t, y);
	else
		draw_table(t, y);
	draw_status(t);
	refresh();
}

/* ---- input ---- */

static void apply_filter(struct top_tui *t)
{
	struct top_filter flt;
	char err[160];

	if (top_filter__parse(t->input, &flt, err, sizeof(err))) {
		set_msg(t, true, "%s (filter unchanged)", err);
		return;
	}
	t->view.filter = flt;
	set_msg(t, false, "filter '%s'", flt.text);
}

static void prompt_key(struct top_tui *t, int ch)
{
	if (ch == '\n' || ch == '\r' || ch == KEY_ENTER) {
		t->prompt = false;
		apply_filter(t);
	} else if (ch == 27) {
		t->prompt = false;
		set_msg(t, false, "filter unchanged");
	} else if (ch == KEY_BACKSPACE || ch == 127 || ch == 8) {
		if (t->input_len)
			t->input[--t->input_len] = 0;
	} else if (ch >= 0x20 && ch < 0x7f &&
		   t->input_len < (int)sizeof(t->input) - 1) {
		t->input[t->input_len++] = ch;
		t->input[t->input_len] = 0;
	}
}

static void set_sort(struct top_tui *t, enum top_key k)
{
	t->view.sort = k;
	t->view.reverse = false;
	set_msg(t, false, "sort by %s", top_key__name(k));
}

static void toggle_mode(struct top_tui *t, enum mode m)
{
	t->mode = t->mode == m ? MODE_TABLE : m;
	if (m == MODE_TRIALS && t->mode == m && !t->marks_on)
		set_msg(t, true, "no marks socket: restart with --marks-socket PATH to follow trials");
}

static void command_key(struct top_tui *t, int ch)
{
	static const enum top_key digit_key[10] = {
		TOP_K_TOTAL, TOP_K_ENDPOINT, TOP_K_PID, TOP_K_ROLE, TOP_K_RX,
		TOP_K_TX, TOP_K_CPU, TOP_K_RUNQ, TOP_K_ACTIVE, TOP_K_CONNS,
	};

	switch (ch) {
	case 'q': case 'Q':
		t->quit = true;
		break;
	case 'h': case '?': case KEY_F(1):
		t->help = true;
		break;
	case 'p': case ' ':
		t->paused = !t->paused;
		set_msg(t, false, t->paused ? "paused: p resumes" : "resumed");
		break;
	case 's': case '>': case KEY_RIGHT:
		set_sort(t, (t->view.sort + 1) % TOP_K_N);
		break;
	case '<': case KEY_LEFT:
		set_sort(t, (t->view.sort + TOP_K_N - 1) % TOP_K_N);
		break;
	case 'r': case 'R':
		t->view.reverse = !t->view.reverse;
		set_msg(t, false, "sort order %s", t->view.reverse ?
			"reversed" : "natural");
		break;
	case '/':
		t->prompt = true;
		snprintf(t->input, sizeof(t->input), "%s", t->view.filter.text);
		t->input_len = strlen(t->input);
		break;
	case 'x': case 'X':
		memset(&t->view.filter, 0, sizeof(t->view.filter));
		set_msg(t, false, "filter cleared");
		break;
	case 'm': case 'M':
		toggle_mode(t, MODE_MATRIX);
		break;
	case 't': case 'T':
		toggle_mode(t, MODE_TRIALS);
		break;
	case 'a': case 'A':
		t->show_all = !t->show_all;
		set_msg(t, false, t->show_all ? "showing every process from the next frame" :
			"showing active processes from the next frame");
		break;
	case 27:
		t->mode = MODE_TABLE;
		break;
	case KEY_RESIZE: case 12:	/* Ctrl-L */
		clearok(curscr, TRUE);
		break;
	default:
		if (ch >= '0' && ch <= '9') {
			set_sort(t, digit_key[ch - '0']);
			break;
		}
		set_msg(t, true, "unknown key '%s' (h shows the keys)",
			keyname(ch) ? keyname(ch) : "?");
	}
}

bool top_tui__input(struct top_tui *t)
{
	bool dirty = false;
	int ch;

	while ((ch = getch()) != ERR) {
		dirty = true;
		if (ch == KEY_RESIZE)
			continue;
		if (t->prompt)
			prompt_key(t, ch);
		else if (t->help)
			t->help = false, t->quit = ch == 'q' || ch == 'Q';
		else
			command_key(t, ch);
		if (t->quit)
			return true;
	}
	/* Let an expired message give way to the key hints. */
	if (t->msg[0] && now_mono_ns() - t->msg_at >= MSG_SHOW_NS) {
		t->msg[0] = 0;
		dirty = true;
	}
	if (dirty)
		render(t);
	return t->quit;
}

void top_tui__frame(struct top_tui *t, struct top_frame *f)
{
	if (t->paused && t->have_frame) {
		top_frame__free(f);
		render(t);		/* the status line may change */
		return;
	}
	top_frame__free(&t->frame);
	t->frame = *f;
	memset(f, 0, sizeof(*f));
	t->have_frame = true;
	render(t);
}

bool top_tui__show_all(const struct top_tui *t)
{
	return t->show_all;
}

static bool want_color(void)
{
	const char *nc = getenv("NO_COLOR");

	return has_colors() && !(nc && *nc);
}

int top_tui__new(const struct top_tui_opts *o, struct top_tui **out)
{
	struct top_tui *t = calloc(1, sizeof(*t));

	if (!t)
		return -ENOMEM;
	t->view = o->view;
	t->show_all = o->show_all;
	t->marks_on = o->marks_on;
	t->delay_s = o->delay_s;
	if (!initscr()) {
		free(t);
		return -ENOTTY;
	}
	cbreak();
	noecho();
	nonl();
	keypad(stdscr, TRUE);
	nodelay(stdscr, TRUE);
	set_escdelay(25);
	curs_set(0);
	t->color = want_color();
	if (t->color) {
		start_color();
		use_default_colors();
		init_pair(PAIR_ALERT, COLOR_RED, -1);
		init_pair(PAIR_WARN, COLOR_YELLOW, -1);
	}
	render(t);
	*out = t;
	return 0;
}

void top_tui__free(struct top_tui *t)
{
	if (!t)
		return;
	endwin();
	top_frame__free(&t->frame);
	free(t->idx);
	free(t);
}
