/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * kvm-install: unattended installs of guests from answer-file templates.
 * What the files of installer/ share.
 */
#ifndef KVM_INSTALL_H
#define KVM_INSTALL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cli.h"
#include "kvm-error.h"
#include "strbuf.h"

#define EXIT_FAILURE_GENERIC 1

/* How values are escaped into a template, and which validator checks it. */
enum answer_format {
	FORMAT_PRESEED,		/* debconf preseed: one line per question */
	FORMAT_AUTOINSTALL,	/* Ubuntu autoinstall: cloud-config YAML */
	FORMAT_KICKSTART,	/* Anaconda kickstart */
	FORMAT_AUTOYAST,	/* openSUSE Leap AutoYaST XML */
	FORMAT_AGAMA,		/* openSUSE Tumbleweed Agama JSON */
	FORMAT_AUTOUNATTEND,	/* Windows setup's autounattend.xml */
	FORMAT_PLAIN,		/* the test profile's list of files */
};

enum boot_kind {
	BOOT_KERNEL,		/* a kernel and initrd on the host (or --kernel/--initrd) */
	BOOT_ISO_KERNEL,	/* a kernel and initrd read from the --iso */
	BOOT_WINDOWS,		/* the --iso with UEFI, TPM and an answer-file disk */
};

struct milestone {
	const char *pattern;	/* text on the serial console */
	const char *label;	/* what progress says */
};

struct profile {
	const char *name;
	const char *description;
	const char *template_name;	/* in the templates folder */
	const char *answer_name;	/* the file name the guest fetches */
	enum answer_format format;
	enum boot_kind boot;
	const char *kernel;		/* host path, or path in the ISO */
	const char *initrd;
	const char *cmdline;		/* a template of the variables, with {{answer_base}} */
	const char *disk_device;	/* the installer's name of the new disk */
	const char *validator_version;	/* ksvalidator -v */
	const char *mirror;		/* the default of the mirror variable */
	const char *windows_image;	/* the default edition */
	const char *windows_drivers;	/* virtio-win's folder for this Windows */
	unsigned memory_mib;		/* the least the installer needs */
	bool bootstrap;			/* --method bootstrap is possible */
	const struct milestone *milestones;	/* NULL-terminated */
	const char *done_pattern;	/* on the console when the install completed */
	const char *question_pattern;	/* on the console when the installer waits for an answer */
};

/* The built-in profiles, NULL-terminated; lookup by name. */
extern const struct profile *const profiles[];
const struct profile *profile_find(const char *name);

/* The folder the templates are read from ($KVM_INSTALL_DATA_DIR/templates). */
void templates_dir(struct strbuf *out);

/* ---- Variables (vars.c) ---- */

struct var {
	const char *name;
	char **values;
	size_t count;
	bool list;
	bool set;
};

struct vars {
	struct var *vars;
	size_t count;
};

void vars_init(struct vars *vars);
void vars_release(struct vars *vars);
/* KEY=VALUE (or KEY = VALUE from a file); lists append, scalars replace. */
int vars_assign(struct vars *vars, const char *key, const char *value, struct kvm_error *err);
int vars_load_file(struct vars *vars, const char *path, struct kvm_error *err);
/* Fills defaults and derived values (password_hash from password, ...). */
int vars_finish(struct vars *vars, const struct profile *profile, struct kvm_error *err);
const struct var *vars_get(const struct vars *vars, const char *name);
const char *vars_value(const struct vars *vars, const char *name);
/* Prints the variables, their kinds and meanings. */
void vars_print_help(void);

/* ---- Templates (template.c) ---- */

int template_render(const char *text, const char *name, const struct vars *vars,
		    enum answer_format format, struct strbuf *out, struct kvm_error *err);

/* Renders the profile's answer file into out. */
int render_answer(const struct profile *profile, const struct vars *vars,
		  struct strbuf *out, struct kvm_error *err);

/* ---- Validation (validate.c) ---- */

/* Checks the rendered answer file at PATH, called NAME in messages.
 * Returns 0 when valid, 1 when no validator is installed (skipped says
 * which), or -errno with a message. */
int validate_answer(const struct profile *profile, const char *path, const char *name,
		    struct strbuf *skipped, struct kvm_error *err);

/* Renders, validates and writes the answer file to PATH, mode 0600, or
 * prints why not and returns -1. */
int write_answer(const struct profile *profile, const struct vars *vars, const char *path,
		 bool replace);

/* ---- --method bootstrap (bootstrap.c) ---- */

struct bootstrap {
	const struct vars *vars;
	const char *workdir;		/* scratch space: the root and a raw disk */
	const char *disk_path;		/* where the finished disk is written */
	const char *format;
	const char *log_path;		/* the set-up boot's console */
	uint64_t size;
	unsigned timeout_s;
	bool tcg;
};

/* Builds a Debian 12 system from packages onto a new disk at disk_path. */
int bootstrap_build(const struct bootstrap *b, struct kvm_error *err);

/* ---- Commands ---- */

int cmd_install(int argc, char **argv);
int cmd_render(int argc, char **argv);

/* The --vars/--set handling both commands share. */
enum {
	OPT_VARS = CLI_OPT_FIRST_PRIVATE,
	OPT_SET,
	OPT_FIRST_COMMAND,
};

int collect_vars(struct vars *vars, const char *const *files, size_t n_files,
		 const char *const *sets, size_t n_sets, const struct profile *profile);

#endif
