/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>

#include "json-out.h"
#include "kvm-image.h"
#include "log.h"

/* The exit statuses of qemu-img check, so that scripts can switch. */
enum {
	CHECK_CLEAN = 0,
	CHECK_ERROR = 1,
	CHECK_CORRUPT = 2,
	CHECK_LEAKS = 3,
	CHECK_NOT_SUPPORTED = 63,
};

static const char help[] =
	"Usage: kvm-image check [OPTIONS] FILE\n"
	"\n"
	"Check the metadata of a disk image for corruption and leaked clusters.\n"
	"Exit status: 0 clean, 1 the check could not run, 2 corrupt, 3 leaked\n"
	"clusters only, 63 the format has no check.\n"
	"\n"
	"Options:\n"
	"  -f, --format FMT            format of FILE (default: detected)\n"
	"      --output=human|json     output for people (default) or programs\n"
	"      --allow-external-files  follow files named outside the image's folder\n"
	"  -q, --quiet                 print nothing but errors\n"
	"  -h, --help                  show this help\n";

static const struct option long_options[] = {
	{ "format", required_argument, NULL, 'f' },
	ALLOW_EXTERNAL_LONG_OPTION,
	CLI_COMMON_LONG_OPTIONS,
	{ NULL, 0, NULL, 0 },
};

static void print_json(const char *path, const char *format, const struct kvmi_check_result *res)
{
	struct json_object *obj = json_object_new_object();

	json_out_add_string(obj, "filename", path);
	json_out_add_string(obj, "format", format);
	json_out_add_bool(obj, "check-errors", res->check_errors != 0);
	json_out_add_uint(obj, "corruptions", res->corruptions);
	json_out_add_uint(obj, "leaks", res->leaks);
	json_out_add_uint(obj, "allocated-clusters", res->allocated_clusters);
	json_out_add_uint(obj, "total-clusters", res->total_clusters);
	json_out_add_uint(obj, "image-end-offset", res->image_end_offset);
	json_object_object_add(obj, "problems", json_object_get(res->problems));
	json_out_print(stdout, obj);
	json_object_put(obj);
}

static void print_human(const struct kvmi_check_result *res)
{
	for (size_t i = 0; res->problems && i < json_object_array_length(res->problems); i++)
		printf("%s\n", json_object_get_string(json_object_array_get_idx(res->problems, i)));
	if (res->corruptions)
		printf("\n%" PRIu64 " errors were found on the image.\n"
		       "Data may be corrupted, or further writes to the image may corrupt it.\n",
		       res->corruptions);
	if (res->leaks)
		printf("\n%" PRIu64 " leaked clusters were found on the image.\n"
		       "This means waste of disk space, but no harm to data.\n", res->leaks);
	if (!res->corruptions && !res->leaks)
		printf("No errors were found on the image.\n");
	if (res->total_clusters)
		printf("%" PRIu64 "/%" PRIu64 " = %.2f%% allocated\n", res->allocated_clusters,
		       res->total_clusters,
		       100.0 * (double)res->allocated_clusters / (double)res->total_clusters);
	if (res->image_end_offset)
		printf("Image end offset: %" PRIu64 "\n", res->image_end_offset);
}

int cmd_check(int argc, char **argv)
{
	struct cli_common common = { .progress = PROGRESS_NEVER };
	struct kvmi_check_result res = { 0 };
	struct kvm_error err = { 0 };
	struct image_args args = { 0 };
	struct kvmi_image *img;
	int r, status;

	if (cli_parse(argc, argv, "f:", long_options, &common, image_args_option, &args))
		return CHECK_ERROR;
	if (common.help)
		return print_help(help);
	if (argc - optind != 1)
		return cli_usage_error(argv[0], "give one image");

	img = open_image_or_report(argv[optind], args.format, args.flags);
	if (!img)
		return CHECK_ERROR;
	r = kvmi_check(img, &res, &err);
	if (r == -ENOTSUP) {
		report_error(&err);
		status = CHECK_NOT_SUPPORTED;
		goto out;
	}
	if (r < 0) {
		report_error(&err);
		status = CHECK_ERROR;
		goto out;
	}
	if (common.json)
		print_json(argv[optind], kvmi_format(img), &res);
	else if (log_get_level() != LOG_LEVEL_QUIET)
		print_human(&res);
	status = res.check_errors ? CHECK_ERROR : res.corruptions ? CHECK_CORRUPT
			: res.leaks ? CHECK_LEAKS : CHECK_CLEAN;
out:
	json_object_put(res.problems);
	kvmi_close(img);
	return status;
}
