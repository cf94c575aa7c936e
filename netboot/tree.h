/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * A netboot tree and its one description.
 *
 *   DIR/kvm-netboot.json   the description: server address, menu timeout,
 *                          profiles, hosts (rewritten under DIR/.lock)
 *   DIR/boot/              what TFTP and HTTP serve: loaders, the menus
 *                          generated from the description, profiles/NAME/
 *   DIR/hosts/ID.answers   the answer file of a host, served over HTTP only
 *                          while the host is to be installed
 *
 * A host's ID is "01-" and its MAC in lower case with dashes, the name
 * pxelinux and GRUB look for.
 */
#ifndef KVM_NETBOOT_TREE_H
#define KVM_NETBOOT_TREE_H

#include <stdbool.h>
#include <stddef.h>

#include "kvm-error.h"
#include "strbuf.h"

#define TREE_DESCRIPTION "kvm-netboot.json"
#define TREE_BOOT "boot"
#define TREE_HOSTS "hosts"
#define DEFAULT_HTTP_PORT 80
#define DEFAULT_MENU_TIMEOUT 10

struct nb_profile {
	char *name;		/* [a-z0-9._-], the folder under boot/profiles/ */
	char *label;		/* what the menus show */
	char *family;		/* linux or windows */
	char *kernel;		/* relative to boot/ */
	char **initrds;		/* relative to boot/; NULL-terminated */
	char *append;		/* kernel arguments of an interactive install */
	char *append_auto;	/* ... of an unattended one; @ANSWERS@,
				   @CALLBACK@, @SERVER@ and @TREE@ replaced */
};

struct nb_host {
	char *id;		/* 01-aa-bb-cc-dd-ee-ff */
	char *profile;
	bool installed;		/* the installer called back: boot locally */
};

struct nb_tree {
	char *dir;
	char *server;		/* the address clients reach; NULL until known */
	unsigned http_port;
	unsigned timeout;	/* seconds before the menus boot the local disk */
	struct nb_profile *profiles;
	size_t n_profiles;
	struct nb_host *hosts;
	size_t n_hosts;
	int lock_fd;		/* held from tree_open(..., true) to tree_close */
};

/*
 * Creates DIR with the loaders of the system and the menus.  An existing
 * tree is refreshed only with FORCE (its profiles and hosts are kept).
 */
int tree_init(const char *dir, const char *server, unsigned http_port, unsigned timeout,
	      bool force, struct kvm_error *err);

/* Reads DIR's description; with LOCK, holds the tree's lock until close. */
int tree_open(const char *dir, bool lock, struct nb_tree *tree, struct kvm_error *err);
void tree_close(struct nb_tree *tree);

/* Writes the description and regenerates every menu from it. */
int tree_save(struct nb_tree *tree, struct kvm_error *err);

struct nb_profile *tree_find_profile(struct nb_tree *tree, const char *name);
struct nb_host *tree_find_host(struct nb_tree *tree, const char *id);

/* Adds P (whose strings the tree takes over) or replaces the one named so. */
void tree_put_profile(struct nb_tree *tree, struct nb_profile *p);
void nb_profile_release(struct nb_profile *p);

/* Arms host ID for PROFILE (replacing an entry of that ID). */
void tree_put_host(struct nb_tree *tree, const char *id, const char *profile);
/* -ENOENT when there is no host ID. */
int tree_remove_host(struct nb_tree *tree, const char *id);

/*
 * Copies the answer file SOURCE (NULL: none, an empty file) to PART of the
 * tree, complete or not at all.
 */
int tree_store_answers(struct nb_tree *tree, const char *source, const char *part,
		       struct kvm_error *err);

/*
 * The host ID of MAC ("aa:bb:cc:dd:ee:ff", any case, ':' or '-') into id;
 * -EINVAL when it is not a MAC.
 */
int host_id_from_mac(const char *mac, struct strbuf *id, struct kvm_error *err);
/* The MAC of a host ID, "aa:bb:cc:dd:ee:ff". */
void host_mac(const struct nb_host *host, struct strbuf *mac);

/* The path of a file in the tree: DIR/PART. */
void tree_path(const struct nb_tree *tree, const char *part, struct strbuf *out);

/* Whether NAME is fit to be a profile name (and so a folder name). */
bool valid_profile_name(const char *name);

#endif
