/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * kvm-netboot: makes a network-boot tree (BIOS and UEFI loaders, menus,
 * install profiles, per-host entries) and serves it with dnsmasq for
 * proxy-DHCP and TFTP and a read-only HTTP server.  A table of
 * subcommands, one file each.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

#include "cli.h"
#include "kvm-netboot.h"
#include "log.h"
#include "outfile.h"

static const struct cli_command commands[] = {
	{ "init", cmd_init, "make a netboot tree: loaders and menus" },
	{ "add", cmd_add, "add an install profile (Debian, Ubuntu, Fedora, openSUSE, Windows)" },
	{ "host", cmd_host, "add, remove or list hosts that install once, then boot locally" },
	{ "serve", cmd_serve, "serve a tree: proxy-DHCP, TFTP and HTTP on one interface" },
	{ "export", cmd_export, "print the settings for a site's DHCP server" },
};

#define N_COMMANDS (sizeof(commands) / sizeof(commands[0]))

static void usage(FILE *out)
{
	fprintf(out, "Usage: kvm-netboot COMMAND [OPTIONS] ARGS...\n"
		     "       kvm-netboot COMMAND --help\n\n"
		     "Install machines and guests over the network, BIOS and UEFI, Linux and\n"
		     "Windows, without disturbing the network's own DHCP service.\n\n"
		     "Commands:\n");
	for (size_t i = 0; i < N_COMMANDS; i++)
		fprintf(out, "  %-7s %s\n", commands[i].name, commands[i].summary);
	fprintf(out, "\nOptions:\n"
		     "  -h, --help     show this help\n"
		     "  -V, --version  show the version\n\n"
		     "See kvm-netboot(1) for more.\n");
}

int main(int argc, char **argv)
{
	log_set_program("kvm-netboot");
	outfile_install_signal_cleanup();
	return cli_run_command("kvm-netboot", commands, N_COMMANDS, usage, argc, argv);
}

void report_error(const struct kvm_error *err)
{
	log_error("%s", err->message[0] ? err->message : "unknown error");
}

int print_help(const char *help)
{
	fputs(help, stdout);
	return 0;
}

static int parse_unsigned(const char *arg, unsigned min, unsigned max, unsigned *value)
{
	char *end;
	unsigned long n;

	errno = 0;
	n = strtoul(arg, &end, 10);
	if (errno || end == arg || *end || arg[0] == '-' || n < min || n > max)
		return -EINVAL;
	*value = (unsigned)n;
	return 0;
}

int parse_port(const char *arg, unsigned *port)
{
	return parse_unsigned(arg, 1, 65535, port);
}

int parse_seconds(const char *arg, unsigned *seconds)
{
	return parse_unsigned(arg, 1, 3600, seconds);
}

bool valid_ipv4(const char *text)
{
	struct in_addr addr;

	return inet_pton(AF_INET, text, &addr) == 1;
}
