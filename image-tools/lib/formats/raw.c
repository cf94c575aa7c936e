/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Raw disk images: the file is the disk.  Holes in the file (SEEK_HOLE)
 * are reported as zeros, and output keeps zero runs as holes.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "driver.h"
#include "xalloc.h"

/* Zero runs of this size and larger become holes; the page size of the
 * file systems users keep images on. */
#define RAW_GRAIN 4096
/* Adjacent grains are gathered into writes of up to this size. */
#define RAW_WRITE_BATCH (1u << 20)

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

struct raw_writer {
	uint8_t *batch;
	uint64_t batch_offset;
	size_t batch_len;
};

static int raw_create(struct image_writer *w, const struct option_list *opts,
		      struct kvm_error *err)
{
	struct raw_writer *rw = xcalloc(1, sizeof(*rw));

	w->priv = rw;
	w->grain = RAW_GRAIN;
	rw->batch = malloc(RAW_WRITE_BATCH);
	if (!rw->batch)
		return kvm_error_set(err, -ENOMEM, "%s: out of memory", w->path);
	return 0;
}

static int raw_flush(struct image_writer *w, struct kvm_error *err)
{
	struct raw_writer *rw = w->priv;
	int r = io_pwrite_all(w->fd, w->path, rw->batch, rw->batch_len, rw->batch_offset, err);

	rw->batch_len = 0;
	return r;
}

static int raw_write(struct image_writer *w, uint64_t offset, const void *buf, size_t len,
		     size_t compressed_len, struct kvm_error *err)
{
	struct raw_writer *rw = w->priv;

	if (rw->batch_len && (rw->batch_offset + rw->batch_len != offset ||
			      rw->batch_len + len > RAW_WRITE_BATCH)) {
		int r = raw_flush(w, err);

		if (r < 0)
			return r;
	}
	if (!rw->batch_len)
		rw->batch_offset = offset;
	memcpy(rw->batch + rw->batch_len, buf, len);
	rw->batch_len += len;
	return 0;
}

static int raw_finish(struct image_writer *w, struct kvm_error *err)
{
	int r = raw_flush(w, err);

	if (r < 0)
		return r;
	if (ftruncate(w->fd, (off_t)w->size) < 0)
		return kvm_error_errno(err, -errno, "%s: cannot set the size", w->path);
	return 0;
}

static void raw_writer_free(struct image_writer *w)
{
	struct raw_writer *rw = w->priv;

	if (rw)
		free(rw->batch);
	free(rw);
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
	.writer_free = raw_writer_free,
	.measure = raw_measure,
};
