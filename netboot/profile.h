/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * OS install profiles: what to take from an installer's ISO or folder and
 * how to boot it.  Each is a JSON file in DATADIR/profiles/ (see
 * netboot/profiles/README.md for its fields).
 */
#ifndef KVM_NETBOOT_PROFILE_H
#define KVM_NETBOOT_PROFILE_H

#include <stdbool.h>
#include <stdio.h>

#include "kvm-error.h"
#include "progress.h"
#include "tree.h"

struct profile_source {
	const char *profile;	/* debian-12, fedora, windows-11, ... */
	const char *from;	/* an ISO or a folder; NULL: the profile's default */
	const char *name;	/* the name in the tree; NULL: PROFILE */
	const char *append;	/* more kernel arguments */
	const char *wimboot;
	const char *virtio_win;
	bool force;
	enum progress_mode progress;
};

/* Lists the profiles that can be added, one a line with their summary. */
int profile_list(FILE *out, struct kvm_error *err);

/* Copies the profile's files into TREE and records it there. */
int profile_add(struct nb_tree *tree, const struct profile_source *source,
		struct kvm_error *err);

/* Writes every file of the ISO at SOURCE under DEST, read with libarchive;
 * names that would leave DEST are skipped. */
int profile_extract_iso(const char *source, const char *dest, enum progress_mode mode,
			struct kvm_error *err);

#endif
