/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The skeleton's placeholders, replaced one by one by tree.c, profile.c,
 * serve.c and export.c. */
#include <errno.h>
#include <string.h>

#include "export.h"
#include "profile.h"
#include "serve.h"
#include "tree.h"

#define NOT_YET(err) kvm_error_set(err, -ENOSYS, "not built yet (issue 8)")

int tree_init(const char *dir, const char *server, unsigned http_port, unsigned timeout,
	      bool force, struct kvm_error *err) { return NOT_YET(err); }
int tree_open(const char *dir, bool lock, struct nb_tree *tree, struct kvm_error *err) { return NOT_YET(err); }
void tree_close(struct nb_tree *tree) { }
int tree_save(struct nb_tree *tree, struct kvm_error *err) { return NOT_YET(err); }
struct nb_profile *tree_find_profile(struct nb_tree *tree, const char *name) { return NULL; }
struct nb_host *tree_find_host(struct nb_tree *tree, const char *id) { return NULL; }
void tree_put_host(struct nb_tree *tree, const char *id, const char *profile) { }
int tree_remove_host(struct nb_tree *tree, const char *id) { return -ENOENT; }
int tree_store_answers(struct nb_tree *tree, const char *source, const char *part,
		       struct kvm_error *err) { return NOT_YET(err); }
int host_id_from_mac(const char *mac, struct strbuf *id, struct kvm_error *err) { return NOT_YET(err); }
void host_mac(const struct nb_host *host, struct strbuf *mac) { }
int profile_list(FILE *out, struct kvm_error *err) { return NOT_YET(err); }
int profile_add(struct nb_tree *tree, const struct profile_source *source,
		struct kvm_error *err) { return NOT_YET(err); }
int serve_run(const struct serve_options *options, struct kvm_error *err) { return NOT_YET(err); }
int export_format_from_name(const char *name, enum export_format *format)
{
	return strcmp(name, "dnsmasq") == 0 ? (*format = EXPORT_DNSMASQ, 0) : -EINVAL;
}
int export_print(FILE *out, const struct nb_tree *tree, enum export_format format,
		 const char *server, struct kvm_error *err) { return NOT_YET(err); }
