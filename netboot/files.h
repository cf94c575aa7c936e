/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Whole files in and out; every output appears complete or not at all. */
#ifndef KVM_NETBOOT_FILES_H
#define KVM_NETBOOT_FILES_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "kvm-error.h"
#include "strbuf.h"

/* Appends the file at PATH to out; -EFBIG when it is larger than MAX. */
int files_read(const char *path, size_t max, struct strbuf *out, struct kvm_error *err);
int files_write(const char *path, const void *data, size_t len, bool replace, mode_t mode,
		struct kvm_error *err);
int files_copy(const char *source, const char *path, bool replace, mode_t mode,
	       struct kvm_error *err);
/* Writes what READ(ctx, buf, size) returns (bytes, 0 at the end, or -errno)
 * to PATH. */
int files_write_from(const char *path, bool replace, mode_t mode,
		     ssize_t (*read)(void *ctx, void *buf, size_t size), void *ctx,
		     const char *source, struct kvm_error *err);
/* mkdir -p of PATH, mode 0755. */
int files_mkdirs(const char *path, struct kvm_error *err);

#endif
