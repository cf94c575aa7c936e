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

static const struct option long_options[] = {
	{ "a-format", required_argument, NULL, 'f' },
	{ "b-format", required_argument, NULL, 'F' },
	ALLOW_EXTERNAL_LONG_OPTION,
	CLI_COMMON_LONG_OPTIONS,
	{ NULL, 0, NULL, 0 },
};

struct compare_args {
	const char *format_a;
	const char *format_b;
	unsigned flags;
};

static int handle_option(int opt, const char *arg, void *ctx)
{
	struct compare_args *args = ctx;

	switch (opt) {
	case 'f':
		args->format_a = arg;
		break;
	case 'F':
		args->format_b = arg;
		break;
	case OPT_ALLOW_EXTERNAL:
		args->flags |= KVMI_OPEN_ALLOW_EXTERNAL;
		break;
	}
	return 0;
}

int cmd_compare(int argc, char **argv)
{
	struct cli_common common = { .progress = PROGRESS_NEVER };
	struct compare_args args = { 0 };
	struct kvmi_image *a = NULL, *b = NULL;
	struct kvm_error err = { 0 };
	uint64_t first = 0;
	int r, status = COMPARE_ERROR;

	if (cli_parse(argc, argv, "f:F:", long_options, &common, handle_option, &args))
		return COMPARE_ERROR;
	if (common.help)
		return print_help(help);
	if (argc - optind != 2) {
		cli_usage_error(argv[0], "give two images");
		return COMPARE_ERROR;
	}
	a = open_image_or_report(argv[optind], args.format_a, args.flags);
	if (a)
		b = open_image_or_report(argv[optind + 1], args.format_b, args.flags);
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
