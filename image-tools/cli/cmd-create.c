/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <stdio.h>
#include <stdlib.h>

#include "kvm-image.h"
#include "log.h"
#include "size.h"

static const char help_head[] =
	"Usage: kvm-image create [OPTIONS] FILE SIZE\n"
	"\n"
	"Create an empty disk image of SIZE (512, 64k, 20G, 1.5T: powers of 1024).\n"
	"An existing FILE is replaced only with --force.\n"
	"\n"
	"Options:\n"
	"  -f, --format FMT      format: qcow2 (default), raw, vmdk\n"
	"  -o, --options OPTS    creation options, key=value,... (below)\n"
	"      --force           replace FILE if it exists\n"
	"  -q, --quiet           print errors only\n"
	"  -h, --help            show this help\n";

enum { OPT_FORCE = OPT_FIRST_COMMAND };

static const struct option long_options[] = {
	{ "format", required_argument, NULL, 'f' },
	{ "options", required_argument, NULL, 'o' },
	{ "force", no_argument, NULL, OPT_FORCE },
	CLI_COMMON_LONG_OPTIONS,
	{ NULL, 0, NULL, 0 },
};

static int handle_option(int opt, const char *arg, void *ctx)
{
	struct kvmi_create_options *opts = ctx;

	switch (opt) {
	case 'f':
		opts->format = arg;
		break;
	case 'o':
		opts->options = arg;
		break;
	case OPT_FORCE:
		opts->replace = true;
		break;
	}
	return 0;
}

static int print_create_help(void)
{
	fputs(help_head, stdout);
	for (const char *const *f = kvmi_formats(); *f; f++) {
		char *options = kvmi_format_options_help(*f);

		if (options && *options)
			printf("\nOptions of %s:\n%s", *f, options);
		free(options);
	}
	return 0;
}

int cmd_create(int argc, char **argv)
{
	struct kvmi_create_options opts = { .format = "qcow2" };
	struct cli_common common = { .progress = PROGRESS_NEVER };
	struct kvm_error err = { 0 };
	uint64_t size;

	if (cli_parse(argc, argv, "f:o:", long_options, &common, handle_option, &opts))
		return EXIT_FAILURE_GENERIC;
	if (common.help)
		return print_create_help();
	if (argc - optind != 2)
		return cli_usage_error(argv[0], "give a file name and a size");
	if (size_parse(argv[optind + 1], &size, &err) < 0 ||
	    kvmi_create(argv[optind], size, &opts, &err) < 0) {
		report_error(&err);
		return EXIT_FAILURE_GENERIC;
	}
	log_verbose("created %s (%s)", argv[optind], opts.format);
	return 0;
}
