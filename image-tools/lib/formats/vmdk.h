/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * What the files of the VMDK driver share: the text descriptor parser (a
 * self-contained API, fuzzed on its own), the on-disk constants and the
 * state of an open image.
 *
 * Facts from VMware's "Virtual Disk Format 5.0" and, for seSparse, which
 * VMware does not document, from the layout QEMU's block/vmdk.c reads.
 */
#ifndef KVMI_VMDK_H
#define KVMI_VMDK_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "driver.h"
#include "kvm-error.h"

/* ---- The text descriptor ---- */

/* A real disk has one extent per 2 GiB at most (twoGbMaxExtent*), so 4096
 * covers 8 TiB of those; more is a hostile file. */
#define VMDK_MAX_EXTENTS 4096
/* Keys of the disk database kept, so that info cannot be made to grow
 * without bound. */
#define VMDK_MAX_DDB_ENTRIES 1024

enum vmdk_access {
	VMDK_ACCESS_RW,
	VMDK_ACCESS_RDONLY,
	VMDK_ACCESS_NOACCESS,
};

enum vmdk_extent_type {
	VMDK_EXTENT_FLAT,
	VMDK_EXTENT_SPARSE,
	VMDK_EXTENT_ZERO,
	VMDK_EXTENT_VMFS,
	VMDK_EXTENT_VMFSSPARSE,
	VMDK_EXTENT_VMFSRDM,
	VMDK_EXTENT_VMFSRAW,
	VMDK_EXTENT_SESPARSE,
};

struct vmdk_desc_extent {
	enum vmdk_access access;
	enum vmdk_extent_type type;
	uint64_t sectors;
	char *filename;		/* NULL for ZERO */
	uint64_t offset;	/* sectors into the file (FLAT, VMFS) */
};

struct vmdk_ddb_entry {
	char *key;		/* as written, "ddb.adapterType" */
	char *value;		/* unquoted */
};

#define VMDK_CID_NONE 0xffffffffu

struct vmdk_descriptor {
	char *create_type;		/* NULL when absent */
	bool has_cid;
	uint32_t cid;
	uint32_t parent_cid;		/* VMDK_CID_NONE when absent */
	char *parent_hint;		/* parentFileNameHint, or NULL */
	struct vmdk_desc_extent *extents;
	size_t n_extents;
	struct vmdk_ddb_entry *ddb;
	size_t n_ddb;
};

/*
 * Parses LEN bytes of TEXT (it need not be NUL-terminated; parsing stops
 * at the first NUL, as embedded descriptors are padded with them).  Keys
 * are matched in any case, values may be quoted or not, lines may end in
 * CRLF, '#' starts a comment line.  NAME is used in messages.  On error
 * DESC is left empty.
 */
int vmdk_descriptor_parse(const char *text, size_t len, const char *name,
			  struct vmdk_descriptor *desc, struct kvm_error *err);
void vmdk_descriptor_free(struct vmdk_descriptor *desc);
/* The value of a ddb key (any case), or NULL. */
const char *vmdk_descriptor_ddb(const struct vmdk_descriptor *desc, const char *key);
const char *vmdk_extent_type_name(enum vmdk_extent_type type);
const char *vmdk_access_name(enum vmdk_access access);

/* ---- On-disk layout ---- */

#define VMDK_SECTOR 512u

/* Hosted sparse extents ("KDMV") and ESX 2 sparse extents ("COWD"). */
#define VMDK_SPARSE_MAGIC "KDMV"
#define VMDK_COWD_MAGIC "COWD"
#define VMDK_SESPARSE_MAGIC 0x00000000cafebabeull
#define VMDK_SESPARSE_VOLATILE_MAGIC 0x00000000cafecafeull

#define VMDK_FLAG_NL_DETECT (1u << 0)
#define VMDK_FLAG_RGD (1u << 1)
#define VMDK_FLAG_ZERO_GRAIN (1u << 2)
#define VMDK_FLAG_COMPRESSED (1u << 16)
#define VMDK_FLAG_MARKERS (1u << 17)
#define VMDK_COMPRESSION_DEFLATE 1
#define VMDK_GD_AT_END 0xffffffffffffffffull

/* Offsets in the 512-byte SparseExtentHeader (packed, little-endian). */
#define VMDK_HDR_VERSION 4
#define VMDK_HDR_FLAGS 8
#define VMDK_HDR_CAPACITY 12
#define VMDK_HDR_GRAIN_SIZE 20
#define VMDK_HDR_DESC_OFFSET 28
#define VMDK_HDR_DESC_SIZE 36
#define VMDK_HDR_GTES_PER_GT 44
#define VMDK_HDR_RGD_OFFSET 48
#define VMDK_HDR_GD_OFFSET 56
#define VMDK_HDR_OVERHEAD 64
#define VMDK_HDR_UNCLEAN 72
#define VMDK_HDR_NL_CHARS 73	/* '\n', ' ', '\r', '\n' */
#define VMDK_HDR_COMPRESS_ALGO 77

/* Stream-optimized markers: a grain marker is LBA (u64) and compressed
 * size (u32) followed by the data; a metadata marker has size 0, then a
 * type (u32), and fills its sector. */
#define VMDK_MARKER_HEADER 12
enum vmdk_marker_type {
	VMDK_MARKER_EOS = 0,
	VMDK_MARKER_GT = 1,
	VMDK_MARKER_GD = 2,
	VMDK_MARKER_FOOTER = 3,
};

/* Grains: a power of two of sectors, at most this many bytes. */
#define VMDK_MAX_GRAIN_BYTES (16u << 20)
/* Entries of one grain table: 512 in every hosted file, 4096 in COWD and
 * seSparse files; anything up to this is read. */
#define VMDK_MAX_GTES_PER_GT 65536u

static inline uint32_t vmdk_le32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
	       (uint32_t)p[3] << 24;
}

static inline uint64_t vmdk_le64(const uint8_t *p)
{
	return (uint64_t)vmdk_le32(p) | (uint64_t)vmdk_le32(p + 4) << 32;
}

static inline void vmdk_put_le32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
	p[2] = (uint8_t)(v >> 16);
	p[3] = (uint8_t)(v >> 24);
}

static inline void vmdk_put_le64(uint8_t *p, uint64_t v)
{
	vmdk_put_le32(p, (uint32_t)v);
	vmdk_put_le32(p + 4, (uint32_t)(v >> 32));
}

/* ---- An open image ---- */

enum vmdk_sparse_kind {
	VMDK_SPARSE_HOSTED,	/* "KDMV" */
	VMDK_SPARSE_COWD,	/* ESX 2 / vmfsSparse */
	VMDK_SPARSE_SE,		/* seSparse */
};

struct vmdk_extent {
	enum vmdk_extent_type type;
	enum vmdk_access access;
	uint64_t start;		/* guest bytes before this extent */
	uint64_t length;	/* guest bytes */
	char *name;		/* as the descriptor names it */
	char *path;		/* the file, as opened; NULL when none */
	int fd;			/* -1 when none */
	bool own_fd;
	uint64_t file_size;
	uint64_t flat_offset;	/* bytes into the file */

	/* Sparse extents. */
	bool sparse;
	enum vmdk_sparse_kind kind;
	uint32_t version;
	uint32_t flags;
	bool compressed;
	bool markers;
	bool zero_grain;
	uint64_t capacity;	/* sectors, as the sparse header says */
	uint64_t grain_bytes;
	uint32_t gtes_per_gt;
	uint32_t gte_size;	/* 4, or 8 for seSparse */
	uint64_t gt_bytes;
	uint64_t gd_offset;	/* bytes */
	uint64_t gd_entries;
	uint64_t *gd;		/* byte offset of each grain table; 0: none */
	/* A bit for each grain table read and found to hold no grain, so that
	 * walking the disk again skips it as if it were not there. */
	uint8_t *empty_gts;
	uint64_t overhead;	/* bytes of metadata before the first grain */
	uint64_t se_grains_offset;	/* bytes, seSparse */
	uint64_t se_grain_tables_offset;
	uint64_t se_grain_tables_size;
};

/* Grain tables are loaded on demand into a cache of between these many
 * slots per image (vmdk_gt_cache_size() chooses). */
#define VMDK_GT_CACHE_SLOTS 64
#define VMDK_GT_CACHE_MIN_SLOTS 4

struct vmdk_gt_slot {
	const struct vmdk_extent *ext;	/* NULL: empty */
	uint64_t gt_index;
	uint64_t last_use;
	uint8_t *table;
};

struct vmdk_image {
	struct vmdk_descriptor desc;	/* empty when the image has none */
	char *create_type;
	bool has_cid;
	uint32_t cid;
	uint32_t parent_cid;
	bool dirty;
	struct vmdk_extent *extents;
	size_t n_extents;

	pthread_mutex_t cache_lock;
	uint64_t cache_clock;
	unsigned n_slots;	/* of slots[] in use, from vmdk_gt_cache_size() */
	struct vmdk_gt_slot slots[VMDK_GT_CACHE_SLOTS];
};

enum vmdk_grain_kind {
	VMDK_GRAIN_UNALLOCATED,
	VMDK_GRAIN_ZERO,
	VMDK_GRAIN_DATA,
};

struct vmdk_grain {
	enum vmdk_grain_kind kind;
	uint64_t file_offset;	/* DATA: bytes (a compressed grain's marker) */
	/* Guest bytes from the offset asked that read the same way: the rest
	 * of the grain, or of a whole grain table that does not exist. */
	uint64_t length;
};

/* vmdk-sparse.c: opening sparse extent files and looking grains up. */

/* Reads the header of a sparse extent in EXT->fd (any of the three
 * kinds, told by its magic) and its grain directory. */
int vmdk_sparse_open(struct kvmi_image *img, struct vmdk_extent *ext, struct kvm_error *err);
/* Chooses how many grain tables VI caches, against the chain's budget. */
int vmdk_gt_cache_size(struct kvmi_image *img, struct vmdk_image *vi, struct kvm_error *err);
/* The header fields of a hosted sparse file, the footer's when the grain
 * directory is at the end; descriptor offset and size in *desc_*. */
int vmdk_sparse_read_descriptor_location(const struct vmdk_extent *ext, uint64_t *desc_offset,
					 uint64_t *desc_size, struct kvm_error *err);
/* Looks the grain at OFFSET (bytes into the extent) up; thread-safe. */
int vmdk_sparse_lookup(struct vmdk_image *vi, const struct vmdk_extent *ext, uint64_t offset,
		       struct vmdk_grain *grain, struct kvm_error *err);
/* Looks up the grain at OFFSET and sets its length to that of the run of
 * grains after it that read the same way, at most MAX_LENGTH bytes and
 * MAX_GRAINS grains. */
int vmdk_sparse_run(struct vmdk_image *vi, const struct vmdk_extent *ext, uint64_t offset,
		    uint64_t max_length, uint64_t max_grains, struct vmdk_grain *first,
		    struct kvm_error *err);
/* Reads LEN bytes at OFFSET into the extent; GUEST_OFFSET names it in
 * messages and reaches the backing file for unallocated grains. */
int vmdk_sparse_read(struct kvmi_image *img, const struct vmdk_extent *ext, void *buf,
		     size_t len, uint64_t offset, uint64_t guest_offset, struct kvm_error *err);
/* Counts corruptions of the grain tables of EXT into RESULT. */
int vmdk_sparse_check(const struct vmdk_extent *ext, struct kvmi_check_result *result,
		      struct kvm_error *err);
void vmdk_gt_cache_drop(struct vmdk_image *vi);

/* vmdk-write.c */
extern const struct option_desc vmdk_create_options[];
int vmdk_create(struct image_writer *w, const struct option_list *opts, struct kvm_error *err);
size_t vmdk_compress(struct image_writer *w, const void *in, size_t len, void *out);
int vmdk_write(struct image_writer *w, uint64_t offset, const void *buf, size_t len,
	       size_t compressed_len, struct kvm_error *err);
int vmdk_finish(struct image_writer *w, struct kvm_error *err);
void vmdk_writer_free(struct image_writer *w);
int vmdk_measure(const struct option_list *opts, uint64_t size, struct kvmi_image *src,
		 bool compress, struct kvmi_measure *m, struct kvm_error *err);

#endif
