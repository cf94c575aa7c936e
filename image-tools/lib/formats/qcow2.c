/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * qcow2 images, versions 2 and 3 (QEMU docs/interop/qcow2.txt): opening,
 * reading and block status.  Checking is in qcow2-check.c, writing in
 * qcow2-write.c.
 *
 * Guest offsets map through a two-level table: the L1 table, loaded whole
 * (QEMU caps it at 32 MiB), points at L2 tables of one cluster each, read
 * on demand through a small cache shared by the reading threads.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "json-out.h"
#include "qcow2.h"
#include "xalloc.h"

/* A run of guest bytes that reads one way. */
struct qcow2_run {
	enum qcow2_kind kind;
	uint64_t length;
	uint64_t host_offset;	/* QCOW2_DATA: of the first byte */
	uint64_t l2_entry;	/* QCOW2_COMPRESSED: the descriptor */
};

static int qcow2_probe(const uint8_t *head, size_t len, const char *path)
{
	return len >= 4 && memcmp(head, QCOW2_MAGIC, 4) == 0 ? 100 : 0;
}

uint64_t qcow2_refcount_get(const uint8_t *block, uint64_t entry, uint32_t order)
{
	switch (order) {
	case 0:
		return (block[entry / 8] >> (entry % 8)) & 0x1;
	case 1:
		return (block[entry / 4] >> (2 * (entry % 4))) & 0x3;
	case 2:
		return (block[entry / 2] >> (4 * (entry % 2))) & 0xf;
	case 3:
		return block[entry];
	case 4:
		return qcow2_get_be16(block + 2 * entry);
	case 5:
		return qcow2_get_be32(block + 4 * entry);
	default:
		return qcow2_get_be64(block + 8 * entry);
	}
}

void qcow2_refcount_set(uint8_t *block, uint64_t entry, uint32_t order, uint64_t value)
{
	unsigned shift;
	uint8_t mask;

	switch (order) {
	case 0:
	case 1:
	case 2:
		/* Narrow refcounts share a byte, the first in the low bits. */
		shift = (1u << order) * (entry % (8u >> order));
		mask = (uint8_t)(((1u << (1u << order)) - 1) << shift);
		block[entry >> (3 - order)] = (uint8_t)((block[entry >> (3 - order)] & ~mask) |
							((value << shift) & mask));
		break;
	case 3:
		block[entry] = (uint8_t)value;
		break;
	case 4:
		qcow2_put_be16(block + 2 * entry, (uint16_t)value);
		break;
	case 5:
		qcow2_put_be32(block + 4 * entry, (uint32_t)value);
		break;
	default:
		qcow2_put_be64(block + 8 * entry, value);
		break;
	}
}

void qcow2_compressed_range(const struct qcow2 *s, uint64_t l2_entry, uint64_t *offset,
			    uint64_t *length)
{
	uint64_t sectors = ((l2_entry >> s->csize_shift) & s->csize_mask) + 1;

	*offset = l2_entry & s->coffset_mask;
	*length = sectors * QCOW2_SECTOR_SIZE - (*offset & (QCOW2_SECTOR_SIZE - 1));
}

static void qcow2_free(struct qcow2 *s)
{
	if (!s)
		return;
	for (unsigned i = 0; i < s->n_slots; i++)
		free(s->slots[i].table);
	free(s->slots);
	free(s->l1);
	if (s->data_path && s->data_fd >= 0)
		close(s->data_fd);
	free(s->data_path);
	free(s->data_file_name);
	pthread_mutex_destroy(&s->lock);
	free(s);
}

static void qcow2_close(struct kvmi_image *img)
{
	qcow2_free(img->priv);
	img->priv = NULL;
}

/* A string from a header extension or the backing name field. */
static int header_string(struct kvmi_image *img, const uint8_t *p, size_t len,
			 const char *what, char **out, struct kvm_error *err)
{
	if (len > QCOW2_MAX_BACKING_NAME)
		return kvm_error_set(err, -EINVAL, "%s: %s name is longer than %d bytes",
				     img->path, what, QCOW2_MAX_BACKING_NAME);
	if (memchr(p, '\0', len))
		return kvm_error_set(err, -EINVAL, "%s: %s name contains a NUL byte", img->path,
				     what);
	/* QEMU reads an empty name as no name at all. */
	if (len == 0)
		return 0;
	free(*out);
	*out = xstrndup((const char *)p, len);
	return 0;
}

/* Walks the header extensions in AREA[START, END). */
static int parse_extensions(struct kvmi_image *img, struct qcow2 *s, const uint8_t *area,
			    uint64_t start, uint64_t end, struct kvm_error *err)
{
	uint64_t pos = start;
	int r;

	while (pos + 8 <= end) {
		uint32_t type = qcow2_get_be32(area + pos);
		uint32_t len = qcow2_get_be32(area + pos + 4);

		if (type == QCOW2_EXT_END)
			return 0;
		pos += 8;
		if (len > end - pos)
			return kvm_error_set(err, -EINVAL,
					     "%s: header extension 0x%08x is longer than the header cluster",
					     img->path, type);
		switch (type) {
		case QCOW2_EXT_BACKING_FORMAT:
			r = header_string(img, area + pos, len, "backing format",
					  &img->backing_format, err);
			if (r < 0)
				return r;
			break;
		case QCOW2_EXT_DATA_FILE:
			r = header_string(img, area + pos, len, "data file", &s->data_file_name,
					  err);
			if (r < 0)
				return r;
			break;
		case QCOW2_EXT_BITMAPS:
			s->has_bitmaps = true;
			break;
		default:
			/* Feature names, encryption headers and the like do not
			 * change how the data reads. */
			break;
		}
		pos += ((uint64_t)len + 7) & ~7ull;
	}
	return 0;
}

static int parse_header(struct kvmi_image *img, struct qcow2 *s, const uint8_t *h,
			size_t avail, struct kvm_error *err)
{
	uint32_t crypt_method;

	if (memcmp(h, QCOW2_MAGIC, 4) != 0)
		return kvm_error_set(err, -EINVAL, "%s: not a qcow2 image (bad magic)", img->path);
	s->version = qcow2_get_be32(h + 4);
	if (s->version != 2 && s->version != 3)
		return kvm_error_set(err, -ENOTSUP, "%s: qcow2 version %" PRIu32 " is not supported",
				     img->path, s->version);
	s->cluster_bits = qcow2_get_be32(h + 20);
	if (s->cluster_bits < QCOW2_MIN_CLUSTER_BITS || s->cluster_bits > QCOW2_MAX_CLUSTER_BITS)
		return kvm_error_set(err, -EINVAL,
				     "%s: cluster_bits %" PRIu32 " is out of range (%d to %d)",
				     img->path, s->cluster_bits, QCOW2_MIN_CLUSTER_BITS,
				     QCOW2_MAX_CLUSTER_BITS);
	s->cluster_size = 1u << s->cluster_bits;
	img->size = qcow2_get_be64(h + 24);
	if (img->size > IMAGE_MAX_VIRTUAL_SIZE)
		return kvm_error_set(err, -EFBIG, "%s: virtual size %" PRIu64 " is absurd",
				     img->path, img->size);
	crypt_method = qcow2_get_be32(h + 32);
	if (crypt_method != 0)
		return kvm_error_set(err, -ENOTSUP, "%s: encrypted images are not supported",
				     img->path);
	s->l1_size = qcow2_get_be32(h + 36);
	s->l1_offset = qcow2_get_be64(h + 40);
	s->reftable_offset = qcow2_get_be64(h + 48);
	s->reftable_clusters = qcow2_get_be32(h + 56);
	s->nb_snapshots = qcow2_get_be32(h + 60);
	s->snapshots_offset = qcow2_get_be64(h + 64);

	if (s->version == 2) {
		s->header_length = QCOW2_V2_HEADER_LENGTH;
		s->refcount_order = 4;
		return 0;
	}
	if (avail < QCOW2_V3_HEADER_LENGTH)
		return kvm_error_set(err, -EINVAL, "%s: the qcow2 header is truncated", img->path);
	s->incompatible = qcow2_get_be64(h + 72);
	s->compatible = qcow2_get_be64(h + 80);
	s->autoclear = qcow2_get_be64(h + 88);
	s->refcount_order = qcow2_get_be32(h + 96);
	s->header_length = qcow2_get_be32(h + 100);
	if (s->header_length < QCOW2_V3_HEADER_LENGTH || s->header_length > s->cluster_size)
		return kvm_error_set(err, -EINVAL, "%s: header length %" PRIu32 " is invalid",
				     img->path, s->header_length);
	if (s->header_length > avail)
		return kvm_error_set(err, -EINVAL, "%s: the qcow2 header is truncated", img->path);
	if (s->incompatible & ~QCOW2_INCOMPAT_KNOWN)
		return kvm_error_set(err, -ENOTSUP,
				     "%s: unsupported qcow2 feature (incompatible feature bits 0x%" PRIx64 ")",
				     img->path, (uint64_t)(s->incompatible & ~QCOW2_INCOMPAT_KNOWN));
	if (s->refcount_order > QCOW2_MAX_REFCOUNT_ORDER)
		return kvm_error_set(err, -EINVAL, "%s: refcount order %" PRIu32 " is invalid",
				     img->path, s->refcount_order);
	if (s->header_length > 104)
		s->compression_type = h[104];
	if (s->compression_type != QCOW2_COMPRESSION_ZLIB &&
	    !(s->incompatible & QCOW2_INCOMPAT_COMPRESSION))
		return kvm_error_set(err, -EINVAL,
				     "%s: compression type %" PRIu32 " without its feature bit",
				     img->path, s->compression_type);
	if (s->incompatible & QCOW2_INCOMPAT_COMPRESSION &&
	    s->compression_type == QCOW2_COMPRESSION_ZLIB)
		return kvm_error_set(err, -EINVAL,
				     "%s: the compression type feature bit is set for zlib",
				     img->path);
	if (s->compression_type > QCOW2_COMPRESSION_ZSTD)
		return kvm_error_set(err, -ENOTSUP, "%s: unknown compression type %" PRIu32,
				     img->path, s->compression_type);
	s->extended_l2 = s->incompatible & QCOW2_INCOMPAT_EXTENDED_L2;
	if (s->extended_l2 && s->cluster_bits < QCOW2_MIN_EXTENDED_L2_CLUSTER_BITS)
		return kvm_error_set(err, -EINVAL,
				     "%s: extended L2 entries need clusters of at least 16 KiB",
				     img->path);
	return 0;
}

/* Checks that a table of BYTES at OFFSET lies within the file. */
static int check_table(struct kvmi_image *img, const struct qcow2 *s, const char *what,
		       uint64_t offset, uint64_t bytes, uint64_t cap, struct kvm_error *err)
{
	if (bytes > cap)
		return kvm_error_set(err, -EFBIG, "%s: %s of %" PRIu64 " bytes is too large",
				     img->path, what, bytes);
	if (offset & (s->cluster_size - 1))
		return kvm_error_set(err, -EINVAL, "%s: %s offset 0x%" PRIx64 " is not aligned",
				     img->path, what, offset);
	if (offset > img->file_size || bytes > img->file_size - offset)
		return kvm_error_set(err, -EINVAL, "%s: %s is past the end of the file",
				     img->path, what);
	return 0;
}

/*
 * Layers deeper in a chain are read less (only where every layer above is
 * unallocated), so each gets half the cache of the one above it, and the
 * least that works when the chain's budget is nearly spent.
 */
static int size_l2_cache(struct kvmi_image *img, struct qcow2 *s, struct kvm_error *err)
{
	unsigned shift = img->depth < 16 ? (unsigned)img->depth : 16;

	s->n_slots = (QCOW2_L2_CACHE_BYTES >> shift) >> s->cluster_bits;
	if (s->n_slots < QCOW2_L2_CACHE_MIN_SLOTS)
		s->n_slots = QCOW2_L2_CACHE_MIN_SLOTS;
	if (s->n_slots > QCOW2_L2_CACHE_MAX_SLOTS)
		s->n_slots = QCOW2_L2_CACHE_MAX_SLOTS;
	if (image_charge_metadata(img, (uint64_t)s->n_slots << s->cluster_bits, "L2 cache",
				  NULL) == 0)
		return 0;
	s->n_slots = QCOW2_L2_CACHE_MIN_SLOTS;
	return image_charge_metadata(img, (uint64_t)s->n_slots << s->cluster_bits, "L2 cache",
				     err);
}

static int load_l1(struct kvmi_image *img, struct qcow2 *s, struct kvm_error *err)
{
	uint64_t guest_clusters = qcow2_clusters_of(img->size, s->cluster_bits);
	uint64_t needed = (guest_clusters + (1ull << s->l2_bits) - 1) >> s->l2_bits;
	uint64_t bytes = (uint64_t)s->l1_size * 8;
	int r;

	if (s->l1_size < needed)
		return kvm_error_set(err, -EINVAL,
				     "%s: L1 table of %" PRIu32 " entries is too small for the virtual size",
				     img->path, s->l1_size);
	r = check_table(img, s, "L1 table", s->l1_offset, bytes, QCOW2_MAX_L1_BYTES, err);
	if (r < 0)
		return r;
	/* Entries past what the virtual size needs are never looked at. */
	s->l1_disk_size = s->l1_size;
	s->l1_size = (uint32_t)needed;
	bytes = needed * 8;
	r = image_charge_metadata(img, bytes, "L1 table", err);
	if (r < 0)
		return r;
	s->l1 = malloc(bytes ? bytes : 1);
	if (!s->l1)
		return kvm_error_set(err, -ENOMEM, "%s: no memory for the L1 table", img->path);
	r = io_pread_exact(img->fd, img->path, s->l1, bytes, s->l1_offset, err);
	if (r < 0)
		return r;
	for (uint64_t i = 0; i < needed; i++)
		s->l1[i] = qcow2_get_be64((const uint8_t *)&s->l1[i]);
	return 0;
}

static bool ranges_overlap(uint64_t a, uint64_t a_len, uint64_t b, uint64_t b_len)
{
	return a < b + b_len && b < a + a_len;
}

static int compare_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

/*
 * Checks every L2 table the L1 table names, once, at open (offset 0, the
 * header's, means none).  A table that two L1 entries share, or that is
 * the L1 or refcount table, lets a small file map a disk whose reading
 * takes time out of all proportion to the file's size; no valid image
 * has one.
 */
static int check_l2_tables(struct kvmi_image *img, struct qcow2 *s, struct kvm_error *err)
{
	uint64_t reftable_bytes = (uint64_t)s->reftable_clusters << s->cluster_bits;
	uint64_t *tables = malloc(((size_t)s->l1_size ? s->l1_size : 1) * sizeof(*tables));
	size_t n = 0;
	int r = 0;

	if (!tables)
		return kvm_error_set(err, -ENOMEM, "%s: no memory to check the L1 table", img->path);
	for (uint32_t i = 0; i < s->l1_size && r == 0; i++) {
		uint64_t table = s->l1[i] & QCOW2_OFFSET_MASK;

		if (table == 0)
			continue;
		if (table & (s->cluster_size - 1))
			r = kvm_error_set(err, -EINVAL, "%s: L2 table offset 0x%" PRIx64 " is not aligned",
					  img->path, table);
		else if (table > img->file_size || s->cluster_size > img->file_size - table)
			r = kvm_error_set(err, -EINVAL,
					  "%s: L2 table offset 0x%" PRIx64 " is past the end of the file",
					  img->path, table);
		else if (ranges_overlap(table, s->cluster_size, s->l1_offset,
					(uint64_t)s->l1_disk_size * 8))
			r = kvm_error_set(err, -EINVAL,
					  "%s: L2 table offset 0x%" PRIx64 " overlaps the L1 table",
					  img->path, table);
		else if (ranges_overlap(table, s->cluster_size, s->reftable_offset, reftable_bytes))
			r = kvm_error_set(err, -EINVAL,
					  "%s: L2 table offset 0x%" PRIx64 " overlaps the refcount table",
					  img->path, table);
		tables[n++] = table;
	}
	if (r == 0) {
		qsort(tables, n, sizeof(*tables), compare_u64);
		for (size_t i = 1; i < n && r == 0; i++)
			if (tables[i] == tables[i - 1])
				r = kvm_error_set(err, -EINVAL,
						  "%s: L2 table at 0x%" PRIx64 " serves more than one L1 entry",
						  img->path, tables[i]);
	}
	free(tables);
	return r;
}

static int open_data_file(struct kvmi_image *img, struct qcow2 *s, struct kvm_error *err)
{
	struct stat st;
	int fd;

	if (!(s->incompatible & QCOW2_INCOMPAT_DATA_FILE)) {
		s->data_fd = img->fd;
		s->data_size = img->file_size;
		return 0;
	}
	if (!s->data_file_name)
		return kvm_error_set(err, -EINVAL, "%s: the external data file is not named",
				     img->path);
	fd = image_open_named(img, s->data_file_name, &s->data_path, err);
	if (fd < 0)
		return fd;
	s->data_fd = fd;
	if (fstat(fd, &st) < 0)
		return kvm_error_errno(err, -errno, "%s", s->data_path);
	if (!S_ISREG(st.st_mode))
		return kvm_error_set(err, -EINVAL, "%s: data file %s is not a regular file",
				     img->path, s->data_path);
	s->data_size = (uint64_t)st.st_size;
	return 0;
}

static int qcow2_open(struct kvmi_image *img, struct kvm_error *err)
{
	struct qcow2 *s = xcalloc(1, sizeof(*s));
	uint64_t area_len, ext_end, backing_offset;
	uint32_t backing_len;
	uint8_t *area = NULL;
	int r;

	pthread_mutex_init(&s->lock, NULL);
	s->data_fd = -1;
	if (img->file_size < QCOW2_V2_HEADER_LENGTH) {
		r = kvm_error_set(err, -EINVAL, "%s: the qcow2 header is truncated", img->path);
		goto fail;
	}
	/* The header, its extensions and the backing name all lie in the
	 * first cluster, which is at most 2 MiB. */
	area_len = img->file_size < (1u << QCOW2_MAX_CLUSTER_BITS) ? img->file_size
								    : (1u << QCOW2_MAX_CLUSTER_BITS);
	area = malloc(area_len);
	if (!area) {
		r = kvm_error_set(err, -ENOMEM, "%s: no memory for the header", img->path);
		goto fail;
	}
	r = io_pread_exact(img->fd, img->path, area, area_len, 0, err);
	if (r < 0)
		goto fail;
	r = parse_header(img, s, area, area_len, err);
	if (r < 0)
		goto fail;
	if (area_len > s->cluster_size)
		area_len = s->cluster_size;

	s->l2_entry_size = s->extended_l2 ? 16 : 8;
	s->l2_bits = s->cluster_bits - (s->extended_l2 ? 4 : 3);
	s->subcluster_bits = s->cluster_bits - (s->extended_l2 ? 5 : 0);
	s->csize_shift = 62 - (s->cluster_bits - 8);
	s->csize_mask = (1ull << (s->cluster_bits - 8)) - 1;
	s->coffset_mask = (1ull << s->csize_shift) - 1;
	s->codec = s->compression_type == QCOW2_COMPRESSION_ZSTD ? CODEC_ZSTD : CODEC_DEFLATE;
	img->cluster_size = s->cluster_size;

	backing_offset = qcow2_get_be64(area + 8);
	backing_len = qcow2_get_be32(area + 16);
	ext_end = area_len;
	if (backing_offset) {
		if (backing_offset >= area_len || backing_len > area_len - backing_offset) {
			r = kvm_error_set(err, -EINVAL,
					  "%s: the backing file name lies outside the header cluster",
					  img->path);
			goto fail;
		}
		r = header_string(img, area + backing_offset, backing_len, "backing file",
				  &img->backing_name, err);
		if (r < 0)
			goto fail;
		if (backing_offset < ext_end)
			ext_end = backing_offset;
	}
	if (ext_end > s->header_length) {
		r = parse_extensions(img, s, area, s->header_length, ext_end, err);
		if (r < 0)
			goto fail;
	}
	if (!img->backing_name) {
		free(img->backing_format);
		img->backing_format = NULL;
	}

	r = load_l1(img, s, err);
	if (r < 0)
		goto fail;
	r = check_table(img, s, "refcount table", s->reftable_offset,
			(uint64_t)s->reftable_clusters << s->cluster_bits,
			QCOW2_MAX_REFTABLE_BYTES, err);
	if (r < 0)
		goto fail;
	r = check_l2_tables(img, s, err);
	if (r < 0)
		goto fail;
	if (s->nb_snapshots > QCOW2_MAX_SNAPSHOTS) {
		r = kvm_error_set(err, -EINVAL, "%s: %" PRIu32 " snapshots is absurd", img->path,
				  s->nb_snapshots);
		goto fail;
	}
	if (s->nb_snapshots) {
		r = check_table(img, s, "snapshot table", s->snapshots_offset, 0,
				QCOW2_MAX_L1_BYTES, err);
		if (r < 0)
			goto fail;
	}
	r = open_data_file(img, s, err);
	if (r < 0)
		goto fail;

	r = size_l2_cache(img, s, err);
	if (r < 0)
		goto fail;
	s->slots = xcalloc(s->n_slots, sizeof(*s->slots));
	free(area);
	img->priv = s;
	return 0;
fail:
	free(area);
	qcow2_free(s);
	img->priv = NULL;
	return r;
}

/*
 * The cached copy of the L2 table at TABLE_OFFSET.  Called with s->lock
 * held; the table stays valid until the lock is dropped.
 */
static int l2_table_locked(struct kvmi_image *img, struct qcow2 *s, uint64_t table_offset,
			   const uint8_t **table, struct kvm_error *err)
{
	struct qcow2_l2_slot *victim = &s->slots[0];
	int r;

	for (unsigned i = 0; i < s->n_slots; i++) {
		struct qcow2_l2_slot *slot = &s->slots[i];

		if (slot->table_offset == table_offset) {
			slot->last_use = ++s->use_clock;
			*table = slot->table;
			return 0;
		}
		if (slot->last_use < victim->last_use)
			victim = slot;
	}
	if (!victim->table) {
		victim->table = malloc(s->cluster_size);
		if (!victim->table)
			return kvm_error_set(err, -ENOMEM, "%s: no memory for an L2 table",
					     img->path);
	}
	victim->table_offset = 0;
	victim->last_use = 0;
	r = io_pread_exact(img->fd, img->path, victim->table, s->cluster_size, table_offset,
			   err);
	if (r < 0)
		return r;
	victim->table_offset = table_offset;
	victim->last_use = ++s->use_clock;
	*table = victim->table;
	return 0;
}

/* What the unit (cluster, or subcluster with extended L2 entries) holding
 * guest offset POS says; TABLE is its L2 table. */
static int classify(struct kvmi_image *img, const struct qcow2 *s, const uint8_t *table,
		    uint64_t pos, struct qcow2_run *unit, struct kvm_error *err)
{
	uint64_t index = (pos >> s->cluster_bits) & ((1ull << s->l2_bits) - 1);
	const uint8_t *p = table + index * s->l2_entry_size;
	uint64_t entry = qcow2_get_be64(p);
	uint64_t cluster_start = pos & ~(uint64_t)(s->cluster_size - 1);
	uint64_t host = entry & QCOW2_OFFSET_MASK;
	bool external = s->data_path != NULL;

	unit->l2_entry = entry;
	unit->host_offset = 0;
	if (entry & QCOW2_OFLAG_COMPRESSED) {
		if (external)
			return kvm_error_set(err, -EINVAL,
					     "%s: compressed cluster at guest offset 0x%" PRIx64 " in an image with a data file",
					     img->path, cluster_start);
		unit->kind = QCOW2_COMPRESSED;
		unit->length = s->cluster_size - (pos - cluster_start);
		return 0;
	}
	if (s->extended_l2) {
		uint64_t bitmap = qcow2_get_be64(p + 8);
		unsigned sc = (pos >> s->subcluster_bits) & (QCOW2_SUBCLUSTERS - 1);
		bool alloc = (bitmap >> sc) & 1, zero = (bitmap >> (32 + sc)) & 1;

		unit->length = (1ull << s->subcluster_bits) - (pos & ((1ull << s->subcluster_bits) - 1));
		if (alloc && zero)
			return kvm_error_set(err, -EINVAL,
					     "%s: subcluster at guest offset 0x%" PRIx64 " is both allocated and zero",
					     img->path, pos);
		if (zero || !alloc) {
			unit->kind = zero ? QCOW2_ZERO : QCOW2_UNALLOCATED;
			return 0;
		}
		if (host == 0 && !(external && entry & QCOW2_OFLAG_COPIED))
			return kvm_error_set(err, -EINVAL,
					     "%s: subcluster at guest offset 0x%" PRIx64 " is allocated in an unallocated cluster",
					     img->path, pos);
	} else {
		unit->length = s->cluster_size - (pos - cluster_start);
		if (entry & QCOW2_OFLAG_ZERO) {
			unit->kind = QCOW2_ZERO;
			return 0;
		}
		if (host == 0 && !(external && entry & QCOW2_OFLAG_COPIED)) {
			unit->kind = QCOW2_UNALLOCATED;
			return 0;
		}
	}
	if (host & (s->cluster_size - 1))
		return kvm_error_set(err, -EINVAL,
				     "%s: cluster at guest offset 0x%" PRIx64 " has an unaligned offset 0x%" PRIx64,
				     img->path, cluster_start, host);
	if (host >= s->data_size)
		return kvm_error_set(err, -EINVAL,
				     "%s: cluster at guest offset 0x%" PRIx64 " points past the end of the file",
				     img->path, cluster_start);
	unit->kind = QCOW2_DATA;
	unit->host_offset = host + (pos - cluster_start);
	return 0;
}

/*
 * Describes the run at OFFSET, up to MAX_LENGTH bytes (offset + max_length
 * <= img->size), never past the end of one L2 table.  Compressed clusters
 * are gathered into one run only when MERGE_COMPRESSED, as reading needs
 * them one by one.
 */
static int qcow2_map(struct kvmi_image *img, uint64_t offset, uint64_t max_length,
		     bool merge_compressed, struct qcow2_run *run, struct kvm_error *err)
{
	struct qcow2 *s = img->priv;
	uint64_t l1_index = offset >> (s->cluster_bits + s->l2_bits);
	uint64_t table_end = (l1_index + 1) << (s->cluster_bits + s->l2_bits);
	uint64_t end = offset + max_length, table_offset, pos;
	const uint8_t *table = NULL;
	int r;

	if (end > table_end)
		end = table_end;
	if (l1_index >= s->l1_size)
		return kvm_error_set(err, -EINVAL, "%s: guest offset 0x%" PRIx64 " has no L1 entry",
				     img->path, offset);
	table_offset = s->l1[l1_index] & QCOW2_OFFSET_MASK;
	if (table_offset == 0) {
		run->kind = QCOW2_UNALLOCATED;
		run->length = end - offset;
		return 0;
	}
	/* check_l2_tables() has vetted every table at open. */
	pthread_mutex_lock(&s->lock);
	r = l2_table_locked(img, s, table_offset, &table, err);
	if (r < 0)
		goto out;
	r = classify(img, s, table, offset, run, err);
	if (r < 0)
		goto out;
	pos = offset + run->length;
	if (run->kind == QCOW2_COMPRESSED && !merge_compressed)
		goto out;
	while (pos < end) {
		struct qcow2_run next;
		struct kvm_error ignored;

		/* A unit that does not map is left for its own call to report. */
		if (classify(img, s, table, pos, &next, &ignored) < 0 || next.kind != run->kind)
			break;
		if (run->kind == QCOW2_DATA &&
		    next.host_offset != run->host_offset + (pos - offset))
			break;
		run->length += next.length;
		pos += next.length;
	}
out:
	pthread_mutex_unlock(&s->lock);
	if (r == 0 && run->length > end - offset)
		run->length = end - offset;
	return r;
}

static int read_compressed(struct kvmi_image *img, struct qcow2 *s, uint64_t l2_entry,
			   uint64_t guest_cluster, uint8_t **bufs, struct kvm_error *err)
{
	uint64_t coffset, clen;
	int r;

	qcow2_compressed_range(s, l2_entry, &coffset, &clen);
	if (coffset >= img->file_size)
		return kvm_error_set(err, -EINVAL,
				     "%s: compressed cluster at guest offset 0x%" PRIx64 " points past the end of the file",
				     img->path, guest_cluster);
	/* The last sector of an image may be cut short. */
	if (clen > img->file_size - coffset)
		clen = img->file_size - coffset;
	if (!bufs[0]) {
		/* The descriptor counts at most 2 clusters' worth of sectors. */
		bufs[0] = malloc(2 * (size_t)s->cluster_size);
		bufs[1] = malloc(s->cluster_size);
		if (!bufs[0] || !bufs[1])
			return kvm_error_set(err, -ENOMEM, "%s: no memory to decompress a cluster",
					     img->path);
	}
	r = io_pread_exact(img->fd, img->path, bufs[0], clen, coffset, err);
	if (r < 0)
		return r;
	if (codec_decompress(s->codec, bufs[0], clen, bufs[1], s->cluster_size) < 0)
		return kvm_error_set(err, -EIO,
				     "%s: compressed cluster at guest offset 0x%" PRIx64 " does not decompress",
				     img->path, guest_cluster);
	return 0;
}

static int qcow2_read(struct kvmi_image *img, void *buf, size_t len, uint64_t offset,
		      struct kvm_error *err)
{
	struct qcow2 *s = img->priv;
	uint8_t *out = buf;
	uint8_t *bufs[2] = { NULL, NULL };
	int r = 0;

	while (len > 0) {
		struct qcow2_run run;
		size_t n;
		uint64_t in_file;

		r = qcow2_map(img, offset, len, false, &run, err);
		if (r < 0)
			break;
		n = (size_t)run.length;
		switch (run.kind) {
		case QCOW2_UNALLOCATED:
			r = image_read_backing(img, out, n, offset, err);
			break;
		case QCOW2_ZERO:
			memset(out, 0, n);
			break;
		case QCOW2_DATA:
			/* A file cut short within its last cluster reads as
			 * zeros there, as QEMU reads it. */
			in_file = s->data_size - run.host_offset;
			if (in_file > n)
				in_file = n;
			r = io_pread_exact(s->data_fd, s->data_path ? s->data_path : img->path, out,
					   (size_t)in_file, run.host_offset, err);
			memset(out + in_file, 0, n - in_file);
			break;
		case QCOW2_COMPRESSED:
			r = read_compressed(img, s, run.l2_entry, offset & ~(uint64_t)(s->cluster_size - 1),
					    bufs, err);
			if (r == 0)
				memcpy(out, bufs[1] + (offset & (s->cluster_size - 1)), n);
			break;
		}
		if (r < 0)
			break;
		out += n;
		offset += n;
		len -= n;
	}
	free(bufs[0]);
	free(bufs[1]);
	return r;
}

static int qcow2_block_status(struct kvmi_image *img, uint64_t offset, uint64_t max_length,
			      struct block_status *status, struct kvm_error *err)
{
	struct qcow2 *s = img->priv;
	struct qcow2_run run;
	int r = qcow2_map(img, offset, max_length, true, &run, err);

	if (r < 0)
		return r;
	status->length = run.length;
	status->file = NULL;
	status->file_offset = -1;
	switch (run.kind) {
	case QCOW2_UNALLOCATED:
		status->kind = BLOCK_UNALLOCATED;
		break;
	case QCOW2_ZERO:
		status->kind = BLOCK_ZERO;
		break;
	case QCOW2_DATA:
		status->kind = BLOCK_DATA;
		status->file = s->data_path ? s->data_path : img->path;
		status->file_offset = (int64_t)run.host_offset;
		break;
	case QCOW2_COMPRESSED:
		status->kind = BLOCK_DATA;
		break;
	}
	return 0;
}

static int qcow2_info(struct kvmi_image *img, struct json_object *info, struct kvm_error *err)
{
	struct qcow2 *s = img->priv;
	struct json_object *specific = json_object_new_object();
	struct json_object *data = json_object_new_object();

	json_out_add_bool(info, "dirty-flag", s->incompatible & QCOW2_INCOMPAT_DIRTY);
	json_out_add_string(data, "compat", s->version == 2 ? "0.10" : "1.1");
	json_out_add_string(data, "compression-type",
			    s->compression_type == QCOW2_COMPRESSION_ZSTD ? "zstd" : "zlib");
	json_out_add_bool(data, "lazy-refcounts", s->compatible & QCOW2_COMPAT_LAZY_REFCOUNTS);
	json_out_add_uint(data, "refcount-bits", 1ull << s->refcount_order);
	json_out_add_bool(data, "corrupt", s->incompatible & QCOW2_INCOMPAT_CORRUPT);
	json_out_add_bool(data, "extended-l2", s->extended_l2);
	if (s->data_file_name && s->data_path) {
		json_out_add_string(data, "data-file", s->data_file_name);
		json_out_add_bool(data, "data-file-raw", s->autoclear & QCOW2_AUTOCLEAR_DATA_FILE_RAW);
	}
	json_out_add_uint(data, "snapshots", s->nb_snapshots);
	json_out_add_string(specific, "type", "qcow2");
	json_object_object_add(specific, "data", data);
	json_object_object_add(info, "format-specific", specific);
	return 0;
}

const struct image_driver qcow2_driver = {
	.name = "qcow2",
	.description = "QEMU copy-on-write image, version 2 and 3",
	.probe = qcow2_probe,
	.open = qcow2_open,
	.close = qcow2_close,
	.block_status = qcow2_block_status,
	.read = qcow2_read,
	.info = qcow2_info,
	.check = qcow2_check,
	.create_options = qcow2_create_options,
	.create = qcow2_create,
	.compress = qcow2_compress,
	.write = qcow2_write,
	.write_zero = qcow2_write_zero,
	.finish = qcow2_finish,
	.writer_free = qcow2_writer_free,
	.measure = qcow2_measure,
};
