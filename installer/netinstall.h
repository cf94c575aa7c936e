/* SPDX-License-Identifier: GPL-2.0-or-later */
/* --netboot: the installer booted from a kvm-netboot tree (netinstall.c). */
#ifndef KVM_INSTALL_NETINSTALL_H
#define KVM_INSTALL_NETINSTALL_H

#include "kvm-error.h"
#include "strbuf.h"

/* The guest's network card: QEMU's own default, alone on its user network. */
#define NETINSTALL_MAC "52:54:00:12:34:56"
#define NETINSTALL_HOST_ID "01-52-54-00-12-34-56"
/* The BIOS loader QEMU's DHCP names: it works with any PXE ROM and reads
 * the host's entry and the kernel over TFTP alone. */
#define NETINSTALL_LOADER "pxelinux.0"

struct netinstall {
	const char *workdir;		/* the tree is made in it */
	const char *profile;		/* the tree's profile and host entry take its name */
	const char *kernel, *initrd;	/* what the direct boot would boot */
	const char *cmdline;		/* and its kernel command line */
	const char *answer;		/* the rendered answer file, in workdir */
	unsigned http_port;		/* kvm-install's answer-file server */
	struct strbuf tftp_root;	/* out: the tree's boot/ folder */
};

/*
 * Makes a kvm-netboot tree in workdir/netboot by running kvm-netboot: the
 * kernel and initrd as a profile, and a host entry for NETINSTALL_MAC with
 * the answer file.  The answer file is also linked where the entry's
 * kvm_netboot.answers URL points on kvm-install's server.
 */
int netinstall_prepare(struct netinstall *n, struct kvm_error *err);

/* Removes what netinstall_prepare made in WORKDIR. */
void netinstall_remove(const char *workdir);

#endif
