/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json-out.h"
#include "kvm-netboot.h"
#include "log.h"
#include "outfile.h"
#include "strbuf.h"
#include "tree.h"

static const char help[] =
	"Usage: kvm-netboot host add MAC --profile NAME [--answers FILE] [OPTIONS]\n"
	"       kvm-netboot host remove MAC [OPTIONS]\n"
	"       kvm-netboot host list [OPTIONS]\n"
	"\n"
	"A host entry installs the machine with network card MAC once, unattended\n"
	"with the answer file given: when the installer calls back over HTTP, the\n"
	"entry returns to booting the local disk, so the machine never reinstalls\n"
	"itself in a loop.  Adding the MAC again arms it again.\n"
	"\n"
	"Options:\n"
	"      --tree DIR         the netboot tree (default " DEFAULT_TREE ")\n"
	"      --profile NAME     the profile to install (see kvm-netboot add)\n"
	"      --answers FILE     the answer file (preseed, autoinstall, kickstart,\n"
	"                         AutoYaST, autounattend.xml), e.g. from\n"
	"                         kvm-install render\n"
	"      --force            replace an entry that exists\n"
	"      --output=human|json  output for people (default) or programs (list)\n"
	"  -v, --verbose          say what is done\n"
	"  -q, --quiet            print errors only\n"
	"  -h, --help             show this help\n";

enum {
	OPT_PROFILE = OPT_FIRST_COMMAND,
	OPT_ANSWERS,
	OPT_FORCE,
};

static const struct option long_options[] = {
	TREE_LONG_OPTION,
	{ "profile", required_argument, NULL, OPT_PROFILE },
	{ "answers", required_argument, NULL, OPT_ANSWERS },
	{ "force", no_argument, NULL, OPT_FORCE },
	CLI_COMMON_LONG_OPTIONS,
	{ NULL, 0, NULL, 0 },
};

struct host_args {
	const char *tree;
	const char *profile;
	const char *answers;
	bool force;
};

static int handle_option(int opt, const char *arg, void *ctx)
{
	struct host_args *args = ctx;

	switch (opt) {
	case OPT_TREE:
		args->tree = arg;
		break;
	case OPT_PROFILE:
		args->profile = arg;
		break;
	case OPT_ANSWERS:
		args->answers = arg;
		break;
	case OPT_FORCE:
		args->force = true;
		break;
	}
	return 0;
}

static int host_add(struct nb_tree *tree, const char *id, const struct host_args *args,
		    struct kvm_error *err)
{
	struct nb_host *host = tree_find_host(tree, id);
	struct strbuf answers = STRBUF_INIT;
	int ret;

	if (!tree_find_profile(tree, args->profile))
		return kvm_error_set(err, -ENOENT, "%s: no profile '%s' (kvm-netboot add makes one)",
				     tree->dir, args->profile);
	if (host && !host->installed && !args->force)
		return kvm_error_set(err, -EEXIST, "%s: host %s is already to be installed "
				     "(--force replaces it)", tree->dir, id);
	strbuf_addf(&answers, "%s/%s.answers", TREE_HOSTS, id);
	ret = tree_store_answers(tree, args->answers, answers.buf, err);
	strbuf_release(&answers);
	if (ret < 0)
		return ret;
	tree_put_host(tree, id, args->profile);
	return tree_save(tree, err);
}

static int host_remove(struct nb_tree *tree, const char *id, struct kvm_error *err)
{
	if (tree_remove_host(tree, id) < 0)
		return kvm_error_set(err, -ENOENT, "%s: no host %s", tree->dir, id);
	return tree_save(tree, err);
}

static int host_list(struct nb_tree *tree, bool json)
{
	struct json_object *list = json_object_new_array();
	struct strbuf mac = STRBUF_INIT;
	int ret = 0;

	for (size_t i = 0; i < tree->n_hosts; i++) {
		const struct nb_host *host = &tree->hosts[i];
		struct json_object *obj;

		strbuf_reset(&mac);
		host_mac(host, &mac);
		if (!json) {
			printf("%s  %-16s %s\n", mac.buf, host->profile,
			       host->installed ? "installed: boots locally" : "to be installed");
			continue;
		}
		obj = json_object_new_object();
		json_out_add_string(obj, "mac", mac.buf);
		json_out_add_string(obj, "profile", host->profile);
		json_out_add_bool(obj, "installed", host->installed);
		json_object_array_add(list, obj);
	}
	if (json)
		ret = json_out_print(stdout, list);
	json_object_put(list);
	strbuf_release(&mac);
	return ret;
}

int cmd_host(int argc, char **argv)
{
	struct host_args args = { .tree = DEFAULT_TREE };
	struct cli_common common = { 0 };
	struct kvm_error err = { 0 };
	struct nb_tree tree = { .lock_fd = -1 };
	struct strbuf id = STRBUF_INIT;
	const char *action;
	int ret, status = EXIT_FAILURE_GENERIC;

	if (cli_parse(argc, argv, "", long_options, &common, handle_option, &args))
		return EXIT_FAILURE_GENERIC;
	if (common.help)
		return print_help(help);
	if (optind >= argc)
		return cli_usage_error(argv[0], "give add, remove or list");
	action = argv[optind];
	if (strcmp(action, "list") == 0) {
		if (argc - optind != 1)
			return cli_usage_error(argv[0], "list takes no MAC");
	} else if (strcmp(action, "add") == 0 || strcmp(action, "remove") == 0) {
		if (argc - optind != 2)
			return cli_usage_error(argv[0], "give %s one MAC", action);
		if (strcmp(action, "add") == 0 && !args.profile)
			return cli_usage_error(argv[0], "host add needs --profile");
		if (host_id_from_mac(argv[optind + 1], &id, &err) < 0) {
			report_error(&err);
			strbuf_release(&id);
			return EXIT_FAILURE_GENERIC;
		}
	} else {
		return cli_usage_error(argv[0], "'%s' is not add, remove or list", action);
	}

	if (tree_open(args.tree, strcmp(action, "list") != 0, &tree, &err) < 0)
		goto fail;
	if (strcmp(action, "list") == 0)
		ret = host_list(&tree, common.json);
	else if (strcmp(action, "add") == 0)
		ret = host_add(&tree, id.buf, &args, &err);
	else
		ret = host_remove(&tree, id.buf, &err);
	if (ret < 0)
		goto fail;
	status = 0;
	goto out;
fail:
	report_error(&err);
out:
	tree_close(&tree);
	strbuf_release(&id);
	return status;
}
