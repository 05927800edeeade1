// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * libFuzzer target: the marks line parser. Each input is parsed as one
 * line (mark__parse) and, as a file, line by line (mark_file). A good mark
 * must format back to a line that parses to the same mark.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "marks.h"

static void roundtrip(const struct xt_mark *mk)
{
	char line[XT_MARK_LINE_MAX * 2], err[XT_MARK_ERR_MAX];
	struct xt_mark back;
	int n;

	n = mark__format(mk, line, sizeof(line));
	if (n < 0 || (size_t)n >= sizeof(line))
		return;		/* -EINVAL: a field mark__format refuses */
	if (mark__parse(line, n, &back, err, sizeof(err)) != 1) {
		fprintf(stderr, "formatted mark does not parse: %s: %s\n", err,
			line);
		abort();
	}
	if (memcmp(&back, mk, sizeof(back))) {
		fprintf(stderr, "formatted mark parses differently: %s\n", line);
		abort();
	}
}

static FILE *devnull;

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size)
{
	char err[XT_MARK_ERR_MAX];
	struct mark_file *mf;
	struct xt_mark mk;
	FILE *fp;
	int r;

	memset(&mk, 0, sizeof(mk));
	r = mark__parse((const char *)data, size, &mk, err, sizeof(err));
	if (r == 1)
		roundtrip(&mk);
	else if (r != 0 && r != -EINVAL)
		abort();
	if (!size)
		return 0;
	fp = fmemopen((void *)data, size, "r");
	if (!fp || mark_file__open_fp(fp, 1, &mf))
		abort();
	while ((r = mark_file__next(mf, &mk)) > 0)
		roundtrip(&mk);
	if (!devnull)
		devnull = fopen("/dev/null", "w");
	if (devnull)
		mark_file__print_bad(mf, devnull);
	mark_file__free(mf);
	return 0;
}
