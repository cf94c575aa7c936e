/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kvm-netboot.h"
#include "serve.h"
#include "strbuf.h"

static const char help[] =
	"Usage: kvm-netboot serve DIR --interface IF [--dhcp-range FROM,TO] [OPTIONS]\n"
	"\n"
	"Serve the netboot tree DIR on one network interface: dnsmasq (started as\n"
	"a child process) answers PXE clients with proxy-DHCP and serves the\n"
	"loaders over TFTP; an HTTP server serves kernels, initrds, install trees\n"
	"and answer files, read-only and without listings, and takes the\n"
	"installers' callbacks.  Proxy-DHCP hands out no addresses: the network's\n"
	"own DHCP server keeps doing that, unless --dhcp-range is given.  Stops\n"
	"cleanly, with its children, on SIGTERM or SIGINT.\n"
	"\n"
	"Options:\n"
	"      --interface IF     the one interface to serve on (required)\n"
	"      --dhcp-range FROM,TO  hand out these addresses too (full DHCP), for\n"
	"                         a network with no DHCP server of its own\n"
	"      --http-port PORT   the HTTP server's port (default: the tree's, 80)\n"
	"      --secure-boot      send UEFI clients the signed shim and GRUB rather\n"
	"                         than iPXE (needs --dhcp-range)\n"
	"  -v, --verbose          log each DHCP exchange in detail\n"
	"  -q, --quiet            print errors only\n"
	"  -h, --help             show this help\n";

enum {
	OPT_INTERFACE = OPT_FIRST_COMMAND,
	OPT_DHCP_RANGE,
	OPT_HTTP_PORT,
	OPT_SECURE_BOOT,
};

static const struct option long_options[] = {
	{ "interface", required_argument, NULL, OPT_INTERFACE },
	{ "dhcp-range", required_argument, NULL, OPT_DHCP_RANGE },
	{ "http-port", required_argument, NULL, OPT_HTTP_PORT },
	{ "secure-boot", no_argument, NULL, OPT_SECURE_BOOT },
	CLI_COMMON_LONG_OPTIONS,
	{ NULL, 0, NULL, 0 },
};

struct serve_args {
	const char *command;
	struct serve_options options;
};

static int handle_option(int opt, const char *arg, void *ctx)
{
	struct serve_args *args = ctx;

	switch (opt) {
	case OPT_INTERFACE:
		args->options.interface = arg;
		break;
	case OPT_DHCP_RANGE:
		args->options.dhcp_range = arg;
		break;
	case OPT_HTTP_PORT:
		if (parse_port(arg, &args->options.http_port) < 0)
			return cli_usage_error(args->command, "--http-port takes 1 to 65535, not '%s'", arg);
		break;
	case OPT_SECURE_BOOT:
		args->options.secure_boot = true;
		break;
	}
	return 0;
}

/* FROM,TO: two IPv4 addresses. */
static bool valid_range(const char *range)
{
	const char *comma = strchr(range, ',');
	struct strbuf from = STRBUF_INIT;
	bool valid;

	if (!comma)
		return false;
	strbuf_add(&from, range, (size_t)(comma - range));
	valid = valid_ipv4(from.buf) && valid_ipv4(comma + 1);
	strbuf_release(&from);
	return valid;
}

int cmd_serve(int argc, char **argv)
{
	struct serve_args args = { .command = argv[0] };
	struct cli_common common = { 0 };
	struct kvm_error err = { 0 };

	if (cli_parse(argc, argv, "", long_options, &common, handle_option, &args))
		return EXIT_FAILURE_GENERIC;
	if (common.help)
		return print_help(help);
	if (argc - optind != 1)
		return cli_usage_error(argv[0], "give one DIR");
	if (!args.options.interface)
		return cli_usage_error(argv[0], "--interface is required: serving on every "
				       "interface could disturb networks it was not meant for");
	if (args.options.dhcp_range && !valid_range(args.options.dhcp_range))
		return cli_usage_error(argv[0], "--dhcp-range takes FROM,TO (two IPv4 addresses), "
				       "not '%s'", args.options.dhcp_range);
	if (args.options.secure_boot && !args.options.dhcp_range)
		return cli_usage_error(argv[0], "--secure-boot needs --dhcp-range: GRUB does not "
				       "take its boot server from a proxy-DHCP offer");
	args.options.tree = argv[optind];
	if (serve_run(&args.options, &err) < 0) {
		report_error(&err);
		return EXIT_FAILURE_GENERIC;
	}
	return 0;
}
