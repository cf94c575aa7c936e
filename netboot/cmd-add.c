/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <stdio.h>
#include <stdlib.h>

#include "kvm-netboot.h"
#include "log.h"
#include "profile.h"
#include "tree.h"

static const char help[] =
	"Usage: kvm-netboot add PROFILE [--from ISO|DIR] [--name NAME] [OPTIONS]\n"
	"       kvm-netboot add --list-profiles\n"
	"\n"
	"Add an install profile to the tree: the kernel, initrd and install files\n"
	"of PROFILE taken from an ISO (read with libarchive, without mounting) or\n"
	"a folder, and an entry in every menu.  Profiles: debian-12 (default\n"
	"source: the debian-installer-12-netboot-amd64 package), ubuntu-24.04,\n"
	"fedora, rhel, opensuse-leap, opensuse-tumbleweed, windows-10,\n"
	"windows-11, windows-server-2022, and linux (any kernel and initrd).\n"
	"\n"
	"Options:\n"
	"      --tree DIR         the netboot tree (default " DEFAULT_TREE ")\n"
	"      --from ISO|DIR     where the installer's files come from\n"
	"      --name NAME        the profile's name in the tree (default PROFILE)\n"
	"      --append ARGS      more kernel arguments for its entries\n"
	"      --wimboot FILE     wimboot, to boot Windows PE from iPXE\n"
	"      --virtio-win DIR|ISO  the virtio-win drivers, for Windows setup\n"
	"      --list-profiles    list the profiles, and exit\n"
	"      --force            replace a profile of that name\n"
	"  -p, --progress         show progress even when not on a terminal\n"
	"      --no-progress      show no progress\n"
	"  -v, --verbose          say what is done\n"
	"  -q, --quiet            print errors only\n"
	"  -h, --help             show this help\n";

enum {
	OPT_FROM = OPT_FIRST_COMMAND,
	OPT_NAME,
	OPT_APPEND,
	OPT_WIMBOOT,
	OPT_VIRTIO_WIN,
	OPT_LIST_PROFILES,
	OPT_FORCE,
};

static const struct option long_options[] = {
	TREE_LONG_OPTION,
	{ "from", required_argument, NULL, OPT_FROM },
	{ "name", required_argument, NULL, OPT_NAME },
	{ "append", required_argument, NULL, OPT_APPEND },
	{ "wimboot", required_argument, NULL, OPT_WIMBOOT },
	{ "virtio-win", required_argument, NULL, OPT_VIRTIO_WIN },
	{ "list-profiles", no_argument, NULL, OPT_LIST_PROFILES },
	{ "force", no_argument, NULL, OPT_FORCE },
	CLI_COMMON_LONG_OPTIONS,
	{ NULL, 0, NULL, 0 },
};

struct add_args {
	const char *tree;
	struct profile_source source;
	bool list;
};

static int handle_option(int opt, const char *arg, void *ctx)
{
	struct add_args *args = ctx;

	switch (opt) {
	case OPT_TREE:
		args->tree = arg;
		break;
	case OPT_FROM:
		args->source.from = arg;
		break;
	case OPT_NAME:
		args->source.name = arg;
		break;
	case OPT_APPEND:
		args->source.append = arg;
		break;
	case OPT_WIMBOOT:
		args->source.wimboot = arg;
		break;
	case OPT_VIRTIO_WIN:
		args->source.virtio_win = arg;
		break;
	case OPT_LIST_PROFILES:
		args->list = true;
		break;
	case OPT_FORCE:
		args->source.force = true;
		break;
	}
	return 0;
}

int cmd_add(int argc, char **argv)
{
	struct add_args args = { .tree = DEFAULT_TREE };
	struct cli_common common = { 0 };
	struct kvm_error err = { 0 };
	struct nb_tree tree = { .lock_fd = -1 };
	int status = EXIT_FAILURE_GENERIC;

	if (cli_parse(argc, argv, "", long_options, &common, handle_option, &args))
		return EXIT_FAILURE_GENERIC;
	if (common.help)
		return print_help(help);
	if (args.list) {
		if (profile_list(stdout, &err) < 0) {
			report_error(&err);
			return EXIT_FAILURE_GENERIC;
		}
		return 0;
	}
	if (argc - optind != 1)
		return cli_usage_error(argv[0], "give one PROFILE (--list-profiles lists them)");
	args.source.profile = argv[optind];
	args.source.progress = common.progress;

	if (tree_open(args.tree, true, &tree, &err) < 0 ||
	    profile_add(&tree, &args.source, &err) < 0 ||
	    tree_save(&tree, &err) < 0) {
		report_error(&err);
		goto out;
	}
	log_notice("%s: profile %s added", args.tree,
		   args.source.name ? args.source.name : args.source.profile);
	status = 0;
out:
	tree_close(&tree);
	return status;
}
