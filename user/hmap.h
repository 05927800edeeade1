/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/* Open-addressing hash map from a 64-bit key to a pointer. */
#ifndef XT_HMAP_H
#define XT_HMAP_H

#include <stddef.h>
#include <linux/types.h>

struct hmap;

struct hmap *hmap__new(void);
void hmap__free(struct hmap *m);
void *hmap__get(const struct hmap *m, __u64 key);
/* Insert or replace; returns 0 or -ENOMEM. */
int hmap__put(struct hmap *m, __u64 key, void *val);
/* Remove; returns the old value or NULL. */
void *hmap__del(struct hmap *m, __u64 key);
size_t hmap__count(const struct hmap *m);
/* Iterate: start with *pos = 0; returns 0 at the end. */
int hmap__next(const struct hmap *m, size_t *pos, __u64 *key, void **val);

/* Mix two numbers into one key (tid and start time, say). */
static inline __u64 hkey2(__u64 a, __u64 b)
{
	return a ^ (b * 0x9e3779b97f4a7c15ull) ^ (b >> 29);
}

/*
 * FNV-1a of a string, continuing from seed (HSTR_SEED to start): the one
 * string hash; hash two strings by feeding the first's into the second.
 */
#define HSTR_SEED 1469598103934665603ull

static inline __u64 hstr(const char *s, __u64 seed)
{
	__u64 h = seed;

	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 1099511628211ull;
	return h;
}

#endif
