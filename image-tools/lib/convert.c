/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The convert pipeline, after qemu-img's convert_do_copy but parallel in
 * every stage that costs CPU:
 *
 *   - the source's allocation map is walked first, so holes and zero
 *     extents cost nothing and progress knows the amount of real data;
 *   - worker threads claim chunks of data in ascending order, read them
 *     (decompressing in the source driver), find all-zero grains and
 *     compress the rest when asked;
 *   - the calling thread alone hands grains to the output driver, in order
 *     of sequence number, so the output is the same whatever the number of
 *     threads;
 *   - a fixed ring of slots bounds the memory in flight; the first error
 *     stops everyone.
 *
 * Written over a backing file (qemu-img convert -B), the output holds only
 * the grains the source's top layer holds, data or zeros, read through the
 * source's chain; the rest is left to the backing file.
 */
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core.h"
#include "path.h"
#include "strbuf.h"
#include "xalloc.h"

/* Large enough that per-chunk overhead vanishes, small enough that a
 * sparse image is not read in big useless pieces. */
#define CHUNK_BYTES (1u << 20)
#define MAX_THREADS 64
/* The buffers of all slots together stay within this, so that the memory
 * a conversion takes does not grow with the number of CPUs. */
#define SLOTS_BUDGET (64u << 20)
/* Workers read, inflate and deflate with heap buffers: a small stack is
 * plenty, and keeps many of them within a modest address space. */
#define WORKER_STACK_BYTES (2u << 20)

struct slot {
	uint64_t seq;
	uint64_t offset;
	size_t len;
	bool ready;		/* processed, waiting for the writer */
	uint8_t *data;		/* chunk_len bytes, zero-padded to whole grains */
	uint8_t *compressed;	/* grains_per_chunk * compress_bound */
	size_t *compressed_len;	/* per grain; 0: store plainly */
	bool *zero;		/* per grain */
	bool *in_layer;		/* per grain: the top layer holds some of it */
};

struct pipeline {
	struct kvmi_image *src;
	struct image_writer *w;
	size_t chunk_len;
	size_t grains_per_chunk;
	/* Copy only what the source's top layer holds (a backed output). */
	bool top_layer_only;

	pthread_mutex_t lock;
	pthread_cond_t slot_free;
	pthread_cond_t slot_ready;
	struct slot *slots;
	size_t n_slots;
	uint64_t scan_offset;	/* where the next chunk search starts */
	uint64_t next_seq;
	uint64_t drained;	/* sequence numbers the writer is done with */
	bool scan_done;
	bool failed;
	struct kvm_error error;	/* the first one */
};

static void pipeline_fail(struct pipeline *p, const struct kvm_error *err)
{
	if (!p->failed) {
		p->failed = true;
		p->error = *err;
	}
	pthread_cond_broadcast(&p->slot_free);
	pthread_cond_broadcast(&p->slot_ready);
}

/* The run at OFFSET as the conversion sees it: through the chain, or of
 * the top layer alone; *COPY says whether it has to be written. */
static int copy_status(const struct pipeline *p, uint64_t offset, uint64_t length,
		       struct kvmi_extent *e, bool *copy, struct kvm_error *err)
{
	int r;

	if (p->top_layer_only) {
		r = image_layer_status(p->src, offset, length, e, err);
		*copy = e->depth == 0;
	} else {
		r = kvmi_block_status(p->src, offset, length, e, err);
		*copy = e->data;
	}
	return r;
}

/*
 * Finds the chunk holding data to copy at or after *scan and moves *scan
 * past it.  Returns 1 with the chunk, 0 when there is none left, or a
 * negative errno.
 */
static int next_data_chunk(const struct pipeline *p, uint64_t *scan, uint64_t *offset,
			   size_t *len, struct kvm_error *err)
{
	struct kvmi_image *src = p->src;
	size_t chunk_len = p->chunk_len;

	while (*scan < src->size) {
		struct kvmi_extent e;
		bool copy;
		int r = copy_status(p, *scan, src->size - *scan, &e, &copy, err);

		if (r < 0)
			return r;
		if (copy) {
			*offset = *scan - *scan % chunk_len;
			*len = src->size - *offset < chunk_len ? (size_t)(src->size - *offset)
							       : chunk_len;
			*scan = *offset + *len;
			return 1;
		}
		*scan += e.length;
	}
	return 0;
}

/* Claims the next chunk for a worker, under the lock; false when none. */
static bool claim_next_chunk(struct pipeline *p, uint64_t *offset, size_t *len)
{
	struct kvm_error err = { 0 };
	int r = next_data_chunk(p, &p->scan_offset, offset, len, &err);

	if (r < 0)
		pipeline_fail(p, &err);
	return r > 0;
}

static bool all_zero(const uint8_t *buf, size_t len)
{
	/* Compare the buffer with itself shifted: memcmp is vectorised. */
	return buf[0] == 0 && memcmp(buf, buf + 1, len - 1) == 0;
}

/* Marks the grains of the slot's chunk that the top layer holds any of. */
static int mark_layer_grains(struct pipeline *p, struct slot *s, struct kvm_error *err)
{
	uint32_t grain = p->w->grain;
	uint64_t offset = s->offset, end = s->offset + s->len;

	memset(s->in_layer, 0, p->grains_per_chunk * sizeof(*s->in_layer));
	while (offset < end) {
		struct kvmi_extent e;
		int r = image_layer_status(p->src, offset, end - offset, &e, err);

		if (r < 0)
			return r;
		if (e.depth == 0)
			for (uint64_t g = (offset - s->offset) / grain;
			     g * grain < offset + e.length - s->offset; g++)
				s->in_layer[g] = true;
		offset += e.length;
	}
	return 0;
}

static int process_chunk(struct pipeline *p, struct slot *s, struct kvm_error *err)
{
	uint32_t grain = p->w->grain;
	size_t n_grains = (s->len + grain - 1) / grain;
	int r = kvmi_read(p->src, s->data, s->len, s->offset, err);

	if (r < 0)
		return r;
	if (p->top_layer_only) {
		r = mark_layer_grains(p, s, err);
		if (r < 0)
			return r;
	}
	/* The last grain of a disk whose size is not a whole number of grains
	 * is compressed as a whole grain padded with zeros. */
	memset(s->data + s->len, 0, n_grains * grain - s->len);
	for (size_t i = 0; i < n_grains; i++) {
		uint8_t *g = s->data + i * grain;

		s->zero[i] = all_zero(g, grain);
		s->compressed_len[i] = 0;
		if (p->top_layer_only && !s->in_layer[i])
			continue;
		if (!s->zero[i] && p->w->compress)
			s->compressed_len[i] = p->w->drv->compress(p->w, g, grain,
					s->compressed + i * p->w->compress_bound);
	}
	return 0;
}

/*
 * Workers run as SCHED_BATCH: one woken for a freed slot then does not
 * preempt the writer, whose next write would wait behind a grain's worth
 * of inflating while the disk sits idle.  Measured on 2 CPUs, this took
 * a streamOptimized VMDK to raw from about 2.0 to 1.6 s, with the writer
 * waiting on the disk and nothing else.  Failure (a seccomp filter, say)
 * costs only that.
 */
static void worker_yield_to_writer(void)
{
	struct sched_param param = { .sched_priority = 0 };

	pthread_setschedparam(pthread_self(), SCHED_BATCH, &param);
}

static void *worker(void *opaque)
{
	struct pipeline *p = opaque;

	worker_yield_to_writer();
	pthread_mutex_lock(&p->lock);
	while (!p->failed) {
		struct kvm_error err = { 0 };
		uint64_t offset, seq;
		size_t len;
		struct slot *s;

		if (!claim_next_chunk(p, &offset, &len)) {
			p->scan_done = true;
			pthread_cond_broadcast(&p->slot_ready);
			break;
		}
		seq = p->next_seq++;
		s = &p->slots[seq % p->n_slots];
		/* Wait for this slot's previous sequence number to be written, not
		 * just for the slot to be free: a later number waiting for the same
		 * slot must not take it first, or the writer waits forever. */
		while (seq >= p->drained + p->n_slots && !p->failed)
			pthread_cond_wait(&p->slot_free, &p->lock);
		if (p->failed)
			break;
		s->ready = false;
		s->seq = seq;
		s->offset = offset;
		s->len = len;
		pthread_mutex_unlock(&p->lock);

		int r = process_chunk(p, s, &err);

		pthread_mutex_lock(&p->lock);
		if (r < 0) {
			pipeline_fail(p, &err);
			break;
		}
		s->ready = true;
		pthread_cond_broadcast(&p->slot_ready);
	}
	pthread_mutex_unlock(&p->lock);
	return NULL;
}

/* Grains I and on of S that are plain data, one run: how many. */
static size_t plain_run(const struct pipeline *p, const struct slot *s, size_t i, size_t grains)
{
	size_t n = 1;

	if (!p->w->plain_runs)
		return 1;
	while (i + n < grains && !s->zero[i + n] && !s->compressed_len[i + n] &&
	       (!p->top_layer_only || s->in_layer[i + n]))
		n++;
	return n;
}

static int write_chunk(struct pipeline *p, struct slot *s, struct kvm_error *err)
{
	uint32_t grain = p->w->grain;
	size_t grains = (s->len + grain - 1) / grain;

	for (size_t i = 0, n; i < grains; i += n) {
		uint64_t offset = s->offset + i * grain;
		size_t len = 0;
		int r;

		n = 1;
		if (p->top_layer_only && !s->in_layer[i])
			continue;
		if (s->zero[i] && p->top_layer_only) {
			r = p->w->drv->write_zero(p->w, offset, err);
		} else if (s->zero[i]) {
			continue;
		} else if (s->compressed_len[i]) {
			len = s->compressed_len[i];
			r = p->w->drv->write(p->w, offset, s->compressed + i * p->w->compress_bound,
					     grain, len, err);
		} else {
			n = plain_run(p, s, i, grains);
			len = i + n < grains ? n * grain : s->len - i * grain;
			r = p->w->drv->write(p->w, offset, s->data + i * grain, len, 0, err);
		}
		if (r < 0)
			return r;
		writer_written(p->w, len);
	}
	return 0;
}

/* The writer: consumes slots in sequence order on the calling thread. */
static void drain(struct pipeline *p, const struct kvmi_convert_options *opts,
		  uint64_t total)
{
	uint64_t done = 0;

	for (uint64_t seq = 0;; seq++) {
		struct slot *s = &p->slots[seq % p->n_slots];
		struct kvm_error err = { 0 };
		int r;

		pthread_mutex_lock(&p->lock);
		while (!p->failed && !(s->ready && s->seq == seq) &&
		       !(p->scan_done && seq >= p->next_seq))
			pthread_cond_wait(&p->slot_ready, &p->lock);
		if (p->failed || !(s->ready && s->seq == seq)) {
			pthread_mutex_unlock(&p->lock);
			return;
		}
		pthread_mutex_unlock(&p->lock);

		r = write_chunk(p, s, &err);

		pthread_mutex_lock(&p->lock);
		if (r < 0) {
			pipeline_fail(p, &err);
			pthread_mutex_unlock(&p->lock);
			return;
		}
		s->ready = false;
		p->drained = seq + 1;
		pthread_cond_broadcast(&p->slot_free);
		pthread_mutex_unlock(&p->lock);

		done += s->len;
		if (opts->progress)
			opts->progress(opts->progress_opaque, done, total);
	}
}

/* The bytes of the chunks that hold data: the work progress counts. */
static int count_data_chunks(const struct pipeline *p, uint64_t *total, struct kvm_error *err)
{
	struct kvmi_image *src = p->src;
	size_t chunk_len = p->chunk_len;
	struct mapping_budget budget = { NULL, 0 };
	uint64_t scan = 0, counted_end = 0;
	int r = 0;

	*total = 0;
	while (scan < src->size) {
		struct kvmi_extent e;
		uint64_t chunk;
		bool copy;

		r = copy_status(p, scan, src->size - scan, &e, &copy, err);
		if (r < 0)
			break;
		r = mapping_budget_add(src, &budget, &e, err);
		if (r < 0)
			break;
		/* Each chunk that holds data counts once, whole. */
		chunk = scan - scan % chunk_len;
		if (chunk < counted_end)
			chunk = counted_end;
		for (; copy && chunk < scan + e.length; chunk += chunk_len) {
			*total += src->size - chunk < chunk_len ? src->size - chunk : chunk_len;
			counted_end = chunk + chunk_len;
		}
		scan += e.length;
	}
	mapping_budget_release(&budget);
	return r;
}

static int slots_alloc(struct pipeline *p, size_t n, struct kvm_error *err)
{
	size_t bound = p->w->compress ? p->w->compress_bound : 0;

	p->slots = xcalloc(n, sizeof(*p->slots));
	p->n_slots = n;
	for (size_t i = 0; i < n; i++) {
		struct slot *s = &p->slots[i];
		void *data;

		/* Aligned for the writer's direct I/O. */
		s->data = posix_memalign(&data, 4096, p->grains_per_chunk * p->w->grain) ? NULL : data;
		s->compressed = bound ? malloc(p->grains_per_chunk * bound) : NULL;
		s->compressed_len = calloc(p->grains_per_chunk, sizeof(*s->compressed_len));
		s->zero = calloc(p->grains_per_chunk, sizeof(*s->zero));
		s->in_layer = calloc(p->grains_per_chunk, sizeof(*s->in_layer));
		if (!s->data || (bound && !s->compressed) || !s->compressed_len || !s->zero ||
		    !s->in_layer)
			return kvm_error_set(err, -ENOMEM, "%s: out of memory for conversion buffers",
					     p->w->path);
	}
	return 0;
}

static void slots_free(struct pipeline *p)
{
	for (size_t i = 0; i < p->n_slots; i++) {
		free(p->slots[i].data);
		free(p->slots[i].compressed);
		free(p->slots[i].compressed_len);
		free(p->slots[i].zero);
		free(p->slots[i].in_layer);
	}
	free(p->slots);
}

static int thread_count(const struct kvmi_convert_options *opts)
{
	long n = opts->threads > 0 ? opts->threads : sysconf(_SC_NPROCESSORS_ONLN);

	if (n < 1)
		n = 1;
	return n > MAX_THREADS ? MAX_THREADS : (int)n;
}

/* Converting an image onto itself (or a layer below it, or a file one
 * reads: an extent, a data file) would destroy the source even with
 * --force: refuse before anything is written. */
static int refuse_source_as_target(struct kvmi_image *src, const char *path,
				   struct kvm_error *err)
{
	struct stat target, layer;

	if (stat(path, &target) < 0)
		return 0;
	for (struct kvmi_image *img = src; img; img = img->backing) {
		if (fstat(img->fd, &layer) == 0 && layer.st_dev == target.st_dev &&
		    layer.st_ino == target.st_ino)
			return kvm_error_set(err, -EINVAL, "%s: is the source image %s; it is never overwritten",
					     path, img->path);
		for (size_t i = 0; i < img->n_named; i++)
			if (img->named[i].dev == target.st_dev && img->named[i].ino == target.st_ino)
				return kvm_error_set(err, -EINVAL,
						     "%s: is a file the source image %s reads; it is never overwritten",
						     path, img->path);
	}
	return 0;
}

/*
 * The file NAME that a layer written at PATH is to read through: it must
 * lie in PATH's folder by the rules kvmi_open applies when the layer is read
 * back, be an image whose own chain opens, and not be PATH itself.  Its
 * format goes into the header (*FORMAT, which the caller frees).
 */
static int probe_backing_target(const char *path, const char *name, char **format,
				struct kvm_error *err)
{
	struct strbuf dir = STRBUF_INIT, resolved = STRBUF_INIT;
	struct kvmi_image *backing = NULL;
	struct stat target, layer;
	int r;

	path_dirname(path, &dir);
	r = path_resolve_beneath(dir.buf, name, &resolved, err);
	if (r < 0) {
		kvm_error_prefix(err, "%s: backing file", path);
		goto out;
	}
	r = kvmi_open(resolved.buf, NULL, &backing, err);
	if (r < 0) {
		kvm_error_prefix(err, "%s: backing file", path);
		goto out;
	}
	if (stat(path, &target) == 0 && fstat(backing->fd, &layer) == 0 &&
	    target.st_dev == layer.st_dev && target.st_ino == layer.st_ino) {
		r = kvm_error_set(err, -EINVAL, "%s: cannot be its own backing file", path);
		goto out;
	}
	*format = xstrdup(kvmi_format(backing));
out:
	kvmi_close(backing);
	strbuf_release(&dir);
	strbuf_release(&resolved);
	return r;
}

/* The workers whose 2 slots each (and 2 more) fit in SLOTS_BUDGET. */
static int threads_within_budget(const struct pipeline *p, int wanted)
{
	size_t per_grain = p->w->grain + (p->w->compress ? p->w->compress_bound : 0);
	size_t slots = SLOTS_BUDGET / (p->grains_per_chunk * per_grain);
	int most = slots >= 4 ? (int)((slots - 2) / 2) : 1;

	return wanted < most ? wanted : most;
}

int kvmi_convert(struct kvmi_image *src, const char *path,
		 const struct kvmi_convert_options *opts, struct kvm_error *err)
{
	struct pipeline p = { .src = src };
	pthread_t threads[MAX_THREADS];
	int n_threads, started = 0, r;
	pthread_attr_t attr;
	char *backing_format = NULL;
	uint64_t total;

	r = refuse_source_as_target(src, path, err);
	if (r < 0)
		return r;
	if (opts->backing) {
		r = probe_backing_target(path, opts->backing, &backing_format, err);
		if (r < 0)
			goto out;
		p.top_layer_only = true;
	}
	r = writer_open(&p.w, path, src->size, &opts->out, opts->backing, backing_format, err);
	if (r < 0)
		goto out;

	p.chunk_len = CHUNK_BYTES > p.w->grain ? CHUNK_BYTES : p.w->grain;
	p.grains_per_chunk = p.chunk_len / p.w->grain;
	r = count_data_chunks(&p, &total, err);
	if (r < 0)
		goto out_writer;
	n_threads = threads_within_budget(&p, thread_count(opts));
	r = slots_alloc(&p, 2 * (size_t)n_threads + 2, err);
	if (r < 0)
		goto out_slots;

	pthread_mutex_init(&p.lock, NULL);
	pthread_cond_init(&p.slot_free, NULL);
	pthread_cond_init(&p.slot_ready, NULL);
	pthread_attr_init(&attr);
	pthread_attr_setstacksize(&attr, WORKER_STACK_BYTES);
	for (; started < n_threads; started++) {
		r = -pthread_create(&threads[started], &attr, worker, &p);
		/* Fewer workers than asked for only make it slower. */
		if (r < 0 && started > 0) {
			r = 0;
			break;
		}
		if (r < 0) {
			struct kvm_error e;

			kvm_error_errno(&e, r, "%s: cannot start a conversion thread", path);
			pthread_mutex_lock(&p.lock);
			pipeline_fail(&p, &e);
			pthread_mutex_unlock(&p.lock);
			break;
		}
	}
	pthread_attr_destroy(&attr);
	if (started > 0)
		drain(&p, opts, total);
	for (int i = 0; i < started; i++)
		pthread_join(threads[i], NULL);
	pthread_cond_destroy(&p.slot_ready);
	pthread_cond_destroy(&p.slot_free);
	pthread_mutex_destroy(&p.lock);

	if (p.failed) {
		r = p.error.code;
		if (err)
			*err = p.error;
		goto out_slots;
	}
	slots_free(&p);
	r = writer_commit(p.w, err);
	goto out;

out_slots:
	slots_free(&p);
out_writer:
	writer_abort(p.w);
out:
	free(backing_format);
	return r;
}
