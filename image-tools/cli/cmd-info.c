/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <inttypes.h>
#include <stdio.h>

#include "json-out.h"
#include "kvm-image.h"
#include "progress.h"

static const char help[] =
	"Usage: kvm-image info [OPTIONS] FILE\n"
	"\n"
	"Show the format, virtual and allocated size, cluster or grain size,\n"
	"extents, backing file and format-specific facts of a disk image.\n"
	"\n"
	"Options:\n"
	"  -f, --format FMT            format of FILE (default: detected)\n"
	"      --backing-chain         show every image of the backing chain\n"
	"      --output=human|json     output for people (default) or programs\n"
	"      --allow-external-files  follow files named outside the image's folder\n"
	"  -h, --help                  show this help\n";

enum { OPT_BACKING_CHAIN = OPT_FIRST_COMMAND };

static const struct option long_options[] = {
	{ "format", required_argument, NULL, 'f' },
	{ "backing-chain", no_argument, NULL, OPT_BACKING_CHAIN },
	ALLOW_EXTERNAL_LONG_OPTION,
	CLI_COMMON_LONG_OPTIONS,
	{ NULL, 0, NULL, 0 },
};

struct info_args {
	const char *format;
	unsigned flags;
	bool chain;
};

static int handle_option(int opt, const char *arg, void *ctx)
{
	struct info_args *args = ctx;

	switch (opt) {
	case 'f':
		args->format = arg;
		break;
	case OPT_BACKING_CHAIN:
		args->chain = true;
		break;
	case OPT_ALLOW_EXTERNAL:
		args->flags |= KVMI_OPEN_ALLOW_EXTERNAL;
		break;
	}
	return 0;
}

static void print_value(struct json_object *value, int indent);

static void print_members(struct json_object *obj, int indent)
{
	json_object_object_foreach(obj, key, value) {
		printf("%*s%s:", indent, "", key);
		print_value(value, indent);
	}
}

/* Format-specific facts, nested as the driver gave them. */
static void print_value(struct json_object *value, int indent)
{
	switch (json_object_get_type(value)) {
	case json_type_object:
		printf("\n");
		print_members(value, indent + 4);
		break;
	case json_type_array:
		printf("\n");
		for (size_t i = 0; i < json_object_array_length(value); i++) {
			struct json_object *item = json_object_array_get_idx(value, i);

			printf("%*s[%zu]:", indent + 4, "", i);
			print_value(item, indent + 4);
		}
		break;
	default:
		printf(" %s\n", json_object_get_string(value));
	}
}

static const char *string_member(struct json_object *obj, const char *key)
{
	struct json_object *v;

	return json_object_object_get_ex(obj, key, &v) ? json_object_get_string(v) : NULL;
}

static uint64_t uint_member(struct json_object *obj, const char *key)
{
	struct json_object *v;

	return json_object_object_get_ex(obj, key, &v) ? (uint64_t)json_object_get_uint64(v) : 0;
}

static void print_human(struct json_object *info)
{
	struct json_object *specific, *flag;
	char size[32];
	uint64_t vsize = uint_member(info, "virtual-size");

	printf("image: %s\n", string_member(info, "filename"));
	printf("file format: %s\n", string_member(info, "format"));
	printf("virtual size: %s (%" PRIu64 " bytes)\n",
	       progress_format_bytes(vsize, size, sizeof(size)), vsize);
	printf("disk size: %s\n",
	       progress_format_bytes(uint_member(info, "actual-size"), size, sizeof(size)));
	if (uint_member(info, "cluster-size"))
		printf("cluster_size: %" PRIu64 "\n", uint_member(info, "cluster-size"));
	if (string_member(info, "backing-filename")) {
		printf("backing file: %s\n", string_member(info, "backing-filename"));
		if (string_member(info, "backing-filename-format"))
			printf("backing file format: %s\n", string_member(info, "backing-filename-format"));
	}
	if (json_object_object_get_ex(info, "dirty-flag", &flag) && json_object_get_boolean(flag))
		printf("dirty flag: yes\n");
	if (json_object_object_get_ex(info, "format-specific", &specific)) {
		printf("Format specific information:\n");
		print_members(specific, 4);
	}
}

int cmd_info(int argc, char **argv)
{
	struct cli_common common = { .progress = PROGRESS_NEVER };
	struct json_object *info = NULL;
	struct kvm_error err = { 0 };
	struct info_args args = { 0 };
	struct kvmi_image *img;
	int status = EXIT_FAILURE_GENERIC;

	if (cli_parse(argc, argv, "f:", long_options, &common, handle_option, &args))
		return EXIT_FAILURE_GENERIC;
	if (common.help)
		return print_help(help);
	if (argc - optind != 1)
		return cli_usage_error(argv[0], "give one image");

	img = open_image_or_report(argv[optind], args.format, args.flags);
	if (!img)
		return EXIT_FAILURE_GENERIC;
	if (kvmi_info(img, args.chain, &info, &err) < 0) {
		report_error(&err);
		goto out;
	}
	if (common.json) {
		json_out_print(stdout, info);
	} else if (args.chain) {
		for (size_t i = 0; i < json_object_array_length(info); i++) {
			if (i)
				printf("\n");
			print_human(json_object_array_get_idx(info, i));
		}
	} else {
		print_human(info);
	}
	status = 0;
out:
	json_object_put(info);
	kvmi_close(img);
	return status;
}
