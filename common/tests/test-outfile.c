// SPDX-License-Identifier: GPL-2.0-or-later
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "outfile.h"
#include "strbuf.h"
#include "tap.h"

static char dir[64];

/* How many entries the test folder has, and how many are hidden temps. */
static int count_entries(int *hidden)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	int n = 0;

	*hidden = 0;
	while ((e = readdir(d))) {
		if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
			continue;
		n++;
		if (e->d_name[0] == '.')
			(*hidden)++;
	}
	closedir(d);
	return n;
}

static void in_dir(struct strbuf *sb, const char *name)
{
	strbuf_reset(sb);
	strbuf_addf(sb, "%s/%s", dir, name);
}

static void read_file(const char *path, char *buf, size_t size)
{
	FILE *f = fopen(path, "r");
	size_t n = 0;

	if (f) {
		n = fread(buf, 1, size - 1, f);
		fclose(f);
	}
	buf[n] = '\0';
}

static void write_all(int fd, const char *text)
{
	if (write(fd, text, strlen(text)) != (ssize_t)strlen(text))
		perror("write");
}

static void test_commit(void)
{
	struct strbuf path = STRBUF_INIT;
	struct kvm_error err = { 0 };
	struct outfile of;
	struct stat st;
	char buf[64];
	int hidden;

	in_dir(&path, "new.qcow2");
	CHECK_INT(outfile_open(&of, path.buf, false, 0666, &err), 0);
	CHECK(of.fd >= 0);
	CHECK(fcntl(of.fd, F_GETFD) & FD_CLOEXEC);
	CHECK(strncmp(strrchr(of.tmp_path, '/') + 1, ".new.qcow2.partial-", 19) == 0);
	/* Nothing under the final name until commit. */
	CHECK(access(path.buf, F_OK) < 0);
	CHECK_INT(count_entries(&hidden), 1);
	CHECK_INT(hidden, 1);
	write_all(of.fd, "data");
	CHECK_INT(outfile_commit(&of, &err), 0);
	CHECK(of.tmp_path == NULL && of.path == NULL && of.fd == -1);

	read_file(path.buf, buf, sizeof(buf));
	CHECK_STR(buf, "data");
	CHECK(stat(path.buf, &st) == 0 && (st.st_mode & 07777) == 0640);
	CHECK_INT(count_entries(&hidden), 1);
	CHECK_INT(hidden, 0);
	/* The caller's usual clean-up path after a commit. */
	outfile_abort(&of);
	CHECK(access(path.buf, F_OK) == 0);
	unlink(path.buf);
	strbuf_release(&path);
}

static void test_existing(void)
{
	struct strbuf path = STRBUF_INIT, want = STRBUF_INIT;
	struct kvm_error err = { 0 };
	struct outfile of, late;
	char buf[64];
	int hidden, fd;

	in_dir(&path, "old.img");
	fd = open(path.buf, O_WRONLY | O_CREAT, 0644);
	write_all(fd, "old");
	close(fd);

	CHECK_INT(outfile_open(&of, path.buf, false, 0666, &err), -EEXIST);
	strbuf_addf(&want, "%s: already exists (use --force to replace it)", path.buf);
	CHECK_STR(err.message, want.buf);
	CHECK_INT(count_entries(&hidden), 1);
	CHECK_INT(hidden, 0);
	read_file(path.buf, buf, sizeof(buf));
	CHECK_STR(buf, "old");
	outfile_abort(&of);

	CHECK_INT(outfile_open(&of, path.buf, true, 0666, &err), 0);
	write_all(of.fd, "new");
	/* Until commit the old content stays. */
	read_file(path.buf, buf, sizeof(buf));
	CHECK_STR(buf, "old");
	CHECK_INT(outfile_commit(&of, &err), 0);
	read_file(path.buf, buf, sizeof(buf));
	CHECK_STR(buf, "new");
	CHECK_INT(count_entries(&hidden), 1);
	CHECK_INT(hidden, 0);
	unlink(path.buf);

	/* A file that appears while we write is not replaced either. */
	CHECK_INT(outfile_open(&late, path.buf, false, 0666, &err), 0);
	write_all(late.fd, "ours");
	fd = open(path.buf, O_WRONLY | O_CREAT, 0644);
	write_all(fd, "theirs");
	close(fd);
	CHECK_INT(outfile_commit(&late, &err), -EEXIST);
	CHECK_STR(err.message, want.buf);
	read_file(path.buf, buf, sizeof(buf));
	CHECK_STR(buf, "theirs");
	outfile_abort(&late);
	CHECK_INT(count_entries(&hidden), 1);
	CHECK_INT(hidden, 0);
	unlink(path.buf);

	/* A folder in the way is refused before anything is written. */
	in_dir(&path, "folder");
	mkdir(path.buf, 0755);
	CHECK_INT(outfile_open(&of, path.buf, true, 0666, &err), -EISDIR);
	CHECK_INT(count_entries(&hidden), 1);
	rmdir(path.buf);

	strbuf_release(&path);
	strbuf_release(&want);
}

static void test_abort(void)
{
	struct strbuf path = STRBUF_INIT;
	struct kvm_error err = { 0 };
	struct outfile of, zero;
	int hidden;

	in_dir(&path, "aborted.vmdk");
	CHECK_INT(outfile_open(&of, path.buf, false, 0666, &err), 0);
	write_all(of.fd, "partial");
	outfile_abort(&of);
	CHECK_INT(count_entries(&hidden), 0);
	outfile_abort(&of);
	CHECK(of.tmp_path == NULL && of.path == NULL);

	memset(&zero, 0, sizeof(zero));
	outfile_abort(&zero);
	/* A zeroed struct has fd 0, which is not ours to close. */
	CHECK(fcntl(0, F_GETFD) >= 0);
	outfile_abort(NULL);
	CHECK(outfile_commit(&zero, &err) < 0);

	in_dir(&path, "no-such-folder/x.img");
	CHECK_INT(outfile_open(&of, path.buf, false, 0666, &err), -ENOENT);
	CHECK_MSG(err, "no-such-folder/x.img");
	outfile_abort(&of);
	strbuf_release(&path);
}

/* Many open at once, and the table gives slots back. */
static void test_many(void)
{
	struct strbuf path = STRBUF_INIT;
	struct kvm_error err = { 0 };
	struct outfile of[80];
	int opened = 0, hidden;

	for (int round = 0; round < 2; round++) {
		opened = 0;
		for (int i = 0; i < 80; i++) {
			strbuf_reset(&path);
			strbuf_addf(&path, "%s/many%d", dir, i);
			if (outfile_open(&of[i], path.buf, false, 0666, &err) == 0)
				opened++;
		}
		CHECK_INT(opened, 64);
		CHECK_INT(err.code, -EMFILE);
		for (int i = 0; i < 80; i++)
			outfile_abort(&of[i]);
		CHECK_INT(count_entries(&hidden), 0);
	}
	strbuf_release(&path);
}

static void test_signal(int sig)
{
	struct strbuf path = STRBUF_INIT;
	int ready[2], status, hidden;
	pid_t pid;
	char c;

	in_dir(&path, "killed.qcow2");
	if (pipe(ready) < 0)
		perror("pipe");
	fflush(stdout);
	pid = fork();
	if (pid == 0) {
		struct kvm_error err = { 0 };
		struct outfile of, other;

		close(ready[0]);
		outfile_install_signal_cleanup();
		if (outfile_open(&of, path.buf, false, 0666, &err) < 0 ||
		    outfile_open(&other, "/dev/null/x", false, 0666, &err) == 0)
			_exit(1);
		write_all(of.fd, "partial");
		write_all(ready[1], "r");
		for (;;)
			pause();
	}
	close(ready[1]);
	CHECK(read(ready[0], &c, 1) == 1);
	close(ready[0]);
	CHECK_INT(count_entries(&hidden), 1);
	CHECK_INT(hidden, 1);
	kill(pid, sig);
	CHECK(waitpid(pid, &status, 0) == pid);
	CHECK(WIFSIGNALED(status) && WTERMSIG(status) == sig);
	CHECK_INT(count_entries(&hidden), 0);
	strbuf_release(&path);
}

static void touch(const char *name)
{
	struct strbuf path = STRBUF_INIT;
	int fd;

	in_dir(&path, name);
	fd = open(path.buf, O_WRONLY | O_CREAT | O_EXCL, 0600);
	CHECK(fd >= 0);
	close(fd);
	strbuf_release(&path);
}

static bool exists(const char *name)
{
	struct strbuf path = STRBUF_INIT;
	bool found;

	in_dir(&path, name);
	found = access(path.buf, F_OK) == 0;
	strbuf_release(&path);
	return found;
}

static void remove_name(const char *name)
{
	struct strbuf path = STRBUF_INIT;

	in_dir(&path, name);
	unlink(path.buf);
	strbuf_release(&path);
}

/* Only the temporary files of the same name whose writer is gone (no
 * flock held) are removed by the next open. */
static void test_leftovers(void)
{
	struct strbuf path = STRBUF_INIT;
	struct kvm_error err = { 0 };
	struct outfile of;
	int busy, hidden;

	touch(".out.partial-AbC123");
	touch(".out.partial-Busy00");
	touch(".out.partial-toolong");
	touch(".other.partial-AbC123");
	in_dir(&path, ".out.partial-Busy00");
	busy = open(path.buf, O_RDONLY);
	CHECK(flock(busy, LOCK_EX | LOCK_NB) == 0);

	in_dir(&path, "out");
	CHECK_INT(outfile_open(&of, path.buf, false, 0666, &err), 0);
	CHECK(!exists(".out.partial-AbC123"));
	CHECK(exists(".out.partial-Busy00"));
	CHECK(exists(".out.partial-toolong"));
	CHECK(exists(".other.partial-AbC123"));
	/* The new temporary file is locked: another open leaves it alone. */
	{
		struct outfile second;

		in_dir(&path, "out");
		CHECK_INT(outfile_open(&second, path.buf, false, 0666, &err), 0);
		CHECK(access(of.tmp_path, F_OK) == 0);
		outfile_abort(&second);
	}
	outfile_abort(&of);
	close(busy);
	remove_name(".out.partial-Busy00");
	remove_name(".out.partial-toolong");
	remove_name(".other.partial-AbC123");
	CHECK_INT(count_entries(&hidden), 0);
	strbuf_release(&path);
}

/* What SIGKILL leaves is named as partial, and the next run removes it. */
static void test_killed_writer(void)
{
	struct strbuf path = STRBUF_INIT;
	struct kvm_error err = { 0 };
	struct outfile of;
	int ready[2], status, hidden;
	pid_t pid;
	char c;

	in_dir(&path, "killed.qcow2");
	CHECK(pipe(ready) == 0);
	pid = fork();
	if (pid == 0) {
		close(ready[0]);
		if (outfile_open(&of, path.buf, false, 0666, &err) < 0)
			_exit(1);
		write_all(of.fd, "partial");
		write_all(ready[1], "r");
		for (;;)
			pause();
	}
	close(ready[1]);
	CHECK(read(ready[0], &c, 1) == 1);
	close(ready[0]);
	kill(pid, SIGKILL);
	CHECK(waitpid(pid, &status, 0) == pid);
	CHECK_INT(count_entries(&hidden), 1);
	CHECK_INT(hidden, 1);

	CHECK_INT(outfile_open(&of, path.buf, false, 0666, &err), 0);
	CHECK_INT(count_entries(&hidden), 1);
	write_all(of.fd, "whole");
	CHECK_INT(outfile_commit(&of, &err), 0);
	CHECK_INT(count_entries(&hidden), 1);
	CHECK_INT(hidden, 0);
	unlink(path.buf);
	strbuf_release(&path);
}

int main(void)
{
	umask(027);
	snprintf(dir, sizeof(dir), "/tmp/test-outfile-XXXXXX");
	if (!mkdtemp(dir)) {
		perror("mkdtemp");
		return 1;
	}
	test_commit();
	test_existing();
	test_abort();
	test_many();
	test_leftovers();
	test_killed_writer();
	test_signal(SIGTERM);
	test_signal(SIGINT);
	test_signal(SIGHUP);
	rmdir(dir);
	return tap_done();
}
