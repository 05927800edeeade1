// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/* `xfertrace check`: which hooks exist here, and which we would use. */
#include <stdio.h>
#include "commands.h"
#include "probe.h"
#include "util.h"

int cmd_check(int argc, char **argv)
{
	if (argc > 1) {
		p_err("check: takes no arguments");
		return 2;
	}
	return hooks__report(stdout) ? 1 : 0;
}
