/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <inttypes.h>
#include <stdio.h>

#include "kvm-image.h"
#include "log.h"

/* As qemu-img compare: 0 same, 1 different, 2 the comparison failed. */
enum { COMPARE_SAME = 0, COMPARE_DIFFERENT = 1, COMPARE_ERROR = 2 };

static const char help[] =
	"Usage: kvm-image compare [OPTIONS] A B\n"
	"\n"
	"Tell whether the disk images A and B hold the same content, whatever\n"
	"their formats; the shorter one reads as zeros past its end.\n"
	"Exit status: 0 same, 1 different, 2 error.\n"
	"\n"
	"Options:\n"
	"  -f, --a-format FMT          format of A (default: detected)\n"
	"  -F, --b-format FMT          format of B (default: detected)\n"
	"      --allow-external-files  follow files named outside the images' folders\n"
	"  -q, --quiet                 print nothing but errors\n"
	"  -h, --help                  show this help\n";

enum { OPT_ALLOW_EXTERNAL = CLI_OPT_FIRST_PRIVATE };

static const struct option long_options[] = {
	{ "a-format", required_argument, NULL, 'f' },
	{ "b-format", required_argument, NULL, 'F' },
	{ "allow-external-files", no_argument, NULL, OPT_ALLOW_EXTERNAL },
	CLI_COMMON_LONG_OPTIONS,
	{ NULL, 0, NULL, 0 },
};

int cmd_compare(int argc, char **argv)
{
	struct cli_common common = { .progress = PROGRESS_NEVER };
	const char *format_a = NULL, *format_b = NULL;
	struct kvmi_image *a = NULL, *b = NULL;
	struct kvm_error err = { 0 };
	uint64_t first = 0;
	unsigned flags = 0;
	int opt, r, status = COMPARE_ERROR;

	while ((opt = getopt_long(argc, argv, "f:F:" CLI_COMMON_SHORT_OPTIONS, long_options,
				  NULL)) != -1) {
		int handled = cli_common_option(&common, opt, optarg, argv[0]);

		if (handled < 0)
			return COMPARE_ERROR;
		if (handled)
			continue;
		switch (opt) {
		case 'f':
			format_a = optarg;
			break;
		case 'F':
			format_b = optarg;
			break;
		case OPT_ALLOW_EXTERNAL:
			flags |= KVMI_OPEN_ALLOW_EXTERNAL;
			break;
		}
	}
	if (common.help)
		return print_help(help);
	if (argc - optind != 2) {
		cli_usage_error(argv[0], "give two images");
		return COMPARE_ERROR;
	}
	a = open_image_or_report(argv[optind], format_a, flags);
	if (a)
		b = open_image_or_report(argv[optind + 1], format_b, flags);
	if (!b)
		goto out;
	r = kvmi_compare(a, b, &first, &err);
	if (r < 0) {
		report_error(&err);
		goto out;
	}
	if (log_get_level() != LOG_LEVEL_QUIET) {
		if (r == 0)
			printf("Images are identical.\n");
		else
			printf("Content mismatch at offset %" PRIu64 "!\n", first);
	}
	if (r == 0 && kvmi_virtual_size(a) != kvmi_virtual_size(b))
		log_warn("image sizes differ: %" PRIu64 " and %" PRIu64 " bytes",
			 kvmi_virtual_size(a), kvmi_virtual_size(b));
	status = r == 0 ? COMPARE_SAME : COMPARE_DIFFERENT;
out:
	kvmi_close(a);
	kvmi_close(b);
	return status;
}
