// SPDX-License-Identifier: GPL-2.0-or-later
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <linux/openat2.h>

#include "path.h"

bool path_has_protocol(const char *name)
{
	const char *p = name;

	if (!((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z')))
		return false;
	for (p++; *p && *p != ':' && *p != '/'; p++) {
		if (!((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') ||
		      (*p >= '0' && *p <= '9') || *p == '+' || *p == '.' || *p == '-'))
			return false;
	}
	return *p == ':';
}

static bool has_dotdot_component(const char *name)
{
	const char *p = name;

	while (*p) {
		size_t len = strcspn(p, "/");

		if (len == 2 && p[0] == '.' && p[1] == '.')
			return true;
		p += len;
		while (*p == '/')
			p++;
	}
	return false;
}

/* The rules that need no file system: they hold whatever is on disk. */
static int check_name(const char *dir, const char *name, struct kvm_error *err)
{
	if (!*name)
		return kvm_error_set(err, -EPERM, "empty file name in %s", dir);
	if (name[0] == '/')
		return kvm_error_set(err, -EPERM, "%s: absolute path not allowed", name);
	if (has_dotdot_component(name))
		return kvm_error_set(err, -EPERM, "%s: '..' leads out of %s", name, dir);
	if (path_has_protocol(name))
		return kvm_error_set(err, -EPERM, "%s: protocol prefix not allowed", name);
	return 0;
}

static int symlink_out(const char *dir, const char *name, struct kvm_error *err)
{
	return kvm_error_set(err, -EPERM, "%s: symlink leads out of %s", name, dir);
}

int path_resolve_beneath(const char *dir, const char *name,
			 struct strbuf *resolved, struct kvm_error *err)
{
	struct strbuf joined = STRBUF_INIT;
	char *real_dir = NULL, *real_file = NULL;
	size_t dir_len;
	int ret;

	ret = check_name(dir, name, err);
	if (ret < 0)
		return ret;

	real_dir = realpath(dir, NULL);
	if (!real_dir) {
		ret = kvm_error_errno(err, -errno, "%s", dir);
		goto out;
	}
	strbuf_addf(&joined, "%s/%s", real_dir, name);
	real_file = realpath(joined.buf, NULL);
	if (!real_file) {
		ret = kvm_error_errno(err, -errno, "%s/%s", dir, name);
		goto out;
	}

	dir_len = strlen(real_dir);
	/* "/" as the folder already ends in the separator the test wants. */
	if (dir_len == 1)
		dir_len = 0;
	if (strcmp(real_file, real_dir) != 0 &&
	    (strncmp(real_file, real_dir, dir_len) != 0 || real_file[dir_len] != '/')) {
		ret = symlink_out(dir, name, err);
		goto out;
	}
	strbuf_addstr(resolved, real_file);
	ret = 0;

out:
	free(real_file);
	free(real_dir);
	strbuf_release(&joined);
	return ret;
}

static int open_resolved(const char *dir, const char *name, int flags,
			 struct kvm_error *err)
{
	struct strbuf resolved = STRBUF_INIT;
	int fd, ret;

	ret = path_resolve_beneath(dir, name, &resolved, err);
	if (ret < 0)
		goto out;
	/* The last component was resolved above; refuse one swapped in since. */
	fd = open(resolved.buf, flags | O_CLOEXEC | O_NOFOLLOW, 0666);
	if (fd < 0) {
		ret = kvm_error_errno(err, -errno, "%s", resolved.buf);
		goto out;
	}
	ret = fd;

out:
	strbuf_release(&resolved);
	return ret;
}

int path_open_beneath(const char *dir, const char *name, int flags,
		      struct kvm_error *err)
{
	struct open_how how = {
		.flags = (uint64_t)(flags | O_CLOEXEC),
		.resolve = RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS,
		/* openat2 refuses a mode without a flag that creates. */
		.mode = (flags & (O_CREAT | __O_TMPFILE)) ? 0666 : 0,
	};
	int dirfd, fd, ret;

	ret = check_name(dir, name, err);
	if (ret < 0)
		return ret;

	dirfd = open(dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (dirfd < 0)
		return kvm_error_errno(err, -errno, "%s", dir);
	fd = (int)syscall(SYS_openat2, dirfd, name, &how, sizeof(how));
	if (fd >= 0) {
		ret = fd;
	} else if (errno == ENOSYS) {
		ret = open_resolved(dir, name, flags, err);
	} else if (errno == EXDEV) {
		ret = symlink_out(dir, name, err);
	} else {
		ret = kvm_error_errno(err, -errno, "%s/%s", dir, name);
	}
	close(dirfd);
	return ret;
}

void path_dirname(const char *path, struct strbuf *out)
{
	const char *slash = strrchr(path, '/');
	size_t len;

	if (!slash) {
		strbuf_addch(out, '.');
		return;
	}
	len = (size_t)(slash - path);
	/* "a//b" has folder "a"; "/b" and "//b" have folder "/". */
	while (len && path[len - 1] == '/')
		len--;
	if (!len)
		strbuf_addch(out, '/');
	else
		strbuf_add(out, path, len);
}

const char *path_basename(const char *path)
{
	const char *slash = strrchr(path, '/');

	return slash ? slash + 1 : path;
}
