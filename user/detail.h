/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * Which processes get on-CPU slices (`record --detail`): a comma list of
 * PIDs, endpoints (tcp://IP:PORT, or :PORT for any address), "endpoints"
 * (every process with a listening socket: the default), "all" or "none".
 */
#ifndef XT_DETAIL_H
#define XT_DETAIL_H

#include <stdbool.h>
#include <linux/types.h>
#include "xfertrace.h"

struct detail;

/*
 * spec "": the default (endpoints); NULL: none. One-line error and
 * -EINVAL on bad input.
 */
int detail__parse(const char *spec, struct detail **out);
bool detail__all(const struct detail *d);
/* PIDs named on the command line. */
const __u32 *detail__pids(const struct detail *d, int *n);
/* Is the owner of this listening socket selected? */
bool detail__listener(const struct detail *d, const struct xt_tuple *t);
void detail__free(struct detail *d);

#endif
