/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/* Small helpers every module uses: errors, number parsing, clocks. */
#ifndef XT_UTIL_H
#define XT_UTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <linux/types.h>

/* Print "xfertrace: <msg>" on stderr as one line. */
void p_err(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void p_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
extern bool xt_verbose;

/* Parse a whole decimal string into [min, max]; -EINVAL or -ERANGE. */
int parse_u64(const char *s, __u64 min, __u64 max, __u64 *out);
int parse_double(const char *s, double min, double max, double *out);

__u64 now_mono_ns(void);
__u64 now_wall_ns(void);
__u64 now_boot_ns(void);

/* Render an address as "IP" or "[v6]"; v4-mapped v6 prints as v4. */
void addr_str(__u32 family, const __u32 addr[4], char *buf, size_t len,
	      bool brackets);
bool addr_is_any(__u32 family, const __u32 addr[4]);
/* Turn a v4-mapped v6 address into plain v4 in place. */
void addr_normalize(__u32 *family, __u32 addr[4]);

/* Read a small text file; returns length or negative errno. */
int read_file(const char *path, char *buf, size_t len);

/* JSON-safe copy of comm-like text: control and non-ASCII bytes become ?. */
void clean_str(char *dst, const char *src, size_t len);

/*
 * JSON output. json_str(): a JSON string of s, never failing on encoding:
 * bytes that are not UTF-8 (a path in another encoding) become U+FFFD;
 * NULL only without memory. json_print(): root, indented, plus a newline;
 * a NULL root (a part failed to build) or a write error is reported as
 * "WHO: ..." on stderr and returns a negative errno.
 */
struct json_t;
struct json_t *json_str(const char *s);
int json_print(struct json_t *root, FILE *f, const char *who);

#endif
