/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * --fix-guest: changes inside the guest's system, through libguestfs, so
 * that it boots on KVM's devices.  For Linux: VMware Tools and
 * open-vm-tools go, fstab and the boot loader name file systems by UUID
 * rather than by /dev/sdX (virtio disks are /dev/vdX), and the initramfs is
 * rebuilt by the guest's own tool with the virtio drivers in it.  For
 * Windows, see fix-windows.c.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <guestfs.h>

#include "fix-guest.h"
#include "json-out.h"
#include "xalloc.h"

#define VIRTIO_MODULES "virtio_pci virtio_blk virtio_scsi virtio_net"

bool kvmi_import_can_fix_guest(void)
{
	return true;
}

void fixer_note(struct fixer *f, const char *fmt, ...)
{
	struct strbuf line = STRBUF_INIT;
	va_list ap;

	va_start(ap, fmt);
	strbuf_vaddf(&line, fmt, ap);
	va_end(ap);
	json_object_array_add(f->fixes, json_object_new_string(line.buf));
	strbuf_release(&line);
}

int fixer_failed(struct fixer *f, const char *what)
{
	const char *why = guestfs_last_error(f->g);

	return kvm_error_set(f->err, -EIO, "%s: %s: %s", f->disk, what, why ? why : "failed");
}

static void free_strings(char **list)
{
	for (size_t i = 0; list && list[i]; i++)
		free(list[i]);
	free(list);
}

static int launch(char *const *disk_paths, size_t n_disks, const char *format, bool tcg,
		  guestfs_h **out, struct kvm_error *err)
{
	guestfs_h *g = guestfs_create_flags(0);
	int r = 0;

	*out = NULL;
	if (!g)
		return kvm_error_set(err, -ENOMEM, "%s: cannot create a libguestfs handle",
				     disk_paths[0]);
	/* Errors come back through guestfs_last_error, never on stderr. */
	guestfs_set_error_handler(g, NULL, NULL);
	if (tcg) {
		char *settings[] = { (char *)"force_tcg", NULL };

		guestfs_set_backend_settings(g, settings);
	}
	for (size_t i = 0; i < n_disks && r == 0; i++)
		if (guestfs_add_drive_opts(g, disk_paths[i], GUESTFS_ADD_DRIVE_OPTS_FORMAT, format,
					   -1) < 0)
			r = -EIO;
	if (r == 0 && guestfs_launch(g) < 0)
		r = -EIO;
	if (r < 0) {
		kvm_error_set(err, r, "%s: libguestfs could not start its appliance: %s", disk_paths[0],
			      guestfs_last_error(g) ? guestfs_last_error(g) : "?");
		guestfs_close(g);
		return r;
	}
	*out = g;
	return 0;
}

static int compare_mountpoints(const void *a, const void *b)
{
	const char *const *x = a, *const *y = b;

	return (int)strlen(x[0]) - (int)strlen(y[0]);
}

static int mount_guest(struct fixer *f)
{
	char **mps = guestfs_inspect_get_mountpoints(f->g, f->root);
	size_t n = 0;
	int r = 0;

	if (!mps)
		return fixer_failed(f, "cannot list the guest's file systems");
	while (mps[2 * n])
		n++;
	/* Pairs of mount point and device; "/" first, then deeper ones. */
	qsort(mps, n, 2 * sizeof(*mps), compare_mountpoints);
	for (size_t i = 0; i < n && r == 0; i++)
		if (guestfs_mount(f->g, mps[2 * i + 1], mps[2 * i]) < 0)
			r = fixer_failed(f, "cannot mount the guest's file systems");
	free_strings(mps);
	return r;
}

static bool exists(struct fixer *f, const char *path)
{
	return guestfs_is_file_opts(f->g, path, GUESTFS_IS_FILE_OPTS_FOLLOWSYMLINKS, 1, -1) > 0;
}

static int run_in_guest(struct fixer *f, const char *const *argv, const char *what)
{
	char *out = guestfs_command(f->g, (char **)argv);

	if (!out)
		return fixer_failed(f, what);
	free(out);
	return 0;
}

static bool is_installed(const struct guestfs_application2_list *apps, const char *name)
{
	for (uint32_t i = 0; apps && i < apps->len; i++)
		if (strcmp(apps->val[i].app2_name, name) == 0)
			return true;
	return false;
}

static int remove_vmware_tools(struct fixer *f)
{
	static const char *const packages[] = { "open-vm-tools", "open-vm-tools-desktop",
						"open-vm-tools-sdmp", "vmware-tools", NULL };
	char *pm = guestfs_inspect_get_package_management(f->g, f->root);
	struct guestfs_application2_list *apps = guestfs_inspect_list_applications2(f->g, f->root);
	struct strbuf removed = STRBUF_INIT;
	const char *argv[16];
	size_t argc = 0;
	int r = 0;

	if (pm && strcmp(pm, "apt") == 0) {
		argv[argc++] = "env";
		argv[argc++] = "DEBIAN_FRONTEND=noninteractive";
		argv[argc++] = "dpkg";
		argv[argc++] = "--purge";
	} else {
		argv[argc++] = "rpm";
		argv[argc++] = "-e";
	}
	for (size_t i = 0; packages[i]; i++) {
		if (is_installed(apps, packages[i])) {
			argv[argc++] = packages[i];
			strbuf_addf(&removed, "%s%s", removed.len ? ", " : "", packages[i]);
		}
	}
	argv[argc] = NULL;
	if (removed.len) {
		r = run_in_guest(f, argv, "cannot remove VMware's tools");
		if (r == 0)
			fixer_note(f, "removed %s", removed.buf);
	}
	/* VMware Tools installed from VMware's tarball, not as a package. */
	if (r == 0 && exists(f, "/usr/bin/vmware-uninstall-tools.pl")) {
		const char *uninstall[] = { "/usr/bin/vmware-uninstall-tools.pl", NULL };

		r = run_in_guest(f, uninstall, "vmware-uninstall-tools.pl failed");
		if (r == 0)
			fixer_note(f, "removed VMware Tools with vmware-uninstall-tools.pl");
	}
	strbuf_release(&removed);
	if (apps)
		guestfs_free_application2_list(apps);
	free(pm);
	return r;
}

static bool is_device_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}

/*
 * Replaces /dev/sdXN, /dev/hdXN and /dev/vdXN where a file system is named
 * (at the start of an fstab field, or after root= or resume=) by UUID=...
 * of that file system.  Returns how many were replaced.
 */
static int rewrite_devices(struct fixer *f, const char *text, struct strbuf *out)
{
	static const char *const prefixes[] = { "/dev/sd", "/dev/hd", "/dev/vd", "/dev/xvd", NULL };
	int replaced = 0;

	for (const char *p = text; *p;) {
		size_t len = 0;
		bool at_field = p == text || p[-1] == '\n' || p[-1] == ' ' || p[-1] == '\t' ||
				p[-1] == '=';

		for (size_t i = 0; at_field && prefixes[i]; i++) {
			if (strncmp(p, prefixes[i], strlen(prefixes[i])) == 0) {
				len = strlen(prefixes[i]);
				break;
			}
		}
		if (len) {
			struct strbuf dev = STRBUF_INIT;
			char *uuid;

			while (is_device_char(p[len]))
				len++;
			/* The guest's disks are the appliance's, in the same order. */
			strbuf_addf(&dev, "/dev/sd%.*s", (int)(len - (p[5] == 'x' ? 8 : 7)),
				    p + (p[5] == 'x' ? 8 : 7));
			uuid = guestfs_vfs_uuid(f->g, dev.buf);
			strbuf_release(&dev);
			if (uuid && *uuid) {
				strbuf_addf(out, "UUID=%s", uuid);
				free(uuid);
				p += len;
				replaced++;
				continue;
			}
			free(uuid);
		}
		strbuf_addch(out, *p++);
	}
	return replaced;
}

static int rewrite_file(struct fixer *f, const char *path)
{
	struct strbuf out = STRBUF_INIT;
	size_t size;
	char *text, *nul;
	int n, r = 0;

	if (!exists(f, path))
		return 0;
	text = guestfs_read_file(f->g, path, &size);
	if (!text)
		return fixer_failed(f, "cannot read a file of the guest");
	nul = memchr(text, '\0', size);
	if (nul) {
		free(text);
		return 0;
	}
	n = rewrite_devices(f, text, &out);
	if (n > 0) {
		if (guestfs_write(f->g, path, out.buf, out.len) < 0)
			r = fixer_failed(f, "cannot write a file of the guest");
		else
			fixer_note(f, "%s: %d device name%s replaced by UUID", path, n, n == 1 ? "" : "s");
	}
	strbuf_release(&out);
	free(text);
	return r;
}

static int name_by_uuid(struct fixer *f)
{
	static const char *const files[] = {
		"/etc/fstab", "/etc/default/grub", "/boot/grub/grub.cfg", "/boot/grub2/grub.cfg",
		"/etc/grub2.cfg", "/boot/grub/menu.lst", "/boot/extlinux/extlinux.conf",
		"/boot/extlinux.conf", "/extlinux.conf", "/boot/syslinux/syslinux.cfg",
		"/etc/initramfs-tools/conf.d/resume", "/etc/kernel/cmdline", NULL,
	};

	for (size_t i = 0; files[i]; i++) {
		int r = rewrite_file(f, files[i]);

		if (r < 0)
			return r;
	}
	return 0;
}

static int add_line_once(struct fixer *f, const char *path, const char *line)
{
	struct strbuf text = STRBUF_INIT;
	size_t size = 0;
	char *old = exists(f, path) ? guestfs_read_file(f->g, path, &size) : NULL;
	int r = 0;

	if (old)
		strbuf_add(&text, old, size);
	if (!strstr(text.buf, line)) {
		if (text.len && text.buf[text.len - 1] != '\n')
			strbuf_addch(&text, '\n');
		strbuf_addf(&text, "%s\n", line);
		if (guestfs_write(f->g, path, text.buf, text.len) < 0)
			r = fixer_failed(f, "cannot write a file of the guest");
	}
	free(old);
	strbuf_release(&text);
	return r;
}

static int rebuild_initramfs(struct fixer *f)
{
	int r;

	if (exists(f, "/usr/sbin/update-initramfs") || exists(f, "/sbin/update-initramfs")) {
		const char *argv[] = { "update-initramfs", "-u", "-k", "all", NULL };
		static const char *const modules[] = { "virtio_pci", "virtio_blk", "virtio_scsi",
						       "virtio_net", NULL };

		for (size_t i = 0; modules[i]; i++) {
			r = add_line_once(f, "/etc/initramfs-tools/modules", modules[i]);
			if (r < 0)
				return r;
		}
		r = run_in_guest(f, argv, "update-initramfs failed");
		if (r == 0)
			fixer_note(f, "initramfs rebuilt by update-initramfs with " VIRTIO_MODULES);
		return r;
	}
	if (exists(f, "/usr/bin/dracut") || exists(f, "/sbin/dracut") ||
	    exists(f, "/usr/sbin/dracut")) {
		const char *argv[] = { "dracut", "--force", "--regenerate-all", NULL };

		r = add_line_once(f, "/etc/dracut.conf.d/kvm-image-virtio.conf",
				  "add_drivers+=\" " VIRTIO_MODULES " \"");
		if (r == 0)
			r = run_in_guest(f, argv, "dracut failed");
		if (r == 0)
			fixer_note(f, "initramfs rebuilt by dracut with " VIRTIO_MODULES);
		return r;
	}
	fixer_note(f, "no update-initramfs or dracut in the guest: its initramfs is as it was");
	return 0;
}

static int fix_linux(struct fixer *f)
{
	int r = remove_vmware_tools(f);

	if (r == 0)
		r = name_by_uuid(f);
	if (r == 0)
		r = rebuild_initramfs(f);
	return r;
}

int fix_guest(const struct import_vm *vm, char *const *disk_paths, size_t n_disks,
	      const char *format, const char *virtio_win, struct import_target *target,
	      struct json_object *fixes, struct kvm_error *err)
{
	struct fixer f = { .fixes = fixes, .err = err, .disk = disk_paths[0] };
	char **roots = NULL;
	char *type = NULL;
	int r;

	/* libguestfs tries KVM first; where /dev/kvm is there but unusable
	 * (nested, broken MSRs) it fails, and software emulation works. */
	r = launch(disk_paths, n_disks, format, false, &f.g, err);
	if (r < 0 && !getenv("LIBGUESTFS_BACKEND_SETTINGS"))
		r = launch(disk_paths, n_disks, format, true, &f.g, err);
	if (r < 0)
		return r;
	roots = guestfs_inspect_os(f.g);
	if (!roots || !roots[0]) {
		r = kvm_error_set(err, -ENOENT, "%s: --fix-guest found no operating system on the disks",
				  disk_paths[0]);
		goto out;
	}
	f.root = roots[0];
	type = guestfs_inspect_get_type(f.g, f.root);
	r = mount_guest(&f);
	if (r < 0)
		goto out;
	if (type && strcmp(type, "linux") == 0) {
		r = fix_linux(&f);
		if (r == 0) {
			target->disk_bus = "virtio";
			target->nic = "virtio-net-pci";
		}
	} else if (type && strcmp(type, "windows") == 0) {
		if (virtio_win) {
			r = fix_windows(&f, virtio_win);
			if (r == 0) {
				target->disk_bus = "virtio";
				target->nic = "virtio-net-pci";
			}
		} else {
			fixer_note(&f, "Windows: no --virtio-win ISO, so the disks stay on SATA and the "
				   "network card is an e1000e, whose drivers Windows has");
		}
	} else {
		fixer_note(&f, "%s guest: nothing to change", type ? type : "unknown");
	}
	if (r == 0 && guestfs_umount_all(f.g) < 0)
		r = fixer_failed(&f, "cannot unmount the guest's file systems");
	if (r == 0 && guestfs_shutdown(f.g) < 0)
		r = fixer_failed(&f, "cannot write the guest's disks back");
out:
	free(type);
	free_strings(roots);
	guestfs_close(f.g);
	return r;
}
