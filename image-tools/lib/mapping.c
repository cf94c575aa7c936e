/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "core.h"
#include "xalloc.h"

/* Files are told apart by name, so that extents naming one file share its
 * budget; the slack allows for a last cluster the file holds only in part. */
#define FILE_MAPPING_SLACK (2u << 20)

/* The size of a file the source's data lies in: as it was opened for a
 * layer of the chain, else (extents, data files) as it is now. */
static int mapped_file_size(struct kvmi_image *src, const char *file, uint64_t *size,
			    struct kvm_error *err)
{
	struct stat st;

	for (struct kvmi_image *layer = src; layer; layer = layer->backing) {
		if (strcmp(layer->path, file) == 0) {
			*size = layer->file_size;
			return 0;
		}
	}
	if (stat(file, &st) < 0)
		return kvm_error_errno(err, -errno, "%s", file);
	/* A block device's size is not in st_size; nothing to hold it to. */
	*size = S_ISREG(st.st_mode) ? (uint64_t)st.st_size : UINT64_MAX / 2;
	return 0;
}

int mapping_budget_add(struct kvmi_image *src, struct mapping_budget *b,
		       const struct kvmi_extent *e, struct kvm_error *err)
{
	struct file_mapping *f = NULL;
	uint64_t size = 0;
	int r;

	if (!e->data || !e->file || e->file_offset < 0)
		return 0;
	for (size_t i = 0; i < b->n_files && !f; i++)
		if (strcmp(b->files[i].file, e->file) == 0)
			f = &b->files[i];
	if (!f) {
		r = mapped_file_size(src, e->file, &size, err);
		if (r < 0)
			return r;
		b->files = xrealloc(b->files, (b->n_files + 1) * sizeof(*b->files));
		f = &b->files[b->n_files++];
		*f = (struct file_mapping){ .file = e->file, .size = size };
	}
	f->mapped += e->length;
	if (f->mapped > f->size + FILE_MAPPING_SLACK)
		return kvm_error_set(err, -EINVAL,
				     "%s: maps more than its %llu bytes of data (its tables use clusters more than once)",
				     e->file, (unsigned long long)f->size);
	return 0;
}

void mapping_budget_release(struct mapping_budget *b)
{
	free(b->files);
	b->files = NULL;
	b->n_files = 0;
}

int image_check_mapping(struct kvmi_image *img, struct kvm_error *err)
{
	struct mapping_budget budget = { NULL, 0 };
	uint64_t offset = 0;
	int r = 0;

	while (offset < img->size && r >= 0) {
		struct kvmi_extent e;

		r = kvmi_block_status(img, offset, img->size - offset, &e, err);
		if (r >= 0)
			r = mapping_budget_add(img, &budget, &e, err);
		offset += e.length;
	}
	mapping_budget_release(&budget);
	return r < 0 ? r : 0;
}
