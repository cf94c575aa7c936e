/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The boot loaders a tree holds, copied from the system's packages. */
#ifndef KVM_NETBOOT_LOADERS_H
#define KVM_NETBOOT_LOADERS_H

#include "kvm-error.h"
#include "tree.h"

/* Names in boot/ that dnsmasq and export hand out. */
#define LOADER_BIOS "undionly.kpxe"
#define LOADER_UEFI "snponly.efi"
#define LOADER_UEFI_HTTP "ipxe.efi"
#define LOADER_PXELINUX "pxelinux.0"
#define LOADER_SHIM "bootx64.efi"
#define IPXE_SCRIPT "boot.ipxe"

/*
 * Copies every loader found on the system into TREE's boot/; warns about
 * those that are missing.  Fails only when none of iPXE's is there, as
 * serve needs them.
 */
int loaders_install(const struct nb_tree *tree, struct kvm_error *err);

#endif
