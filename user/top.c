// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * `xfertrace top [-d SEC] [-n N] [-b] [--json] [-a] [--sort KEY]
 *  [--filter TEXT] [--rows N] [--marks-socket PATH [--marks-group G]]
 *  [--hooks H]`:
 * live view over the same collection core as record. The collector's
 * sink is the model; every refresh harvests, resolves, turns the model's
 * window fields into rates, renders, resets the window and prunes what
 * went away. Full-screen on a terminal (top_tui.c), plain-text frames
 * with -b, NDJSON with --json. See docs/top.md.
 */
#include <errno.h>
#include <getopt.h>
#include <locale.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>
#include "collector.h"
#include "commands.h"
#include "marksock.h"
#include "model.h"
#include "top_frame.h"
#include "top_tui.h"
#include "util.h"

enum top_out { OUT_TUI, OUT_TEXT, OUT_JSON };

struct top_opts {
	double delay_s;
	__u64 frames;			/* 0: until stopped */
	enum top_out out;
	bool batch_flag;
	bool json_flag;
	bool all;
	struct top_view view;
	const char *marks_path;
	gid_t marks_group;
	struct xt_paths paths;
};

struct top_state {
	const struct top_opts *o;
	struct collector *c;
	struct model *m;
	struct marksock *ms;
	struct top_tui *tui;
	struct top_trials trials;
	__u64 seq;
	__u64 frames;			/* shown so far */
};

static volatile sig_atomic_t stop_signals;

/* As record: the first signal stops cleanly, a second exits at once. */
static void on_stop(int sig)
{
	if (++stop_signals > 1)
		_exit(128 + sig);
}

static void usage(FILE *f)
{
	fprintf(f,
		"usage: xfertrace top [-d SEC] [-n N] [-b | --json] [-a] [--sort KEY] [--reverse]\n"
		"                     [--filter TEXT] [--rows N] [--marks-socket PATH]\n"
		"                     [--marks-group GROUP]\n"
		"                     [path options, as for record]\n"
		"  -d SEC    refresh interval in seconds (default 1, 0.1 to 3600)\n"
		"  -n N      stop after N frames\n"
		"  -b        plain-text frames (the default when stdout is not a terminal)\n"
		"  --json    one JSON object per frame (NDJSON)\n"
		"  -a        every process, idle ones too\n"
		"  --sort    total (default), rx, tx, cpu, runq, active, connections,\n"
		"            endpoint, pid, role, peer\n"
		"  --filter  part of an endpoint, a port, or a role (as the / key)\n"
		"  --rows N  at most N rows per frame (batch and JSON)\n"
		"Keys in the full-screen view: h shows them.\n");
}

static int bad_arg(const char *fmt, const char *what, const char *val)
{
	char buf[256];

	snprintf(buf, sizeof(buf), fmt, what);
	p_err("top: %s, not '%s'", buf, val);
	return -EINVAL;
}

static int parse_value(int c, const char *arg, struct top_opts *o)
{
	char err[160];
	__u64 v;

	switch (c) {
	case 'd':
		if (parse_double(arg, 0.1, 3600, &o->delay_s))
			return bad_arg("-d takes %s", "seconds from 0.1 to 3600", arg);
		return 0;
	case 'n':
		if (parse_u64(arg, 1, 1ull << 40, &o->frames))
			return bad_arg("-n takes %s", "a number of frames of at least 1", arg);
		return 0;
	case 'R':
		if (parse_u64(arg, 1, 1000000, &v))
			return bad_arg("--rows takes %s", "a number of at least 1", arg);
		o->view.max_rows = v;
		return 0;
	case 's':
		if (top_key__parse(arg, &o->view.sort))
			return bad_arg("--sort takes %s", "total, rx, tx, cpu, runq, active, connections, endpoint, pid, role or peer", arg);
		return 0;
	case 'f':
		if (top_filter__parse(arg, &o->view.filter, err, sizeof(err))) {
			p_err("top: --filter: %s", err);
			return -EINVAL;
		}
		return 0;
	case 'm':
		if (!*arg) {
			p_err("top: --marks-socket needs a path");
			return -EINVAL;
		}
		o->marks_path = arg;
		return 0;
	case 'G':
		if (marksock__parse_group(arg, &o->marks_group)) {
			p_err("top: --marks-group: no group '%s' (give a name or a number)",
			      arg);
			return -EINVAL;
		}
		return 0;
	}
	return -EINVAL;
}

static int parse_args(int argc, char **argv, struct top_opts *o)
{
	static const struct option opts[] = {
		{ "delay", required_argument, NULL, 'd' },
		{ "iterations", required_argument, NULL, 'n' },
		{ "batch", no_argument, NULL, 'b' },
		{ "json", no_argument, NULL, 'j' },
		{ "all", no_argument, NULL, 'a' },
		{ "sort", required_argument, NULL, 's' },
		{ "reverse", no_argument, NULL, 'r' },
		{ "filter", required_argument, NULL, 'f' },
		{ "rows", required_argument, NULL, 'R' },
		{ "marks-socket", required_argument, NULL, 'm' },
		{ "marks-group", required_argument, NULL, 'G' },
		{ "help", no_argument, NULL, 'h' },
		XT_PATH_LONGOPTS,
		{},
	};
	int c, err;

	if (paths__from_env(&o->paths))
		return -EINVAL;
	optind = 1;
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":d:n:bjas:rf:h", opts, NULL)) != -1) {
		switch (c) {
		case 'b':
			o->batch_flag = true;
			break;
		case 'j':
			o->json_flag = true;
			break;
		case 'a':
			o->all = true;
			break;
		case 'r':
			o->view.reverse = true;
			break;
		case 'h':
			usage(stdout);
			return 1;
		case ':':
			p_err("top: option '%s' needs a value (try --help)",
			      argv[optind - 1]);
			return -EINVAL;
		case '?':
			p_err("top: unknown option '%s' (try --help)",
			      argv[optind - 1]);
			return -EINVAL;
		default:
			err = paths__opt(&o->paths, c, optarg, "top");
			if (err == 1)
				err = parse_value(c, optarg, o);
			if (err)
				return -EINVAL;
		}
	}
	if (optind < argc) {
		p_err("top: unexpected argument '%s' (try --help)", argv[optind]);
		return -EINVAL;
	}
	if (o->batch_flag && o->json_flag) {
		p_err("top: -b and --json are two output formats; pick one");
		return -EINVAL;
	}
	return 0;
}

/* Full screen only on a terminal; say so once when falling back. */
static void pick_output(struct top_opts *o)
{
	if (o->json_flag) {
		o->out = OUT_JSON;
	} else if (o->batch_flag) {
		o->out = OUT_TEXT;
	} else if (!isatty(STDOUT_FILENO) || !isatty(STDIN_FILENO)) {
		o->out = OUT_TEXT;
		fprintf(stderr, "xfertrace: %s is not a terminal: printing plain-text frames (batch mode, as with -b)\n",
			isatty(STDOUT_FILENO) ? "stdin" : "stdout");
	} else {
		o->out = OUT_TUI;
	}
}

static int emit_frame(struct top_state *s, struct top_frame *f)
{
	json_t *j;
	int err = 0;

	switch (s->o->out) {
	case OUT_TUI:
		top_tui__frame(s->tui, f);
		return 0;
	case OUT_TEXT:
		err = top_print_text(stdout, f, &s->o->view);
		break;
	case OUT_JSON:
		j = top_frame__json(f, &s->o->view);
		if (!j)
			return -ENOMEM;
		if (json_dumpf(j, stdout, JSON_COMPACT | JSON_PRESERVE_ORDER))
			err = errno == EPIPE ? -EPIPE : -EIO;
		json_decref(j);
		fputc('\n', stdout);
		break;
	}
	if (!err && (fflush(stdout) || ferror(stdout)))
		err = errno ? -errno : -EIO;
	return err;
}

/* One refresh: harvest, resolve, rates, render, new window, prune. */
static int tick(struct top_state *s)
{
	struct top_build_opts bo = {
		.show_all = s->tui ? top_tui__show_all(s->tui) : s->o->all,
		.marks_on = s->ms != NULL,
	};
	struct top_frame f;
	int err;

	err = collector__harvest(s->c);
	if (err)
		return err;
	model__resolve(s->m);
	err = top_frame__build(&f, s->m, &bo, &s->trials);
	if (err)
		return err;
	f.seq = ++s->seq;
	err = emit_frame(s, &f);
	top_frame__free(&f);
	model__window_reset(s->m, s->m->last_ns);
	model__prune(s->m, s->m->last_ns);
	/* The frame has folded the marks into its trial table: let them go. */
	model__drop_marks(s->m);
	s->trials.next_mark = 0;
	return err;
}

/* Keys, and KEY_RESIZE after a SIGWINCH cut poll short. */
static int top_wake(void *ctx)
{
	struct top_state *s = ctx;

	return s->tui && top_tui__input(s->tui) ? 1 : 0;
}

/* A frame; the last one when -n is reached. */
static int top_tick(void *ctx)
{
	struct top_state *s = ctx;
	int err = tick(s);

	if (err)
		return err;
	return s->o->frames && ++s->frames >= s->o->frames;
}

static int run_loop(struct top_state *s)
{
	struct collector_run r = {
		.interval_ns = s->o->delay_s * 1e9,
		.ms = s->ms,
		.face_fd = s->tui ? STDIN_FILENO : -1,
		.stop = &stop_signals,
		.tick = top_tick,
		.wake = top_wake,
		.ctx = s,
	};

	return collector__run(s->c, &r);
}

static int open_marks(struct top_state *s)
{
	const char *path = s->o->marks_path;
	int err;

	err = marksock__open_group(path, s->o->marks_group, &s->ms);
	if (err == -EADDRINUSE)
		p_err("top: %s is in use (a running record?); give top its own --marks-socket path",
		      path);
	else if (err)
		p_err("top: cannot listen for marks on %s: %s", path,
		      marksock__strerror(err));
	return err;
}

static void install_signals(void)
{
	struct sigaction sa = { .sa_handler = on_stop };

	/* Before initscr(): ncurses then leaves these to us. */
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
}

static int setup(struct top_state *s, struct top_opts *o)
{
	struct collector_opts co = {
		.interval_ms = o->delay_s * 1000,
		.burst_gap_ns = 5000000ull,
		.paths = o->paths,
		.sink = model__sink,
	};
	json_t *hdr;
	int err;

	s->m = model__new();
	if (!s->m)
		return -ENOMEM;
	co.sink_ctx = s->m;
	err = collector__new(&co, &s->c);
	if (err)
		return err;
	hdr = collector__header(s->c);
	model__set_header(s->m, hdr);
	json_decref(hdr);
	if (o->marks_path) {
		err = open_marks(s);
		if (err)
			return err;
	}
	/* Listeners known, counters zero: the first window starts here. */
	err = collector__harvest(s->c);
	if (err)
		return err;
	model__window_reset(s->m, s->m->last_ns);
	if (o->out == OUT_TUI) {
		struct top_tui_opts to = {
			.view = o->view,
			.show_all = o->all,
			.marks_on = s->ms != NULL,
			.delay_s = o->delay_s,
		};

		setlocale(LC_ALL, "");
		err = top_tui__new(&to, &s->tui);
		if (err)
			p_err("top: cannot start the full-screen view: %s (try -b)",
			      strerror(-err));
	}
	return err;
}

int cmd_top(int argc, char **argv)
{
	struct top_opts o = { .delay_s = 1, .view.sort = TOP_K_TOTAL,
			      .marks_group = (gid_t)-1 };
	struct top_state s = { .o = &o };
	int err, ret = 1;

	err = parse_args(argc, argv, &o);
	if (err)
		return err > 0 ? 0 : 2;
	pick_output(&o);
	install_signals();
	err = setup(&s, &o);
	if (!err) {
		err = run_loop(&s);
		top_tui__free(s.tui);
		s.tui = NULL;
		if (err == -EPIPE)
			ret = 0;	/* the reader went away: done */
		else if (err)
			p_err("top: %s", strerror(-err));
		else
			ret = 0;
	}
	top_tui__free(s.tui);
	top_trials__free(&s.trials);
	marksock__free(s.ms);
	collector__free(s.c);
	model__free(s.m);
	return ret;
}
