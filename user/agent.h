/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/* Multi-trace loading shared by report (several files) and agent (/summary). */
#ifndef XT_AGENT_H
#define XT_AGENT_H

#include <stdio.h>
#include "model.h"
#include "report.h"

/*
 * Load several traces into one resolved model: the files of one agent run
 * (same header agent.run) continue each other; separate runs or machines
 * get their own connection id space. Times are moved onto the first
 * file's monotonic clock through each header's mono_to_wall_ns. With
 * since_wall_ns, counts stamped before it are skipped. Drop counters are
 * summed over runs. With merged_path, the rewritten records are also
 * written there as one trace (what trials attribution reads again).
 */
int report__load_many(char *const *paths, int n, __u64 since_wall_ns,
		      const char *merged_path, struct model **out,
		      struct load_info *li);
/* Trace files (*.xft) of a directory, sorted by name; caller frees each. */
int report__dir_files(const char *dir, char ***paths, int *n);
/* Flows seen at both ends: sender tx against receiver rx. */
void report__print_reconcile(FILE *f, const struct model *m);

#endif
