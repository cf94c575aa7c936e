/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "files.h"
#include "io.h"
#include "outfile.h"

int files_read(const char *path, size_t max, struct strbuf *out, struct kvm_error *err)
{
	char buf[65536];
	size_t total = 0;
	ssize_t n;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return kvm_error_errno(err, -errno, "%s", path);
	while ((n = read(fd, buf, sizeof(buf))) != 0) {
		if (n < 0) {
			if (errno == EINTR)
				continue;
			n = -errno;
			close(fd);
			return kvm_error_errno(err, (int)n, "%s", path);
		}
		total += (size_t)n;
		if (total > max) {
			close(fd);
			return kvm_error_set(err, -EFBIG, "%s: larger than %zu bytes", path, max);
		}
		strbuf_add(out, buf, (size_t)n);
	}
	close(fd);
	return 0;
}

int files_write_from(const char *path, bool replace, mode_t mode,
		     ssize_t (*read_fn)(void *ctx, void *buf, size_t size), void *ctx,
		     const char *source, struct kvm_error *err)
{
	struct outfile of = { 0 };
	char *buf = NULL;
	ssize_t n;
	int ret;

	if ((ret = outfile_open(&of, path, replace, mode, err)) < 0)
		return ret;
	/* outfile_open applies the umask; served files must be readable by
	 * dnsmasq, which drops to nobody. */
	if (fchmod(of.fd, mode) < 0) {
		ret = kvm_error_errno(err, -errno, "%s", path);
		goto fail;
	}
	buf = malloc(1 << 20);
	if (!buf) {
		ret = kvm_error_errno(err, -ENOMEM, "%s", path);
		goto fail;
	}
	while ((n = read_fn(ctx, buf, 1 << 20)) != 0) {
		if (n < 0) {
			ret = kvm_error_errno(err, (int)n, "%s", source);
			goto fail;
		}
		if ((ret = write_all(of.fd, buf, (size_t)n)) < 0) {
			kvm_error_errno(err, ret, "%s", path);
			goto fail;
		}
	}
	free(buf);
	return outfile_commit(&of, err);
fail:
	free(buf);
	outfile_abort(&of);
	return ret;
}

struct memory_source {
	const char *data;
	size_t left;
};

static ssize_t read_memory(void *ctx, void *buf, size_t size)
{
	struct memory_source *src = ctx;
	size_t n = src->left < size ? src->left : size;

	memcpy(buf, src->data, n);
	src->data += n;
	src->left -= n;
	return (ssize_t)n;
}

int files_write(const char *path, const void *data, size_t len, bool replace, mode_t mode,
		struct kvm_error *err)
{
	struct memory_source src = { data, len };

	return files_write_from(path, replace, mode, read_memory, &src, path, err);
}

static ssize_t read_fd(void *ctx, void *buf, size_t size)
{
	ssize_t n;

	do
		n = read(*(int *)ctx, buf, size);
	while (n < 0 && errno == EINTR);
	return n < 0 ? -errno : n;
}

int files_copy(const char *source, const char *path, bool replace, mode_t mode,
	       struct kvm_error *err)
{
	struct stat st;
	int fd = open(source, O_RDONLY | O_CLOEXEC), ret;

	if (fd < 0)
		return kvm_error_errno(err, -errno, "%s", source);
	if (fstat(fd, &st) == 0 && S_ISDIR(st.st_mode)) {
		close(fd);
		return kvm_error_set(err, -EISDIR, "%s: is a folder, not a file", source);
	}
	ret = files_write_from(path, replace, mode, read_fd, &fd, source, err);
	close(fd);
	return ret;
}

int files_mkdirs(const char *path, struct kvm_error *err)
{
	struct strbuf part = STRBUF_INIT;
	int ret = 0;

	for (const char *c = path; ; c++) {
		if ((*c == '/' || *c == '\0') && c != path) {
			strbuf_reset(&part);
			strbuf_add(&part, path, (size_t)(c - path));
			if (mkdir(part.buf, 0755) < 0 && errno != EEXIST) {
				ret = kvm_error_errno(err, -errno, "%s", part.buf);
				break;
			}
		}
		if (*c == '\0')
			break;
	}
	strbuf_release(&part);
	return ret;
}
