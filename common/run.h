/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Starting child programs from argv arrays, never through a shell (git's
 * run-command.h).  The program is looked up in PATH; its output can be
 * captured; a program that is missing is an error the caller can tell apart
 * from one that ran and failed.
 */
#ifndef KVM_RUN_H
#define KVM_RUN_H

#include <stdbool.h>
#include <stddef.h>

#include "kvm-error.h"
#include "strbuf.h"

struct run_cmd {
	/* What to run. */
	const char *const *argv;	/* argv[0] is searched in PATH */
	const char *const *envp;	/* NULL: inherit the environment */
	const char *cwd;		/* NULL: inherit */
	const char *input;		/* fed to stdin; NULL: /dev/null */
	size_t input_len;
	bool capture_stdout;		/* else inherited */
	bool capture_stderr;		/* else inherited */
	int timeout_ms;			/* 0: none; SIGKILL when it passes */

	/* What happened. */
	struct strbuf out;
	struct strbuf err;
	int status;			/* exit code, or 128 + signal number */
};

void run_cmd_init(struct run_cmd *cmd, const char *const *argv);
void run_cmd_release(struct run_cmd *cmd);

/*
 * Runs cmd to completion.  Returns 0 when the program ran, whatever its
 * exit status (in cmd->status); -ENOENT when it does not exist, -EACCES when
 * it cannot be executed, -ETIMEDOUT when it was killed for time, or another
 * negative errno when it could not be started.
 */
int run_command(struct run_cmd *cmd, struct kvm_error *err);

/*
 * Runs cmd and also fails, with the last line of its captured stderr in the
 * message, when it exits non-zero.  The exit status stays in cmd->status.
 */
int run_command_ok(struct run_cmd *cmd, struct kvm_error *err);

/* Whether NAME is an executable in PATH (or a path to one). */
bool run_program_exists(const char *name);

#endif
