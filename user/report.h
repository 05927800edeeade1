/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
#ifndef XT_REPORT_H
#define XT_REPORT_H

#include <stdbool.h>
#include <jansson.h>
#include "model.h"

#include "load.h"	/* report__load(), report__sort() */

json_t *report__json(const struct model *m, const struct load_info *li);
json_t *report__workers_json(const struct model *m, const char *role);
#include "fmt.h"	/* fmt_bytes(), for the faces that print bytes */

#endif
