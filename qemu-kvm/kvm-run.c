/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * kvm-run, also installed as qemu-kvm where the distribution's QEMU does
 * not own that name: runs the distribution's QEMU with KVM and the machine
 * a guest needs, from a profile; or, given QEMU's own options, passes them
 * through with KVM turned on, as the old qemu-kvm did.
 */
#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "config.h"
#include "kvm-run.h"
#include "log.h"
#include "path.h"
#include "xalloc.h"

static const char help[] =
	"Usage: %s [OPTIONS] [-- QEMU-ARGS...]\n"
	"       %s [--dry-run] [--require-kvm] QEMU-OPTIONS...\n"
	"\n"
	"Run a guest with the distribution's QEMU, with KVM when it works, and the\n"
	"machine and devices its system needs, from a profile.  Given QEMU's own\n"
	"options (-hda disk.img -m 1024), pass them to QEMU with KVM turned on;\n"
	"-no-kvm asks for software emulation.  Guests under KVM run with the\n"
	"bundle's KVM-only QEMU when it is installed.\n"
	"\n"
	"Options:\n"
	"      --profile NAME     linux, windows, windows-11, legacy or your own\n"
	"                         (default: from the system on the first disk)\n"
	"      --list-profiles    list the profiles found, and exit\n"
	"      --disk FILE        a disk image: raw, qcow2 or VMDK (repeatable)\n"
	"      --cdrom ISO        a CD or DVD image, booted when the disks do not boot\n"
	"      --virtio-win ISO   the virtio-win driver disc (windows profiles find an\n"
	"                         installed one)\n"
	"      --memory SIZE      memory: MiB, or with a unit: 512M, 4G\n"
	"      --cpus N           virtual CPUs\n"
	"      --net MODE         user (the default), bridge=BR, tap=TAP or none\n"
	"      --mac MAC          the network card's address (default: from the name)\n"
	"      --uefi             boot with UEFI (OVMF)\n"
	"      --secure-boot      boot with UEFI and Secure Boot\n"
	"      --tpm              give the guest a TPM 2.0 (swtpm)\n"
	"      --console MODE     serial, vnc or gtk (default: gtk on a desktop, else vnc)\n"
	"      --name NAME        the guest's name (default: the first disk's name)\n"
	"      --accel MODE       kvm or tcg (default: kvm when it can be used)\n"
	"      --require-kvm      fail rather than emulate when KVM cannot be used\n"
	"      --dry-run          print the QEMU command line, one argument a line\n"
	"  -v, --verbose          say what is done\n"
	"  -q, --quiet            print errors only\n"
	"  -h, --help             show this help\n"
	"  -V, --version          show the version\n"
	"\n"
	"See kvm-run(1) for more.\n";

enum {
	OPT_PROFILE = CLI_OPT_FIRST_PRIVATE,
	OPT_LIST_PROFILES,
	OPT_DISK,
	OPT_CDROM,
	OPT_VIRTIO_WIN,
	OPT_MEMORY,
	OPT_CPUS,
	OPT_NET,
	OPT_MAC,
	OPT_UEFI,
	OPT_SECURE_BOOT,
	OPT_TPM,
	OPT_CONSOLE,
	OPT_NAME,
	OPT_ACCEL,
	OPT_REQUIRE_KVM,
	OPT_DRY_RUN,
};

static const struct option long_options[] = {
	{ "profile", required_argument, NULL, OPT_PROFILE },
	{ "list-profiles", no_argument, NULL, OPT_LIST_PROFILES },
	{ "disk", required_argument, NULL, OPT_DISK },
	{ "cdrom", required_argument, NULL, OPT_CDROM },
	{ "virtio-win", required_argument, NULL, OPT_VIRTIO_WIN },
	{ "memory", required_argument, NULL, OPT_MEMORY },
	{ "cpus", required_argument, NULL, OPT_CPUS },
	{ "net", required_argument, NULL, OPT_NET },
	{ "mac", required_argument, NULL, OPT_MAC },
	{ "uefi", no_argument, NULL, OPT_UEFI },
	{ "secure-boot", no_argument, NULL, OPT_SECURE_BOOT },
	{ "tpm", no_argument, NULL, OPT_TPM },
	{ "console", required_argument, NULL, OPT_CONSOLE },
	{ "name", required_argument, NULL, OPT_NAME },
	{ "accel", required_argument, NULL, OPT_ACCEL },
	{ "require-kvm", no_argument, NULL, OPT_REQUIRE_KVM },
	{ "dry-run", no_argument, NULL, OPT_DRY_RUN },
	{ "version", no_argument, NULL, 'V' },
	CLI_COMMON_LONG_OPTIONS,
	{ NULL, 0, NULL, 0 },
};

enum accel_choice {
	ACCEL_AUTO,
	ACCEL_KVM,
	ACCEL_TCG,
};

struct options {
	const char *profile;
	struct disk *disks;
	size_t n_disks;
	const char *cdrom;
	const char *virtio_win;
	const char *memory;
	unsigned cpus;
	const char *net;
	const char *mac;
	bool uefi;
	bool secure_boot;
	bool tpm;
	const char *console;
	const char *name;
	enum accel_choice accel;
	bool require_kvm;
	bool dry_run;
	bool list_profiles;
};

/* The signal kvm-run received while QEMU ran; handed on to QEMU. */
static volatile sig_atomic_t received_signal;

static void on_signal(int sig)
{
	received_signal = sig;
}

static const int forwarded_signals[] = { SIGINT, SIGTERM, SIGHUP };

static void catch_signals(void)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	/* No SA_RESTART: waitpid must return to hand the signal on. */
	for (size_t i = 0; i < sizeof(forwarded_signals) / sizeof(*forwarded_signals); i++)
		sigaction(forwarded_signals[i], &sa, NULL);
}

static void block_signals(bool block)
{
	sigset_t set;

	sigemptyset(&set);
	for (size_t i = 0; i < sizeof(forwarded_signals) / sizeof(*forwarded_signals); i++)
		sigaddset(&set, forwarded_signals[i]);
	sigprocmask(block ? SIG_BLOCK : SIG_UNBLOCK, &set, NULL);
}

static void report(const struct kvm_error *err)
{
	log_error("%s", err->message[0] ? err->message : "unknown error");
}

static void print_argv(const struct arglist *argv)
{
	for (size_t i = 0; i < argv->len; i++)
		printf("%s\n", argv->items[i]);
}

/*
 * Decides between KVM and software emulation.  Returns -1 when KVM was
 * required and cannot be used (after saying why).
 */
static int choose_accel(enum accel_choice choice, bool require, bool dry_run, bool *kvm)
{
	struct kvm_error err = { 0 };

	*kvm = false;
	if (choice == ACCEL_TCG) {
		if (require) {
			log_error("--accel tcg and --require-kvm contradict each other");
			return -1;
		}
		return 0;
	}
	if (host_kvm_usable(&err) == 0) {
		*kvm = true;
		return 0;
	}
	if (require || (choice == ACCEL_KVM && !dry_run)) {
		log_error("KVM cannot be used: %s (kvm-ok says how to fix it)", err.message);
		return -1;
	}
	if (choice == ACCEL_KVM) {
		/* A command line prepared for another host. */
		log_warn("KVM cannot be used here: %s", err.message);
		*kvm = true;
		return 0;
	}
	log_warn("KVM cannot be used: %s; using software emulation, which is much slower "
		 "(kvm-ok says how to fix it)", err.message);
	return 0;
}

/* Runs QEMU (and swtpm, when TPM is given) to the end; returns the exit
 * status kvm-run ends with. */
static int run_guest(const struct arglist *qemu_argv, struct tpm_emulator *tpm,
		     const char *swtpm)
{
	struct kvm_error err = { 0 };
	struct child qemu = { 0 };
	int status = 1, ret, forwarded = 0;

	catch_signals();
	/* A signal during start-up is handled once QEMU can be told. */
	block_signals(true);
	if (tpm) {
		ret = tpm_start(tpm, swtpm, &err);
		if (ret < 0) {
			report(&err);
			goto out;
		}
		log_verbose("swtpm is serving the TPM on %s", tpm->socket);
	}
	ret = child_start(&qemu, (const char *const *)qemu_argv->items, &err);
	if (ret < 0) {
		report(&err);
		goto out;
	}
	block_signals(false);

	for (;;) {
		ret = child_wait(&qemu, &status, &err);
		if (ret != -EINTR)
			break;
		if (received_signal) {
			forwarded = received_signal;
			received_signal = 0;
			kill(qemu.pid, forwarded);
		}
	}
	if (ret < 0) {
		report(&err);
		status = 1;
	}
out:
	block_signals(true);
	tpm_stop(tpm);
	if (!forwarded)
		forwarded = received_signal;
	if (forwarded) {
		/* Die of the signal, as a program killed by it does. */
		signal(forwarded, SIG_DFL);
		block_signals(false);
		raise(forwarded);
	}
	return status;
}

/* QEMU's options, as the old qemu-kvm took them, passed through. */
static int run_passthrough(int argc, char **argv, const struct options *opts)
{
	struct host_files files = { 0 };
	struct arglist qemu_argv = { 0 };
	struct kvm_error err = { 0 };
	bool chosen = false, chosen_tcg = false, no_kvm = false, kvm;
	int status;

	for (int i = 0; i < argc; i++) {
		const char *arg = argv[i];
		bool accel_value = false;

		if (arg[0] == '-' && arg[1] == '-')
			arg++;
		if (strcmp(arg, "-no-kvm") == 0) {
			no_kvm = true;
		} else if (strcmp(arg, "-enable-kvm") == 0) {
			chosen = true;
		} else if (strcmp(arg, "-accel") == 0) {
			chosen = accel_value = true;
		} else if ((strcmp(arg, "-machine") == 0 || strcmp(arg, "-M") == 0) &&
			   i + 1 < argc && strstr(argv[i + 1], "accel=")) {
			chosen = accel_value = true;
		}
		/* Only the distribution's QEMU can emulate: find out if it is asked. */
		if (accel_value && i + 1 < argc && strstr(argv[i + 1], "tcg"))
			chosen_tcg = true;
	}
	if (no_kvm && opts->require_kvm) {
		log_error("-no-kvm and --require-kvm contradict each other");
		return 1;
	}
	if (chosen)
		kvm = !chosen_tcg;
	else if (no_kvm)
		kvm = false;
	else if (choose_accel(opts->accel, opts->require_kvm, opts->dry_run, &kvm) < 0)
		return 1;
	if (host_find_qemu(&files, kvm, &err) < 0) {
		report(&err);
		return 1;
	}
	log_verbose("running %s%s", files.qemu, files.qemu_kvm_only ? ", the KVM-only QEMU" : "");
	arglist_push(&qemu_argv, files.qemu);
	if (!chosen) {
		arglist_push(&qemu_argv, "-accel");
		arglist_push(&qemu_argv, kvm ? "kvm" : "tcg");
	}
	for (int i = 0; i < argc; i++) {
		const char *arg = argv[i][0] == '-' && argv[i][1] == '-' ? argv[i] + 1 : argv[i];

		if (strcmp(arg, "-no-kvm"))
			arglist_push(&qemu_argv, argv[i]);
	}
	if (opts->dry_run) {
		print_argv(&qemu_argv);
		status = 0;
	} else {
		status = run_guest(&qemu_argv, NULL, NULL);
	}
	arglist_release(&qemu_argv);
	host_files_release(&files);
	return status;
}

static bool valid_name(const char *name)
{
	if (!name[0] || name[0] == '.' || strlen(name) > 64)
		return false;
	for (const char *c = name; *c; c++)
		if (!isalnum((unsigned char)*c) && !strchr("-_.+", *c))
			return false;
	return true;
}

/* The name of a guest given none: its first disk's (or CD's) file name
 * without the extension, with what a path would not take replaced. */
static char *default_name(const struct options *opts, const struct profile *profile)
{
	const char *from = opts->n_disks ? opts->disks[0].path : opts->cdrom;
	struct strbuf name = STRBUF_INIT;
	const char *base, *dot;
	size_t len;

	if (!from)
		return xstrdup(profile->name);
	base = path_basename(from);
	dot = strrchr(base, '.');
	len = dot && dot != base ? (size_t)(dot - base) : strlen(base);
	if (len > 64)
		len = 64;
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)base[i];

		strbuf_addch(&name, isalnum(c) || strchr("-_.+", c) ? (char)c : '_');
	}
	if (!valid_name(name.buf)) {
		strbuf_release(&name);
		return xstrdup(profile->name);
	}
	return strbuf_detach(&name);
}

static bool valid_mac(const char *mac)
{
	unsigned octets[6];
	char tail;

	if (strlen(mac) != 17 ||
	    sscanf(mac, "%2x:%2x:%2x:%2x:%2x:%2x%c", &octets[0], &octets[1], &octets[2],
		   &octets[3], &octets[4], &octets[5], &tail) != 6)
		return false;
	for (int i = 0; i < 17; i++)
		if (i % 3 == 2 ? mac[i] != ':' : !isxdigit((unsigned char)mac[i]))
			return false;
	/* A multicast address cannot be a card's. */
	return (octets[0] & 1) == 0;
}

static int parse_net(const char *text, struct launch *l, bool dry_run)
{
	struct kvm_error err = { 0 };
	int ret = 0;

	if (!text || strcmp(text, "user") == 0) {
		l->net = NET_USER;
	} else if (strcmp(text, "none") == 0) {
		l->net = NET_NONE;
	} else if (strncmp(text, "bridge=", 7) == 0) {
		l->net = NET_BRIDGE;
		l->net_device = text + 7;
		/* --dry-run prepares a command line; the host's state is for the run. */
		ret = dry_run ? 0 : host_check_bridge(l->net_device, &err);
	} else if (strncmp(text, "tap=", 4) == 0) {
		l->net = NET_TAP;
		l->net_device = text + 4;
		ret = dry_run ? 0 : host_check_tap(l->net_device, &err);
	} else {
		log_error("--net takes user, bridge=BR, tap=TAP or none, not '%s'", text);
		return -1;
	}
	if (!ret && l->net_device && (!l->net_device[0] || strpbrk(l->net_device, ",/ "))) {
		log_error("%s: not a network interface name", l->net_device);
		return -1;
	}
	if (ret < 0) {
		report(&err);
		return -1;
	}
	return 0;
}

static int parse_console(const char *text, enum console *console)
{
	if (!text)
		*console = getenv("DISPLAY") || getenv("WAYLAND_DISPLAY") ? CONSOLE_GTK : CONSOLE_VNC;
	else if (strcmp(text, "serial") == 0)
		*console = CONSOLE_SERIAL;
	else if (strcmp(text, "vnc") == 0)
		*console = CONSOLE_VNC;
	else if (strcmp(text, "gtk") == 0)
		*console = CONSOLE_GTK;
	else
		return -1;
	return 0;
}

/* The profile named, or the one the first disk's system calls for. */
static int pick_profile(const struct options *opts, struct profile *profile)
{
	struct kvm_error err = { 0 };
	const char *name = opts->profile;

	if (!name) {
		const struct disk_facts *facts = opts->n_disks ? &opts->disks[0].facts : NULL;

		name = "linux";
		if (facts && facts->os == GUEST_OS_WINDOWS)
			/* Windows on GPT boots only with UEFI, as Windows 11 wants. */
			name = facts->gpt ? "windows-11" : "windows";
		if (facts && facts->os != GUEST_OS_UNKNOWN)
			log_notice("%s: %s is installed there: using profile %s",
				   opts->disks[0].path,
				   facts->os == GUEST_OS_WINDOWS ? "Windows" : "Linux", name);
	}
	if (profile_load(name, profile, &err) < 0) {
		report(&err);
		return -1;
	}
	return 0;
}

static int run_profile(struct options *opts, char **extra, size_t n_extra)
{
	struct profile profile = { 0 };
	struct host_files files = { 0 };
	struct tpm_emulator tpm = { 0 };
	struct arglist qemu_argv = { 0 };
	struct strbuf vars = STRBUF_INIT;
	struct kvm_error err = { 0 };
	struct launch l = { 0 };
	char *name = NULL;
	int status = 1;

	for (size_t i = 0; i < opts->n_disks; i++) {
		struct disk *disk = &opts->disks[i];

		if (disk_inspect(disk->path, &disk->facts, &err) < 0) {
			report(&err);
			goto out;
		}
		log_verbose("%s: format %s, %s system%s", disk->path, disk->facts.format,
			    guest_os_name(disk->facts.os), disk->facts.needs_uefi ? ", boots with UEFI" : "");
		if (strcmp(disk->facts.format, "vmdk") == 0)
			log_warn("%s: QEMU runs VMDK slower than qcow2; `kvm-image convert %s` makes a "
				 "qcow2 copy", disk->path, disk->path);
	}
	if (pick_profile(opts, &profile) < 0)
		goto out;

	l.profile = &profile;
	l.files = &files;
	l.firmware = profile.firmware;
	if (opts->uefi && l.firmware == FIRMWARE_BIOS)
		l.firmware = FIRMWARE_UEFI;
	if (opts->secure_boot)
		l.firmware = FIRMWARE_UEFI_SECURE_BOOT;
	if (!opts->profile && opts->n_disks && opts->disks[0].facts.needs_uefi &&
	    l.firmware == FIRMWARE_BIOS) {
		log_notice("%s: has an EFI system partition and no BIOS boot partition: booting "
			   "with UEFI", opts->disks[0].path);
		l.firmware = FIRMWARE_UEFI;
	}
	l.memory_mib = profile.memory_mib;
	if (opts->memory && parse_memory_mib(opts->memory, &l.memory_mib, &err) < 0) {
		report(&err);
		goto out;
	}
	l.cpus = opts->cpus ? opts->cpus : profile.cpus;
	l.disks = opts->disks;
	l.n_disks = opts->n_disks;
	l.cdrom = opts->cdrom;
	if (l.cdrom && access(l.cdrom, R_OK) < 0) {
		log_error("%s: %s", l.cdrom, strerror(errno));
		goto out;
	}
	if (opts->virtio_win && access(opts->virtio_win, R_OK) < 0) {
		log_error("%s: %s", opts->virtio_win, strerror(errno));
		goto out;
	}

	name = opts->name ? xstrdup(opts->name) : default_name(opts, &profile);
	l.name = name;
	if (parse_net(opts->net, &l, opts->dry_run) < 0)
		goto out;
	if (opts->mac)
		snprintf(l.mac, sizeof(l.mac), "%s", opts->mac);
	else
		mac_for_name(name, l.mac);
	if (parse_console(opts->console, &l.console) < 0) {
		log_error("--console takes serial, vnc or gtk, not '%s'", opts->console);
		goto out;
	}
	if (choose_accel(opts->accel, opts->require_kvm, opts->dry_run, &l.kvm) < 0)
		goto out;

	/* The KVM-only QEMU has no GTK window: asked for one, take the other. */
	if (host_find_qemu(&files, l.kvm && !(opts->console && l.console == CONSOLE_GTK), &err) < 0 ||
	    (l.firmware == FIRMWARE_BIOS && host_find_seabios(&files, &err) < 0) ||
	    (l.firmware != FIRMWARE_BIOS &&
	     host_find_ovmf(&files, l.firmware == FIRMWARE_UEFI_SECURE_BOOT, &err) < 0)) {
		report(&err);
		goto out;
	}
	log_verbose("running %s%s", files.qemu, files.qemu_kvm_only ? ", the KVM-only QEMU" : "");
	if (files.qemu_kvm_only && !opts->console && l.console == CONSOLE_GTK)
		l.console = CONSOLE_VNC;
	if (opts->virtio_win) {
		l.virtio_win = opts->virtio_win;
	} else if (profile.virtio_win) {
		host_find_virtio_win(&files);
		l.virtio_win = files.virtio_win;
		if (!l.virtio_win)
			log_verbose("no virtio-win driver disc is installed; --virtio-win gives one");
	}

	l.tpm = opts->tpm || profile.tpm;
	if (l.tpm) {
		if (host_find_swtpm(&files, &err) < 0 || tpm_prepare(&tpm, name, &err) < 0) {
			report(&err);
			goto out;
		}
		l.tpm_socket = tpm.socket;
	}
	if (l.firmware != FIRMWARE_BIOS) {
		/* The guest's own variables (boot entries, Secure Boot keys) persist. */
		guest_state_dir(name, &vars);
		if (!opts->dry_run && make_private_dirs(vars.buf, &err) < 0) {
			report(&err);
			goto out;
		}
		strbuf_addf(&vars, "/%s", path_basename(files.ovmf_vars));
		if (!opts->dry_run && copy_file_once(files.ovmf_vars, vars.buf, &err) < 0) {
			report(&err);
			goto out;
		}
		l.ovmf_vars = vars.buf;
	}
	l.extra = extra;
	l.n_extra = n_extra;

	if (launch_command(&l, &qemu_argv, &err) < 0) {
		report(&err);
		goto out;
	}
	if (l.tpm && log_get_level() >= LOG_LEVEL_VERBOSE) {
		struct arglist swtpm_argv = { 0 };
		struct strbuf line = STRBUF_INIT;

		tpm_command(&tpm, files.swtpm, &swtpm_argv);
		for (size_t i = 0; i < swtpm_argv.len; i++)
			strbuf_addf(&line, "%s%s", i ? " " : "", swtpm_argv.items[i]);
		log_verbose("%s: %s", opts->dry_run ? "would start" : "starting", line.buf);
		strbuf_release(&line);
		arglist_release(&swtpm_argv);
	}
	if (opts->dry_run) {
		print_argv(&qemu_argv);
		status = 0;
		goto out;
	}
	if (l.console == CONSOLE_VNC)
		log_notice("the screen of %s is on VNC at 127.0.0.1:5900 (or the next free display)",
			   name);
	status = run_guest(&qemu_argv, l.tpm ? &tpm : NULL, files.swtpm);
out:
	for (size_t i = 0; i < opts->n_disks; i++)
		disk_facts_release(&opts->disks[i].facts);
	arglist_release(&qemu_argv);
	strbuf_release(&vars);
	tpm_release(&tpm);
	host_files_release(&files);
	profile_release(&profile);
	free(name);
	return status;
}

static int list_profiles(void)
{
	struct arglist names = { 0 };
	struct kvm_error err = { 0 };
	int status = 0;

	profile_list(&names);
	for (size_t i = 0; i < names.len; i++) {
		struct profile profile;

		if (profile_load(names.items[i], &profile, &err) < 0) {
			report(&err);
			status = 1;
			continue;
		}
		printf("%-16s %s\n", profile.name, profile.description ? profile.description : "");
		profile_release(&profile);
	}
	arglist_release(&names);
	return status;
}

/* Options that mean the same in both modes and may come before QEMU's. */
static bool is_mode_neutral(const char *arg, bool *takes_value)
{
	*takes_value = strcmp(arg, "--accel") == 0;
	return *takes_value || strcmp(arg, "--dry-run") == 0 || strcmp(arg, "--require-kvm") == 0 ||
	       strcmp(arg, "--verbose") == 0 || strcmp(arg, "--quiet") == 0 ||
	       strcmp(arg, "-v") == 0 || strcmp(arg, "-q") == 0 || strncmp(arg, "--accel=", 8) == 0;
}

/* Whether ARGV, after the neutral options, starts with one of QEMU's
 * (a single dash) or a bare disk image, as `qemu-kvm disk.img` takes it. */
static bool is_passthrough(int argc, char **argv)
{
	for (int i = 1; i < argc; i++) {
		bool takes_value;

		if (is_mode_neutral(argv[i], &takes_value)) {
			i += takes_value;
			continue;
		}
		if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "-V") == 0)
			return false;
		return !(argv[i][0] == '-' && argv[i][1] == '-');
	}
	return false;
}

static int parse_accel(const char *text, enum accel_choice *accel)
{
	if (strcmp(text, "kvm") == 0)
		*accel = ACCEL_KVM;
	else if (strcmp(text, "tcg") == 0)
		*accel = ACCEL_TCG;
	else
		return -1;
	return 0;
}

int main(int argc, char **argv)
{
	struct cli_common common = { .progress = PROGRESS_NEVER };
	struct options opts = { 0 };
	const char *program = path_basename(argv[0]);
	int opt, status = 1;

	log_set_program(program);
	if (is_passthrough(argc, argv)) {
		/* getopt would read QEMU's -hda as -h -d -a: take ours by hand. */
		int i = 1;

		for (bool takes_value; i < argc && is_mode_neutral(argv[i], &takes_value); i++) {
			const char *accel = strncmp(argv[i], "--accel=", 8) == 0 ? argv[i] + 8 : NULL;

			if (takes_value) {
				if (i + 1 == argc) {
					cli_usage_error(program, "--accel takes kvm or tcg");
					goto out;
				}
				accel = argv[++i];
			}

			if (accel && parse_accel(accel, &opts.accel) < 0) {
				cli_usage_error(program, "--accel takes kvm or tcg, not '%s'", accel);
				goto out;
			}
			if (strcmp(argv[i], "--dry-run") == 0)
				opts.dry_run = true;
			else if (strcmp(argv[i], "--require-kvm") == 0)
				opts.require_kvm = true;
			else if (strcmp(argv[i], "-v") == 0 || strcmp(argv[i], "--verbose") == 0)
				log_set_level(LOG_LEVEL_VERBOSE);
			else if (strcmp(argv[i], "-q") == 0 || strcmp(argv[i], "--quiet") == 0)
				log_set_level(LOG_LEVEL_QUIET);
		}
		status = run_passthrough(argc - i, argv + i, &opts);
		goto out;
	}
	/* '+': the first argument that is not an option ends them (after --). */
	while ((opt = getopt_long(argc, argv, "+vqhV", long_options, NULL)) != -1) {
		int handled = cli_common_option(&common, opt, optarg, program);
		unsigned long n;
		char *end;

		if (handled < 0)
			goto out;
		if (handled)
			continue;
		switch (opt) {
		case OPT_PROFILE:
			opts.profile = optarg;
			break;
		case OPT_LIST_PROFILES:
			opts.list_profiles = true;
			break;
		case OPT_DISK:
			opts.disks = xrealloc(opts.disks, (opts.n_disks + 1) * sizeof(*opts.disks));
			opts.disks[opts.n_disks++] = (struct disk){ .path = optarg };
			break;
		case OPT_CDROM:
			opts.cdrom = optarg;
			break;
		case OPT_VIRTIO_WIN:
			opts.virtio_win = optarg;
			break;
		case OPT_MEMORY:
			opts.memory = optarg;
			break;
		case OPT_CPUS:
			n = strtoul(optarg, &end, 10);
			if (!isdigit((unsigned char)optarg[0]) || *end || n < 1 || n > 1024) {
				cli_usage_error(program, "--cpus takes a number from 1 to 1024");
				goto out;
			}
			opts.cpus = (unsigned)n;
			break;
		case OPT_NET:
			opts.net = optarg;
			break;
		case OPT_MAC:
			if (!valid_mac(optarg)) {
				cli_usage_error(program, "%s: not a unicast MAC address like 52:54:00:12:34:56",
						optarg);
				goto out;
			}
			opts.mac = optarg;
			break;
		case OPT_UEFI:
			opts.uefi = true;
			break;
		case OPT_SECURE_BOOT:
			opts.secure_boot = true;
			break;
		case OPT_TPM:
			opts.tpm = true;
			break;
		case OPT_CONSOLE:
			opts.console = optarg;
			break;
		case OPT_NAME:
			if (!valid_name(optarg)) {
				cli_usage_error(program, "%s: a name is letters, digits and -_.+", optarg);
				goto out;
			}
			opts.name = optarg;
			break;
		case OPT_ACCEL:
			if (parse_accel(optarg, &opts.accel) < 0) {
				cli_usage_error(program, "--accel takes kvm or tcg, not '%s'", optarg);
				goto out;
			}
			break;
		case OPT_REQUIRE_KVM:
			opts.require_kvm = true;
			break;
		case OPT_DRY_RUN:
			opts.dry_run = true;
			break;
		case 'V':
			printf("%s %s\n", program, PACKAGE_VERSION);
			status = 0;
			goto out;
		}
	}
	if (common.help) {
		printf(help, program, program);
		status = 0;
		goto out;
	}
	if (common.json) {
		cli_usage_error(program, "--output=json is not taken: the output is a command line");
		goto out;
	}
	if (opts.list_profiles) {
		status = list_profiles();
		goto out;
	}
	/* Whatever follows "--" (getopt stepped over it) goes to QEMU as it is. */
	if (optind < argc && strcmp(argv[optind - 1], "--")) {
		cli_usage_error(program, "'%s' is not an option; QEMU's go after --", argv[optind]);
		goto out;
	}
	status = run_profile(&opts, argv + optind, (size_t)(argc - optind));
out:
	free(opts.disks);
	return status;
}
