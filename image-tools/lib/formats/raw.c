/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Raw disk images: the file is the disk.  Holes in the file (SEEK_HOLE)
 * are reported as zeros, and output keeps zero runs as holes.
 */
#include <errno.h>
#include <unistd.h>

#include "driver.h"

/* Zero runs of this size and larger become holes; the page size of the
 * file systems users keep images on. */
#define RAW_GRAIN 4096

static int raw_probe(const uint8_t *head, size_t len, const char *path)
{
	return 1;
}

static int raw_open(struct kvmi_image *img, struct kvm_error *err)
{
	img->size = img->file_size;
	return 0;
}

static int raw_block_status(struct kvmi_image *img, uint64_t offset, uint64_t max_length,
			    struct block_status *status, struct kvm_error *err)
{
	bool data;

	status->length = io_data_run(img->fd, offset, max_length, &data);
	status->kind = data ? BLOCK_DATA : BLOCK_ZERO;
	if (data) {
		status->file = img->path;
		status->file_offset = (int64_t)offset;
	}
	return 0;
}

static int raw_read(struct kvmi_image *img, void *buf, size_t len, uint64_t offset,
		    struct kvm_error *err)
{
	return io_pread_exact(img->fd, img->path, buf, len, offset, err);
}

static int raw_create(struct image_writer *w, const struct option_list *opts,
		      struct kvm_error *err)
{
	w->grain = RAW_GRAIN;
	w->plain_runs = true;
	return 0;
}

static int raw_write(struct image_writer *w, uint64_t offset, const void *buf, size_t len,
		     size_t compressed_len, struct kvm_error *err)
{
	return writer_pwrite_data(w, w->fd, buf, len, offset, err);
}

static int raw_finish(struct image_writer *w, struct kvm_error *err)
{
	if (ftruncate(w->fd, (off_t)w->size) < 0)
		return kvm_error_errno(err, -errno, "%s: cannot set the size", w->path);
	return 0;
}

static int raw_measure(const struct option_list *opts, uint64_t size, struct kvmi_image *src,
		       bool compress, struct kvmi_measure *m, struct kvm_error *err)
{
	/* As qemu-img measure: a raw file may be sparse, but the space it
	 * must be allowed to take is the whole disk. */
	m->required = size;
	m->fully_allocated = size;
	return 0;
}

const struct image_driver raw_driver = {
	.name = "raw",
	.description = "raw disk image (sparse)",
	.probe = raw_probe,
	.open = raw_open,
	.block_status = raw_block_status,
	.read = raw_read,
	.create = raw_create,
	.write = raw_write,
	.finish = raw_finish,
	.measure = raw_measure,
};
