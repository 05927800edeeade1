// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/* xfertrace: dispatch to a subcommand; no work of its own. */
#include <stdio.h>
#include <string.h>
#include "commands.h"
#include "util.h"

#define XT_VERSION "0.1.0"

static const struct {
	const char *name;
	int (*fn)(int argc, char **argv);
	const char *help;
} cmds[] = {
	{ "record", cmd_record, "trace to a file [-- COMMAND ARGS...]" },
	{ "report", cmd_report, "analyse a trace file" },
	{ "top", cmd_top, "live view of transfers and CPU" },
	{ "check", cmd_check, "which hooks this kernel offers" },
	{ "agent", cmd_agent, "DaemonSet agent: rotating traces, /metrics, /summary" },
};

static void usage(FILE *f)
{
	size_t i;

	fprintf(f, "usage: xfertrace [-v] COMMAND [ARGS]\n\ncommands:\n");
	for (i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++)
		fprintf(f, "  %-8s %s\n", cmds[i].name, cmds[i].help);
	fprintf(f, "\n'xfertrace COMMAND --help' for a command's options.\n");
}

int main(int argc, char **argv)
{
	size_t i;

	while (argc > 1 && !strcmp(argv[1], "-v")) {
		xt_verbose = true;
		argv++;
		argc--;
	}
	if (argc < 2) {
		usage(stderr);
		return 2;
	}
	if (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help") ||
	    !strcmp(argv[1], "help")) {
		usage(stdout);
		return 0;
	}
	if (!strcmp(argv[1], "--version")) {
		printf("xfertrace %s\n", XT_VERSION);
		return 0;
	}
	for (i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++)
		if (!strcmp(argv[1], cmds[i].name))
			return cmds[i].fn(argc - 1, argv + 1);
	p_err("unknown command '%s' (try xfertrace --help)", argv[1]);
	return 2;
}
