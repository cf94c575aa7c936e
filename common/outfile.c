// SPDX-License-Identifier: GPL-2.0-or-later
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "outfile.h"
#include "path.h"
#include "strbuf.h"
#include "xalloc.h"

/*
 * The temporary files a signal handler must remove.  Slots are claimed and
 * released with atomic exchanges, so the handler reads them without a lock
 * (which it could not take).
 */
#define OUTFILE_MAX_OPEN 64
static _Atomic(char *) cleanup_paths[OUTFILE_MAX_OPEN];

/* How many names to try before deciding the folder is being flooded. */
#define OUTFILE_NAME_TRIES 100
#define OUTFILE_RANDOM_LEN 6

/*
 * The temporary file of NAME is ".NAME.partial-XXXXXX", so that one left
 * behind by a process killed with SIGKILL (which no handler sees) says
 * what it is.  Its writer holds an flock(2) on it until the rename; the
 * kernel drops the lock when the writer dies, so a later outfile_open()
 * of NAME can tell a leftover (unlocked) from a file being written
 * (locked) and remove the leftover.  Where flock(2) does not work,
 * leftovers stay.
 */
#define OUTFILE_PARTIAL ".partial-"

static int register_tmp(char *tmp_path)
{
	for (int i = 0; i < OUTFILE_MAX_OPEN; i++) {
		char *expected = NULL;

		if (atomic_compare_exchange_strong(&cleanup_paths[i], &expected, tmp_path))
			return i;
	}
	return -1;
}

static void unregister_tmp(int slot, char *tmp_path)
{
	char *expected = tmp_path;

	if (slot >= 0 && slot < OUTFILE_MAX_OPEN)
		atomic_compare_exchange_strong(&cleanup_paths[slot], &expected, NULL);
}

static void fill_random_name(char *p)
{
	static const char letters[] =
		"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
	unsigned char bytes[OUTFILE_RANDOM_LEN];

	if (getrandom(bytes, sizeof(bytes), GRND_NONBLOCK) != (ssize_t)sizeof(bytes)) {
		/* Uniqueness, not secrecy, is what O_EXCL needs from the name. */
		struct timespec ts;
		unsigned long mix;

		clock_gettime(CLOCK_MONOTONIC, &ts);
		mix = (unsigned long)ts.tv_nsec ^ ((unsigned long)getpid() << 16) ^
		      (unsigned long)(uintptr_t)p;
		for (size_t i = 0; i < sizeof(bytes); i++, mix >>= 5)
			bytes[i] = (unsigned char)(mix + i * 131);
	}
	for (size_t i = 0; i < sizeof(bytes); i++)
		p[i] = letters[bytes[i] % (sizeof(letters) - 1)];
}

/* Whether NAME is a temporary file of BASE: ".BASE.partial-XXXXXX". */
static bool is_partial_of(const char *name, const char *base)
{
	size_t base_len = strlen(base), tag_len = strlen(OUTFILE_PARTIAL);

	return name[0] == '.' && strncmp(name + 1, base, base_len) == 0 &&
	       strncmp(name + 1 + base_len, OUTFILE_PARTIAL, tag_len) == 0 &&
	       strlen(name + 1 + base_len + tag_len) == OUTFILE_RANDOM_LEN;
}

/* Removes the temporary files of BASE in DIR whose writer has died. */
static void remove_leftovers(const char *dir, const char *base)
{
	DIR *d = opendir(dir);
	struct dirent *e;

	if (!d)
		return;
	while ((e = readdir(d))) {
		struct stat st;
		int fd;

		if (!is_partial_of(e->d_name, base))
			continue;
		fd = openat(dirfd(d), e->d_name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
		if (fd < 0)
			continue;
		if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && flock(fd, LOCK_EX | LOCK_NB) == 0)
			unlinkat(dirfd(d), e->d_name, 0);
		close(fd);
	}
	closedir(d);
}

/* A file system without flock(2): its leftovers are never removed, as no
 * lock can tell them from files being written. */
static bool no_locking(int error)
{
	return error == ENOLCK || error == EOPNOTSUPP || error == EINVAL;
}

/* Whether FD is still the file named PATH. */
static bool still_named(int fd, const char *path)
{
	struct stat by_fd, by_name;

	return fstat(fd, &by_fd) == 0 && lstat(path, &by_name) == 0 &&
	       by_fd.st_dev == by_name.st_dev && by_fd.st_ino == by_name.st_ino;
}

/*
 * Creates and locks a temporary file whose random part is at RANDOM_AT of
 * TMP.  open(2) rather than mkostemp, so that the new file gets MODE
 * through the umask and default ACLs exactly as the final file would.
 * The lock lives on a copy of the descriptor, so that commit can close
 * the data descriptor (to see the errors of network file systems) and
 * still hold the lock over the rename.
 */
static int create_locked(struct strbuf *tmp, size_t random_at, mode_t mode, int *fd_out,
			 int *lock_fd_out)
{
	for (int tries = 0; tries < OUTFILE_NAME_TRIES; tries++) {
		int fd, lock_fd, ret;

		fill_random_name(tmp->buf + random_at);
		fd = open(tmp->buf, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, mode);
		if (fd < 0 && errno == EEXIST)
			continue;
		if (fd < 0)
			return -errno;
		/*
		 * A concurrent outfile_open() of the same name may take the file
		 * for a leftover in the moment before it is locked: it then holds
		 * the lock, or has removed the file.  Either way, another name.
		 */
		lock_fd = fcntl(fd, F_DUPFD_CLOEXEC, 0);
		if (lock_fd >= 0 && (flock(lock_fd, LOCK_EX | LOCK_NB) == 0 || no_locking(errno))) {
			if (still_named(fd, tmp->buf)) {
				*fd_out = fd;
				*lock_fd_out = lock_fd;
				return 0;
			}
			ret = 0;
		} else {
			ret = lock_fd < 0 || errno != EWOULDBLOCK ? -errno : 0;
		}
		if (lock_fd >= 0)
			close(lock_fd);
		close(fd);
		if (ret == 0)
			continue;
		unlink(tmp->buf);
		return ret;
	}
	return -EEXIST;
}

static int already_exists(const char *path, struct kvm_error *err)
{
	return kvm_error_set(err, -EEXIST, "%s: already exists (use --force to replace it)",
			     path);
}

int outfile_open(struct outfile *of, const char *path, bool replace, mode_t mode,
		 struct kvm_error *err)
{
	struct strbuf tmp = STRBUF_INIT, dir = STRBUF_INIT;
	const char *base = path_basename(path);
	struct stat st;
	size_t random_at;
	int fd = -1, lock_fd = -1, slot, ret;

	*of = (struct outfile){ .fd = -1, .lock_fd = -1, .slot = -1, .replace = replace };

	if (!*base)
		return kvm_error_set(err, -EISDIR, "%s: not a file name", path);
	if (lstat(path, &st) == 0) {
		if (!replace)
			return already_exists(path, err);
		if (S_ISDIR(st.st_mode))
			return kvm_error_set(err, -EISDIR, "%s: is a directory", path);
	} else if (errno != ENOENT) {
		return kvm_error_errno(err, -errno, "%s", path);
	}

	path_dirname(path, &dir);
	remove_leftovers(dir.buf, base);
	strbuf_release(&dir);

	/* In the target folder, so that the final rename stays on one file system. */
	strbuf_add(&tmp, path, (size_t)(base - path));
	strbuf_addf(&tmp, ".%s" OUTFILE_PARTIAL, base);
	random_at = tmp.len;
	for (int i = 0; i < OUTFILE_RANDOM_LEN; i++)
		strbuf_addch(&tmp, 'X');

	/* Registered before the file exists, so no signal finds it unlisted. */
	slot = register_tmp(tmp.buf);
	if (slot < 0) {
		ret = kvm_error_set(err, -EMFILE, "%s: too many output files open at once", path);
		goto fail;
	}

	ret = create_locked(&tmp, random_at, mode, &fd, &lock_fd);
	if (ret < 0) {
		ret = kvm_error_errno(err, ret, "%s: cannot create a temporary file", path);
		goto fail;
	}

	of->path = xstrdup(path);
	of->fd = fd;
	of->lock_fd = lock_fd;
	of->slot = slot;
	of->tmp_path = strbuf_detach(&tmp);
	return 0;

fail:
	unregister_tmp(slot, tmp.buf);
	strbuf_release(&tmp);
	return ret;
}

static void outfile_free(struct outfile *of)
{
	/* Only an opened outfile has one; a zeroed struct says fd 0. */
	if (of->tmp_path && of->lock_fd >= 0)
		close(of->lock_fd);
	free(of->path);
	free(of->tmp_path);
	of->path = NULL;
	of->tmp_path = NULL;
	of->fd = -1;
	of->lock_fd = -1;
	of->slot = -1;
}

static int sync_folder(const char *path, struct kvm_error *err)
{
	struct strbuf dir = STRBUF_INIT;
	int fd, ret = 0;

	path_dirname(path, &dir);
	fd = open(dir.buf, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0) {
		ret = kvm_error_errno(err, -errno, "%s", dir.buf);
		goto out;
	}
	/* Some file systems cannot sync a folder; they have nothing to lose. */
	if (fsync(fd) < 0 && errno != EINVAL && errno != EOPNOTSUPP)
		ret = kvm_error_errno(err, -errno, "%s", dir.buf);
	close(fd);
out:
	strbuf_release(&dir);
	return ret;
}

/* rename(2) that fails with EEXIST instead of replacing. */
static int rename_noreplace(const char *from, const char *to)
{
	struct stat st;

	if (renameat2(AT_FDCWD, from, AT_FDCWD, to, RENAME_NOREPLACE) == 0)
		return 0;
	if (errno != EINVAL && errno != ENOSYS)
		return -errno;
	/* A file system without RENAME_NOREPLACE: link(2) refuses just as well. */
	if (link(from, to) == 0) {
		unlink(from);
		return 0;
	}
	if (errno != EPERM && errno != EOPNOTSUPP)
		return -errno;
	/* Nor hard links (vfat): the best left is to look just before. */
	if (lstat(to, &st) == 0)
		return -EEXIST;
	return rename(from, to) == 0 ? 0 : -errno;
}

void outfile_start_writeback(struct outfile *of)
{
	if (of->fd >= 0)
		sync_file_range(of->fd, 0, 0, SYNC_FILE_RANGE_WRITE);
}

int outfile_commit(struct outfile *of, struct kvm_error *err)
{
	int ret;

	if (!of->tmp_path || of->fd < 0)
		return kvm_error_set(err, -EBADF, "%s: output file is not open",
				     of->path ? of->path : "(none)");
	if (fsync(of->fd) < 0)
		return kvm_error_errno(err, -errno, "%s", of->path);
	/* Network file systems report failed writes only at close. */
	ret = close(of->fd);
	of->fd = -1;
	if (ret < 0)
		return kvm_error_errno(err, -errno, "%s", of->path);

	if (of->replace)
		ret = rename(of->tmp_path, of->path) == 0 ? 0 : -errno;
	else
		ret = rename_noreplace(of->tmp_path, of->path);
	if (ret == -EEXIST)
		return already_exists(of->path, err);
	if (ret < 0)
		return kvm_error_errno(err, ret, "%s", of->path);

	unregister_tmp(of->slot, of->tmp_path);
	/* The rename itself must reach the disk before we call it done. */
	ret = sync_folder(of->path, err);
	outfile_free(of);
	return ret;
}

void outfile_abort(struct outfile *of)
{
	if (!of)
		return;
	if (of->tmp_path) {
		if (of->fd >= 0)
			close(of->fd);
		/* Unlinked before it leaves the table, so no signal misses it. */
		unlink(of->tmp_path);
		unregister_tmp(of->slot, of->tmp_path);
	}
	outfile_free(of);
}

/*
 * What each signal did before, so that a second copy of this code (a
 * program that links common/ and a library that does too) runs after this
 * one instead of being replaced by it.
 */
static struct sigaction previous_actions[NSIG];

static void cleanup_handler(int sig)
{
	int saved = errno;
	void (*previous)(int) = previous_actions[sig].sa_handler;

	/* Only async-signal-safe calls from here on. */
	for (int i = 0; i < OUTFILE_MAX_OPEN; i++) {
		char *tmp_path = atomic_load(&cleanup_paths[i]);

		if (tmp_path)
			unlink(tmp_path);
	}
	if (previous != SIG_DFL && previous != SIG_IGN && previous != cleanup_handler &&
	    !(previous_actions[sig].sa_flags & SA_SIGINFO)) {
		previous(sig);
	} else {
		signal(sig, SIG_DFL);
		raise(sig);
	}
	errno = saved;
}

void outfile_install_signal_cleanup(void)
{
	static const int signals[] = { SIGINT, SIGTERM, SIGHUP };
	struct sigaction sa, old;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = cleanup_handler;
	sigemptyset(&sa.sa_mask);
	for (size_t i = 0; i < sizeof(signals) / sizeof(signals[0]); i++)
		sigaddset(&sa.sa_mask, signals[i]);

	for (size_t i = 0; i < sizeof(signals) / sizeof(signals[0]); i++) {
		/* A signal ignored on purpose (nohup) stays ignored. */
		if (sigaction(signals[i], NULL, &old) < 0 || old.sa_handler == SIG_IGN ||
		    old.sa_handler == cleanup_handler)
			continue;
		previous_actions[signals[i]] = old;
		sigaction(signals[i], &sa, NULL);
	}
}
