/* SPDX-License-Identifier: GPL-2.0-or-later */
/* What the core's files share among themselves; drivers never use it. */
#ifndef KVMI_CORE_H
#define KVMI_CORE_H

#include "driver.h"

const struct image_driver *driver_find(const char *name);
const struct image_driver *driver_probe(const uint8_t *head, size_t len, const char *path);
/* The driver that writes FORMAT, or an error naming what is possible. */
int driver_find_writable(const char *format, const struct image_driver **drv,
			 struct kvm_error *err);

/* Starts a new image at PATH: the driver's create on a temporary file.
 * BACKING_NAME (or NULL) and BACKING_FORMAT: the file it is a layer over. */
int writer_open(struct image_writer **w, const char *path, uint64_t size,
		const struct kvmi_create_options *opts, const char *backing_name,
		const char *backing_format, struct kvm_error *err);
/* Tells W that BYTES more were written, to start writeback in batches. */
void writer_written(struct image_writer *w, uint64_t bytes);
/* Finishes the driver's work and renames the files into place. */
int writer_commit(struct image_writer *w, struct kvm_error *err);
/* Removes everything written and frees W; accepts NULL. */
void writer_abort(struct image_writer *w);

/* Like kvmi_block_status, but of IMG's own layer only: where the layer
 * holds nothing, the extent has depth -1 and is neither data nor zero. */
int image_layer_status(struct kvmi_image *img, uint64_t offset, uint64_t length,
		       struct kvmi_extent *extent, struct kvm_error *err);

/* Makes FD stand for LENGTH bytes of its file from OFFSET in every read of
 * io.c, until io_window_remove(FD); NAME is for the error. */
int io_window_add(int fd, uint64_t offset, uint64_t length, const char *name,
		  struct kvm_error *err);
void io_window_remove(int fd);
bool io_window_of(int fd, uint64_t *offset, uint64_t *length);

/*
 * The plain data an image maps onto each of its files.  A valid image
 * maps a byte of a file to at most one guest byte; tables that map the
 * same clusters again and again would let a small file take time and
 * output space out of all proportion to its size.
 */
struct file_mapping {
	const char *file;
	uint64_t mapped;
	uint64_t size;
};

struct mapping_budget {
	struct file_mapping *files;
	size_t n_files;
};

/* Counts extent E (when it is plain data) against its file; fails once a
 * file is mapped more than it holds. */
int mapping_budget_add(struct kvmi_image *img, struct mapping_budget *b,
		       const struct kvmi_extent *e, struct kvm_error *err);
void mapping_budget_release(struct mapping_budget *b);
/* Walks the whole map of IMG with a budget. */
int image_check_mapping(struct kvmi_image *img, struct kvm_error *err);

#endif
