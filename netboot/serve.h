/* SPDX-License-Identifier: GPL-2.0-or-later */
/* kvm-netboot serve: dnsmasq as a child, the HTTP server, the callbacks. */
#ifndef KVM_NETBOOT_SERVE_H
#define KVM_NETBOOT_SERVE_H

#include <stdbool.h>

#include "kvm-error.h"

struct serve_options {
	const char *tree;
	const char *interface;
	const char *dhcp_range;	/* "FROM,TO", or NULL for proxy-DHCP only */
	unsigned http_port;	/* 0: the tree's */
	bool secure_boot;	/* UEFI clients get shim and GRUB, not iPXE */
};

/* Serves until SIGTERM or SIGINT; returns 0 then, or a negative errno. */
int serve_run(const struct serve_options *options, struct kvm_error *err);

#endif
