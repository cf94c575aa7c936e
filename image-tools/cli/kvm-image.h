/* SPDX-License-Identifier: GPL-2.0-or-later */
/* What the subcommands of kvm-image share. */
#ifndef KVM_IMAGE_CLI_H
#define KVM_IMAGE_CLI_H

#include <stdbool.h>

#include "cli.h"
#include "kvmimage.h"

/* Exit statuses besides 0; check and compare add their own. */
#define EXIT_FAILURE_GENERIC 1

/* --allow-external-files, which every command that opens images takes. */
enum {
	OPT_ALLOW_EXTERNAL = CLI_OPT_FIRST_PRIVATE,
	OPT_FIRST_COMMAND,	/* a command numbers its own options from here */
};

#define ALLOW_EXTERNAL_LONG_OPTION \
	{ "allow-external-files", no_argument, NULL, OPT_ALLOW_EXTERNAL }

/* The options of a command whose only own ones are -f and
 * --allow-external-files: the cli_parse() handler for them. */
struct image_args {
	const char *format;
	unsigned flags;
};

int image_args_option(int opt, const char *arg, void *ctx);

/* Each subcommand: argv[0] is "kvm-image NAME". */
int cmd_check(int argc, char **argv);
int cmd_compare(int argc, char **argv);
int cmd_convert(int argc, char **argv);
int cmd_create(int argc, char **argv);
int cmd_import(int argc, char **argv);
int cmd_info(int argc, char **argv);
int cmd_map(int argc, char **argv);
int cmd_measure(int argc, char **argv);

/* Opens PATH or prints why not; returns NULL then. */
struct kvmi_image *open_image_or_report(const char *path, const char *format, unsigned flags);

/* Prints the message of a failed library call: "kvm-image: MESSAGE". */
void report_error(const struct kvm_error *err);

/* Prints HELP to stdout and returns 0; for --help. */
int print_help(const char *help);

#endif
