/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Opening images and their backing chains, and what reads through them. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <linux/fs.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core.h"
#include "json-out.h"
#include "path.h"
#include "strbuf.h"
#include "xalloc.h"

#define PROBE_BYTES 4096

/* The files of a chain being opened, to tell a loop from a long chain. */
struct chain_seen {
	dev_t dev[IMAGE_MAX_CHAIN_DEPTH + 1];
	ino_t ino[IMAGE_MAX_CHAIN_DEPTH + 1];
	int count;
};

static int open_layer(const char *path, int fd, const char *format, unsigned flags,
		      struct kvmi_image *top, int depth, struct chain_seen *seen,
		      struct kvmi_image **out, struct kvm_error *err);

/*
 * Files an image names are opened with O_NONBLOCK, so that a FIFO in its
 * folder is refused as not a regular file instead of blocking the open
 * for ever; regular files and block devices read the same either way.
 */
#define NAMED_OPEN_FLAGS (O_RDONLY | O_NONBLOCK)

/* No real image names a file with a longer name (qcow2 caps its backing
 * name at 1023 bytes); a longer one would not fit in an error message. */
#define MAX_NAMED_FILE_LEN 1023

static int check_name_length(const struct kvmi_image *img, const char *name,
			     struct kvm_error *err)
{
	size_t len = strlen(name);

	if (len > MAX_NAMED_FILE_LEN)
		return kvm_error_set(err, -ENAMETOOLONG, "%s: names a file of %zu bytes, more than %d",
				     img->path, len, MAX_NAMED_FILE_LEN);
	return 0;
}

static int file_size_of(int fd, const struct stat *st, const char *path, uint64_t *size,
			struct kvm_error *err)
{
	if (S_ISREG(st->st_mode)) {
		*size = (uint64_t)st->st_size;
		return 0;
	}
	if (S_ISBLK(st->st_mode)) {
		if (ioctl(fd, BLKGETSIZE64, size) < 0)
			return kvm_error_errno(err, -errno, "%s: cannot get the device size", path);
		return 0;
	}
	if (S_ISDIR(st->st_mode))
		return kvm_error_set(err, -EISDIR, "%s: is a directory", path);
	return kvm_error_set(err, -EINVAL, "%s: not a regular file or block device", path);
}

/* Opens the file a layer names as its backing file or parent. */
static int open_backing(struct kvmi_image *img, struct chain_seen *seen, struct kvm_error *err)
{
	int fd, r;
	struct strbuf path = STRBUF_INIT;

	if (img->depth + 1 > IMAGE_MAX_CHAIN_DEPTH)
		return kvm_error_set(err, -ELOOP, "%s: backing chain is deeper than %d images",
				     img->path, IMAGE_MAX_CHAIN_DEPTH);
	r = check_name_length(img, img->backing_name, err);
	if (r < 0)
		return r;
	if (img->flags & KVMI_OPEN_ALLOW_EXTERNAL && !path_has_protocol(img->backing_name)) {
		if (img->backing_name[0] != '/')
			strbuf_addf(&path, "%s/", img->dir);
		strbuf_addstr(&path, img->backing_name);
		fd = open(path.buf, NAMED_OPEN_FLAGS | O_CLOEXEC);
		if (fd < 0)
			fd = kvm_error_errno(err, -errno, "%s", path.buf);
	} else {
		fd = path_open_beneath(img->dir, img->backing_name, NAMED_OPEN_FLAGS, err);
		if (strcmp(img->dir, ".") != 0)
			strbuf_addf(&path, "%s/", img->dir);
		strbuf_addstr(&path, img->backing_name);
	}
	if (fd < 0) {
		r = kvm_error_prefix(err, "%s: backing file", img->path);
		goto out;
	}
	r = open_layer(path.buf, fd, img->backing_format, img->flags, img->top, img->depth + 1,
		       seen, &img->backing, err);
	if (r < 0)
		goto out;
	if (img->drv->check_backing)
		r = img->drv->check_backing(img, err);
out:
	strbuf_release(&path);
	return r;
}

static int open_layer(const char *path, int fd, const char *format, unsigned flags,
		      struct kvmi_image *top, int depth, struct chain_seen *seen,
		      struct kvmi_image **out, struct kvm_error *err)
{
	struct kvmi_image *img;
	struct strbuf dir = STRBUF_INIT;
	uint8_t head[PROBE_BYTES];
	uint64_t window_offset, window_length;
	struct stat st;
	size_t n;
	int r;

	*out = NULL;
	img = xcalloc(1, sizeof(*img));
	img->fd = fd;
	img->path = xstrdup(path);
	img->flags = flags;
	img->depth = depth;
	img->top = top ? top : img;
	path_dirname(path, &dir);
	img->dir = strbuf_detach(&dir);

	if (fstat(fd, &st) < 0) {
		r = kvm_error_errno(err, -errno, "%s", path);
		goto fail;
	}
	r = file_size_of(fd, &st, path, &img->file_size, err);
	if (r < 0)
		goto fail;
	if (io_window_of(fd, &window_offset, &window_length))
		img->file_size = window_length;
	for (int i = 0; i < seen->count; i++) {
		if (seen->dev[i] == st.st_dev && seen->ino[i] == st.st_ino) {
			r = kvm_error_set(err, -ELOOP, "%s: backing chain loops back to this file",
					  path);
			goto fail;
		}
	}
	seen->dev[seen->count] = st.st_dev;
	seen->ino[seen->count] = st.st_ino;
	seen->count++;

	if (format) {
		img->drv = driver_find(format);
		if (!img->drv) {
			r = kvm_error_set(err, -EINVAL, "%s: unknown format '%s'", path, format);
			goto fail;
		}
	} else {
		n = img->file_size < sizeof(head) ? (size_t)img->file_size : sizeof(head);
		r = io_pread_exact(fd, path, head, n, 0, err);
		if (r < 0)
			goto fail;
		img->drv = driver_probe(head, n, path);
	}
	r = img->drv->open(img, err);
	if (r < 0)
		goto fail;
	if (img->size > IMAGE_MAX_VIRTUAL_SIZE) {
		r = kvm_error_set(err, -EFBIG, "%s: virtual size %" PRIu64 " is absurd", path,
				  img->size);
		goto fail;
	}
	if (img->backing_name && !(flags & KVMI_OPEN_NO_BACKING)) {
		r = open_backing(img, seen, err);
		if (r < 0)
			goto fail;
	}
	*out = img;
	return 0;
fail:
	kvmi_close(img);
	return r;
}

/* An image that is a byte range of FD's file: the range must lie in it. */
static int open_window(int fd, const char *path, const char *name,
		       const struct kvmi_open_options *opts, struct kvm_error *err)
{
	struct stat st;

	if (fstat(fd, &st) < 0)
		return kvm_error_errno(err, -errno, "%s", path);
	if (!S_ISREG(st.st_mode) || opts->window_offset > (uint64_t)st.st_size ||
	    opts->window_length > (uint64_t)st.st_size - opts->window_offset)
		return kvm_error_set(err, -EINVAL, "%s: %" PRIu64 " bytes at offset %" PRIu64
				     " lie past the end of %s", name, opts->window_length,
				     opts->window_offset, path);
	return io_window_add(fd, opts->window_offset, opts->window_length, name, err);
}

int kvmi_open(const char *path, const struct kvmi_open_options *opts,
	      struct kvmi_image **image, struct kvm_error *err)
{
	struct chain_seen seen = { .count = 0 };
	bool windowed = opts && (opts->window_offset || opts->window_length);
	const char *name = windowed && opts->name ? opts->name : path;
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	int r;

	*image = NULL;
	if (fd < 0)
		return kvm_error_errno(err, -errno, "%s", path);
	if (windowed) {
		r = open_window(fd, path, name, opts, err);
		if (r < 0) {
			close(fd);
			return r;
		}
	}
	return open_layer(name, fd, opts ? opts->format : NULL, opts ? opts->flags : 0, NULL, 0,
			  &seen, image, err);
}

int image_charge_metadata(struct kvmi_image *img, uint64_t bytes, const char *what,
			  struct kvm_error *err)
{
	struct kvmi_image *top = img->top;

	if (bytes > IMAGE_MAX_CHAIN_METADATA_BYTES - top->metadata_bytes)
		return kvm_error_set(err, -EFBIG,
				     "%s: its %s (%" PRIu64 " bytes) would take the tables of the "
				     "backing chain past %u MiB", img->path, what, bytes,
				     IMAGE_MAX_CHAIN_METADATA_BYTES >> 20);
	top->metadata_bytes += bytes;
	return 0;
}

void kvmi_close(struct kvmi_image *img)
{
	if (!img)
		return;
	kvmi_close(img->backing);
	/* A driver whose open failed has freed what it made. */
	if (img->priv && img->drv->close)
		img->drv->close(img);
	if (img->fd >= 0) {
		io_window_remove(img->fd);
		close(img->fd);
	}
	free(img->backing_name);
	free(img->backing_format);
	free(img->named);
	free(img->dir);
	free(img->path);
	free(img);
}

const char *kvmi_format(const struct kvmi_image *img)
{
	return img->drv->name;
}

const char *kvmi_path(const struct kvmi_image *img)
{
	return img->path;
}

uint64_t kvmi_virtual_size(const struct kvmi_image *img)
{
	return img->size;
}

struct kvmi_image *kvmi_backing(const struct kvmi_image *img)
{
	return img->backing;
}

int image_open_named(struct kvmi_image *img, const char *name, char **resolved,
		     struct kvm_error *err)
{
	struct strbuf path = STRBUF_INIT;
	int fd = check_name_length(img, name, err);
	struct stat st;

	if (fd < 0)
		return fd;
	if (img->flags & KVMI_OPEN_ALLOW_EXTERNAL && !path_has_protocol(name)) {
		if (name[0] != '/' && strcmp(img->dir, ".") != 0)
			strbuf_addf(&path, "%s/", img->dir);
		strbuf_addstr(&path, name);
		fd = open(path.buf, NAMED_OPEN_FLAGS | O_CLOEXEC);
		if (fd < 0)
			fd = kvm_error_errno(err, -errno, "%s: %s", img->path, name);
	} else {
		if (strcmp(img->dir, ".") != 0)
			strbuf_addf(&path, "%s/", img->dir);
		strbuf_addstr(&path, name);
		fd = path_open_beneath(img->dir, name, NAMED_OPEN_FLAGS, err);
		if (fd < 0)
			kvm_error_prefix(err, "%s", img->path);
	}
	if (fd >= 0 && fstat(fd, &st) == 0) {
		img->named = xrealloc(img->named, (img->n_named + 1) * sizeof(*img->named));
		img->named[img->n_named++] = (struct file_id){ st.st_dev, st.st_ino };
	}
	if (fd >= 0 && resolved)
		*resolved = strbuf_detach(&path);
	strbuf_release(&path);
	return fd;
}

int kvmi_read(struct kvmi_image *img, void *buf, size_t len, uint64_t offset,
	      struct kvm_error *err)
{
	if (offset > img->size || len > img->size - offset)
		return kvm_error_set(err, -EINVAL,
				     "%s: read of %zu bytes at 0x%" PRIx64 " is past the end of the disk",
				     img->path, len, offset);
	if (len == 0)
		return 0;
	return img->drv->read(img, buf, len, offset, err);
}

int image_read_backing(struct kvmi_image *img, void *buf, size_t len, uint64_t offset,
		       struct kvm_error *err)
{
	struct kvmi_image *backing = img->backing;
	size_t from_backing = 0;

	if (backing && offset < backing->size) {
		from_backing = len;
		if (backing->size - offset < len)
			from_backing = (size_t)(backing->size - offset);
		int r = backing->drv->read(backing, buf, from_backing, offset, err);

		if (r < 0)
			return r;
	}
	memset((char *)buf + from_backing, 0, len - from_backing);
	return 0;
}

/* The status at OFFSET as the top LAYERS layers of IMG's chain give it. */
static int status_of_layers(struct kvmi_image *img, uint64_t offset, uint64_t length,
			    int layers, struct kvmi_extent *extent, struct kvm_error *err)
{
	struct kvmi_image *layer = img;

	if (offset >= img->size)
		return kvm_error_set(err, -EINVAL, "%s: offset 0x%" PRIx64 " is past the end of the disk",
				     img->path, offset);
	if (length > img->size - offset)
		length = img->size - offset;

	memset(extent, 0, sizeof(*extent));
	extent->start = offset;
	extent->file_offset = -1;
	extent->depth = -1;
	/* What no layer of the whole chain holds reads as zeros; what the
	 * layers looked at do not hold is left to the layers below. */
	extent->zero = layers == INT_MAX;
	for (int depth = 0; layer && offset < layer->size && depth < layers;
	     depth++, layer = layer->backing) {
		struct block_status bs = { .file_offset = -1 };
		uint64_t max = length;
		int r;

		if (max > layer->size - offset)
			max = layer->size - offset;
		r = layer->drv->block_status(layer, offset, max, &bs, err);
		if (r < 0)
			return r;
		if (bs.length == 0 || bs.length > max)
			return kvm_error_set(err, -EIO, "%s: block status of 0x%" PRIx64 " is inconsistent",
					     layer->path, offset);
		length = bs.length;
		if (bs.kind == BLOCK_UNALLOCATED)
			continue;
		extent->depth = depth;
		extent->data = bs.kind == BLOCK_DATA;
		extent->zero = bs.kind == BLOCK_ZERO;
		extent->file = bs.file;
		extent->file_offset = bs.file_offset;
		break;
	}
	extent->length = length;
	return 0;
}

int kvmi_block_status(struct kvmi_image *img, uint64_t offset, uint64_t length,
		      struct kvmi_extent *extent, struct kvm_error *err)
{
	return status_of_layers(img, offset, length, INT_MAX, extent, err);
}

int image_layer_status(struct kvmi_image *img, uint64_t offset, uint64_t length,
		       struct kvmi_extent *extent, struct kvm_error *err)
{
	return status_of_layers(img, offset, length, 1, extent, err);
}

int image_count_allocated(struct kvmi_image *src, uint32_t grain, uint64_t *bytes,
			  struct kvm_error *err)
{
	uint64_t offset = 0, grains = 0, next_uncounted = 0;

	while (offset < src->size) {
		struct kvmi_extent e;
		int r = kvmi_block_status(src, offset, src->size - offset, &e, err);

		if (r < 0)
			return r;
		if (e.data) {
			uint64_t first = offset / grain, end = (offset + e.length + grain - 1) / grain;

			if (first < next_uncounted)
				first = next_uncounted;
			if (end > first)
				grains += end - first;
			next_uncounted = end > next_uncounted ? end : next_uncounted;
		}
		offset += e.length;
	}
	*bytes = grains * grain;
	return 0;
}

static uint64_t allocated_bytes(int fd)
{
	struct stat st;

	return fstat(fd, &st) == 0 ? (uint64_t)st.st_blocks * 512 : 0;
}

static int info_one(struct kvmi_image *img, struct json_object **out, struct kvm_error *err)
{
	struct json_object *info = json_object_new_object();
	int r;

	json_out_add_string(info, "filename", img->path);
	json_out_add_string(info, "format", img->drv->name);
	json_out_add_uint(info, "virtual-size", img->size);
	json_out_add_uint(info, "actual-size", allocated_bytes(img->fd));
	if (img->cluster_size)
		json_out_add_uint(info, "cluster-size", img->cluster_size);
	if (img->backing_name) {
		json_out_add_string(info, "backing-filename", img->backing_name);
		json_out_add_string(info, "backing-filename-format", img->backing_format);
		if (img->backing)
			json_out_add_string(info, "full-backing-filename", img->backing->path);
	}
	if (img->drv->info) {
		r = img->drv->info(img, info, err);
		if (r < 0) {
			json_object_put(info);
			return r;
		}
	}
	*out = info;
	return 0;
}

int kvmi_info(struct kvmi_image *img, bool backing_chain, struct json_object **info,
	      struct kvm_error *err)
{
	struct json_object *chain;
	int r;

	*info = NULL;
	if (!backing_chain)
		return info_one(img, info, err);
	chain = json_object_new_array();
	for (; img; img = img->backing) {
		struct json_object *layer;

		r = info_one(img, &layer, err);
		if (r < 0) {
			json_object_put(chain);
			return r;
		}
		json_object_array_add(chain, layer);
	}
	*info = chain;
	return 0;
}

int kvmi_check(struct kvmi_image *img, struct kvmi_check_result *result, struct kvm_error *err)
{
	memset(result, 0, sizeof(*result));
	if (!img->drv->check)
		return kvm_error_set(err, -ENOTSUP, "%s: format %s has no consistency check",
				     img->path, img->drv->name);
	result->problems = json_object_new_array();
	return img->drv->check(img, result, err);
}
