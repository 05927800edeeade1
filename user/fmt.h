/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * Number formatting shared by every face: one ratio (numerator first),
 * one JSON number that is null when not finite, one byte count in SI
 * units. Below report, compare, trials and the exports, so none of them
 * includes another for these.
 */
#ifndef XT_FMT_H
#define XT_FMT_H

#include <stddef.h>
#include <jansson.h>

/* num / den, or NaN when den is not positive or either is NaN. */
double fmt_ratio(double num, double den);
/* A JSON real, or null for NaN and infinities. New reference. */
json_t *fmt_jnum(double v);
/* "1.2MB" (1000-based), "512B". */
void fmt_bytes(char *buf, size_t len, double bytes);

#endif
