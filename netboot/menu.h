/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The menus of the three loaders, generated from the tree's description:
 *
 *   pxelinux  boot/pxelinux.cfg/default, boot/pxelinux.cfg/ID
 *   GRUB      boot/grub/grub.cfg, boot/grub/hosts/MAC.cfg
 *   iPXE      boot/boot.ipxe, boot/menu.ipxe, boot/hosts/ID.ipxe
 *
 * The menu's default, after the timeout, is the local disk; a host's entry
 * installs its profile, or boots locally once the host is installed.
 */
#ifndef KVM_NETBOOT_MENU_H
#define KVM_NETBOOT_MENU_H

#include "kvm-error.h"
#include "strbuf.h"
#include "tree.h"

enum menu_loader {
	MENU_PXELINUX,
	MENU_GRUB,
	MENU_IPXE,
};

/* The menu of LOADER, or with HOST, that host's entry. */
void menu_render(const struct nb_tree *tree, enum menu_loader loader,
		 const struct nb_host *host, struct strbuf *out);

/* Writes every menu and host entry of the tree. */
int menu_render_all(const struct nb_tree *tree, struct kvm_error *err);

/* Removes the files of HOST's entry. */
void menu_remove_host(const struct nb_tree *tree, const struct nb_host *host);

/* "http://SERVER:PORT", the base of every URL the menus give. */
void menu_base_url(const struct nb_tree *tree, struct strbuf *out);

#endif
