/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * A growable, always NUL-terminated string buffer, in the manner of git's
 * strbuf.h: every string the bundle builds goes through one, never through
 * sprintf into a fixed array.
 */
#ifndef KVM_STRBUF_H
#define KVM_STRBUF_H

#include <stdarg.h>
#include <stddef.h>

struct strbuf {
	char *buf;	/* never NULL; points at a static "" until first growth */
	size_t len;
	size_t alloc;
};

extern char strbuf_empty[];
#define STRBUF_INIT { .buf = strbuf_empty, .len = 0, .alloc = 0 }

void strbuf_init(struct strbuf *sb, size_t hint);
void strbuf_release(struct strbuf *sb);
void strbuf_reset(struct strbuf *sb);
/* Returns the heap string and leaves sb empty; the caller frees it. */
char *strbuf_detach(struct strbuf *sb);
/* Ensures room for extra more bytes plus the terminating NUL. */
void strbuf_grow(struct strbuf *sb, size_t extra);
void strbuf_setlen(struct strbuf *sb, size_t len);

void strbuf_add(struct strbuf *sb, const void *data, size_t len);
void strbuf_addstr(struct strbuf *sb, const char *s);
void strbuf_addch(struct strbuf *sb, char c);
void strbuf_addf(struct strbuf *sb, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
void strbuf_vaddf(struct strbuf *sb, const char *fmt, va_list ap)
	__attribute__((format(printf, 2, 0)));

/* Removes trailing white space (newlines from a child's output, mostly). */
void strbuf_rtrim(struct strbuf *sb);

#endif
