/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The answer-file server of one install (http.c). */
#ifndef KVM_INSTALL_HTTP_H
#define KVM_INSTALL_HTTP_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>

#include "kvm-error.h"

struct http_server {
	const char *dir;		/* the files served, by name */
	int listen_fd;
	int stop_pipe[2];
	unsigned short port;		/* on 127.0.0.1 */
	atomic_uint served;		/* files sent so far */
	pthread_t thread;
	bool running;
};

/* Listens on 127.0.0.1 on a free port and serves DIR until stopped. */
int http_server_start(struct http_server *server, const char *dir, struct kvm_error *err);
void http_server_stop(struct http_server *server);

#endif
