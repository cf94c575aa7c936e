/* SPDX-License-Identifier: GPL-2.0-or-later */
/* What the files of the import share: the guest as read from its source. */
#ifndef KVMI_IMPORT_PRIVATE_H
#define KVMI_IMPORT_PRIVATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "kvmimage-import.h"
#include "strbuf.h"

/* Caps on what a source may declare; VMware's own limits are far below. */
#define IMPORT_MAX_DESCRIPTOR_BYTES (16u << 20)	/* an OVF, VMX or manifest */
#define IMPORT_MAX_DISK_BYTES (64ull << 40)	/* VMware's largest disk is 62 TiB */
#define IMPORT_MAX_MEMORY_BYTES (24ull << 40)	/* vSphere 8's largest guest */
#define IMPORT_MAX_CPUS 768
#define IMPORT_MAX_DISKS 256
#define IMPORT_MAX_NICS 64
#define IMPORT_MAX_OVA_MEMBERS 4096

enum import_os {
	IMPORT_OS_OTHER,
	IMPORT_OS_LINUX,
	IMPORT_OS_WINDOWS,
	IMPORT_OS_WINDOWS_11,	/* Windows 11 and Server 2022 and later */
};

struct import_disk {
	char *file;		/* as the source names it */
	char *path;		/* what to open: the file, or the OVA */
	uint64_t window_offset;	/* inside the OVA; both 0 otherwise */
	uint64_t window_length;
	uint64_t capacity;	/* declared, in bytes; 0 when not declared */
	char *bus;		/* scsi, sata, ide, nvme */
	char *controller;	/* the controller's model as named, or NULL */
	int controller_index;
	int unit;
	/* With --keep-chain: the converted layers under the disk's file,
	 * nearest first, as absolute paths. */
	char **backing_paths;
	size_t n_backing;
};

struct import_nic {
	char *model;		/* vmxnet3, e1000, e1000e, ... as named */
	char *network;		/* the port group, or NULL */
	char *mac;		/* static or generated address, or NULL */
};

struct import_vm {
	char *name;
	unsigned cpus;
	uint64_t memory;	/* bytes */
	bool efi;
	bool secure_boot;
	char *os_id;		/* VMware's guestOS / osType, or the OVF's */
	char *os_description;
	struct import_disk *disks;
	size_t n_disks;
	struct import_nic *nics;
	size_t n_nics;
	/* Lines for the report: devices left out, and other remarks. */
	struct json_object *dropped;
	struct json_object *notes;
};

void import_vm_init(struct import_vm *vm);
void import_vm_free(struct import_vm *vm);
struct import_disk *import_vm_add_disk(struct import_vm *vm);
struct import_nic *import_vm_add_nic(struct import_vm *vm);
void import_vm_drop(struct import_vm *vm, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
void import_vm_note(struct import_vm *vm, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
enum import_os import_vm_os(const struct import_vm *vm);
/* Puts the boot disk first: by bus, then controller, then unit. */
void import_vm_sort_disks(struct import_vm *vm);

/* Reads a whole small file (descriptor, manifest) after checking its size
 * against IMPORT_MAX_DESCRIPTOR_BYTES; the text is NUL-terminated. */
int import_read_text(int dirfd, const char *dir, const char *name, bool allow_external,
		     char **text, size_t *len, struct kvm_error *err);

/*
 * OVF (1.x and 2.x): fills VM from the descriptor TEXT of LEN bytes; each
 * disk's file is left as the OVF names it (disk->file) for the caller to
 * find.  NAME is the descriptor's name for messages.
 */
int ovf_parse(const char *text, size_t len, const char *name, struct import_vm *vm,
	      struct kvm_error *err);

/* VMX: fills VM from the key = value lines of TEXT. */
int vmx_parse(const char *text, const char *name, struct import_vm *vm, struct kvm_error *err);

/* One member of an OVA: a byte range of the .ova. */
struct ova_member {
	char *name;
	uint64_t offset;
	uint64_t size;
};

struct ova {
	char *path;
	struct ova_member *members;
	size_t n_members;
};

/* Lists the members of the OVA at PATH, refusing names with "..", absolute
 * names, links and anything but plain files at a contiguous offset. */
int ova_open(const char *path, struct ova *ova, struct kvm_error *err);
void ova_close(struct ova *ova);
const struct ova_member *ova_find(const struct ova *ova, const char *name);
/* Reads a small member whole, NUL-terminated. */
int ova_read_member(const struct ova *ova, const struct ova_member *m, char **text,
		    struct kvm_error *err);

/* A file a manifest covers: a range of an open descriptor. */
struct manifest_file {
	const char *name;
	int fd;
	uint64_t offset;
	uint64_t size;
};

/*
 * Checks every line "SHA1(NAME)= HEX" or "SHA256(NAME)= HEX" of the
 * manifest TEXT (named MF_NAME) against the file of that name in FILES.
 * A wrong digest or a listed file that is missing is an error; SUMMARY gets
 * "N files, SHA-256" and the like.
 */
int manifest_verify(const char *text, const char *mf_name, const struct manifest_file *files,
		    size_t n_files, struct strbuf *summary, struct kvm_error *err);

/* What the certificate file (.cert) says: its subject, and whether its
 * signature of the manifest holds. */
void manifest_describe_cert(const char *cert, size_t cert_len, const char *mf_text,
			    size_t mf_len, struct strbuf *out);

/* The guest's hardware on KVM, chosen from the source's. */
struct import_target {
	const char *profile;		/* linux, windows, windows-11 */
	const char *firmware;		/* bios, uefi, uefi-secure-boot */
	const char *disk_bus;		/* virtio, ahci */
	const char *nic;		/* virtio-net-pci, e1000e */
	bool tpm;
};

/* The libvirt domain XML of the guest, with the disks at DISK_PATHS
 * (absolute) of FORMAT. */
int domain_xml_write(const struct import_vm *vm, const struct import_target *target,
		     char *const *disk_paths, const char *format, struct strbuf *xml,
		     struct kvm_error *err);

/* The kvm-run profile of the guest. */
void profile_write(const struct import_vm *vm, const struct import_target *target,
		   const char *source, struct strbuf *profile);

/*
 * Adapts the guest on the converted disks (DISK_PATHS, FORMAT) to KVM:
 * see kvmi_import_options.fix_guest.  Appends what it did to FIXES, and
 * may change TARGET (virtio for Windows once its drivers are in).
 */
int fix_guest(const struct import_vm *vm, char *const *disk_paths, size_t n_disks,
	      const char *format, const char *virtio_win, struct import_target *target,
	      struct json_object *fixes, struct kvm_error *err);

#endif
