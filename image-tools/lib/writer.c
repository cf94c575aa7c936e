/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Creating output images: temporary files, the driver's create, commit. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core.h"
#include "xalloc.h"

/* Output files are created like any new file: rw for whom umask allows. */
#define OUTPUT_MODE 0666

/* Guest data goes around the page cache.  Written through it, every byte
 * is copied into freshly allocated pages, which costs more CPU than the
 * conversion itself, then written back by the kernel after we exit, and it
 * evicts what the host had cached.  Direct writes go from our buffers to
 * the disk.  Reopened through /proc so that it is surely the same file;
 * where that or O_DIRECT is refused (ramfs, tmpfs before Linux 6.6, no
 * /proc) data goes through the page cache as before. */
static int writer_file_open(struct writer_file *f, const char *path, bool replace,
			    struct kvm_error *err)
{
	char self[64];
	int r = outfile_open(&f->out, path, replace, OUTPUT_MODE, err);

	f->direct_fd = -1;
	if (r < 0)
		return r;
	snprintf(self, sizeof(self), "/proc/self/fd/%d", f->out.fd);
	f->direct_fd = open(self, O_WRONLY | O_DIRECT | O_CLOEXEC);
	return 0;
}

static void writer_file_close_direct(struct writer_file *f)
{
	if (f->direct_fd >= 0)
		close(f->direct_fd);
	f->direct_fd = -1;
}

int writer_open(struct image_writer **out, const char *path, uint64_t size,
		const struct kvmi_create_options *opts, const char *backing_name,
		const char *backing_format, struct kvm_error *err)
{
	const struct image_driver *drv;
	struct option_list options;
	struct image_writer *w;
	int r;

	*out = NULL;
	r = driver_find_writable(opts->format ? opts->format : "qcow2", &drv, err);
	if (r < 0)
		return r;
	if (size > IMAGE_MAX_VIRTUAL_SIZE)
		return kvm_error_set(err, -EFBIG, "%s: size %llu is larger than %s can hold", path,
				     (unsigned long long)size, drv->name);
	r = options_parse(&options, opts->options, drv->create_options, drv->name, err);
	if (r < 0)
		return r;
	if (opts->compress && !drv->compress) {
		r = kvm_error_set(err, -EINVAL, "%s: format %s cannot be compressed", path, drv->name);
		goto out;
	}
	if (backing_name && !drv->write_zero) {
		r = kvm_error_set(err, -EINVAL, "%s: format %s cannot have a backing file", path,
				  drv->name);
		goto out;
	}

	w = xcalloc(1, sizeof(*w));
	w->drv = drv;
	w->size = size;
	w->compress = opts->compress;
	w->replace = opts->replace;
	w->path = xstrdup(path);
	w->backing_name = backing_name;
	w->backing_format = backing_format;
	r = writer_file_open(&w->main, path, opts->replace, err);
	if (r < 0) {
		writer_abort(w);
		goto out;
	}
	w->fd = w->main.out.fd;
	r = drv->create(w, &options, err);
	if (r < 0) {
		writer_abort(w);
		goto out;
	}
	if (w->grain < 512 || w->grain > (2u << 20) || (w->grain & (w->grain - 1))) {
		r = kvm_error_set(err, -EINVAL, "%s: driver %s chose a bad write unit %u", path,
				  drv->name, w->grain);
		writer_abort(w);
		goto out;
	}
	*out = w;
out:
	options_free(&options);
	return r;
}

/* What direct I/O asks of the buffer, the offset and the length on every
 * Linux file system (most ask only 512). */
#define DIRECT_ALIGN 4096u

static size_t direct_part(const uint8_t *p, size_t len, uint64_t off)
{
	if ((((uintptr_t)p | off) & (DIRECT_ALIGN - 1)) != 0)
		return 0;
	return len & ~(size_t)(DIRECT_ALIGN - 1);
}

static struct writer_file *writer_file_of(struct image_writer *w, int fd)
{
	for (size_t i = 0; i < w->n_extra; i++)
		if (w->extra[i].out.fd == fd)
			return &w->extra[i];
	return &w->main;
}

int writer_pwrite_data(struct image_writer *w, int fd, const void *buf, size_t len,
		       uint64_t off, struct kvm_error *err)
{
	struct writer_file *f = writer_file_of(w, fd);
	const char *path = f->out.path;
	const uint8_t *p = buf;
	size_t head = (size_t)(-off & (DIRECT_ALIGN - 1)), direct;
	int r;

	if (f->direct_fd < 0 || head >= len)
		return io_pwrite_all(fd, path, p, len, off, err);
	direct = direct_part(p + head, len - head, off + head);
	if (!direct)
		return io_pwrite_all(fd, path, p, len, off, err);
	if (head) {
		r = io_pwrite_all(fd, path, p, head, off, err);
		if (r < 0)
			return r;
		p += head;
		off += head;
		len -= head;
	}
	while (direct > 0) {
		ssize_t n = pwrite(f->direct_fd, p, direct, (off_t)off);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EINVAL) {
			/* Alignment this file system does not take: the page
			 * cache it is, for the rest of the conversion. */
			writer_file_close_direct(f);
			break;
		}
		if (n < 0)
			return kvm_error_errno(err, -errno, "%s: write at offset 0x%" PRIx64 " failed",
					       path, off);
		p += n;
		off += (uint64_t)n;
		len -= (size_t)n;
		direct -= (size_t)n;
		/* A short write leaves an unaligned rest: through the cache. */
		if (direct_part(p, direct, off) != direct)
			break;
	}
	return io_pwrite_all(fd, path, p, len, off, err);
}

int writer_add_file(struct image_writer *w, const char *path, int *fd, struct kvm_error *err)
{
	struct writer_file *f;
	int r;

	w->extra = xrealloc(w->extra, (w->n_extra + 1) * sizeof(*w->extra));
	f = &w->extra[w->n_extra];
	memset(f, 0, sizeof(*f));
	r = writer_file_open(f, path, w->replace, err);
	if (r < 0)
		return r;
	w->n_extra++;
	*fd = f->out.fd;
	return 0;
}

/* Without a push the kernel starts writing only when a tenth of memory is
 * dirty, so a conversion smaller than that would wait for all of its output
 * at the final flush.  Pushing every few MiB keeps the disk busy meanwhile. */
#define WRITEBACK_BATCH (16u << 20)

void writer_written(struct image_writer *w, uint64_t bytes)
{
	w->unflushed += bytes;
	if (w->unflushed < WRITEBACK_BATCH)
		return;
	w->unflushed = 0;
	for (size_t i = 0; i < w->n_extra; i++)
		outfile_start_writeback(&w->extra[i].out);
	outfile_start_writeback(&w->main.out);
}

static void writer_free(struct image_writer *w)
{
	for (size_t i = 0; i < w->n_extra; i++)
		writer_file_close_direct(&w->extra[i]);
	writer_file_close_direct(&w->main);
	if (w->drv->writer_free)
		w->drv->writer_free(w);
	free(w->extra);
	free((char *)w->path);
	free(w);
}

int writer_commit(struct image_writer *w, struct kvm_error *err)
{
	int r = w->drv->finish(w, err);

	/* Extents before the descriptor that names them, so that the main
	 * name never points at files that are not there yet. */
	for (size_t i = 0; r >= 0 && i < w->n_extra; i++)
		r = outfile_commit(&w->extra[i].out, err);
	if (r >= 0)
		r = outfile_commit(&w->main.out, err);
	if (r < 0) {
		writer_abort(w);
		return r;
	}
	writer_free(w);
	return 0;
}

void writer_abort(struct image_writer *w)
{
	if (!w)
		return;
	for (size_t i = 0; i < w->n_extra; i++)
		outfile_abort(&w->extra[i].out);
	outfile_abort(&w->main.out);
	writer_free(w);
}

int kvmi_create(const char *path, uint64_t size, const struct kvmi_create_options *opts,
		struct kvm_error *err)
{
	struct image_writer *w;
	int r = writer_open(&w, path, size, opts, NULL, NULL, err);

	if (r < 0)
		return r;
	return writer_commit(w, err);
}

void kvmi_remove_partial_output_on_signals(void)
{
	outfile_install_signal_cleanup();
}

int kvmi_measure(struct kvmi_image *src, uint64_t size, const struct kvmi_create_options *opts,
		 struct kvmi_measure *measure, struct kvm_error *err)
{
	const struct image_driver *drv;
	struct option_list options;
	int r;

	r = driver_find_writable(opts->format ? opts->format : "qcow2", &drv, err);
	if (r < 0)
		return r;
	if (!drv->measure)
		return kvm_error_set(err, -ENOTSUP, "%s: format cannot be measured", drv->name);
	r = options_parse(&options, opts->options, drv->create_options, drv->name, err);
	if (r < 0)
		return r;
	r = drv->measure(&options, src ? src->size : size, src, opts->compress, measure, err);
	options_free(&options);
	return r;
}
