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
	"  -m, --threads N             worker threads (default: all CPUs)\n"
	"      --force                 replace DST if it exists\n"
	"      --allow-external-files  follow extents, backing and data files\n"
	"                              that lie outside the image's folder\n"
	"  -p, --progress              show progress even when not on a terminal\n"
	"      --no-progress           never show progress\n"
	"  -q, --quiet                 print errors only\n"
	"  -v, --verbose               say what is done\n"
	"  -h, --help                  show this help\n";

enum { OPT_FORCE = CLI_OPT_FIRST_PRIVATE, OPT_ALLOW_EXTERNAL };

static const struct option long_options[] = {
	{ "source-format", required_argument, NULL, 'f' },
	{ "target-format", required_argument, NULL, 'O' },
	{ "options", required_argument, NULL, 'o' },
	{ "compress", no_argument, NULL, 'c' },
	{ "threads", required_argument, NULL, 'm' },
	{ "force", no_argument, NULL, OPT_FORCE },
	{ "allow-external-files", no_argument, NULL, OPT_ALLOW_EXTERNAL },
	CLI_COMMON_LONG_OPTIONS,
	{ NULL, 0, NULL, 0 },
};

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
	struct kvmi_convert_options opts = { .out.format = "qcow2" };
	struct cli_common common = { .progress = PROGRESS_AUTO };
	const char *src_format = NULL;
	struct strbuf dst = STRBUF_INIT;
	struct kvm_error err = { 0 };
	struct kvmi_image *src = NULL;
	struct progress bar;
	unsigned flags = 0;
	int opt, status = EXIT_FAILURE_GENERIC;
	char *end;

	while ((opt = getopt_long(argc, argv, "f:O:o:cm:" CLI_COMMON_SHORT_OPTIONS,
				  long_options, NULL)) != -1) {
		int handled = cli_common_option(&common, opt, optarg, argv[0]);

		if (handled < 0)
			return EXIT_FAILURE_GENERIC;
		if (handled)
			continue;
		switch (opt) {
		case 'f':
			src_format = optarg;
			break;
		case 'O':
			opts.out.format = optarg;
			break;
		case 'o':
			opts.out.options = optarg;
			break;
		case 'c':
			opts.out.compress = true;
			break;
		case 'm':
			opts.threads = (int)strtol(optarg, &end, 10);
			if (*end || opts.threads < 1 || opts.threads > 64)
				return cli_usage_error(argv[0], "--threads takes a number from 1 to 64");
			break;
		case OPT_FORCE:
			opts.out.replace = true;
			break;
		case OPT_ALLOW_EXTERNAL:
			flags |= KVMI_OPEN_ALLOW_EXTERNAL;
			break;
		}
	}
	if (common.help)
		return print_help(help);
	if (common.json)
		return cli_usage_error(argv[0], "convert has no JSON output");
	if (optind == argc || argc - optind > 2)
		return cli_usage_error(argv[0], "give a source image and at most one target");
	if (!kvmi_format_writable(opts.out.format))
		return cli_usage_error(argv[0], "cannot write format '%s'", opts.out.format);

	if (argc - optind == 2)
		strbuf_addstr(&dst, argv[optind + 1]);
	else
		default_target(argv[optind], opts.out.format, &dst);

	src = open_image_or_report(argv[optind], src_format, flags);
	if (!src)
		goto out;
	log_verbose("converting %s (%s) to %s (%s)", argv[optind], kvmi_format(src), dst.buf,
		    opts.out.format);
	progress_start(&bar, log_get_level() == LOG_LEVEL_QUIET ? PROGRESS_NEVER : common.progress,
		       stderr, "Converting", 0);
	opts.progress = show_progress;
	opts.progress_opaque = &bar;
	if (kvmi_convert(src, dst.buf, &opts, &err) < 0) {
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
