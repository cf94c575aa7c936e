// SPDX-License-Identifier: GPL-2.0-or-later
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "run.h"
#include "tap.h"

static long long elapsed_ms(const struct timespec *since)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return (now.tv_sec - since->tv_sec) * 1000LL + (now.tv_nsec - since->tv_nsec) / 1000000;
}

static void test_true_false(void)
{
	const char *t[] = { "true", NULL }, *f[] = { "false", NULL };
	struct kvm_error err = { 0 };
	struct run_cmd cmd;

	run_cmd_init(&cmd, t);
	CHECK_INT(run_command(&cmd, &err), 0);
	CHECK_INT(cmd.status, 0);
	CHECK_INT(run_command_ok(&cmd, &err), 0);
	run_cmd_release(&cmd);

	run_cmd_init(&cmd, f);
	CHECK_INT(run_command(&cmd, &err), 0);
	CHECK_INT(cmd.status, 1);
	CHECK(run_command_ok(&cmd, &err) < 0);
	CHECK_INT(cmd.status, 1);
	CHECK_STR(err.message, "false exited with status 1");
	run_cmd_release(&cmd);
}

static void test_missing(void)
{
	const char *argv[] = { "kvm-no-such-program-here", "x", NULL };
	char notexec_path[] = "/tmp/test-run-XXXXXX";
	const char *notexec[] = { notexec_path, NULL };
	int fd = mkstemp(notexec_path);
	struct kvm_error err = { 0 };
	struct run_cmd cmd;

	run_cmd_init(&cmd, argv);
	CHECK_INT(run_command(&cmd, &err), -ENOENT);
	CHECK_STR(err.message, "kvm-no-such-program-here: command not found");
	CHECK_INT(run_command_ok(&cmd, &err), -ENOENT);
	run_cmd_release(&cmd);

	run_cmd_init(&cmd, notexec);
	CHECK_INT(run_command(&cmd, &err), -EACCES);
	CHECK_MSG(err, "/tmp/test-run-");
	run_cmd_release(&cmd);

	CHECK(run_program_exists("sh"));
	CHECK(run_program_exists("/bin/sh"));
	CHECK(!run_program_exists("kvm-no-such-program-here"));
	/* Root may run anything with an x bit, and nothing without one. */
	CHECK(!run_program_exists(notexec_path));
	fchmod(fd, 0755);
	CHECK(run_program_exists(notexec_path));
	close(fd);
	unlink(notexec_path);
	CHECK(!run_program_exists("/tmp"));
	CHECK(!run_program_exists(""));
}

static void test_capture(void)
{
	const char *argv[] = { "sh", "-c", "echo out; echo first >&2; echo err >&2; exit 3", NULL };
	struct kvm_error err = { 0 };
	struct run_cmd cmd;

	run_cmd_init(&cmd, argv);
	cmd.capture_stdout = true;
	cmd.capture_stderr = true;
	CHECK_INT(run_command(&cmd, &err), 0);
	CHECK_INT(cmd.status, 3);
	CHECK_STR(cmd.out.buf, "out\n");
	CHECK_STR(cmd.err.buf, "first\nerr\n");

	strbuf_reset(&cmd.out);
	strbuf_reset(&cmd.err);
	CHECK_INT(run_command_ok(&cmd, &err), -EIO);
	CHECK_STR(err.message, "sh exited with status 3: err");
	run_cmd_release(&cmd);
}

static void test_signal(void)
{
	const char *argv[] = { "sh", "-c", "kill -TERM $$", NULL };
	struct kvm_error err = { 0 };
	struct run_cmd cmd;

	run_cmd_init(&cmd, argv);
	CHECK_INT(run_command_ok(&cmd, &err), -EIO);
	CHECK_INT(cmd.status, 128 + 15);
	CHECK_STR(err.message, "sh was killed by signal 15");
	run_cmd_release(&cmd);
}

static void test_input(void)
{
	const char *cat[] = { "cat", NULL };
	const char *head[] = { "head", "-c", "10", NULL };
	struct kvm_error err = { 0 };
	struct run_cmd cmd;
	size_t big_len = 4 << 20;
	char *big = malloc(big_len);

	run_cmd_init(&cmd, cat);
	cmd.input = "hello\nworld\n";
	cmd.input_len = strlen(cmd.input);
	cmd.capture_stdout = true;
	CHECK_INT(run_command_ok(&cmd, &err), 0);
	CHECK_STR(cmd.out.buf, "hello\nworld\n");
	run_cmd_release(&cmd);

	/* Without input, stdin is /dev/null and cat ends at once. */
	run_cmd_init(&cmd, cat);
	cmd.capture_stdout = true;
	CHECK_INT(run_command_ok(&cmd, &err), 0);
	CHECK_INT(cmd.out.len, 0);
	run_cmd_release(&cmd);

	/* Large input through and back out at once: neither pipe may stall. */
	for (size_t i = 0; i < big_len; i++)
		big[i] = (char)('a' + i % 23);
	run_cmd_init(&cmd, cat);
	cmd.input = big;
	cmd.input_len = big_len;
	cmd.capture_stdout = true;
	CHECK_INT(run_command_ok(&cmd, &err), 0);
	CHECK_INT(cmd.out.len, big_len);
	CHECK(cmd.out.len == big_len && memcmp(cmd.out.buf, big, big_len) == 0);
	run_cmd_release(&cmd);

	/* A child that stops reading early must not kill us with SIGPIPE. */
	run_cmd_init(&cmd, head);
	cmd.input = big;
	cmd.input_len = big_len;
	cmd.capture_stdout = true;
	CHECK_INT(run_command_ok(&cmd, &err), 0);
	CHECK_INT(cmd.out.len, 10);
	run_cmd_release(&cmd);
	free(big);
}

static void test_large_output(void)
{
	const char *argv[] = { "sh", "-c",
		"head -c 1048576 /dev/zero; head -c 1048576 /dev/zero >&2; echo done >&2", NULL };
	struct kvm_error err = { 0 };
	struct run_cmd cmd;

	run_cmd_init(&cmd, argv);
	cmd.capture_stdout = true;
	cmd.capture_stderr = true;
	cmd.timeout_ms = 20000;
	CHECK_INT(run_command_ok(&cmd, &err), 0);
	CHECK_INT(cmd.out.len, 1048576);
	CHECK_INT(cmd.err.len, 1048576 + 5);
	run_cmd_release(&cmd);
}

static void test_timeout(void)
{
	const char *argv[] = { "sleep", "5", NULL };
	struct kvm_error err = { 0 };
	struct timespec start;
	struct run_cmd cmd;

	run_cmd_init(&cmd, argv);
	cmd.timeout_ms = 200;
	clock_gettime(CLOCK_MONOTONIC, &start);
	CHECK_INT(run_command(&cmd, &err), -ETIMEDOUT);
	CHECK(elapsed_ms(&start) < 2000);
	CHECK_INT(cmd.status, 128 + 9);
	CHECK_STR(err.message, "sleep: timed out after 200 ms");

	/* The same with a pipe the child holds open. */
	cmd.capture_stdout = true;
	cmd.capture_stderr = true;
	clock_gettime(CLOCK_MONOTONIC, &start);
	CHECK_INT(run_command_ok(&cmd, &err), -ETIMEDOUT);
	CHECK(elapsed_ms(&start) < 2000);
	run_cmd_release(&cmd);
}

static void test_cwd_env(void)
{
	const char *pwd[] = { "pwd", NULL };
	const char *env[] = { "sh", "-c", "echo \"$KVM_TEST\"", NULL };
	const char *envp[] = { "KVM_TEST=value", "PATH=/usr/bin:/bin", NULL };
	struct kvm_error err = { 0 };
	struct run_cmd cmd;

	run_cmd_init(&cmd, pwd);
	cmd.cwd = "/usr";
	cmd.capture_stdout = true;
	CHECK_INT(run_command_ok(&cmd, &err), 0);
	CHECK_STR(cmd.out.buf, "/usr\n");

	cmd.cwd = "/nonexistent-folder";
	CHECK_INT(run_command(&cmd, &err), -ENOENT);
	CHECK_MSG(err, "/nonexistent-folder");
	run_cmd_release(&cmd);

	run_cmd_init(&cmd, env);
	cmd.envp = envp;
	cmd.capture_stdout = true;
	CHECK_INT(run_command_ok(&cmd, &err), 0);
	CHECK_STR(cmd.out.buf, "value\n");
	run_cmd_release(&cmd);
}

static int compare_int(const void *a, const void *b)
{
	return *(const int *)a - *(const int *)b;
}

/* The child sees 0, 1, 2 and what the caller left inheritable: no fd of ours. */
static void test_no_fd_leak(void)
{
	/* "; true" keeps the shell from exec'ing ls, so ls lists the shell's fds. */
	const char *argv[] = { "sh", "-c", "ls /proc/$$/fd; true", NULL };
	struct strbuf want = STRBUF_INIT, got = STRBUF_INIT;
	struct kvm_error err = { 0 };
	struct run_cmd cmd;
	int fds[1024], n = 0;
	char *p, *end;

	strbuf_addstr(&want, "0 1 2");
	for (int fd = 3; fd < 1024; fd++) {
		int flags = fcntl(fd, F_GETFD);

		if (flags >= 0 && !(flags & FD_CLOEXEC))
			strbuf_addf(&want, " %d", fd);
	}
	run_cmd_init(&cmd, argv);
	cmd.input = "x";
	cmd.input_len = 1;
	cmd.capture_stdout = true;
	cmd.capture_stderr = true;
	cmd.timeout_ms = 10000;
	CHECK_INT(run_command_ok(&cmd, &err), 0);
	for (p = cmd.out.buf; n < 1024; p = end) {
		long fd = strtol(p, &end, 10);

		if (end == p)
			break;
		fds[n++] = (int)fd;
	}
	qsort(fds, (size_t)n, sizeof(fds[0]), compare_int);
	for (int i = 0; i < n; i++)
		strbuf_addf(&got, i ? " %d" : "%d", fds[i]);
	CHECK_STR(got.buf, want.buf);
	run_cmd_release(&cmd);
	strbuf_release(&want);
	strbuf_release(&got);
}

int main(void)
{
	test_true_false();
	test_missing();
	test_capture();
	test_signal();
	test_input();
	test_large_output();
	test_timeout();
	test_cwd_env();
	test_no_fd_leak();
	return tap_done();
}
