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

enum { OPT_BACKING_CHAIN = CLI_OPT_FIRST_PRIVATE, OPT_ALLOW_EXTERNAL };

static const struct option long_options[] = {
	{ "format", required_argument, NULL, 'f' },
	{ "backing-chain", no_argument, NULL, OPT_BACKING_CHAIN },
	{ "allow-external-files", no_argument, NULL, OPT_ALLOW_EXTERNAL },
	CLI_COMMON_LONG_OPTIONS,
	{ NULL, 0, NULL, 0 },
};

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
	struct kvmi_image *img;
	const char *format = NULL;
	bool chain = false;
	unsigned flags = 0;
	int opt, status = EXIT_FAILURE_GENERIC;

	while ((opt = getopt_long(argc, argv, "f:" CLI_COMMON_SHORT_OPTIONS, long_options,
				  NULL)) != -1) {
		int handled = cli_common_option(&common, opt, optarg, argv[0]);

		if (handled < 0)
			return EXIT_FAILURE_GENERIC;
		if (handled)
			continue;
		switch (opt) {
		case 'f':
			format = optarg;
			break;
		case OPT_BACKING_CHAIN:
			chain = true;
			break;
		case OPT_ALLOW_EXTERNAL:
			flags |= KVMI_OPEN_ALLOW_EXTERNAL;
			break;
		}
	}
	if (common.help)
		return print_help(help);
	if (argc - optind != 1)
		return cli_usage_error(argv[0], "give one image");

	img = open_image_or_report(argv[optind], format, flags);
	if (!img)
		return EXIT_FAILURE_GENERIC;
	if (kvmi_info(img, chain, &info, &err) < 0) {
		report_error(&err);
		goto out;
	}
	if (common.json) {
		json_out_print(stdout, info);
	} else if (chain) {
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
