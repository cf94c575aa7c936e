/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * --method bootstrap: the guest built straight from packages, the way
 * image builders do, without running an installer.  mmdebstrap makes the
 * root file system in a folder, kvm-install configures it from the same
 * variables as the answer files (host name, user, keys, packages, time
 * zone, post-install commands), mke2fs -d writes it into the partition of
 * a raw disk with an MBR, and GRUB is installed by the new system itself,
 * in one boot of its own kernel under QEMU (no loop devices, no mounts on
 * the host).  The raw disk is then converted by libkvmimage.
 *
 * Downloaded packages are kept in a cache folder (apt checks each one's
 * hash against the archive's index, so a stale one is fetched again).
 */
#include <errno.h>
#include <fcntl.h>
#include <glob.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "guest.h"
#include "kvm-install.h"
#include "kvmimage.h"
#include "log.h"
#include "run.h"
#include "xalloc.h"

#define PARTITION_START (1024 * 1024)	/* GRUB's core.img lives before it */

/* The packages every bootstrapped guest gets, besides the variables'. */
static const char base_packages[] =
	"systemd-sysv,udev,kmod,linux-image-amd64,grub-pc,initramfs-tools,openssh-server,sudo,"
	"iproute2,systemd-resolved,e2fsprogs,tzdata,locales,less,ca-certificates";

/* PID 1 of the set-up boot: GRUB into the MBR, its menu, power off. */
static const char setup_script[] =
	"#!/bin/sh\n"
	"mount -t proc proc /proc 2>/dev/null\n"
	"mount -t sysfs sysfs /sys 2>/dev/null\n"
	"mount -t devtmpfs devtmpfs /dev 2>/dev/null\n"
	"mount -o remount,rw /\n"
	"echo KVM-INSTALL-SETUP-STARTED\n"
	"if grub-install --target=i386-pc /dev/vda && update-grub; then\n"
	"\techo KVM-INSTALL-GRUB-DONE\n"
	"fi\n"
	"rm -f /kvm-install-setup\n"
	"sync\n"
	/* PID 1 cannot unmount /: the kernel's emergency remount read-only. */
	"echo u >/proc/sysrq-trigger\n"
	"sleep 1\n"
	"echo o >/proc/sysrq-trigger\n"
	"sleep 60\n";

static const struct milestone setup_milestones[] = {
	{ "KVM-INSTALL-SETUP-STARTED", "the new system booted" },
	{ "KVM-INSTALL-GRUB-DONE", "GRUB installed" },
	{ NULL, NULL },
};

static int run_logged(const char *const *argv, const char *what, int log_fd, struct kvm_error *err)
{
	struct run_cmd cmd;
	int ret;

	run_cmd_init(&cmd, argv);
	cmd.capture_stdout = true;
	cmd.capture_stderr = true;
	ret = run_command(&cmd, err);
	if (log_fd >= 0) {
		dprintf(log_fd, "$");
		for (const char *const *a = argv; *a; a++)
			dprintf(log_fd, " %s", *a);
		dprintf(log_fd, "\n%s%s", cmd.out.buf, cmd.err.buf);
	}
	if (ret == 0 && cmd.status != 0) {
		struct strbuf *why = cmd.err.len ? &cmd.err : &cmd.out;
		const char *last;

		strbuf_rtrim(why);
		last = strrchr(why->buf, '\n');
		ret = kvm_error_set(err, -EIO, "%s failed (exit status %d): %s", what, cmd.status,
				    last ? last + 1 : why->buf);
	} else if (ret == -ENOENT) {
		ret = kvm_error_set(err, -ENOENT, "%s: %s is not installed", what, argv[0]);
	}
	run_cmd_release(&cmd);
	return ret;
}

static int write_text(const char *root, const char *name, mode_t mode, const char *text,
		      struct kvm_error *err)
{
	struct strbuf path = STRBUF_INIT;
	int fd, ret = 0;

	strbuf_addf(&path, "%s%s", root, name);
	fd = open(path.buf, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, mode);
	if (fd < 0 || write(fd, text, strlen(text)) != (ssize_t)strlen(text) || fchmod(fd, mode) < 0)
		ret = kvm_error_errno(err, -errno, "%s", path.buf);
	if (fd >= 0)
		close(fd);
	strbuf_release(&path);
	return ret;
}

static void cache_dir(struct strbuf *out)
{
	const char *dir = getenv("KVM_INSTALL_PACKAGE_CACHE");
	const char *xdg = getenv("XDG_CACHE_HOME");

	if (dir && *dir)
		strbuf_addstr(out, dir);
	else if (xdg && *xdg)
		strbuf_addf(out, "%s/kvm-install/debian-12", xdg);
	else
		strbuf_addf(out, "%s/.cache/kvm-install/debian-12", getenv("HOME") ? getenv("HOME") : "/root");
}

static int mkdir_p(const char *path, struct kvm_error *err)
{
	struct strbuf sb = STRBUF_INIT;
	int ret = 0;

	strbuf_addstr(&sb, path);
	for (char *p = sb.buf + 1; ; p++) {
		char c = *p;

		if (c != '/' && c != '\0')
			continue;
		*p = '\0';
		if (mkdir(sb.buf, 0755) < 0 && errno != EEXIST) {
			ret = kvm_error_errno(err, -errno, "%s", sb.buf);
			break;
		}
		*p = c;
		if (!c)
			break;
	}
	strbuf_release(&sb);
	return ret;
}

static int debootstrap_root(const struct vars *vars, const char *root, int log_fd,
			    struct kvm_error *err)
{
	const struct var *packages = vars_get(vars, "packages");
	struct strbuf include = STRBUF_INIT, cache = STRBUF_INIT, setup = STRBUF_INIT,
		      sync_in = STRBUF_INIT, sync_out = STRBUF_INIT, proxy = STRBUF_INIT;
	const char *argv[16];
	size_t n = 0;
	int ret;

	cache_dir(&cache);
	ret = mkdir_p(cache.buf, err);
	if (ret < 0)
		goto out;
	strbuf_addf(&include, "--include=%s", base_packages);
	for (size_t i = 0; i < packages->count; i++)
		strbuf_addf(&include, ",%s", packages->values[i]);
	/* mmdebstrap's own recipe for keeping the downloads (its manual). */
	strbuf_addstr(&setup, "--setup-hook=mkdir -p \"$1\"/var/cache/apt/archives/");
	strbuf_addf(&sync_in, "--setup-hook=sync-in %s /var/cache/apt/archives/", cache.buf);
	strbuf_addf(&sync_out, "--customize-hook=sync-out /var/cache/apt/archives %s", cache.buf);
	argv[n++] = "mmdebstrap";
	argv[n++] = "--variant=minbase";
	argv[n++] = "--mode=root";
	argv[n++] = "--skip=download/empty";
	argv[n++] = "--skip=essential/unlink";
	argv[n++] = include.buf;
	argv[n++] = setup.buf;
	argv[n++] = sync_in.buf;
	argv[n++] = sync_out.buf;
	if (*vars_value(vars, "proxy")) {
		strbuf_addf(&proxy, "--aptopt=Acquire::http::Proxy \"%s\"", vars_value(vars, "proxy"));
		argv[n++] = proxy.buf;
	}
	argv[n++] = "bookworm";
	argv[n++] = root;
	argv[n++] = vars_value(vars, "mirror");
	argv[n] = NULL;
	ret = run_logged(argv, "mmdebstrap", log_fd, err);
out:
	strbuf_release(&include);
	strbuf_release(&cache);
	strbuf_release(&setup);
	strbuf_release(&sync_in);
	strbuf_release(&sync_out);
	strbuf_release(&proxy);
	return ret;
}

static int in_root(const char *root, const char *const *command, const char *what, int log_fd,
		   struct kvm_error *err)
{
	const char *argv[16] = { "chroot", root };
	size_t n = 2;

	for (; *command && n < 15; command++)
		argv[n++] = *command;
	argv[n] = NULL;
	return run_logged(argv, what, log_fd, err);
}

static int configure_root(const struct vars *vars, const char *root, int log_fd,
			  struct kvm_error *err)
{
	const char *host = vars_value(vars, "hostname"), *user = vars_value(vars, "user");
	const struct var *keys = vars_get(vars, "ssh_keys"), *post = vars_get(vars, "post_commands");
	struct strbuf text = STRBUF_INIT, path = STRBUF_INIT;
	int ret;

#define TRY(call) do { ret = (call); if (ret < 0) goto out; } while (0)
	strbuf_addf(&text, "%s\n", host);
	TRY(write_text(root, "/etc/hostname", 0644, text.buf, err));
	strbuf_reset(&text);
	strbuf_addf(&text, "127.0.0.1\tlocalhost\n127.0.1.1\t%s.%s %s\n::1\tlocalhost ip6-localhost\n",
		    host, vars_value(vars, "domain"), host);
	TRY(write_text(root, "/etc/hosts", 0644, text.buf, err));
	TRY(write_text(root, "/etc/fstab", 0644, "LABEL=root / ext4 errors=remount-ro 0 1\n", err));
	TRY(write_text(root, "/etc/systemd/network/80-kvm-install.network", 0644,
		       "# Every wired card by DHCP, whatever its name (kvm-install --method bootstrap).\n"
		       "[Match]\nName=en* eth*\n\n[Network]\nDHCP=yes\n", err));
	{
		const char *cmd[] = { "systemctl", "enable", "systemd-networkd", "systemd-resolved", NULL };

		TRY(in_root(root, cmd, "enabling systemd-networkd", log_fd, err));
	}
	strbuf_addf(&path, "%s/etc/default/grub.d", root);
	TRY(mkdir_p(path.buf, err));
	TRY(write_text(root, "/etc/default/grub.d/kvm-install.cfg", 0644,
		       "# The serial console too, so that kvm-install and virsh console see the guest.\n"
		       "GRUB_CMDLINE_LINUX=\"console=tty0 console=ttyS0,115200n8\"\n"
		       "GRUB_TERMINAL=\"console serial\"\n"
		       "GRUB_SERIAL_COMMAND=\"serial --speed=115200\"\n"
		       "GRUB_TIMEOUT=1\n", err));
	strbuf_reset(&text);
	strbuf_addf(&text, "%s\n", vars_value(vars, "timezone"));
	TRY(write_text(root, "/etc/timezone", 0644, text.buf, err));
	strbuf_reset(&text);
	strbuf_addf(&text, "/usr/share/zoneinfo/%s", vars_value(vars, "timezone"));
	{
		const char *cmd[] = { "ln", "-sf", text.buf, "/etc/localtime", NULL };

		TRY(in_root(root, cmd, "setting the time zone", log_fd, err));
	}
	strbuf_reset(&text);
	strbuf_addf(&text, "%s UTF-8\n", vars_value(vars, "locale"));
	TRY(write_text(root, "/etc/locale.gen", 0644, text.buf, err));
	{
		const char *cmd[] = { "locale-gen", NULL };

		TRY(in_root(root, cmd, "locale-gen", log_fd, err));
	}
	strbuf_reset(&text);
	strbuf_addf(&text, "LANG=%s\n", vars_value(vars, "locale"));
	TRY(write_text(root, "/etc/default/locale", 0644, text.buf, err));
	strbuf_reset(&text);
	strbuf_addf(&text, "XKBMODEL=\"pc105\"\nXKBLAYOUT=\"%s\"\n", vars_value(vars, "keyboard"));
	TRY(write_text(root, "/etc/default/keyboard", 0644, text.buf, err));
	if (*vars_value(vars, "proxy")) {
		strbuf_reset(&text);
		strbuf_addf(&text, "Acquire::http::Proxy \"%s\";\n", vars_value(vars, "proxy"));
		TRY(write_text(root, "/etc/apt/apt.conf.d/90kvm-install-proxy", 0644, text.buf, err));
	}
	strbuf_reset(&text);
	strbuf_addf(&text, "deb %s bookworm main\n", vars_value(vars, "mirror"));
	TRY(write_text(root, "/etc/apt/sources.list", 0644, text.buf, err));
	{
		const char *hash = *vars_value(vars, "password_hash") ? vars_value(vars, "password_hash") : "!";
		const char *cmd[] = { "useradd", "--create-home", "--shell", "/bin/bash", "--groups", "sudo",
				      "--comment", vars_value(vars, "fullname"), "--password", hash, user, NULL };

		TRY(in_root(root, cmd, "useradd", log_fd, err));
	}
	if (keys->count) {
		strbuf_reset(&path);
		strbuf_addf(&path, "%s/home/%s/.ssh", root, user);
		if (mkdir(path.buf, 0700) < 0 && errno != EEXIST) {
			ret = kvm_error_errno(err, -errno, "%s", path.buf);
			goto out;
		}
		strbuf_reset(&text);
		for (size_t i = 0; i < keys->count; i++)
			strbuf_addf(&text, "%s\n", keys->values[i]);
		strbuf_reset(&path);
		strbuf_addf(&path, "/home/%s/.ssh/authorized_keys", user);
		TRY(write_text(root, path.buf, 0600, text.buf, err));
		strbuf_reset(&path);
		strbuf_addf(&path, "/home/%s/.ssh", user);
		strbuf_reset(&text);
		strbuf_addf(&text, "%s:", user);
		{
			const char *cmd[] = { "chown", "-R", text.buf, path.buf, NULL };

			TRY(in_root(root, cmd, "chown of the SSH keys", log_fd, err));
		}
	}
	for (size_t i = 0; i < post->count; i++) {
		const char *cmd[] = { "sh", "-c", post->values[i], NULL };

		TRY(in_root(root, cmd, post->values[i], log_fd, err));
	}
	TRY(write_text(root, "/kvm-install-setup", 0755, setup_script, err));
#undef TRY
	ret = 0;
out:
	strbuf_release(&text);
	strbuf_release(&path);
	return ret;
}

/* An MBR with one bootable Linux partition from 1 MiB to the end. */
static int write_mbr(int fd, uint64_t size, struct kvm_error *err)
{
	unsigned char mbr[512] = { 0 };
	uint64_t start = PARTITION_START / 512, count = size / 512 - start;
	uint32_t id;
	unsigned char *entry = mbr + 446;

	if (count > UINT32_MAX)
		return kvm_error_set(err, -EFBIG, "an MBR disk holds at most 2 TiB");
	if (getentropy(&id, sizeof(id)) < 0)
		id = (uint32_t)getpid();
	memcpy(mbr + 440, &id, 4);
	entry[0] = 0x80;
	/* CHS fields say "use LBA" as partitioners do for large disks. */
	entry[1] = 0xfe; entry[2] = 0xff; entry[3] = 0xff;
	entry[4] = 0x83;
	entry[5] = 0xfe; entry[6] = 0xff; entry[7] = 0xff;
	for (int i = 0; i < 4; i++) {
		entry[8 + i] = (unsigned char)(start >> (8 * i));
		entry[12 + i] = (unsigned char)(count >> (8 * i));
	}
	mbr[510] = 0x55;
	mbr[511] = 0xaa;
	if (pwrite(fd, mbr, sizeof(mbr), 0) != (ssize_t)sizeof(mbr))
		return kvm_error_errno(err, -errno, "the MBR");
	return 0;
}

static int make_disk(const char *root, const char *raw, uint64_t size, int log_fd,
		     struct kvm_error *err)
{
	struct strbuf offset = STRBUF_INIT, blocks = STRBUF_INIT;
	int fd, ret;

	size &= ~(uint64_t)(PARTITION_START - 1);
	if (size < 2ull << 30)
		return kvm_error_set(err, -EINVAL, "--size: a Debian guest needs at least 2G");
	fd = open(raw, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0)
		return kvm_error_errno(err, -errno, "%s", raw);
	ret = ftruncate(fd, (off_t)size) < 0 ? kvm_error_errno(err, -errno, "%s", raw) : 0;
	if (ret == 0)
		ret = write_mbr(fd, size, err);
	close(fd);
	if (ret < 0)
		return ret;
	strbuf_addf(&offset, "offset=%d", PARTITION_START);
	strbuf_addf(&blocks, "%" PRIu64, (size - PARTITION_START) / 4096);
	{
		const char *argv[] = { "mke2fs", "-F", "-q", "-t", "ext4", "-b", "4096", "-L", "root",
				       "-E", offset.buf, "-d", root, raw, blocks.buf, NULL };

		ret = run_logged(argv, "mke2fs", log_fd, err);
	}
	strbuf_release(&offset);
	strbuf_release(&blocks);
	return ret;
}

static int find_one(const char *pattern, struct strbuf *out, struct kvm_error *err)
{
	glob_t g;
	int ret = 0;

	if (glob(pattern, 0, NULL, &g) != 0 || g.gl_pathc == 0)
		ret = kvm_error_set(err, -ENOENT, "%s: not found in the new system", pattern);
	else
		strbuf_addstr(out, g.gl_pathv[g.gl_pathc - 1]);
	globfree(&g);
	return ret;
}

static int install_grub(const struct bootstrap *b, const char *root, const char *raw,
			struct kvm_error *err)
{
	struct strbuf kernel = STRBUF_INIT, initrd = STRBUF_INIT, pattern = STRBUF_INIT,
		      drive = STRBUF_INIT;
	struct guest_run g = { 0 };
	const char *qemu = getenv("KVM_INSTALL_QEMU") ? getenv("KVM_INSTALL_QEMU") : "qemu-system-x86_64";
	int ret;

	strbuf_addf(&pattern, "%s/boot/vmlinuz-*", root);
	ret = find_one(pattern.buf, &kernel, err);
	strbuf_reset(&pattern);
	strbuf_addf(&pattern, "%s/boot/initrd.img-*", root);
	if (ret == 0)
		ret = find_one(pattern.buf, &initrd, err);
	if (ret < 0)
		goto out;
	strbuf_addf(&drive, "file=%s,format=raw,if=virtio,cache=unsafe", raw);
	{
		const char *argv[] = {
			qemu, "-accel", b->tcg ? "tcg" : "kvm", "-cpu", b->tcg ? "max" : "host",
			"-m", "1024", "-smp", "2", "-nodefaults", "-no-reboot", "-display", "none",
			"-serial", "stdio", "-drive", drive.buf, "-kernel", kernel.buf,
			"-initrd", initrd.buf, "-append",
			"root=/dev/vda1 rw console=ttyS0 init=/kvm-install-setup panic=-1 no_timer_check",
			NULL,
		};

		g.argv = argv;
		g.console_log = b->log_path;
		g.name = "debian-12";
		g.milestones = setup_milestones;
		g.done_pattern = "KVM-INSTALL-GRUB-DONE";
		g.timeout_s = b->timeout_s;
		ret = guest_run(&g, err);
	}
	if (ret == 0 && !g.done)
		ret = kvm_error_set(err, -EIO, "debian-12: installing GRUB in the new system failed%s; "
				    "it stopped after: %s (console log: %s)",
				    g.timed_out ? " (timed out)" : "",
				    g.last_milestone ? g.last_milestone : "nothing seen", b->log_path);
out:
	strbuf_release(&kernel);
	strbuf_release(&initrd);
	strbuf_release(&pattern);
	strbuf_release(&drive);
	return ret;
}

int bootstrap_build(const struct bootstrap *b, struct kvm_error *err)
{
	struct strbuf root = STRBUF_INIT, raw = STRBUF_INIT, log_name = STRBUF_INIT;
	struct kvmi_convert_options convert = { .out.format = b->format, .out.replace = true };
	struct kvmi_image *img = NULL;
	int log_fd, ret;

	strbuf_addf(&root, "%s/root", b->workdir);
	strbuf_addf(&raw, "%s/disk.raw", b->workdir);
	/* The host's side (mmdebstrap, mke2fs) goes beside the console log. */
	strbuf_addf(&log_name, "%s.bootstrap", b->log_path);
	log_fd = open(log_name.buf, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (log_fd < 0) {
		ret = kvm_error_errno(err, -errno, "%s", log_name.buf);
		goto out;
	}
	log_notice("debian-12: downloading and unpacking packages with mmdebstrap (log: %s)", log_name.buf);
	ret = debootstrap_root(b->vars, root.buf, log_fd, err);
	if (ret < 0)
		goto out;
	log_notice("debian-12: configuring the new system");
	ret = configure_root(b->vars, root.buf, log_fd, err);
	if (ret < 0)
		goto out;
	log_notice("debian-12: writing the file system to the disk");
	ret = make_disk(root.buf, raw.buf, b->size, log_fd, err);
	if (ret < 0)
		goto out;
	log_notice("debian-12: installing GRUB from the new system's first boot");
	ret = install_grub(b, root.buf, raw.buf, err);
	if (ret < 0)
		goto out;
	ret = kvmi_open(raw.buf, NULL, &img, err);
	if (ret == 0)
		ret = kvmi_convert(img, b->disk_path, &convert, err);
out:
	kvmi_close(img);
	if (log_fd >= 0)
		close(log_fd);
	if (raw.len)
		unlink(raw.buf);
	if (root.len) {
		const char *argv[] = { "rm", "-rf", "--one-file-system", root.buf, NULL };
		struct run_cmd cmd;

		run_cmd_init(&cmd, argv);
		run_command(&cmd, NULL);
		run_cmd_release(&cmd);
	}
	strbuf_release(&root);
	strbuf_release(&raw);
	strbuf_release(&log_name);
	return ret;
}
