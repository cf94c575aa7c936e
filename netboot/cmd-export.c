/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "export.h"
#include "kvm-netboot.h"
#include "tree.h"

static const char help[] =
	"Usage: kvm-netboot export --format dnsmasq|kea|isc-dhcpd [OPTIONS]\n"
	"\n"
	"Print the settings that make a site's existing DHCP service send PXE and\n"
	"HTTP-boot clients to this tree's server: the loader for each client\n"
	"architecture (DHCP option 93), iPXE's script for iPXE, and the server's\n"
	"address.  For networks larger than one kvm-netboot serve.\n"
	"\n"
	"Options:\n"
	"      --tree DIR         the netboot tree (default " DEFAULT_TREE ")\n"
	"      --format FORMAT    dnsmasq, kea (a Kea DHCPv4 JSON fragment) or\n"
	"                         isc-dhcpd (dhcpd.conf)\n"
	"      --server ADDRESS   the boot server's IPv4 address (default: the tree's)\n"
	"  -h, --help             show this help\n";

enum {
	OPT_FORMAT = OPT_FIRST_COMMAND,
	OPT_SERVER,
};

static const struct option long_options[] = {
	TREE_LONG_OPTION,
	{ "format", required_argument, NULL, OPT_FORMAT },
	{ "server", required_argument, NULL, OPT_SERVER },
	CLI_COMMON_LONG_OPTIONS,
	{ NULL, 0, NULL, 0 },
};

struct export_args {
	const char *tree;
	const char *format;
	const char *server;
};

static int handle_option(int opt, const char *arg, void *ctx)
{
	struct export_args *args = ctx;

	switch (opt) {
	case OPT_TREE:
		args->tree = arg;
		break;
	case OPT_FORMAT:
		args->format = arg;
		break;
	case OPT_SERVER:
		args->server = arg;
		break;
	}
	return 0;
}

int cmd_export(int argc, char **argv)
{
	struct export_args args = { .tree = DEFAULT_TREE };
	struct cli_common common = { 0 };
	struct kvm_error err = { 0 };
	struct nb_tree tree = { .lock_fd = -1 };
	enum export_format format;
	int status = EXIT_FAILURE_GENERIC;

	if (cli_parse(argc, argv, "", long_options, &common, handle_option, &args))
		return EXIT_FAILURE_GENERIC;
	if (common.help)
		return print_help(help);
	if (argc != optind)
		return cli_usage_error(argv[0], "takes no operands");
	if (!args.format)
		return cli_usage_error(argv[0], "--format is required");
	if (export_format_from_name(args.format, &format) < 0)
		return cli_usage_error(argv[0], "--format takes dnsmasq, kea or isc-dhcpd, not '%s'",
				       args.format);
	if (args.server && !valid_ipv4(args.server))
		return cli_usage_error(argv[0], "--server takes an IPv4 address, not '%s'", args.server);
	if (tree_open(args.tree, false, &tree, &err) < 0)
		goto fail;
	if (!args.server && !tree.server) {
		kvm_error_set(&err, -EINVAL, "%s: the server's address is not known yet "
			      "(give --server, or init --server)", args.tree);
		goto fail;
	}
	if (export_print(stdout, &tree, format, args.server ? args.server : tree.server, &err) < 0)
		goto fail;
	status = 0;
	goto out;
fail:
	report_error(&err);
out:
	tree_close(&tree);
	return status;
}
