/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The answer-file server of one install: HTTP/1.0 GET of the files of one
 * folder, on 127.0.0.1 only, which QEMU's user network shows the guest as
 * 10.0.2.2.  It serves a handful of requests in a thread of its own and
 * counts them, so that progress can say the answer file was fetched.
 */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "http.h"
#include "path.h"

static void respond(int fd, const char *status, const char *body, size_t len)
{
	struct strbuf head = STRBUF_INIT;

	strbuf_addf(&head, "HTTP/1.0 %s\r\nContent-Length: %zu\r\n"
		    "Content-Type: text/plain\r\nConnection: close\r\n\r\n", status, len);
	if (write(fd, head.buf, head.len) == (ssize_t)head.len && body)
		for (size_t done = 0; done < len;) {
			ssize_t n = write(fd, body + done, len - done);

			if (n <= 0)
				break;
			done += (size_t)n;
		}
	strbuf_release(&head);
}

static void serve_one(struct http_server *server, int fd)
{
	char request[2048];
	size_t len = 0;
	struct strbuf body = STRBUF_INIT;
	char *name, *end;
	int file;

	/* The request line is all we need; a slow client gets 5 s. */
	while (len < sizeof(request) - 1 && !memchr(request, '\n', len)) {
		struct pollfd p = { .fd = fd, .events = POLLIN };
		ssize_t n;

		if (poll(&p, 1, 5000) <= 0)
			return;
		n = read(fd, request + len, sizeof(request) - 1 - len);
		if (n <= 0)
			return;
		len += (size_t)n;
	}
	request[len] = '\0';
	if (strncmp(request, "GET /", 5) != 0) {
		respond(fd, "405 Method Not Allowed", NULL, 0);
		return;
	}
	name = request + 5;
	end = name + strcspn(name, " \r\n?");
	*end = '\0';
	/* path_open_beneath refuses "..", absolute names and symlinks out. */
	file = *name ? path_open_beneath(server->dir, name, O_RDONLY, NULL) : -1;
	if (file < 0) {
		respond(fd, "404 Not Found", NULL, 0);
		return;
	}
	for (;;) {
		char chunk[8192];
		ssize_t n = read(file, chunk, sizeof(chunk));

		if (n <= 0)
			break;
		strbuf_add(&body, chunk, (size_t)n);
	}
	close(file);
	respond(fd, "200 OK", body.buf, body.len);
	strbuf_release(&body);
	atomic_fetch_add(&server->served, 1);
}

static void *serve(void *opaque)
{
	struct http_server *server = opaque;

	for (;;) {
		struct pollfd p[2] = {
			{ .fd = server->listen_fd, .events = POLLIN },
			{ .fd = server->stop_pipe[0], .events = POLLIN },
		};
		int fd;

		if (poll(p, 2, -1) < 0 && errno != EINTR)
			break;
		if (p[1].revents)
			break;
		if (!(p[0].revents & POLLIN))
			continue;
		fd = accept4(server->listen_fd, NULL, NULL, SOCK_CLOEXEC);
		if (fd < 0)
			continue;
		serve_one(server, fd);
		close(fd);
	}
	return NULL;
}

int http_server_start(struct http_server *server, const char *dir, struct kvm_error *err)
{
	struct sockaddr_in addr = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t addr_len = sizeof(addr);
	int ret;

	*server = (struct http_server){ .listen_fd = -1, .stop_pipe = { -1, -1 }, .dir = dir };
	server->listen_fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (server->listen_fd < 0 ||
	    bind(server->listen_fd, (struct sockaddr *)&addr, sizeof(addr)) < 0 ||
	    listen(server->listen_fd, 8) < 0 ||
	    getsockname(server->listen_fd, (struct sockaddr *)&addr, &addr_len) < 0 ||
	    pipe2(server->stop_pipe, O_CLOEXEC) < 0) {
		ret = kvm_error_errno(err, -errno, "the answer-file server on 127.0.0.1");
		goto fail;
	}
	server->port = ntohs(addr.sin_port);
	ret = -pthread_create(&server->thread, NULL, serve, server);
	if (ret < 0) {
		kvm_error_errno(err, ret, "the answer-file server's thread");
		goto fail;
	}
	server->running = true;
	return 0;
fail:
	http_server_stop(server);
	return ret;
}

void http_server_stop(struct http_server *server)
{
	if (server->running) {
		if (write(server->stop_pipe[1], "", 1) != 1)
			shutdown(server->listen_fd, SHUT_RDWR);
		pthread_join(server->thread, NULL);
		server->running = false;
	}
	for (int i = 0; i < 2; i++)
		if (server->stop_pipe[i] >= 0)
			close(server->stop_pipe[i]);
	if (server->listen_fd >= 0)
		close(server->listen_fd);
	server->listen_fd = server->stop_pipe[0] = server->stop_pipe[1] = -1;
}
