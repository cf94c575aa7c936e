/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include <libdeflate.h>
#include <zlib.h>
#include <zstd.h>

#include "codec.h"

/* The level QEMU and VMware use; what -c users expect in size. */
#define DEFLATE_LEVEL 6

/*
 * Each thread keeps its (de)compressors, made on first use and freed when
 * the thread ends, so that workers never share or reallocate them.
 */
struct codec_state {
	struct libdeflate_decompressor *inflater;
	struct libdeflate_compressor *zlib_deflater;
	z_stream qcow2_deflater;
	bool qcow2_deflater_ready;
	ZSTD_DCtx *zstd_d;
	ZSTD_CCtx *zstd_c;
};

static pthread_key_t state_key;
static pthread_once_t state_once = PTHREAD_ONCE_INIT;

static void state_free(void *opaque)
{
	struct codec_state *s = opaque;

	libdeflate_free_decompressor(s->inflater);
	libdeflate_free_compressor(s->zlib_deflater);
	if (s->qcow2_deflater_ready)
		deflateEnd(&s->qcow2_deflater);
	ZSTD_freeDCtx(s->zstd_d);
	ZSTD_freeCCtx(s->zstd_c);
	free(s);
}

static void state_key_make(void)
{
	pthread_key_create(&state_key, state_free);
}

static struct codec_state *state_get(void)
{
	struct codec_state *s;

	pthread_once(&state_once, state_key_make);
	s = pthread_getspecific(state_key);
	if (!s) {
		s = calloc(1, sizeof(*s));
		if (!s)
			return NULL;
		pthread_setspecific(state_key, s);
	}
	return s;
}

static int zstd_decompress(struct codec_state *s, const void *in, size_t in_len,
			   void *out, size_t out_len)
{
	ZSTD_inBuffer src = { in, in_len, 0 };
	ZSTD_outBuffer dst = { out, out_len, 0 };

	if (!s->zstd_d && !(s->zstd_d = ZSTD_createDCtx()))
		return -ENOMEM;
	ZSTD_DCtx_reset(s->zstd_d, ZSTD_reset_session_only);
	/* QEMU may write several frames for one cluster; padding after the
	 * last one fills the sector, so stop as soon as the cluster is full. */
	while (dst.pos < dst.size) {
		size_t in_before = src.pos, out_before = dst.pos;
		size_t r = ZSTD_decompressStream(s->zstd_d, &dst, &src);

		if (ZSTD_isError(r) || (src.pos == in_before && dst.pos == out_before))
			return -EIO;
	}
	return 0;
}

int codec_decompress(enum codec codec, const void *in, size_t in_len,
		     void *out, size_t out_len)
{
	struct codec_state *s = state_get();
	enum libdeflate_result r;
	size_t actual_out = 0, actual_in = 0;

	if (!s)
		return -ENOMEM;
	if (codec == CODEC_ZSTD)
		return zstd_decompress(s, in, in_len, out, out_len);

	if (!s->inflater && !(s->inflater = libdeflate_alloc_decompressor()))
		return -ENOMEM;
	if (codec == CODEC_DEFLATE)
		r = libdeflate_deflate_decompress_ex(s->inflater, in, in_len, out, out_len,
						     &actual_in, &actual_out);
	else
		r = libdeflate_zlib_decompress_ex(s->inflater, in, in_len, out, out_len,
						  &actual_in, &actual_out);
	if (r == LIBDEFLATE_SUCCESS && actual_out == out_len)
		return 0;
	/* A qcow2 cluster that inflates to more than a cluster is corrupt too. */
	return -EIO;
}

size_t codec_compress_bound(enum codec codec, size_t in_len)
{
	switch (codec) {
	case CODEC_DEFLATE:
		return deflateBound(NULL, in_len) + 16;
	case CODEC_ZLIB:
		return libdeflate_zlib_compress_bound(NULL, in_len);
	case CODEC_ZSTD:
		return ZSTD_compressBound(in_len);
	}
	return 0;
}

/*
 * qcow2's zlib clusters are raw deflate that QEMU inflates with a 4 KiB
 * window (windowBits -12); libdeflate cannot limit its window, so these
 * are made with zlib, as QEMU makes them.
 */
static size_t qcow2_deflate(struct codec_state *s, const void *in, size_t in_len,
			    void *out, size_t out_cap)
{
	z_stream *z = &s->qcow2_deflater;
	int r;

	if (!s->qcow2_deflater_ready) {
		if (deflateInit2(z, DEFLATE_LEVEL, Z_DEFLATED, -12, 9, Z_DEFAULT_STRATEGY) != Z_OK)
			return 0;
		s->qcow2_deflater_ready = true;
	} else if (deflateReset(z) != Z_OK) {
		return 0;
	}
	z->next_in = (Bytef *)in;
	z->avail_in = (uInt)in_len;
	z->next_out = out;
	z->avail_out = (uInt)out_cap;
	r = deflate(z, Z_FINISH);
	if (r != Z_STREAM_END)
		return 0;
	return out_cap - z->avail_out;
}

size_t codec_compress(enum codec codec, const void *in, size_t in_len,
		      void *out, size_t out_cap)
{
	struct codec_state *s = state_get();
	size_t r;

	if (!s)
		return 0;
	switch (codec) {
	case CODEC_DEFLATE:
		return qcow2_deflate(s, in, in_len, out, out_cap);
	case CODEC_ZLIB:
		if (!s->zlib_deflater && !(s->zlib_deflater = libdeflate_alloc_compressor(DEFLATE_LEVEL)))
			return 0;
		return libdeflate_zlib_compress(s->zlib_deflater, in, in_len, out, out_cap);
	case CODEC_ZSTD:
		if (!s->zstd_c && !(s->zstd_c = ZSTD_createCCtx()))
			return 0;
		r = ZSTD_compressCCtx(s->zstd_c, out, out_cap, in, in_len, ZSTD_CLEVEL_DEFAULT);
		return ZSTD_isError(r) ? 0 : r;
	}
	return 0;
}
