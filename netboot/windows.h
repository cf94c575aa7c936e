/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Windows profiles: Windows PE booted over the network (wimboot, when the
 * user gives it, with a BCD written with hivex), setup's files on a
 * read-only Samba share, the answer file and virtio-win drivers wired in.
 */
#ifndef KVM_NETBOOT_WINDOWS_H
#define KVM_NETBOOT_WINDOWS_H

#include <stdbool.h>

#include "kvm-error.h"
#include "profile.h"
#include "tree.h"

int windows_add(struct nb_tree *tree, const char *label, const struct profile_source *source,
		const char *name, const char *from, bool from_dir, const char *dest,
		struct kvm_error *err);

#endif
