// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * libFuzzer target: the option and number parsers. The input's first
 * byte picks the bounds; the rest is the text, as a command line would
 * pass it. A parse that succeeds must give a value inside the bounds.
 */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "probe.h"
#include "top_frame.h"
#include "util.h"

static const __u64 u_max[] = { 0, 1, 1000, 3600000, 1ull << 32, ~0ull };
static const double d_max[] = { 0, 1, 100, 1e9, INFINITY };

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size)
{
	char *s, err[256];
	struct top_filter flt;
	enum xt_harvest hv;
	enum xt_discovery dc;
	enum xt_clock ck;
	enum xt_hook hk;
	enum top_key key;
	__u64 u, umin, umax;
	double d, dmin, dmax;
	unsigned int sel;

	if (!size)
		return 0;
	sel = data[0];
	s = strndup((const char *)data + 1, size - 1);
	if (!s)
		return 0;
	umax = u_max[sel % 6];
	umin = sel & 0x80 ? umax / 2 : 0;
	if (!parse_u64(s, umin, umax, &u) && (u < umin || u > umax))
		abort();
	dmax = d_max[sel % 5];
	dmin = sel & 0x40 ? -dmax : 0;
	if (!parse_double(s, dmin, dmax, &d) &&
	    (isnan(d) || d < dmin || d > dmax))
		abort();
	hook_parse(s, &hk);
	harvest_parse(s, &hv);
	discovery_parse(s, &dc);
	clock_parse(s, &ck);
	top_key__parse(s, &key);
	memset(&flt, 0, sizeof(flt));
	if (top_filter__parse(s, &flt, err, sizeof(err)) &&
	    !memchr(err, 0, sizeof(err)))
		abort();
	free(s);
	return 0;
}
