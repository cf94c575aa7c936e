/* SPDX-License-Identifier: GPL-2.0-or-later */
/* --fix-guest in a build without libguestfs: kvmi_import refuses it. */
#include <errno.h>

#include "import.h"

bool kvmi_import_can_fix_guest(void)
{
	return false;
}

int fix_guest(const struct import_vm *vm, char *const *disk_paths, size_t n_disks,
	      const char *format, const char *virtio_win, struct import_target *target,
	      struct json_object *fixes, struct kvm_error *err)
{
	return kvm_error_set(err, -ENOTSUP, "%s: --fix-guest needs libguestfs", disk_paths[0]);
}
