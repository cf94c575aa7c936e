/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <inttypes.h>
#include <stdio.h>

#include "json-out.h"
#include "kvm-image.h"
#include "size.h"

static const char help[] =
	"Usage: kvm-image measure [OPTIONS] -O FMT (SRC | --size SIZE)\n"
	"\n"
	"Tell how much space converting SRC to FMT needs, or a new image of SIZE.\n"
	"\n"
	"Options:\n"
	"  -O, --target-format FMT     the format to measure for (default qcow2)\n"
	"  -o, --options OPTIONS       its creation options, key=value,...\n"
	"  -c, --compress              measure for compressed output\n"
	"  -f, --source-format FMT     format of SRC (default: detected)\n"
	"  -s, --size SIZE             measure a new, empty image of SIZE\n"
	"      --output=human|json     output for people (default) or programs\n"
	"      --allow-external-files  follow files named outside the image's folder\n"
	"  -h, --help                  show this help\n";

enum { OPT_ALLOW_EXTERNAL = CLI_OPT_FIRST_PRIVATE };

static const struct option long_options[] = {
	{ "target-format", required_argument, NULL, 'O' },
	{ "options", required_argument, NULL, 'o' },
	{ "compress", no_argument, NULL, 'c' },
	{ "source-format", required_argument, NULL, 'f' },
	{ "size", required_argument, NULL, 's' },
	{ "allow-external-files", no_argument, NULL, OPT_ALLOW_EXTERNAL },
	CLI_COMMON_LONG_OPTIONS,
	{ NULL, 0, NULL, 0 },
};

int cmd_measure(int argc, char **argv)
{
	struct kvmi_create_options opts = { .format = "qcow2" };
	struct cli_common common = { .progress = PROGRESS_NEVER };
	struct kvmi_measure m = { 0 };
	struct kvm_error err = { 0 };
	struct kvmi_image *src = NULL;
	const char *src_format = NULL, *size_text = NULL;
	uint64_t size = 0;
	unsigned flags = 0;
	int opt, status = EXIT_FAILURE_GENERIC;

	while ((opt = getopt_long(argc, argv, "O:o:cf:s:" CLI_COMMON_SHORT_OPTIONS, long_options,
				  NULL)) != -1) {
		int handled = cli_common_option(&common, opt, optarg, argv[0]);

		if (handled < 0)
			return EXIT_FAILURE_GENERIC;
		if (handled)
			continue;
		switch (opt) {
		case 'O':
			opts.format = optarg;
			break;
		case 'o':
			opts.options = optarg;
			break;
		case 'c':
			opts.compress = true;
			break;
		case 'f':
			src_format = optarg;
			break;
		case 's':
			size_text = optarg;
			break;
		case OPT_ALLOW_EXTERNAL:
			flags |= KVMI_OPEN_ALLOW_EXTERNAL;
			break;
		}
	}
	if (common.help)
		return print_help(help);
	if ((argc - optind == 1) == (size_text != NULL))
		return cli_usage_error(argv[0], "give either a source image or --size");
	if (size_text && size_parse(size_text, &size, &err) < 0) {
		report_error(&err);
		return EXIT_FAILURE_GENERIC;
	}
	if (!size_text && !(src = open_image_or_report(argv[optind], src_format, flags)))
		return EXIT_FAILURE_GENERIC;
	if (kvmi_measure(src, size, &opts, &m, &err) < 0) {
		report_error(&err);
		goto out;
	}
	if (common.json) {
		struct json_object *obj = json_object_new_object();

		json_out_add_uint(obj, "required", m.required);
		json_out_add_uint(obj, "fully-allocated", m.fully_allocated);
		json_out_print(stdout, obj);
		json_object_put(obj);
	} else {
		printf("required size: %" PRIu64 "\nfully allocated size: %" PRIu64 "\n",
		       m.required, m.fully_allocated);
	}
	status = 0;
out:
	kvmi_close(src);
	return status;
}
