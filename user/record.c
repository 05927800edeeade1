// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * `xfertrace record [-o FILE] [--interval MS] [--duration S]
 *  [--marks-socket PATH [--marks-group GROUP]] [--hooks H]
 *  [--burst-gap-ms MS] [--dry-run]
 *  [-- COMMAND ARGS...]`: trace until the command exits, the duration
 * ends, or SIGINT/SIGTERM arrives; a second signal exits at once.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include "collector.h"
#include "commands.h"
#include "marksock.h"
#include "trace.h"
#include "util.h"

struct record_opts {
	const char *out;
	__u64 interval_ms;
	double duration_s;
	struct xt_paths paths;
	__u64 burst_gap_ms;
	const char *marks_path;
	gid_t marks_group;	/* (gid_t)-1: leave the socket's group alone */
	bool dry_run;
	__u64 max_conns;
	__u64 max_threads;
	char detail[4096];	/* --detail values, comma-joined */
	char **cmd;
};

static volatile sig_atomic_t stop_signals;
static volatile sig_atomic_t child_done;

static void on_stop(int sig)
{
	if (++stop_signals > 1)
		_exit(128 + sig);
}

static void on_child(int sig)
{
	child_done = 1;
}

static void usage(FILE *f)
{
	fprintf(f,
		"usage: xfertrace record [-o FILE] [--interval MS] [--duration S]\n"
		"                        [--marks-socket PATH [--marks-group GROUP]]\n"
		"                        [--burst-gap-ms MS] [--dry-run]\n"
		"                        [--max-conns N] [--max-threads N] [path options]\n"
		"                        [--detail PID|tcp://IP:PORT|:PORT|endpoints|all|none]...\n"
		"                        [-- COMMAND ARGS...]\n"
		"path options (each fork of collection; --strict makes an unavailable one an error):\n"
		XT_PATH_USAGE);
}

static int parse_args(int argc, char **argv, struct record_opts *o)
{
	static const struct option opts[] = {
		{ "output", required_argument, NULL, 'o' },
		{ "interval", required_argument, NULL, 'i' },
		{ "duration", required_argument, NULL, 'd' },
		{ "burst-gap-ms", required_argument, NULL, 'g' },
		{ "marks-socket", required_argument, NULL, 'm' },
		{ "marks-group", required_argument, NULL, 'G' },
		{ "dry-run", no_argument, NULL, 'n' },
		{ "max-conns", required_argument, NULL, 'C' },
		{ "max-threads", required_argument, NULL, 'T' },
		{ "detail", required_argument, NULL, 'D' },
		{ "help", no_argument, NULL, 'h' },
		XT_PATH_LONGOPTS,
		{},
	};
	int c, err;

	if (paths__from_env(&o->paths))
		return -EINVAL;
	optind = 1;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "+o:i:d:h", opts, NULL)) != -1) {
		switch (c) {
		case 'o':
			o->out = optarg;
			break;
		case 'i':
			if (parse_u64(optarg, 10, 60000, &o->interval_ms)) {
				p_err("record: --interval takes milliseconds from 10 to 60000, not '%s'",
				      optarg);
				return -EINVAL;
			}
			break;
		case 'd':
			if (parse_double(optarg, 0.001, 31 * 86400.0,
					 &o->duration_s)) {
				p_err("record: --duration takes seconds greater than 0, not '%s'",
				      optarg);
				return -EINVAL;
			}
			break;
		case 'g':
			if (parse_u64(optarg, 0, 10000, &o->burst_gap_ms)) {
				p_err("record: --burst-gap-ms takes 0 to 10000, not '%s'",
				      optarg);
				return -EINVAL;
			}
			break;
		case 'm':
			o->marks_path = optarg;
			break;
		case 'G':
			if (marksock__parse_group(optarg, &o->marks_group)) {
				p_err("record: --marks-group: no group '%s' (give a name or a number)",
				      optarg);
				return -EINVAL;
			}
			break;
		case 'n':
			o->dry_run = true;
			break;
		case 'C':
		case 'T':
			if (parse_u64(optarg, 1024, 1 << 22,
				      c == 'C' ? &o->max_conns : &o->max_threads)) {
				p_err("record: --max-%s takes 1024 to 4194304, not '%s'",
				      c == 'C' ? "conns" : "threads", optarg);
				return -EINVAL;
			}
			break;
		case 'D':
			/* Repeatable: each adds to the selection. */
			if (strlen(o->detail) + strlen(optarg) + 2 >
			    sizeof(o->detail) || !*optarg) {
				p_err("record: --detail list too long or empty");
				return -EINVAL;
			}
			if (*o->detail)
				strcat(o->detail, ",");
			strcat(o->detail, optarg);
			break;
		case 'h':
			usage(stdout);
			return 1;
		default:
			err = paths__opt(&o->paths, c, optarg, "record");
			if (err < 0)
				return err;
			if (!err)
				break;
			p_err("record: unknown or incomplete option '%s' (try --help)",
			      argv[optind - 1]);
			return -EINVAL;
		}
	}
	if (optind < argc)
		o->cmd = argv + optind;
	if (o->dry_run && (o->cmd || o->duration_s)) {
		p_err("record: --dry-run loads and exits; it takes no command or --duration");
		return -EINVAL;
	}
	if (!*o->out) {
		p_err("record: -o needs a file name");
		return -EINVAL;
	}
	if (o->marks_group != (gid_t)-1 && !o->marks_path) {
		p_err("record: --marks-group needs --marks-socket");
		return -EINVAL;
	}
	return 0;
}

static pid_t spawn(char **cmd)
{
	pid_t pid = fork();

	if (pid == 0) {
		signal(SIGINT, SIG_DFL);
		signal(SIGTERM, SIG_DFL);
		signal(SIGCHLD, SIG_DFL);
		execvp(cmd[0], cmd);
		p_err("record: cannot run '%s': %s", cmd[0], strerror(errno));
		_exit(127);
	}
	return pid;
}

static void install_signals(void)
{
	struct sigaction sa = { .sa_handler = on_stop };

	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sa.sa_handler = on_child;
	sa.sa_flags = SA_NOCLDSTOP;
	sigaction(SIGCHLD, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
}

/* What record's loop keeps between wakeups. */
struct rec_loop {
	struct collector *c;
	struct trace_writer *w;
	pid_t child;
	int *child_status;
	__u64 flush_at, deadline;
};

static int rec_tick(void *ctx)
{
	return collector__harvest(((struct rec_loop *)ctx)->c);
}

/* A chunk to disk every second; stop when the command or time is up. */
static int rec_wake(void *ctx)
{
	struct rec_loop *l = ctx;
	__u64 now = now_mono_ns();
	int err;

	if (now >= l->flush_at) {
		err = trace_writer__flush(l->w);
		if (err)
			return err;
		l->flush_at = now + 1000000000ull;
	}
	if (l->child > 0 && child_done &&
	    waitpid(l->child, l->child_status, WNOHANG) == l->child)
		return 1;
	return l->deadline && now >= l->deadline;
}

/* Poll, harvest on the interval, until asked to stop. */
static int run_loop(struct collector *c, struct trace_writer *w,
		    struct marksock *ms, const struct record_opts *o,
		    pid_t child, int *child_status)
{
	__u64 now = now_mono_ns();
	struct rec_loop l = {
		.c = c, .w = w, .child = child, .child_status = child_status,
		.flush_at = now + 1000000000ull,
		.deadline = o->duration_s ? now + o->duration_s * 1e9 : 0,
	};
	struct collector_run r = {
		.interval_ns = o->interval_ms * 1000000ull,
		.ms = ms,
		.face_fd = -1,
		.stop = &stop_signals,
		.tick = rec_tick,
		.wake = rec_wake,
		.ctx = &l,
	};

	return collector__run(c, &r);
}

static int exit_status(int status)
{
	if (WIFEXITED(status))
		return WEXITSTATUS(status);
	if (WIFSIGNALED(status))
		return 128 + WTERMSIG(status);
	return 1;
}

/*
 * The default directory is ours: 0750, and with --marks-group in that
 * group, so members can reach the socket and nobody else can.
 */
static void make_default_dir(gid_t group)
{
	int fd;

	mkdir("/run/xfertrace", 0750);
	if (group == (gid_t)-1)
		return;
	fd = open("/run/xfertrace", O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return;
	if (fchown(fd, -1, group) || fchmod(fd, 0750))
		p_warn("record: cannot give /run/xfertrace to group %u: %s",
		       (unsigned)group, strerror(errno));
	close(fd);
}

static int open_marks(const char *path, gid_t group, struct marksock **ms)
{
	int err;

	if (!strcmp(path, XT_MARKS_DEFAULT_PATH))
		make_default_dir(group);
	err = marksock__open_group(path, group, ms);
	if (err)
		p_err("record: cannot listen for marks on %s: %s", path,
		      marksock__strerror(err));
	return err;
}

static const char *out_strerror(int err)
{
	switch (err) {
	case -ELOOP:
		return "it is a symbolic link; give the real path";
	case -EISDIR:
		return "it is a directory";
	case -EEXIST:
		return "it is not a regular file";
	default:
		return strerror(-err);
	}
}

static void write_failed(const struct record_opts *o, int err, __u64 kept,
			 bool committed, pid_t child)
{
	int status;

	/* One line: what failed, what the file keeps, what still runs. */
	if (!committed)
		p_err("record: writing %s failed: %s", o->out, strerror(-err));
	else if (child > 0 && waitpid(child, &status, WNOHANG) == 0)
		p_err("record: writing %s failed: %s; it keeps the %llu bytes written before; '%s' (pid %d) is still running",
		      o->out, strerror(-err), (unsigned long long)kept,
		      o->cmd[0], child);
	else
		p_err("record: writing %s failed: %s; it keeps the %llu bytes written before",
		      o->out, strerror(-err), (unsigned long long)kept);
}

/*
 * Header to a temporary file, marks socket, first harvest; only when all
 * of them worked is the trace renamed onto -o (a failed start leaves
 * whatever was there untouched). Prints its own errors.
 */
static int start_trace(struct collector *c, const struct record_opts *o,
		       struct trace_writer **w, struct marksock **ms)
{
	json_t *hdr = collector__header(c);
	int err;

	err = trace_writer__open(o->out, hdr, w);
	json_decref(hdr);
	if (err) {
		p_err("record: cannot write %s: %s", o->out, out_strerror(err));
		return err;
	}
	collector__set_sink(c, trace_writer__sink, *w);
	if (o->marks_path) {
		err = open_marks(o->marks_path, o->marks_group, ms);
		if (err)
			return err;
	}
	/* First harvest before the command starts: listeners are known. */
	err = collector__harvest(c);
	if (err) {
		write_failed(o, err, 0, false, -1);
		return err;
	}
	err = trace_writer__commit(*w);
	if (err)
		p_err("record: cannot write %s: %s", o->out, out_strerror(err));
	return err;
}

int cmd_record(int argc, char **argv)
{
	struct record_opts o = {
		.out = "xfertrace.xft",
		.interval_ms = 100,
		.burst_gap_ms = 5,
		.marks_group = (gid_t)-1,
	};
	struct collector_opts co = {};
	struct trace_writer *w = NULL;
	struct collector *c = NULL;
	struct marksock *ms = NULL;
	int err, status = 0, ret = 1;
	const struct xt_hooks *hk;
	pid_t child = -1;
	__u64 kept;

	err = parse_args(argc, argv, &o);
	if (err)
		return err > 0 ? 0 : 2;
	co.interval_ms = o.interval_ms;
	co.burst_gap_ns = o.burst_gap_ms * 1000000ull;
	co.paths = o.paths;
	co.dry_run = o.dry_run;
	co.max_conns = o.max_conns;
	co.max_threads = o.max_threads;
	co.detail = o.detail;
	co.sink = trace_writer__sink;
	err = collector__new(&co, &c);
	if (err)
		return 1;
	if (o.dry_run) {
		fprintf(stderr, "xfertrace: dry run: BPF programs load and verify\n");
		ret = 0;
		goto cleanup;
	}
	/* From here a signal stops recording in order, never mid-start. */
	install_signals();
	if (start_trace(c, &o, &w, &ms))
		goto cleanup;
	hk = collector__hooks(c);
	fprintf(stderr, "xfertrace: recording to %s (tcp-bytes=%s cpu=%s tcp-state=%s harvest=%s discovery=%s clock=%s)%s\n",
		o.out, hook_name(hk->use[XT_C_SOCK]),
		hook_name(hk->use[XT_C_SCHED]), hook_name(hk->use[XT_C_STATE]),
		harvest_name(hk->harvest), discovery_name(hk->discovery),
		hk->coarse_clock ? "coarse" : "precise",
		o.cmd ? "" : "; Ctrl-C to stop");
	if (o.cmd && !stop_signals) {
		child = spawn(o.cmd);
		if (child < 0) {
			p_err("record: fork failed: %s", strerror(errno));
			goto cleanup;
		}
	}
	err = run_loop(c, w, ms, &o, child, &status);
	/* Marks sent before the end are in the trace, however early it came. */
	marksock__finish(ms, c);
	/* Final harvest: whatever the loop ended on, keep what was counted. */
	collector__stop(c);
	if (!err)
		err = collector__harvest(c);
	else
		collector__harvest(c);
	kept = trace_writer__written(w);
	if (!err) {
		err = trace_writer__close(w);
		w = NULL;
	}
	if (err) {
		write_failed(&o, err, kept, true, child);
		goto cleanup;
	}
	ret = 0;
	if (child > 0 && !stop_signals && waitpid(child, &status, WNOHANG) != 0)
		ret = exit_status(status);
	else if (child > 0)
		fprintf(stderr, "xfertrace: stopped; '%s' (pid %d) is still running\n",
			o.cmd[0], child);
cleanup:
	/* Uncommitted (a failed start): removed; else closed, kept. */
	if (w && (ret ? trace_writer__discard(w) : trace_writer__close(w)))
		ret = 1;
	marksock__free(ms);
	collector__free(c);
	return ret;
}
