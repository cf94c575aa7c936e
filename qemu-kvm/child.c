/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Children that run beside kvm-run: QEMU, which kvm-run waits for, and
 * swtpm, which must outlive QEMU's start and be stopped after it.  run.h
 * runs a program to completion, so these are started here, the same way:
 * posix_spawn from an argv, never a shell.
 */
#include <errno.h>
#include <signal.h>
#include <spawn.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "kvm-run.h"

extern char **environ;

/* How often child_stop looks whether the child has ended. */
#define STOP_POLL_MS 10

int child_start(struct child *child, const char *const *argv, struct kvm_error *err)
{
	posix_spawnattr_t attr;
	sigset_t signals;
	short flags = POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF;
	int ret;

	child->pid = 0;
	ret = posix_spawnattr_init(&attr);
	if (ret)
		return kvm_error_errno(err, -ret, "%s: cannot run", argv[0]);
	/* The child starts with default signals, not with kvm-run's handlers. */
	sigemptyset(&signals);
	ret = posix_spawnattr_setsigmask(&attr, &signals);
	sigfillset(&signals);
	if (!ret)
		ret = posix_spawnattr_setsigdefault(&attr, &signals);
	if (!ret && child->own_group) {
		flags |= POSIX_SPAWN_SETPGROUP;
		ret = posix_spawnattr_setpgroup(&attr, 0);
	}
	if (!ret)
		ret = posix_spawnattr_setflags(&attr, flags);
	if (!ret)
		ret = posix_spawnp(&child->pid, argv[0], NULL, &attr, (char *const *)argv, environ);
	posix_spawnattr_destroy(&attr);
	if (ret == ENOENT)
		return kvm_error_set(err, -ENOENT, "%s: command not found", argv[0]);
	if (ret) {
		child->pid = 0;
		return kvm_error_errno(err, -ret, "%s: cannot run", argv[0]);
	}
	return 0;
}

static int decode_status(int wstatus)
{
	if (WIFEXITED(wstatus))
		return WEXITSTATUS(wstatus);
	if (WIFSIGNALED(wstatus))
		return 128 + WTERMSIG(wstatus);
	return 1;
}

int child_wait(struct child *child, int *status, struct kvm_error *err)
{
	int wstatus;

	if (child->pid <= 0)
		return kvm_error_set(err, -ECHILD, "no child to wait for");
	if (waitpid(child->pid, &wstatus, 0) < 0)
		return -errno;	/* EINTR: the caller looks at its signal, then waits again */
	child->pid = 0;
	*status = decode_status(wstatus);
	return 0;
}

bool child_exited(struct child *child, int *status)
{
	int wstatus;

	if (child->pid <= 0)
		return true;
	if (waitpid(child->pid, &wstatus, WNOHANG) != child->pid)
		return false;
	child->pid = 0;
	*status = decode_status(wstatus);
	return true;
}

static void sleep_ms(int ms)
{
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000 };

	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

void child_stop(struct child *child, int grace_ms)
{
	int status;

	if (!child || child->pid <= 0)
		return;
	kill(child->pid, SIGTERM);
	for (int waited = 0; waited < grace_ms; waited += STOP_POLL_MS) {
		if (child_exited(child, &status))
			return;
		sleep_ms(STOP_POLL_MS);
	}
	kill(child->pid, SIGKILL);
	while (waitpid(child->pid, &status, 0) < 0 && errno == EINTR)
		;
	child->pid = 0;
}
