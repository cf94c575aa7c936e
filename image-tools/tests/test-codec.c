/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <zlib.h>

#include "codec.h"
#include "tap.h"

#define GRAIN 65536

static void fill(unsigned char *buf, size_t len, unsigned seed)
{
	for (size_t i = 0; i < len; i++)
		buf[i] = (unsigned char)((i / 7) * seed + (i >> 11));
}

static int round_trip(enum codec codec, const unsigned char *in, size_t len)
{
	size_t bound = codec_compress_bound(codec, len);
	unsigned char *packed = malloc(bound + 512), *out = malloc(len);
	size_t n = codec_compress(codec, in, len, packed, bound);
	int ok = n > 0 && n < len;

	/* qcow2 keeps whole sectors: what follows the stream must not matter. */
	memset(packed + n, 0xA5, 512);
	ok = ok && codec_decompress(codec, packed, n + (codec == CODEC_ZLIB ? 0 : 512), out, len) == 0;
	ok = ok && memcmp(in, out, len) == 0;
	free(packed);
	free(out);
	return ok;
}

/* QEMU inflates qcow2 clusters with a 4 KiB window: ours must fit in it. */
static int inflates_with_qemu_window(const unsigned char *in, size_t len)
{
	size_t bound = codec_compress_bound(CODEC_DEFLATE, len);
	unsigned char *packed = malloc(bound), *out = malloc(len);
	size_t n = codec_compress(CODEC_DEFLATE, in, len, packed, bound);
	z_stream z = { 0 };
	int ok = inflateInit2(&z, -12) == Z_OK;

	z.next_in = packed;
	z.avail_in = (uInt)n;
	z.next_out = out;
	z.avail_out = (uInt)len;
	ok = ok && inflate(&z, Z_FINISH) == Z_STREAM_END && z.total_out == len &&
	     memcmp(in, out, len) == 0;
	inflateEnd(&z);
	free(packed);
	free(out);
	return ok;
}

static void *thread_round_trips(void *opaque)
{
	unsigned char *in = malloc(GRAIN);
	intptr_t ok = 1;

	fill(in, GRAIN, (unsigned)(uintptr_t)opaque);
	for (int i = 0; i < 50; i++)
		ok &= round_trip(CODEC_ZLIB, in, GRAIN) & round_trip(CODEC_ZSTD, in, GRAIN) &
		      round_trip(CODEC_DEFLATE, in, GRAIN);
	free(in);
	return (void *)ok;
}

int main(void)
{
	unsigned char *in = malloc(GRAIN), *out = malloc(GRAIN);
	unsigned char garbage[600];
	pthread_t threads[4];

	fill(in, GRAIN, 3);
	CHECK(round_trip(CODEC_DEFLATE, in, GRAIN));
	CHECK(round_trip(CODEC_ZLIB, in, GRAIN));
	CHECK(round_trip(CODEC_ZSTD, in, GRAIN));
	CHECK(inflates_with_qemu_window(in, GRAIN));

	memset(garbage, 0x5A, sizeof(garbage));
	CHECK_INT(codec_decompress(CODEC_DEFLATE, garbage, sizeof(garbage), out, GRAIN), -EIO);
	CHECK_INT(codec_decompress(CODEC_ZLIB, garbage, sizeof(garbage), out, GRAIN), -EIO);
	CHECK_INT(codec_decompress(CODEC_ZSTD, garbage, sizeof(garbage), out, GRAIN), -EIO);

	/* A stream that inflates to less than a grain is as bad as garbage. */
	{
		size_t bound = codec_compress_bound(CODEC_ZLIB, 4096);
		unsigned char *packed = malloc(bound);
		size_t n = codec_compress(CODEC_ZLIB, in, 4096, packed, bound);

		CHECK_INT(codec_decompress(CODEC_ZLIB, packed, n, out, GRAIN), -EIO);
		free(packed);
	}

	for (int i = 0; i < 4; i++)
		pthread_create(&threads[i], NULL, thread_round_trips, (void *)(uintptr_t)(i + 5));
	for (int i = 0; i < 4; i++) {
		void *ok;

		pthread_join(threads[i], &ok);
		CHECK(ok == (void *)1);
	}
	free(in);
	free(out);
	return tap_done();
}
