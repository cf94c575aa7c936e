/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * kvm-run (installed as qemu-kvm where that name is free): the pieces of
 * the launcher.  Everything here returns a negative errno and fills a
 * struct kvm_error; only kvm-run.c prints or exits.
 */
#ifndef KVM_RUN_LAUNCHER_H
#define KVM_RUN_LAUNCHER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "kvm-error.h"
#include "strbuf.h"

/* A growable NULL-terminated array of heap strings: an argv. */
struct arglist {
	char **items;
	size_t len;
	size_t alloc;
};

void arglist_push(struct arglist *list, const char *arg);
void arglist_pushf(struct arglist *list, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
void arglist_release(struct arglist *list);

enum firmware {
	FIRMWARE_BIOS,
	FIRMWARE_UEFI,
	FIRMWARE_UEFI_SECURE_BOOT,
};

enum disk_bus {
	DISK_BUS_VIRTIO,
	DISK_BUS_AHCI,
	DISK_BUS_IDE,
};

/* A guest profile, read from a NAME.profile file (see profiles/). */
struct profile {
	char *name;
	char *path;
	char *description;
	char *machine;		/* q35 or pc */
	enum firmware firmware;
	char *cpu_kvm;		/* -cpu under KVM */
	char *cpu_tcg;		/* -cpu under software emulation */
	uint64_t memory_mib;
	unsigned cpus;
	enum disk_bus disk_bus;
	char *nic;		/* a QEMU network device */
	char *video;		/* a QEMU display device, or "none" */
	char *usb;		/* a QEMU USB controller, or "none" */
	bool tablet;
	bool rng;
	bool balloon;
	bool hyperv;
	bool tpm;
	bool virtio_win;
	struct arglist qemu_args;
};

/* Where profiles are looked for, first match wins: the user's, the
 * administrator's, then the ones the package ships. */
void profile_search_dirs(struct arglist *dirs);

/*
 * Loads the profile NAME (or the file NAME, when it holds a '/') from the
 * first folder of profile_search_dirs() that has it.
 */
int profile_load(const char *name, struct profile *profile, struct kvm_error *err);
void profile_release(struct profile *profile);
/* The profile names found in the search folders, sorted, without repeats. */
void profile_list(struct arglist *names);

const char *firmware_name(enum firmware firmware);

/* Memory as QEMU's -m reads it: a bare number is MiB, or a size with a unit. */
int parse_memory_mib(const char *text, uint64_t *mib, struct kvm_error *err);

/* What a disk's first sectors say about the system installed on it. */
enum guest_os {
	GUEST_OS_UNKNOWN,
	GUEST_OS_LINUX,
	GUEST_OS_WINDOWS,
};

struct disk_facts {
	char *format;		/* as libkvmimage detected it */
	enum guest_os os;
	bool gpt;
	bool needs_uefi;	/* an EFI system partition and no BIOS boot partition */
};

/* Detects the format of PATH and what is installed on it. */
int disk_inspect(const char *path, struct disk_facts *facts, struct kvm_error *err);
void disk_facts_release(struct disk_facts *facts);
const char *guest_os_name(enum guest_os os);

typedef int (*disk_read_fn)(void *opaque, void *buf, size_t len, uint64_t offset,
			   struct kvm_error *err);

/*
 * Decides what is installed on a disk of SIZE bytes from its partition
 * table and the first sectors of its partitions, read through READ.
 */
int disk_detect_os(disk_read_fn read, void *opaque, uint64_t size, struct disk_facts *facts,
		   struct kvm_error *err);

/*
 * Whether KVM can really be used: opens /dev/kvm and creates a VM.  On
 * failure the message says why (no module, no permission, no VT-x/AMD-V).
 */
int host_kvm_usable(struct kvm_error *err);

/* The files kvm-run needs from the distribution, as it found them. */
struct host_files {
	char *qemu;
	bool qemu_kvm_only;	/* the KVM-only QEMU of qemu-kvm/core */
	char *seabios;
	char *ovmf_code;
	char *ovmf_vars;
	char *swtpm;
	char *virtio_win;
};

/*
 * The QEMU to run: the KVM-only one (qemu-kvm/core) when it is installed and
 * KVM is used, else the distribution's.  KVM_RUN_QEMU names one to use always.
 */
int host_find_qemu(struct host_files *files, bool kvm, struct kvm_error *err);
int host_find_seabios(struct host_files *files, struct kvm_error *err);
int host_find_ovmf(struct host_files *files, bool secure_boot, struct kvm_error *err);
int host_find_swtpm(struct host_files *files, struct kvm_error *err);
/* Finds an installed virtio-win ISO; not finding one is no error. */
void host_find_virtio_win(struct host_files *files);
void host_files_release(struct host_files *files);

/* Whether TAP is a TAP device this process can attach to (-EBUSY if taken). */
int host_check_tap(const char *tap, struct kvm_error *err);
int host_check_bridge(const char *bridge, struct kvm_error *err);

/* A child process that runs while kvm-run waits for something else. */
struct child {
	pid_t pid;		/* 0: none running */
	bool own_group;		/* away from the terminal's Ctrl-C */
};

/* Starts ARGV with kvm-run's standard streams and default signals. */
int child_start(struct child *child, const char *const *argv, struct kvm_error *err);
/* Waits for the child to end; *status is the exit code or 128 + signal. */
int child_wait(struct child *child, int *status, struct kvm_error *err);
/* Whether the child has ended (and reaps it). */
bool child_exited(struct child *child, int *status);
/* SIGTERM, then SIGKILL after GRACE_MS; reaps it.  Safe on no child. */
void child_stop(struct child *child, int grace_ms);

/* swtpm serving one guest's TPM 2.0 on a control socket. */
struct tpm_emulator {
	struct child child;
	char *state_dir;	/* the TPM's persistent state */
	char *run_dir;		/* socket and pid file, removed after */
	char *socket;
	char *pid_file;
};

/* Paths of the emulator of guest NAME, without starting anything. */
int tpm_prepare(struct tpm_emulator *tpm, const char *guest, struct kvm_error *err);
/* The swtpm command line, for --dry-run --verbose and for tpm_start. */
void tpm_command(const struct tpm_emulator *tpm, const char *swtpm, struct arglist *argv);
/* Starts swtpm and waits until its socket takes connections. */
int tpm_start(struct tpm_emulator *tpm, const char *swtpm, struct kvm_error *err);
/* Stops swtpm (if running) and removes its socket folder. */
void tpm_stop(struct tpm_emulator *tpm);
void tpm_release(struct tpm_emulator *tpm);

/* Where a guest's firmware variables and TPM state live between runs. */
void guest_state_dir(const char *guest, struct strbuf *dir);
/* Copies FROM to TO unless TO exists: a guest's own firmware variables. */
int copy_file_once(const char *from, const char *to, struct kvm_error *err);
/* Creates a folder and its parents with mode 0700. */
int make_private_dirs(const char *path, struct kvm_error *err);

enum console {
	CONSOLE_SERIAL,
	CONSOLE_VNC,
	CONSOLE_GTK,
};

enum net_kind {
	NET_USER,
	NET_BRIDGE,
	NET_TAP,
	NET_NONE,
};

struct disk {
	const char *path;
	struct disk_facts facts;
};

/* Everything that decides the QEMU command line. */
struct launch {
	const struct profile *profile;
	const struct host_files *files;
	const char *name;
	bool kvm;
	enum firmware firmware;
	uint64_t memory_mib;
	unsigned cpus;
	struct disk *disks;
	size_t n_disks;
	const char *cdrom;
	const char *virtio_win;
	enum net_kind net;
	const char *net_device;	/* the bridge or TAP */
	char mac[18];
	bool tpm;
	const char *tpm_socket;
	const char *ovmf_vars;	/* the guest's own copy */
	enum console console;
	char *const *extra;	/* after --, verbatim */
	size_t n_extra;
};

/* The QEMU command line of a launch. */
int launch_command(const struct launch *launch, struct arglist *argv, struct kvm_error *err);

/* A locally administered MAC from QEMU's range, the same for the same name. */
void mac_for_name(const char *name, char mac[18]);

#endif
