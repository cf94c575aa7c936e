/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Allocation of small, bounded objects (names, messages, option lists).
 * Running out of memory for those leaves nothing sensible to do, so these
 * abort, as git's xmalloc does.  Buffers whose size comes from an image or
 * the user are allocated with plain malloc and checked, never with these.
 */
#ifndef KVM_XALLOC_H
#define KVM_XALLOC_H

#include <stddef.h>

void *xmalloc(size_t size);
void *xcalloc(size_t n, size_t size);
void *xrealloc(void *ptr, size_t size);
char *xstrdup(const char *s);
char *xstrndup(const char *s, size_t n);

#endif
