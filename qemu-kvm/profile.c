/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Guest profiles: small "key = value" files, one setting a line, '#'
 * starting a comment.  A profile may start from another one with
 * "inherit = NAME" and change what differs.
 */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "kvm-run.h"
#include "path.h"
#include "size.h"
#include "xalloc.h"

#define PROFILE_SUFFIX ".profile"
/* A profile is a page of settings; anything longer is not one. */
#define PROFILE_MAX_BYTES (64 * 1024)
#define PROFILE_MAX_DEPTH 8

void profile_search_dirs(struct arglist *dirs)
{
	const char *config = getenv("XDG_CONFIG_HOME");
	const char *home = getenv("HOME");
	const char *data = getenv("KVM_RUN_DATA_DIR");

	if (config && config[0] == '/')
		arglist_pushf(dirs, "%s/kvm-run/profiles", config);
	else if (home && home[0])
		arglist_pushf(dirs, "%s/.config/kvm-run/profiles", home);
	arglist_pushf(dirs, "%s/kvm-run/profiles", KVM_RUN_SYSCONFDIR);
	if (data && data[0])
		arglist_pushf(dirs, "%s/profiles", data);
	else
		arglist_pushf(dirs, "%s/profiles", KVM_RUN_DATADIR);
}

static bool valid_profile_name(const char *name)
{
	if (!name[0] || name[0] == '.' || strlen(name) > 64)
		return false;
	for (const char *c = name; *c; c++)
		if (!isalnum((unsigned char)*c) && *c != '-' && *c != '_' && *c != '.')
			return false;
	return true;
}

static bool is_file(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

/*
 * The file of profile NAME.  When AFTER_DIR is given, only folders that come
 * after it are searched, so that a user's "windows" can inherit the shipped
 * "windows" and change one line.
 */
static int find_profile(const char *name, const char *after_dir, struct strbuf *path)
{
	struct arglist dirs = { 0 };
	bool searching = !after_dir;
	int ret = -ENOENT;

	profile_search_dirs(&dirs);
	for (size_t i = 0; i < dirs.len; i++) {
		if (!searching) {
			searching = strcmp(dirs.items[i], after_dir) == 0;
			continue;
		}
		strbuf_reset(path);
		strbuf_addf(path, "%s/%s%s", dirs.items[i], name, PROFILE_SUFFIX);
		if (is_file(path->buf)) {
			ret = 0;
			break;
		}
	}
	arglist_release(&dirs);
	return ret;
}

static int compare_names(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

void profile_list(struct arglist *names)
{
	struct arglist dirs = { 0 };
	size_t kept = 0;

	profile_search_dirs(&dirs);
	for (size_t i = 0; i < dirs.len; i++) {
		DIR *dir = opendir(dirs.items[i]);
		struct dirent *entry;

		if (!dir)
			continue;
		while ((entry = readdir(dir))) {
			size_t len = strlen(entry->d_name);
			size_t suffix = strlen(PROFILE_SUFFIX);

			if (len <= suffix || strcmp(entry->d_name + len - suffix, PROFILE_SUFFIX))
				continue;
			entry->d_name[len - suffix] = '\0';
			if (valid_profile_name(entry->d_name))
				arglist_push(names, entry->d_name);
		}
		closedir(dir);
	}
	arglist_release(&dirs);
	if (!names->len)
		return;
	qsort(names->items, names->len, sizeof(*names->items), compare_names);
	for (size_t i = 0; i < names->len; i++) {
		if (kept && strcmp(names->items[kept - 1], names->items[i]) == 0) {
			free(names->items[i]);
			continue;
		}
		names->items[kept++] = names->items[i];
	}
	names->len = kept;
	names->items[kept] = NULL;
}

const char *firmware_name(enum firmware firmware)
{
	switch (firmware) {
	case FIRMWARE_UEFI:
		return "uefi";
	case FIRMWARE_UEFI_SECURE_BOOT:
		return "uefi-secure-boot";
	case FIRMWARE_BIOS:
		break;
	}
	return "bios";
}

static void replace(char **field, const char *value)
{
	free(*field);
	*field = xstrdup(value);
}

static void set_defaults(struct profile *p)
{
	replace(&p->machine, "q35");
	replace(&p->cpu_kvm, "host");
	replace(&p->cpu_tcg, "max");
	replace(&p->nic, "virtio-net-pci");
	replace(&p->video, "VGA");
	replace(&p->usb, "none");
	p->firmware = FIRMWARE_BIOS;
	p->memory_mib = 2048;
	p->cpus = 2;
	p->disk_bus = DISK_BUS_VIRTIO;
}

void profile_release(struct profile *p)
{
	if (!p)
		return;
	free(p->name);
	free(p->path);
	free(p->description);
	free(p->machine);
	free(p->cpu_kvm);
	free(p->cpu_tcg);
	free(p->nic);
	free(p->video);
	free(p->usb);
	arglist_release(&p->qemu_args);
	memset(p, 0, sizeof(*p));
}

/* Splits one line into key and value; returns false for a blank line. */
static bool split_line(char *line, char **key, char **value)
{
	char *end, *eq;

	/* A comment starts at a '#' that begins the line or follows a blank. */
	for (char *c = line; *c; c++) {
		if (*c == '#' && (c == line || isspace((unsigned char)c[-1]))) {
			*c = '\0';
			break;
		}
	}
	while (isspace((unsigned char)*line))
		line++;
	end = line + strlen(line);
	while (end > line && isspace((unsigned char)end[-1]))
		*--end = '\0';
	if (!*line)
		return false;

	*key = line;
	*value = NULL;
	eq = strchr(line, '=');
	if (!eq)
		return true;
	*eq = '\0';
	for (end = eq; end > line && isspace((unsigned char)end[-1]); )
		*--end = '\0';
	for (*value = eq + 1; isspace((unsigned char)**value); )
		(*value)++;
	return true;
}

static int parse_bool(const char *value, bool *out)
{
	if (strcmp(value, "yes") == 0)
		*out = true;
	else if (strcmp(value, "no") == 0)
		*out = false;
	else
		return -EINVAL;
	return 0;
}

/* Device names go into QEMU option strings, where ',' and '=' mean things. */
static bool valid_device_name(const char *value)
{
	if (!value[0])
		return false;
	for (const char *c = value; *c; c++)
		if (!isalnum((unsigned char)*c) && *c != '-' && *c != '_' && *c != '.')
			return false;
	return true;
}

/* Memory as QEMU's -m reads it: a bare number is MiB, or a size with a unit. */
int parse_memory_mib(const char *text, uint64_t *mib, struct kvm_error *err)
{
	uint64_t bytes;
	bool digits = text[0] != '\0';
	int ret;

	for (const char *c = text; *c; c++)
		digits = digits && isdigit((unsigned char)*c);
	if (digits) {
		ret = size_parse(text, &bytes, err);
		if (ret < 0)
			return ret;
		if (bytes == 0 || bytes > (UINT64_C(1) << 32))
			return kvm_error_set(err, -ERANGE, "memory size '%s' is out of range", text);
		*mib = bytes;
		return 0;
	}
	ret = size_parse(text, &bytes, err);
	if (ret < 0)
		return ret;
	if (bytes < (UINT64_C(1) << 20) || bytes % (UINT64_C(1) << 20))
		return kvm_error_set(err, -EINVAL, "memory size '%s' is not a whole number of MiB",
				     text);
	*mib = bytes >> 20;
	return 0;
}

static int load_file(const char *path, const char *name, struct profile *p, int depth,
		     struct kvm_error *err);

static int apply_inherit(const char *path, const char *name, const char *base,
			 struct profile *p, int depth, struct kvm_error *err)
{
	struct strbuf base_path = STRBUF_INIT;
	struct strbuf dir = STRBUF_INIT;
	int ret;

	if (!valid_profile_name(base))
		return kvm_error_set(err, -EINVAL, "%s: '%s' is not a profile name", path, base);
	path_dirname(path, &dir);
	/* The same name means the next profile of that name down the search. */
	ret = find_profile(base, strcmp(base, name) == 0 ? dir.buf : NULL, &base_path);
	if (ret < 0) {
		ret = kvm_error_set(err, ret, "%s: inherits the unknown profile '%s'", path, base);
		goto out;
	}
	ret = load_file(base_path.buf, base, p, depth + 1, err);
out:
	strbuf_release(&dir);
	strbuf_release(&base_path);
	return ret;
}

static int apply_setting(struct profile *p, const char *key, const char *value,
			 struct kvm_error *err)
{
	bool *flag = NULL;
	char *end;

	if (strcmp(key, "description") == 0) {
		replace(&p->description, value);
	} else if (strcmp(key, "machine") == 0) {
		if (strcmp(value, "q35") && strcmp(value, "pc"))
			return kvm_error_set(err, -EINVAL, "machine is q35 or pc");
		replace(&p->machine, value);
	} else if (strcmp(key, "firmware") == 0) {
		if (strcmp(value, "bios") == 0)
			p->firmware = FIRMWARE_BIOS;
		else if (strcmp(value, "uefi") == 0)
			p->firmware = FIRMWARE_UEFI;
		else if (strcmp(value, "uefi-secure-boot") == 0)
			p->firmware = FIRMWARE_UEFI_SECURE_BOOT;
		else
			return kvm_error_set(err, -EINVAL, "firmware is bios, uefi or uefi-secure-boot");
	} else if (strcmp(key, "cpu-kvm") == 0 || strcmp(key, "cpu-tcg") == 0) {
		/* Flags ("host,+x2apic") are allowed; nothing that escapes -cpu. */
		if (!value[0] || strpbrk(value, " \t"))
			return kvm_error_set(err, -EINVAL, "%s is one QEMU CPU model", key);
		replace(key[4] == 'k' ? &p->cpu_kvm : &p->cpu_tcg, value);
	} else if (strcmp(key, "memory") == 0) {
		return parse_memory_mib(value, &p->memory_mib, err);
	} else if (strcmp(key, "cpus") == 0) {
		unsigned long n = strtoul(value, &end, 10);

		if (!isdigit((unsigned char)value[0]) || *end || n < 1 || n > 1024)
			return kvm_error_set(err, -EINVAL, "cpus is a number from 1 to 1024");
		p->cpus = (unsigned)n;
	} else if (strcmp(key, "disk-bus") == 0) {
		if (strcmp(value, "virtio") == 0)
			p->disk_bus = DISK_BUS_VIRTIO;
		else if (strcmp(value, "ahci") == 0)
			p->disk_bus = DISK_BUS_AHCI;
		else if (strcmp(value, "ide") == 0)
			p->disk_bus = DISK_BUS_IDE;
		else
			return kvm_error_set(err, -EINVAL, "disk-bus is virtio, ahci or ide");
	} else if (strcmp(key, "nic") == 0 || strcmp(key, "video") == 0 ||
		   strcmp(key, "usb") == 0) {
		if (!valid_device_name(value))
			return kvm_error_set(err, -EINVAL, "%s is a QEMU device name or none", key);
		replace(key[0] == 'n' ? &p->nic : key[0] == 'v' ? &p->video : &p->usb, value);
	} else if (strcmp(key, "qemu-arg") == 0) {
		if (!value[0])
			return kvm_error_set(err, -EINVAL, "qemu-arg needs an argument");
		arglist_push(&p->qemu_args, value);
	} else if (strcmp(key, "tablet") == 0) {
		flag = &p->tablet;
	} else if (strcmp(key, "rng") == 0) {
		flag = &p->rng;
	} else if (strcmp(key, "balloon") == 0) {
		flag = &p->balloon;
	} else if (strcmp(key, "hyperv") == 0) {
		flag = &p->hyperv;
	} else if (strcmp(key, "tpm") == 0) {
		flag = &p->tpm;
	} else if (strcmp(key, "virtio-win") == 0) {
		flag = &p->virtio_win;
	} else {
		return kvm_error_set(err, -EINVAL, "unknown setting '%s'", key);
	}
	if (flag && parse_bool(value, flag) < 0)
		return kvm_error_set(err, -EINVAL, "%s is yes or no", key);
	return 0;
}

static int load_file(const char *path, const char *name, struct profile *p, int depth,
		     struct kvm_error *err)
{
	FILE *file;
	char *line = NULL;
	size_t cap = 0, total = 0;
	unsigned lineno = 0;
	bool settings_seen = false;
	ssize_t n;
	int ret = 0;

	if (depth > PROFILE_MAX_DEPTH)
		return kvm_error_set(err, -ELOOP, "%s: profiles inherit too deep", path);
	file = fopen(path, "re");
	if (!file)
		return kvm_error_errno(err, -errno, "%s", path);
	if (depth == 0)
		replace(&p->name, name);

	while ((n = getline(&line, &cap, file)) >= 0) {
		char *key, *value;

		lineno++;
		total += (size_t)n;
		if (total > PROFILE_MAX_BYTES) {
			ret = kvm_error_set(err, -EFBIG, "%s: too long for a profile", path);
			break;
		}
		if (!split_line(line, &key, &value))
			continue;
		if (!value) {
			ret = kvm_error_set(err, -EINVAL, "%s:%u: expected 'key = value'", path,
					    lineno);
			break;
		}
		if (strcmp(key, "inherit") == 0) {
			if (settings_seen) {
				ret = kvm_error_set(err, -EINVAL,
						    "%s:%u: inherit must come before any setting",
						    path, lineno);
				break;
			}
			settings_seen = true;
			ret = apply_inherit(path, name, value, p, depth, err);
			if (ret < 0)
				break;
			continue;
		}
		settings_seen = true;
		ret = apply_setting(p, key, value, err);
		if (ret < 0) {
			kvm_error_prefix(err, "%s:%u", path, lineno);
			break;
		}
	}
	if (!ret && ferror(file))
		ret = kvm_error_errno(err, -EIO, "%s", path);
	free(line);
	fclose(file);
	return ret;
}

int profile_load(const char *name, struct profile *p, struct kvm_error *err)
{
	struct strbuf path = STRBUF_INIT;
	struct strbuf base = STRBUF_INIT;
	int ret;

	memset(p, 0, sizeof(*p));
	set_defaults(p);
	if (strchr(name, '/')) {
		const char *file = path_basename(name);
		size_t len = strlen(file), suffix = strlen(PROFILE_SUFFIX);

		if (len > suffix && strcmp(file + len - suffix, PROFILE_SUFFIX) == 0)
			len -= suffix;
		strbuf_add(&base, file, len);
		strbuf_addstr(&path, name);
	} else {
		struct arglist known = { 0 };

		if (!valid_profile_name(name) || find_profile(name, NULL, &path) < 0) {
			struct strbuf names = STRBUF_INIT;

			profile_list(&known);
			for (size_t i = 0; i < known.len; i++)
				strbuf_addf(&names, "%s%s", i ? ", " : "", known.items[i]);
			ret = kvm_error_set(err, -ENOENT, "unknown profile '%s' (known: %s)", name,
					    names.len ? names.buf : "none");
			strbuf_release(&names);
			arglist_release(&known);
			goto out;
		}
		strbuf_addstr(&base, name);
	}
	ret = load_file(path.buf, base.buf, p, 0, err);
	if (!ret)
		p->path = strbuf_detach(&path);
out:
	if (ret < 0)
		profile_release(p);
	strbuf_release(&path);
	strbuf_release(&base);
	return ret;
}
