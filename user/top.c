// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
#include "commands.h"
#include "util.h"

int cmd_top(int argc, char **argv)
{
	p_err("top: not available in this build");
	return 1;
}
