/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The settings for a site's DHCP service, in its own syntax. */
#ifndef KVM_NETBOOT_EXPORT_H
#define KVM_NETBOOT_EXPORT_H

#include <stdio.h>

#include "kvm-error.h"
#include "tree.h"

enum export_format {
	EXPORT_DNSMASQ,
	EXPORT_KEA,
	EXPORT_ISC_DHCPD,
};

int export_format_from_name(const char *name, enum export_format *format);
int export_print(FILE *out, const struct nb_tree *tree, enum export_format format,
		 const char *server, struct kvm_error *err);

#endif
