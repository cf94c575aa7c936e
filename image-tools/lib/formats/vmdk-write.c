/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Writing VMDK: monolithicSparse (QEMU's and VMware Workstation's layout,
 * with a redundant grain directory), monolithicFlat (a descriptor and
 * NAME-flat.vmdk) and streamOptimized in the layout of VMware's "Virtual
 * Disk Format 5.0", which ESXi and vSphere require of a disk in an OVA:
 *
 *   header (version 3, gdOffset = GD_AT_END), embedded descriptor,
 *   { grain marker + deflated grain }..., each grain table after its
 *   grains behind a GT marker, the grain directory behind a GD marker,
 *   a footer marker and the footer (the header with the real gdOffset),
 *   and the end-of-stream marker; every piece 512-byte aligned.
 *
 * Grain tables with no grain are not written (their directory entry is 0).
 *
 * Defaults: adapter_type ide like qemu-img, but lsilogic for
 * streamOptimized, the adapter OVAs use and ESXi expects; hwversion 4,
 * which both qemu-img and VMware's own OVA tooling write, because every
 * VMware product reads it.  Output is deterministic: the CID is a hash of
 * the disk's size and content, not a random number.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "codec.h"
#include "path.h"
#include "strbuf.h"
#include "vmdk.h"
#include "xalloc.h"

#define GRAIN_SECTORS 128u		/* 64 KiB, what VMware and QEMU use */
#define GTES_PER_GT 512u
#define GT_SECTORS (GTES_PER_GT * 4 / VMDK_SECTOR)
#define DESC_SECTORS 20u		/* room QEMU and VMware leave */
#define FLAT_WRITE_UNIT (1u << 20)
/* Grain table entries are 32-bit sector numbers. */
#define MAX_FILE_SECTORS 0xffffffffull

enum subformat {
	SUB_MONOLITHIC_SPARSE,
	SUB_MONOLITHIC_FLAT,
	SUB_STREAM_OPTIMIZED,
};

static const char *const subformat_names[] = {
	[SUB_MONOLITHIC_SPARSE] = "monolithicSparse",
	[SUB_MONOLITHIC_FLAT] = "monolithicFlat",
	[SUB_STREAM_OPTIMIZED] = "streamOptimized",
};

static const char *const adapter_names[] = { "ide", "buslogic", "lsilogic", "legacyESX" };

const struct option_desc vmdk_create_options[] = {
	{ "subformat", OPTION_STRING,
	  "monolithicSparse (default), monolithicFlat or streamOptimized (for OVA)" },
	{ "adapter_type", OPTION_STRING,
	  "ide (default), lsilogic (default for streamOptimized), buslogic or legacyESX" },
	{ "hwversion", OPTION_STRING, "ddb.virtualHWVersion, default 4" },
	{ "toolsversion", OPTION_STRING, "ddb.toolsVersion, default 2147483647 (none)" },
	{ NULL, OPTION_STRING, NULL },
};

struct vmdk_writer {
	enum subformat sub;
	const char *adapter;
	char *hwversion;
	char *toolsversion;
	char *extent_name;	/* as the descriptor names the data */
	uint64_t capacity;	/* sectors */
	uint32_t hash;		/* FNV-1a of size and content: the CID */

	/* Sparse layouts. */
	uint64_t gt_count;
	uint64_t gd_sectors;
	uint64_t rgd_sector;	/* monolithicSparse */
	uint64_t gd_sector;
	uint64_t overhead;	/* sectors before the first grain */
	uint64_t next_sector;
	uint32_t gt[GTES_PER_GT];
	uint64_t gt_index;	/* of gt[]; UINT64_MAX when none */
	uint32_t *gd;		/* streamOptimized: sector of each table */
	uint8_t *scratch;	/* a grain, for grains compressed here */
	uint8_t *packed;	/* marker + deflated grain */

	int flat_fd;		/* monolithicFlat */
};

static void hash_bytes(struct vmdk_writer *vw, const void *data, size_t len)
{
	const uint8_t *p = data;

	for (size_t i = 0; i < len; i++) {
		vw->hash ^= p[i];
		vw->hash *= 16777619u;
	}
}

static bool all_digits(const char *s)
{
	size_t len = strlen(s);

	if (len == 0 || len > 10)
		return false;
	for (size_t i = 0; i < len; i++)
		if (s[i] < '0' || s[i] > '9')
			return false;
	return true;
}

static int parse_options(struct vmdk_writer *vw, const char *path, const struct option_list *opts,
			 struct kvm_error *err)
{
	const char *sub = options_get_string(opts, "subformat", "monolithicSparse");
	const char *adapter, *hw, *tools;
	bool found = false;

	for (size_t i = 0; i < sizeof(subformat_names) / sizeof(subformat_names[0]); i++) {
		if (strcasecmp(sub, subformat_names[i]) == 0) {
			vw->sub = (enum subformat)i;
			found = true;
		}
	}
	if (!found)
		return kvm_error_set(err, -EINVAL, "%s: vmdk subformat '%s' cannot be written (monolithicSparse, monolithicFlat or streamOptimized)",
				     path, sub);
	adapter = options_get_string(opts, "adapter_type",
				     vw->sub == SUB_STREAM_OPTIMIZED ? "lsilogic" : "ide");
	for (size_t i = 0; i < sizeof(adapter_names) / sizeof(adapter_names[0]); i++)
		if (strcasecmp(adapter, adapter_names[i]) == 0)
			vw->adapter = adapter_names[i];
	if (!vw->adapter)
		return kvm_error_set(err, -EINVAL, "%s: adapter_type '%s' is not one of ide, lsilogic, buslogic, legacyESX",
				     path, adapter);
	hw = options_get_string(opts, "hwversion", "4");
	tools = options_get_string(opts, "toolsversion", "2147483647");
	if (!all_digits(hw))
		return kvm_error_set(err, -EINVAL, "%s: hwversion '%s' is not a number", path, hw);
	if (!all_digits(tools))
		return kvm_error_set(err, -EINVAL, "%s: toolsversion '%s' is not a number", path,
				     tools);
	vw->hwversion = xstrdup(hw);
	vw->toolsversion = xstrdup(tools);
	return 0;
}

/* NAME.vmdk -> NAME-flat.vmdk beside it, as VMware and QEMU name it. */
static char *flat_path(const char *path)
{
	const char *base = path_basename(path);
	const char *dot = strrchr(base, '.');
	struct strbuf sb = STRBUF_INIT;

	if (!dot || dot == base)
		dot = base + strlen(base);
	strbuf_add(&sb, path, (size_t)(dot - path));
	strbuf_addstr(&sb, "-flat");
	strbuf_addstr(&sb, dot);
	return strbuf_detach(&sb);
}

static void plan_sparse(struct vmdk_writer *vw)
{
	uint64_t grains = (vw->capacity + GRAIN_SECTORS - 1) / GRAIN_SECTORS;

	vw->gt_count = (grains + GTES_PER_GT - 1) / GTES_PER_GT;
	vw->gd_sectors = (vw->gt_count * 4 + VMDK_SECTOR - 1) / VMDK_SECTOR;
	if (vw->sub == SUB_STREAM_OPTIMIZED) {
		vw->overhead = 1 + DESC_SECTORS;
	} else {
		vw->rgd_sector = 1 + DESC_SECTORS;
		vw->gd_sector = vw->rgd_sector + vw->gd_sectors + vw->gt_count * GT_SECTORS;
		vw->overhead = vw->gd_sector + vw->gd_sectors + vw->gt_count * GT_SECTORS;
		vw->overhead = (vw->overhead + GRAIN_SECTORS - 1) / GRAIN_SECTORS * GRAIN_SECTORS;
	}
	vw->next_sector = vw->overhead;
	vw->gt_index = UINT64_MAX;
}

int vmdk_create(struct image_writer *w, const struct option_list *opts, struct kvm_error *err)
{
	struct vmdk_writer *vw = xcalloc(1, sizeof(*vw));
	const char *base = path_basename(w->path);
	char *flat = NULL;
	int r;

	w->priv = vw;
	vw->flat_fd = -1;
	vw->hash = 2166136261u;
	r = parse_options(vw, w->path, opts, err);
	if (r < 0)
		return r;
	if (strpbrk(base, "\"\r\n"))
		return kvm_error_set(err, -EINVAL, "%s: a VMDK descriptor cannot name a file with a quote or a line break",
				     w->path);
	vw->capacity = (w->size + VMDK_SECTOR - 1) / VMDK_SECTOR;
	hash_bytes(vw, &vw->capacity, sizeof(vw->capacity));

	switch (vw->sub) {
	case SUB_MONOLITHIC_FLAT:
		if (w->compress)
			return kvm_error_set(err, -EINVAL, "%s: a monolithicFlat VMDK cannot be compressed (use subformat=streamOptimized)",
					     w->path);
		flat = flat_path(w->path);
		vw->extent_name = xstrdup(path_basename(flat));
		r = writer_add_file(w, flat, &vw->flat_fd, err);
		free(flat);
		w->grain = FLAT_WRITE_UNIT;
		return r;
	case SUB_MONOLITHIC_SPARSE:
		if (w->compress)
			return kvm_error_set(err, -EINVAL, "%s: a monolithicSparse VMDK cannot be compressed (use subformat=streamOptimized)",
					     w->path);
		if (vw->capacity > MAX_FILE_SECTORS - (MAX_FILE_SECTORS >> 6))
			return kvm_error_set(err, -EFBIG, "%s: a monolithicSparse VMDK holds at most 2 TiB (use subformat=streamOptimized or monolithicFlat)",
					     w->path);
		break;
	case SUB_STREAM_OPTIMIZED:
		/* Every grain of a stream-optimized extent is compressed. */
		w->compress = true;
		w->compress_bound = codec_compress_bound(CODEC_ZLIB, GRAIN_SECTORS * VMDK_SECTOR);
		vw->packed = malloc(VMDK_MARKER_HEADER + w->compress_bound + VMDK_SECTOR);
		vw->scratch = malloc(GRAIN_SECTORS * VMDK_SECTOR);
		if (!vw->packed || !vw->scratch)
			return kvm_error_set(err, -ENOMEM, "%s: out of memory", w->path);
		break;
	}
	vw->extent_name = xstrdup(base);
	plan_sparse(vw);
	if (vw->gt_count * 4 > IMAGE_MAX_TABLE_BYTES)
		return kvm_error_set(err, -EFBIG, "%s: disk is too large for a VMDK grain directory",
				     w->path);
	if (vw->sub == SUB_STREAM_OPTIMIZED) {
		vw->gd = calloc(vw->gt_count ? vw->gt_count : 1, sizeof(*vw->gd));
		if (!vw->gd)
			return kvm_error_set(err, -ENOMEM, "%s: out of memory", w->path);
	}
	w->grain = GRAIN_SECTORS * VMDK_SECTOR;
	return 0;
}

size_t vmdk_compress(struct image_writer *w, const void *in, size_t len, void *out)
{
	return codec_compress(CODEC_ZLIB, in, len, out, w->compress_bound);
}

static int write_marker(struct image_writer *w, uint64_t sector, uint64_t value,
			enum vmdk_marker_type type, struct kvm_error *err)
{
	uint8_t marker[VMDK_SECTOR] = { 0 };

	vmdk_put_le64(marker, value);
	vmdk_put_le32(marker + 12, type);
	return io_pwrite_all(w->fd, w->path, marker, sizeof(marker), sector * VMDK_SECTOR, err);
}

static void encode_gt(const struct vmdk_writer *vw, uint8_t *out)
{
	for (uint32_t i = 0; i < GTES_PER_GT; i++)
		vmdk_put_le32(out + i * 4, vw->gt[i]);
}

/* Writes the grain table being filled, if any grain went into it. */
static int flush_gt(struct image_writer *w, struct kvm_error *err)
{
	struct vmdk_writer *vw = w->priv;
	uint8_t table[GTES_PER_GT * 4];
	int r;

	if (vw->gt_index == UINT64_MAX)
		return 0;
	encode_gt(vw, table);
	if (vw->sub == SUB_STREAM_OPTIMIZED) {
		r = write_marker(w, vw->next_sector, GT_SECTORS, VMDK_MARKER_GT, err);
		if (r == 0)
			r = io_pwrite_all(w->fd, w->path, table, sizeof(table),
					  (vw->next_sector + 1) * VMDK_SECTOR, err);
		vw->gd[vw->gt_index] = (uint32_t)(vw->next_sector + 1);
		vw->next_sector += 1 + GT_SECTORS;
	} else {
		uint64_t offset = vw->gt_index * GT_SECTORS;

		r = io_pwrite_all(w->fd, w->path, table, sizeof(table),
				  (vw->gd_sector + vw->gd_sectors + offset) * VMDK_SECTOR, err);
		if (r == 0)
			r = io_pwrite_all(w->fd, w->path, table, sizeof(table),
					  (vw->rgd_sector + vw->gd_sectors + offset) * VMDK_SECTOR, err);
	}
	memset(vw->gt, 0, sizeof(vw->gt));
	vw->gt_index = UINT64_MAX;
	return r;
}

/* Puts a marker and the deflated grain at OFFSET into vw->packed; returns
 * its length padded to whole sectors. */
static int pack_grain(struct image_writer *w, uint64_t offset, const void *buf, size_t len,
		      size_t compressed_len, size_t *packed_len, struct kvm_error *err)
{
	struct vmdk_writer *vw = w->priv;
	uint64_t disk_bytes = vw->capacity * VMDK_SECTOR;
	size_t grain_bytes = GRAIN_SECTORS * VMDK_SECTOR;
	/* The last grain holds only the sectors the disk has, as VMware's
	 * and QEMU's writers store it. */
	size_t want = disk_bytes - offset < grain_bytes ? (size_t)(disk_bytes - offset) : grain_bytes;
	uint8_t *data = vw->packed + VMDK_MARKER_HEADER;
	size_t n = compressed_len;

	if (compressed_len && want < grain_bytes) {
		if (codec_decompress(CODEC_ZLIB, buf, compressed_len, vw->scratch, grain_bytes) < 0)
			return kvm_error_set(err, -EIO, "%s: grain at 0x%llx does not decompress",
					     w->path, (unsigned long long)offset);
		n = 0;
	} else if (!compressed_len) {
		size_t copy = len < want ? len : want;

		memcpy(vw->scratch, buf, copy);
		memset(vw->scratch + copy, 0, want - copy);
	}
	if (n)
		memcpy(data, buf, n);
	else
		n = codec_compress(CODEC_ZLIB, vw->scratch, want, data, w->compress_bound);
	if (!n)
		return kvm_error_set(err, -EIO, "%s: grain at 0x%llx does not compress", w->path,
				     (unsigned long long)offset);
	vmdk_put_le64(vw->packed, offset / VMDK_SECTOR);
	vmdk_put_le32(vw->packed + 8, (uint32_t)n);
	n += VMDK_MARKER_HEADER;
	*packed_len = (n + VMDK_SECTOR - 1) / VMDK_SECTOR * VMDK_SECTOR;
	memset(vw->packed + n, 0, *packed_len - n);
	return 0;
}

int vmdk_write(struct image_writer *w, uint64_t offset, const void *buf, size_t len,
	       size_t compressed_len, struct kvm_error *err)
{
	struct vmdk_writer *vw = w->priv;
	uint64_t grain_index = offset / (GRAIN_SECTORS * VMDK_SECTOR);
	const void *data = buf;
	size_t data_len = len;
	uint64_t sectors;
	int r;

	if (vw->sub == SUB_MONOLITHIC_FLAT) {
		hash_bytes(vw, &offset, sizeof(offset));
		hash_bytes(vw, buf, len < 64 ? len : 64);
		return writer_pwrite_data(w, vw->flat_fd, buf, len, offset, err);
	}
	if (grain_index / GTES_PER_GT != vw->gt_index) {
		r = flush_gt(w, err);
		if (r < 0)
			return r;
		vw->gt_index = grain_index / GTES_PER_GT;
	}
	if (vw->sub == SUB_STREAM_OPTIMIZED) {
		r = pack_grain(w, offset, buf, len, compressed_len, &data_len, err);
		if (r < 0)
			return r;
		data = vw->packed;
	}
	sectors = (data_len + VMDK_SECTOR - 1) / VMDK_SECTOR;
	if (vw->sub == SUB_MONOLITHIC_SPARSE)
		sectors = GRAIN_SECTORS;
	/* Room for the grain and, in a stream, the tables and footer. */
	if (vw->next_sector + sectors + vw->gd_sectors + GT_SECTORS + 8 > MAX_FILE_SECTORS)
		return kvm_error_set(err, -EFBIG, "%s: VMDK sparse file would grow past 2 TiB",
				     w->path);
	r = writer_pwrite_data(w, w->fd, data, data_len, vw->next_sector * VMDK_SECTOR, err);
	if (r < 0)
		return r;
	hash_bytes(vw, &offset, sizeof(offset));
	hash_bytes(vw, data, data_len < 64 ? data_len : 64);
	vw->gt[grain_index % GTES_PER_GT] = (uint32_t)vw->next_sector;
	vw->next_sector += sectors;
	return 0;
}

static uint32_t make_cid(const struct vmdk_writer *vw)
{
	/* ffffffff means "no parent" and fffffffe is reserved by VMware. */
	return vw->hash >= 0xfffffffeu ? 0xfffffffdu : vw->hash;
}

static void build_descriptor(const struct vmdk_writer *vw, struct strbuf *sb)
{
	unsigned heads = strcmp(vw->adapter, "ide") == 0 ? 16 : 255;

	strbuf_addstr(sb, "# Disk DescriptorFile\n"
		      "version=1\n"
		      "encoding=\"UTF-8\"\n");
	strbuf_addf(sb, "CID=%08x\n", make_cid(vw));
	strbuf_addf(sb, "parentCID=ffffffff\n"
		    "createType=\"%s\"\n"
		    "\n"
		    "# Extent description\n", subformat_names[vw->sub]);
	if (vw->sub == SUB_MONOLITHIC_FLAT)
		strbuf_addf(sb, "RW %llu FLAT \"%s\" 0\n", (unsigned long long)vw->capacity,
			    vw->extent_name);
	else
		strbuf_addf(sb, "RW %llu SPARSE \"%s\"\n", (unsigned long long)vw->capacity,
			    vw->extent_name);
	/* The geometry QEMU writes: 63 sectors, 16 heads for IDE and 255
	 * (what VMware uses) for SCSI adapters. */
	strbuf_addf(sb, "\n"
		    "# The Disk Data Base\n"
		    "#DDB\n"
		    "\n"
		    "ddb.virtualHWVersion = \"%s\"\n"
		    "ddb.geometry.cylinders = \"%llu\"\n"
		    "ddb.geometry.heads = \"%u\"\n"
		    "ddb.geometry.sectors = \"63\"\n"
		    "ddb.adapterType = \"%s\"\n"
		    "ddb.toolsVersion = \"%s\"\n",
		    vw->hwversion,
		    (unsigned long long)(vw->capacity / (63ull * heads)), heads, vw->adapter,
		    vw->toolsversion);
}

static void build_header(const struct vmdk_writer *vw, uint64_t gd_offset, uint8_t *hdr)
{
	bool stream = vw->sub == SUB_STREAM_OPTIMIZED;

	memset(hdr, 0, VMDK_SECTOR);
	memcpy(hdr, VMDK_SPARSE_MAGIC, 4);
	vmdk_put_le32(hdr + VMDK_HDR_VERSION, stream ? 3 : 1);
	vmdk_put_le32(hdr + VMDK_HDR_FLAGS, VMDK_FLAG_NL_DETECT |
		      (stream ? VMDK_FLAG_COMPRESSED | VMDK_FLAG_MARKERS : VMDK_FLAG_RGD));
	vmdk_put_le64(hdr + VMDK_HDR_CAPACITY, vw->capacity);
	vmdk_put_le64(hdr + VMDK_HDR_GRAIN_SIZE, GRAIN_SECTORS);
	vmdk_put_le64(hdr + VMDK_HDR_DESC_OFFSET, 1);
	vmdk_put_le64(hdr + VMDK_HDR_DESC_SIZE, DESC_SECTORS);
	vmdk_put_le32(hdr + VMDK_HDR_GTES_PER_GT, GTES_PER_GT);
	vmdk_put_le64(hdr + VMDK_HDR_RGD_OFFSET, vw->rgd_sector);
	vmdk_put_le64(hdr + VMDK_HDR_GD_OFFSET, gd_offset);
	vmdk_put_le64(hdr + VMDK_HDR_OVERHEAD, vw->overhead);
	memcpy(hdr + VMDK_HDR_NL_CHARS, "\n \r\n", 4);
	hdr[VMDK_HDR_COMPRESS_ALGO] = stream ? VMDK_COMPRESSION_DEFLATE : 0;
}

static int write_directories(struct image_writer *w, struct kvm_error *err)
{
	struct vmdk_writer *vw = w->priv;
	size_t bytes = vw->gd_sectors * VMDK_SECTOR;
	uint8_t *gd = calloc(1, bytes ? bytes : 1);
	uint8_t *rgd = calloc(1, bytes ? bytes : 1);
	int r = 0;

	if (!gd || !rgd) {
		r = kvm_error_set(err, -ENOMEM, "%s: out of memory", w->path);
		goto out;
	}
	for (uint64_t i = 0; i < vw->gt_count; i++) {
		if (vw->sub == SUB_STREAM_OPTIMIZED) {
			vmdk_put_le32(gd + i * 4, vw->gd[i]);
		} else {
			vmdk_put_le32(gd + i * 4, (uint32_t)(vw->gd_sector + vw->gd_sectors + i * GT_SECTORS));
			vmdk_put_le32(rgd + i * 4, (uint32_t)(vw->rgd_sector + vw->gd_sectors + i * GT_SECTORS));
		}
	}
	if (vw->sub == SUB_STREAM_OPTIMIZED) {
		r = write_marker(w, vw->next_sector, vw->gd_sectors, VMDK_MARKER_GD, err);
		vw->gd_sector = vw->next_sector + 1;
		vw->next_sector += 1 + vw->gd_sectors;
		if (r == 0)
			r = io_pwrite_all(w->fd, w->path, gd, bytes, vw->gd_sector * VMDK_SECTOR, err);
	} else {
		r = io_pwrite_all(w->fd, w->path, gd, bytes, vw->gd_sector * VMDK_SECTOR, err);
		if (r == 0)
			r = io_pwrite_all(w->fd, w->path, rgd, bytes, vw->rgd_sector * VMDK_SECTOR, err);
	}
out:
	free(gd);
	free(rgd);
	return r;
}

static int finish_sparse(struct image_writer *w, const struct strbuf *desc, struct kvm_error *err)
{
	struct vmdk_writer *vw = w->priv;
	bool stream = vw->sub == SUB_STREAM_OPTIMIZED;
	uint8_t hdr[VMDK_SECTOR];
	uint64_t end;
	int r = flush_gt(w, err);

	if (r == 0)
		r = write_directories(w, err);
	if (r < 0)
		return r;
	if (desc->len > DESC_SECTORS * VMDK_SECTOR)
		return kvm_error_set(err, -EINVAL, "%s: descriptor does not fit in its %u sectors",
				     w->path, DESC_SECTORS);
	r = io_pwrite_all(w->fd, w->path, desc->buf, desc->len, VMDK_SECTOR, err);
	if (r < 0)
		return r;
	if (stream) {
		r = write_marker(w, vw->next_sector, 1, VMDK_MARKER_FOOTER, err);
		build_header(vw, vw->gd_sector, hdr);
		if (r == 0)
			r = io_pwrite_all(w->fd, w->path, hdr, sizeof(hdr),
					  (vw->next_sector + 1) * VMDK_SECTOR, err);
		if (r == 0)
			r = write_marker(w, vw->next_sector + 2, 0, VMDK_MARKER_EOS, err);
		vw->next_sector += 3;
		if (r < 0)
			return r;
	}
	build_header(vw, stream ? VMDK_GD_AT_END : vw->gd_sector, hdr);
	r = io_pwrite_all(w->fd, w->path, hdr, sizeof(hdr), 0, err);
	if (r < 0)
		return r;
	/* Tables never written (no grain in them) and the space of the last
	 * grain are holes that read as zeros. */
	end = (vw->next_sector > vw->overhead ? vw->next_sector : vw->overhead) * VMDK_SECTOR;
	if (ftruncate(w->fd, (off_t)end) < 0)
		return kvm_error_errno(err, -errno, "%s: cannot set the size", w->path);
	return 0;
}

int vmdk_finish(struct image_writer *w, struct kvm_error *err)
{
	struct vmdk_writer *vw = w->priv;
	struct strbuf desc = STRBUF_INIT;
	int r;

	build_descriptor(vw, &desc);
	if (vw->sub != SUB_MONOLITHIC_FLAT) {
		r = finish_sparse(w, &desc, err);
		goto out;
	}
	if (ftruncate(vw->flat_fd, (off_t)(vw->capacity * VMDK_SECTOR)) < 0) {
		r = kvm_error_errno(err, -errno, "%s: cannot set the size of %s", w->path,
				    vw->extent_name);
		goto out;
	}
	r = io_pwrite_all(w->fd, w->path, desc.buf, desc.len, 0, err);
	if (r == 0 && ftruncate(w->fd, (off_t)desc.len) < 0)
		r = kvm_error_errno(err, -errno, "%s: cannot set the size", w->path);
out:
	strbuf_release(&desc);
	return r;
}

void vmdk_writer_free(struct image_writer *w)
{
	struct vmdk_writer *vw = w->priv;

	if (!vw)
		return;
	free(vw->hwversion);
	free(vw->toolsversion);
	free(vw->extent_name);
	free(vw->gd);
	free(vw->scratch);
	free(vw->packed);
	free(vw);
	w->priv = NULL;
}

int vmdk_measure(const struct option_list *opts, uint64_t size, struct kvmi_image *src,
		 bool compress, struct kvmi_measure *m, struct kvm_error *err)
{
	struct vmdk_writer vw = { .flat_fd = -1 };
	uint64_t grain_bytes = GRAIN_SECTORS * VMDK_SECTOR;
	uint64_t allocated = 0, all = (size + grain_bytes - 1) / grain_bytes * grain_bytes;
	struct strbuf desc = STRBUF_INIT;
	int r = parse_options(&vw, "measure", opts, err);

	if (r < 0)
		goto out;
	vw.capacity = (size + VMDK_SECTOR - 1) / VMDK_SECTOR;
	if (src) {
		r = image_count_allocated(src, (uint32_t)grain_bytes, &allocated, err);
		if (r < 0)
			goto out;
	}
	switch (vw.sub) {
	case SUB_MONOLITHIC_FLAT:
		vw.extent_name = xstrdup("disk-flat.vmdk");
		build_descriptor(&vw, &desc);
		m->required = vw.capacity * VMDK_SECTOR + desc.len;
		m->fully_allocated = m->required;
		break;
	case SUB_MONOLITHIC_SPARSE:
		plan_sparse(&vw);
		m->required = vw.overhead * VMDK_SECTOR + allocated;
		m->fully_allocated = vw.overhead * VMDK_SECTOR + all;
		break;
	case SUB_STREAM_OPTIMIZED: {
		/* Compressed sizes are not known before compressing: count each
		 * grain at the most deflate can make of it. */
		uint64_t per_grain = (VMDK_MARKER_HEADER +
				      codec_compress_bound(CODEC_ZLIB, grain_bytes) + VMDK_SECTOR - 1) /
				     VMDK_SECTOR * VMDK_SECTOR;
		uint64_t per_table = (1 + GT_SECTORS) * VMDK_SECTOR;
		uint64_t grains = allocated / grain_bytes, fixed;

		plan_sparse(&vw);
		fixed = (vw.overhead + 1 + vw.gd_sectors + 3) * VMDK_SECTOR;
		m->required = fixed + grains * per_grain +
			      (grains < vw.gt_count ? grains : vw.gt_count) * per_table;
		m->fully_allocated = fixed + all / grain_bytes * per_grain + vw.gt_count * per_table;
		break;
	}
	}
out:
	free(vw.hwversion);
	free(vw.toolsversion);
	free(vw.extent_name);
	strbuf_release(&desc);
	return r;
}
