/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * kvm-install PROFILE --disk FILE: creates the disk with libkvmimage,
 * renders and validates the answer file, serves it over HTTP to the
 * installer booted under QEMU, follows the install on the serial console
 * and waits for the guest to power off.  The disk appears under its name
 * only when the install completed; the console log is kept either way.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "config.h"
#include "guest.h"
#include "iso.h"
#include "json-out.h"
#include "kvm-install.h"
#include "kvmimage.h"
#include "log.h"
#include "netinstall.h"
#include "outfile.h"
#include "path.h"
#include "size.h"
#include "xalloc.h"

static const char help[] =
	"Usage: kvm-install PROFILE --disk FILE [OPTIONS]\n"
	"       kvm-install COMMAND [OPTIONS] ARGS...\n"
	"\n"
	"Install a guest unattended: create the disk, render and check the answer\n"
	"file, boot the installer under QEMU, follow it on the serial console and\n"
	"wait for the guest to power off.\n"
	"\n"
	"Commands:\n"
	"  render    write one answer file (kvm-install render --help)\n"
	"\n"
	"Options:\n"
	"      --disk FILE        the new disk (required); replaced only with --force\n"
	"      --size SIZE        its size (default 20G): 512M, 20G, 1.5T\n"
	"      --format FMT       its format: qcow2 (default) or raw\n"
	"      --force            replace the disk if it exists\n"
	"      --memory SIZE      the installer's memory (default: the profile's)\n"
	"      --cpus N           virtual CPUs (default 2)\n"
	"      --iso ISO          the installation ISO (Ubuntu, Fedora, RHEL, openSUSE, Windows)\n"
	"      --virtio-win ISO   Windows: the virtio-win driver disc\n"
	"      --kernel FILE      boot this kernel instead of the profile's\n"
	"      --initrd FILE      and this initrd\n"
	"      --append ARGS      more of the installer's kernel command line\n"
	"      --vars FILE        read variables from KEY = VALUE lines (may be repeated)\n"
	"      --set KEY=VALUE    set one variable; lists grow by one item\n"
	"      --method METHOD    installer (default) or bootstrap (debian-12: mmdebstrap)\n"
	"      --netboot          PXE-boot the installer through QEMU's TFTP from a kvm-netboot tree\n"
	"      --timeout MINUTES  give up after this long (default 180)\n"
	"      --accel MODE       kvm or tcg (default: kvm when /dev/kvm can be used)\n"
	"      --console-log FILE where the serial console goes (default: DISK.install.log)\n"
	"      --dry-run          render and check everything, print the command line, start nothing\n"
	"      --list-profiles    list the profiles and exit\n"
	"      --list-vars        list the variables and exit\n"
	"      --output FMT       human (default) or json: the result\n"
	"  -v, --verbose          say what is done (the QEMU command line)\n"
	"  -q, --quiet            print errors only\n"
	"  -h, --help             show this help\n"
	"  -V, --version          show the version\n"
	"\n"
	"See kvm-install(1) for more.\n";

enum {
	OPT_DISK = OPT_FIRST_COMMAND,
	OPT_SIZE,
	OPT_FORMAT,
	OPT_FORCE,
	OPT_MEMORY,
	OPT_CPUS,
	OPT_ISO,
	OPT_VIRTIO_WIN,
	OPT_KERNEL,
	OPT_INITRD,
	OPT_APPEND,
	OPT_METHOD,
	OPT_NETBOOT,
	OPT_TIMEOUT,
	OPT_ACCEL,
	OPT_CONSOLE_LOG,
	OPT_DRY_RUN,
	OPT_LIST_PROFILES,
	OPT_LIST_VARS,
};

static const struct option long_options[] = {
	{ "disk", required_argument, NULL, OPT_DISK },
	{ "size", required_argument, NULL, OPT_SIZE },
	{ "format", required_argument, NULL, OPT_FORMAT },
	{ "force", no_argument, NULL, OPT_FORCE },
	{ "memory", required_argument, NULL, OPT_MEMORY },
	{ "cpus", required_argument, NULL, OPT_CPUS },
	{ "iso", required_argument, NULL, OPT_ISO },
	{ "virtio-win", required_argument, NULL, OPT_VIRTIO_WIN },
	{ "kernel", required_argument, NULL, OPT_KERNEL },
	{ "initrd", required_argument, NULL, OPT_INITRD },
	{ "append", required_argument, NULL, OPT_APPEND },
	{ "vars", required_argument, NULL, OPT_VARS },
	{ "set", required_argument, NULL, OPT_SET },
	{ "method", required_argument, NULL, OPT_METHOD },
	{ "netboot", no_argument, NULL, OPT_NETBOOT },
	{ "timeout", required_argument, NULL, OPT_TIMEOUT },
	{ "accel", required_argument, NULL, OPT_ACCEL },
	{ "console-log", required_argument, NULL, OPT_CONSOLE_LOG },
	{ "dry-run", no_argument, NULL, OPT_DRY_RUN },
	{ "list-profiles", no_argument, NULL, OPT_LIST_PROFILES },
	{ "list-vars", no_argument, NULL, OPT_LIST_VARS },
	{ "version", no_argument, NULL, 'V' },
	CLI_COMMON_LONG_OPTIONS,
	{ NULL, 0, NULL, 0 },
};

struct install_args {
	const char *disk, *format, *iso, *virtio_win, *kernel, *initrd, *append, *accel, *console_log;
	const char **files, **sets;
	size_t n_files, n_sets;
	uint64_t size, memory;
	unsigned cpus, timeout_min;
	bool force, netboot, bootstrap, dry_run, list_profiles, list_vars, version;
	const char *program;
};

static void add_arg(const char ***list, size_t *n, const char *arg)
{
	*list = xrealloc(*list, (*n + 1) * sizeof(**list));
	(*list)[(*n)++] = arg;
}

static int parse_number(const char *program, const char *option, const char *arg,
			unsigned long max, unsigned *out)
{
	char *end;
	unsigned long n;

	errno = 0;
	n = strtoul(arg, &end, 10);
	if (errno || end == arg || *end || n == 0 || n > max)
		return cli_usage_error(program, "%s takes a number from 1 to %lu", option, max);
	*out = (unsigned)n;
	return 0;
}

static int parse_size(const char *program, const char *option, const char *arg, uint64_t *out)
{
	struct kvm_error err = { 0 };

	if (size_parse(arg, out, &err) < 0 || *out == 0)
		return cli_usage_error(program, "%s: '%s' is not a size like 20G", option, arg);
	return 0;
}

static int handle_option(int opt, const char *arg, void *ctx)
{
	struct install_args *a = ctx;

	switch (opt) {
	case OPT_DISK: a->disk = arg; break;
	case OPT_SIZE: return parse_size(a->program, "--size", arg, &a->size);
	case OPT_FORMAT:
		if (strcmp(arg, "qcow2") != 0 && strcmp(arg, "raw") != 0)
			return cli_usage_error(a->program, "--format takes qcow2 or raw");
		a->format = arg;
		break;
	case OPT_FORCE: a->force = true; break;
	case OPT_MEMORY:
		/* A bare number is MiB, as for QEMU's -m and kvm-run. */
		if (strspn(arg, "0123456789") == strlen(arg)) {
			unsigned mib;

			if (parse_number(a->program, "--memory", arg, 1u << 20, &mib))
				return 1;
			a->memory = (uint64_t)mib << 20;
			break;
		}
		return parse_size(a->program, "--memory", arg, &a->memory);
	case OPT_CPUS: return parse_number(a->program, "--cpus", arg, 64, &a->cpus);
	case OPT_ISO: a->iso = arg; break;
	case OPT_VIRTIO_WIN: a->virtio_win = arg; break;
	case OPT_KERNEL: a->kernel = arg; break;
	case OPT_INITRD: a->initrd = arg; break;
	case OPT_APPEND: a->append = arg; break;
	case OPT_VARS: add_arg(&a->files, &a->n_files, arg); break;
	case OPT_SET: add_arg(&a->sets, &a->n_sets, arg); break;
	case OPT_METHOD:
		if (strcmp(arg, "installer") == 0)
			a->bootstrap = false;
		else if (strcmp(arg, "bootstrap") == 0)
			a->bootstrap = true;
		else
			return cli_usage_error(a->program, "--method takes installer or bootstrap");
		break;
	case OPT_NETBOOT: a->netboot = true; break;
	case OPT_TIMEOUT: return parse_number(a->program, "--timeout", arg, 10080, &a->timeout_min);
	case OPT_ACCEL:
		if (strcmp(arg, "kvm") != 0 && strcmp(arg, "tcg") != 0)
			return cli_usage_error(a->program, "--accel takes kvm or tcg");
		a->accel = arg;
		break;
	case OPT_CONSOLE_LOG: a->console_log = arg; break;
	case OPT_DRY_RUN: a->dry_run = true; break;
	case OPT_LIST_PROFILES: a->list_profiles = true; break;
	case OPT_LIST_VARS: a->list_vars = true; break;
	case 'V': a->version = true; break;
	}
	return 0;
}

static void list_profiles(bool json)
{
	struct json_object *array = json ? json_object_new_array() : NULL;

	for (const struct profile *const *p = profiles; *p; p++) {
		if (!json) {
			printf("%-20s %s\n", (*p)->name, (*p)->description);
			continue;
		}
		struct json_object *obj = json_object_new_object();

		json_out_add_string(obj, "name", (*p)->name);
		json_out_add_string(obj, "description", (*p)->description);
		json_out_add_string(obj, "answer_file", (*p)->answer_name);
		json_out_add_bool(obj, "needs_iso", (*p)->boot != BOOT_KERNEL);
		json_out_add_bool(obj, "bootstrap", (*p)->bootstrap);
		json_object_array_add(array, obj);
	}
	if (json) {
		json_out_print(stdout, array);
		json_object_put(array);
	}
}

/* The argv being built: each item owned. */
struct argv_list {
	char **v;
	size_t n;
};

static void argv_add(struct argv_list *l, const char *s)
{
	l->v = xrealloc(l->v, (l->n + 2) * sizeof(*l->v));
	l->v[l->n++] = xstrdup(s);
	l->v[l->n] = NULL;
}

static void argv_addf(struct argv_list *l, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void argv_addf(struct argv_list *l, const char *fmt, ...)
{
	struct strbuf sb = STRBUF_INIT;
	va_list ap;

	va_start(ap, fmt);
	strbuf_vaddf(&sb, fmt, ap);
	va_end(ap);
	argv_add(l, sb.buf);
	strbuf_release(&sb);
}

static void argv_release(struct argv_list *l)
{
	for (size_t i = 0; i < l->n; i++)
		free(l->v[i]);
	free(l->v);
	l->v = NULL;
	l->n = 0;
}

static bool kvm_usable(void)
{
	int fd = open("/dev/kvm", O_RDWR | O_CLOEXEC);

	if (fd < 0)
		return false;
	close(fd);
	return true;
}

/* Everything one install holds, released in one place. */
struct install {
	const struct install_args *args;
	const struct profile *profile;
	struct vars vars;
	struct strbuf workdir, kernel, initrd, cmdline, log_path;
	struct outfile disk;
	struct http_server server;
	struct argv_list argv;
	struct netinstall net;
	bool tcg;
};

static int prepare_boot_files(struct install *in, struct kvm_error *err)
{
	const struct install_args *a = in->args;
	const struct profile *p = in->profile;
	int ret;

	if (a->kernel || a->initrd) {
		if (!a->kernel || !a->initrd)
			return kvm_error_set(err, -EINVAL, "give --kernel and --initrd together");
		strbuf_addstr(&in->kernel, a->kernel);
		strbuf_addstr(&in->initrd, a->initrd);
		return 0;
	}
	if (p->boot == BOOT_KERNEL) {
		if (!p->kernel)
			return kvm_error_set(err, -EINVAL, "%s: give the guest's --kernel and --initrd",
					     p->name);
		if (access(p->kernel, R_OK) != 0)
			return kvm_error_errno(err, -errno,
					       "%s: the installer's kernel (%s: install debian-installer-12-netboot-amd64)",
					       p->kernel, p->name);
		strbuf_addstr(&in->kernel, p->kernel);
		strbuf_addstr(&in->initrd, p->initrd);
		return 0;
	}
	strbuf_addf(&in->kernel, "%s/vmlinuz", in->workdir.buf);
	strbuf_addf(&in->initrd, "%s/initrd", in->workdir.buf);
	ret = iso_extract(a->iso, p->kernel, in->kernel.buf, err);
	if (ret == 0)
		ret = iso_extract(a->iso, p->initrd, in->initrd.buf, err);
	return ret;
}

/* The disk QEMU writes: the temporary one, or with --dry-run its name. */
static const char *disk_path(const struct install *in)
{
	return in->args->dry_run ? in->args->disk : in->disk.tmp_path;
}

static int build_linux_argv(struct install *in)
{
	const struct install_args *a = in->args;
	struct argv_list *l = &in->argv;

	argv_add(l, getenv("KVM_INSTALL_QEMU") ? getenv("KVM_INSTALL_QEMU") : "qemu-system-x86_64");
	argv_add(l, "-accel");
	argv_add(l, in->tcg ? "tcg" : "kvm");
	argv_add(l, "-cpu");
	argv_add(l, in->tcg ? "max" : "host");
	argv_add(l, "-machine");
	/* --netboot: without a display, SeaBIOS shows itself, iPXE and pxelinux
	 * on the serial console. */
	argv_add(l, a->netboot ? "q35,graphics=off" : "q35");
	argv_add(l, "-m");
	argv_addf(l, "%" PRIu64 "M", (a->memory ? a->memory : (uint64_t)in->profile->memory_mib << 20) >> 20);
	argv_add(l, "-smp");
	argv_addf(l, "%u", a->cpus ? a->cpus : 2);
	argv_add(l, "-nodefaults");
	argv_add(l, "-no-reboot");
	argv_add(l, "-display");
	argv_add(l, "none");
	argv_add(l, "-serial");
	argv_add(l, "stdio");
	/* cache=unsafe: a failed install is thrown away anyway, and the disk
	 * is synced before it gets its name. */
	argv_add(l, "-drive");
	argv_addf(l, "file=%s,format=%s,if=virtio,cache=unsafe,discard=unmap", disk_path(in),
		  a->format ? a->format : "qcow2");
	if (a->iso) {
		argv_add(l, "-drive");
		argv_addf(l, "file=%s,format=raw,media=cdrom,readonly=on", a->iso);
	}
	argv_add(l, "-device");
	argv_add(l, "virtio-rng-pci");
	argv_add(l, "-netdev");
	if (a->netboot) {
		/* QEMU's DHCP names the loader, its TFTP serves the tree; the
		 * network card's iPXE ROM boots first. */
		argv_addf(l, "user,id=net0,tftp=%s,bootfile=" NETINSTALL_LOADER, in->net.tftp_root.buf);
		argv_add(l, "-device");
		argv_add(l, "virtio-net-pci,netdev=net0,mac=" NETINSTALL_MAC ",bootindex=1");
		return 0;
	}
	argv_add(l, "user,id=net0");
	argv_add(l, "-device");
	argv_add(l, "virtio-net-pci,netdev=net0");
	argv_add(l, "-kernel");
	argv_add(l, in->kernel.buf);
	argv_add(l, "-initrd");
	argv_add(l, in->initrd.buf);
	argv_add(l, "-append");
	argv_add(l, in->cmdline.buf);
	return 0;
}

/* Windows: kvm-run knows its firmware, TPM and virtio-win; the answer file
 * is on a USB stick QEMU makes of a folder, which setup searches. */
static int build_windows_argv(struct install *in, struct kvm_error *err)
{
	const struct install_args *a = in->args;
	struct argv_list *l = &in->argv;

	if (!a->iso)
		return kvm_error_set(err, -EINVAL, "%s: give the Windows installation ISO with --iso",
				     in->profile->name);
	argv_add(l, getenv("KVM_INSTALL_KVM_RUN") ? getenv("KVM_INSTALL_KVM_RUN") : "kvm-run");
	argv_add(l, "--profile");
	argv_add(l, strcmp(in->profile->name, "windows-11") == 0 ? "windows-11" : "windows");
	argv_add(l, "--uefi");
	argv_add(l, "--disk");
	argv_add(l, disk_path(in));
	argv_add(l, "--cdrom");
	argv_add(l, a->iso);
	if (a->virtio_win) {
		argv_add(l, "--virtio-win");
		argv_add(l, a->virtio_win);
	}
	argv_add(l, "--memory");
	argv_addf(l, "%" PRIu64 "M", (a->memory ? a->memory : (uint64_t)in->profile->memory_mib << 20) >> 20);
	argv_add(l, "--cpus");
	argv_addf(l, "%u", a->cpus ? a->cpus : 2);
	argv_add(l, "--console");
	argv_add(l, "vnc");
	if (a->accel) {
		argv_add(l, "--accel");
		argv_add(l, a->accel);
	}
	argv_add(l, "--");
	argv_add(l, "-no-reboot");
	argv_add(l, "-drive");
	argv_addf(l, "file=fat:ro:%s/answer,format=vvfat,if=none,id=answers", in->workdir.buf);
	argv_add(l, "-device");
	argv_add(l, "usb-storage,drive=answers,removable=on");
	return 0;
}

static int render_files(struct install *in, struct kvm_error *err)
{
	struct strbuf path = STRBUF_INIT;
	bool windows = in->profile->boot == BOOT_WINDOWS;
	int ret = 0;

	if (windows) {
		strbuf_addf(&path, "%s/answer", in->workdir.buf);
		if (mkdir(path.buf, 0700) < 0) {
			ret = kvm_error_errno(err, -errno, "%s", path.buf);
			goto out;
		}
		strbuf_addch(&path, '/');
	} else {
		strbuf_addf(&path, "%s/", in->workdir.buf);
	}
	strbuf_addstr(&path, in->profile->answer_name);
	if (write_answer(in->profile, &in->vars, path.buf, false) < 0) {
		ret = kvm_error_set(err, -EINVAL, "%s: the answer file was not written",
				    in->profile->name);
		goto out;
	}
	if (in->profile->format == FORMAT_AUTOINSTALL) {
		/* NoCloud fetches meta-data beside user-data. */
		int fd;

		strbuf_reset(&path);
		strbuf_addf(&path, "%s/meta-data", in->workdir.buf);
		fd = open(path.buf, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
		if (fd < 0 || dprintf(fd, "instance-id: %s\n", vars_value(&in->vars, "hostname")) < 0) {
			ret = kvm_error_errno(err, -errno, "%s", path.buf);
			if (fd >= 0)
				close(fd);
			goto out;
		}
		close(fd);
	}
	if (!windows)
		ret = template_render(in->profile->cmdline, "the kernel command line", &in->vars,
				      FORMAT_PLAIN, &in->cmdline, err);
	if (ret == 0 && in->args->append) {
		/* Before Debian's "---": what follows it goes to the installed system. */
		char *rest = strstr(in->cmdline.buf, " ---");
		char *tail = xstrdup(rest ? rest : "");

		if (rest)
			strbuf_setlen(&in->cmdline, (size_t)(rest - in->cmdline.buf));
		strbuf_addf(&in->cmdline, " %s%s", in->args->append, tail);
		free(tail);
	}
out:
	strbuf_release(&path);
	return ret;
}

static void remove_workdir(const char *dir)
{
	struct strbuf path = STRBUF_INIT;
	static const char *const names[] = {
		"answer/autounattend.xml", "answer", "preseed.cfg", "user-data", "meta-data",
		"ks.cfg", "autoinst.xml", "agama.json", "vmlinuz", "initrd",
	};

	if (!*dir)
		return;
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		strbuf_reset(&path);
		strbuf_addf(&path, "%s/%s", dir, names[i]);
		if (unlink(path.buf) < 0 && errno == EISDIR)
			rmdir(path.buf);
	}
	strbuf_release(&path);
	rmdir(dir);
}

static int sync_file(const char *path, struct kvm_error *err)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	int ret = 0;

	if (fd < 0)
		return kvm_error_errno(err, -errno, "%s", path);
	if (fsync(fd) < 0)
		ret = kvm_error_errno(err, -errno, "%s", path);
	close(fd);
	return ret;
}

static void print_result(const struct install *in, unsigned seconds, bool json)
{
	if (json) {
		struct json_object *obj = json_object_new_object();

		json_out_add_string(obj, "profile", in->profile->name);
		json_out_add_string(obj, "disk", in->args->disk);
		json_out_add_string(obj, "console_log", in->log_path.buf);
		json_out_add_uint(obj, "seconds", seconds);
		json_out_add_bool(obj, "installed", true);
		json_out_print(stdout, obj);
		json_object_put(obj);
		return;
	}
	printf("Installed %s on %s in %u:%02u (console log: %s).\n"
	       "Start it with: kvm-run --disk %s\n",
	       in->profile->name, in->args->disk, seconds / 60, seconds % 60,
	       in->log_path.buf, in->args->disk);
}

static unsigned timeout_s(const struct install_args *a)
{
	return (a->timeout_min ? a->timeout_min : 180) * 60;
}

static int run_bootstrap(struct install *in, struct kvm_error *err)
{
	const struct install_args *a = in->args;
	struct bootstrap b = {
		.vars = &in->vars, .workdir = in->workdir.buf, .format = a->format ? a->format : "qcow2",
		.log_path = in->log_path.buf, .size = a->size ? a->size : 20ull << 30,
		.timeout_s = timeout_s(a), .tcg = in->tcg,
	};
	int ret = outfile_open(&in->disk, a->disk, a->force, 0644, err);

	if (ret < 0)
		return ret;
	b.disk_path = in->disk.tmp_path;
	return bootstrap_build(&b, err);
}

/* What the guest's end says about the install: 0 when it completed. */
static int verdict(const struct install *in, const struct guest_run *g, struct kvm_error *err)
{
	const char *name = in->profile->name, *log = in->log_path.buf;
	const char *last = g->last_milestone ? g->last_milestone : "nothing seen";
	bool served = in->profile->boot == BOOT_WINDOWS || in->server.served;

	if (g->question)
		return kvm_error_set(err, -EIO, "%s: the installer asks a question the answer file does not answer: '%s', after: %s (console log: %s)",
				     name, g->question, last, log);
	if (g->timed_out)
		return kvm_error_set(err, -ETIMEDOUT, "%s: no power-off within %u minutes; the install stopped after: %s (console log: %s)",
				     name, g->timeout_s / 60, last, log);
	if (!served)
		return kvm_error_set(err, -EIO, "%s: the guest stopped (QEMU status %d) before fetching the answer file (console log: %s)",
				     name, g->status, log);
	if (g->status != 0 || (in->profile->milestones[0].pattern && !g->seen))
		return kvm_error_set(err, -EIO, "%s: the guest stopped (QEMU status %d) after: %s; the install is incomplete (console log: %s)",
				     name, g->status, last, log);
	if (in->profile->done_pattern && !g->done)
		return kvm_error_set(err, -EIO, "%s: the guest powered off before the install finished; it stopped after: %s (console log: %s)",
				     name, last, log);
	return 0;
}

static int run_installer(struct install *in, struct guest_run *g, struct kvm_error *err)
{
	const struct install_args *a = in->args;
	struct kvmi_create_options create = { .format = a->format ? a->format : "qcow2", .replace = true };
	struct strbuf text = STRBUF_INIT;
	int ret;

	if (in->profile->boot != BOOT_WINDOWS) {
		ret = http_server_start(&in->server, in->workdir.buf, err);
		if (ret < 0)
			goto out;
		/* QEMU's user network shows the host's 127.0.0.1 as 10.0.2.2. */
		strbuf_addf(&text, "http://10.0.2.2:%u/", in->server.port);
		ret = vars_assign(&in->vars, "answer_base", text.buf, err);
		if (ret < 0)
			goto out;
	}
	if (a->iso && in->profile->boot == BOOT_ISO_KERNEL) {
		strbuf_reset(&text);
		ret = iso_label(a->iso, &text, err);
		if (ret == 0)
			ret = vars_assign(&in->vars, "iso_label", text.buf, err);
		if (ret < 0)
			goto out;
	}
	ret = render_files(in, err);
	if (ret < 0)
		goto out;
	if (in->profile->boot != BOOT_WINDOWS) {
		ret = prepare_boot_files(in, err);
		if (ret < 0)
			goto out;
	}
	if (a->netboot) {
		strbuf_reset(&text);
		strbuf_addf(&text, "%s/%s", in->workdir.buf, in->profile->answer_name);
		in->net.workdir = in->workdir.buf;
		in->net.profile = in->profile->name;
		in->net.kernel = in->kernel.buf;
		in->net.initrd = in->initrd.buf;
		in->net.cmdline = in->cmdline.buf;
		in->net.answer = text.buf;
		in->net.http_port = in->server.port;
		ret = netinstall_prepare(&in->net, err);
		if (ret < 0)
			goto out;
	}

	if (!a->dry_run) {
		ret = outfile_open(&in->disk, a->disk, a->force, 0644, err);
		if (ret < 0)
			goto out;
		ret = kvmi_create(in->disk.tmp_path, a->size ? a->size : 20ull << 30, &create, err);
	}
	if (ret < 0) {
		/* The message names the temporary file; the user knows the disk. */
		strbuf_reset(&text);
		strbuf_addstr(&text, err->message);
		kvm_error_set(err, ret, "%s: %s", a->disk, text.buf);
		goto out;
	}
	if (in->profile->boot == BOOT_WINDOWS)
		ret = build_windows_argv(in, err);
	else
		ret = build_linux_argv(in);
	if (ret < 0)
		goto out;
	if (a->dry_run) {
		for (size_t i = 0; i < in->argv.n; i++)
			printf("%s\n", in->argv.v[i]);
		ret = 1;
		goto out;
	}
	for (size_t i = 0; i < in->argv.n; i++)
		log_verbose("  %s", in->argv.v[i]);

	log_notice("%s: installing on %s%s; console log: %s", in->profile->name, a->disk,
		   in->tcg ? " under software emulation (slow)" : "", in->log_path.buf);
	g->argv = (const char *const *)in->argv.v;
	g->console_log = in->log_path.buf;
	g->name = in->profile->name;
	g->milestones = in->profile->milestones;
	g->server = in->profile->boot == BOOT_WINDOWS ? NULL : &in->server;
	g->done_pattern = in->profile->done_pattern;
	g->question_pattern = in->profile->question_pattern;
	g->timeout_s = timeout_s(a);
	ret = guest_run(g, err);
	if (ret == 0)
		ret = verdict(in, g, err);
out:
	strbuf_release(&text);
	return ret;
}

static int install(struct install *in, bool json)
{
	const char *tmp = getenv("TMPDIR");
	struct guest_run g = { 0 };
	struct kvm_error err = { 0 };
	time_t started = time(NULL);
	int ret;

	strbuf_addf(&in->workdir, "%s/kvm-install-XXXXXX", tmp && *tmp ? tmp : "/tmp");
	if (!mkdtemp(in->workdir.buf)) {
		ret = kvm_error_errno(&err, -errno, "a work folder in %s", tmp && *tmp ? tmp : "/tmp");
		strbuf_reset(&in->workdir);
	} else if (in->args->bootstrap) {
		ret = run_bootstrap(in, &err);
	} else {
		ret = run_installer(in, &g, &err);
		if (ret == 1) {
			/* --dry-run: printed, nothing made. */
			return 0;
		}
	}
	if (ret == 0)
		ret = sync_file(in->disk.tmp_path, &err);
	if (ret == 0)
		ret = outfile_commit(&in->disk, &err);
	free(g.question);
	if (ret < 0) {
		outfile_abort(&in->disk);
		log_error("%s", err.message);
		return -1;
	}
	print_result(in, (unsigned)(time(NULL) - started), json);
	return 0;
}

int cmd_install(int argc, char **argv)
{
	struct cli_common common = { .progress = PROGRESS_AUTO };
	struct install_args args = { .program = "kvm-install" };
	struct install in = { .args = &args, .workdir = STRBUF_INIT, .kernel = STRBUF_INIT,
			      .initrd = STRBUF_INIT, .cmdline = STRBUF_INIT, .log_path = STRBUF_INIT,
			      .net = { .tftp_root = STRBUF_INIT } };
	int status = EXIT_FAILURE_GENERIC;
	struct stat st;

	vars_init(&in.vars);
	in.disk = (struct outfile){ .fd = -1, .lock_fd = -1, .slot = -1 };
	in.server = (struct http_server){ .listen_fd = -1, .stop_pipe = { -1, -1 } };
	if (cli_parse(argc, argv, "V", long_options, &common, handle_option, &args))
		goto out;
	if (common.help) {
		fputs(help, stdout);
		status = 0;
		goto out;
	}
	if (args.version) {
		printf("kvm-install %s\n", PACKAGE_VERSION);
		status = 0;
		goto out;
	}
	if (args.list_profiles) {
		list_profiles(common.json);
		status = 0;
		goto out;
	}
	if (args.list_vars) {
		vars_print_help();
		status = 0;
		goto out;
	}
	if (argc - optind != 1) {
		status = cli_usage_error(args.program, "give one profile (kvm-install --list-profiles)");
		goto out;
	}
	in.profile = profile_find(argv[optind]);
	if (!in.profile) {
		log_error("'%s' is not a profile (kvm-install --list-profiles)", argv[optind]);
		goto out;
	}
	if (!args.disk) {
		status = cli_usage_error(args.program, "give the new disk with --disk FILE");
		goto out;
	}
	if (!args.force && lstat(args.disk, &st) == 0) {
		log_error("%s: already exists (use --force to replace it)", args.disk);
		goto out;
	}
	if (args.netboot && args.bootstrap) {
		status = cli_usage_error(args.program, "--netboot is for the installer method");
		goto out;
	}
	if (args.netboot && in.profile->boot == BOOT_WINDOWS) {
		log_error("%s: --netboot is for the Linux profiles (Windows setup boots from its ISO; "
			  "kvm-netboot serves it to PXE clients)", in.profile->name);
		goto out;
	}
	if (args.bootstrap && args.dry_run) {
		status = cli_usage_error(args.program, "--dry-run is for the installer method");
		goto out;
	}
	if (args.bootstrap && !in.profile->bootstrap) {
		log_error("%s: --method bootstrap is for debian-12 only", in.profile->name);
		goto out;
	}
	if (args.bootstrap && args.size && args.size < (2ull << 30)) {
		status = cli_usage_error(args.program, "--size: a Debian guest needs at least 2G");
		goto out;
	}
	if (!args.bootstrap && in.profile->boot != BOOT_KERNEL && !args.iso) {
		status = cli_usage_error(args.program, "%s: give the installation ISO with --iso",
					 in.profile->name);
		goto out;
	}
	if (args.accel && strcmp(args.accel, "kvm") == 0 && !kvm_usable()) {
		log_error("/dev/kvm: KVM cannot be used here (see kvm-ok)");
		goto out;
	}
	in.tcg = args.accel ? strcmp(args.accel, "tcg") == 0 : !kvm_usable();
	if (!args.accel && in.tcg)
		log_warn("KVM cannot be used here (see kvm-ok): the install runs under software emulation, many times slower");

	/* The host name defaults to the disk's name, when it makes one. */
	{
		const char *base = path_basename(args.disk);
		size_t len = strcspn(base, ".");
		struct strbuf name = STRBUF_INIT;

		strbuf_add(&name, base, len);
		if (len && len <= (in.profile->format == FORMAT_AUTOUNATTEND ? 15 : 63) && strspn(name.buf, "abcdefghijklmnopqrstuvwxyz"
					       "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-") == len &&
		    name.buf[0] != '-')
			vars_assign(&in.vars, "hostname", name.buf, NULL);
		strbuf_release(&name);
	}
	if (collect_vars(&in.vars, args.files, args.n_files, args.sets, args.n_sets, in.profile) < 0)
		goto out;
	if (args.console_log)
		strbuf_addstr(&in.log_path, args.console_log);
	else
		strbuf_addf(&in.log_path, "%s.install.log", args.disk);

	status = install(&in, common.json) == 0 ? 0 : EXIT_FAILURE_GENERIC;
out:
	http_server_stop(&in.server);
	if (args.netboot && in.workdir.len)
		netinstall_remove(in.workdir.buf);
	remove_workdir(in.workdir.buf);
	strbuf_release(&in.workdir);
	argv_release(&in.argv);
	strbuf_release(&in.kernel);
	strbuf_release(&in.initrd);
	strbuf_release(&in.cmdline);
	strbuf_release(&in.log_path);
	strbuf_release(&in.net.tftp_root);
	vars_release(&in.vars);
	free(args.files);
	free(args.sets);
	return status;
}
