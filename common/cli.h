/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The options every program of the bundle takes, parsed the same way
 * everywhere: --verbose/-v, --quiet/-q, --progress/-p, --no-progress,
 * --output=human|json, --help/-h.
 */
#ifndef KVM_CLI_H
#define KVM_CLI_H

#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>

#include "progress.h"

enum {
	CLI_OPT_PROGRESS = 0x1000,
	CLI_OPT_NO_PROGRESS,
	CLI_OPT_OUTPUT,
	CLI_OPT_FIRST_PRIVATE,	/* programs number their own options from here */
};

#define CLI_COMMON_LONG_OPTIONS                                                \
	{ "verbose", no_argument, NULL, 'v' },                                 \
	{ "quiet", no_argument, NULL, 'q' },                                   \
	{ "help", no_argument, NULL, 'h' },                                    \
	{ "progress", no_argument, NULL, CLI_OPT_PROGRESS },                   \
	{ "no-progress", no_argument, NULL, CLI_OPT_NO_PROGRESS },             \
	{ "output", required_argument, NULL, CLI_OPT_OUTPUT }

/* The short options of CLI_COMMON_LONG_OPTIONS, for getopt's string. */
#define CLI_COMMON_SHORT_OPTIONS "vqhp"

struct cli_common {
	enum progress_mode progress;
	bool json;
	bool help;
};

/*
 * Handles OPT when it is a common option: returns 1 when handled, 0 when
 * it is not a common option, -1 after printing a usage error.  COMMAND
 * names the program (and subcommand) in that message.
 */
int cli_common_option(struct cli_common *common, int opt, const char *arg,
		      const char *command);

/*
 * Parses argv with getopt_long: the common options into COMMON, every other
 * one through HANDLE(opt, optarg, ctx), which returns 0 or, after printing
 * why, non-zero.  SHORT_OPTIONS are the program's own (the common ones are
 * added).  Returns 0, or 1 (the usage exit status) after a usage error; the
 * operands start at argv[optind].
 */
int cli_parse(int argc, char **argv, const char *short_options,
	      const struct option *long_options, struct cli_common *common,
	      int (*handle)(int opt, const char *arg, void *ctx), void *ctx);

/* A subcommand of a program made of a table of them, as git's builtins. */
struct cli_command {
	const char *name;
	int (*run)(int argc, char **argv);
	const char *summary;
};

/*
 * The main of such a program, PROGRAM: --help, --version, or the command
 * argv[1] names, run with argv[0] set to "PROGRAM COMMAND" for its
 * messages.  USAGE prints the program's help to the stream it is given.
 * Returns the exit status.
 */
int cli_run_command(const char *program, const struct cli_command *commands,
		    size_t n_commands, void (*usage)(FILE *out), int argc, char **argv);

/* Prints "COMMAND: MESSAGE (see COMMAND --help)" and returns the usage
 * exit status, 1. */
int cli_usage_error(const char *command, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

#endif
