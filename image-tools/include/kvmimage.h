/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * libkvmimage: read, check and convert VMware and QEMU disk images.
 *
 * Every image is treated as untrusted input: sizes and offsets are checked
 * before use, files an image names must lie in its own folder unless
 * KVMI_OPEN_ALLOW_EXTERNAL is given, and memory use is bounded.  Functions
 * return 0 (or a count) on success and a negative errno on failure, with a
 * message naming the file and the problem in the struct kvm_error.
 */
#ifndef KVMIMAGE_H
#define KVMIMAGE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <json-c/json.h>

#include <kvm-error.h>

#ifdef __cplusplus
extern "C" {
#endif

#define KVMI_EXPORT __attribute__((visibility("default")))

struct kvmi_image;

enum kvmi_open_flags {
	/* Follow names of extents, backing and data files that lead outside
	 * the image's folder (absolute paths, "..", symlinks out). */
	KVMI_OPEN_ALLOW_EXTERNAL = 1u << 0,
	/* Do not open backing files or snapshot parents: what this layer does
	 * not hold reads as zeros. */
	KVMI_OPEN_NO_BACKING = 1u << 1,
};

struct kvmi_open_options {
	const char *format;	/* a driver name; NULL probes the file */
	unsigned flags;		/* enum kvmi_open_flags */
	/* An image that is a byte range of the file (a disk inside an OVA,
	 * an uncompressed tar): WINDOW_LENGTH bytes from WINDOW_OFFSET.  Both
	 * 0: the whole file. */
	uint64_t window_offset;
	uint64_t window_length;
	/* What messages call a windowed image ("vm.ova/disk1.vmdk"; NULL: the
	 * path).  Files it names are looked up beside that name, so an image
	 * inside an OVA cannot name extents or parents. */
	const char *name;
};

KVMI_EXPORT int kvmi_open(const char *path, const struct kvmi_open_options *opts,
			  struct kvmi_image **image, struct kvm_error *err);
KVMI_EXPORT void kvmi_close(struct kvmi_image *image);

KVMI_EXPORT const char *kvmi_format(const struct kvmi_image *image);
KVMI_EXPORT const char *kvmi_path(const struct kvmi_image *image);
KVMI_EXPORT uint64_t kvmi_virtual_size(const struct kvmi_image *image);
/* The image it reads through for what it does not hold, or NULL. */
KVMI_EXPORT struct kvmi_image *kvmi_backing(const struct kvmi_image *image);

/* Reads guest bytes, through the backing chain.  Safe to call from several
 * threads at once on one image. */
KVMI_EXPORT int kvmi_read(struct kvmi_image *image, void *buf, size_t len,
			  uint64_t offset, struct kvm_error *err);

/* One run of the guest address space that reads the same way. */
struct kvmi_extent {
	uint64_t start;
	uint64_t length;
	bool data;		/* holds data that must be read */
	bool zero;		/* reads as zeros */
	int depth;		/* 0: this image; n: n-th backing file; -1: none */
	const char *file;	/* the file the data lies in, or NULL */
	int64_t file_offset;	/* where in file, when plain; -1 otherwise */
};

/* Describes the run that starts at OFFSET, at most LENGTH bytes long,
 * resolved through the backing chain. */
KVMI_EXPORT int kvmi_block_status(struct kvmi_image *image, uint64_t offset,
				  uint64_t length, struct kvmi_extent *extent,
				  struct kvm_error *err);

/*
 * Facts about an image as a JSON object, with the keys qemu-img info uses:
 * "filename", "format", "virtual-size", "actual-size", "cluster-size",
 * "dirty-flag", "backing-filename", "backing-filename-format",
 * "format-specific" (driver-defined).  With BACKING_CHAIN, a JSON array of
 * such objects, the image first, then each layer below.  The caller puts it.
 */
KVMI_EXPORT int kvmi_info(struct kvmi_image *image, bool backing_chain,
			  struct json_object **info, struct kvm_error *err);

struct kvmi_check_result {
	uint64_t corruptions;
	uint64_t leaks;
	uint64_t check_errors;
	uint64_t allocated_clusters;
	uint64_t total_clusters;
	uint64_t image_end_offset;
	struct json_object *problems;	/* array of strings; caller puts it */
};

/* Checks the image's metadata.  -ENOTSUP when the format has no check. */
KVMI_EXPORT int kvmi_check(struct kvmi_image *image, struct kvmi_check_result *result,
			   struct kvm_error *err);

/* Returns 0 when A and B read the same (over the longer size, the shorter
 * reading as zeros past its end, as qemu-img compare does), 1 with the first
 * differing offset in *first_difference when they differ. */
KVMI_EXPORT int kvmi_compare(struct kvmi_image *a, struct kvmi_image *b,
			     uint64_t *first_difference, struct kvm_error *err);

/* The driver names kvmi_open and kvmi_convert accept, NULL-terminated. */
KVMI_EXPORT const char *const *kvmi_formats(void);
/* Whether a format can be written. */
KVMI_EXPORT bool kvmi_format_writable(const char *format);
/* Help on the -o options a format takes when written, one per line; the
 * caller frees it.  NULL for an unknown or read-only format. */
KVMI_EXPORT char *kvmi_format_options_help(const char *format);

/* "FORMAT" and "-o" options of an image to create. */
struct kvmi_create_options {
	const char *format;		/* default "qcow2" */
	const char *options;		/* "key=value,key=value" or NULL */
	bool compress;			/* -c: compress every cluster or grain */
	bool replace;			/* overwrite an existing file (--force) */
};

/* Creates an empty image of SIZE bytes. */
KVMI_EXPORT int kvmi_create(const char *path, uint64_t size,
			    const struct kvmi_create_options *opts, struct kvm_error *err);

typedef void (*kvmi_progress_fn)(void *opaque, uint64_t done, uint64_t total);

struct kvmi_convert_options {
	struct kvmi_create_options out;
	int threads;			/* 0: all online CPUs */
	kvmi_progress_fn progress;	/* called from one thread only */
	void *progress_opaque;
	/* NULL, or the file the new image is a layer over (qemu-img convert
	 * -B): named as the header keeps it, relative to PATH's folder, and
	 * inside it.  Its format is probed. */
	const char *backing;
};

/*
 * Writes the guest content of SRC, read through its backing chain, to a new
 * image at PATH.  With opts->backing, the new image holds only the grains
 * SRC's top layer holds (data, or zeros that hide the backing file's) and
 * reads the rest through the backing file, which should hold what SRC's
 * backing chain does.  The output appears under PATH only when complete.
 */
KVMI_EXPORT int kvmi_convert(struct kvmi_image *src, const char *path,
			     const struct kvmi_convert_options *opts, struct kvm_error *err);

/*
 * Makes SIGINT, SIGTERM and SIGHUP remove the partial output of a
 * conversion or creation in progress before the process dies of them.
 * Programs call it once at start-up; a handler they installed before is
 * still run afterwards.
 */
KVMI_EXPORT void kvmi_remove_partial_output_on_signals(void);

struct kvmi_measure {
	uint64_t required;		/* bytes the converted image takes */
	uint64_t fully_allocated;	/* bytes with every cluster allocated */
};

/* How much space converting SRC (or, when SRC is NULL, a new image of SIZE)
 * to the format in OPTS takes. */
KVMI_EXPORT int kvmi_measure(struct kvmi_image *src, uint64_t size,
			     const struct kvmi_create_options *opts,
			     struct kvmi_measure *measure, struct kvm_error *err);

#ifdef __cplusplus
}
#endif

#endif
