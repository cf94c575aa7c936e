/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <microhttpd.h>

#include "files.h"
#include "http.h"
#include "log.h"
#include "menu.h"
#include "path.h"
#include "strbuf.h"
#include "tree.h"
#include "xalloc.h"

/* An answer file is a page or two; refuse to serve anything much larger. */
#define ANSWERS_MAX_BYTES (4 << 20)

struct http_server {
	struct MHD_Daemon *daemon;
	char *dir;
	char *boot;
};

static void client_address(struct MHD_Connection *connection, struct strbuf *out)
{
	const union MHD_ConnectionInfo *info =
		MHD_get_connection_info(connection, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
	const struct sockaddr_in *sin = info ? (const struct sockaddr_in *)info->client_addr : NULL;
	char text[INET_ADDRSTRLEN];

	if (sin && sin->sin_family == AF_INET && inet_ntop(AF_INET, &sin->sin_addr, text, sizeof(text)))
		strbuf_addstr(out, text);
	else
		strbuf_addch(out, '?');
}

static enum MHD_Result reply_text(struct MHD_Connection *connection, unsigned status,
				  const char *text)
{
	struct MHD_Response *response =
		MHD_create_response_from_buffer(strlen(text), (void *)text, MHD_RESPMEM_MUST_COPY);
	enum MHD_Result ret;

	if (!response)
		return MHD_NO;
	MHD_add_response_header(response, MHD_HTTP_HEADER_CONTENT_TYPE, "text/plain");
	ret = MHD_queue_response(connection, status, response);
	MHD_destroy_response(response);
	return ret;
}

/* "01-" and six lower-case hex pairs joined by dashes. */
static bool valid_host_id(const char *id, size_t len)
{
	struct strbuf check = STRBUF_INIT;
	char mac[18];
	bool ok;

	if (len != 20 || strncmp(id, "01-", 3) != 0)
		return false;
	memcpy(mac, id + 3, 17);
	mac[17] = '\0';
	ok = host_id_from_mac(mac, &check, NULL) == 0 && strncmp(check.buf, id, 20) == 0;
	strbuf_release(&check);
	return ok;
}

/* The installer says it is done: the host boots locally from now on. */
static unsigned callback(struct http_server *server, const char *id, struct strbuf *body)
{
	struct nb_tree tree;
	struct kvm_error err = { 0 };
	struct nb_host *host;
	unsigned status = MHD_HTTP_OK;

	if (tree_open(server->dir, true, &tree, &err) < 0) {
		log_error("%s", err.message);
		return MHD_HTTP_INTERNAL_SERVER_ERROR;
	}
	host = tree_find_host(&tree, id);
	if (!host) {
		strbuf_addf(body, "no host %s\n", id);
		status = MHD_HTTP_NOT_FOUND;
	} else if (host->installed) {
		strbuf_addf(body, "%s: already installed\n", id);
	} else {
		host->installed = true;
		if (tree_save(&tree, &err) < 0) {
			log_error("%s", err.message);
			status = MHD_HTTP_INTERNAL_SERVER_ERROR;
		} else {
			log_notice("host %s installed %s: it boots its local disk from now on",
				   id, host->profile);
			strbuf_addf(body, "%s: installed; it boots locally from now on\n", id);
		}
	}
	tree_close(&tree);
	return status;
}

/* The answer file of a host still to be installed, with @CALLBACK_URL@
 * replaced.  Cloud-init (Ubuntu's autoinstall) asks for user-data and
 * meta-data below the URL it was given. */
static unsigned answers(struct http_server *server, const char *id, const char *rest,
			struct strbuf *body)
{
	struct nb_tree tree;
	struct kvm_error err = { 0 };
	struct nb_host *host;
	struct strbuf path = STRBUF_INIT, text = STRBUF_INIT, url = STRBUF_INIT;
	unsigned status = MHD_HTTP_NOT_FOUND;

	if (strcmp(rest, "") != 0 && strcmp(rest, "/user-data") != 0 &&
	    strcmp(rest, "/meta-data") != 0)
		return MHD_HTTP_NOT_FOUND;
	if (tree_open(server->dir, false, &tree, &err) < 0) {
		log_error("%s", err.message);
		return MHD_HTTP_INTERNAL_SERVER_ERROR;
	}
	host = tree_find_host(&tree, id);
	if (!host || host->installed)
		goto out;
	if (strcmp(rest, "/meta-data") == 0) {
		strbuf_addf(body, "instance-id: %s\n", id);
		status = MHD_HTTP_OK;
		goto out;
	}
	strbuf_addf(&path, "%s/" TREE_HOSTS "/%s.answers", server->dir, id);
	if (files_read(path.buf, ANSWERS_MAX_BYTES, &text, &err) < 0) {
		log_error("%s", err.message);
		goto out;
	}
	menu_base_url(&tree, &url);
	strbuf_addf(&url, "/callback/%s", id);
	for (const char *c = text.buf; *c; ) {
		const char *token = strstr(c, "@CALLBACK_URL@");

		if (!token) {
			strbuf_addstr(body, c);
			break;
		}
		strbuf_add(body, c, (size_t)(token - c));
		strbuf_addstr(body, url.buf);
		c = token + strlen("@CALLBACK_URL@");
	}
	status = MHD_HTTP_OK;
out:
	tree_close(&tree);
	strbuf_release(&path);
	strbuf_release(&text);
	strbuf_release(&url);
	return status;
}

/* A file of boot/: confined by the kernel (openat2 RESOLVE_BENEATH), no
 * folder listed. */
static enum MHD_Result static_file(struct http_server *server, struct MHD_Connection *connection,
				   const char *url, unsigned *status)
{
	struct MHD_Response *response;
	struct stat st;
	enum MHD_Result ret;
	int fd;

	if (url[1] == '\0') {
		*status = MHD_HTTP_NOT_FOUND;
		return reply_text(connection, *status, "not found\n");
	}
	fd = path_open_beneath(server->boot, url + 1, O_RDONLY, NULL);
	if (fd == -EPERM || fd == -EXDEV) {
		*status = MHD_HTTP_FORBIDDEN;
		return reply_text(connection, *status, "outside the tree\n");
	}
	if (fd < 0 || fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		if (fd >= 0)
			close(fd);
		*status = MHD_HTTP_NOT_FOUND;
		return reply_text(connection, *status, "not found\n");
	}
	response = MHD_create_response_from_fd64((uint64_t)st.st_size, fd);
	if (!response) {
		close(fd);
		return MHD_NO;
	}
	*status = MHD_HTTP_OK;
	ret = MHD_queue_response(connection, *status, response);
	MHD_destroy_response(response);
	return ret;
}

/* Whether URL names something outside the tree, whatever is there. */
static bool escapes(const char *url)
{
	if (url[0] != '/' || strchr(url, '\\'))
		return true;
	for (const char *c = url; *c; ) {
		size_t len;

		while (*c == '/')
			c++;
		len = strcspn(c, "/");
		if (len == 2 && c[0] == '.' && c[1] == '.')
			return true;
		c += len;
	}
	return false;
}

static enum MHD_Result handle(void *cls, struct MHD_Connection *connection, const char *url,
			      const char *method, const char *version, const char *upload_data,
			      size_t *upload_data_size, void **state)
{
	static int first_call;
	struct http_server *server = cls;
	bool post = strcmp(method, MHD_HTTP_METHOD_POST) == 0;
	bool is_callback = strncmp(url, "/callback/", 10) == 0;
	struct strbuf body = STRBUF_INIT, client = STRBUF_INIT;
	unsigned status = 0;
	enum MHD_Result ret;

	/* The first call only announces the request; a POST's body (which
	 * the callback ignores) comes in the calls after it. */
	if (*state == NULL) {
		*state = &first_call;
		return MHD_YES;
	}
	if (*upload_data_size) {
		*upload_data_size = 0;
		return MHD_YES;
	}
	client_address(connection, &client);
	if (strcmp(method, MHD_HTTP_METHOD_GET) != 0 && strcmp(method, MHD_HTTP_METHOD_HEAD) != 0 &&
	    !(post && is_callback)) {
		status = MHD_HTTP_METHOD_NOT_ALLOWED;
		ret = reply_text(connection, status, "read-only\n");
	} else if (escapes(url)) {
		status = MHD_HTTP_FORBIDDEN;
		ret = reply_text(connection, status, "outside the tree\n");
	} else if (is_callback) {
		status = valid_host_id(url + 10, strlen(url + 10))
			 ? callback(server, url + 10, &body) : MHD_HTTP_NOT_FOUND;
		ret = reply_text(connection, status, body.buf);
	} else if (strncmp(url, "/answers/", 9) == 0) {
		char id[21] = "";

		if (strlen(url + 9) >= 20 && valid_host_id(url + 9, 20))
			memcpy(id, url + 9, 20);
		status = id[0] ? answers(server, id, url + 29, &body) : MHD_HTTP_NOT_FOUND;
		ret = reply_text(connection, status, status == MHD_HTTP_OK ? body.buf : "not found\n");
	} else {
		ret = static_file(server, connection, url, &status);
	}
	log_notice("http %s %s %s %u", client.buf, method, url, status);
	strbuf_release(&body);
	strbuf_release(&client);
	return ret;
}

int http_start(const char *dir, const struct sockaddr_in *address, struct http_server **out,
	       struct kvm_error *err)
{
	struct http_server *server = xcalloc(1, sizeof(*server));
	struct strbuf boot = STRBUF_INIT;
	char text[INET_ADDRSTRLEN];

	server->dir = xstrdup(dir);
	strbuf_addf(&boot, "%s/" TREE_BOOT, dir);
	server->boot = strbuf_detach(&boot);
	server->daemon = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL,
					  ntohs(address->sin_port), NULL, NULL, handle, server,
					  MHD_OPTION_SOCK_ADDR, (const struct sockaddr *)address,
					  MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)60,
					  MHD_OPTION_END);
	if (!server->daemon) {
		int code = errno ? -errno : -EADDRINUSE;

		inet_ntop(AF_INET, &address->sin_addr, text, sizeof(text));
		http_stop(server);
		return kvm_error_errno(err, code, "HTTP server on %s port %u", text,
				       ntohs(address->sin_port));
	}
	*out = server;
	return 0;
}

void http_stop(struct http_server *server)
{
	if (!server)
		return;
	if (server->daemon)
		MHD_stop_daemon(server->daemon);
	free(server->dir);
	free(server->boot);
	free(server);
}
