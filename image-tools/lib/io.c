/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdbool.h>
#include <unistd.h>

#include "core.h"

/* The windows of open images that are byte ranges of a larger file (a disk
 * inside an OVA).  Drivers read img->fd without knowing; the reads below
 * shift and bound them.  Keyed by descriptor, which stays unique while the
 * image that registered it is open. */
#define IO_MAX_WINDOWS 256

static struct {
	int fd;
	uint64_t offset;
	uint64_t length;
} windows[IO_MAX_WINDOWS];
static int n_windows;
static pthread_rwlock_t windows_lock = PTHREAD_RWLOCK_INITIALIZER;

int io_window_add(int fd, uint64_t offset, uint64_t length, const char *name,
		  struct kvm_error *err)
{
	int r = 0;

	pthread_rwlock_wrlock(&windows_lock);
	if (n_windows == IO_MAX_WINDOWS) {
		r = kvm_error_set(err, -EMFILE, "%s: more than %d images inside other files are open",
				  name, IO_MAX_WINDOWS);
	} else {
		windows[n_windows].fd = fd;
		windows[n_windows].offset = offset;
		windows[n_windows].length = length;
		__atomic_store_n(&n_windows, n_windows + 1, __ATOMIC_RELEASE);
	}
	pthread_rwlock_unlock(&windows_lock);
	return r;
}

void io_window_remove(int fd)
{
	pthread_rwlock_wrlock(&windows_lock);
	for (int i = 0; i < n_windows; i++) {
		if (windows[i].fd == fd) {
			windows[i] = windows[n_windows - 1];
			__atomic_store_n(&n_windows, n_windows - 1, __ATOMIC_RELEASE);
			break;
		}
	}
	pthread_rwlock_unlock(&windows_lock);
}

bool io_window_of(int fd, uint64_t *offset, uint64_t *length)
{
	bool found = false;

	/* An image is opened before any thread reads it, so a count of 0
	 * seen here means no window of this descriptor. */
	if (__atomic_load_n(&n_windows, __ATOMIC_ACQUIRE) == 0)
		return false;
	pthread_rwlock_rdlock(&windows_lock);
	for (int i = 0; i < n_windows; i++) {
		if (windows[i].fd == fd) {
			*offset = windows[i].offset;
			*length = windows[i].length;
			found = true;
			break;
		}
	}
	pthread_rwlock_unlock(&windows_lock);
	return found;
}

int io_pread_exact(int fd, const char *name, void *buf, size_t len, uint64_t off,
		   struct kvm_error *err)
{
	char *p = buf;
	uint64_t window_offset, window_length;

	if (off > (uint64_t)INT64_MAX || len > (uint64_t)INT64_MAX - off)
		return kvm_error_set(err, -EINVAL, "%s: offset 0x%" PRIx64 " is out of range",
				     name, off);
	if (io_window_of(fd, &window_offset, &window_length)) {
		if (off > window_length || len > window_length - off)
			return kvm_error_set(err, -EIO,
					     "%s: truncated: %zu bytes at offset 0x%" PRIx64
					     " lie past the end of the file", name, len, off);
		off += window_offset;
	}
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
	uint64_t window_offset, window_length;
	off_t next_data, next_hole;
	uint64_t end;

	if (io_window_of(fd, &window_offset, &window_length)) {
		if (offset < window_length && max_length > window_length - offset)
			max_length = window_length - offset;
		offset += window_offset;
	}
	next_data = lseek(fd, (off_t)offset, SEEK_DATA);

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
