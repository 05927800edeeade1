/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * Marks: timing lines the workload logs (SIM_TIMING, AGG_TIMING,
 * TRIAL_BEGIN, TRIAL_END), read from a log file (`report --marks FILE|-`)
 * or received as UNIX datagrams while recording.
 *
 * Line grammar (see marks.c for the details):
 *   [RFC3339-timestamp SP] [any prefix] MARKER[:] {SP key=value}
 * The marker is found anywhere in the line, as a whole word. Fields are
 * space separated, in any order; unknown keys and tokens without '=' are
 * ignored.
 */
#ifndef XT_MARKS_H
#define XT_MARKS_H

#include <linux/types.h>
#include <stddef.h>
#include <stdio.h>

enum xt_mark_kind {
	XT_MARK_SIM = 1,	/* SIM_TIMING */
	XT_MARK_AGG,		/* AGG_TIMING */
	XT_MARK_TRIAL_BEGIN,	/* TRIAL_BEGIN */
	XT_MARK_TRIAL_END,	/* TRIAL_END */
};

#define XT_MARK_ID_LEN		64
#define XT_MARK_WORKER_LEN	128

/* Plain, fixed size, no implicit padding: can be stored in a trace file. */
struct xt_mark {
	__u32 kind;			/* enum xt_mark_kind */
	__u32 has_ts;			/* line carried an RFC3339 timestamp */
	__u64 ts_unix_ns;		/* that timestamp, UTC; 0 if none */
	char param_id[XT_MARK_ID_LEN];
	char run_id[XT_MARK_ID_LEN];
	char target[XT_MARK_ID_LEN];
	char worker[XT_MARK_WORKER_LEN]; /* tcp://IP:PORT, tcp://[v6]:PORT */
	__u64 seed;
	__u32 n_sim_returns;
	__u32 n_outputs;
	double total_inline_mb;
	double max_single_kb;
	double duration_ms;
};

/* Longest line accepted, excluding the line terminator. */
#define XT_MARK_LINE_MAX	4096
/* Enough room for any reason mark__parse() writes to err. */
#define XT_MARK_ERR_MAX		96

/* Limits beyond which a value is treated as absurd. */
#define XT_MARK_MAX_DURATION_MS	86400000.0	/* one day */
#define XT_MARK_MAX_SIM_RETURNS	100000
#define XT_MARK_MAX_OUTPUTS	10000000
#define XT_MARK_MAX_MB		1e6
#define XT_MARK_MAX_KB		(1e6 * 1024)

/*
 * Parse one line (len bytes, need not be NUL terminated; trailing \n, \r
 * and NUL bytes are dropped). Returns 1 and fills *out for a mark, 0 for a
 * line that is not a mark, -EINVAL for a mark that is malformed, with a
 * short reason in err (err may be NULL; it is "" unless -EINVAL). out may
 * be NULL to only classify. Reentrant.
 */
int mark__parse(const char *line, size_t len, struct xt_mark *out,
		char *err, size_t errlen);

/*
 * Write m as a line (no newline) that mark__parse() reads back to an
 * equal struct. Returns the length like snprintf, or -EINVAL.
 */
int mark__format(const struct xt_mark *m, char *buf, size_t size);

/* "SIM_TIMING", ...; "?" for an unknown kind. */
const char *mark_kind__name(__u32 kind);

/* Reader over a stream of lines. Memory use is bounded for any input. */
struct mark_file;

struct mark_file_stats {
	__u64 lines;		/* lines read = marks + ignored + bad */
	__u64 marks;
	__u64 ignored;		/* not mark lines */
	__u64 bad;		/* mark lines that were malformed */
	__u64 bad_dropped;	/* bad lines not kept in the stored list */
};

/* Called for each bad line; line numbers start at 1. */
typedef void (*mark_bad_fn)(void *ctx, __u64 line, const char *reason);

/*
 * Bytes read from one marks input at most: /dev/zero or a pipe that never
 * ends must not read forever. mark_file__next() then returns -EFBIG.
 */
#define XT_MARK_FILE_MAX	(512ull << 20)

/* Bad lines kept when no callback is set; the rest are only counted. */
#define MARK_FILE_BAD_MAX	1000

/* "-" reads stdin (not closed by mark_file__free). Returns 0 or -errno. */
int mark_file__open(const char *path_or_dash, struct mark_file **out);
/* Read from fp; fclose(fp) on free if owns_fp. Returns 0 or -errno. */
int mark_file__open_fp(FILE *fp, int owns_fp, struct mark_file **out);
/*
 * Route bad lines to fn instead of the stored list (fn NULL: back to the
 * list). Set it before the first mark_file__next().
 */
void mark_file__set_bad_cb(struct mark_file *mf, mark_bad_fn fn, void *ctx);
/*
 * Next good mark: 1 = got one, 0 = end of input, <0 = read error (-EIO or
 * -errno; returned again on later calls). Skips ignored and bad lines.
 */
int mark_file__next(struct mark_file *mf, struct xt_mark *out);
/* Line number of the last line read (the mark just returned). */
__u64 mark_file__lineno(const struct mark_file *mf);
void mark_file__stats(const struct mark_file *mf, struct mark_file_stats *st);
/* Stored bad lines: count, and the i-th (0 or -ERANGE). */
size_t mark_file__bad_count(const struct mark_file *mf);
int mark_file__bad(const struct mark_file *mf, size_t i, __u64 *line,
		   const char **reason);
/*
 * Print each stored bad line as "marks:LINE: reason", then a
 * "marks: N more bad lines" line if some were dropped.
 */
void mark_file__print_bad(const struct mark_file *mf, FILE *to);
void mark_file__free(struct mark_file *mf);

#endif /* XT_MARKS_H */
