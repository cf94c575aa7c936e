/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * libkvmimage's import of VMware guests: an OVA, an OVF with its files or
 * a VMX with its disks becomes a folder with the converted disks, a libvirt
 * domain XML, a kvm-run profile and a report of what was mapped to what.
 *
 * The source is untrusted: OVA member names, OVF file references and VMX
 * disk names must stay inside the source (the OVA, or the OVF's or VMX's
 * folder) unless KVMI_OPEN_ALLOW_EXTERNAL is given, manifests are checked
 * before anything is converted, and nothing is written outside the output
 * folder.
 */
#ifndef KVMIMAGE_IMPORT_H
#define KVMIMAGE_IMPORT_H

#include <kvmimage.h>

#ifdef __cplusplus
extern "C" {
#endif

struct kvmi_import_options {
	/* The guest folder; NULL: the guest's name in the current folder.
	 * It is created when missing. */
	const char *output_dir;
	const char *format;		/* of the disks: "qcow2" (default) or "raw" */
	/* Snapshot chains (VMX): one qcow2 per layer, each backed by the one
	 * below, rather than one flattened disk. */
	bool keep_chain;
	/* Adapt the guest's system to KVM's devices (needs libguestfs). */
	bool fix_guest;
	/* The virtio-win ISO whose drivers fix_guest installs in Windows. */
	const char *virtio_win;
	bool replace;			/* replace files in the folder (--force) */
	unsigned flags;			/* enum kvmi_open_flags */
	int threads;			/* of each conversion; 0: all CPUs */
	kvmi_progress_fn progress;	/* of each disk's conversion */
	void *progress_opaque;
	/* Called before each step that takes time, with a line saying what
	 * it is ("converting disk1.vmdk to vm-1.qcow2"); may be NULL. */
	void (*step)(void *opaque, const char *what);
	void *step_opaque;
};

/*
 * Imports the guest in SOURCE (.ova, .ovf or .vmx).  On success *REPORT
 * (which the caller puts) describes the guest, the files written, what each
 * VMware device became and what was dropped; the same report is in the
 * folder as report.txt.  On failure no file of the guest is left.
 */
KVMI_EXPORT int kvmi_import(const char *source, const struct kvmi_import_options *opts,
			    struct json_object **report, struct kvm_error *err);

/* The report as text, as report.txt holds it; the caller frees it. */
KVMI_EXPORT char *kvmi_import_report_text(struct json_object *report);

/* Whether this build can adapt guests (fix_guest): it has libguestfs. */
KVMI_EXPORT bool kvmi_import_can_fix_guest(void);

#ifdef __cplusplus
}
#endif

#endif
