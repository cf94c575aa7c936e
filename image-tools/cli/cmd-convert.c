/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "kvm-image.h"
#include "log.h"
#include "path.h"
#include "progress.h"
#include "strbuf.h"

static const char help[] =
	"Usage: kvm-image convert [OPTIONS] SRC [DST]\n"
	"\n"
	"Convert the disk image SRC, read through its backing chain or snapshot\n"
	"parents, to a new image DST.  Without DST, vm.vmdk becomes vm.qcow2 in the\n"
	"same folder.  The output appears under its name only when complete.\n"
	"\n"
	"Options:\n"
	"  -f, --source-format FMT     format of SRC (default: detected)\n"
	"  -O, --target-format FMT     format of DST: qcow2 (default), raw, vmdk\n"
	"  -o, --options OPTIONS       creation options of DST, key=value,...\n"
	"                              (kvm-image create --help lists them)\n"
	"  -c, --compress              compress the data of DST (qcow2, vmdk)\n"
	"  -B, --backing BACKING       make DST a qcow2 layer over BACKING holding only\n"
	"                              what the top layer of SRC holds; BACKING is\n"
	"                              named relative to DST's folder and lies in it\n"
	"  -m, --threads N             worker threads (default: all CPUs)\n"
	"      --force                 replace DST if it exists\n"
	"      --allow-external-files  follow extents, backing and data files\n"
	"                              that lie outside the image's folder\n"
	"  -p, --progress              show progress even when not on a terminal\n"
	"      --no-progress           never show progress\n"
	"  -q, --quiet                 print errors only\n"
	"  -v, --verbose               say what is done\n"
	"  -h, --help                  show this help\n";

enum { OPT_FORCE = OPT_FIRST_COMMAND };

static const struct option long_options[] = {
	{ "source-format", required_argument, NULL, 'f' },
	{ "target-format", required_argument, NULL, 'O' },
	{ "options", required_argument, NULL, 'o' },
	{ "compress", no_argument, NULL, 'c' },
	{ "backing", required_argument, NULL, 'B' },
	{ "threads", required_argument, NULL, 'm' },
	{ "force", no_argument, NULL, OPT_FORCE },
	ALLOW_EXTERNAL_LONG_OPTION,
	CLI_COMMON_LONG_OPTIONS,
	{ NULL, 0, NULL, 0 },
};

struct convert_args {
	struct kvmi_convert_options opts;
	const char *src_format;
	unsigned flags;
	const char *command;
};

static int handle_option(int opt, const char *arg, void *ctx)
{
	struct convert_args *args = ctx;
	char *end;

	switch (opt) {
	case 'f':
		args->src_format = arg;
		break;
	case 'O':
		args->opts.out.format = arg;
		break;
	case 'o':
		args->opts.out.options = arg;
		break;
	case 'c':
		args->opts.out.compress = true;
		break;
	case 'B':
		args->opts.backing = arg;
		break;
	case 'm':
		args->opts.threads = (int)strtol(arg, &end, 10);
		if (*end || args->opts.threads < 1 || args->opts.threads > 64)
			return cli_usage_error(args->command, "--threads takes a number from 1 to 64");
		break;
	case OPT_FORCE:
		args->opts.out.replace = true;
		break;
	case OPT_ALLOW_EXTERNAL:
		args->flags |= KVMI_OPEN_ALLOW_EXTERNAL;
		break;
	}
	return 0;
}

/* vm.vmdk -> vm.qcow2 beside it; the suffix is the output format's name. */
static void default_target(const char *src, const char *format, struct strbuf *dst)
{
	const char *base = path_basename(src);
	const char *dot = strrchr(base, '.');

	strbuf_add(dst, src, dot && dot != base ? (size_t)(dot - src) : strlen(src));
	strbuf_addf(dst, ".%s", format);
}

static void show_progress(void *opaque, uint64_t done, uint64_t total)
{
	struct progress *bar = opaque;

	/* The total is known only once the source's map has been read. */
	bar->total = total;
	progress_update(bar, done);
}

int cmd_convert(int argc, char **argv)
{
	struct convert_args args = { .opts.out.format = "qcow2", .command = argv[0] };
	struct kvmi_convert_options *opts = &args.opts;
	struct cli_common common = { .progress = PROGRESS_AUTO };
	struct strbuf dst = STRBUF_INIT;
	struct kvm_error err = { 0 };
	struct kvmi_image *src = NULL;
	struct progress bar;
	int status = EXIT_FAILURE_GENERIC;

	if (cli_parse(argc, argv, "f:O:o:cB:m:", long_options, &common, handle_option, &args))
		return EXIT_FAILURE_GENERIC;
	if (common.help)
		return print_help(help);
	if (common.json)
		return cli_usage_error(argv[0], "convert has no JSON output");
	if (optind == argc || argc - optind > 2)
		return cli_usage_error(argv[0], "give a source image and at most one target");
	if (!kvmi_format_writable(opts->out.format))
		return cli_usage_error(argv[0], "cannot write format '%s'", opts->out.format);

	if (argc - optind == 2)
		strbuf_addstr(&dst, argv[optind + 1]);
	else
		default_target(argv[optind], opts->out.format, &dst);

	src = open_image_or_report(argv[optind], args.src_format, args.flags);
	if (!src)
		goto out;
	log_verbose("converting %s (%s) to %s (%s)", argv[optind], kvmi_format(src), dst.buf,
		    opts->out.format);
	progress_start(&bar, log_get_level() == LOG_LEVEL_QUIET ? PROGRESS_NEVER : common.progress,
		       stderr, "Converting", 0);
	opts->progress = show_progress;
	opts->progress_opaque = &bar;
	if (kvmi_convert(src, dst.buf, opts, &err) < 0) {
		progress_finish(&bar);
		report_error(&err);
		goto out;
	}
	progress_finish(&bar);
	log_verbose("wrote %s", dst.buf);
	status = 0;
out:
	kvmi_close(src);
	strbuf_release(&dst);
	return status;
}
