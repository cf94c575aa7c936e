/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <stdio.h>
#include <stdlib.h>

#include "kvm-netboot.h"
#include "log.h"
#include "tree.h"

static const char help[] =
	"Usage: kvm-netboot init [OPTIONS] DIR\n"
	"\n"
	"Make a netboot tree in DIR: pxelinux and iPXE's undionly.kpxe for BIOS,\n"
	"iPXE's snponly.efi and ipxe.efi for UEFI, the signed shim and GRUB for\n"
	"Secure Boot, and the pxelinux, GRUB and iPXE menus, generated from one\n"
	"description (DIR/kvm-netboot.json).  Every menu boots the local disk\n"
	"after the timeout.\n"
	"\n"
	"Options:\n"
	"      --server ADDRESS   the IPv4 address clients reach the server at\n"
	"                         (default: set by serve from its interface)\n"
	"      --http-port PORT   the HTTP server's port (default 80)\n"
	"      --timeout SECONDS  seconds before the menus boot the local disk\n"
	"                         (default 10)\n"
	"      --force            refresh the loaders and menus of an existing tree\n"
	"  -v, --verbose          say what is done\n"
	"  -q, --quiet            print errors only\n"
	"  -h, --help             show this help\n";

enum {
	OPT_SERVER = OPT_FIRST_COMMAND,
	OPT_HTTP_PORT,
	OPT_TIMEOUT,
	OPT_FORCE,
};

static const struct option long_options[] = {
	{ "server", required_argument, NULL, OPT_SERVER },
	{ "http-port", required_argument, NULL, OPT_HTTP_PORT },
	{ "timeout", required_argument, NULL, OPT_TIMEOUT },
	{ "force", no_argument, NULL, OPT_FORCE },
	CLI_COMMON_LONG_OPTIONS,
	{ NULL, 0, NULL, 0 },
};

struct init_args {
	const char *command;
	const char *server;
	unsigned http_port;
	unsigned timeout;
	bool force;
};

static int handle_option(int opt, const char *arg, void *ctx)
{
	struct init_args *args = ctx;

	switch (opt) {
	case OPT_SERVER:
		args->server = arg;
		break;
	case OPT_HTTP_PORT:
		if (parse_port(arg, &args->http_port) < 0)
			return cli_usage_error(args->command, "--http-port takes 1 to 65535, not '%s'", arg);
		break;
	case OPT_TIMEOUT:
		if (parse_seconds(arg, &args->timeout) < 0)
			return cli_usage_error(args->command, "--timeout takes 1 to 3600, not '%s'", arg);
		break;
	case OPT_FORCE:
		args->force = true;
		break;
	}
	return 0;
}

int cmd_init(int argc, char **argv)
{
	struct init_args args = {
		.command = argv[0],
		.http_port = DEFAULT_HTTP_PORT,
		.timeout = DEFAULT_MENU_TIMEOUT,
	};
	struct cli_common common = { 0 };
	struct kvm_error err = { 0 };

	if (cli_parse(argc, argv, "", long_options, &common, handle_option, &args))
		return EXIT_FAILURE_GENERIC;
	if (common.help)
		return print_help(help);
	if (argc - optind != 1)
		return cli_usage_error(argv[0], "give one DIR");
	if (args.server && !valid_ipv4(args.server))
		return cli_usage_error(argv[0], "--server takes an IPv4 address, not '%s'", args.server);
	if (tree_init(argv[optind], args.server, args.http_port, args.timeout, args.force, &err) < 0) {
		report_error(&err);
		return EXIT_FAILURE_GENERIC;
	}
	log_notice("%s: netboot tree ready; next: kvm-netboot add PROFILE --tree %s",
		   argv[optind], argv[optind]);
	return 0;
}
