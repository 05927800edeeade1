/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/* Dropping capabilities once the BPF programs are attached. */
#ifndef XT_CAPS_H
#define XT_CAPS_H

#include <linux/types.h>

/* Keep only the capabilities in `keep` (a mask of 1 << CAP_*), in the
 * effective, permitted and bounding sets; clear inheritable and ambient. */
int caps__keep_only(__u64 keep);
/* The effective set now, as a mask. */
int caps__effective(__u64 *out);
/* "cap_sys_ptrace,cap_dac_read_search" for a mask. */
void caps__names(__u64 mask, char *buf, size_t len);

#endif
