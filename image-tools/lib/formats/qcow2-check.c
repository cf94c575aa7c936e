/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The consistency check of qcow2 images, as `qemu-img check` does it:
 * count the references to every host cluster (header, tables, data, for
 * the active state and every snapshot), then compare them with the stored
 * refcounts.  A refcount above the references is a leak, one below is a
 * corruption, and so is a COPIED flag that does not match a refcount of 1.
 *
 * The counts take 4 bytes per cluster of the file, so the file size is
 * capped; a bigger image is refused rather than checked in part.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "qcow2.h"
#include "strbuf.h"

#define QCOW2_CHECK_MAX_CLUSTERS (1ull << 25)
/* Problems past this many are counted, not described. */
#define QCOW2_CHECK_MAX_PROBLEMS 100
#define QCOW2_SNAPSHOT_HEADER 40
#define QCOW2_MAX_SNAPSHOT_EXTRA 1024

enum walk_mode {
	WALK_COUNT,		/* count references */
	WALK_COPIED,		/* compare COPIED flags with the refcounts */
};

struct check {
	struct kvmi_image *img;
	struct qcow2 *s;
	struct kvmi_check_result *res;
	uint32_t *counts;	/* references, then refcounts */
	uint64_t nb_clusters;
	uint8_t *cluster;	/* one cluster of scratch */
	uint8_t *walked;	/* a bit per cluster: an L2 table of this L1 walked */
	unsigned n_problems;
};

__attribute__((format(printf, 3, 4)))
static void problem(struct check *c, bool corruption, const char *fmt, ...)
{
	struct strbuf sb = STRBUF_INIT;
	va_list ap;

	if (corruption)
		c->res->corruptions++;
	else
		c->res->leaks++;
	if (c->n_problems++ >= QCOW2_CHECK_MAX_PROBLEMS || !c->res->problems)
		return;
	va_start(ap, fmt);
	strbuf_vaddf(&sb, fmt, ap);
	va_end(ap);
	json_object_array_add(c->res->problems, json_object_new_string(sb.buf));
	strbuf_release(&sb);
}

/* Counts one reference to each cluster of [OFFSET, OFFSET + LENGTH). */
static void reference(struct check *c, uint64_t offset, uint64_t length, const char *what)
{
	uint64_t first = offset >> c->s->cluster_bits;
	uint64_t last;

	if (length == 0)
		return;
	last = (offset + length - 1) >> c->s->cluster_bits;
	for (uint64_t i = first; i <= last; i++) {
		if (i >= c->nb_clusters) {
			problem(c, true, "ERROR %s at offset 0x%" PRIx64 " is past the end of the file",
				what, offset);
			return;
		}
		if (c->counts[i] < UINT32_MAX)
			c->counts[i]++;
	}
}

static bool table_fits(const struct check *c, uint64_t offset, uint64_t bytes)
{
	return !(offset & (c->s->cluster_size - 1)) && offset <= c->img->file_size &&
	       bytes <= c->img->file_size - offset;
}

/* Whether a table of BYTES at OFFSET can be read; reports it if not. */
static bool table_readable(struct check *c, uint64_t offset, uint64_t bytes, const char *what)
{
	if (offset & (c->s->cluster_size - 1)) {
		problem(c, true, "ERROR %s offset 0x%" PRIx64 " is not aligned", what, offset);
		return false;
	}
	if (!table_fits(c, offset, bytes)) {
		problem(c, true, "ERROR %s at offset 0x%" PRIx64 " is past the end of the file",
			what, offset);
		return false;
	}
	return true;
}

/* The refcount COUNTS holds for the cluster at OFFSET (pass WALK_COPIED). */
static uint64_t refcount_at(const struct check *c, uint64_t offset)
{
	uint64_t i = offset >> c->s->cluster_bits;

	return i < c->nb_clusters ? c->counts[i] : 0;
}

static void walk_l2(struct check *c, const uint8_t *table, uint64_t l2_offset, bool active,
		    enum walk_mode mode)
{
	struct qcow2 *s = c->s;
	uint64_t entries = 1ull << s->l2_bits;
	bool external = s->data_path != NULL;

	for (uint64_t i = 0; i < entries; i++) {
		const uint8_t *p = table + i * s->l2_entry_size;
		uint64_t entry = qcow2_get_be64(p);
		uint64_t host = entry & QCOW2_OFFSET_MASK;
		bool allocated = host != 0 || (external && entry & QCOW2_OFLAG_COPIED);

		if (entry & QCOW2_OFLAG_COMPRESSED) {
			uint64_t coffset, clen;

			if (mode != WALK_COUNT)
				continue;
			if (external) {
				problem(c, true, "ERROR compressed cluster in L2 table 0x%" PRIx64
					" of an image with a data file", l2_offset);
				continue;
			}
			qcow2_compressed_range(s, entry, &coffset, &clen);
			reference(c, coffset, clen, "compressed cluster");
			if (active)
				c->res->allocated_clusters++;
			continue;
		}
		if (s->extended_l2) {
			uint64_t bitmap = qcow2_get_be64(p + 8);

			if (mode == WALK_COUNT && (bitmap & (bitmap >> 32) & 0xffffffffu))
				problem(c, true, "ERROR L2 table 0x%" PRIx64 " entry %" PRIu64
					" marks subclusters both allocated and zero", l2_offset, i);
			if (mode == WALK_COUNT && !allocated && (bitmap & 0xffffffffu))
				problem(c, true, "ERROR L2 table 0x%" PRIx64 " entry %" PRIu64
					" allocates subclusters of an unallocated cluster", l2_offset, i);
		}
		if (!allocated)
			continue;
		if (host & (s->cluster_size - 1)) {
			if (mode == WALK_COUNT)
				problem(c, true, "ERROR data cluster offset 0x%" PRIx64
					" in L2 table 0x%" PRIx64 " is not aligned", host, l2_offset);
			continue;
		}
		if (mode == WALK_COUNT) {
			if (active)
				c->res->allocated_clusters++;
			/* Clusters of a data file are not counted in the image. */
			if (!external)
				reference(c, host, s->cluster_size, "data cluster");
		} else if (!external && (refcount_at(c, host) == 1) != !!(entry & QCOW2_OFLAG_COPIED)) {
			problem(c, true, "ERROR OFLAG_COPIED data cluster: l2_entry=0x%" PRIx64
				" refcount=%" PRIu64, entry, refcount_at(c, host));
		}
	}
}

/* Walks one L1 table (the active one, or a snapshot's) and its L2 tables. */
static int walk_l1(struct check *c, uint64_t l1_offset, uint64_t l1_size, bool active,
		   enum walk_mode mode, struct kvm_error *err)
{
	struct qcow2 *s = c->s;
	uint64_t bytes = l1_size * 8;
	uint8_t *l1;
	int r = 0;

	if (bytes > QCOW2_MAX_L1_BYTES) {
		if (mode == WALK_COUNT)
			problem(c, true, "ERROR L1 table of %" PRIu64 " entries is too large", l1_size);
		return 0;
	}
	if (mode == WALK_COPIED ? !table_fits(c, l1_offset, bytes)
				: !table_readable(c, l1_offset, bytes, "L1 table"))
		return 0;
	if (mode == WALK_COUNT)
		reference(c, l1_offset, bytes, "L1 table");
	if (bytes == 0)
		return 0;
	l1 = malloc(bytes);
	if (!l1)
		return kvm_error_set(err, -ENOMEM, "%s: no memory for an L1 table", c->img->path);
	memset(c->walked, 0, c->nb_clusters / 8 + 1);
	r = io_pread_exact(c->img->fd, c->img->path, l1, bytes, l1_offset, err);
	for (uint64_t i = 0; r == 0 && i < l1_size; i++) {
		uint64_t entry = qcow2_get_be64(l1 + i * 8);
		uint64_t l2_offset = entry & QCOW2_OFFSET_MASK, index;

		if (!l2_offset)
			continue;
		if (mode == WALK_COPIED) {
			if (active && (refcount_at(c, l2_offset) == 1) != !!(entry & QCOW2_OFLAG_COPIED))
				problem(c, true, "ERROR OFLAG_COPIED L2 cluster: l1_index=%" PRIu64
					" l1_entry=0x%" PRIx64 " refcount=%" PRIu64, i, entry,
					refcount_at(c, l2_offset));
			if (!active)
				continue;
		} else {
			if (entry & QCOW2_L1_RESERVED_MASK)
				problem(c, true, "ERROR L1 entry %" PRIu64 " has reserved bits set", i);
			if (!table_readable(c, l2_offset, s->cluster_size, "L2 table"))
				continue;
			reference(c, l2_offset, s->cluster_size, "L2 table");
		}
		if (!table_fits(c, l2_offset, s->cluster_size))
			continue;
		/* An L2 table that two entries of one L1 table name is walked
		 * once: walking it for each would take time without bound. */
		index = l2_offset >> s->cluster_bits;
		if (c->walked[index / 8] & (1u << (index % 8))) {
			if (mode == WALK_COUNT)
				problem(c, true, "ERROR L2 table 0x%" PRIx64 " is named again by L1 entry %"
					PRIu64, l2_offset, i);
			continue;
		}
		c->walked[index / 8] |= (uint8_t)(1u << (index % 8));
		r = io_pread_exact(c->img->fd, c->img->path, c->cluster, s->cluster_size, l2_offset,
				   err);
		if (r == 0)
			walk_l2(c, c->cluster, l2_offset, active, mode);
	}
	free(l1);
	return r;
}

/* Counts the snapshot table and walks each snapshot's L1 table. */
static int walk_snapshots(struct check *c, struct kvm_error *err)
{
	struct qcow2 *s = c->s;
	uint64_t pos = s->snapshots_offset;
	uint8_t h[QCOW2_SNAPSHOT_HEADER];
	int r;

	if (!s->nb_snapshots)
		return 0;
	for (uint32_t i = 0; i < s->nb_snapshots; i++) {
		uint32_t extra, id_len, name_len;
		uint64_t len;

		if (pos - s->snapshots_offset > QCOW2_MAX_L1_BYTES || pos > c->img->file_size ||
		    sizeof(h) > c->img->file_size - pos) {
			problem(c, true, "ERROR snapshot %" PRIu32 " lies past the end of the file", i);
			return 0;
		}
		r = io_pread_exact(c->img->fd, c->img->path, h, sizeof(h), pos, err);
		if (r < 0)
			return r;
		id_len = qcow2_get_be16(h + 12);
		name_len = qcow2_get_be16(h + 14);
		extra = qcow2_get_be32(h + 36);
		if (extra > QCOW2_MAX_SNAPSHOT_EXTRA) {
			problem(c, true, "ERROR snapshot %" PRIu32 " has %" PRIu32 " bytes of extra data",
				i, extra);
			return 0;
		}
		r = walk_l1(c, qcow2_get_be64(h), qcow2_get_be32(h + 8), false, WALK_COUNT, err);
		if (r < 0)
			return r;
		len = (sizeof(h) + extra + id_len + name_len + 7) & ~7ull;
		pos += len;
	}
	reference(c, s->snapshots_offset, pos - s->snapshots_offset, "snapshot table");
	return 0;
}

/* Reads the refcount table, counting it and its blocks; entries that do
 * not point at a readable block become 0 in the copy returned. */
static int load_reftable(struct check *c, uint64_t **out, uint64_t *n_out,
			 struct kvm_error *err)
{
	struct qcow2 *s = c->s;
	uint64_t bytes = (uint64_t)s->reftable_clusters << s->cluster_bits;
	uint64_t n = bytes / 8;
	uint8_t *raw;
	uint64_t *table;
	int r;

	reference(c, s->reftable_offset, bytes, "refcount table");
	raw = malloc(bytes ? bytes : 1);
	table = calloc(n ? n : 1, sizeof(*table));
	if (!raw || !table) {
		free(raw);
		free(table);
		return kvm_error_set(err, -ENOMEM, "%s: no memory for the refcount table",
				     c->img->path);
	}
	r = io_pread_exact(c->img->fd, c->img->path, raw, bytes, s->reftable_offset, err);
	for (uint64_t i = 0; r == 0 && i < n; i++) {
		uint64_t entry = qcow2_get_be64(raw + i * 8);
		uint64_t block = entry & QCOW2_REFTABLE_OFFSET_MASK;

		if (!entry)
			continue;
		if (entry & ~QCOW2_REFTABLE_OFFSET_MASK)
			problem(c, true, "ERROR refcount table entry %" PRIu64 " has reserved bits set", i);
		if (!block || !table_readable(c, block, s->cluster_size, "refcount block"))
			continue;
		reference(c, block, s->cluster_size, "refcount block");
		table[i] = block;
	}
	free(raw);
	if (r < 0) {
		free(table);
		return r;
	}
	*out = table;
	*n_out = n;
	return 0;
}

/* Compares the stored refcounts with the references, then leaves the
 * refcounts in c->counts for the COPIED check. */
static int compare_refcounts(struct check *c, const uint64_t *reftable, uint64_t n_blocks,
			     struct kvm_error *err)
{
	struct qcow2 *s = c->s;
	uint64_t per_block = 1ull << (s->cluster_bits + 3 - s->refcount_order);
	uint64_t loaded = UINT64_MAX, highest = 0;
	bool any = false;

	for (uint64_t i = 0; i < c->nb_clusters; i++) {
		uint64_t b = i / per_block, refcount = 0, refs = c->counts[i];

		if (b < n_blocks && reftable[b]) {
			if (loaded != b) {
				int r = io_pread_exact(c->img->fd, c->img->path, c->cluster,
						       s->cluster_size, reftable[b], err);

				if (r < 0)
					return r;
				loaded = b;
			}
			refcount = qcow2_refcount_get(c->cluster, i % per_block, s->refcount_order);
		}
		if (refcount) {
			highest = i;
			any = true;
		}
		if (refcount > refs)
			problem(c, false, "Leaked cluster %" PRIu64 " refcount=%" PRIu64
				" reference=%" PRIu64, i, refcount, refs);
		else if (refcount < refs)
			problem(c, true, "ERROR cluster %" PRIu64 " refcount=%" PRIu64
				" reference=%" PRIu64, i, refcount, refs);
		c->counts[i] = refcount < UINT32_MAX ? (uint32_t)refcount : UINT32_MAX;
	}
	c->res->image_end_offset = any ? (highest + 1) << s->cluster_bits : 0;
	return 0;
}

int qcow2_check(struct kvmi_image *img, struct kvmi_check_result *result,
		struct kvm_error *err)
{
	struct qcow2 *s = img->priv;
	struct check c = { .img = img, .s = s, .res = result };
	uint64_t *reftable = NULL, n_blocks = 0;
	int r;

	if (s->has_bitmaps && s->autoclear & QCOW2_AUTOCLEAR_BITMAPS)
		return kvm_error_set(err, -ENOTSUP,
				     "%s: checking images with persistent bitmaps is not supported",
				     img->path);
	c.nb_clusters = qcow2_clusters_of(img->file_size, s->cluster_bits);
	if (c.nb_clusters > QCOW2_CHECK_MAX_CLUSTERS)
		return kvm_error_set(err, -EFBIG,
				     "%s: too large to check: %" PRIu64 " clusters, at most %llu",
				     img->path, c.nb_clusters, QCOW2_CHECK_MAX_CLUSTERS);
	c.counts = calloc(c.nb_clusters ? c.nb_clusters : 1, sizeof(*c.counts));
	c.cluster = malloc(s->cluster_size);
	c.walked = malloc(c.nb_clusters / 8 + 1);
	if (!c.counts || !c.cluster || !c.walked) {
		r = kvm_error_set(err, -ENOMEM, "%s: no memory to check the refcounts", img->path);
		goto out;
	}
	result->total_clusters = qcow2_clusters_of(img->size, s->cluster_bits);

	reference(&c, 0, s->cluster_size, "header");
	r = walk_l1(&c, s->l1_offset, s->l1_disk_size, true, WALK_COUNT, err);
	if (r < 0)
		goto out;
	r = walk_snapshots(&c, err);
	if (r < 0)
		goto out;
	r = load_reftable(&c, &reftable, &n_blocks, err);
	if (r < 0)
		goto out;
	r = compare_refcounts(&c, reftable, n_blocks, err);
	if (r < 0)
		goto out;
	r = walk_l1(&c, s->l1_offset, s->l1_disk_size, true, WALK_COPIED, err);
out:
	free(reftable);
	free(c.counts);
	free(c.cluster);
	free(c.walked);
	return r;
}
