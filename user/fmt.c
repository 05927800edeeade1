// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/* Number formatting; see fmt.h. */
#include <math.h>
#include <stdio.h>
#include "fmt.h"

double fmt_ratio(double num, double den)
{
	return den > 0 && !isnan(num) && !isnan(den) ? num / den : NAN;
}

json_t *fmt_jnum(double v)
{
	return isnan(v) || isinf(v) ? json_null() : json_real(v);
}

void fmt_bytes(char *buf, size_t len, double b)
{
	static const char *const unit[] = { "B", "KB", "MB", "GB", "TB" };
	int i = 0;

	while (b >= 1000 && i < 4) {
		b /= 1000;
		i++;
	}
	snprintf(buf, len, i ? "%.1f%s" : "%.0f%s", b, unit[i]);
}
