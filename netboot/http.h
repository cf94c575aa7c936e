/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The HTTP server of kvm-netboot serve (libmicrohttpd): the tree's boot/
 * folder read-only and without listings, the answer files of hosts still
 * to be installed, and the installers' callbacks.
 */
#ifndef KVM_NETBOOT_HTTP_H
#define KVM_NETBOOT_HTTP_H

#include <netinet/in.h>

#include "kvm-error.h"

struct http_server;

/* Listens on ADDRESS (the interface's) only; serves the tree at DIR. */
int http_start(const char *dir, const struct sockaddr_in *address, struct http_server **out,
	       struct kvm_error *err);
void http_stop(struct http_server *server);

#endif
