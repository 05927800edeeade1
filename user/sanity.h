/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * Invariants no real trace can break: CPU beyond CPUs x span, a thread
 * busier than the trace is long, a counter past INT64_MAX, a pid beyond
 * pid_max, a thread of a process never seen, more bytes than the kernel
 * counted. A broken one is a defect (ours or the file's), said once and
 * listed in the report's problems[], never passed off as data.
 */
#ifndef XT_SANITY_H
#define XT_SANITY_H

#include <stdio.h>
#include <jansson.h>
#include "model.h"

/* Array of {kind, count, detail}; empty when all hold. New reference. */
json_t *sanity__check(const struct model *m, bool truncated);
/* One "xfertrace: problem: ..." line per entry on f. */
void sanity__print(const json_t *problems, FILE *f);

#endif
