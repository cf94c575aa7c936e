/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <unistd.h>

#include "driver.h"

int io_pread_exact(int fd, const char *name, void *buf, size_t len, uint64_t off,
		   struct kvm_error *err)
{
	char *p = buf;

	if (off > (uint64_t)INT64_MAX || len > (uint64_t)INT64_MAX - off)
		return kvm_error_set(err, -EINVAL, "%s: offset 0x%" PRIx64 " is out of range",
				     name, off);
	while (len > 0) {
		ssize_t n = pread(fd, p, len, (off_t)off);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return kvm_error_errno(err, -errno, "%s: read at offset 0x%" PRIx64 " failed",
					       name, off);
		}
		if (n == 0)
			return kvm_error_set(err, -EIO,
					     "%s: truncated: %zu bytes at offset 0x%" PRIx64
					     " lie past the end of the file", name, len, off);
		p += n;
		len -= (size_t)n;
		off += (uint64_t)n;
	}
	return 0;
}

int io_pwrite_all(int fd, const char *name, const void *buf, size_t len, uint64_t off,
		  struct kvm_error *err)
{
	const char *p = buf;

	while (len > 0) {
		ssize_t n = pwrite(fd, p, len, (off_t)off);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return kvm_error_errno(err, -errno, "%s: write at offset 0x%" PRIx64 " failed",
					       name, off);
		}
		p += n;
		len -= (size_t)n;
		off += (uint64_t)n;
	}
	return 0;
}

uint64_t io_data_run(int fd, uint64_t offset, uint64_t max_length, bool *data)
{
	off_t next_data = lseek(fd, (off_t)offset, SEEK_DATA);
	off_t next_hole;
	uint64_t end;

	/* Without SEEK_DATA (block devices, some file systems) all is data;
	 * ENXIO means only a hole remains up to the end of the file. */
	if (next_data < 0 && errno != ENXIO)
		next_data = (off_t)offset;
	if (next_data < 0 || (uint64_t)next_data > offset) {
		*data = false;
		end = next_data < 0 ? UINT64_MAX : (uint64_t)next_data;
	} else {
		*data = true;
		next_hole = lseek(fd, (off_t)offset, SEEK_HOLE);
		end = next_hole < 0 || (uint64_t)next_hole <= offset ? UINT64_MAX : (uint64_t)next_hole;
	}
	return end - offset < max_length ? end - offset : max_length;
}
