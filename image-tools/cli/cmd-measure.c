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

static const struct option long_options[] = {
	{ "target-format", required_argument, NULL, 'O' },
	{ "options", required_argument, NULL, 'o' },
	{ "compress", no_argument, NULL, 'c' },
	{ "source-format", required_argument, NULL, 'f' },
	{ "size", required_argument, NULL, 's' },
	ALLOW_EXTERNAL_LONG_OPTION,
	CLI_COMMON_LONG_OPTIONS,
	{ NULL, 0, NULL, 0 },
};

struct measure_args {
	struct kvmi_create_options out;
	const char *src_format;
	const char *size;
	unsigned flags;
};

static int handle_option(int opt, const char *arg, void *ctx)
{
	struct measure_args *args = ctx;

	switch (opt) {
	case 'O':
		args->out.format = arg;
		break;
	case 'o':
		args->out.options = arg;
		break;
	case 'c':
		args->out.compress = true;
		break;
	case 'f':
		args->src_format = arg;
		break;
	case 's':
		args->size = arg;
		break;
	case OPT_ALLOW_EXTERNAL:
		args->flags |= KVMI_OPEN_ALLOW_EXTERNAL;
		break;
	}
	return 0;
}

int cmd_measure(int argc, char **argv)
{
	struct measure_args args = { .out.format = "qcow2" };
	struct cli_common common = { .progress = PROGRESS_NEVER };
	struct kvmi_measure m = { 0 };
	struct kvm_error err = { 0 };
	struct kvmi_image *src = NULL;
	uint64_t size = 0;
	int status = EXIT_FAILURE_GENERIC;

	if (cli_parse(argc, argv, "O:o:cf:s:", long_options, &common, handle_option, &args))
		return EXIT_FAILURE_GENERIC;
	if (common.help)
		return print_help(help);
	if ((argc - optind == 1) == (args.size != NULL))
		return cli_usage_error(argv[0], "give either a source image or --size");
	if (args.size && size_parse(args.size, &size, &err) < 0) {
		report_error(&err);
		return EXIT_FAILURE_GENERIC;
	}
	if (!args.size && !(src = open_image_or_report(argv[optind], args.src_format, args.flags)))
		return EXIT_FAILURE_GENERIC;
	if (kvmi_measure(src, size, &args.out, &m, &err) < 0) {
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
