/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * --fix-guest --virtio-win ISO for Windows guests.  Windows finds its boot
 * disk only through a driver that starts at boot, so without viostor in
 * place the first boot on virtio-blk stops with INACCESSIBLE_BOOT_DEVICE.
 * What is done here, offline through libguestfs:
 *
 * - viostor (virtio-blk), vioscsi (virtio-scsi) and NetKVM (virtio-net) are
 *   taken from the ISO's DRIVER/VERSION/ARCH folders that fit the guest;
 * - each .sys goes to System32\drivers, and the .sys, .inf and .cat of each
 *   driver to Windows\Drivers\VirtIO\DRIVER, where pnputil finds them;
 * - in the SYSTEM hive's current control set, viostor and vioscsi become
 *   boot-start SCSI miniport services, and CriticalDeviceDatabase maps the
 *   virtio block and SCSI PCI IDs to them, so that the first boot binds the
 *   disk controller to viostor before any Plug and Play installation;
 * - a RunOnce value in the SOFTWARE hive runs a script at the first logon
 *   that installs all three drivers properly with pnputil (NetKVM is not
 *   needed to boot, so it is only installed then).
 */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <archive.h>
#include <archive_entry.h>

#include "fix-guest.h"
#include "strbuf.h"

/* Bigger files on a virtio-win ISO are not drivers of ours. */
#define MAX_DRIVER_FILE (64u << 20)
#define MAX_CANDIDATES 4

/* The hive value types used here. */
#define REG_SZ 1
#define REG_EXPAND_SZ 2
#define REG_DWORD 4

/* Windows's class of SCSI and RAID controllers. */
#define SCSI_ADAPTER_CLASS "{4D36E97B-E325-11CE-BFC1-08002BE10318}"

enum driver_file { FILE_SYS, FILE_INF, FILE_CAT, N_FILES };

static const char *const extensions[N_FILES] = { "sys", "inf", "cat" };

struct driver {
	const char *folder;	/* top folder on the ISO */
	const char *stem;	/* its files: STEM.sys, STEM.inf, STEM.cat */
	int chosen;		/* index of the version folder used, or -1 */
	unsigned found[MAX_CANDIDATES];	/* bit per driver_file, per version */
	struct strbuf data[N_FILES];
};

/* The guest's Windows, as inspection and its SOFTWARE hive tell. */
struct windows {
	int major, minor;
	long build;
	bool server;
	const char *arch;	/* the ISO's name for it: amd64, x86, ARM64 */
	const char *versions[MAX_CANDIDATES + 1];	/* the ISO's folders, best first */
	char *systemroot;	/* in the appliance: /Windows */
	struct strbuf win_root;	/* as Windows writes it: C:\Windows */
};

/* PCI IDs of the virtio block (legacy 1001, modern 1042) and SCSI (1004,
 * 1048) controllers, as CriticalDeviceDatabase keys: first the bare ID,
 * then with the subsystem and revision QEMU gives them. */
static const struct {
	const char *key;
	const char *service;
} critical_devices[] = {
	{ "pci#ven_1af4&dev_1001", "viostor" },
	{ "pci#ven_1af4&dev_1001&subsys_00021af4&rev_00", "viostor" },
	{ "pci#ven_1af4&dev_1042", "viostor" },
	{ "pci#ven_1af4&dev_1042&subsys_11001af4&rev_01", "viostor" },
	{ "pci#ven_1af4&dev_1004", "vioscsi" },
	{ "pci#ven_1af4&dev_1004&subsys_00081af4&rev_00", "vioscsi" },
	{ "pci#ven_1af4&dev_1048", "vioscsi" },
	{ "pci#ven_1af4&dev_1048&subsys_11001af4&rev_01", "vioscsi" },
};

static const char *iso_arch(const char *arch)
{
	if (strcmp(arch, "x86_64") == 0)
		return "amd64";
	if (strcmp(arch, "i386") == 0)
		return "x86";
	if (strcmp(arch, "aarch64") == 0)
		return "ARM64";
	return NULL;
}

/*
 * The virtio-win folders for a Windows version, the exact one first and
 * then the nearest older one whose drivers also load on it.  Windows 10
 * and 11, and Server 2016 to 2025, all say 10.0: the build tells them apart.
 */
static bool choose_versions(struct windows *w)
{
	const char **v = w->versions;

	if (w->major == 10 && w->minor == 0 && !w->server) {
		if (w->build >= 22000)
			*v++ = "w11";
		*v++ = "w10";
	} else if (w->major == 10 && w->minor == 0) {
		if (w->build >= 26100)
			*v++ = "2k25";
		if (w->build >= 20348)
			*v++ = "2k22";
		if (w->build >= 17763)
			*v++ = "2k19";
		*v++ = "2k16";
	} else if (w->major == 6 && w->minor == 3) {
		*v++ = w->server ? "2k12R2" : "w8.1";
	} else if (w->major == 6 && w->minor == 2) {
		*v++ = w->server ? "2k12" : "w8";
	} else if (w->major == 6 && w->minor == 1) {
		*v++ = w->server ? "2k8R2" : "w7";
	} else if (w->major == 6 && w->minor == 0) {
		*v++ = "2k8";
	}
	*v = NULL;
	return v != w->versions;
}

static int64_t hive_child(struct fixer *f, int64_t node, const char *name, bool create)
{
	int64_t child = guestfs_hivex_node_get_child(f->g, node, name);

	if (child == 0 && create)
		child = guestfs_hivex_node_add_child(f->g, node, name);
	if (child < 0)
		return fixer_failed(f, "cannot change the guest's registry");
	return child;
}

/* The key at PATH (names separated by '\') under NODE; 0 if missing. */
static int64_t hive_path(struct fixer *f, int64_t node, const char *path, bool create)
{
	struct strbuf name = STRBUF_INIT;

	for (const char *p = path; node > 0 && *p;) {
		size_t len = strcspn(p, "\\");

		strbuf_reset(&name);
		strbuf_add(&name, p, len);
		node = hive_child(f, node, name.buf, create);
		p += len + (p[len] == '\\');
	}
	strbuf_release(&name);
	return node;
}

static int set_value(struct fixer *f, int64_t node, const char *key, int64_t type,
		     const void *val, size_t size)
{
	if (guestfs_hivex_node_set_value(f->g, node, key, type, val, size) < 0)
		return fixer_failed(f, "cannot change the guest's registry");
	return 0;
}

static int set_dword(struct fixer *f, int64_t node, const char *key, uint32_t value)
{
	unsigned char le[4] = { value & 0xff, (value >> 8) & 0xff, (value >> 16) & 0xff,
				value >> 24 };

	return set_value(f, node, key, REG_DWORD, le, sizeof(le));
}

/* Registry strings are UTF-16LE with a terminating NUL; ours are ASCII. */
static int set_string(struct fixer *f, int64_t node, const char *key, int64_t type,
		      const char *value)
{
	struct strbuf utf16 = STRBUF_INIT;
	int r;

	for (const char *p = value;; p++) {
		strbuf_addch(&utf16, *p);
		strbuf_addch(&utf16, '\0');
		if (!*p)
			break;
	}
	r = set_value(f, node, key, type, utf16.buf, utf16.len);
	strbuf_release(&utf16);
	return r;
}

static int open_hive(struct fixer *f, const char *path, bool write)
{
	if (guestfs_hivex_open(f->g, path, GUESTFS_HIVEX_OPEN_WRITE, write, -1) < 0)
		return fixer_failed(f, "cannot open the guest's registry");
	return 0;
}

static int close_hive(struct fixer *f, bool commit, int r)
{
	if (r == 0 && commit && guestfs_hivex_commit(f->g, NULL) < 0)
		r = fixer_failed(f, "cannot write the guest's registry");
	guestfs_hivex_close(f->g);
	return r;
}

/* CurrentBuild from the SOFTWARE hive; 0 where it is missing. */
static int read_build(struct fixer *f, const char *software, long *build)
{
	int64_t node, value;
	char *text;
	int r = open_hive(f, software, false);

	*build = 0;
	if (r < 0)
		return r;
	node = hive_path(f, guestfs_hivex_root(f->g), "Microsoft\\Windows NT\\CurrentVersion", false);
	value = node > 0 ? guestfs_hivex_node_get_value(f->g, node, "CurrentBuild") : 0;
	if (value > 0) {
		text = guestfs_hivex_value_string(f->g, value);
		if (text)
			*build = strtol(text, NULL, 10);
		free(text);
	}
	return close_hive(f, false, 0);
}

static int inspect_windows(struct fixer *f, const char *software, struct windows *w,
			   const char *iso)
{
	char *arch = guestfs_inspect_get_arch(f->g, f->root);
	char *variant = guestfs_inspect_get_product_variant(f->g, f->root);
	char *product = guestfs_inspect_get_product_name(f->g, f->root);
	int r;

	w->major = guestfs_inspect_get_major_version(f->g, f->root);
	w->minor = guestfs_inspect_get_minor_version(f->g, f->root);
	w->server = (variant && strstr(variant, "Server")) || (product && strstr(product, "Server"));
	w->arch = arch ? iso_arch(arch) : NULL;
	r = read_build(f, software, &w->build);
	if (r == 0 && !w->arch)
		r = kvm_error_set(f->err, -ENOTSUP, "%s: virtio-win has no drivers for Windows on %s",
				  iso, arch ? arch : "an unknown architecture");
	if (r == 0 && !choose_versions(w))
		r = kvm_error_set(f->err, -ENOTSUP, "%s: virtio-win has no drivers for Windows %d.%d",
				  iso, w->major, w->minor);
	free(arch);
	free(variant);
	free(product);
	return r;
}

/* The index in w->versions of the folder NAME (DRIVER/VERSION/ARCH/FILE)
 * is in, and which of DRIVER's files it is; -1 if none of ours. */
static int match_entry(const struct windows *w, const struct driver *d, const char *name,
		       enum driver_file *file)
{
	const char *parts[4];
	size_t lens[4];
	const char *p = name;
	int version = -1;

	while (*p == '.' && p[1] == '/')
		p += 2;
	while (*p == '/')
		p++;
	for (int i = 0; i < 4; i++) {
		parts[i] = p;
		lens[i] = strcspn(p, "/");
		p += lens[i];
		if ((i < 3 && *p != '/') || (i == 3 && *p))
			return -1;
		p += i < 3;
	}
	if (lens[0] != strlen(d->folder) || strncasecmp(parts[0], d->folder, lens[0]) != 0 ||
	    lens[2] != strlen(w->arch) || strncasecmp(parts[2], w->arch, lens[2]) != 0)
		return -1;
	for (int i = 0; w->versions[i]; i++)
		if (lens[1] == strlen(w->versions[i]) &&
		    strncasecmp(parts[1], w->versions[i], lens[1]) == 0)
			version = i;
	for (int k = 0; version >= 0 && k < N_FILES; k++) {
		size_t stem = strlen(d->stem);

		if (lens[3] == stem + 4 && strncasecmp(parts[3], d->stem, stem) == 0 &&
		    parts[3][stem] == '.' && strncasecmp(parts[3] + stem + 1, extensions[k], 3) == 0) {
			*file = k;
			return version;
		}
	}
	return -1;
}

static int open_iso(const char *iso, struct archive **out, struct kvm_error *err)
{
	struct archive *a = archive_read_new();

	archive_read_support_format_iso9660(a);
	if (archive_read_open_filename(a, iso, 1 << 16) != ARCHIVE_OK) {
		int r = kvm_error_set(err, -EINVAL, "%s: cannot read it as an ISO image: %s", iso,
				      archive_error_string(a) ? archive_error_string(a) : "?");

		archive_read_free(a);
		return r;
	}
	*out = a;
	return 0;
}

static int iso_failed(struct archive *a, const char *iso, struct kvm_error *err)
{
	return kvm_error_set(err, -EIO, "%s: %s", iso,
			     archive_error_string(a) ? archive_error_string(a) : "unreadable");
}

/* Two passes: the first finds the best version folder holding all three
 * files of each driver, the second reads just those files. */
static int read_drivers(struct fixer *f, const struct windows *w, const char *iso,
			struct driver *drivers, size_t n)
{
	struct archive_entry *entry;
	struct archive *a = NULL;
	enum driver_file file;
	int r, status;

	for (int pass = 0; pass < 2; pass++) {
		r = open_iso(iso, &a, f->err);
		if (r < 0)
			return r;
		while ((status = archive_read_next_header(a, &entry)) == ARCHIVE_OK && r == 0) {
			const char *name = archive_entry_pathname(entry);

			for (size_t i = 0; name && i < n && r == 0; i++) {
				struct driver *d = &drivers[i];
				int version = match_entry(w, d, name, &file);

				if (version < 0 || archive_entry_filetype(entry) != AE_IFREG)
					continue;
				if (pass == 0) {
					d->found[version] |= 1u << file;
					continue;
				}
				if (version != d->chosen)
					continue;
				if (archive_entry_size(entry) > MAX_DRIVER_FILE) {
					r = kvm_error_set(f->err, -EFBIG, "%s: %s is too big for a driver file",
							  iso, name);
					break;
				}
				strbuf_reset(&d->data[file]);
				strbuf_grow(&d->data[file], (size_t)archive_entry_size(entry));
				for (;;) {
					char buf[65536];
					la_ssize_t got = archive_read_data(a, buf, sizeof(buf));

					if (got < 0)
						r = iso_failed(a, iso, f->err);
					if (got <= 0)
						break;
					strbuf_add(&d->data[file], buf, (size_t)got);
				}
			}
		}
		if (r == 0 && status != ARCHIVE_EOF)
			r = iso_failed(a, iso, f->err);
		archive_read_free(a);
		if (r < 0)
			return r;
		for (size_t i = 0; pass == 0 && i < n; i++) {
			struct driver *d = &drivers[i];

			for (int v = 0; w->versions[v] && d->chosen < 0; v++)
				if (d->found[v] == (1u << N_FILES) - 1)
					d->chosen = v;
			if (d->chosen < 0)
				return kvm_error_set(f->err, -ENOENT, "%s: no %s/%s/%s folder with %s.sys, "
						     "%s.inf and %s.cat, which this Windows %d.%d "
						     "(build %ld) guest needs", iso, d->folder,
						     w->versions[0], w->arch, d->stem, d->stem,
						     d->stem, w->major, w->minor, w->build);
		}
	}
	return 0;
}

/*
 * The appliance's path of DIR ('/'-separated) under the system root, made
 * where missing.  Windows names are case-insensitive, so each existing
 * folder is taken with the case it has; libguestfs resolves a path whose
 * last part only may be missing, hence one part at a time.
 */
static int guest_dir(struct fixer *f, const struct windows *w, const char *dir,
		     struct strbuf *path)
{
	struct strbuf wanted = STRBUF_INIT;
	int r = 0;

	strbuf_reset(path);
	strbuf_addstr(path, w->systemroot);
	for (const char *p = dir; *p && r == 0;) {
		size_t len = strcspn(p, "/");
		char *real;

		strbuf_reset(&wanted);
		strbuf_addf(&wanted, "%s/%.*s", path->buf, (int)len, p);
		p += len + (p[len] == '/');
		real = guestfs_case_sensitive_path(f->g, wanted.buf);
		if (!real) {
			r = fixer_failed(f, "cannot find the guest's Windows folders");
			break;
		}
		strbuf_reset(path);
		strbuf_addstr(path, real);
		free(real);
		if (guestfs_is_dir(f->g, path->buf) <= 0 && guestfs_mkdir(f->g, path->buf) < 0)
			r = fixer_failed(f, "cannot make a folder in the guest");
	}
	strbuf_release(&wanted);
	return r;
}

static int write_guest_file(struct fixer *f, const char *dir, const char *name,
			    const struct strbuf *data)
{
	struct strbuf path = STRBUF_INIT;
	int r = 0;

	strbuf_addf(&path, "%s/%s", dir, name);
	if (guestfs_write(f->g, path.buf, data->buf ? data->buf : "", data->len) < 0)
		r = fixer_failed(f, "cannot write a file into the guest");
	strbuf_release(&path);
	return r;
}

static int copy_drivers(struct fixer *f, const struct windows *w, struct driver *drivers,
			size_t n)
{
	struct strbuf system_dir = STRBUF_INIT, store_dir = STRBUF_INIT, name = STRBUF_INIT;
	int r = guest_dir(f, w, "System32/drivers", &system_dir);

	for (size_t i = 0; i < n && r == 0; i++) {
		struct driver *d = &drivers[i];

		strbuf_reset(&name);
		strbuf_addf(&name, "%s.sys", d->stem);
		r = write_guest_file(f, system_dir.buf, name.buf, &d->data[FILE_SYS]);
		if (r == 0) {
			strbuf_reset(&name);
			strbuf_addf(&name, "Drivers/VirtIO/%s", d->stem);
			r = guest_dir(f, w, name.buf, &store_dir);
		}
		for (int k = 0; k < N_FILES && r == 0; k++) {
			strbuf_reset(&name);
			strbuf_addf(&name, "%s.%s", d->stem, extensions[k]);
			r = write_guest_file(f, store_dir.buf, name.buf, &d->data[k]);
		}
	}
	if (r == 0)
		fixer_note(f, "copied viostor.sys, vioscsi.sys and netkvm.sys to %s\\System32\\drivers, "
			   "and each driver's .sys, .inf and .cat to %s\\Drivers\\VirtIO\\DRIVER",
			   w->win_root.buf, w->win_root.buf);
	strbuf_release(&system_dir);
	strbuf_release(&store_dir);
	strbuf_release(&name);
	return r;
}

static int add_boot_service(struct fixer *f, int64_t services, const char *stem)
{
	struct strbuf image = STRBUF_INIT;
	int64_t node = hive_child(f, services, stem, true);
	int r = node < 0 ? (int)node : 0;

	strbuf_addf(&image, "system32\\drivers\\%s.sys", stem);
	if (r == 0)
		r = set_dword(f, node, "Type", 1);	/* kernel driver */
	if (r == 0)
		r = set_dword(f, node, "Start", 0);	/* boot start */
	if (r == 0)
		r = set_dword(f, node, "ErrorControl", 1);
	if (r == 0)
		r = set_string(f, node, "Group", REG_SZ, "SCSI miniport");
	if (r == 0)
		r = set_string(f, node, "ImagePath", REG_EXPAND_SZ, image.buf);
	strbuf_release(&image);
	return r;
}

static int edit_system_hive(struct fixer *f)
{
	char *hive = guestfs_inspect_get_windows_system_hive(f->g, f->root);
	char *control_set = guestfs_inspect_get_windows_current_control_set(f->g, f->root);
	int64_t set, services, database;
	int r = hive && control_set ? open_hive(f, hive, true) :
		kvm_error_set(f->err, -ENOENT, "%s: the guest's SYSTEM hive or its current control set "
			      "is missing", f->disk);

	if (r < 0)
		goto out;
	set = hive_child(f, guestfs_hivex_root(f->g), control_set, false);
	if (set == 0)
		r = kvm_error_set(f->err, -ENOENT, "%s: the guest's SYSTEM hive has no %s", f->disk,
				  control_set);
	services = set > 0 ? hive_child(f, set, "Services", true) : set;
	database = set > 0 ? hive_path(f, set, "Control\\CriticalDeviceDatabase", true) : set;
	if (r == 0 && (services < 0 || database < 0))
		r = -EIO;
	if (r == 0)
		r = add_boot_service(f, services, "viostor");
	if (r == 0)
		r = add_boot_service(f, services, "vioscsi");
	for (size_t i = 0; r == 0 && i < sizeof(critical_devices) / sizeof(critical_devices[0]); i++) {
		int64_t node = hive_child(f, database, critical_devices[i].key, true);

		r = node < 0 ? (int)node : 0;
		if (r == 0)
			r = set_string(f, node, "ClassGUID", REG_SZ, SCSI_ADAPTER_CLASS);
		if (r == 0)
			r = set_string(f, node, "Service", REG_SZ, critical_devices[i].service);
	}
	r = close_hive(f, true, r);
	if (r == 0)
		fixer_note(f, "SYSTEM hive, %s: viostor and vioscsi are boot-start SCSI miniport "
			   "services, and CriticalDeviceDatabase maps the virtio block (1af4:1001, "
			   "1af4:1042) and SCSI (1af4:1004, 1af4:1048) controllers to them",
			   control_set);
out:
	free(hive);
	free(control_set);
	return r;
}

/* pnputil learnt /add-driver in Windows 10; older ones know -i -a. */
static void install_command(const struct windows *w, const char *stem, struct strbuf *script)
{
	strbuf_addf(script, "pnputil %s \"%s\\Drivers\\VirtIO\\%s\\%s.inf\"%s >> \"%s\\Drivers\\VirtIO\\install.log\" 2>&1\r\n",
		    w->major >= 10 ? "/add-driver" : "-i -a", w->win_root.buf, stem, stem,
		    w->major >= 10 ? " /install" : "", w->win_root.buf);
}

static int add_first_logon_step(struct fixer *f, const struct windows *w, const char *software,
				const struct driver *drivers, size_t n)
{
	struct strbuf script = STRBUF_INIT, dir = STRBUF_INIT, command = STRBUF_INIT;
	int64_t run_once;
	int r = guest_dir(f, w, "Drivers/VirtIO", &dir);

	strbuf_addstr(&script, "@echo off\r\n"
		      "rem Written by kvm-image import: installs the virtio-win drivers once.\r\n");
	for (size_t i = 0; i < n; i++)
		install_command(w, drivers[i].stem, &script);
	if (r == 0)
		r = write_guest_file(f, dir.buf, "install-drivers.cmd", &script);
	if (r == 0)
		r = open_hive(f, software, true);
	if (r < 0)
		goto out;
	run_once = hive_path(f, guestfs_hivex_root(f->g), "Microsoft\\Windows\\CurrentVersion\\RunOnce",
			     true);
	r = run_once < 0 ? (int)run_once : 0;
	strbuf_addf(&command, "cmd.exe /c \"%s\\Drivers\\VirtIO\\install-drivers.cmd\"",
		    w->win_root.buf);
	if (r == 0)
		r = set_string(f, run_once, "kvm-image-virtio-win", REG_SZ, command.buf);
	r = close_hive(f, true, r);
	if (r == 0)
		fixer_note(f, "first logon: HKLM\\SOFTWARE\\Microsoft\\Windows\\CurrentVersion\\RunOnce "
			   "runs %s\\Drivers\\VirtIO\\install-drivers.cmd, which installs viostor, "
			   "vioscsi and NetKVM with pnputil", w->win_root.buf);
out:
	strbuf_release(&script);
	strbuf_release(&dir);
	strbuf_release(&command);
	return r;
}

int fix_windows(struct fixer *f, const char *virtio_win)
{
	struct driver drivers[] = {
		{ .folder = "viostor", .stem = "viostor", .chosen = -1 },
		{ .folder = "vioscsi", .stem = "vioscsi", .chosen = -1 },
		{ .folder = "NetKVM", .stem = "netkvm", .chosen = -1 },
	};
	const size_t n = sizeof(drivers) / sizeof(drivers[0]);
	struct windows w = { .win_root = STRBUF_INIT };
	struct strbuf chosen = STRBUF_INIT;
	char *software = guestfs_inspect_get_windows_software_hive(f->g, f->root);
	int r;

	w.systemroot = guestfs_inspect_get_windows_systemroot(f->g, f->root);
	if (!software || !w.systemroot) {
		r = kvm_error_set(f->err, -ENOENT, "%s: the guest's Windows folder or SOFTWARE hive is "
				  "missing", f->disk);
		goto out;
	}
	strbuf_addf(&w.win_root, "C:%s", w.systemroot);
	for (size_t i = 0; i < w.win_root.len; i++)
		if (w.win_root.buf[i] == '/')
			w.win_root.buf[i] = '\\';
	r = inspect_windows(f, software, &w, virtio_win);
	if (r == 0)
		r = read_drivers(f, &w, virtio_win, drivers, n);
	if (r < 0)
		goto out;
	for (size_t i = 0; i < n; i++)
		strbuf_addf(&chosen, "%s%s from %s/%s/%s", i ? ", " : "", drivers[i].stem,
			    drivers[i].folder, w.versions[drivers[i].chosen], w.arch);
	fixer_note(f, "virtio-win drivers for Windows %d.%d build %ld (%s, %s): %s", w.major, w.minor,
		   w.build, w.server ? "server" : "client", w.arch, chosen.buf);
	r = copy_drivers(f, &w, drivers, n);
	if (r == 0)
		r = edit_system_hive(f);
	if (r == 0)
		r = add_first_logon_step(f, &w, software, drivers, n);
out:
	for (size_t i = 0; i < n; i++)
		for (int k = 0; k < N_FILES; k++)
			strbuf_release(&drivers[i].data[k]);
	strbuf_release(&chosen);
	strbuf_release(&w.win_root);
	free(w.systemroot);
	free(software);
	return r;
}
