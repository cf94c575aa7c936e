/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <dirent.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include <archive.h>
#include <archive_entry.h>
#include <json-c/json.h>

#include "files.h"
#include "log.h"
#include "path.h"
#include "profile.h"
#include "windows.h"
#include "xalloc.h"

#define PROFILE_MAX_BYTES (64 * 1024)
#define MAX_INITRDS 8

/* What a profile's JSON file says; see netboot/profiles/README.md. */
struct profile_def {
	struct json_object *root;
	const char *label;
	const char *family;
	const char *default_from;
	const char *copy;		/* files, tree or iso */
	struct json_object *kernel;	/* candidate paths in the source */
	struct json_object *initrds;	/* a list of candidate lists */
	const char *append;
	const char *append_auto;
};

static void profiles_dir(struct strbuf *out)
{
	const char *data = getenv("KVM_NETBOOT_DATA_DIR");

	strbuf_addf(out, "%s/profiles", data && data[0] ? data : KVM_NETBOOT_DATADIR);
}

static const char *member_string(struct json_object *obj, const char *key)
{
	struct json_object *value;

	if (!json_object_object_get_ex(obj, key, &value) ||
	    json_object_get_type(value) != json_type_string)
		return NULL;
	return json_object_get_string(value);
}

static struct json_object *member_array(struct json_object *obj, const char *key)
{
	struct json_object *value;

	if (!json_object_object_get_ex(obj, key, &value) ||
	    json_object_get_type(value) != json_type_array)
		return NULL;
	return value;
}

static int profile_def_load(const char *name, struct profile_def *def, struct kvm_error *err)
{
	struct strbuf path = STRBUF_INIT, text = STRBUF_INIT;
	int ret;

	memset(def, 0, sizeof(*def));
	if (!valid_profile_name(name))
		return kvm_error_set(err, -EINVAL, "%s: not a profile name "
				     "(kvm-netboot add --list-profiles lists them)", name);
	profiles_dir(&path);
	strbuf_addf(&path, "/%s.json", name);
	ret = files_read(path.buf, PROFILE_MAX_BYTES, &text, err);
	if (ret == -ENOENT)
		kvm_error_set(err, ret, "%s: no such profile (kvm-netboot add --list-profiles "
			      "lists them)", name);
	if (ret < 0)
		goto out;
	def->root = json_tokener_parse(text.buf);
	def->label = def->root ? member_string(def->root, "label") : NULL;
	def->family = def->root ? member_string(def->root, "family") : NULL;
	def->copy = def->root ? member_string(def->root, "copy") : NULL;
	if (!def->label || !def->family || !def->copy ||
	    (strcmp(def->family, "linux") != 0 && strcmp(def->family, "windows") != 0) ||
	    (strcmp(def->copy, "files") != 0 && strcmp(def->copy, "tree") != 0 &&
	     strcmp(def->copy, "iso") != 0)) {
		ret = kvm_error_set(err, -EINVAL, "%s: not a valid profile", path.buf);
		goto out;
	}
	def->default_from = member_string(def->root, "default-from");
	def->kernel = member_array(def->root, "kernel");
	def->initrds = member_array(def->root, "initrds");
	def->append = member_string(def->root, "append");
	def->append_auto = member_string(def->root, "append-auto");
	if (strcmp(def->family, "linux") == 0 && !def->kernel)
		ret = kvm_error_set(err, -EINVAL, "%s: names no kernel", path.buf);
out:
	strbuf_release(&path);
	strbuf_release(&text);
	return ret;
}

static int compare_strings(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

int profile_list(FILE *out, struct kvm_error *err)
{
	struct strbuf dir = STRBUF_INIT;
	struct dirent *entry;
	char **names = NULL;
	size_t n = 0;
	DIR *d;

	profiles_dir(&dir);
	d = opendir(dir.buf);
	if (!d) {
		int ret = kvm_error_errno(err, -errno, "%s", dir.buf);

		strbuf_release(&dir);
		return ret;
	}
	while ((entry = readdir(d))) {
		size_t len = strlen(entry->d_name);

		if (len > 5 && strcmp(entry->d_name + len - 5, ".json") == 0) {
			names = xrealloc(names, (n + 1) * sizeof(*names));
			names[n] = xstrdup(entry->d_name);
			names[n++][len - 5] = '\0';
		}
	}
	closedir(d);
	qsort(names, n, sizeof(*names), compare_strings);
	for (size_t i = 0; i < n; i++) {
		struct profile_def def;
		struct kvm_error ignored = { 0 };

		if (profile_def_load(names[i], &def, &ignored) == 0)
			fprintf(out, "%-20s %s\n", names[i], member_string(def.root, "summary") ?
				member_string(def.root, "summary") : def.label);
		json_object_put(def.root);
		free(names[i]);
	}
	free(names);
	strbuf_release(&dir);
	return 0;
}

/* A name inside a source, made relative and refused when it would leave
 * the destination: no "..", nothing absolute once "./" and "/" are gone. */
static const char *clean_member_name(const char *name)
{
	while (name[0] == '/' || (name[0] == '.' && name[1] == '/'))
		name += name[0] == '/' ? 1 : 2;
	if (!name[0] || strcmp(name, ".") == 0)
		return NULL;
	for (const char *c = name; *c; ) {
		size_t len = strcspn(c, "/");

		if (len == 2 && c[0] == '.' && c[1] == '.')
			return NULL;
		c += len;
		while (*c == '/')
			c++;
	}
	return name;
}

/* The files wanted from a source, each with the candidates of its name. */
struct wanted {
	struct json_object *candidates;	/* array of strings */
	char *found;			/* the candidate present */
};

static int candidate_index(struct json_object *candidates, const char *name)
{
	for (size_t i = 0; i < json_object_array_length(candidates); i++) {
		const char *c = json_object_get_string(json_object_array_get_idx(candidates, i));

		if (c && strcasecmp(c, name) == 0)
			return (int)i;
	}
	return -1;
}

static ssize_t read_archive(void *ctx, void *buf, size_t size)
{
	la_ssize_t n = archive_read_data(ctx, buf, size);

	return n < 0 ? -EIO : (ssize_t)n;
}

/* The destination of a member: DEST/NAME, its folders made. */
static int member_path(const char *dest, const char *name, struct strbuf *path,
		       struct kvm_error *err)
{
	strbuf_reset(path);
	strbuf_addf(path, "%s/%s", dest, name);
	*strrchr(path->buf, '/') = '\0';
	if (files_mkdirs(path->buf, err) < 0)
		return err ? err->code : -EIO;
	path->buf[strlen(path->buf)] = '/';
	return 0;
}

/*
 * Reads the ISO at SOURCE with libarchive and writes to DEST either every
 * file (ALL) or the WANTED ones, each under the basename of its first
 * candidate; the ISO is never mounted.
 */
static int extract_iso(const char *source, const char *dest, bool all, struct wanted *wanted,
		       size_t n_wanted, enum progress_mode mode, struct kvm_error *err)
{
	struct archive *a = archive_read_new();
	struct archive_entry *entry;
	struct strbuf path = STRBUF_INIT;
	struct progress progress = { 0 };
	struct stat st;
	size_t files = 0;
	int ret = 0, r;

	archive_read_support_format_iso9660(a);
	if (archive_read_open_filename(a, source, 1 << 16) != ARCHIVE_OK) {
		ret = kvm_error_set(err, -EINVAL, "%s: not an ISO image (%s)", source,
				    archive_error_string(a));
		goto out;
	}
	progress_start(&progress, mode, stderr, path_basename(source),
		       stat(source, &st) == 0 ? (uint64_t)st.st_size : 0);
	while ((r = archive_read_next_header(a, &entry)) == ARCHIVE_OK) {
		const char *name = clean_member_name(archive_entry_pathname(entry));

		if (archive_entry_filetype(entry) != AE_IFREG)
			continue;
		if (!name) {
			log_warn("%s: %s: a name outside the image, skipped", source,
				 archive_entry_pathname(entry));
			continue;
		}
		if (!all) {
			size_t w;

			for (w = 0; w < n_wanted; w++)
				if (!wanted[w].found && candidate_index(wanted[w].candidates, name) >= 0)
					break;
			if (w == n_wanted)
				continue;
			wanted[w].found = xstrdup(name);
			strbuf_reset(&path);
			strbuf_addf(&path, "%s/%s", dest, path_basename(name));
		} else if ((ret = member_path(dest, name, &path, err)) < 0) {
			goto out;
		} else {
			for (size_t w = 0; w < n_wanted; w++)
				if (!wanted[w].found && candidate_index(wanted[w].candidates, name) >= 0)
					wanted[w].found = xstrdup(name);
		}
		log_verbose("%s: %s -> %s", source, name, path.buf);
		if ((ret = files_write_from(path.buf, true, 0644, read_archive, a, source, err)) < 0)
			goto out;
		files++;
		progress_update(&progress, (uint64_t)archive_filter_bytes(a, -1));
	}
	progress_finish(&progress);
	if (r != ARCHIVE_EOF)
		ret = kvm_error_set(err, -EIO, "%s: %s", source, archive_error_string(a));
	else if (files == 0)
		ret = kvm_error_set(err, -ENOENT, "%s: no files in this image", source);
out:
	archive_read_free(a);
	strbuf_release(&path);
	return ret;
}

static int copy_from_dir(const char *source, const char *dest, struct wanted *wanted,
			 size_t n_wanted, struct kvm_error *err)
{
	struct strbuf from = STRBUF_INIT, to = STRBUF_INIT;
	int ret = 0;

	for (size_t w = 0; w < n_wanted && ret == 0; w++) {
		for (size_t i = 0; i < json_object_array_length(wanted[w].candidates); i++) {
			const char *c = json_object_get_string(
				json_object_array_get_idx(wanted[w].candidates, i));

			if (!c || !clean_member_name(c))
				continue;
			strbuf_reset(&from);
			strbuf_addf(&from, "%s/%s", source, c);
			if (access(from.buf, R_OK) == 0) {
				wanted[w].found = xstrdup(c);
				break;
			}
		}
		if (!wanted[w].found)
			continue;
		strbuf_reset(&to);
		strbuf_addf(&to, "%s/%s", dest, path_basename(wanted[w].found));
		log_verbose("%s -> %s", from.buf, to.buf);
		ret = files_copy(from.buf, to.buf, true, 0644, err);
	}
	strbuf_release(&from);
	strbuf_release(&to);
	return ret;
}

static char *join_args(const char *a, const char *b)
{
	struct strbuf sb = STRBUF_INIT;

	strbuf_addstr(&sb, a ? a : "");
	if (b && b[0]) {
		/* Before Debian's "---", which ends the installer's own. */
		size_t len = sb.len;

		if (len >= 3 && strcmp(sb.buf + len - 3, "---") == 0) {
			strbuf_setlen(&sb, len - 3);
			strbuf_rtrim(&sb);
			strbuf_addf(&sb, " %s ---", b);
		} else {
			strbuf_addf(&sb, "%s%s", sb.len ? " " : "", b);
		}
	}
	return strbuf_detach(&sb);
}

/* The menu label; a profile added under its own name says which it is. */
static char *profile_label(const char *label, const char *profile, const char *name)
{
	struct strbuf sb = STRBUF_INIT;

	strbuf_addstr(&sb, label);
	if (strcmp(profile, name) != 0)
		strbuf_addf(&sb, " (%s)", name);
	return strbuf_detach(&sb);
}

static int add_linux(struct nb_tree *tree, const struct profile_def *def,
		     const struct profile_source *source, const char *name, const char *from,
		     bool from_dir, const char *dest, struct kvm_error *err)
{
	struct wanted wanted[1 + MAX_INITRDS] = { { 0 } };
	size_t n_initrds = def->initrds ? json_object_array_length(def->initrds) : 0;
	struct nb_profile p = { 0 };
	struct strbuf iso = STRBUF_INIT;
	int ret;

	if (n_initrds > MAX_INITRDS)
		return kvm_error_set(err, -EINVAL, "%s: too many initrds", def->label);
	wanted[0].candidates = def->kernel;
	for (size_t i = 0; i < n_initrds; i++)
		wanted[1 + i].candidates = json_object_array_get_idx(def->initrds, i);
	if (from_dir)
		ret = copy_from_dir(from, dest, wanted, 1 + n_initrds, err);
	else
		ret = extract_iso(from, dest, strcmp(def->copy, "tree") == 0, wanted,
				  1 + n_initrds, source->progress, err);
	if (ret < 0)
		goto out;
	for (size_t w = 0; w < 1 + n_initrds; w++) {
		if (!wanted[w].found) {
			ret = kvm_error_set(err, -ENOENT, "%s: no %s in it (is it %s?)", from,
					    json_object_get_string(json_object_array_get_idx(
						    wanted[w].candidates, 0)), def->label);
			goto out;
		}
	}
	if (strcmp(def->copy, "iso") == 0) {
		if (from_dir) {
			ret = kvm_error_set(err, -EINVAL, "%s: this profile needs the ISO itself, "
					    "not a folder", from);
			goto out;
		}
		strbuf_addf(&iso, "%s/install.iso", dest);
		if ((ret = files_copy(from, iso.buf, true, 0644, err)) < 0)
			goto out;
	}
	p.name = xstrdup(name);
	p.label = profile_label(def->label, source->profile, name);
	p.family = xstrdup(def->family);
	/* In "tree" mode the files keep their place in the tree. */
	p.kernel = xstrdup(strcmp(def->copy, "tree") == 0 && !from_dir ? clean_member_name(wanted[0].found)
			   : path_basename(wanted[0].found));
	p.initrds = xcalloc(n_initrds + 1, sizeof(*p.initrds));
	for (size_t i = 0; i < n_initrds; i++)
		p.initrds[i] = xstrdup(strcmp(def->copy, "tree") == 0 && !from_dir
				       ? clean_member_name(wanted[1 + i].found)
				       : path_basename(wanted[1 + i].found));
	p.append = join_args(def->append, source->append);
	p.append_auto = join_args(def->append_auto, source->append);
	tree_put_profile(tree, &p);
out:
	for (size_t w = 0; w < 1 + n_initrds; w++)
		free(wanted[w].found);
	strbuf_release(&iso);
	return ret;
}

int profile_add(struct nb_tree *tree, const struct profile_source *source,
		struct kvm_error *err)
{
	const char *name = source->name ? source->name : source->profile;
	struct profile_def def;
	struct strbuf dest = STRBUF_INIT;
	const char *from;
	struct stat st;
	int ret;

	if ((ret = profile_def_load(source->profile, &def, err)) < 0)
		goto out;
	if (!valid_profile_name(name)) {
		ret = kvm_error_set(err, -EINVAL, "%s: not a usable name (lower-case letters, "
				    "digits, '.', '-', '_')", name);
		goto out;
	}
	if (tree_find_profile(tree, name) && !source->force) {
		ret = kvm_error_set(err, -EEXIST, "%s: the tree has a profile %s already "
				    "(--force replaces it)", tree->dir, name);
		goto out;
	}
	from = source->from ? source->from : def.default_from;
	if (!from) {
		ret = kvm_error_set(err, -EINVAL, "%s: give --from ISO or folder", source->profile);
		goto out;
	}
	if (stat(from, &st) < 0) {
		ret = kvm_error_errno(err, -errno, "%s", from);
		if (!source->from)
			kvm_error_prefix(err, "%s's default source is missing (give --from)",
					 source->profile);
		goto out;
	}
	strbuf_addf(&dest, "%s/" TREE_BOOT "/profiles/%s", tree->dir, name);
	if ((ret = files_mkdirs(dest.buf, err)) < 0)
		goto out;
	if (strcmp(def.family, "windows") == 0)
		ret = windows_add(tree, def.label, source, name, from, S_ISDIR(st.st_mode),
				  dest.buf, err);
	else
		ret = add_linux(tree, &def, source, name, from, S_ISDIR(st.st_mode), dest.buf, err);
out:
	json_object_put(def.root);
	strbuf_release(&dest);
	return ret;
}

int profile_extract_iso(const char *source, const char *dest, enum progress_mode mode,
			struct kvm_error *err)
{
	return extract_iso(source, dest, true, NULL, 0, mode, err);
}
