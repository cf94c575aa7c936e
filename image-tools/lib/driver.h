/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The interface between libkvmimage's core and its format drivers.
 *
 * A driver is one file (or one prefix of files) in formats/ and one const
 * struct image_driver, listed in registry.c.  The core probes, opens backing
 * chains, confines named files, runs the convert pipeline and formats
 * output; a driver only knows its on-disk layout.
 */
#ifndef KVMI_DRIVER_H
#define KVMI_DRIVER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "kvmimage.h"
#include "options.h"
#include "outfile.h"

/* Caps that keep a hostile image from making us allocate or loop without
 * bound; each is far above what any real image needs. */
#define IMAGE_MAX_TABLE_BYTES (32u << 20)	/* one metadata table */
#define IMAGE_MAX_DESCRIPTOR_BYTES (1u << 20)	/* a text descriptor */
#define IMAGE_MAX_CHAIN_DEPTH 64		/* backing files / parents */
/* Tables and caches of all the layers of one chain together, so that a
 * deep chain of layers with big tables stays inside 256 MiB as well. */
#define IMAGE_MAX_CHAIN_METADATA_BYTES (128u << 20)
#define IMAGE_MAX_VIRTUAL_SIZE (1ull << 55)	/* 32 PiB */

/* A file, told apart from others by its device and inode. */
struct file_id {
	dev_t dev;
	ino_t ino;
};

/* An open image, as a driver sees it. */
struct kvmi_image {
	const struct image_driver *drv;
	char *path;		/* as opened */
	char *dir;		/* the folder whose files it may name */
	int fd;			/* read-only */
	uint64_t file_size;
	unsigned flags;		/* enum kvmi_open_flags */
	int depth;		/* 0 for the top of a chain */
	struct kvmi_image *top;	/* the chain's top layer, which keeps: */
	uint64_t metadata_bytes;	/* what image_charge_metadata() granted */

	/* Set by the driver's open. */
	uint64_t size;		/* virtual size in bytes */
	uint32_t cluster_size;	/* allocation unit; 0 when none */
	char *backing_name;	/* file this layer reads through, as named */
	char *backing_format;	/* its driver, or NULL to probe */
	void *priv;

	/* Opened by the core after the driver's open, from backing_name. */
	struct kvmi_image *backing;

	/* The files image_open_named() opened for it (extents, data files):
	 * a conversion never writes over one. */
	struct file_id *named;
	size_t n_named;
};

enum block_kind {
	BLOCK_DATA,		/* stored in this layer */
	BLOCK_ZERO,		/* this layer says: zeros */
	BLOCK_UNALLOCATED,	/* not in this layer: the backing decides */
};

struct block_status {
	enum block_kind kind;
	uint64_t length;	/* bytes from the offset asked, >= 1 */
	const char *file;	/* BLOCK_DATA stored plainly: the file */
	int64_t file_offset;	/* and where in it; -1 when not plain */
};

/* A file of an image being written: its temporary file, and the same
 * file opened O_DIRECT for guest data (-1 where that is refused). */
struct writer_file {
	struct outfile out;
	int direct_fd;
};

/* An image being written; the core creates the files, a driver fills them. */
struct image_writer {
	const struct image_driver *drv;
	const char *path;	/* the final name of the main file */
	int fd;			/* its temporary file */
	uint64_t size;		/* virtual size */
	bool compress;		/* -c */
	/* Set by the driver's create: the write unit, a power of two from 512
	 * to 2 MiB.  write() gets one unit at a time, in ascending order. */
	uint32_t grain;
	/* Set by create when compress is supported: the most bytes compress()
	 * may produce for one grain. */
	size_t compress_bound;
	/* Set by create when write() takes plain data of several adjacent
	 * grains in one call, so that it can write them at once. */
	bool plain_runs;
	/* A layer over a backing file: the name the header gives it (read
	 * relative to the image's folder) and its format; NULL otherwise. */
	const char *backing_name;
	const char *backing_format;
	void *priv;

	/* The core's: the main file, and further files (VMDK extents), which
	 * are committed before it. */
	struct writer_file main;
	struct writer_file *extra;
	size_t n_extra;
	bool replace;
	uint64_t unflushed;	/* bytes written since writeback last started */
};

struct image_driver {
	const char *name;
	const char *description;

	/* How surely HEAD (the first bytes of the file, LEN of them, at most
	 * 4 KiB) is this format: 0 not at all, 100 certain.  Raw says 1. */
	int (*probe)(const uint8_t *head, size_t len, const char *path);

	/* Reads the metadata and sets size and the other fields above.  On
	 * failure it frees what it made and leaves priv NULL. */
	int (*open)(struct kvmi_image *img, struct kvm_error *err);
	void (*close)(struct kvmi_image *img);

	/* Describes the run that starts at OFFSET (< img->size), at most
	 * MAX_LENGTH long.  Must be safe to call from several threads. */
	int (*block_status)(struct kvmi_image *img, uint64_t offset, uint64_t max_length,
			    struct block_status *status, struct kvm_error *err);

	/* Reads guest bytes of this layer; parts it does not hold come from
	 * image_read_backing().  Must be safe to call from several threads. */
	int (*read)(struct kvmi_image *img, void *buf, size_t len, uint64_t offset,
		    struct kvm_error *err);

	/* Optional: adds "cluster-size", "dirty-flag" and the like to INFO,
	 * and whatever else it knows under "format-specific". */
	int (*info)(struct kvmi_image *img, struct json_object *info, struct kvm_error *err);

	/* Optional: counts corruptions and leaks of the metadata. */
	int (*check)(struct kvmi_image *img, struct kvmi_check_result *result,
		     struct kvm_error *err);

	/* Optional: verifies that img->backing is the parent this layer was
	 * made on (VMDK's CID and parentCID). */
	int (*check_backing)(struct kvmi_image *img, struct kvm_error *err);

	/* Writing; all NULL for a read-only format. */
	const struct option_desc *create_options;
	int (*create)(struct image_writer *w, const struct option_list *opts,
		      struct kvm_error *err);
	/* Compresses one grain of LEN bytes into OUT (w->compress_bound bytes)
	 * and returns the compressed length, or 0 when the grain should be
	 * stored as it is.  Called from several threads at once. */
	size_t (*compress)(struct image_writer *w, const void *in, size_t len, void *out);
	/* Stores the grain at guest OFFSET; COMPRESSED_LEN is 0 for plain data
	 * of LEN bytes (a run of grains, with plain_runs).  Grains that read
	 * as zeros are never passed. */
	int (*write)(struct image_writer *w, uint64_t offset, const void *buf, size_t len,
		     size_t compressed_len, struct kvm_error *err);
	/* Optional; a format without it cannot be written over a backing
	 * file.  Makes the grain at guest OFFSET read as zeros whatever the
	 * backing file holds there; called in the same order as write(). */
	int (*write_zero)(struct image_writer *w, uint64_t offset, struct kvm_error *err);
	/* Writes the tables, footers and descriptors once all grains are in. */
	int (*finish)(struct image_writer *w, struct kvm_error *err);
	/* Frees priv; also called after a failed create (priv may be NULL). */
	void (*writer_free)(struct image_writer *w);

	/* Optional: space needed for an image of SIZE with ALLOCATED bytes of
	 * data, counted in the grain the options give. */
	int (*measure)(const struct option_list *opts, uint64_t size,
		       struct kvmi_image *src, bool compress, struct kvmi_measure *m,
		       struct kvm_error *err);
};

extern const struct image_driver raw_driver;
extern const struct image_driver qcow2_driver;
extern const struct image_driver vmdk_driver;

/* ---- Services of the core for drivers ---- */

/* Reads exactly LEN bytes at OFF of fd; a short read is an error naming
 * NAME ("truncated"). */
int io_pread_exact(int fd, const char *name, void *buf, size_t len, uint64_t off,
		   struct kvm_error *err);
int io_pwrite_all(int fd, const char *name, const void *buf, size_t len, uint64_t off,
		  struct kvm_error *err);

/* The run of FD that starts at OFFSET, at most MAX_LENGTH long, as the
 * file system stores it: *DATA false for a hole, which reads as zeros. */
uint64_t io_data_run(int fd, uint64_t offset, uint64_t max_length, bool *data);

/* Opens a file NAME that img names (extent, data file), read-only, subject
 * to confinement unless KVMI_OPEN_ALLOW_EXTERNAL.  On success *resolved
 * (when not NULL) gets a heap copy of the path opened. */
int image_open_named(struct kvmi_image *img, const char *name, char **resolved,
		     struct kvm_error *err);

/* Counts BYTES of tables or cache (WHAT, for the message) that IMG's open
 * is about to allocate against the chain's metadata budget; fails, naming
 * IMG, when the chain would pass IMAGE_MAX_CHAIN_METADATA_BYTES. */
int image_charge_metadata(struct kvmi_image *img, uint64_t bytes, const char *what,
			  struct kvm_error *err);

/* Reads what this layer does not hold: from the backing image, zeros
 * where there is none or where it ends. */
int image_read_backing(struct kvmi_image *img, void *buf, size_t len, uint64_t offset,
		       struct kvm_error *err);

/* Sum of the bytes SRC holds as data, counted in whole GRAIN units. */
int image_count_allocated(struct kvmi_image *src, uint32_t grain, uint64_t *bytes,
			  struct kvm_error *err);

/* Writes guest data at OFF to FD, the main file or a further one: the
 * 4 KiB-aligned part with direct I/O where the file system allows it, the
 * rest through the page cache.  Drivers use it for data and
 * io_pwrite_all() for metadata. */
int writer_pwrite_data(struct image_writer *w, int fd, const void *buf, size_t len,
		       uint64_t off, struct kvm_error *err);

/* Creates the temporary file for a further output file at PATH (beside
 * the main one) and returns its descriptor. */
int writer_add_file(struct image_writer *w, const char *path, int *fd,
		    struct kvm_error *err);

#endif
