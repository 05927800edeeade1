/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
#ifndef XT_LOAD_H
#define XT_LOAD_H

#include <stdbool.h>
#include "model.h"

struct load_info {
	bool truncated;
	__u64 offset;
	const char *why;	/* valid only inside report__load */
	__u64 chunks;
	__u64 partial_records;	/* kept from the damaged chunk at offset */
};

/* Read a whole trace into a resolved model; prints its own errors. */
int report__load(const char *path, struct model **out, struct load_info *li);
void report__sort(struct model *m);
/* Listed in workers[]: moved bytes, listens, or used CPU. */
bool report__proc_listed(const struct mproc *p);

#endif
