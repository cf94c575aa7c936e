/* SPDX-License-Identifier: GPL-2.0-or-later */
/* What the subcommands of kvm-netboot share. */
#ifndef KVM_NETBOOT_H
#define KVM_NETBOOT_H

#include <stdbool.h>

#include "cli.h"
#include "kvm-error.h"

#define EXIT_FAILURE_GENERIC 1

/* The tree the commands other than init and serve work on by default. */
#define DEFAULT_TREE "/srv/kvm-netboot"

enum {
	OPT_TREE = CLI_OPT_FIRST_PRIVATE,
	OPT_FIRST_COMMAND,	/* a command numbers its own options from here */
};

#define TREE_LONG_OPTION { "tree", required_argument, NULL, OPT_TREE }

/* Each subcommand: argv[0] is "kvm-netboot NAME". */
int cmd_init(int argc, char **argv);
int cmd_add(int argc, char **argv);
int cmd_host(int argc, char **argv);
int cmd_serve(int argc, char **argv);
int cmd_export(int argc, char **argv);

/* Prints the message of a failed library call: "kvm-netboot: MESSAGE". */
void report_error(const struct kvm_error *err);

/* Option values; -EINVAL when ARG is not one. */
int parse_port(const char *arg, unsigned *port);
int parse_seconds(const char *arg, unsigned *seconds);
bool valid_ipv4(const char *text);

/* Prints HELP to stdout and returns 0; for --help. */
int print_help(const char *help);

#endif
