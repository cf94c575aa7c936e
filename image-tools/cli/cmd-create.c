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

enum { OPT_FORCE = CLI_OPT_FIRST_PRIVATE };

static const struct option long_options[] = {
	{ "format", required_argument, NULL, 'f' },
	{ "options", required_argument, NULL, 'o' },
	{ "force", no_argument, NULL, OPT_FORCE },
	CLI_COMMON_LONG_OPTIONS,
	{ NULL, 0, NULL, 0 },
};

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
	int opt;

	while ((opt = getopt_long(argc, argv, "f:o:" CLI_COMMON_SHORT_OPTIONS, long_options,
				  NULL)) != -1) {
		int handled = cli_common_option(&common, opt, optarg, argv[0]);

		if (handled < 0)
			return EXIT_FAILURE_GENERIC;
		if (handled)
			continue;
		switch (opt) {
		case 'f':
			opts.format = optarg;
			break;
		case 'o':
			opts.options = optarg;
			break;
		case OPT_FORCE:
			opts.replace = true;
			break;
		}
	}
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
