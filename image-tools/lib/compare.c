/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "core.h"

#define COMPARE_CHUNK (1u << 20)

/* Where [offset, offset + len) of IMG reads as zeros without reading it. */
static int known_zero(struct kvmi_image *img, uint64_t offset, uint64_t len, uint64_t *run,
		      struct kvm_error *err)
{
	struct kvmi_extent e;
	int r;

	if (offset >= img->size) {
		*run = len;
		return 1;
	}
	r = kvmi_block_status(img, offset, len, &e, err);
	if (r < 0)
		return r;
	*run = e.length;
	return !e.data;
}

static int read_or_zero(struct kvmi_image *img, uint8_t *buf, size_t len, uint64_t offset,
			struct kvm_error *err)
{
	size_t in = 0;

	if (offset < img->size)
		in = img->size - offset < len ? (size_t)(img->size - offset) : len;
	memset(buf + in, 0, len - in);
	return in ? kvmi_read(img, buf, in, offset, err) : 0;
}

int kvmi_compare(struct kvmi_image *a, struct kvmi_image *b, uint64_t *first_difference,
		 struct kvm_error *err)
{
	uint64_t size = a->size > b->size ? a->size : b->size, offset = 0;
	uint8_t *buf_a = malloc(COMPARE_CHUNK), *buf_b = malloc(COMPARE_CHUNK);
	int r = 0;

	if (!buf_a || !buf_b) {
		r = kvm_error_set(err, -ENOMEM, "out of memory");
		goto out;
	}
	/* Comparing reads what both images map, as converting does. */
	r = image_check_mapping(a, err);
	if (r >= 0)
		r = image_check_mapping(b, err);
	if (r < 0)
		goto out;
	while (offset < size) {
		uint64_t run_a, run_b, len = size - offset < COMPARE_CHUNK ? size - offset : COMPARE_CHUNK;
		/* Runs of zeros are skipped whole, not a chunk at a time, so that
		 * a sparse petabyte costs its map, not its size. */
		int zero_a = known_zero(a, offset, size - offset, &run_a, err);
		int zero_b = zero_a < 0 ? zero_a : known_zero(b, offset, size - offset, &run_b, err);

		if (zero_b < 0) {
			r = zero_b;
			goto out;
		}
		if (zero_a && zero_b) {
			offset += run_a < run_b ? run_a : run_b;
			continue;
		}
		r = read_or_zero(a, buf_a, len, offset, err);
		if (r >= 0)
			r = read_or_zero(b, buf_b, len, offset, err);
		if (r < 0)
			goto out;
		if (memcmp(buf_a, buf_b, len) != 0) {
			size_t i = 0;

			while (buf_a[i] == buf_b[i])
				i++;
			*first_difference = offset + i;
			r = 1;
			goto out;
		}
		offset += len;
	}
out:
	free(buf_a);
	free(buf_b);
	return r;
}
