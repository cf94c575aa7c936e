/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Confinement of names found in untrusted files.  A disk image may name
 * other files (VMDK extents, qcow2 backing and data files, VMDK parents);
 * such a name is only followed when it stays inside the folder of the image
 * that names it: no absolute path, no "..", no protocol prefix, and no
 * symlink on the way that leads out.
 */
#ifndef KVM_PATH_H
#define KVM_PATH_H

#include <stdbool.h>

#include "kvm-error.h"
#include "strbuf.h"

/* "nbd:", "http://", "json:" and the like, which QEMU would interpret. */
bool path_has_protocol(const char *name);

/*
 * Resolves NAME inside DIR into the canonical path of an existing file,
 * appended to resolved.  Fails with -EPERM and a message saying which rule
 * NAME breaks, or with the errno of a missing file.
 */
int path_resolve_beneath(const char *dir, const char *name,
			 struct strbuf *resolved, struct kvm_error *err);

/*
 * Opens NAME inside DIR with open(2) FLAGS, refusing the same names as
 * path_resolve_beneath.  The kernel enforces the confinement (openat2 with
 * RESOLVE_BENEATH), so a symlink swapped in after the check cannot escape.
 * Returns the file descriptor or a negative errno.
 */
int path_open_beneath(const char *dir, const char *name, int flags,
		      struct kvm_error *err);

/* The folder part of PATH ("." when it has none), appended to out. */
void path_dirname(const char *path, struct strbuf *out);

/* The last component of PATH. */
const char *path_basename(const char *path);

#endif
