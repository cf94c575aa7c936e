/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The installer's kernel and initrd, read from an ISO with libarchive. */
#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#include "iso.h"

int iso_extract(const char *iso, const char *member, const char *dest, struct kvm_error *err)
{
	struct archive *a = archive_read_new();
	struct archive_entry *entry;
	int ret = -ENOENT, fd = -1;

	archive_read_support_format_iso9660(a);
	if (archive_read_open_filename(a, iso, 1 << 16) != ARCHIVE_OK) {
		ret = kvm_error_set(err, -EINVAL, "%s: %s", iso, archive_error_string(a));
		goto out;
	}
	while (archive_read_next_header(a, &entry) == ARCHIVE_OK) {
		const char *name = archive_entry_pathname(entry);
		const void *buf;
		size_t len;
		int64_t offset;
		int r;

		if (strncmp(name, "./", 2) == 0)
			name += 2;
		if (strcmp(name, member) != 0)
			continue;
		fd = open(dest, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
		if (fd < 0) {
			ret = kvm_error_errno(err, -errno, "%s", dest);
			goto out;
		}
		while ((r = archive_read_data_block(a, &buf, &len, &offset)) == ARCHIVE_OK) {
			if (pwrite(fd, buf, len, offset) != (ssize_t)len) {
				ret = kvm_error_errno(err, -errno, "%s", dest);
				goto out;
			}
		}
		if (r != ARCHIVE_EOF) {
			ret = kvm_error_set(err, -EIO, "%s: %s: %s", iso, member, archive_error_string(a));
			goto out;
		}
		ret = 0;
		goto out;
	}
	ret = kvm_error_set(err, -ENOENT, "%s: has no %s: is it the right ISO for this profile?",
			    iso, member);
out:
	if (fd >= 0)
		close(fd);
	archive_read_free(a);
	return ret;
}

int iso_label(const char *iso, struct strbuf *label, struct kvm_error *err)
{
	/* The primary volume descriptor is sector 16; its volume id is at 40. */
	char pvd[72];
	int fd = open(iso, O_RDONLY | O_CLOEXEC);
	ssize_t n;

	if (fd < 0)
		return kvm_error_errno(err, -errno, "%s", iso);
	n = pread(fd, pvd, sizeof(pvd), 16 * 2048);
	close(fd);
	if (n != (ssize_t)sizeof(pvd) || pvd[0] != 1 || memcmp(pvd + 1, "CD001", 5) != 0)
		return kvm_error_set(err, -EINVAL, "%s: not an ISO 9660 image", iso);
	strbuf_add(label, pvd + 40, 32);
	strbuf_rtrim(label);
	return 0;
}
