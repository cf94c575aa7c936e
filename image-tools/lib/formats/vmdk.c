/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * VMware virtual disks: every subformat VMware products write.
 *
 * An image is either one sparse file (monolithicSparse, streamOptimized,
 * a hosted snapshot, or a lone COWD / seSparse file), whose embedded text
 * descriptor only adds CIDs, the parent and the disk database, or a text
 * descriptor whose extent lines make up the disk from flat, sparse and
 * zero extents, each opened through image_open_named() so that it must
 * lie in the descriptor's folder.
 *
 * Choices where VMware's documents leave room:
 * - ZERO extents read as zeros and count in the virtual size.
 * - NOACCESS extents read as zeros (their file is not opened): VMware
 *   refuses guest I/O there, and a conversion must keep the disk's layout.
 * - RDONLY extents read like RW ones.
 * - VMFSRDM and VMFSRAW extents read their file like a flat extent; a
 *   device path is refused by confinement like any other outside name.
 * - parentCID ffffffff means no parent, even with a parentFileNameHint.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include <json-c/json.h>

#include "json-out.h"
#include "path.h"
#include "vmdk.h"
#include "xalloc.h"

static int vmdk_probe(const uint8_t *head, size_t len, const char *path)
{
	const char *text = (const char *)head;
	size_t i = 0;

	if (len >= 4 && (memcmp(head, VMDK_SPARSE_MAGIC, 4) == 0 ||
			 memcmp(head, VMDK_COWD_MAGIC, 4) == 0))
		return 100;
	if (len >= 8 && vmdk_le64(head) == VMDK_SESPARSE_MAGIC)
		return 100;
	while (i < len && (text[i] == ' ' || text[i] == '\t' || text[i] == '\r' || text[i] == '\n'))
		i++;
	if (len - i >= 21 && strncasecmp(text + i, "# Disk DescriptorFile", 21) == 0)
		return 100;
	/* A createType line among the first lines of a text file. */
	while (i < len) {
		const char *nl = memchr(text + i, '\n', len - i);
		size_t end = nl ? (size_t)(nl - text) : len;
		size_t p = i;

		while (p < end && (text[p] == ' ' || text[p] == '\t'))
			p++;
		if (end - p >= 10 && strncasecmp(text + p, "createType", 10) == 0) {
			p += 10;
			while (p < end && (text[p] == ' ' || text[p] == '\t'))
				p++;
			if (p < end && text[p] == '=')
				return 90;
		}
		if (memchr(text + i, '\0', end - i))
			return 0;
		i = end + 1;
	}
	return 0;
}

static void extent_release(struct vmdk_extent *ext)
{
	if (ext->own_fd && ext->fd >= 0)
		close(ext->fd);
	free(ext->name);
	free(ext->path);
	free(ext->gd);
	free(ext->empty_gts);
}

static void vmdk_free(struct vmdk_image *vi)
{
	if (!vi)
		return;
	for (size_t i = 0; i < vi->n_extents; i++)
		extent_release(&vi->extents[i]);
	free(vi->extents);
	vmdk_gt_cache_drop(vi);
	vmdk_descriptor_free(&vi->desc);
	free(vi->create_type);
	pthread_mutex_destroy(&vi->cache_lock);
	free(vi);
}

static void vmdk_close(struct kvmi_image *img)
{
	vmdk_free(img->priv);
	img->priv = NULL;
}

static struct vmdk_extent *add_extent(struct vmdk_image *vi)
{
	struct vmdk_extent *ext;

	vi->extents = xrealloc(vi->extents, (vi->n_extents + 1) * sizeof(*vi->extents));
	ext = &vi->extents[vi->n_extents++];
	memset(ext, 0, sizeof(*ext));
	ext->fd = -1;
	return ext;
}

static int read_text(int fd, const char *path, uint64_t offset, uint64_t size, char **text,
		     struct kvm_error *err)
{
	int r;

	if (size > IMAGE_MAX_DESCRIPTOR_BYTES)
		return kvm_error_set(err, -EFBIG, "%s: descriptor is larger than %u bytes", path,
				     IMAGE_MAX_DESCRIPTOR_BYTES);
	*text = malloc(size + 1);
	if (!*text)
		return kvm_error_set(err, -ENOMEM, "%s: out of memory for the descriptor", path);
	r = io_pread_exact(fd, path, *text, size, offset, err);
	if (r < 0) {
		free(*text);
		*text = NULL;
		return r;
	}
	(*text)[size] = '\0';
	return 0;
}

/* Opens the file an extent line names and checks that it holds the bytes
 * the line gives it. */
static int open_extent_file(struct kvmi_image *img, struct vmdk_extent *ext,
			    const struct vmdk_desc_extent *line, struct kvm_error *err)
{
	struct stat st;
	int r;

	ext->fd = image_open_named(img, line->filename, &ext->path, err);
	if (ext->fd < 0)
		return ext->fd;
	ext->own_fd = true;
	if (fstat(ext->fd, &st) < 0)
		return kvm_error_errno(err, -errno, "%s", ext->path);
	if (!S_ISREG(st.st_mode))
		return kvm_error_set(err, -EINVAL, "%s: extent file %s is not a regular file",
				     img->path, ext->path);
	ext->file_size = (uint64_t)st.st_size;

	switch (line->type) {
	case VMDK_EXTENT_SPARSE:
	case VMDK_EXTENT_VMFSSPARSE:
	case VMDK_EXTENT_SESPARSE:
		r = vmdk_sparse_open(img, ext, err);
		if (r < 0)
			return r;
		if (ext->capacity < line->sectors)
			return kvm_error_set(err, -EINVAL, "%s: sparse extent holds %llu sectors, but %s gives it %llu",
					     ext->path, (unsigned long long)ext->capacity, img->path,
					     (unsigned long long)line->sectors);
		return 0;
	default:
		ext->flat_offset = line->offset * VMDK_SECTOR;
		if (ext->flat_offset > ext->file_size || ext->length > ext->file_size - ext->flat_offset)
			return kvm_error_set(err, -EINVAL, "%s: extent file holds %llu bytes, but %s needs %llu from offset %llu",
					     ext->path, (unsigned long long)ext->file_size, img->path,
					     (unsigned long long)ext->length,
					     (unsigned long long)ext->flat_offset);
		return 0;
	}
}

/*
 * The grain directories of all extents of one image, as loaded.  Each is
 * capped, but a descriptor may name one large sparse file thousands of
 * times; real split disks need a few MiB (4096 extents of 2 GiB).
 */
#define VMDK_MAX_DIRECTORIES_BYTES (2 * (uint64_t)IMAGE_MAX_TABLE_BYTES)

static int open_extents(struct kvmi_image *img, struct vmdk_image *vi, struct kvm_error *err)
{
	const struct vmdk_descriptor *desc = &vi->desc;
	uint64_t total = 0, directories = 0;

	if (desc->n_extents == 0)
		return kvm_error_set(err, -EINVAL, "%s: descriptor names no extents", img->path);
	vi->extents = xcalloc(desc->n_extents, sizeof(*vi->extents));
	for (size_t i = 0; i < desc->n_extents; i++) {
		const struct vmdk_desc_extent *line = &desc->extents[i];
		struct vmdk_extent *ext = &vi->extents[vi->n_extents++];
		int r;

		ext->fd = -1;
		ext->type = line->type;
		ext->access = line->access;
		ext->start = total;
		ext->length = line->sectors * VMDK_SECTOR;
		if (ext->length > IMAGE_MAX_VIRTUAL_SIZE - total)
			return kvm_error_set(err, -EFBIG, "%s: extents add up to more than %llu bytes",
					     img->path, (unsigned long long)IMAGE_MAX_VIRTUAL_SIZE);
		total += ext->length;
		if (line->filename)
			ext->name = xstrdup(line->filename);
		if (line->type == VMDK_EXTENT_ZERO || line->access == VMDK_ACCESS_NOACCESS)
			continue;
		r = open_extent_file(img, ext, line, err);
		if (r < 0)
			return r;
		directories += ext->gd_entries * sizeof(*ext->gd);
		if (directories > VMDK_MAX_DIRECTORIES_BYTES)
			return kvm_error_set(err, -EFBIG, "%s: the grain directories of its extents take more than %llu bytes",
					     img->path, (unsigned long long)VMDK_MAX_DIRECTORIES_BYTES);
	}
	img->size = total;
	return 0;
}

static int open_descriptor_file(struct kvmi_image *img, struct vmdk_image *vi,
				struct kvm_error *err)
{
	char *text;
	int r = read_text(img->fd, img->path, 0, img->file_size, &text, err);

	if (r < 0)
		return r;
	r = vmdk_descriptor_parse(text, img->file_size, img->path, &vi->desc, err);
	free(text);
	if (r < 0)
		return r;
	if (!vi->desc.create_type && vi->desc.n_extents == 0)
		return kvm_error_set(err, -EINVAL, "%s: not a VMDK descriptor", img->path);
	return open_extents(img, vi, err);
}

/* Reads the descriptor a hosted sparse file embeds, if any. */
static int read_embedded_descriptor(struct kvmi_image *img, const struct vmdk_extent *ext,
				    struct vmdk_image *vi, struct kvm_error *err)
{
	uint64_t offset, size;
	char *text;
	int r = vmdk_sparse_read_descriptor_location(ext, &offset, &size, err);

	if (r < 0 || offset == 0 || size == 0)
		return r;
	if (size > IMAGE_MAX_DESCRIPTOR_BYTES / VMDK_SECTOR)
		return kvm_error_set(err, -EFBIG, "%s: descriptor is larger than %u bytes", img->path,
				     IMAGE_MAX_DESCRIPTOR_BYTES);
	if (offset > img->file_size / VMDK_SECTOR ||
	    size * VMDK_SECTOR > img->file_size - offset * VMDK_SECTOR)
		return kvm_error_set(err, -EINVAL, "%s: embedded descriptor is past the end of the file",
				     img->path);
	r = read_text(img->fd, img->path, offset * VMDK_SECTOR, size * VMDK_SECTOR, &text, err);
	if (r < 0)
		return r;
	r = vmdk_descriptor_parse(text, size * VMDK_SECTOR, img->path, &vi->desc, err);
	free(text);
	return r;
}

static int open_sparse_file(struct kvmi_image *img, struct vmdk_image *vi, struct kvm_error *err)
{
	struct vmdk_extent *ext = add_extent(vi);
	int r;

	ext->fd = img->fd;
	ext->path = xstrdup(img->path);
	ext->name = xstrdup(path_basename(img->path));
	ext->file_size = img->file_size;
	r = vmdk_sparse_open(img, ext, err);
	if (r < 0)
		return r;
	ext->type = ext->kind == VMDK_SPARSE_COWD ? VMDK_EXTENT_VMFSSPARSE :
		    ext->kind == VMDK_SPARSE_SE ? VMDK_EXTENT_SESPARSE : VMDK_EXTENT_SPARSE;
	if (ext->kind != VMDK_SPARSE_HOSTED)
		goto single;
	r = read_embedded_descriptor(img, ext, vi, err);
	if (r < 0)
		return r;
	if (ext->capacity == 0 && vi->desc.n_extents) {
		/* A descriptor stored in a sparse file that holds no data of
		 * its own: its extents are other files. */
		extent_release(ext);
		free(vi->extents);
		vi->extents = NULL;
		vi->n_extents = 0;
		return open_extents(img, vi, err);
	}
single:
	ext->length = ext->capacity * VMDK_SECTOR;
	img->size = ext->length;
	return 0;
}

static const char *default_create_type(const struct vmdk_image *vi)
{
	const struct vmdk_extent *ext = &vi->extents[0];

	if (vi->n_extents != 1 || !ext->sparse)
		return "custom";
	if (ext->kind == VMDK_SPARSE_COWD)
		return "vmfsSparse";
	if (ext->kind == VMDK_SPARSE_SE)
		return "seSparse";
	return ext->compressed ? "streamOptimized" : "monolithicSparse";
}

static int vmdk_open(struct kvmi_image *img, struct kvm_error *err)
{
	struct vmdk_image *vi = xcalloc(1, sizeof(*vi));
	uint8_t magic[8] = { 0 };
	int r;

	pthread_mutex_init(&vi->cache_lock, NULL);
	vi->desc.parent_cid = VMDK_CID_NONE;
	img->priv = vi;
	if (img->file_size < 4) {
		r = kvm_error_set(err, -EINVAL, "%s: file is too small for a VMDK image", img->path);
		goto fail;
	}
	r = io_pread_exact(img->fd, img->path, magic,
			   img->file_size < sizeof(magic) ? 4 : sizeof(magic), 0, err);
	if (r < 0)
		goto fail;
	if (memcmp(magic, VMDK_SPARSE_MAGIC, 4) == 0 || memcmp(magic, VMDK_COWD_MAGIC, 4) == 0 ||
	    vmdk_le64(magic) == VMDK_SESPARSE_MAGIC)
		r = open_sparse_file(img, vi, err);
	else
		r = open_descriptor_file(img, vi, err);
	if (r < 0)
		goto fail;

	r = vmdk_gt_cache_size(img, vi, err);
	if (r < 0)
		goto fail;
	vi->create_type = xstrdup(vi->desc.create_type ? vi->desc.create_type :
				  default_create_type(vi));
	vi->has_cid = vi->desc.has_cid;
	vi->cid = vi->desc.cid;
	vi->parent_cid = vi->desc.parent_cid;
	for (size_t i = 0; i < vi->n_extents; i++) {
		const struct vmdk_extent *ext = &vi->extents[i];

		if (ext->sparse && ext->kind == VMDK_SPARSE_HOSTED) {
			uint8_t unclean = 0;

			if (io_pread_exact(ext->fd, ext->path, &unclean, 1, VMDK_HDR_UNCLEAN, NULL) == 0 &&
			    unclean)
				vi->dirty = true;
		}
		if (ext->sparse && !img->cluster_size)
			img->cluster_size = (uint32_t)ext->grain_bytes;
	}
	if (vi->desc.parent_hint && vi->parent_cid != VMDK_CID_NONE) {
		img->backing_name = xstrdup(vi->desc.parent_hint);
		img->backing_format = xstrdup("vmdk");
	}
	return 0;
fail:
	vmdk_free(vi);
	img->priv = NULL;
	return r;
}

static const struct vmdk_extent *find_extent(const struct vmdk_image *vi, uint64_t offset)
{
	size_t lo = 0, hi = vi->n_extents;

	while (hi - lo > 1) {
		size_t mid = lo + (hi - lo) / 2;

		if (vi->extents[mid].start <= offset)
			lo = mid;
		else
			hi = mid;
	}
	return &vi->extents[lo];
}

static bool reads_as_zeros(const struct vmdk_extent *ext)
{
	return ext->type == VMDK_EXTENT_ZERO || ext->access == VMDK_ACCESS_NOACCESS;
}

/* A sparse run stops after this many grains, so that one call stays short
 * on a huge disk; the core asks again for the rest. */
#define STATUS_MAX_GRAINS 4096

static int sparse_status(struct vmdk_image *vi, const struct vmdk_extent *ext, uint64_t offset,
			 uint64_t max_length, struct block_status *status, struct kvm_error *err)
{
	struct vmdk_grain first;
	uint64_t in_grain = offset % ext->grain_bytes;
	int r = vmdk_sparse_run(vi, ext, offset, max_length, STATUS_MAX_GRAINS, &first, err);

	if (r < 0)
		return r;
	status->length = first.length;
	switch (first.kind) {
	case VMDK_GRAIN_UNALLOCATED:
		status->kind = BLOCK_UNALLOCATED;
		break;
	case VMDK_GRAIN_ZERO:
		status->kind = BLOCK_ZERO;
		break;
	case VMDK_GRAIN_DATA:
		status->kind = BLOCK_DATA;
		status->file = ext->path;
		status->file_offset = ext->compressed ? -1 : (int64_t)(first.file_offset + in_grain);
		break;
	}
	return 0;
}

static int vmdk_block_status(struct kvmi_image *img, uint64_t offset, uint64_t max_length,
			     struct block_status *status, struct kvm_error *err)
{
	struct vmdk_image *vi = img->priv;
	const struct vmdk_extent *ext = find_extent(vi, offset);
	uint64_t rel = offset - ext->start;
	uint64_t avail = ext->length - rel < max_length ? ext->length - rel : max_length;
	bool data;

	status->file = NULL;
	status->file_offset = -1;
	if (reads_as_zeros(ext)) {
		status->kind = BLOCK_ZERO;
		status->length = avail;
		return 0;
	}
	if (ext->sparse)
		return sparse_status(vi, ext, rel, avail, status, err);
	/* Thin flat extents (vmfsThin, sparse -flat copies) have holes that
	 * need not be read. */
	status->length = io_data_run(ext->fd, ext->flat_offset + rel, avail, &data);
	status->kind = data ? BLOCK_DATA : BLOCK_ZERO;
	if (data) {
		status->file = ext->path;
		status->file_offset = (int64_t)(ext->flat_offset + rel);
	}
	return 0;
}

static int vmdk_read(struct kvmi_image *img, void *buf, size_t len, uint64_t offset,
		     struct kvm_error *err)
{
	struct vmdk_image *vi = img->priv;
	uint8_t *out = buf;

	while (len) {
		const struct vmdk_extent *ext = find_extent(vi, offset);
		uint64_t rel = offset - ext->start;
		size_t n = ext->length - rel < len ? (size_t)(ext->length - rel) : len;
		int r = 0;

		if (reads_as_zeros(ext))
			memset(out, 0, n);
		else if (ext->sparse)
			r = vmdk_sparse_read(img, ext, out, n, rel, offset, err);
		else
			r = io_pread_exact(ext->fd, ext->path, out, n, ext->flat_offset + rel, err);
		if (r < 0)
			return r;
		out += n;
		len -= n;
		offset += n;
	}
	return 0;
}

static struct json_object *extent_info(const struct vmdk_extent *ext)
{
	struct json_object *o = json_object_new_object();

	json_out_add_string(o, "filename", ext->path ? ext->path : ext->name);
	json_out_add_string(o, "format", vmdk_extent_type_name(ext->type));
	json_out_add_string(o, "access", vmdk_access_name(ext->access));
	json_out_add_uint(o, "virtual-size", ext->length);
	if (ext->sparse) {
		json_out_add_bool(o, "compressed", ext->compressed);
		json_out_add_uint(o, "version", ext->version);
		json_out_add_uint(o, "grain-size", ext->grain_bytes);
	}
	return o;
}

static int vmdk_info(struct kvmi_image *img, struct json_object *info, struct kvm_error *err)
{
	struct vmdk_image *vi = img->priv;
	struct json_object *spec = json_object_new_object();
	struct json_object *data = json_object_new_object();
	struct json_object *extents = json_object_new_array();
	struct json_object *ddb = json_object_new_object();
	const char *value;

	json_out_add_bool(info, "dirty-flag", vi->dirty);
	json_out_add_string(data, "create-type", vi->create_type);
	if (vi->has_cid)
		json_out_add_uint(data, "cid", vi->cid);
	json_out_add_uint(data, "parent-cid", vi->parent_cid);
	value = vmdk_descriptor_ddb(&vi->desc, "ddb.adapterType");
	json_out_add_string(data, "adapter-type", value);
	value = vmdk_descriptor_ddb(&vi->desc, "ddb.virtualHWVersion");
	json_out_add_string(data, "virtual-hw-version", value);
	for (size_t i = 0; i < vi->n_extents; i++)
		json_object_array_add(extents, extent_info(&vi->extents[i]));
	json_object_object_add(data, "extents", extents);
	for (size_t i = 0; i < vi->desc.n_ddb; i++)
		json_out_add_string(ddb, vi->desc.ddb[i].key, vi->desc.ddb[i].value);
	json_object_object_add(data, "ddb", ddb);
	json_out_add_string(spec, "type", "vmdk");
	json_object_object_add(spec, "data", data);
	json_object_object_add(info, "format-specific", spec);
	return 0;
}

static int vmdk_check(struct kvmi_image *img, struct kvmi_check_result *result,
		      struct kvm_error *err)
{
	struct vmdk_image *vi = img->priv;
	bool any = false;

	for (size_t i = 0; i < vi->n_extents; i++) {
		const struct vmdk_extent *ext = &vi->extents[i];
		int r;

		if (!ext->sparse)
			continue;
		any = true;
		r = vmdk_sparse_check(ext, result, err);
		if (r < 0)
			return r;
	}
	if (!any)
		return kvm_error_set(err, -ENOTSUP, "%s: has no sparse extent, so nothing to check",
				     img->path);
	if (result->image_end_offset < img->file_size)
		result->image_end_offset = img->file_size;
	return 0;
}

static int vmdk_check_backing(struct kvmi_image *img, struct kvm_error *err)
{
	struct vmdk_image *vi = img->priv;
	const struct vmdk_image *parent;

	if (!img->backing)
		return 0;
	if (img->backing->drv != &vmdk_driver)
		return kvm_error_set(err, -EINVAL, "%s: parent %s is not a VMDK image", img->path,
				     img->backing->path);
	parent = img->backing->priv;
	if (parent->has_cid && parent->cid != vi->parent_cid)
		return kvm_error_set(err, -EINVAL, "%s: parentCID 0x%08x does not match the CID 0x%08x of %s",
				     img->path, vi->parent_cid, parent->cid, img->backing->path);
	return 0;
}

const struct image_driver vmdk_driver = {
	.name = "vmdk",
	.description = "VMware virtual disk (all subformats; writes monolithicSparse, monolithicFlat, streamOptimized)",
	.probe = vmdk_probe,
	.open = vmdk_open,
	.close = vmdk_close,
	.block_status = vmdk_block_status,
	.read = vmdk_read,
	.info = vmdk_info,
	.check = vmdk_check,
	.check_backing = vmdk_check_backing,
	.create_options = vmdk_create_options,
	.create = vmdk_create,
	.compress = vmdk_compress,
	.write = vmdk_write,
	.finish = vmdk_finish,
	.writer_free = vmdk_writer_free,
	.measure = vmdk_measure,
};
