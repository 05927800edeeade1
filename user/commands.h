/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/* Subcommands; main() only dispatches to these. */
#ifndef XT_COMMANDS_H
#define XT_COMMANDS_H

int cmd_record(int argc, char **argv);
int cmd_report(int argc, char **argv);
int cmd_check(int argc, char **argv);
int cmd_top(int argc, char **argv);
int cmd_agent(int argc, char **argv);

#endif
