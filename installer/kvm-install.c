/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * kvm-install: one command from nothing to an installed guest.  The
 * install itself is the default command; `render` writes an answer file
 * alone (kvm-netboot serves those).  A table of commands, one file each.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "kvm-install.h"
#include "log.h"
#include "outfile.h"

struct command {
	const char *name;
	int (*run)(int argc, char **argv);
};

static const struct command commands[] = {
	{ "render", cmd_render },
};

void templates_dir(struct strbuf *out)
{
	const char *data = getenv("KVM_INSTALL_DATA_DIR");

	strbuf_addf(out, "%s/templates", data && *data ? data : KVM_INSTALL_DATADIR);
}

int collect_vars(struct vars *vars, const char *const *files, size_t n_files,
		 const char *const *sets, size_t n_sets, const struct profile *profile)
{
	struct kvm_error err = { 0 };

	for (size_t i = 0; i < n_files; i++)
		if (vars_load_file(vars, files[i], &err) < 0)
			goto fail;
	for (size_t i = 0; i < n_sets; i++) {
		const char *eq = strchr(sets[i], '=');
		char *key;
		int ret;

		if (!eq || eq == sets[i]) {
			log_error("--set %s: give KEY=VALUE", sets[i]);
			return -1;
		}
		key = strndup(sets[i], (size_t)(eq - sets[i]));
		if (!key) {
			log_error("out of memory");
			return -1;
		}
		ret = vars_assign(vars, key, eq + 1, &err);
		free(key);
		if (ret < 0) {
			kvm_error_prefix(&err, "--set %s", sets[i]);
			goto fail;
		}
	}
	if (vars_finish(vars, profile, &err) < 0)
		goto fail;
	return 0;
fail:
	log_error("%s", err.message);
	return -1;
}

int main(int argc, char **argv)
{
	log_set_program("kvm-install");
	outfile_install_signal_cleanup();
	if (argc >= 2 && (strcmp(argv[1], "--version") == 0 || strcmp(argv[1], "-V") == 0)) {
		printf("kvm-install %s\n", PACKAGE_VERSION);
		return 0;
	}
	for (size_t i = 0; argc >= 2 && i < sizeof(commands) / sizeof(commands[0]); i++) {
		if (strcmp(argv[1], commands[i].name) == 0) {
			struct strbuf name = STRBUF_INIT;
			int status;

			strbuf_addf(&name, "kvm-install %s", commands[i].name);
			argv[1] = name.buf;
			status = commands[i].run(argc - 1, argv + 1);
			strbuf_release(&name);
			return status;
		}
	}
	return cmd_install(argc, argv);
}
