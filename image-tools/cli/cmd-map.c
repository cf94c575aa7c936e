/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "json-out.h"
#include "kvm-image.h"

static const char help[] =
	"Usage: kvm-image map [OPTIONS] FILE\n"
	"\n"
	"Show which ranges of the disk hold data, which read as zeros, and in\n"
	"which file and at which offset plainly stored data lies.\n"
	"\n"
	"Options:\n"
	"  -f, --format FMT            format of FILE (default: detected)\n"
	"      --output=human|json     output for people (default) or programs\n"
	"                              (JSON as qemu-img map's)\n"
	"      --allow-external-files  follow files named outside the image's folder\n"
	"  -h, --help                  show this help\n";

static const struct option long_options[] = {
	{ "format", required_argument, NULL, 'f' },
	ALLOW_EXTERNAL_LONG_OPTION,
	CLI_COMMON_LONG_OPTIONS,
	{ NULL, 0, NULL, 0 },
};

/* Whether NEXT continues RUN: same kind, and contiguous in the file. */
static bool continues(const struct kvmi_extent *run, const struct kvmi_extent *next)
{
	if (run->data != next->data || run->zero != next->zero || run->depth != next->depth)
		return false;
	if ((run->file == NULL) != (next->file == NULL))
		return false;
	if (run->file && strcmp(run->file, next->file) != 0)
		return false;
	if (run->file_offset < 0 || next->file_offset < 0)
		return run->file_offset == next->file_offset;
	return (uint64_t)run->file_offset + run->length == (uint64_t)next->file_offset;
}

static void emit(const struct kvmi_extent *run, bool json, struct json_object *list)
{
	if (json) {
		struct json_object *e = json_object_new_object();

		json_out_add_uint(e, "start", run->start);
		json_out_add_uint(e, "length", run->length);
		json_out_add_int(e, "depth", run->depth < 0 ? 0 : run->depth);
		json_out_add_bool(e, "present", run->depth >= 0);
		json_out_add_bool(e, "zero", run->zero);
		json_out_add_bool(e, "data", run->data);
		if (run->file_offset >= 0)
			json_out_add_int(e, "offset", run->file_offset);
		json_object_array_add(list, e);
	} else if (run->data) {
		if (run->file_offset >= 0)
			printf("%#-16" PRIx64 " %#-16" PRIx64 " %#-16" PRIx64 " %s\n", run->start,
			       run->length, (uint64_t)run->file_offset, run->file);
		else
			printf("%#-16" PRIx64 " %#-16" PRIx64 " %-16s %s\n", run->start,
			       run->length, "compressed", run->file ? run->file : "");
	}
}

int cmd_map(int argc, char **argv)
{
	struct cli_common common = { .progress = PROGRESS_NEVER };
	struct json_object *list = json_object_new_array();
	struct kvmi_extent run = { 0 }, next;
	struct kvm_error err = { 0 };
	struct image_args args = { 0 };
	struct kvmi_image *img;
	uint64_t offset = 0;
	int status = EXIT_FAILURE_GENERIC;

	if (cli_parse(argc, argv, "f:", long_options, &common, image_args_option, &args))
		goto out_list;
	if (common.help) {
		status = print_help(help);
		goto out_list;
	}
	if (argc - optind != 1) {
		status = cli_usage_error(argv[0], "give one image");
		goto out_list;
	}
	img = open_image_or_report(argv[optind], args.format, args.flags);
	if (!img)
		goto out_list;
	if (!common.json)
		printf("%-16s %-16s %-16s %s\n", "Offset", "Length", "Mapped to", "File");
	while (offset < kvmi_virtual_size(img)) {
		if (kvmi_block_status(img, offset, kvmi_virtual_size(img) - offset, &next, &err) < 0) {
			report_error(&err);
			goto out;
		}
		if (run.length && continues(&run, &next)) {
			run.length += next.length;
		} else {
			if (run.length)
				emit(&run, common.json, list);
			run = next;
		}
		offset += next.length;
	}
	if (run.length)
		emit(&run, common.json, list);
	if (common.json)
		json_out_print(stdout, list);
	status = 0;
out:
	kvmi_close(img);
out_list:
	json_object_put(list);
	return status;
}
