/* SPDX-License-Identifier: GPL-2.0-or-later */
/* kvm-install render: one answer file, rendered and validated, mode 0600. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "kvm-install.h"
#include "log.h"
#include "outfile.h"
#include "xalloc.h"

static const char help[] =
	"Usage: kvm-install render PROFILE [--vars FILE] [--set KEY=VALUE]... --output FILE\n"
	"\n"
	"Render the answer file of PROFILE with the variables given, check it with\n"
	"its format's validator, and write it to FILE with mode 0600 (it holds\n"
	"password hashes).  Nothing is written when rendering or validation fails.\n"
	"\n"
	"Options:\n"
	"      --vars FILE        read KEY = VALUE lines (may be repeated)\n"
	"      --set KEY=VALUE    set one variable; lists grow by one item\n"
	"  -o, --output FILE      where to write the answer file\n"
	"      --force            replace FILE if it exists\n"
	"  -v, --verbose          say what is done\n"
	"  -q, --quiet            print errors only\n"
	"  -h, --help             show this help\n"
	"\n"
	"Variables (kvm-install --list-vars):\n";

enum { OPT_FORCE = OPT_FIRST_COMMAND };

/* Not CLI_COMMON_LONG_OPTIONS: --output names the file here. */
static const struct option long_options[] = {
	{ "vars", required_argument, NULL, OPT_VARS },
	{ "set", required_argument, NULL, OPT_SET },
	{ "output", required_argument, NULL, 'o' },
	{ "force", no_argument, NULL, OPT_FORCE },
	{ "verbose", no_argument, NULL, 'v' },
	{ "quiet", no_argument, NULL, 'q' },
	{ "help", no_argument, NULL, 'h' },
	{ NULL, 0, NULL, 0 },
};

struct render_args {
	const char **files, **sets;
	size_t n_files, n_sets;
	const char *output;
	bool force;
};

static void add_arg(const char ***list, size_t *n, const char *arg)
{
	*list = xrealloc(*list, (*n + 1) * sizeof(**list));
	(*list)[(*n)++] = arg;
}

static int handle_option(int opt, const char *arg, void *ctx)
{
	struct render_args *args = ctx;

	switch (opt) {
	case OPT_VARS:
		add_arg(&args->files, &args->n_files, arg);
		break;
	case OPT_SET:
		add_arg(&args->sets, &args->n_sets, arg);
		break;
	case 'o':
		args->output = arg;
		break;
	case OPT_FORCE:
		args->force = true;
		break;
	}
	return 0;
}

int write_answer(const struct profile *profile, const struct vars *vars, const char *path,
		 bool replace)
{
	struct strbuf text = STRBUF_INIT, skipped = STRBUF_INIT;
	struct outfile of = { 0 };
	struct kvm_error err = { 0 };
	int ret;

	ret = render_answer(profile, vars, &text, &err);
	if (ret < 0)
		goto fail;
	ret = outfile_open(&of, path, replace, 0600, &err);
	if (ret < 0)
		goto fail;
	if (write(of.fd, text.buf, text.len) != (ssize_t)text.len) {
		ret = kvm_error_errno(&err, -errno, "%s", path);
		goto fail;
	}
	ret = validate_answer(profile, of.tmp_path, path, &skipped, &err);
	if (ret < 0)
		goto fail;
	if (ret == 1)
		log_warn("%s: not validated: %s", path, skipped.buf);
	else
		log_verbose("%s: valid", path);
	ret = outfile_commit(&of, &err);
	if (ret < 0)
		goto fail;
	strbuf_release(&text);
	strbuf_release(&skipped);
	return 0;
fail:
	outfile_abort(&of);
	log_error("%s", err.message);
	strbuf_release(&text);
	strbuf_release(&skipped);
	return -1;
}

int cmd_render(int argc, char **argv)
{
	struct cli_common common = { .progress = PROGRESS_NEVER };
	struct render_args args = { 0 };
	const struct profile *profile;
	struct vars vars;
	int status = EXIT_FAILURE_GENERIC;

	vars_init(&vars);
	if (cli_parse(argc, argv, "o:", long_options, &common, handle_option, &args))
		goto out;
	if (common.help) {
		fputs(help, stdout);
		vars_print_help();
		status = 0;
		goto out;
	}
	if (argc - optind != 1) {
		status = cli_usage_error(argv[0], "give one profile (kvm-install --list-profiles)");
		goto out;
	}
	if (!args.output) {
		status = cli_usage_error(argv[0], "give the answer file's name with --output");
		goto out;
	}
	profile = profile_find(argv[optind]);
	if (!profile) {
		log_error("'%s' is not a profile (kvm-install --list-profiles)", argv[optind]);
		goto out;
	}
	if (collect_vars(&vars, args.files, args.n_files, args.sets, args.n_sets, profile) < 0)
		goto out;
	if (write_answer(profile, &vars, args.output, args.force) == 0)
		status = 0;
out:
	vars_release(&vars);
	free(args.files);
	free(args.sets);
	return status;
}
