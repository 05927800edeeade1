// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <jansson.h>
#include "util.h"

bool xt_verbose;

static void vmsg(const char *kind, const char *fmt, va_list ap)
{
	char buf[1024];

	vsnprintf(buf, sizeof(buf), fmt, ap);
	/* One line, always: fold any newline a caller passed through. */
	for (char *p = buf; *p; p++)
		if (*p == '\n')
			*p = ' ';
	fprintf(stderr, "xfertrace: %s%s\n", kind, buf);
}

void p_err(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vmsg("error: ", fmt, ap);
	va_end(ap);
}

void p_warn(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vmsg("warning: ", fmt, ap);
	va_end(ap);
}

int parse_u64(const char *s, __u64 min, __u64 max, __u64 *out)
{
	unsigned long long v;
	char *end;

	if (!s || !*s || *s == '-' || *s == '+' || *s == ' ')
		return -EINVAL;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (*end)
		return -EINVAL;
	if (errno == ERANGE || v < min || v > max)
		return -ERANGE;
	*out = v;
	return 0;
}

int parse_double(const char *s, double min, double max, double *out)
{
	char *end;
	double v;

	if (!s || !*s || *s == ' ')
		return -EINVAL;
	errno = 0;
	v = strtod(s, &end);
	if (*end || !isfinite(v))
		return -EINVAL;
	if (errno == ERANGE || v < min || v > max)
		return -ERANGE;
	*out = v;
	return 0;
}

static __u64 clock_ns(clockid_t id)
{
	struct timespec ts;

	clock_gettime(id, &ts);
	return (__u64)ts.tv_sec * 1000000000ull + ts.tv_nsec;
}

__u64 now_mono_ns(void)
{
	return clock_ns(CLOCK_MONOTONIC);
}

__u64 now_wall_ns(void)
{
	return clock_ns(CLOCK_REALTIME);
}

__u64 now_boot_ns(void)
{
	return clock_ns(CLOCK_BOOTTIME);
}

static bool v4_mapped(const __u32 a[4])
{
	return a[0] == 0 && a[1] == 0 && a[2] == htonl(0xffff);
}

void addr_normalize(__u32 *family, __u32 addr[4])
{
	if (*family == 10 && v4_mapped(addr)) {
		*family = 2;
		addr[0] = addr[3];
		addr[1] = addr[2] = addr[3] = 0;
	}
}

bool addr_is_any(__u32 family, const __u32 addr[4])
{
	if (family == 2)
		return addr[0] == 0;
	return !addr[0] && !addr[1] && !addr[2] && !addr[3];
}

void addr_str(__u32 family, const __u32 addr[4], char *buf, size_t len,
	      bool brackets)
{
	char tmp[INET6_ADDRSTRLEN];
	__u32 a[4] = { addr[0], addr[1], addr[2], addr[3] };

	addr_normalize(&family, a);
	if (family == 2) {
		inet_ntop(AF_INET, a, tmp, sizeof(tmp));
		snprintf(buf, len, "%s", tmp);
	} else {
		inet_ntop(AF_INET6, a, tmp, sizeof(tmp));
		snprintf(buf, len, brackets ? "[%s]" : "%s", tmp);
	}
}

int read_file(const char *path, char *buf, size_t len)
{
	ssize_t n;
	int fd;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	n = read(fd, buf, len - 1);
	if (n < 0) {
		n = -errno;
		close(fd);
		return n;
	}
	close(fd);
	buf[n] = 0;
	return n;
}

void clean_str(char *dst, const char *src, size_t len)
{
	size_t i;

	for (i = 0; i + 1 < len && src[i]; i++)
		dst[i] = ((unsigned char)src[i] < 0x20 || (unsigned char)src[i] >= 0x7f) ?
			 '?' : src[i];
	dst[i] = 0;
}

/* Length of the valid UTF-8 sequence at s, 0 if the bytes are not one. */
static int utf8_seq(const unsigned char *s)
{
	int n, i;
	__u32 c;

	if (s[0] < 0x80)
		return 1;
	if (s[0] >= 0xc2 && s[0] <= 0xdf)
		n = 2, c = s[0] & 0x1f;
	else if (s[0] >= 0xe0 && s[0] <= 0xef)
		n = 3, c = s[0] & 0x0f;
	else if (s[0] >= 0xf0 && s[0] <= 0xf4)
		n = 4, c = s[0] & 0x07;
	else
		return 0;
	for (i = 1; i < n; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		c = c << 6 | (s[i] & 0x3f);
	}
	if ((n == 3 && c < 0x800) || (n == 4 && (c < 0x10000 || c > 0x10ffff)) ||
	    (c >= 0xd800 && c <= 0xdfff))
		return 0;
	return n;
}

json_t *json_str(const char *s)
{
	const unsigned char *p = (const unsigned char *)(s ? s : "");
	size_t len = strlen((const char *)p), o = 0;
	json_t *j;
	char *buf;
	int n;

	j = json_stringn((const char *)p, len);
	if (j)
		return j;
	/* Not UTF-8 (a path or name in another encoding): mark the bytes. */
	buf = malloc(len * 3 + 1);
	if (!buf)
		return NULL;
	while (*p) {
		n = utf8_seq(p);
		if (n) {
			memcpy(buf + o, p, n);
			o += n;
			p += n;
		} else {
			memcpy(buf + o, "\xef\xbf\xbd", 3);	/* U+FFFD */
			o += 3;
			p++;
		}
	}
	j = json_stringn(buf, o);
	free(buf);
	return j;
}

int json_print(json_t *root, FILE *f, const char *who)
{
	if (!root) {
		p_err("%s: could not build the JSON output (out of memory or a value JSON cannot hold)",
		      who);
		return -EINVAL;
	}
	if (json_dumpf(root, f, JSON_INDENT(1) | JSON_PRESERVE_ORDER) ||
	    fputc('\n', f) == EOF || fflush(f)) {
		p_err("%s: could not write the JSON output: %s", who,
		      strerror(errno ? errno : EIO));
		return -EIO;
	}
	return 0;
}
