/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Sizes as users write them: 512, 64k, 8G, 1.5T (powers of 1024). */
#ifndef KVM_SIZE_H
#define KVM_SIZE_H

#include <stdint.h>

#include "kvm-error.h"

/* Parses S into bytes; a bare number is bytes. -EINVAL or -ERANGE on error. */
int size_parse(const char *s, uint64_t *bytes, struct kvm_error *err);

#endif
