/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <errno.h>

#include "windows.h"

int windows_add(struct nb_tree *tree, const char *label, const struct profile_source *source,
		const char *name, const char *from, bool from_dir, const char *dest,
		struct kvm_error *err)
{
	return kvm_error_set(err, -ENOTSUP, "%s: Windows profiles are not built yet", name);
}
