/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The parts of the qcow2 driver that its files share: on-disk constants
 * (QEMU docs/interop/qcow2.txt), the state of an open image, and the
 * lookups that reading and checking both use.
 */
#ifndef KVMI_QCOW2_H
#define KVMI_QCOW2_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "codec.h"
#include "driver.h"

#define QCOW2_MAGIC "QFI\xfb"
#define QCOW2_V2_HEADER_LENGTH 72
#define QCOW2_V3_HEADER_LENGTH 104
#define QCOW2_HEADER_LENGTH_WITH_COMPRESSION 112
#define QCOW2_MIN_CLUSTER_BITS 9
#define QCOW2_MAX_CLUSTER_BITS 21
#define QCOW2_MIN_EXTENDED_L2_CLUSTER_BITS 14
#define QCOW2_MAX_BACKING_NAME 1023
#define QCOW2_MAX_REFCOUNT_ORDER 6
#define QCOW2_MAX_SNAPSHOTS 65536
#define QCOW2_SUBCLUSTERS 32
#define QCOW2_SECTOR_SIZE 512

#define QCOW2_INCOMPAT_DIRTY (1ull << 0)
#define QCOW2_INCOMPAT_CORRUPT (1ull << 1)
#define QCOW2_INCOMPAT_DATA_FILE (1ull << 2)
#define QCOW2_INCOMPAT_COMPRESSION (1ull << 3)
#define QCOW2_INCOMPAT_EXTENDED_L2 (1ull << 4)
#define QCOW2_INCOMPAT_KNOWN 0x1full

#define QCOW2_COMPAT_LAZY_REFCOUNTS (1ull << 0)
#define QCOW2_AUTOCLEAR_BITMAPS (1ull << 0)
#define QCOW2_AUTOCLEAR_DATA_FILE_RAW (1ull << 1)

#define QCOW2_EXT_END 0
#define QCOW2_EXT_BACKING_FORMAT 0xe2792acau
#define QCOW2_EXT_DATA_FILE 0x44415441u
#define QCOW2_EXT_BITMAPS 0x23852875u

#define QCOW2_COMPRESSION_ZLIB 0
#define QCOW2_COMPRESSION_ZSTD 1

#define QCOW2_OFLAG_COPIED (1ull << 63)
#define QCOW2_OFLAG_COMPRESSED (1ull << 62)
#define QCOW2_OFLAG_ZERO (1ull << 0)
/* Bits 9-55: where L1 entries point to L2 tables and L2 entries to data. */
#define QCOW2_OFFSET_MASK 0x00fffffffffffe00ull
#define QCOW2_L1_RESERVED_MASK 0x7f000000000001ffull
#define QCOW2_REFTABLE_OFFSET_MASK 0xfffffffffffffe00ull

/* The largest tables QEMU itself accepts. */
#define QCOW2_MAX_L1_BYTES (32u << 20)
#define QCOW2_MAX_REFTABLE_BYTES (8u << 20)

/* Budget of the L2 cache of one open image, and its slot counts. */
#define QCOW2_L2_CACHE_BYTES (16u << 20)
#define QCOW2_L2_CACHE_MIN_SLOTS 4
#define QCOW2_L2_CACHE_MAX_SLOTS 64

struct qcow2_l2_slot {
	uint64_t table_offset;	/* 0 when the slot is empty */
	uint64_t last_use;
	uint8_t *table;		/* one cluster, as stored (big endian) */
};

struct qcow2 {
	uint32_t version;
	uint32_t cluster_bits;
	uint32_t cluster_size;
	uint32_t l2_bits;	/* log2 of the entries of one L2 table */
	uint32_t l2_entry_size;	/* 8, or 16 with extended L2 entries */
	uint32_t subcluster_bits;
	uint32_t refcount_order;
	uint32_t header_length;
	uint64_t incompatible;
	uint64_t compatible;
	uint64_t autoclear;
	uint32_t compression_type;
	enum codec codec;
	bool extended_l2;

	/* Compressed cluster descriptors: offset in the low csize_shift bits,
	 * then the count of further 512-byte sectors. */
	uint32_t csize_shift;
	uint64_t csize_mask;
	uint64_t coffset_mask;

	uint64_t l1_offset;
	uint32_t l1_size;	/* the entries the virtual size needs */
	uint32_t l1_disk_size;	/* the entries the header declares */
	uint64_t *l1;		/* host order, l1_size entries */

	uint64_t reftable_offset;
	uint32_t reftable_clusters;

	uint32_t nb_snapshots;
	uint64_t snapshots_offset;

	bool has_bitmaps;

	/* Where the guest data lies: the image itself or its data file. */
	int data_fd;
	char *data_path;
	uint64_t data_size;
	char *data_file_name;	/* as the header extension names it */

	pthread_mutex_t lock;	/* guards the L2 cache */
	struct qcow2_l2_slot *slots;
	unsigned n_slots;
	uint64_t use_clock;
};

/* What one L2 entry (or one subcluster of it) says. */
enum qcow2_kind {
	QCOW2_UNALLOCATED,
	QCOW2_ZERO,
	QCOW2_DATA,
	QCOW2_COMPRESSED,
};

static inline uint64_t qcow2_get_be64(const uint8_t *p)
{
	return (uint64_t)p[0] << 56 | (uint64_t)p[1] << 48 | (uint64_t)p[2] << 40 |
	       (uint64_t)p[3] << 32 | (uint64_t)p[4] << 24 | (uint64_t)p[5] << 16 |
	       (uint64_t)p[6] << 8 | p[7];
}

static inline uint32_t qcow2_get_be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static inline uint16_t qcow2_get_be16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static inline void qcow2_put_be64(uint8_t *p, uint64_t v)
{
	for (int i = 7; i >= 0; i--) {
		p[i] = v & 0xff;
		v >>= 8;
	}
}

static inline void qcow2_put_be32(uint8_t *p, uint32_t v)
{
	for (int i = 3; i >= 0; i--) {
		p[i] = v & 0xff;
		v >>= 8;
	}
}

static inline void qcow2_put_be16(uint8_t *p, uint16_t v)
{
	p[0] = v >> 8;
	p[1] = v & 0xff;
}

/* The clusters a table of BYTES takes, for cluster size 1 << BITS. */
static inline uint64_t qcow2_clusters_of(uint64_t bytes, uint32_t bits)
{
	return (bytes + (1ull << bits) - 1) >> bits;
}

/* Refcount ENTRY of a refcount block of width 1 << ORDER bits. */
uint64_t qcow2_refcount_get(const uint8_t *block, uint64_t entry, uint32_t order);
void qcow2_refcount_set(uint8_t *block, uint64_t entry, uint32_t order, uint64_t value);

/* The file range a compressed L2 entry designates, in whole sectors. */
void qcow2_compressed_range(const struct qcow2 *s, uint64_t l2_entry, uint64_t *offset,
			    uint64_t *length);

int qcow2_check(struct kvmi_image *img, struct kvmi_check_result *result,
		struct kvm_error *err);

extern const struct option_desc qcow2_create_options[];
int qcow2_create(struct image_writer *w, const struct option_list *opts,
		 struct kvm_error *err);
size_t qcow2_compress(struct image_writer *w, const void *in, size_t len, void *out);
int qcow2_write(struct image_writer *w, uint64_t offset, const void *buf, size_t len,
		size_t compressed_len, struct kvm_error *err);
int qcow2_write_zero(struct image_writer *w, uint64_t offset, struct kvm_error *err);
int qcow2_finish(struct image_writer *w, struct kvm_error *err);
void qcow2_writer_free(struct image_writer *w);
int qcow2_measure(const struct option_list *opts, uint64_t size, struct kvmi_image *src,
		  bool compress, struct kvmi_measure *m, struct kvm_error *err);

#endif
