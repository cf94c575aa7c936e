/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Shared by the parts of --fix-guest: the libguestfs handle on the guest
 * and how a part says what it changed or why it failed. */
#ifndef KVM_IMPORT_FIX_GUEST_H
#define KVM_IMPORT_FIX_GUEST_H

#include <guestfs.h>

#include "import.h"

struct fixer {
	guestfs_h *g;
	const char *root;
	struct json_object *fixes;
	struct kvm_error *err;
	const char *disk;	/* the first disk, for messages */
};

/* Adds a line to the report's list of what was changed in the guest. */
void fixer_note(struct fixer *f, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Fills f->err from libguestfs's last error and returns -EIO. */
int fixer_failed(struct fixer *f, const char *what);

/*
 * Puts the virtio-win storage and network drivers for the guest's Windows
 * version and architecture, read from the ISO VIRTIO_WIN, into the mounted
 * Windows guest: boot-start services and critical device entries in its
 * SYSTEM hive, and a first-logon step that installs them with pnputil.
 * Reads everything it needs from the ISO before it changes the guest.
 */
int fix_windows(struct fixer *f, const char *virtio_win);

#endif
