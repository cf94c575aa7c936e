/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "kvm-image.h"
#include "kvmimage-import.h"
#include "log.h"
#include "progress.h"

static const char help[] =
	"Usage: kvm-image import [OPTIONS] SOURCE\n"
	"\n"
	"Make a KVM guest of the VMware guest in SOURCE: an .ova, an .ovf with its\n"
	"files, or a .vmx with its disks.  The guest folder gets the disks, converted,\n"
	"a libvirt domain XML (NAME.xml), a kvm-run profile (NAME.profile) and a\n"
	"report of what was mapped to what (report.txt, report.json), which is also\n"
	"printed.  An OVA's disks are read in place, without extracting them; its\n"
	"manifest is checked first.\n"
	"\n"
	"Options:\n"
	"  -o, --output DIR            the guest folder (default: SOURCE's name\n"
	"                              without its suffix, in the current folder)\n"
	"  -O, --format FMT            format of the disks: qcow2 (default) or raw\n"
	"      --flatten               merge VMX snapshot chains into one disk (default)\n"
	"      --keep-chain            keep snapshot chains as qcow2 backing chains\n"
	"      --fix-guest             adapt the guest's system to KVM (libguestfs):\n"
	"                              Linux: remove VMware's tools, mount by UUID,\n"
	"                              virtio drivers in the initramfs; Windows:\n"
	"                              the drivers of --virtio-win\n"
	"      --virtio-win ISO        with --fix-guest, the virtio-win ISO whose\n"
	"                              storage and network drivers go into a\n"
	"                              Windows guest, which then gets virtio\n"
	"      --force                 replace files in the guest folder\n"
	"      --allow-external-files  follow disk names that lead outside the\n"
	"                              OVF's or VMX's folder\n"
	"  -m, --threads N             worker threads per disk (default: all CPUs)\n"
	"  -p, --progress              show progress even when not on a terminal\n"
	"      --no-progress           never show progress\n"
	"  -q, --quiet                 print errors only, not the report\n"
	"  -v, --verbose               say what is done\n"
	"  -h, --help                  show this help\n";

enum {
	OPT_FLATTEN = OPT_FIRST_COMMAND,
	OPT_KEEP_CHAIN,
	OPT_FIX_GUEST,
	OPT_VIRTIO_WIN,
	OPT_FORCE,
};

/* Not CLI_COMMON_LONG_OPTIONS: --output names the guest folder here, as
 * the report is printed as text and written as report.json. */
static const struct option long_options[] = {
	{ "output", required_argument, NULL, 'o' },
	{ "format", required_argument, NULL, 'O' },
	{ "flatten", no_argument, NULL, OPT_FLATTEN },
	{ "keep-chain", no_argument, NULL, OPT_KEEP_CHAIN },
	{ "fix-guest", no_argument, NULL, OPT_FIX_GUEST },
	{ "virtio-win", required_argument, NULL, OPT_VIRTIO_WIN },
	{ "force", no_argument, NULL, OPT_FORCE },
	{ "threads", required_argument, NULL, 'm' },
	ALLOW_EXTERNAL_LONG_OPTION,
	{ "verbose", no_argument, NULL, 'v' },
	{ "quiet", no_argument, NULL, 'q' },
	{ "help", no_argument, NULL, 'h' },
	{ "progress", no_argument, NULL, CLI_OPT_PROGRESS },
	{ "no-progress", no_argument, NULL, CLI_OPT_NO_PROGRESS },
	{ NULL, 0, NULL, 0 },
};

struct import_args {
	struct kvmi_import_options opts;
	bool flatten;
	const char *command;
};

static int handle_option(int opt, const char *arg, void *ctx)
{
	struct import_args *args = ctx;
	struct kvmi_import_options *opts = &args->opts;
	char *end;

	switch (opt) {
	case 'o':
		opts->output_dir = arg;
		break;
	case 'O':
		opts->format = arg;
		break;
	case OPT_FLATTEN:
		args->flatten = true;
		break;
	case OPT_KEEP_CHAIN:
		opts->keep_chain = true;
		break;
	case OPT_FIX_GUEST:
		opts->fix_guest = true;
		break;
	case OPT_VIRTIO_WIN:
		opts->virtio_win = arg;
		break;
	case OPT_FORCE:
		opts->replace = true;
		break;
	case OPT_ALLOW_EXTERNAL:
		opts->flags |= KVMI_OPEN_ALLOW_EXTERNAL;
		break;
	case 'm':
		opts->threads = (int)strtol(arg, &end, 10);
		if (*end || opts->threads < 1 || opts->threads > 64)
			return cli_usage_error(args->command, "--threads takes a number from 1 to 64");
		break;
	}
	return 0;
}

struct import_progress {
	struct progress bar;
	enum progress_mode mode;
	bool started;
};

static void show_step(void *opaque, const char *what)
{
	struct import_progress *p = opaque;

	if (p->started) {
		progress_finish(&p->bar);
		p->started = false;
	}
	log_verbose("%s", what);
}

static void show_progress(void *opaque, uint64_t done, uint64_t total)
{
	struct import_progress *p = opaque;

	if (!p->started) {
		progress_start(&p->bar, p->mode, stderr, "Converting", total);
		p->started = true;
	}
	p->bar.total = total;
	progress_update(&p->bar, done);
}

int cmd_import(int argc, char **argv)
{
	struct import_args args = { .command = argv[0] };
	struct kvmi_import_options *opts = &args.opts;
	struct cli_common common = { .progress = PROGRESS_AUTO };
	struct import_progress progress = { 0 };
	struct json_object *report = NULL;
	struct kvm_error err = { 0 };
	int r;

	if (cli_parse(argc, argv, "o:O:m:", long_options, &common, handle_option, &args))
		return EXIT_FAILURE_GENERIC;
	if (common.help)
		return print_help(help);
	if (optind + 1 != argc)
		return cli_usage_error(argv[0], "give one source: an .ova, .ovf or .vmx file");
	if (args.flatten && opts->keep_chain)
		return cli_usage_error(argv[0], "--flatten and --keep-chain exclude each other");
	if (opts->format && strcmp(opts->format, "qcow2") != 0 && strcmp(opts->format, "raw") != 0)
		return cli_usage_error(argv[0], "--format takes qcow2 or raw");
	if (opts->virtio_win && !opts->fix_guest)
		return cli_usage_error(argv[0], "--virtio-win is used by --fix-guest only");
	if (opts->fix_guest && !kvmi_import_can_fix_guest()) {
		log_error("%s: --fix-guest needs libguestfs, which this kvm-image was built without; "
			  "install libguestfs (libguestfs0 on Debian) and a kvm-image built with it, "
			  "or import without --fix-guest", argv[optind]);
		return EXIT_FAILURE_GENERIC;
	}

	progress.mode = log_get_level() == LOG_LEVEL_QUIET ? PROGRESS_NEVER : common.progress;
	opts->step = show_step;
	opts->step_opaque = &progress;
	opts->progress = show_progress;
	opts->progress_opaque = &progress;
	r = kvmi_import(argv[optind], opts, &report, &err);
	if (progress.started)
		progress_finish(&progress.bar);
	if (r < 0) {
		report_error(&err);
		return EXIT_FAILURE_GENERIC;
	}
	if (log_get_level() != LOG_LEVEL_QUIET) {
		char *text = kvmi_import_report_text(report);

		fputs(text, stdout);
		free(text);
	}
	json_object_put(report);
	return 0;
}
