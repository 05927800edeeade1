// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
#include <errno.h>
#include <stdlib.h>
#include "hmap.h"

/* Linear probing with tombstones; grows at 50% load. */
enum { SLOT_EMPTY, SLOT_FULL, SLOT_DEAD };

struct slot {
	__u64 key;
	void *val;
	int state;
};

struct hmap {
	struct slot *slots;
	size_t cap;
	size_t count;
	size_t used;	/* full + dead */
};

static size_t hash(__u64 k, size_t cap)
{
	k ^= k >> 33;
	k *= 0xff51afd7ed558ccdull;
	k ^= k >> 33;
	return k & (cap - 1);
}

struct hmap *hmap__new(void)
{
	struct hmap *m = calloc(1, sizeof(*m));

	if (!m)
		return NULL;
	m->cap = 64;
	m->slots = calloc(m->cap, sizeof(*m->slots));
	if (!m->slots) {
		free(m);
		return NULL;
	}
	return m;
}

void hmap__free(struct hmap *m)
{
	if (!m)
		return;
	free(m->slots);
	free(m);
}

static struct slot *find(const struct hmap *m, __u64 key)
{
	size_t i = hash(key, m->cap);

	for (;;) {
		struct slot *s = &m->slots[i];

		if (s->state == SLOT_EMPTY)
			return NULL;
		if (s->state == SLOT_FULL && s->key == key)
			return s;
		i = (i + 1) & (m->cap - 1);
	}
}

void *hmap__get(const struct hmap *m, __u64 key)
{
	struct slot *s = find(m, key);

	return s ? s->val : NULL;
}

static int grow(struct hmap *m)
{
	struct slot *old = m->slots;
	size_t oldcap = m->cap, i, cap = m->cap;

	if (m->count * 2 >= m->cap)
		cap *= 2;
	m->slots = calloc(cap, sizeof(*m->slots));
	if (!m->slots) {
		m->slots = old;
		return -ENOMEM;
	}
	m->cap = cap;
	m->count = m->used = 0;
	for (i = 0; i < oldcap; i++)
		if (old[i].state == SLOT_FULL)
			hmap__put(m, old[i].key, old[i].val);
	free(old);
	return 0;
}

int hmap__put(struct hmap *m, __u64 key, void *val)
{
	struct slot *s = find(m, key);
	size_t i;

	if (s) {
		s->val = val;
		return 0;
	}
	if ((m->used + 1) * 2 > m->cap && grow(m))
		return -ENOMEM;
	i = hash(key, m->cap);
	while (m->slots[i].state == SLOT_FULL)
		i = (i + 1) & (m->cap - 1);
	if (m->slots[i].state == SLOT_EMPTY)
		m->used++;
	m->slots[i] = (struct slot){ key, val, SLOT_FULL };
	m->count++;
	return 0;
}

void *hmap__del(struct hmap *m, __u64 key)
{
	struct slot *s = find(m, key);
	void *v;

	if (!s)
		return NULL;
	v = s->val;
	s->state = SLOT_DEAD;
	s->val = NULL;
	m->count--;
	return v;
}

size_t hmap__count(const struct hmap *m)
{
	return m->count;
}

int hmap__next(const struct hmap *m, size_t *pos, __u64 *key, void **val)
{
	while (*pos < m->cap) {
		struct slot *s = &m->slots[(*pos)++];

		if (s->state == SLOT_FULL) {
			*key = s->key;
			*val = s->val;
			return 1;
		}
	}
	return 0;
}
