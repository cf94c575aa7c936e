// SPDX-License-Identifier: GPL-2.0-or-later
#include <ctype.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "strbuf.h"
#include "xalloc.h"

/* Where an empty buffer points, so buf is never NULL and needs no malloc. */
char strbuf_empty[1];

static _Noreturn void strbuf_overflow(void)
{
	fprintf(stderr, "fatal: string buffer size overflow\n");
	abort();
}

void strbuf_init(struct strbuf *sb, size_t hint)
{
	sb->buf = strbuf_empty;
	sb->len = 0;
	sb->alloc = 0;
	if (hint)
		strbuf_grow(sb, hint);
}

void strbuf_release(struct strbuf *sb)
{
	if (sb->alloc)
		free(sb->buf);
	strbuf_init(sb, 0);
}

void strbuf_reset(struct strbuf *sb)
{
	strbuf_setlen(sb, 0);
}

char *strbuf_detach(struct strbuf *sb)
{
	char *s;

	if (!sb->alloc)
		strbuf_grow(sb, 0);
	s = sb->buf;
	strbuf_init(sb, 0);
	return s;
}

void strbuf_grow(struct strbuf *sb, size_t extra)
{
	size_t want, alloc;

	if (extra > SIZE_MAX - 1 - sb->len)
		strbuf_overflow();
	want = sb->len + extra + 1;
	if (sb->alloc && want <= sb->alloc)
		return;
	alloc = sb->alloc;
	/* Grow by half again, as git's ALLOC_GROW, to keep appends amortised. */
	alloc = alloc > (SIZE_MAX - 16) / 3 * 2 ? SIZE_MAX : (alloc + 16) * 3 / 2;
	if (alloc < want)
		alloc = want;
	if (!sb->alloc) {
		sb->buf = xmalloc(alloc);
		sb->buf[0] = '\0';
	} else {
		sb->buf = xrealloc(sb->buf, alloc);
	}
	sb->alloc = alloc;
}

void strbuf_setlen(struct strbuf *sb, size_t len)
{
	if (!sb->alloc) {
		if (len)
			strbuf_overflow();
		return;
	}
	if (len >= sb->alloc)
		strbuf_overflow();
	sb->len = len;
	sb->buf[len] = '\0';
}

void strbuf_add(struct strbuf *sb, const void *data, size_t len)
{
	if (!len)
		return;
	strbuf_grow(sb, len);
	memcpy(sb->buf + sb->len, data, len);
	strbuf_setlen(sb, sb->len + len);
}

void strbuf_addstr(struct strbuf *sb, const char *s)
{
	strbuf_add(sb, s, strlen(s));
}

void strbuf_addch(struct strbuf *sb, char c)
{
	strbuf_grow(sb, 1);
	sb->buf[sb->len] = c;
	strbuf_setlen(sb, sb->len + 1);
}

void strbuf_addf(struct strbuf *sb, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	strbuf_vaddf(sb, fmt, ap);
	va_end(ap);
}

void strbuf_vaddf(struct strbuf *sb, const char *fmt, va_list ap)
{
	va_list cp;
	int len;

	/* Room for a short result first, so most calls format only once. */
	strbuf_grow(sb, 64);
	va_copy(cp, ap);
	len = vsnprintf(sb->buf + sb->len, sb->alloc - sb->len, fmt, cp);
	va_end(cp);
	if (len < 0) {
		sb->buf[sb->len] = '\0';
		return;
	}
	if ((size_t)len >= sb->alloc - sb->len) {
		strbuf_grow(sb, len);
		va_copy(cp, ap);
		len = vsnprintf(sb->buf + sb->len, sb->alloc - sb->len, fmt, cp);
		va_end(cp);
		if (len < 0) {
			sb->buf[sb->len] = '\0';
			return;
		}
	}
	strbuf_setlen(sb, sb->len + len);
}

void strbuf_rtrim(struct strbuf *sb)
{
	size_t len = sb->len;

	while (len && isspace((unsigned char)sb->buf[len - 1]))
		len--;
	if (len != sb->len)
		strbuf_setlen(sb, len);
}
