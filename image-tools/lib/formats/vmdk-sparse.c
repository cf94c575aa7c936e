/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Sparse VMDK extents: hosted ("KDMV", versions 1 to 3, stream-optimized
 * included), ESX 2 / vmfsSparse ("COWD") and ESXi 6.5+ seSparse.  All
 * three map grains through a grain directory (loaded whole; it is small
 * once capped) and grain tables (loaded on demand into a small cache
 * shared by the threads that read).
 */
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "codec.h"
#include "strbuf.h"
#include "vmdk.h"

#define COWD_GTES_PER_GT 4096u
#define SE_VERSION 0x0000000200000001ull
#define SE_GD_ALLOCATED 0x1000000000000000ull
/* Problems a check lists one by one; the rest are only counted. */
#define CHECK_MAX_PROBLEMS 100
/* A check keeps one bit per sector of an extent file up to this many. */
#define CHECK_MAX_BITMAP_BITS (1ull << 28)

static bool is_power_of_two(uint64_t v)
{
	return v && !(v & (v - 1));
}

/* Checks the geometry the three kinds share and sizes the directory. */
static int check_geometry(struct vmdk_extent *ext, uint64_t grain_sectors,
			  struct kvm_error *err)
{
	uint64_t gt_span;

	if (ext->capacity > IMAGE_MAX_VIRTUAL_SIZE / VMDK_SECTOR)
		return kvm_error_set(err, -EFBIG, "%s: capacity of %llu sectors is absurd", ext->path,
				     (unsigned long long)ext->capacity);
	if (!is_power_of_two(grain_sectors))
		return kvm_error_set(err, -EINVAL, "%s: grain size of %llu sectors is not a power of two",
				     ext->path, (unsigned long long)grain_sectors);
	if (grain_sectors > VMDK_MAX_GRAIN_BYTES / VMDK_SECTOR)
		return kvm_error_set(err, -EFBIG, "%s: grain size of %llu sectors is absurd", ext->path,
				     (unsigned long long)grain_sectors);
	if (ext->gtes_per_gt == 0 || ext->gtes_per_gt > VMDK_MAX_GTES_PER_GT)
		return kvm_error_set(err, -EINVAL, "%s: %u entries per grain table is absurd",
				     ext->path, ext->gtes_per_gt);
	ext->grain_bytes = grain_sectors * VMDK_SECTOR;
	ext->gt_bytes = (uint64_t)ext->gtes_per_gt * ext->gte_size;
	gt_span = ext->grain_bytes * ext->gtes_per_gt;
	ext->gd_entries = (ext->capacity * VMDK_SECTOR + gt_span - 1) / gt_span;
	if (ext->gd_entries > IMAGE_MAX_TABLE_BYTES / ext->gte_size)
		return kvm_error_set(err, -EFBIG, "%s: grain directory of %llu entries is too large",
				     ext->path, (unsigned long long)ext->gd_entries);
	return 0;
}

static int compare_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

/*
 * Grain tables that the directory names twice, or that overlap, let a
 * small file map a disk whose reading takes time out of all proportion to
 * the file's size; no valid extent has them.  More tables than the file
 * can hold apart must overlap, which also bounds the copy sorted here.
 */
static int check_tables_apart(const struct vmdk_extent *ext, struct kvm_error *err)
{
	uint64_t n = 0, *sorted;
	int r = 0;

	for (uint64_t i = 0; i < ext->gd_entries; i++)
		n += ext->gd[i] != 0;
	if (n > ext->file_size / ext->gt_bytes)
		return kvm_error_set(err, -EINVAL, "%s: grain directory names %llu grain tables, more than the file holds",
				     ext->path, (unsigned long long)n);
	sorted = malloc((n ? n : 1) * sizeof(*sorted));
	if (!sorted)
		return kvm_error_set(err, -ENOMEM, "%s: out of memory to check the grain directory",
				     ext->path);
	n = 0;
	for (uint64_t i = 0; i < ext->gd_entries; i++)
		if (ext->gd[i])
			sorted[n++] = ext->gd[i];
	qsort(sorted, n, sizeof(*sorted), compare_u64);
	for (uint64_t i = 1; i < n && r == 0; i++)
		if (sorted[i] - sorted[i - 1] < ext->gt_bytes)
			r = kvm_error_set(err, -EINVAL, "%s: grain tables at 0x%llx and 0x%llx overlap",
					  ext->path, (unsigned long long)sorted[i - 1],
					  (unsigned long long)sorted[i]);
	free(sorted);
	return r;
}

/* Reads the directory at ext->gd_offset and turns each entry into the
 * byte offset of its grain table, checked against the file. */
static int load_directory(struct kvmi_image *img, struct vmdk_extent *ext, struct kvm_error *err)
{
	uint64_t bytes = ext->gd_entries * ext->gte_size;
	uint8_t *raw;
	int r;

	if (ext->gd_entries == 0)
		return 0;
	if (ext->gd_offset > ext->file_size || bytes > ext->file_size - ext->gd_offset)
		return kvm_error_set(err, -EINVAL, "%s: grain directory at 0x%llx is past the end of the file",
				     ext->path, (unsigned long long)ext->gd_offset);
	/* The raw copy lives only until the end of this function, but counts,
	 * so that the peak stays inside the budget too. */
	r = image_charge_metadata(img, bytes + ext->gd_entries * sizeof(*ext->gd) +
				  (ext->gd_entries + 7) / 8, "grain directory", err);
	if (r < 0)
		return r;
	raw = malloc(bytes);
	ext->gd = malloc(ext->gd_entries * sizeof(*ext->gd));
	ext->empty_gts = calloc((ext->gd_entries + 7) / 8, 1);
	if (!raw || !ext->gd || !ext->empty_gts) {
		free(raw);
		return kvm_error_set(err, -ENOMEM, "%s: out of memory for the grain directory",
				     ext->path);
	}
	r = io_pread_exact(ext->fd, ext->path, raw, bytes, ext->gd_offset, err);
	for (uint64_t i = 0; r == 0 && i < ext->gd_entries; i++) {
		uint64_t gt;

		if (ext->kind == VMDK_SPARSE_SE) {
			uint64_t entry = vmdk_le64(raw + i * 8), index;

			if (entry == 0) {
				ext->gd[i] = 0;
				continue;
			}
			if ((entry & 0xffffffff00000000ull) != SE_GD_ALLOCATED) {
				r = kvm_error_set(err, -EINVAL, "%s: grain directory entry %llu is invalid (0x%llx)",
						  ext->path, (unsigned long long)i,
						  (unsigned long long)entry);
				break;
			}
			index = entry & 0xffffffffull;
			if (index >= ext->se_grain_tables_size / ext->gt_bytes) {
				r = kvm_error_set(err, -EINVAL, "%s: grain table %llu lies outside the grain table area",
						  ext->path, (unsigned long long)i);
				break;
			}
			gt = ext->se_grain_tables_offset + index * ext->gt_bytes;
		} else {
			gt = (uint64_t)vmdk_le32(raw + i * 4) * VMDK_SECTOR;
		}
		if (gt && (gt > ext->file_size || ext->gt_bytes > ext->file_size - gt))
			r = kvm_error_set(err, -EINVAL, "%s: grain table %llu at 0x%llx is past the end of the file",
					  ext->path, (unsigned long long)i, (unsigned long long)gt);
		else if (ext->kind == VMDK_SPARSE_SE && gt < VMDK_SECTOR)
			r = kvm_error_set(err, -EINVAL, "%s: grain table %llu overlaps the header",
					  ext->path, (unsigned long long)i);
		else if (gt && gt < ext->gd_offset + bytes && ext->gd_offset < gt + ext->gt_bytes)
			r = kvm_error_set(err, -EINVAL, "%s: grain table %llu at 0x%llx overlaps the grain directory",
					  ext->path, (unsigned long long)i, (unsigned long long)gt);
		ext->gd[i] = gt;
	}
	free(raw);
	return r < 0 ? r : check_tables_apart(ext, err);
}

static int read_hosted_header(const struct vmdk_extent *ext, uint8_t *hdr, struct kvm_error *err)
{
	int r = io_pread_exact(ext->fd, ext->path, hdr, VMDK_SECTOR, 0, err);

	if (r < 0)
		return r;
	if (vmdk_le64(hdr + VMDK_HDR_GD_OFFSET) != VMDK_GD_AT_END)
		return 0;
	/* Stream-optimized: the footer, a copy of the header with the real
	 * directory offset, is the second-to-last sector (the last is the
	 * end-of-stream marker). */
	if (ext->file_size < 3 * VMDK_SECTOR)
		return kvm_error_set(err, -EINVAL, "%s: grain directory is at the end, but the file has no footer",
				     ext->path);
	r = io_pread_exact(ext->fd, ext->path, hdr, VMDK_SECTOR, ext->file_size - 2 * VMDK_SECTOR, err);
	if (r < 0)
		return r;
	if (memcmp(hdr, VMDK_SPARSE_MAGIC, 4) != 0 ||
	    vmdk_le64(hdr + VMDK_HDR_GD_OFFSET) == VMDK_GD_AT_END)
		return kvm_error_set(err, -EINVAL, "%s: grain directory is at the end, but the file has no footer",
				     ext->path);
	return 0;
}

int vmdk_sparse_read_descriptor_location(const struct vmdk_extent *ext, uint64_t *desc_offset,
					 uint64_t *desc_size, struct kvm_error *err)
{
	uint8_t hdr[VMDK_SECTOR];
	int r = read_hosted_header(ext, hdr, err);

	if (r < 0)
		return r;
	*desc_offset = vmdk_le64(hdr + VMDK_HDR_DESC_OFFSET);
	*desc_size = vmdk_le64(hdr + VMDK_HDR_DESC_SIZE);
	return 0;
}

static int open_hosted(struct kvmi_image *img, struct vmdk_extent *ext, struct kvm_error *err)
{
	uint8_t hdr[VMDK_SECTOR];
	uint64_t grain_sectors;
	int r = read_hosted_header(ext, hdr, err);

	if (r < 0)
		return r;
	ext->kind = VMDK_SPARSE_HOSTED;
	ext->version = vmdk_le32(hdr + VMDK_HDR_VERSION);
	if (ext->version < 1 || ext->version > 3)
		return kvm_error_set(err, -ENOTSUP, "%s: sparse extent version %u is not supported",
				     ext->path, ext->version);
	ext->flags = vmdk_le32(hdr + VMDK_HDR_FLAGS);
	ext->compressed = (ext->flags & VMDK_FLAG_COMPRESSED) ||
			  (hdr[VMDK_HDR_COMPRESS_ALGO] | hdr[VMDK_HDR_COMPRESS_ALGO + 1] << 8) ==
				  VMDK_COMPRESSION_DEFLATE;
	ext->markers = ext->flags & VMDK_FLAG_MARKERS;
	ext->zero_grain = ext->flags & VMDK_FLAG_ZERO_GRAIN;
	ext->capacity = vmdk_le64(hdr + VMDK_HDR_CAPACITY);
	grain_sectors = vmdk_le64(hdr + VMDK_HDR_GRAIN_SIZE);
	ext->gtes_per_gt = vmdk_le32(hdr + VMDK_HDR_GTES_PER_GT);
	ext->gte_size = 4;
	r = check_geometry(ext, grain_sectors, err);
	if (r < 0)
		return r;
	ext->overhead = vmdk_le64(hdr + VMDK_HDR_OVERHEAD);
	if (ext->overhead > ext->file_size / VMDK_SECTOR)
		ext->overhead = ext->file_size / VMDK_SECTOR;
	ext->overhead *= VMDK_SECTOR;
	if (ext->gd_entries && vmdk_le64(hdr + VMDK_HDR_GD_OFFSET) == 0)
		return kvm_error_set(err, -EINVAL, "%s: sparse extent has no grain directory", ext->path);
	if (vmdk_le64(hdr + VMDK_HDR_GD_OFFSET) > ext->file_size / VMDK_SECTOR)
		return kvm_error_set(err, -EINVAL, "%s: grain directory at sector %llu is past the end of the file",
				     ext->path, (unsigned long long)vmdk_le64(hdr + VMDK_HDR_GD_OFFSET));
	ext->gd_offset = vmdk_le64(hdr + VMDK_HDR_GD_OFFSET) * VMDK_SECTOR;
	return load_directory(img, ext, err);
}

static int open_cowd(struct kvmi_image *img, struct vmdk_extent *ext, struct kvm_error *err)
{
	uint8_t hdr[32];
	int r = io_pread_exact(ext->fd, ext->path, hdr, sizeof(hdr), 0, err);

	if (r < 0)
		return r;
	ext->kind = VMDK_SPARSE_COWD;
	ext->version = vmdk_le32(hdr + 4);
	ext->flags = vmdk_le32(hdr + 8);
	ext->capacity = vmdk_le32(hdr + 12);
	ext->gtes_per_gt = COWD_GTES_PER_GT;
	ext->gte_size = 4;
	r = check_geometry(ext, vmdk_le32(hdr + 16), err);
	if (r < 0)
		return r;
	if (vmdk_le32(hdr + 24) < ext->gd_entries)
		return kvm_error_set(err, -EINVAL, "%s: grain directory of %u entries cannot map %llu sectors",
				     ext->path, vmdk_le32(hdr + 24), (unsigned long long)ext->capacity);
	ext->gd_offset = (uint64_t)vmdk_le32(hdr + 20) * VMDK_SECTOR;
	ext->overhead = ext->gd_offset;
	return load_directory(img, ext, err);
}

/* Offsets in the seSparse constant header of the grain directory, grain
 * table area and grain area and their sizes. */
static const unsigned se_area_fields[] = { 128, 136, 144, 152, 192 };

static int open_sesparse(struct kvmi_image *img, struct vmdk_extent *ext, struct kvm_error *err)
{
	uint8_t hdr[VMDK_SECTOR], vol[VMDK_SECTOR];
	uint64_t gt_sectors, vol_offset, gd_sectors;
	int r = io_pread_exact(ext->fd, ext->path, hdr, sizeof(hdr), 0, err);

	if (r < 0)
		return r;
	ext->kind = VMDK_SPARSE_SE;
	if (vmdk_le64(hdr + 8) != SE_VERSION)
		return kvm_error_set(err, -ENOTSUP, "%s: seSparse version 0x%llx is not supported",
				     ext->path, (unsigned long long)vmdk_le64(hdr + 8));
	ext->version = 2;
	ext->flags = (uint32_t)vmdk_le64(hdr + 40);
	if (vmdk_le64(hdr + 40) != 0)
		return kvm_error_set(err, -ENOTSUP, "%s: seSparse flags 0x%llx are not supported",
				     ext->path, (unsigned long long)vmdk_le64(hdr + 40));
	ext->capacity = vmdk_le64(hdr + 16);
	gt_sectors = vmdk_le64(hdr + 32);
	if (gt_sectors == 0 || gt_sectors > (uint64_t)VMDK_MAX_GTES_PER_GT * 8 / VMDK_SECTOR)
		return kvm_error_set(err, -EINVAL, "%s: grain table of %llu sectors is absurd",
				     ext->path, (unsigned long long)gt_sectors);
	ext->gte_size = 8;
	ext->gtes_per_gt = (uint32_t)(gt_sectors * VMDK_SECTOR / 8);
	r = check_geometry(ext, vmdk_le64(hdr + 24), err);
	if (r < 0)
		return r;

	vol_offset = vmdk_le64(hdr + 80);
	if (vol_offset > ext->file_size / VMDK_SECTOR - 1)
		return kvm_error_set(err, -EINVAL, "%s: seSparse volatile header is past the end of the file",
				     ext->path);
	r = io_pread_exact(ext->fd, ext->path, vol, sizeof(vol), vol_offset * VMDK_SECTOR, err);
	if (r < 0)
		return r;
	if (vmdk_le64(vol) != VMDK_SESPARSE_VOLATILE_MAGIC)
		return kvm_error_set(err, -EINVAL, "%s: seSparse volatile header has a bad magic",
				     ext->path);
	if (vmdk_le64(vol + 24) != 0)
		return kvm_error_set(err, -ENOTSUP, "%s: seSparse journal must be replayed by ESXi first",
				     ext->path);

	gd_sectors = vmdk_le64(hdr + 136);
	if (gd_sectors * VMDK_SECTOR / 8 < ext->gd_entries)
		return kvm_error_set(err, -EINVAL, "%s: grain directory of %llu sectors cannot map %llu sectors",
				     ext->path, (unsigned long long)gd_sectors,
				     (unsigned long long)ext->capacity);
	/* The directory, grain table area and grain area, in sectors; refused
	 * past the file here so that the products below cannot overflow. */
	for (size_t i = 0; i < sizeof(se_area_fields) / sizeof(se_area_fields[0]); i++) {
		uint64_t value = vmdk_le64(hdr + se_area_fields[i]);

		if (value > ext->file_size / VMDK_SECTOR)
			return kvm_error_set(err, -EINVAL, "%s: seSparse header field at byte %u (0x%llx) is past the end of the file",
					     ext->path, se_area_fields[i], (unsigned long long)value);
	}
	ext->gd_offset = vmdk_le64(hdr + 128) * VMDK_SECTOR;
	ext->se_grain_tables_offset = vmdk_le64(hdr + 144) * VMDK_SECTOR;
	ext->se_grain_tables_size = vmdk_le64(hdr + 152) * VMDK_SECTOR;
	ext->se_grains_offset = vmdk_le64(hdr + 192) * VMDK_SECTOR;
	ext->overhead = ext->se_grains_offset;
	return load_directory(img, ext, err);
}

int vmdk_sparse_open(struct kvmi_image *img, struct vmdk_extent *ext, struct kvm_error *err)
{
	uint8_t magic[8];
	int r;

	if (ext->file_size < VMDK_SECTOR)
		return kvm_error_set(err, -EINVAL, "%s: file is too small for a sparse extent",
				     ext->path);
	r = io_pread_exact(ext->fd, ext->path, magic, sizeof(magic), 0, err);
	if (r < 0)
		return r;
	ext->sparse = true;
	if (memcmp(magic, VMDK_SPARSE_MAGIC, 4) == 0)
		return open_hosted(img, ext, err);
	if (memcmp(magic, VMDK_COWD_MAGIC, 4) == 0)
		return open_cowd(img, ext, err);
	if (vmdk_le64(magic) == VMDK_SESPARSE_MAGIC)
		return open_sesparse(img, ext, err);
	return kvm_error_set(err, -EINVAL, "%s: not a sparse VMDK extent", ext->path);
}

/* Whether grain table GT_INDEX holds no grain: it is not there, or was
 * read and found empty (tools that write every table, as qemu-img does for
 * streamOptimized disks, leave most of a huge disk's tables so). */
static bool gt_missing(const struct vmdk_extent *ext, uint64_t gt_index)
{
	return ext->gd[gt_index] == 0 ||
	       (__atomic_load_n(&ext->empty_gts[gt_index / 8], __ATOMIC_RELAXED) &
		(1u << (gt_index % 8)));
}

static void note_if_empty(const struct vmdk_extent *ext, uint64_t gt_index, const uint8_t *table)
{
	if (table[0] == 0 && memcmp(table, table + 1, ext->gt_bytes - 1) == 0)
		__atomic_fetch_or(&ext->empty_gts[gt_index / 8], (uint8_t)(1u << (gt_index % 8)),
				  __ATOMIC_RELAXED);
}

/* Copies COUNT entries from INDEX of grain table GT_INDEX of EXT, through
 * the cache. */
static int gt_entries(struct vmdk_image *vi, const struct vmdk_extent *ext, uint64_t gt_index,
		      uint32_t index, uint32_t count, uint64_t *entries, struct kvm_error *err)
{
	struct vmdk_gt_slot *slot = NULL, *victim = &vi->slots[0];
	int r = 0;

	pthread_mutex_lock(&vi->cache_lock);
	vi->cache_clock++;
	for (unsigned i = 0; i < vi->n_slots; i++) {
		struct vmdk_gt_slot *s = &vi->slots[i];

		if (s->ext == ext && s->gt_index == gt_index) {
			slot = s;
			break;
		}
		if (s->last_use < victim->last_use)
			victim = s;
	}
	if (!slot) {
		slot = victim;
		slot->ext = NULL;
		free(slot->table);
		slot->table = malloc(ext->gt_bytes);
		if (!slot->table) {
			r = kvm_error_set(err, -ENOMEM, "%s: out of memory for a grain table", ext->path);
			goto out;
		}
		r = io_pread_exact(ext->fd, ext->path, slot->table, ext->gt_bytes, ext->gd[gt_index],
				   err);
		if (r < 0)
			goto out;
		note_if_empty(ext, gt_index, slot->table);
		slot->ext = ext;
		slot->gt_index = gt_index;
	}
	slot->last_use = vi->cache_clock;
	for (uint32_t i = 0; i < count; i++) {
		size_t at = (size_t)index + i;

		entries[i] = ext->gte_size == 8 ? vmdk_le64(slot->table + at * 8)
					       : vmdk_le32(slot->table + at * 4);
	}
out:
	pthread_mutex_unlock(&vi->cache_lock);
	return r;
}

/* As qcow2's L2 cache: half the slots of the layer above, and the least
 * that works when the chain's budget is nearly spent. */
int vmdk_gt_cache_size(struct kvmi_image *img, struct vmdk_image *vi, struct kvm_error *err)
{
	unsigned shift = img->depth < 16 ? (unsigned)img->depth : 16;
	uint64_t slot_bytes = 0;

	for (size_t i = 0; i < vi->n_extents; i++)
		if (vi->extents[i].sparse && vi->extents[i].gt_bytes > slot_bytes)
			slot_bytes = vi->extents[i].gt_bytes;
	vi->n_slots = VMDK_GT_CACHE_SLOTS >> shift;
	if (vi->n_slots < VMDK_GT_CACHE_MIN_SLOTS)
		vi->n_slots = VMDK_GT_CACHE_MIN_SLOTS;
	if (image_charge_metadata(img, vi->n_slots * slot_bytes, "grain table cache", NULL) == 0)
		return 0;
	vi->n_slots = VMDK_GT_CACHE_MIN_SLOTS;
	return image_charge_metadata(img, vi->n_slots * slot_bytes, "grain table cache", err);
}

void vmdk_gt_cache_drop(struct vmdk_image *vi)
{
	for (int i = 0; i < VMDK_GT_CACHE_SLOTS; i++) {
		free(vi->slots[i].table);
		vi->slots[i].table = NULL;
		vi->slots[i].ext = NULL;
	}
}

/* What grain table entry ENTRY of grain GRAIN_INDEX says, in the terms of
 * the extent's kind; DATA offsets are not checked against the file here. */
static int decode_entry(const struct vmdk_extent *ext, uint64_t grain_index, uint64_t entry,
			struct vmdk_grain *grain, struct kvm_error *err)
{
	if (ext->kind != VMDK_SPARSE_SE) {
		if (entry == 0)
			grain->kind = VMDK_GRAIN_UNALLOCATED;
		else if (entry == 1 && ext->zero_grain)
			grain->kind = VMDK_GRAIN_ZERO;
		else {
			grain->kind = VMDK_GRAIN_DATA;
			grain->file_offset = entry * VMDK_SECTOR;
		}
		return 0;
	}
	switch (entry >> 60) {
	case 0:
		if (entry != 0)
			break;
		grain->kind = VMDK_GRAIN_UNALLOCATED;
		return 0;
	case 1:		/* unmapped by the guest */
	case 2:		/* written as zeros */
		grain->kind = VMDK_GRAIN_ZERO;
		return 0;
	case 3: {
		uint64_t cluster = ((entry & 0x0fff000000000000ull) >> 48) |
				   ((entry & 0x0000ffffffffffffull) << 12);

		grain->kind = VMDK_GRAIN_DATA;
		/* Past the file either way; the caller says so. */
		if (cluster > ext->file_size / ext->grain_bytes)
			grain->file_offset = UINT64_MAX;
		else
			grain->file_offset = ext->se_grains_offset + cluster * ext->grain_bytes;
		return 0;
	}
	default:
		break;
	}
	return kvm_error_set(err, -EINVAL, "%s: grain table entry 0x%llx of grain %llu is invalid",
			     ext->path, (unsigned long long)entry, (unsigned long long)grain_index);
}

int vmdk_sparse_lookup(struct vmdk_image *vi, const struct vmdk_extent *ext, uint64_t offset,
		       struct vmdk_grain *grain, struct kvm_error *err)
{
	uint64_t grain_index = offset / ext->grain_bytes;
	uint64_t gt_index = grain_index / ext->gtes_per_gt;
	uint64_t entry = 0;
	int r;

	memset(grain, 0, sizeof(*grain));
	if (gt_index >= ext->gd_entries)
		return kvm_error_set(err, -EIO, "%s: offset 0x%llx is past the sparse extent",
				     ext->path, (unsigned long long)offset);
	if (gt_missing(ext, gt_index)) {
		grain->kind = VMDK_GRAIN_UNALLOCATED;
		grain->length = (gt_index + 1) * ext->gtes_per_gt * ext->grain_bytes - offset;
		return 0;
	}
	r = gt_entries(vi, ext, gt_index, (uint32_t)(grain_index % ext->gtes_per_gt), 1, &entry,
		       err);
	if (r < 0)
		return r;
	grain->length = ext->grain_bytes - offset % ext->grain_bytes;
	return decode_entry(ext, grain_index, entry, grain, err);
}

/* Whether G, GRAINS_AFTER grains past FIRST, reads the same way: the same
 * kind and, for plain data, stored right after it. */
static bool continues_run(const struct vmdk_extent *ext, const struct vmdk_grain *first,
			  const struct vmdk_grain *g, uint64_t grains_after)
{
	if (g->kind != first->kind)
		return false;
	return g->kind != VMDK_GRAIN_DATA || ext->compressed ||
	       g->file_offset == first->file_offset + grains_after * ext->grain_bytes;
}

/* Grain table entries decoded at once: one cache lookup for each batch
 * instead of one for each grain, which ruled the time of walking a huge
 * disk whose grain tables are all there and empty. */
#define RUN_BATCH 512

int vmdk_sparse_run(struct vmdk_image *vi, const struct vmdk_extent *ext, uint64_t offset,
		    uint64_t max_length, uint64_t max_grains, struct vmdk_grain *first,
		    struct kvm_error *err)
{
	uint64_t first_index = offset / ext->grain_bytes, k, done;
	uint64_t entries[RUN_BATCH];
	int r = vmdk_sparse_lookup(vi, ext, offset, first, err);

	if (r < 0)
		return r;
	done = first->length;
	/* The first grain may stand for a whole missing grain table. */
	k = (offset + done) / ext->grain_bytes - first_index;
	while (done < max_length && k < max_grains) {
		uint64_t index = first_index + k, gt_index = index / ext->gtes_per_gt;
		uint32_t in_gt = (uint32_t)(index % ext->gtes_per_gt), n = ext->gtes_per_gt - in_gt;

		if (gt_index >= ext->gd_entries)
			break;
		if (gt_missing(ext, gt_index)) {
			if (first->kind != VMDK_GRAIN_UNALLOCATED)
				break;
			k += n;
			done += (uint64_t)n * ext->grain_bytes;
			continue;
		}
		if (n > RUN_BATCH)
			n = RUN_BATCH;
		if (n > max_grains - k)
			n = (uint32_t)(max_grains - k);
		r = gt_entries(vi, ext, gt_index, in_gt, n, entries, err);
		if (r < 0)
			return r;
		for (uint32_t i = 0; i < n; i++) {
			struct vmdk_grain g = { 0 };

			/* A bad entry ends the run; asked for alone, it is reported. */
			if (decode_entry(ext, index + i, entries[i], &g, NULL) < 0 ||
			    !continues_run(ext, first, &g, k + i))
				goto out;
			done += ext->grain_bytes;
		}
		k += n;
	}
out:
	first->length = done < max_length ? done : max_length;
	return 0;
}

/* Reads and inflates the compressed grain whose marker is at MARKER into
 * OUT (ext->grain_bytes); GUEST names it in messages. */
static int read_compressed(const struct vmdk_extent *ext, uint64_t marker, uint64_t grain_start,
			   uint8_t *out, uint64_t guest, struct kvm_error *err)
{
	size_t header = ext->markers ? VMDK_MARKER_HEADER : 4;
	uint8_t head[VMDK_MARKER_HEADER];
	uint64_t expected, size;
	uint8_t *data;
	int r;

	if (marker > ext->file_size || header > ext->file_size - marker)
		return kvm_error_set(err, -EINVAL, "%s: grain at guest offset 0x%llx is past the end of the file",
				     ext->path, (unsigned long long)guest);
	r = io_pread_exact(ext->fd, ext->path, head, header, marker, err);
	if (r < 0)
		return r;
	size = ext->markers ? vmdk_le32(head + 8) : vmdk_le32(head);
	if (size == 0 || size > 2 * ext->grain_bytes + 4096)
		return kvm_error_set(err, -EINVAL, "%s: grain at guest offset 0x%llx has a compressed size of %llu",
				     ext->path, (unsigned long long)guest, (unsigned long long)size);
	if (size > ext->file_size - marker - header)
		return kvm_error_set(err, -EINVAL, "%s: grain at guest offset 0x%llx is past the end of the file",
				     ext->path, (unsigned long long)guest);
	data = malloc(size);
	if (!data)
		return kvm_error_set(err, -ENOMEM, "%s: out of memory for a grain", ext->path);
	r = io_pread_exact(ext->fd, ext->path, data, size, marker + header, err);
	if (r < 0)
		goto out;
	/* The last grain of a disk may hold only the sectors the disk has
	 * (QEMU, VMware's open-vmdk) or a whole grain. */
	expected = ext->capacity * VMDK_SECTOR - grain_start;
	if (expected > ext->grain_bytes)
		expected = ext->grain_bytes;
	r = codec_decompress(CODEC_ZLIB, data, size, out, expected);
	if (r < 0 && expected < ext->grain_bytes)
		r = codec_decompress(CODEC_ZLIB, data, size, out, ext->grain_bytes);
	if (r < 0)
		r = kvm_error_set(err, -EIO, "%s: grain at guest offset 0x%llx does not decompress",
				  ext->path, (unsigned long long)guest);
	else if (expected < ext->grain_bytes)
		memset(out + expected, 0, ext->grain_bytes - expected);
out:
	free(data);
	return r;
}

/* Plain grains that lie next to each other in the file, gathered into one
 * read. */
struct pending_read {
	uint8_t *out;
	uint64_t file_offset;
	size_t len;
};

static int flush_read(const struct vmdk_extent *ext, struct pending_read *pending,
		      struct kvm_error *err)
{
	int r = 0;

	if (pending->len)
		r = io_pread_exact(ext->fd, ext->path, pending->out, pending->len,
				   pending->file_offset, err);
	pending->len = 0;
	return r;
}

static int read_plain(const struct vmdk_extent *ext, struct pending_read *pending, uint8_t *out,
		      size_t n, uint64_t file_offset, struct kvm_error *err)
{
	int r = 0;

	if (pending->len && pending->file_offset + pending->len != file_offset)
		r = flush_read(ext, pending, err);
	if (!pending->len) {
		pending->out = out;
		pending->file_offset = file_offset;
	}
	pending->len += n;
	return r;
}

int vmdk_sparse_read(struct kvmi_image *img, const struct vmdk_extent *ext, void *buf,
		     size_t len, uint64_t offset, uint64_t guest_offset, struct kvm_error *err)
{
	struct vmdk_image *vi = img->priv;
	struct pending_read pending = { NULL, 0, 0 };
	uint8_t *out = buf, *inflated = NULL;
	int r = 0;

	while (len && r == 0) {
		struct vmdk_grain grain;
		uint64_t in_grain = offset % ext->grain_bytes;
		uint64_t grain_guest = guest_offset - in_grain;
		size_t n;

		r = vmdk_sparse_lookup(vi, ext, offset, &grain, err);
		if (r < 0)
			break;
		n = grain.length < len ? (size_t)grain.length : len;
		if (grain.kind != VMDK_GRAIN_DATA || ext->compressed) {
			r = flush_read(ext, &pending, err);
			if (r < 0)
				break;
		}
		switch (grain.kind) {
		case VMDK_GRAIN_UNALLOCATED:
			r = image_read_backing(img, out, n, guest_offset, err);
			break;
		case VMDK_GRAIN_ZERO:
			memset(out, 0, n);
			break;
		case VMDK_GRAIN_DATA:
			if (ext->compressed && n == ext->grain_bytes) {
				/* A whole grain inflates straight into place. */
				r = read_compressed(ext, grain.file_offset, offset, out, grain_guest,
						    err);
				break;
			}
			if (ext->compressed) {
				if (!inflated)
					inflated = malloc(ext->grain_bytes);
				if (!inflated) {
					r = kvm_error_set(err, -ENOMEM, "%s: out of memory for a grain",
							  ext->path);
					break;
				}
				r = read_compressed(ext, grain.file_offset, offset - in_grain, inflated,
						    grain_guest, err);
				if (r == 0)
					memcpy(out, inflated + in_grain, n);
				break;
			}
			if (grain.file_offset > ext->file_size ||
			    in_grain + n > ext->file_size - grain.file_offset) {
				r = kvm_error_set(err, -EINVAL, "%s: grain at guest offset 0x%llx is past the end of the file",
						  ext->path, (unsigned long long)grain_guest);
				break;
			}
			r = read_plain(ext, &pending, out, n, grain.file_offset + in_grain, err);
			break;
		}
		out += n;
		len -= n;
		offset += n;
		guest_offset += n;
	}
	if (r == 0)
		r = flush_read(ext, &pending, err);
	free(inflated);
	return r;
}

/* ---- Check ---- */

struct used_map {
	uint8_t *bits;
	uint64_t sectors;
};

static void add_problem(struct kvmi_check_result *result, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void add_problem(struct kvmi_check_result *result, const char *fmt, ...)
{
	struct strbuf sb = STRBUF_INIT;
	va_list ap;

	result->corruptions++;
	if (!result->problems ||
	    json_object_array_length(result->problems) >= CHECK_MAX_PROBLEMS)
		return;
	va_start(ap, fmt);
	strbuf_vaddf(&sb, fmt, ap);
	va_end(ap);
	json_object_array_add(result->problems, json_object_new_string(sb.buf));
	strbuf_release(&sb);
}

/* Marks [OFFSET, OFFSET+LEN) used; true when some of it already was. */
static bool mark_used(struct used_map *map, uint64_t offset, uint64_t len)
{
	bool overlap = false;

	if (!map->bits)
		return false;
	for (uint64_t s = offset / VMDK_SECTOR; s < (offset + len + VMDK_SECTOR - 1) / VMDK_SECTOR &&
	     s < map->sectors; s++) {
		if (map->bits[s / 8] & (1u << (s % 8)))
			overlap = true;
		map->bits[s / 8] |= (uint8_t)(1u << (s % 8));
	}
	return overlap;
}

/* The bytes the grain at OFFSET takes in the file, or 0 when it does not
 * fit in the file. */
static uint64_t grain_extent(const struct vmdk_extent *ext, uint64_t offset, uint64_t need)
{
	uint8_t head[VMDK_MARKER_HEADER];
	size_t header = ext->markers ? VMDK_MARKER_HEADER : 4;
	uint64_t size;

	if (offset >= ext->file_size)
		return 0;
	if (!ext->compressed)
		return need <= ext->file_size - offset ? need : 0;
	if (header > ext->file_size - offset ||
	    io_pread_exact(ext->fd, ext->path, head, header, offset, NULL) < 0)
		return 0;
	size = ext->markers ? vmdk_le32(head + 8) : vmdk_le32(head);
	if (size == 0 || size > ext->file_size - offset - header)
		return 0;
	return header + size;
}

int vmdk_sparse_check(const struct vmdk_extent *ext, struct kvmi_check_result *result,
		      struct kvm_error *err)
{
	struct used_map map = { NULL, 0 };
	uint8_t *table = NULL;
	int r = 0;

	result->total_clusters += (ext->capacity * VMDK_SECTOR + ext->grain_bytes - 1) /
				  ext->grain_bytes;
	if (ext->file_size / VMDK_SECTOR <= CHECK_MAX_BITMAP_BITS) {
		map.sectors = (ext->file_size + VMDK_SECTOR - 1) / VMDK_SECTOR;
		map.bits = calloc(map.sectors / 8 + 1, 1);
	}
	mark_used(&map, 0, VMDK_SECTOR);
	mark_used(&map, ext->gd_offset, ext->gd_entries * ext->gte_size);
	for (uint64_t i = 0; i < ext->gd_entries; i++)
		if (ext->gd[i] && mark_used(&map, ext->gd[i], ext->gt_bytes))
			add_problem(result, "%s: grain table %llu at 0x%llx overlaps other metadata",
				    ext->path, (unsigned long long)i, (unsigned long long)ext->gd[i]);

	table = malloc(ext->gt_bytes);
	if (!table) {
		r = kvm_error_set(err, -ENOMEM, "%s: out of memory for a grain table", ext->path);
		goto out;
	}
	for (uint64_t i = 0; i < ext->gd_entries; i++) {
		if (!ext->gd[i])
			continue;
		r = io_pread_exact(ext->fd, ext->path, table, ext->gt_bytes, ext->gd[i], err);
		if (r < 0)
			goto out;
		for (uint32_t j = 0; j < ext->gtes_per_gt; j++) {
			uint64_t grain_index = i * ext->gtes_per_gt + j;
			uint64_t guest = ext->start + grain_index * ext->grain_bytes;
			uint64_t entry = ext->gte_size == 8 ? vmdk_le64(table + (size_t)j * 8)
							    : vmdk_le32(table + (size_t)j * 4);
			struct vmdk_grain grain;
			uint64_t bytes, need;

			if (grain_index * ext->grain_bytes >= ext->capacity * VMDK_SECTOR)
				break;
			need = ext->capacity * VMDK_SECTOR - grain_index * ext->grain_bytes;
			if (need > ext->grain_bytes)
				need = ext->grain_bytes;
			if (decode_entry(ext, grain_index, entry, &grain, NULL) < 0) {
				add_problem(result, "%s: grain table entry 0x%llx of grain %llu is invalid",
					    ext->path, (unsigned long long)entry,
					    (unsigned long long)grain_index);
				continue;
			}
			if (grain.kind != VMDK_GRAIN_DATA)
				continue;
			result->allocated_clusters++;
			bytes = grain_extent(ext, grain.file_offset, need);
			if (!bytes) {
				add_problem(result, "%s: grain at guest offset 0x%llx is past the end of the file",
					    ext->path, (unsigned long long)guest);
				continue;
			}
			/* The header, descriptor and (hosted) tables precede the
			 * first grain. */
			if (grain.file_offset < ext->overhead)
				add_problem(result, "%s: grain at guest offset 0x%llx lies in the metadata",
					    ext->path, (unsigned long long)guest);
			else if (mark_used(&map, grain.file_offset, bytes))
				add_problem(result, "%s: grain at guest offset 0x%llx overlaps another grain or metadata",
					    ext->path, (unsigned long long)guest);
			if (grain.file_offset + bytes > result->image_end_offset)
				result->image_end_offset = grain.file_offset + bytes;
		}
	}
out:
	free(table);
	free(map.bits);
	return r;
}
