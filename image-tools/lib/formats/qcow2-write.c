/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Writing qcow2 version 3 images, and measuring them as `qemu-img measure`
 * does.
 *
 * The file is laid out in one forward pass, so that the same input always
 * gives the same bytes: the header, the refcount blocks that cover the
 * first clusters, the refcount table (sized up front for the largest file
 * the virtual size can give), the L1 table; then, in guest order, each L2
 * table just before its first data cluster, with a refcount block placed
 * wherever the file enters a range no block covers yet.  Compressed
 * clusters are packed byte by byte, as QEMU packs them, and may run on
 * into the next host cluster when it follows directly.
 *
 * Since clusters are only ever appended, only the newest L2 table and
 * refcount block change; each is written out when the pass leaves it.
 *
 * A layer over a backing file names it in the header cluster, after the
 * backing format extension, as QEMU does; the grains the layer zeroes are
 * zero clusters (version 3's flag), which hide what the backing holds.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "qcow2.h"
#include "xalloc.h"

#define QCOW2_DEFAULT_CLUSTER_SIZE (64u << 10)
#define QCOW2_DEFAULT_REFCOUNT_ORDER 4
#define NO_INDEX UINT64_MAX
/* The header, the backing format extension (5 bytes of "qcow2" padded to
 * 8), the end of the extensions, then the backing file name. */
#define HEADER_EXT_BYTES(format_len) (8 + (((format_len) + 7) & ~(size_t)7))

const struct option_desc qcow2_create_options[] = {
	{ "cluster_size", OPTION_SIZE, "cluster size, a power of two from 512 to 2M (default 64k)" },
	{ "compression_type", OPTION_STRING, "zlib or zstd, for compressed clusters (default zlib)" },
	{ "preallocation", OPTION_STRING, "off, or metadata to map every cluster (default off)" },
	{ "refcount_bits", OPTION_SIZE, "width of a refcount, a power of two from 1 to 64 (default 16)" },
	{ NULL, 0, NULL },
};

struct qcow2_params {
	uint32_t cluster_bits;
	uint32_t refcount_order;
	uint32_t compression_type;
	bool prealloc_metadata;
};

struct qcow2_writer {
	struct qcow2_params p;
	uint32_t cluster_size;
	uint32_t l2_bits;
	uint32_t csize_shift;
	uint64_t guest_clusters;
	uint64_t refcounts_per_block;
	uint64_t refcount_max;

	uint64_t *l1;		/* host order */
	uint64_t l1_size;
	uint64_t l1_offset;

	uint64_t *reftable;	/* host order */
	uint64_t reftable_entries;
	uint64_t reftable_offset;
	uint64_t reftable_clusters;

	uint64_t next_cluster;	/* the first cluster not yet allocated */
	uint8_t *refblock;	/* the newest refcount block, as stored */
	uint64_t refblock_index;
	uint8_t *l2;		/* the newest L2 table, as stored */
	uint64_t l2_index;
	uint64_t free_byte;	/* where the next compressed cluster may go; 0: none */
	uint64_t next_guest;	/* preallocation: the first guest cluster not mapped */
};

static int parse_params(const struct option_list *opts, const char *name,
			struct qcow2_params *p, struct kvm_error *err)
{
	const char *compression = options_get_string(opts, "compression_type", "zlib");
	const char *prealloc = options_get_string(opts, "preallocation", "off");
	uint64_t cluster_size, refcount_bits;
	int r;

	r = options_get_size(opts, "cluster_size", QCOW2_DEFAULT_CLUSTER_SIZE, &cluster_size, err);
	if (r < 0)
		return r;
	if (cluster_size < (1u << QCOW2_MIN_CLUSTER_BITS) ||
	    cluster_size > (1u << QCOW2_MAX_CLUSTER_BITS) || (cluster_size & (cluster_size - 1)))
		return kvm_error_set(err, -EINVAL,
				     "%s: cluster_size must be a power of two from 512 to 2M",
				     name);
	p->cluster_bits = (uint32_t)__builtin_ctzll(cluster_size);
	r = options_get_size(opts, "refcount_bits", 1u << QCOW2_DEFAULT_REFCOUNT_ORDER,
			     &refcount_bits, err);
	if (r < 0)
		return r;
	if (refcount_bits < 1 || refcount_bits > 64 || (refcount_bits & (refcount_bits - 1)))
		return kvm_error_set(err, -EINVAL,
				     "%s: refcount_bits must be a power of two from 1 to 64", name);
	p->refcount_order = (uint32_t)__builtin_ctzll(refcount_bits);
	if (strcmp(compression, "zlib") == 0)
		p->compression_type = QCOW2_COMPRESSION_ZLIB;
	else if (strcmp(compression, "zstd") == 0)
		p->compression_type = QCOW2_COMPRESSION_ZSTD;
	else
		return kvm_error_set(err, -EINVAL,
				     "%s: compression_type must be zlib or zstd, not '%s'", name,
				     compression);
	if (strcmp(prealloc, "off") == 0)
		p->prealloc_metadata = false;
	else if (strcmp(prealloc, "metadata") == 0)
		p->prealloc_metadata = true;
	else
		return kvm_error_set(err, -EINVAL,
				     "%s: preallocation must be off or metadata, not '%s'", name,
				     prealloc);
	return 0;
}

/* Entries of the L1 table an image of SIZE needs; -EFBIG past QEMU's cap. */
static int l1_entries(uint64_t size, uint32_t cluster_bits, const char *name,
		      uint64_t *entries, struct kvm_error *err)
{
	uint64_t clusters = qcow2_clusters_of(size, cluster_bits);
	uint32_t l2_bits = cluster_bits - 3;

	*entries = (clusters + (1ull << l2_bits) - 1) >> l2_bits;
	if (*entries * 8 > QCOW2_MAX_L1_BYTES)
		return kvm_error_set(err, -EFBIG,
				     "%s: size %" PRIu64 " is too large for qcow2 with %u-byte clusters (try a larger cluster_size)",
				     name, size, 1u << cluster_bits);
	return 0;
}

static uint64_t div_round_up(uint64_t a, uint64_t b)
{
	return (a + b - 1) / b;
}

/*
 * Refcount blocks and table clusters that CLUSTERS clusters need, the
 * metadata counting itself: QEMU's qcow2_refcount_metadata_size() fixed
 * point, with each block counted EXTRA_PER_BLOCK more times.
 */
static void refcount_metadata(uint64_t clusters, uint32_t cluster_bits, uint32_t refcount_order,
			      uint64_t extra_per_block, uint64_t *blocks, uint64_t *table)
{
	uint64_t per_block = 1ull << (cluster_bits + 3 - refcount_order);
	uint64_t per_table_cluster = 1ull << (cluster_bits - 3);
	uint64_t n = 0, last;

	*blocks = 0;
	*table = 0;
	do {
		last = n;
		*blocks = div_round_up(clusters + *table + *blocks * (1 + extra_per_block), per_block);
		*table = div_round_up(*blocks, per_table_cluster);
		n = clusters + *blocks + *table;
	} while (n != last);
}

/* ---- Allocation of host clusters, in file order ---- */

static int write_refblock(struct image_writer *w, struct qcow2_writer *q, struct kvm_error *err)
{
	if (q->refblock_index == NO_INDEX)
		return 0;
	return io_pwrite_all(w->fd, w->path, q->refblock, q->cluster_size,
			     q->reftable[q->refblock_index], err);
}

/* Adds DELTA to the refcount of CLUSTER, which lies in the newest refcount
 * block or after it. */
static int refcount_add(struct image_writer *w, struct qcow2_writer *q, uint64_t cluster,
			uint64_t delta, struct kvm_error *err)
{
	uint64_t block = cluster / q->refcounts_per_block;
	uint64_t entry = cluster % q->refcounts_per_block;
	int r;

	if (block != q->refblock_index) {
		if (q->refblock_index != NO_INDEX && block < q->refblock_index)
			return kvm_error_set(err, -EIO, "%s: refcount of cluster %" PRIu64 " set late",
					     w->path, cluster);
		r = write_refblock(w, q, err);
		if (r < 0)
			return r;
		memset(q->refblock, 0, q->cluster_size);
		q->refblock_index = block;
	}
	qcow2_refcount_set(q->refblock, entry, q->p.refcount_order,
			   qcow2_refcount_get(q->refblock, entry, q->p.refcount_order) + delta);
	return 0;
}

static int alloc_cluster(struct image_writer *w, struct qcow2_writer *q, uint64_t *cluster,
			 struct kvm_error *err)
{
	uint64_t block = q->next_cluster / q->refcounts_per_block;
	int r;

	if (block >= q->reftable_entries)
		return kvm_error_set(err, -EFBIG, "%s: the refcount table is full", w->path);
	if (!q->reftable[block]) {
		/* The first cluster of a range no block covers: the block
		 * that covers it goes there, and counts itself. */
		q->reftable[block] = q->next_cluster << q->p.cluster_bits;
		r = refcount_add(w, q, q->next_cluster++, 1, err);
		if (r < 0)
			return r;
	}
	*cluster = q->next_cluster++;
	return refcount_add(w, q, *cluster, 1, err);
}

/* Room for SIZE bytes of a compressed cluster; returns its file offset. */
static int alloc_bytes(struct image_writer *w, struct qcow2_writer *q, uint64_t size,
		       uint64_t *offset, struct kvm_error *err)
{
	uint64_t last = q->next_cluster - 1, cluster;
	uint64_t entry = last % q->refcounts_per_block;
	int r;

	if (q->free_byte && q->free_byte >> q->p.cluster_bits == last &&
	    qcow2_refcount_get(q->refblock, entry, q->p.refcount_order) < q->refcount_max) {
		uint64_t room = q->cluster_size - (q->free_byte & (q->cluster_size - 1));
		bool next_covered = q->next_cluster / q->refcounts_per_block < q->reftable_entries &&
				    q->reftable[q->next_cluster / q->refcounts_per_block];

		if (size <= room || next_covered) {
			r = refcount_add(w, q, last, 1, err);
			if (r == 0 && size > room)
				r = alloc_cluster(w, q, &cluster, err);
			if (r < 0)
				return r;
			*offset = q->free_byte;
			goto done;
		}
	}
	r = alloc_cluster(w, q, &cluster, err);
	if (r < 0)
		return r;
	*offset = cluster << q->p.cluster_bits;
done:
	q->free_byte = (*offset + size) & (q->cluster_size - 1) ? *offset + size : 0;
	return 0;
}

static int write_l2(struct image_writer *w, struct qcow2_writer *q, struct kvm_error *err)
{
	if (q->l2_index == NO_INDEX)
		return 0;
	return io_pwrite_all(w->fd, w->path, q->l2, q->cluster_size,
			     q->l1[q->l2_index] & QCOW2_OFFSET_MASK, err);
}

/* Makes the L2 table of GUEST_CLUSTER the newest one. */
static int enter_l2(struct image_writer *w, struct qcow2_writer *q, uint64_t guest_cluster,
		    struct kvm_error *err)
{
	uint64_t index = guest_cluster >> q->l2_bits, cluster;
	int r;

	if (index == q->l2_index)
		return 0;
	r = write_l2(w, q, err);
	if (r < 0)
		return r;
	r = alloc_cluster(w, q, &cluster, err);
	if (r < 0)
		return r;
	q->l1[index] = cluster << q->p.cluster_bits | QCOW2_OFLAG_COPIED;
	q->l2_index = index;
	memset(q->l2, 0, q->cluster_size);
	return 0;
}

static void set_l2_entry(struct qcow2_writer *q, uint64_t guest_cluster, uint64_t entry)
{
	qcow2_put_be64(q->l2 + (guest_cluster & ((1ull << q->l2_bits) - 1)) * 8, entry);
}

/* Gives a data cluster to every guest cluster before END not mapped yet,
 * as QEMU's preallocation=metadata does; the data stays a hole. */
static int map_up_to(struct image_writer *w, struct qcow2_writer *q, uint64_t end,
		     struct kvm_error *err)
{
	for (; q->next_guest < end; q->next_guest++) {
		uint64_t cluster;
		int r = enter_l2(w, q, q->next_guest, err);

		if (r == 0)
			r = alloc_cluster(w, q, &cluster, err);
		if (r < 0)
			return r;
		set_l2_entry(q, q->next_guest, cluster << q->p.cluster_bits | QCOW2_OFLAG_COPIED);
	}
	return 0;
}

/* ---- The writer callbacks ---- */

void qcow2_writer_free(struct image_writer *w)
{
	struct qcow2_writer *q = w->priv;

	if (!q)
		return;
	free(q->l1);
	free(q->reftable);
	free(q->refblock);
	free(q->l2);
	free(q);
	w->priv = NULL;
}

/* Bytes of the header cluster before the backing file name. */
static size_t backing_name_offset(const struct image_writer *w)
{
	return QCOW2_HEADER_LENGTH_WITH_COMPRESSION + HEADER_EXT_BYTES(strlen(w->backing_format)) + 8;
}

static int check_backing_fits(struct image_writer *w, const struct qcow2_writer *q,
			      struct kvm_error *err)
{
	size_t len = strlen(w->backing_name);

	if (q->p.prealloc_metadata)
		return kvm_error_set(err, -EINVAL,
				     "%s: preallocation=metadata cannot be combined with a backing file",
				     w->path);
	if (len == 0 || len > QCOW2_MAX_BACKING_NAME ||
	    backing_name_offset(w) + len > 1u << q->p.cluster_bits)
		return kvm_error_set(err, -ENAMETOOLONG,
				     "%s: the backing file name (%zu bytes) does not fit in the header cluster",
				     w->path, len);
	return 0;
}

int qcow2_create(struct image_writer *w, const struct option_list *opts,
		 struct kvm_error *err)
{
	struct qcow2_writer *q = xcalloc(1, sizeof(*q));
	uint64_t l1_clusters, l2_tables, worst, blocks, initial_blocks, total, last;
	int r;

	w->priv = q;
	r = parse_params(opts, w->path, &q->p, err);
	if (r < 0)
		return r;
	if (w->compress && q->p.prealloc_metadata)
		return kvm_error_set(err, -EINVAL,
				     "%s: preallocation=metadata cannot be combined with compression",
				     w->path);
	if (w->backing_name) {
		r = check_backing_fits(w, q, err);
		if (r < 0)
			return r;
	}
	r = l1_entries(w->size, q->p.cluster_bits, w->path, &q->l1_size, err);
	if (r < 0)
		return r;
	q->cluster_size = 1u << q->p.cluster_bits;
	q->l2_bits = q->p.cluster_bits - 3;
	q->csize_shift = 62 - (q->p.cluster_bits - 8);
	q->guest_clusters = qcow2_clusters_of(w->size, q->p.cluster_bits);
	q->refcounts_per_block = 1ull << (q->p.cluster_bits + 3 - q->p.refcount_order);
	q->refcount_max = q->p.refcount_order == 6 ? UINT64_MAX
						   : (1ull << (1u << q->p.refcount_order)) - 1;
	q->refblock_index = NO_INDEX;
	q->l2_index = NO_INDEX;

	/* The largest file: every cluster stored, and with compression a
	 * partly filled cluster before each L2 table and refcount block. */
	l1_clusters = qcow2_clusters_of(q->l1_size * 8, q->p.cluster_bits);
	l2_tables = q->l1_size;
	worst = 1 + l1_clusters + l2_tables + q->guest_clusters;
	if (w->compress)
		worst += l2_tables + 1;
	refcount_metadata(worst, q->p.cluster_bits, q->p.refcount_order, w->compress ? 1 : 0,
			  &blocks, &q->reftable_clusters);
	if (q->reftable_clusters << q->p.cluster_bits > QCOW2_MAX_REFTABLE_BYTES)
		return kvm_error_set(err, -EFBIG,
				     "%s: size %" PRIu64 " needs too large a refcount table (try a larger cluster_size)",
				     w->path, w->size);
	q->reftable_entries = q->reftable_clusters << (q->p.cluster_bits - 3);

	/* The first refcount blocks go right after the header, covering the
	 * fixed metadata and themselves. */
	initial_blocks = 0;
	do {
		last = initial_blocks;
		initial_blocks = div_round_up(1 + q->reftable_clusters + l1_clusters + initial_blocks,
					      q->refcounts_per_block);
	} while (initial_blocks != last);
	q->reftable_offset = (1 + initial_blocks) << q->p.cluster_bits;
	q->l1_offset = q->reftable_offset + (q->reftable_clusters << q->p.cluster_bits);
	total = 1 + initial_blocks + q->reftable_clusters + l1_clusters;

	q->l1 = calloc(q->l1_size ? q->l1_size : 1, sizeof(*q->l1));
	q->reftable = calloc(q->reftable_entries, sizeof(*q->reftable));
	q->refblock = malloc(q->cluster_size);
	q->l2 = malloc(q->cluster_size);
	if (!q->l1 || !q->reftable || !q->refblock || !q->l2)
		return kvm_error_set(err, -ENOMEM, "%s: no memory for the qcow2 tables", w->path);
	for (uint64_t b = 0; b < initial_blocks; b++)
		q->reftable[b] = (1 + b) << q->p.cluster_bits;
	for (uint64_t c = 0; c < total; c++) {
		r = refcount_add(w, q, c, 1, err);
		if (r < 0)
			return r;
	}
	q->next_cluster = total;

	w->grain = q->cluster_size;
	w->plain_runs = true;
	/* A compressed cluster must be smaller than a plain one. */
	w->compress_bound = q->cluster_size - 1;
	return 0;
}

size_t qcow2_compress(struct image_writer *w, const void *in, size_t len, void *out)
{
	struct qcow2_writer *q = w->priv;

	return codec_compress(q->p.compression_type == QCOW2_COMPRESSION_ZSTD ? CODEC_ZSTD
									      : CODEC_DEFLATE,
			      in, len, out, w->compress_bound);
}

/* The host offset of GUEST_CLUSTER, which gets the next free cluster. */
static int place_cluster(struct image_writer *w, struct qcow2_writer *q, uint64_t guest_cluster,
			 uint64_t *host, struct kvm_error *err)
{
	uint64_t cluster;
	int r;

	if (q->p.prealloc_metadata) {
		r = map_up_to(w, q, guest_cluster + 1, err);
		if (r < 0)
			return r;
		*host = qcow2_get_be64(q->l2 + (guest_cluster & ((1ull << q->l2_bits) - 1)) * 8) &
			QCOW2_OFFSET_MASK;
		return 0;
	}
	r = enter_l2(w, q, guest_cluster, err);
	if (r == 0)
		r = alloc_cluster(w, q, &cluster, err);
	if (r < 0)
		return r;
	*host = cluster << q->p.cluster_bits;
	set_l2_entry(q, guest_cluster, *host | QCOW2_OFLAG_COPIED);
	return 0;
}

/* A run of plain clusters: those that land next to each other in the
 * file (all but where an L2 table comes between) go out in one write. */
static int write_plain(struct image_writer *w, struct qcow2_writer *q, uint64_t offset,
		       const uint8_t *buf, size_t len, struct kvm_error *err)
{
	const uint8_t *pending = buf;
	uint64_t pending_host = 0;
	size_t pending_len = 0;

	for (size_t done = 0; done < len; done += q->cluster_size) {
		size_t n = len - done < q->cluster_size ? len - done : q->cluster_size;
		uint64_t host;
		int r = place_cluster(w, q, (offset + done) >> q->p.cluster_bits, &host, err);

		if (r < 0)
			return r;
		if (pending_len && pending_host + pending_len != host) {
			r = writer_pwrite_data(w, w->fd, pending, pending_len, pending_host, err);
			if (r < 0)
				return r;
			pending_len = 0;
		}
		if (!pending_len) {
			pending = buf + done;
			pending_host = host;
		}
		pending_len += n;
	}
	return writer_pwrite_data(w, w->fd, pending, pending_len, pending_host, err);
}

int qcow2_write(struct image_writer *w, uint64_t offset, const void *buf, size_t len,
		size_t compressed_len, struct kvm_error *err)
{
	struct qcow2_writer *q = w->priv;
	uint64_t guest_cluster = offset >> q->p.cluster_bits, host, sectors;
	int r;

	if (!compressed_len)
		return write_plain(w, q, offset, buf, len, err);
	r = enter_l2(w, q, guest_cluster, err);
	if (r < 0)
		return r;
	r = alloc_bytes(w, q, compressed_len, &host, err);
	if (r == 0)
		r = io_pwrite_all(w->fd, w->path, buf, compressed_len, host, err);
	if (r < 0)
		return r;
	sectors = ((host + compressed_len - 1) >> 9) - (host >> 9);
	set_l2_entry(q, guest_cluster, QCOW2_OFLAG_COMPRESSED | sectors << q->csize_shift | host);
	return 0;
}

int qcow2_write_zero(struct image_writer *w, uint64_t offset, struct kvm_error *err)
{
	struct qcow2_writer *q = w->priv;
	uint64_t guest_cluster = offset >> q->p.cluster_bits;
	int r = enter_l2(w, q, guest_cluster, err);

	if (r < 0)
		return r;
	set_l2_entry(q, guest_cluster, QCOW2_OFLAG_ZERO);
	return 0;
}

static int write_table(struct image_writer *w, uint64_t *table, uint64_t entries,
		       uint64_t offset, struct kvm_error *err)
{
	for (uint64_t i = 0; i < entries; i++)
		qcow2_put_be64((uint8_t *)&table[i], table[i]);
	return io_pwrite_all(w->fd, w->path, table, entries * 8, offset, err);
}

/* The backing format extension, the end of the extensions and the backing
 * file name, from offset QCOW2_HEADER_LENGTH_WITH_COMPRESSION of H. */
static void put_backing(const struct image_writer *w, uint8_t *h)
{
	size_t format_len = strlen(w->backing_format), name_len = strlen(w->backing_name);
	size_t name_offset = backing_name_offset(w);
	uint8_t *ext = h + QCOW2_HEADER_LENGTH_WITH_COMPRESSION;

	qcow2_put_be32(ext, QCOW2_EXT_BACKING_FORMAT);
	qcow2_put_be32(ext + 4, (uint32_t)format_len);
	memcpy(ext + 8, w->backing_format, format_len);
	memcpy(h + name_offset, w->backing_name, name_len);
	qcow2_put_be64(h + 8, name_offset);
	qcow2_put_be32(h + 16, (uint32_t)name_len);
}

static int write_header(struct image_writer *w, struct qcow2_writer *q, struct kvm_error *err)
{
	/* The v3 header with the compression type, then the header
	 * extensions (none but the backing format) and the backing name;
	 * the rest of the cluster stays zero, as allocated. */
	size_t len = QCOW2_HEADER_LENGTH_WITH_COMPRESSION + 8;
	uint64_t incompatible = 0;
	uint8_t *h;
	int r;

	if (w->backing_name)
		len = backing_name_offset(w) + strlen(w->backing_name);
	h = xcalloc(1, len);
	if (w->backing_name)
		put_backing(w, h);

	if (q->p.compression_type != QCOW2_COMPRESSION_ZLIB)
		incompatible |= QCOW2_INCOMPAT_COMPRESSION;
	memcpy(h, QCOW2_MAGIC, 4);
	qcow2_put_be32(h + 4, 3);
	qcow2_put_be32(h + 20, q->p.cluster_bits);
	qcow2_put_be64(h + 24, w->size);
	qcow2_put_be32(h + 36, (uint32_t)q->l1_size);
	qcow2_put_be64(h + 40, q->l1_offset);
	qcow2_put_be64(h + 48, q->reftable_offset);
	qcow2_put_be32(h + 56, (uint32_t)q->reftable_clusters);
	qcow2_put_be64(h + 72, incompatible);
	qcow2_put_be32(h + 96, q->p.refcount_order);
	qcow2_put_be32(h + 100, QCOW2_HEADER_LENGTH_WITH_COMPRESSION);
	h[104] = (uint8_t)q->p.compression_type;
	r = io_pwrite_all(w->fd, w->path, h, len, 0, err);
	free(h);
	return r;
}

int qcow2_finish(struct image_writer *w, struct kvm_error *err)
{
	struct qcow2_writer *q = w->priv;
	int r = 0;

	if (q->p.prealloc_metadata)
		r = map_up_to(w, q, q->guest_clusters, err);
	if (r == 0)
		r = write_l2(w, q, err);
	if (r == 0)
		r = write_refblock(w, q, err);
	if (r == 0)
		r = write_table(w, q->l1, q->l1_size, q->l1_offset, err);
	if (r == 0)
		r = write_table(w, q->reftable, q->reftable_entries, q->reftable_offset, err);
	if (r == 0)
		r = write_header(w, q, err);
	if (r == 0 && ftruncate(w->fd, (off_t)(q->next_cluster << q->p.cluster_bits)) < 0)
		r = kvm_error_errno(err, -errno, "%s: cannot set the file size", w->path);
	return r;
}

/* QEMU's qcow2_calc_prealloc_size(): the file with every cluster stored. */
static uint64_t fully_allocated_size(uint64_t aligned_size, uint32_t cluster_bits,
				     uint32_t refcount_order)
{
	uint64_t cluster_size = 1ull << cluster_bits;
	uint64_t l2_per_cluster = cluster_size / 8, l1_per_cluster = cluster_size / 8;
	uint64_t meta = cluster_size, l2_entries, l1_entries, blocks, table;

	l2_entries = div_round_up(aligned_size / cluster_size, l2_per_cluster) * l2_per_cluster;
	meta += l2_entries * 8;
	l1_entries = div_round_up(l2_entries * 8 / cluster_size, l1_per_cluster) * l1_per_cluster;
	meta += l1_entries * 8;
	refcount_metadata((meta + aligned_size) / cluster_size, cluster_bits, refcount_order, 0,
			  &blocks, &table);
	return meta + (blocks + table) * cluster_size + aligned_size;
}

int qcow2_measure(const struct option_list *opts, uint64_t size, struct kvmi_image *src,
		  bool compress, struct kvmi_measure *m, struct kvm_error *err)
{
	struct qcow2_params p;
	uint64_t aligned, entries, data = 0;
	int r;

	r = parse_params(opts, "qcow2", &p, err);
	if (r < 0)
		return r;
	r = l1_entries(size, p.cluster_bits, "qcow2", &entries, err);
	if (r < 0)
		return r;
	aligned = qcow2_clusters_of(size, p.cluster_bits) << p.cluster_bits;
	if (src) {
		r = image_count_allocated(src, 1u << p.cluster_bits, &data, err);
		if (r < 0)
			return r;
	}
	m->fully_allocated = fully_allocated_size(aligned, p.cluster_bits, p.refcount_order);
	/* Metadata as for the full image, data only as much as there is;
	 * compression is not accounted for, as in qemu-img. */
	m->required = m->fully_allocated - aligned + data;
	return 0;
}
