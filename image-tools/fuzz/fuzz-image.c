/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The fuzz target of one image driver (FUZZ_FORMAT, set by meson): the
 * input becomes a file, which is opened as that format and read through
 * everything a conversion would touch: the block status of the whole disk,
 * the data it reports (up to a cap), info and check.  Any crash, hang,
 * leak or sanitizer report is a bug; errors are the expected outcome.
 */
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

#include "kvmimage.h"

/* Enough to reach every kind of grain and cluster several times. */
#define READ_CAP (8u << 20)
#define MAP_STEPS_CAP 100000

static void read_everything(struct kvmi_image *img)
{
	static uint8_t buf[1 << 16];
	uint64_t size = kvmi_virtual_size(img), offset = 0, read_total = 0;
	struct kvm_error err;
	unsigned steps = 0;

	while (offset < size && steps++ < MAP_STEPS_CAP) {
		struct kvmi_extent e;

		if (kvmi_block_status(img, offset, size - offset, &e, &err) < 0)
			return;
		if (e.data) {
			uint64_t len = e.length < sizeof(buf) ? e.length : sizeof(buf);

			if (read_total < READ_CAP && kvmi_read(img, buf, len, offset, &err) == 0)
				read_total += len;
		}
		offset += e.length;
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct kvmi_open_options opts = { .format = FUZZ_FORMAT, .flags = KVMI_OPEN_NO_BACKING };
	struct kvmi_check_result check;
	struct json_object *info;
	struct kvmi_image *img;
	struct kvm_error err;
	char path[64];
	int fd = memfd_create("fuzz-image", MFD_CLOEXEC);

	if (fd < 0 || (size && write(fd, data, size) != (ssize_t)size))
		abort();
	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	if (kvmi_open(path, &opts, &img, &err) == 0) {
		read_everything(img);
		if (kvmi_info(img, false, &info, &err) == 0)
			json_object_put(info);
		if (kvmi_check(img, &check, &err) == 0 || check.problems)
			json_object_put(check.problems);
		kvmi_close(img);
	}
	close(fd);
	return 0;
}
