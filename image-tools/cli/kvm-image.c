/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * kvm-image: inspect, check and convert VMware and QEMU disk images.
 * A table of subcommands, one file each (git's builtin/ layout).
 */
#include <stdio.h>

#include "cli.h"
#include "kvm-image.h"
#include "log.h"

static const struct cli_command commands[] = {
	{ "convert", cmd_convert, "convert a disk image to another format (default qcow2)" },
	{ "info", cmd_info, "show format, sizes, extents and backing chain of an image" },
	{ "check", cmd_check, "check an image's metadata for corruption and leaks" },
	{ "compare", cmd_compare, "tell whether two images hold the same content" },
	{ "create", cmd_create, "create an empty image" },
	{ "map", cmd_map, "show where the data of an image lies" },
	{ "measure", cmd_measure, "tell how much space a converted image needs" },
	{ "import", cmd_import, "make a KVM guest of a VMware OVA, OVF or VMX" },
};

#define N_COMMANDS (sizeof(commands) / sizeof(commands[0]))

static void usage(FILE *out)
{
	fprintf(out, "Usage: kvm-image COMMAND [OPTIONS] ARGS...\n"
		     "       kvm-image COMMAND --help\n\n"
		     "Inspect, check and convert VMware and QEMU disk images.\n\n"
		     "Commands:\n");
	for (size_t i = 0; i < N_COMMANDS; i++)
		fprintf(out, "  %-9s %s\n", commands[i].name, commands[i].summary);
	fprintf(out, "\nFormats:");
	for (const char *const *f = kvmi_formats(); *f; f++)
		fprintf(out, " %s%s", *f, kvmi_format_writable(*f) ? "" : " (read only)");
	fprintf(out, "\n\nOptions:\n"
		     "  -h, --help     show this help\n"
		     "  -V, --version  show the version\n\n"
		     "See kvm-image(1) for more.\n");
}

int main(int argc, char **argv)
{
	log_set_program("kvm-image");
	kvmi_remove_partial_output_on_signals();
	return cli_run_command("kvm-image", commands, N_COMMANDS, usage, argc, argv);
}

struct kvmi_image *open_image_or_report(const char *path, const char *format, unsigned flags)
{
	struct kvmi_open_options opts = { .format = format, .flags = flags };
	struct kvm_error err = { 0 };
	struct kvmi_image *img;

	if (kvmi_open(path, &opts, &img, &err) < 0) {
		report_error(&err);
		return NULL;
	}
	return img;
}

int image_args_option(int opt, const char *arg, void *ctx)
{
	struct image_args *args = ctx;

	switch (opt) {
	case 'f':
		args->format = arg;
		break;
	case OPT_ALLOW_EXTERNAL:
		args->flags |= KVMI_OPEN_ALLOW_EXTERNAL;
		break;
	}
	return 0;
}

void report_error(const struct kvm_error *err)
{
	log_error("%s", err->message[0] ? err->message : "unknown error");
}

int print_help(const char *help)
{
	fputs(help, stdout);
	return 0;
}
