/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <json-c/json.h>

#include "files.h"
#include "loaders.h"
#include "menu.h"
#include "tree.h"
#include "xalloc.h"

bool valid_profile_name(const char *name)
{
	if (!name[0] || name[0] == '.' || strlen(name) > 64)
		return false;
	for (const char *c = name; *c; c++)
		if (!islower((unsigned char)*c) && !isdigit((unsigned char)*c) &&
		    *c != '.' && *c != '-' && *c != '_')
			return false;
	return true;
}

int host_id_from_mac(const char *mac, struct strbuf *id, struct kvm_error *err)
{
	strbuf_reset(id);
	strbuf_addstr(id, "01");
	for (int i = 0; i < 6; i++) {
		const char *p = mac + i * 3;

		if (!isxdigit((unsigned char)p[0]) || !isxdigit((unsigned char)p[1]) ||
		    (i < 5 && p[2] != ':' && p[2] != '-') || (i == 5 && p[2] != '\0'))
			return kvm_error_set(err, -EINVAL, "%s: not a MAC address "
					     "(like 52:54:00:12:34:56)", mac);
		strbuf_addch(id, '-');
		strbuf_addch(id, (char)tolower((unsigned char)p[0]));
		strbuf_addch(id, (char)tolower((unsigned char)p[1]));
	}
	return 0;
}

void host_mac(const struct nb_host *host, struct strbuf *mac)
{
	/* The ID is "01-" and the MAC with dashes. */
	for (const char *c = host->id + 3; *c; c++)
		strbuf_addch(mac, *c == '-' ? ':' : *c);
}

void tree_path(const struct nb_tree *tree, const char *part, struct strbuf *out)
{
	strbuf_addf(out, "%s/%s", tree->dir, part);
}

void nb_profile_release(struct nb_profile *p)
{
	if (!p)
		return;
	free(p->name);
	free(p->label);
	free(p->family);
	free(p->kernel);
	for (char **i = p->initrds; i && *i; i++)
		free(*i);
	free(p->initrds);
	free(p->append);
	free(p->append_auto);
	memset(p, 0, sizeof(*p));
}

static void host_release(struct nb_host *h)
{
	free(h->id);
	free(h->profile);
}

void tree_close(struct nb_tree *tree)
{
	if (!tree)
		return;
	for (size_t i = 0; i < tree->n_profiles; i++)
		nb_profile_release(&tree->profiles[i]);
	for (size_t i = 0; i < tree->n_hosts; i++)
		host_release(&tree->hosts[i]);
	free(tree->profiles);
	free(tree->hosts);
	free(tree->dir);
	free(tree->server);
	if (tree->lock_fd >= 0)
		close(tree->lock_fd);
	memset(tree, 0, sizeof(*tree));
	tree->lock_fd = -1;
}

struct nb_profile *tree_find_profile(struct nb_tree *tree, const char *name)
{
	for (size_t i = 0; i < tree->n_profiles; i++)
		if (strcmp(tree->profiles[i].name, name) == 0)
			return &tree->profiles[i];
	return NULL;
}

struct nb_host *tree_find_host(struct nb_tree *tree, const char *id)
{
	for (size_t i = 0; i < tree->n_hosts; i++)
		if (strcmp(tree->hosts[i].id, id) == 0)
			return &tree->hosts[i];
	return NULL;
}

void tree_put_profile(struct nb_tree *tree, struct nb_profile *p)
{
	struct nb_profile *old = tree_find_profile(tree, p->name);

	if (old) {
		nb_profile_release(old);
	} else {
		tree->profiles = xrealloc(tree->profiles,
					  (tree->n_profiles + 1) * sizeof(*tree->profiles));
		old = &tree->profiles[tree->n_profiles++];
	}
	*old = *p;
	memset(p, 0, sizeof(*p));
}

void tree_put_host(struct nb_tree *tree, const char *id, const char *profile)
{
	struct nb_host *host = tree_find_host(tree, id);

	if (!host) {
		tree->hosts = xrealloc(tree->hosts, (tree->n_hosts + 1) * sizeof(*tree->hosts));
		host = &tree->hosts[tree->n_hosts++];
		host->id = xstrdup(id);
	} else {
		free(host->profile);
	}
	host->profile = xstrdup(profile);
	host->installed = false;
}

int tree_remove_host(struct nb_tree *tree, const char *id)
{
	struct nb_host *host = tree_find_host(tree, id);
	size_t index;

	if (!host)
		return -ENOENT;
	index = (size_t)(host - tree->hosts);
	menu_remove_host(tree, host);
	host_release(host);
	memmove(host, host + 1, (tree->n_hosts - index - 1) * sizeof(*host));
	tree->n_hosts--;
	return 0;
}

int tree_store_answers(struct nb_tree *tree, const char *source, const char *part,
		       struct kvm_error *err)
{
	struct strbuf path = STRBUF_INIT;
	int ret;

	tree_path(tree, part, &path);
	if (source)
		ret = files_copy(source, path.buf, true, 0600, err);
	else
		ret = files_write(path.buf, "", 0, true, 0600, err);
	strbuf_release(&path);
	return ret;
}

/* The string member KEY of OBJ, or NULL. */
static const char *get_string(struct json_object *obj, const char *key)
{
	struct json_object *value;

	if (!json_object_object_get_ex(obj, key, &value) ||
	    json_object_get_type(value) != json_type_string)
		return NULL;
	return json_object_get_string(value);
}

static char *dup_or_empty(const char *s)
{
	return xstrdup(s ? s : "");
}

static int parse_profile(struct json_object *obj, struct nb_profile *p)
{
	struct json_object *initrds;
	const char *name = get_string(obj, "name"), *kernel = get_string(obj, "kernel");
	size_t n = 0;

	if (!name || !valid_profile_name(name) || !kernel)
		return -EINVAL;
	p->name = xstrdup(name);
	p->kernel = xstrdup(kernel);
	p->label = dup_or_empty(get_string(obj, "label"));
	p->family = dup_or_empty(get_string(obj, "family"));
	p->append = dup_or_empty(get_string(obj, "append"));
	p->append_auto = dup_or_empty(get_string(obj, "append-auto"));
	if (json_object_object_get_ex(obj, "initrds", &initrds) &&
	    json_object_get_type(initrds) == json_type_array)
		n = json_object_array_length(initrds);
	p->initrds = xcalloc(n + 1, sizeof(*p->initrds));
	for (size_t i = 0; i < n; i++) {
		const char *s = json_object_get_string(json_object_array_get_idx(initrds, i));

		p->initrds[i] = xstrdup(s ? s : "");
	}
	return 0;
}

static int parse_description(struct json_object *root, struct nb_tree *tree)
{
	struct json_object *value, *list;
	const char *server = get_string(root, "server");

	if (json_object_get_type(root) != json_type_object)
		return -EINVAL;
	if (server)
		tree->server = xstrdup(server);
	tree->http_port = DEFAULT_HTTP_PORT;
	if (json_object_object_get_ex(root, "http-port", &value))
		tree->http_port = (unsigned)json_object_get_int(value);
	tree->timeout = DEFAULT_MENU_TIMEOUT;
	if (json_object_object_get_ex(root, "timeout", &value))
		tree->timeout = (unsigned)json_object_get_int(value);
	if (tree->http_port < 1 || tree->http_port > 65535 || tree->timeout > 3600)
		return -EINVAL;
	if (json_object_object_get_ex(root, "profiles", &list) &&
	    json_object_get_type(list) == json_type_array) {
		size_t n = json_object_array_length(list);

		tree->profiles = xcalloc(n ? n : 1, sizeof(*tree->profiles));
		for (size_t i = 0; i < n; i++) {
			if (parse_profile(json_object_array_get_idx(list, i), &tree->profiles[i]) < 0)
				return -EINVAL;
			tree->n_profiles++;
		}
	}
	if (json_object_object_get_ex(root, "hosts", &list) &&
	    json_object_get_type(list) == json_type_array) {
		size_t n = json_object_array_length(list);

		tree->hosts = xcalloc(n ? n : 1, sizeof(*tree->hosts));
		for (size_t i = 0; i < n; i++) {
			struct json_object *h = json_object_array_get_idx(list, i);
			const char *id = get_string(h, "id"), *profile = get_string(h, "profile");
			struct strbuf check = STRBUF_INIT;
			int bad;

			if (!id || !profile || strlen(id) != 20)
				return -EINVAL;
			bad = host_id_from_mac(id + 3, &check, NULL) < 0 || strcmp(check.buf, id) != 0;
			strbuf_release(&check);
			if (bad)
				return -EINVAL;
			tree->hosts[i].id = xstrdup(id);
			tree->hosts[i].profile = xstrdup(profile);
			tree->hosts[i].installed = json_object_object_get_ex(h, "installed", &value) &&
						   json_object_get_boolean(value);
			tree->n_hosts++;
		}
	}
	return 0;
}

static int take_lock(struct nb_tree *tree, struct kvm_error *err)
{
	struct strbuf path = STRBUF_INIT;
	int ret = 0;

	tree_path(tree, ".lock", &path);
	tree->lock_fd = open(path.buf, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (tree->lock_fd < 0)
		ret = kvm_error_errno(err, -errno, "%s", path.buf);
	else if (flock(tree->lock_fd, LOCK_EX) < 0)
		ret = kvm_error_errno(err, -errno, "%s: lock", path.buf);
	strbuf_release(&path);
	return ret;
}

int tree_open(const char *dir, bool lock, struct nb_tree *tree, struct kvm_error *err)
{
	struct strbuf path = STRBUF_INIT, text = STRBUF_INIT;
	struct json_object *root = NULL;
	int ret;

	memset(tree, 0, sizeof(*tree));
	tree->lock_fd = -1;
	tree->dir = xstrdup(dir);
	tree_path(tree, TREE_DESCRIPTION, &path);
	if (access(path.buf, F_OK) < 0) {
		ret = kvm_error_errno(err, -errno, "%s: not a netboot tree (kvm-netboot init "
				      "makes one)", dir);
		goto out;
	}
	if (lock && (ret = take_lock(tree, err)) < 0)
		goto out;
	if ((ret = files_read(path.buf, 1 << 24, &text, err)) < 0)
		goto out;
	root = json_tokener_parse(text.buf);
	if (!root || parse_description(root, tree) < 0) {
		ret = kvm_error_set(err, -EINVAL, "%s: not a valid description", path.buf);
		goto out;
	}
	ret = 0;
out:
	json_object_put(root);
	strbuf_release(&path);
	strbuf_release(&text);
	if (ret < 0)
		tree_close(tree);
	return ret;
}

static void add_string(struct json_object *obj, const char *key, const char *value)
{
	json_object_object_add(obj, key, json_object_new_string(value));
}

static struct json_object *description(const struct nb_tree *tree)
{
	struct json_object *root = json_object_new_object();
	struct json_object *profiles = json_object_new_array();
	struct json_object *hosts = json_object_new_array();

	if (tree->server)
		add_string(root, "server", tree->server);
	json_object_object_add(root, "http-port", json_object_new_int((int)tree->http_port));
	json_object_object_add(root, "timeout", json_object_new_int((int)tree->timeout));
	for (size_t i = 0; i < tree->n_profiles; i++) {
		const struct nb_profile *p = &tree->profiles[i];
		struct json_object *obj = json_object_new_object();
		struct json_object *initrds = json_object_new_array();

		add_string(obj, "name", p->name);
		add_string(obj, "label", p->label);
		add_string(obj, "family", p->family);
		add_string(obj, "kernel", p->kernel);
		for (char **s = p->initrds; *s; s++)
			json_object_array_add(initrds, json_object_new_string(*s));
		json_object_object_add(obj, "initrds", initrds);
		add_string(obj, "append", p->append);
		add_string(obj, "append-auto", p->append_auto);
		json_object_array_add(profiles, obj);
	}
	json_object_object_add(root, "profiles", profiles);
	for (size_t i = 0; i < tree->n_hosts; i++) {
		struct json_object *obj = json_object_new_object();

		add_string(obj, "id", tree->hosts[i].id);
		add_string(obj, "profile", tree->hosts[i].profile);
		json_object_object_add(obj, "installed",
				       json_object_new_boolean(tree->hosts[i].installed));
		json_object_array_add(hosts, obj);
	}
	json_object_object_add(root, "hosts", hosts);
	return root;
}

int tree_save(struct nb_tree *tree, struct kvm_error *err)
{
	struct json_object *root = description(tree);
	struct strbuf path = STRBUF_INIT, text = STRBUF_INIT;
	int ret;

	strbuf_addstr(&text, json_object_to_json_string_ext(root, JSON_C_TO_STRING_PRETTY |
							    JSON_C_TO_STRING_NOSLASHESCAPE));
	strbuf_addch(&text, '\n');
	tree_path(tree, TREE_DESCRIPTION, &path);
	ret = files_write(path.buf, text.buf, text.len, true, 0644, err);
	if (ret == 0)
		ret = menu_render_all(tree, err);
	json_object_put(root);
	strbuf_release(&path);
	strbuf_release(&text);
	return ret;
}

int tree_init(const char *dir, const char *server, unsigned http_port, unsigned timeout,
	      bool force, struct kvm_error *err)
{
	static const char *const folders[] = {
		"", TREE_BOOT, TREE_HOSTS, TREE_BOOT "/profiles", TREE_BOOT "/pxelinux.cfg",
		TREE_BOOT "/grub", TREE_BOOT "/grub/hosts", TREE_BOOT "/hosts",
	};
	struct nb_tree tree = { .lock_fd = -1 };
	struct strbuf path = STRBUF_INIT;
	int ret;

	tree.dir = xstrdup(dir);
	tree_path(&tree, TREE_DESCRIPTION, &path);
	if (access(path.buf, F_OK) == 0) {
		tree_close(&tree);
		if (!force) {
			kvm_error_set(err, -EEXIST, "%s: a netboot tree is already there "
				      "(--force refreshes its loaders and menus)", dir);
			strbuf_release(&path);
			return -EEXIST;
		}
		ret = tree_open(dir, true, &tree, err);
		if (ret < 0)
			goto out;
	}
	for (size_t i = 0; i < sizeof(folders) / sizeof(*folders); i++) {
		strbuf_reset(&path);
		tree_path(&tree, folders[i], &path);
		if (mkdir(path.buf, 0755) < 0 && errno != EEXIST) {
			ret = kvm_error_errno(err, -errno, "%s", path.buf);
			goto out;
		}
	}
	if (server) {
		free(tree.server);
		tree.server = xstrdup(server);
	}
	tree.http_port = http_port;
	tree.timeout = timeout;
	if (tree.lock_fd < 0 && (ret = take_lock(&tree, err)) < 0)
		goto out;
	if ((ret = loaders_install(&tree, err)) < 0)
		goto out;
	ret = tree_save(&tree, err);
out:
	strbuf_release(&path);
	tree_close(&tree);
	return ret;
}
