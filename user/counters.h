/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * One table of every kernel and user counter (struct xt_stats and struct
 * xt_user_stats): its name, whether it counts a loss, a health event or
 * plain activity, and what it means. The report's text and JSON, top's
 * frames and /metrics all list counters from it, so none is left out.
 */
#ifndef XT_COUNTERS_H
#define XT_COUNTERS_H

#include <stdbool.h>
#include <stdio.h>
#include <jansson.h>
#include "records.h"

enum xt_counter_kind {
	XT_CK_DROP = 1,		/* data lost or refused: zero on a healthy run */
	XT_CK_HEALTH = 2,	/* recovered or harmless events worth seeing */
	XT_CK_COUNT = 4,	/* activity totals */
};

struct xt_counter {
	const char *name;
	enum xt_counter_kind kind;
	bool user;		/* in xt_user_stats, else in xt_stats */
	unsigned int off;	/* byte offset of the __u64 */
	const char *help;
};

extern const struct xt_counter xt_counters[];
extern const int xt_n_counters;

__u64 counter__value(const struct xt_counter *c, const struct xt_stats *k,
		     const struct xt_user_stats *u);
/* {name: value} of every counter whose kind is in the mask. */
json_t *counters__json(const struct xt_stats *k,
		       const struct xt_user_stats *u, unsigned int kinds);
/* "name<eq>value" pairs joined by sep, e.g. eq " " or "=". */
void counters__print(FILE *f, const struct xt_stats *k,
		     const struct xt_user_stats *u, unsigned int kinds,
		     const char *eq, const char *sep);

#endif
