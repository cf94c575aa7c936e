/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Whole-buffer (de)compression of grains and clusters, with libdeflate
 * (about 2.5 times zlib's speed here) and libzstd.  Each thread keeps its
 * own (de)compressor, so these may be called from many threads at once.
 */
#ifndef KVMI_CODEC_H
#define KVMI_CODEC_H

#include <stddef.h>

enum codec {
	CODEC_DEFLATE,		/* raw deflate: qcow2 compression_type=zlib */
	CODEC_ZLIB,		/* zlib stream: VMDK grains */
	CODEC_ZSTD,		/* zstd frame: qcow2 compression_type=zstd */
};

/*
 * Decompresses IN into exactly OUT_LEN bytes of OUT.  Input that does not
 * decompress, or gives fewer or more bytes, is -EIO.  For CODEC_DEFLATE and
 * CODEC_ZSTD, trailing bytes after the end of the stream are allowed (qcow2
 * stores compressed clusters in whole sectors).
 */
int codec_decompress(enum codec codec, const void *in, size_t in_len,
		     void *out, size_t out_len);

/* The most bytes codec_compress can produce from IN_LEN bytes. */
size_t codec_compress_bound(enum codec codec, size_t in_len);

/* Compresses IN into OUT (room for OUT_CAP bytes); returns the length, or 0
 * when it does not fit. */
size_t codec_compress(enum codec codec, const void *in, size_t in_len,
		      void *out, size_t out_cap);

#endif
