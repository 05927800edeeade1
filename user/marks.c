// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * Parser for mark lines (see marks.h).
 *
 * A line is classified in this order:
 *  1. Trailing \n, \r and NUL bytes are dropped.
 *  2. The first marker word (SIM_TIMING, AGG_TIMING, TRIAL_BEGIN,
 *     TRIAL_END; not preceded by a letter, digit or '_'; followed by ':',
 *     a blank or the end) is searched in the first XT_MARK_LINE_MAX bytes.
 *     None: not a mark (0), whatever else the line holds.
 *  3. A mark line longer than XT_MARK_LINE_MAX, or holding a NUL byte,
 *     is malformed.
 *  4. A leading timestamp is parsed. "YYYY-MM-DDT..." must be a full
 *     RFC3339 date-time followed by a blank. "YYYY-MM-DD HH:MM:SS..." is
 *     a timestamp only if it carries a zone (Z or +hh:mm); without one it
 *     is log prefix text (Python's asctime), as is a bare date.
 *  5. key=value fields after the marker are checked against the table
 *     below; fields not defined for the kind are ignored.
 * Numbers are parsed in the C locale whatever the process locale is.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <locale.h>
#include <math.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "marks.h"

_Static_assert(sizeof(struct xt_mark) == 376, "struct xt_mark layout changed");

#define NS_PER_SEC	1000000000ULL
#define YEAR_MIN	2000
#define YEAR_MAX	2200
/* Unix seconds of 2000-01-01T00:00:00Z and 2201-01-01T00:00:00Z. */
#define UNIX_MIN	946684800LL
#define UNIX_END	7289654400LL

/* ---- small helpers ---- */

static int is_digit(int c)
{
	return c >= '0' && c <= '9';
}

static int is_alnum(int c)
{
	return is_digit(c) || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static int is_ident(int c)
{
	return is_alnum(c) || c == '_';
}

static int is_blank(int c)
{
	return c == ' ' || c == '\t';
}

__attribute__((format(printf, 3, 4)))
static int fail(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (err && errlen) {
		va_start(ap, fmt);
		vsnprintf(err, errlen, fmt, ap);
		va_end(ap);
	}
	return -EINVAL;
}

static locale_t c_locale;
static pthread_once_t c_locale_once = PTHREAD_ONCE_INIT;

static void c_locale_init(void)
{
	c_locale = newlocale(LC_ALL_MASK, "C", (locale_t)0);
}

/* The C locale, or 0 if it could not be made (then use the current one). */
static locale_t get_c_locale(void)
{
	pthread_once(&c_locale_once, c_locale_init);
	return c_locale;
}

/* ---- markers ---- */

struct marker {
	const char *name;
	size_t len;
	__u32 kind;
};

static const struct marker markers[] = {
	{ "SIM_TIMING", 10, XT_MARK_SIM },
	{ "AGG_TIMING", 10, XT_MARK_AGG },
	{ "TRIAL_BEGIN", 11, XT_MARK_TRIAL_BEGIN },
	{ "TRIAL_END", 9, XT_MARK_TRIAL_END },
};

#define N_MARKERS (sizeof(markers) / sizeof(markers[0]))

const char *mark_kind__name(__u32 kind)
{
	size_t i;

	for (i = 0; i < N_MARKERS; i++)
		if (markers[i].kind == kind)
			return markers[i].name;
	return "?";
}

/* Marker at s[i]? Returns the kind and sets *fields past it, else 0. */
static __u32 marker_at(const char *s, size_t n, size_t i, size_t *fields)
{
	const struct marker *m;
	size_t k, e;

	for (k = 0; k < N_MARKERS; k++) {
		m = &markers[k];
		if (n - i < m->len || memcmp(s + i, m->name, m->len))
			continue;
		e = i + m->len;
		if (e < n && s[e] == ':') {
			*fields = e + 1;
			return m->kind;
		}
		if (e == n || is_blank(s[e])) {
			*fields = e;
			return m->kind;
		}
	}
	return 0;
}

/* First marker word in s[0..n); 0 if none. */
static __u32 find_marker(const char *s, size_t n, size_t *fields)
{
	size_t i;
	__u32 kind;

	for (i = 0; i < n; i++) {
		if (s[i] != 'S' && s[i] != 'A' && s[i] != 'T')
			continue;
		if (i && is_ident((unsigned char)s[i - 1]))
			continue;
		kind = marker_at(s, n, i, fields);
		if (kind)
			return kind;
	}
	return 0;
}

/* ---- timestamps ---- */

struct ts_parts {
	unsigned int y, mo, d, h, mi, s, oh, om;
	int neg;		/* offset sign */
	int zone;		/* a zone was present */
	__u64 frac_ns;
	size_t end;		/* index after the timestamp */
};

/* cnt digits at s[at], as a number; -1 if not all digits or past n. */
static int num_at(const char *s, size_t n, size_t at, size_t cnt,
		  unsigned int *val)
{
	unsigned int v = 0;
	size_t i;

	if (at > n || n - at < cnt)
		return -1;
	for (i = at; i < at + cnt; i++) {
		if (!is_digit(s[i]))
			return -1;
		v = v * 10 + (s[i] - '0');
	}
	*val = v;
	return 0;
}

static int char_at(const char *s, size_t n, size_t at, char c)
{
	return at < n && s[at] == c;
}

/* "YYYY-MM-DD" at s[0]? */
static int scan_date(const char *s, size_t n, struct ts_parts *t)
{
	return num_at(s, n, 0, 4, &t->y) == 0 && char_at(s, n, 4, '-') &&
	       num_at(s, n, 5, 2, &t->mo) == 0 && char_at(s, n, 7, '-') &&
	       num_at(s, n, 8, 2, &t->d) == 0;
}

/* Fraction digits from s[i]: any count, nanoseconds kept. */
static size_t scan_frac(const char *s, size_t n, size_t i, __u64 *ns)
{
	size_t start = i;
	__u64 v = 0;

	while (i < n && is_digit(s[i])) {
		if (i - start < 9)
			v = v * 10 + (__u64)(s[i] - '0');
		i++;
	}
	for (start = i - start; start < 9; start++)
		v *= 10;
	*ns = v;
	return i;
}

/* "HH:MM:SS[.frac][Z|+hh:mm]" at s[11]. 0 if shaped so, -1 if not. */
static int scan_time(const char *s, size_t n, struct ts_parts *t)
{
	size_t i = 19;
	char c;

	if (num_at(s, n, 11, 2, &t->h) || !char_at(s, n, 13, ':') ||
	    num_at(s, n, 14, 2, &t->mi) || !char_at(s, n, 16, ':') ||
	    num_at(s, n, 17, 2, &t->s))
		return -1;
	if (char_at(s, n, i, '.')) {
		if (!(i + 1 < n && is_digit(s[i + 1])))
			return -1;
		i = scan_frac(s, n, i + 1, &t->frac_ns);
	}
	t->end = i;
	c = i < n ? s[i] : 0;
	if (c == 'Z' || c == 'z') {
		t->zone = 1;
		t->end = i + 1;
	} else if (c == '+' || c == '-') {
		if (num_at(s, n, i + 1, 2, &t->oh) ||
		    !char_at(s, n, i + 3, ':') || num_at(s, n, i + 4, 2, &t->om))
			return -1;
		t->neg = c == '-';
		t->zone = 1;
		t->end = i + 6;
	}
	return 0;
}

static unsigned int month_days(unsigned int y, unsigned int m)
{
	static const unsigned char days[12] = {
		31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31
	};
	int leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;

	return days[m - 1] + (m == 2 && leap);
}

/* Days since 1970-01-01 of a proleptic Gregorian date, y >= 1. */
static long long days_from_civil(long long y, unsigned int m, unsigned int d)
{
	long long era, yoe, doy;

	y -= m <= 2;
	era = y / 400;
	yoe = y - era * 400;
	doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
	return era * 146097 + yoe * 365 + yoe / 4 - yoe / 100 + doy - 719468;
}

static void civil_from_days(long long z, long long *y, unsigned int *m,
			    unsigned int *d)
{
	long long era, doe, yoe, doy, mp;

	z += 719468;
	era = (z >= 0 ? z : z - 146096) / 146097;
	doe = z - era * 146097;
	yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	mp = (5 * doy + 2) / 153;
	*d = doy - (153 * mp + 2) / 5 + 1;
	*m = mp < 10 ? mp + 3 : mp - 9;
	*y = yoe + era * 400 + (*m <= 2);
}

static int ts_to_ns(const struct ts_parts *t, __u64 *ns, char *err,
		    size_t errlen)
{
	long long sec, off;

	if (t->y < YEAR_MIN || t->y > YEAR_MAX)
		return fail(err, errlen, "timestamp year out of range");
	if (t->mo < 1 || t->mo > 12 || t->d < 1 ||
	    t->d > month_days(t->y, t->mo) || t->h > 23 || t->mi > 59 ||
	    t->s > 60 || t->oh > 23 || t->om > 59)
		return fail(err, errlen, "bad timestamp");
	sec = days_from_civil(t->y, t->mo, t->d) * 86400 + t->h * 3600LL +
	      t->mi * 60LL + t->s;
	off = t->oh * 3600LL + t->om * 60LL;
	sec -= t->neg ? -off : off;
	if (sec < UNIX_MIN || sec >= UNIX_END)
		return fail(err, errlen, "timestamp year out of range");
	*ns = (__u64)sec * NS_PER_SEC + t->frac_ns;
	return 0;
}

/*
 * Leading timestamp of s (NUL terminated, n = strlen). Returns 1 and sets
 * *ns and *used, 0 if the line does not start with one, -EINVAL if it
 * starts with one that does not parse.
 */
static int parse_ts(const char *s, size_t n, __u64 *ns, size_t *used,
		    char *err, size_t errlen)
{
	struct ts_parts t = { 0 };
	int strict, ret;

	if (!scan_date(s, n, &t) || n == 10 || s[10] == '\t')
		return 0;	/* a bare date is prefix text */
	strict = s[10] == 'T' || s[10] == 't';
	if (!strict && s[10] != ' ')
		return fail(err, errlen, "bad timestamp");
	ret = scan_time(s, n, &t);
	if (!strict && (ret || !t.zone))
		return 0;	/* "date time" without zone: prefix text */
	if (ret || !t.zone || (t.end < n && !is_blank(s[t.end])))
		return fail(err, errlen, "bad timestamp");
	ret = ts_to_ns(&t, ns, err, errlen);
	if (ret)
		return ret;
	*used = t.end;
	return 1;
}

/* ---- fields ---- */

enum ftype { F_ID, F_WORKER, F_U64, F_U32, F_DBL };

#define K(kind)		(1u << (kind))
#define K_SA		(K(XT_MARK_SIM) | K(XT_MARK_AGG))
#define K_ALL		(K_SA | K(XT_MARK_TRIAL_BEGIN) | K(XT_MARK_TRIAL_END))
#define OFF(f)		offsetof(struct xt_mark, f), sizeof(((struct xt_mark *)0)->f)

struct field_def {
	const char *name;
	enum ftype type;
	size_t off;
	size_t size;
	unsigned int allowed;	/* kinds that carry the field */
	unsigned int required;	/* kinds that must carry it */
	double max;		/* largest sane value (numbers) */
};

static const struct field_def fields[] = {
	{ "param_id", F_ID, OFF(param_id), K_ALL, K_ALL, 0 },
	{ "run_id", F_ID, OFF(run_id), K_ALL, 0, 0 },
	{ "target", F_ID, OFF(target), K(XT_MARK_AGG), K(XT_MARK_AGG), 0 },
	{ "worker", F_WORKER, OFF(worker), K_SA, K_SA, 0 },
	{ "seed", F_U64, OFF(seed), K(XT_MARK_SIM), 0, 0 },
	{ "n_sim_returns", F_U32, OFF(n_sim_returns), K(XT_MARK_AGG),
	  K(XT_MARK_AGG), XT_MARK_MAX_SIM_RETURNS },
	{ "n_outputs", F_U32, OFF(n_outputs), K(XT_MARK_AGG), 0,
	  XT_MARK_MAX_OUTPUTS },
	{ "total_inline_mb", F_DBL, OFF(total_inline_mb), K(XT_MARK_AGG),
	  K(XT_MARK_AGG), XT_MARK_MAX_MB },
	{ "max_single_kb", F_DBL, OFF(max_single_kb), K(XT_MARK_AGG), 0,
	  XT_MARK_MAX_KB },
	{ "duration_ms", F_DBL, OFF(duration_ms), K_SA, K_SA,
	  XT_MARK_MAX_DURATION_MS },
};

#define N_FIELDS (sizeof(fields) / sizeof(fields[0]))

static const struct field_def *field_find(const char *key, __u32 kind)
{
	size_t i;

	for (i = 0; i < N_FIELDS; i++)
		if ((fields[i].allowed & K(kind)) && !strcmp(key, fields[i].name))
			return &fields[i];
	return NULL;
}

/* Ids: 1..size-1 printable ASCII characters, no blanks. */
static int parse_id(const struct field_def *f, const char *v, char *dst,
		    char *err, size_t errlen)
{
	size_t i, len = strlen(v);

	if (!len)
		return fail(err, errlen, "%s: empty", f->name);
	if (len >= f->size)
		return fail(err, errlen, "%s: too long", f->name);
	for (i = 0; i < len; i++)
		if ((unsigned char)v[i] < 0x21 || (unsigned char)v[i] > 0x7e)
			return fail(err, errlen, "%s: bad character", f->name);
	memcpy(dst, v, len + 1);
	return 0;
}

/* Unsigned decimal: digits only. */
static int parse_uint(const struct field_def *f, const char *v, __u64 *out,
		      char *err, size_t errlen)
{
	unsigned long long x;
	const char *p;
	char *end;

	for (p = v; is_digit(*p); p++)
		;
	if (p == v || *p)
		return fail(err, errlen, "%s: not an integer", f->name);
	errno = 0;
	x = strtoull(v, &end, 10);
	if (errno == ERANGE || *end)
		return fail(err, errlen, "%s: out of range", f->name);
	if (f->max > 0 && x > f->max)
		return fail(err, errlen, "%s: too large", f->name);
	*out = x;
	return 0;
}

/* Length of a decimal number at v: [+-](d+[.d*]|.d+)[(e|E)[+-]d+]. */
static size_t decimal_len(const char *v)
{
	const char *p = v;
	size_t nd = 0;

	if (*p == '+' || *p == '-')
		p++;
	for (; is_digit(*p); p++)
		nd++;
	if (*p == '.')
		for (p++; is_digit(*p); p++)
			nd++;
	if (!nd)
		return 0;
	if (*p == 'e' || *p == 'E') {
		p++;
		if (*p == '+' || *p == '-')
			p++;
		if (!is_digit(*p))
			return 0;
		while (is_digit(*p))
			p++;
	}
	return p - v;
}

static int is_nonfinite_word(const char *v)
{
	if (*v == '+' || *v == '-')
		v++;
	return !strncasecmp(v, "nan", 3) || !strncasecmp(v, "inf", 3);
}

static int parse_double(const struct field_def *f, const char *v,
			double *out, char *err, size_t errlen)
{
	size_t len = decimal_len(v);
	locale_t loc = get_c_locale();
	char *end;
	double x;

	if (is_nonfinite_word(v))
		return fail(err, errlen, "%s: not finite", f->name);
	if (!len || v[len])
		return fail(err, errlen, "%s: not a number", f->name);
	x = loc ? strtod_l(v, &end, loc) : strtod(v, &end);
	if (end != v + len)
		return fail(err, errlen, "%s: not a number", f->name);
	if (!isfinite(x))
		return fail(err, errlen, "%s: out of range", f->name);
	if (x < 0)
		return fail(err, errlen, "%s: negative", f->name);
	if (x > f->max)
		return fail(err, errlen, "%s: too large", f->name);
	*out = x == 0 ? 0.0 : x;	/* no -0 */
	return 0;
}

/* Hostname labels [A-Za-z0-9-]{1,63}; all digits and dots: IPv4. */
static int host_ok(const char *h)
{
	struct in_addr a4;
	size_t i, lab = 0;
	int numeric = 1;
	char c;

	for (i = 0; h[i]; i++)
		if (!is_digit(h[i]) && h[i] != '.')
			numeric = 0;
	if (numeric)
		return inet_pton(AF_INET, h, &a4) == 1;
	for (i = 0;; i++) {
		c = h[i];
		if (c == '.' || !c) {
			if (!lab || lab > 63 || h[i - 1] == '-')
				return 0;
			if (!c)
				return 1;
			lab = 0;
			continue;
		}
		if (!is_alnum(c) && c != '-')
			return 0;
		if (c == '-' && !lab)
			return 0;
		lab++;
	}
}

/* 1..65535, decimal, no sign or leading zero. Returns 0 on error. */
static unsigned int port_value(const char *p)
{
	unsigned int v = 0;
	size_t i;

	if (!is_digit(p[0]) || p[0] == '0')
		return 0;
	for (i = 0; p[i]; i++) {
		if (!is_digit(p[i]) || i >= 5)
			return 0;
		v = v * 10 + (p[i] - '0');
	}
	return v <= 65535 ? v : 0;
}

/*
 * "tcp://HOST:PORT" or "tcp://[V6]:PORT" into dst (IPv6 in canonical
 * form). Returns NULL or what is wrong.
 */
static const char *worker_parse(const char *v, char *dst, size_t size)
{
	char host[XT_MARK_WORKER_LEN], canon[INET6_ADDRSTRLEN];
	const char *h = v + 6, *port, *p;
	struct in6_addr a6;
	size_t hl;
	unsigned int pn;
	int n;

	if (strlen(v) >= size)
		return "too long";
	if (strncmp(v, "tcp://", 6))
		return "not tcp://host:port";
	if (*h == '[') {
		p = strchr(h, ']');
		hl = p ? (size_t)(p - h - 1) : 0;
		if (!hl || hl >= sizeof(host))
			return "bad IPv6 address";
		memcpy(host, h + 1, hl);
		host[hl] = 0;
		if (inet_pton(AF_INET6, host, &a6) != 1 ||
		    !inet_ntop(AF_INET6, &a6, canon, sizeof(canon)))
			return "bad IPv6 address";
		if (p[1] != ':')
			return "missing port";
		port = p + 2;
	} else {
		p = strrchr(h, ':');
		if (!p)
			return "missing port";
		hl = p - h;
		if (!hl)
			return "missing host";
		if (memchr(h, ':', hl) || hl >= sizeof(host))
			return "bad host";
		memcpy(host, h, hl);
		host[hl] = 0;
		if (!host_ok(host))
			return "bad host";
		port = p + 1;
	}
	pn = port_value(port);
	if (!pn)
		return "bad port";
	if (*h == '[')
		n = snprintf(dst, size, "tcp://[%s]:%u", canon, pn);
	else
		n = snprintf(dst, size, "tcp://%s:%u", host, pn);
	return n < 0 || (size_t)n >= size ? "too long" : NULL;
}

static int parse_value(const struct field_def *f, const char *v,
		       struct xt_mark *m, char *err, size_t errlen)
{
	char *dst = (char *)m + f->off;
	const char *why;
	__u64 u = 0;
	int ret;

	switch (f->type) {
	case F_ID:
		return parse_id(f, v, dst, err, errlen);
	case F_WORKER:
		why = worker_parse(v, dst, f->size);
		return why ? fail(err, errlen, "%s: %s", f->name, why) : 0;
	case F_U64:
	case F_U32:
		ret = parse_uint(f, v, &u, err, errlen);
		if (ret)
			return ret;
		if (f->type == F_U64)
			memcpy(dst, &u, sizeof(__u64));
		else
			memcpy(dst, &(__u32){ (__u32)u }, sizeof(__u32));
		return 0;
	case F_DBL:
		return parse_double(f, v, (double *)dst, err, errlen);
	}
	return fail(err, errlen, "internal error");
}

/* s: NUL terminated fields text, modified in place. */
static int parse_fields(char *s, __u32 kind, struct xt_mark *m, char *err,
			size_t errlen)
{
	const struct field_def *f;
	unsigned int seen = 0, bit;
	char *p = s, *tok, *eq;
	size_t i;
	int ret;

	while (*p) {
		while (is_blank(*p))
			p++;
		if (!*p)
			break;
		tok = p;
		while (*p && !is_blank(*p))
			p++;
		if (*p)
			*p++ = 0;
		eq = strchr(tok, '=');
		if (!eq || eq == tok)
			continue;	/* not key=value: free text */
		*eq = 0;
		f = field_find(tok, kind);
		if (!f)
			continue;	/* unknown key */
		bit = 1u << (f - fields);
		if (seen & bit)
			return fail(err, errlen, "duplicate %s", f->name);
		seen |= bit;
		ret = parse_value(f, eq + 1, m, err, errlen);
		if (ret)
			return ret;
	}
	for (i = 0; i < N_FIELDS; i++)
		if ((fields[i].required & K(kind)) && !(seen & (1u << i)))
			return fail(err, errlen, "missing %s", fields[i].name);
	return 0;
}

/* ---- lines ---- */

/* truncated: the line went on past len (the reader dropped the rest). */
static int parse_line(const char *line, size_t len, int truncated,
		      struct xt_mark *out, char *err, size_t errlen)
{
	char buf[XT_MARK_LINE_MAX + 1];
	struct xt_mark tmp, *m = out ? out : &tmp;
	size_t fstart = 0, used = 0;
	__u32 kind;
	int ret;

	if (err && errlen)
		err[0] = 0;
	memset(m, 0, sizeof(*m));
	if (!line)
		return len ? fail(err, errlen, "no line") : 0;
	while (!truncated && len &&
	       (line[len - 1] == '\n' || line[len - 1] == '\r' || !line[len - 1]))
		len--;
	if (truncated || len > XT_MARK_LINE_MAX) {
		if (!find_marker(line, XT_MARK_LINE_MAX < len ?
				 XT_MARK_LINE_MAX : len, &fstart))
			return 0;
		return fail(err, errlen, "line too long");
	}
	kind = find_marker(line, len, &fstart);
	if (!kind)
		return 0;
	if (memchr(line, 0, len))
		return fail(err, errlen, "embedded NUL byte");
	memcpy(buf, line, len);
	buf[len] = 0;
	ret = parse_ts(buf, len, &m->ts_unix_ns, &used, err, errlen);
	if (ret >= 0) {
		m->has_ts = ret;
		m->kind = kind;
		ret = parse_fields(buf + fstart, kind, m, err, errlen);
	}
	if (ret < 0) {
		memset(m, 0, sizeof(*m));
		return ret;
	}
	return 1;
}

int mark__parse(const char *line, size_t len, struct xt_mark *out,
		char *err, size_t errlen)
{
	return parse_line(line, len, 0, out, err, errlen);
}

/* ---- formatting ---- */

struct sbuf {
	char *buf;
	size_t size;
	size_t len;	/* as if unlimited */
};

__attribute__((format(printf, 2, 3)))
static void sb_printf(struct sbuf *sb, const char *fmt, ...)
{
	size_t room = sb->len < sb->size ? sb->size - sb->len : 0;
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(room ? sb->buf + sb->len : NULL, room, fmt, ap);
	va_end(ap);
	if (n > 0)
		sb->len += n;
}

static void format_ts(struct sbuf *sb, __u64 ns)
{
	long long secs = ns / NS_PER_SEC, days = secs / 86400, y;
	unsigned int m, d, sod = secs % 86400;

	civil_from_days(days, &y, &m, &d);
	sb_printf(sb, "%04lld-%02u-%02uT%02u:%02u:%02u.%09lluZ ", y, m, d,
		  sod / 3600, sod / 60 % 60, sod % 60,
		  (unsigned long long)(ns % NS_PER_SEC));
}

/* Shortest of %.15g..%.17g that reads back as d (C locale is current). */
static void format_double(struct sbuf *sb, const char *name, double d)
{
	char num[40];
	int prec;

	for (prec = 15; prec < 17; prec++) {
		snprintf(num, sizeof(num), "%.*g", prec, d);
		if (strtod(num, NULL) == d)
			break;
	}
	if (prec == 17)
		snprintf(num, sizeof(num), "%.17g", d);
	sb_printf(sb, " %s=%s", name, num);
}

/* Writes field f of m; returns -EINVAL if it cannot be written. */
static int format_field(struct sbuf *sb, const struct field_def *f,
			const struct xt_mark *m, int required)
{
	const char *src = (const char *)m + f->off;
	__u32 u32;
	__u64 u64;
	double d;

	switch (f->type) {
	case F_ID:
	case F_WORKER:
		if (!memchr(src, 0, f->size))
			return -EINVAL;
		if (*src || required)
			sb_printf(sb, " %s=%s", f->name, src);
		return 0;
	case F_U64:
		memcpy(&u64, src, sizeof(u64));
		if (u64 || required)
			sb_printf(sb, " %s=%llu", f->name,
				  (unsigned long long)u64);
		return 0;
	case F_U32:
		memcpy(&u32, src, sizeof(u32));
		if (u32 || required)
			sb_printf(sb, " %s=%u", f->name, u32);
		return 0;
	case F_DBL:
		memcpy(&d, src, sizeof(d));
		if (d != 0 || required)
			format_double(sb, f->name, d);
		return 0;
	}
	return -EINVAL;
}

int mark__format(const struct xt_mark *m, char *buf, size_t size)
{
	struct sbuf sb = { buf, size, 0 };
	locale_t loc = get_c_locale(), old = 0;
	size_t i;
	int ret = 0, colon;

	if (!m || (!buf && size) || m->kind < XT_MARK_SIM ||
	    m->kind > XT_MARK_TRIAL_END)
		return -EINVAL;
	if (size)
		buf[0] = 0;
	if (loc)
		old = uselocale(loc);
	if (m->has_ts)
		format_ts(&sb, m->ts_unix_ns);
	colon = m->kind == XT_MARK_SIM || m->kind == XT_MARK_AGG;
	sb_printf(&sb, "%s%s", mark_kind__name(m->kind), colon ? ":" : "");
	for (i = 0; i < N_FIELDS && !ret; i++)
		if (fields[i].allowed & K(m->kind))
			ret = format_field(&sb, &fields[i], m,
					   !!(fields[i].required & K(m->kind)));
	if (loc)
		uselocale(old);
	if (ret)
		return ret;
	return sb.len > INT32_MAX ? -EINVAL : (int)sb.len;
}

/* ---- file reader ---- */

struct mark_bad {
	__u64 line;
	char reason[XT_MARK_ERR_MAX];
};

struct mark_file {
	FILE *fp;
	int owns_fp;
	int err;			/* sticky read error */
	__u64 bytes;			/* read so far, up to XT_MARK_FILE_MAX */
	mark_bad_fn bad_fn;
	void *bad_ctx;
	struct mark_file_stats st;
	struct mark_bad *bad;
	size_t n_bad;
	size_t cap_bad;
	/* A line: up to XT_MARK_LINE_MAX bytes plus a \r, plus one more. */
	char line[XT_MARK_LINE_MAX + 2];
};

int mark_file__open_fp(FILE *fp, int owns_fp, struct mark_file **out)
{
	struct mark_file *mf;

	if (!fp || !out)
		return -EINVAL;
	mf = calloc(1, sizeof(*mf));
	if (!mf)
		return -ENOMEM;
	mf->fp = fp;
	mf->owns_fp = owns_fp;
	*out = mf;
	return 0;
}

int mark_file__open(const char *path_or_dash, struct mark_file **out)
{
	FILE *fp;
	int ret;

	if (!path_or_dash || !out)
		return -EINVAL;
	if (!strcmp(path_or_dash, "-"))
		return mark_file__open_fp(stdin, 0, out);
	fp = fopen(path_or_dash, "re");
	if (!fp)
		return -errno;
	ret = mark_file__open_fp(fp, 1, out);
	if (ret)
		fclose(fp);
	return ret;
}

void mark_file__set_bad_cb(struct mark_file *mf, mark_bad_fn fn, void *ctx)
{
	if (!mf)
		return;
	mf->bad_fn = fn;
	mf->bad_ctx = ctx;
}

/*
 * Reads one line into mf->line, keeping at most sizeof(mf->line) bytes.
 * Returns 1 (line read; *n bytes kept, *more if some were dropped), 0 at
 * end of input, or a negative errno.
 */
static int read_line(struct mark_file *mf, size_t *n, int *more)
{
	size_t k = 0;
	int c, got = 0, ioerr;

	*more = 0;
	errno = 0;
	flockfile(mf->fp);
	while ((c = getc_unlocked(mf->fp)) != EOF) {
		got = 1;
		if (++mf->bytes > XT_MARK_FILE_MAX) {
			funlockfile(mf->fp);
			return -EFBIG;
		}
		if (c == '\n')
			break;
		if (k < sizeof(mf->line))
			mf->line[k++] = (char)c;
		else
			*more = 1;
	}
	ioerr = c == EOF && ferror(mf->fp);
	funlockfile(mf->fp);
	if (ioerr)
		return errno > 0 ? -errno : -EIO;
	*n = k;
	return got;
}

static void note_bad(struct mark_file *mf, const char *reason)
{
	struct mark_bad *nb;
	size_t cap;

	mf->st.bad++;
	if (mf->bad_fn) {
		mf->bad_fn(mf->bad_ctx, mf->st.lines, reason);
		return;
	}
	if (mf->n_bad == mf->cap_bad) {
		cap = mf->cap_bad ? mf->cap_bad * 2 : 16;
		if (cap > MARK_FILE_BAD_MAX)
			cap = MARK_FILE_BAD_MAX;
		nb = cap > mf->cap_bad ?
		     realloc(mf->bad, cap * sizeof(*nb)) : NULL;
		if (!nb) {
			mf->st.bad_dropped++;
			return;
		}
		mf->bad = nb;
		mf->cap_bad = cap;
	}
	mf->bad[mf->n_bad].line = mf->st.lines;
	snprintf(mf->bad[mf->n_bad].reason, XT_MARK_ERR_MAX, "%s", reason);
	mf->n_bad++;
}

int mark_file__next(struct mark_file *mf, struct xt_mark *out)
{
	char reason[XT_MARK_ERR_MAX];
	size_t n = 0;
	int ret, more;

	if (!mf)
		return -EINVAL;
	if (mf->err)
		return mf->err;
	for (;;) {
		ret = read_line(mf, &n, &more);
		if (ret < 0)
			return mf->err = ret;
		if (!ret)
			return 0;
		mf->st.lines++;
		ret = parse_line(mf->line, n, more, out, reason,
				 sizeof(reason));
		if (ret == 1) {
			mf->st.marks++;
			return 1;
		}
		if (ret == 0)
			mf->st.ignored++;
		else
			note_bad(mf, reason[0] ? reason : "malformed");
	}
}

__u64 mark_file__lineno(const struct mark_file *mf)
{
	return mf ? mf->st.lines : 0;
}

void mark_file__stats(const struct mark_file *mf, struct mark_file_stats *st)
{
	if (!st)
		return;
	if (mf)
		*st = mf->st;
	else
		memset(st, 0, sizeof(*st));
}

size_t mark_file__bad_count(const struct mark_file *mf)
{
	return mf ? mf->n_bad : 0;
}

int mark_file__bad(const struct mark_file *mf, size_t i, __u64 *line,
		   const char **reason)
{
	if (!mf || i >= mf->n_bad)
		return -ERANGE;
	if (line)
		*line = mf->bad[i].line;
	if (reason)
		*reason = mf->bad[i].reason;
	return 0;
}

void mark_file__print_bad(const struct mark_file *mf, FILE *to)
{
	size_t i;

	if (!mf || !to)
		return;
	for (i = 0; i < mf->n_bad; i++)
		fprintf(to, "marks:%llu: %s\n",
			(unsigned long long)mf->bad[i].line, mf->bad[i].reason);
	if (mf->st.bad_dropped)
		fprintf(to, "marks: %llu more bad lines\n",
			(unsigned long long)mf->st.bad_dropped);
}

void mark_file__free(struct mark_file *mf)
{
	if (!mf)
		return;
	if (mf->owns_fp)
		fclose(mf->fp);
	free(mf->bad);
	free(mf);
}
