/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * kvm-ok: whether this host can run KVM guests, and how to fix it if not.
 *
 * The work is split in two: gathering facts about the host (files under
 * /proc, /sys and /dev, MSRs, CPUID, the KVM API), and judging them into
 * checks, each with a status, a one-line summary and a fix.  The judging is
 * pure, so the unit tests feed it facts of hosts this machine is not.
 */
#ifndef KVM_OK_H
#define KVM_OK_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

#include <json-c/json.h>

#include "kvm-error.h"
#include "strbuf.h"

/* Exit statuses, as cpu-checker's kvm-ok has them, plus "could not tell". */
enum {
	KVM_OK_USABLE = 0,
	KVM_OK_NOT_USABLE = 1,
	KVM_OK_UNKNOWN = 2,
};

enum cpu_vendor {
	CPU_VENDOR_UNKNOWN,
	CPU_VENDOR_INTEL,	/* and Zhaoxin/Centaur, which have VMX too */
	CPU_VENDOR_AMD,		/* and Hygon, which has SVM too */
};

struct cpu_info {
	enum cpu_vendor vendor;
	char vendor_id[16];	/* "GenuineIntel" */
	char model[64];		/* "model name" of the first CPU */
	unsigned count;		/* logical CPUs */
	bool vmx;		/* the flags the kernel reports */
	bool svm;
	bool hypervisor;	/* running in a virtual machine */
};

/* The vendor module of a CPU vendor: "kvm_intel", "kvm_amd" or NULL. */
const char *cpu_vendor_module(enum cpu_vendor vendor);

/*
 * Parses the text of /proc/cpuinfo.  Fails with -EINVAL when it names no
 * CPU at all.
 */
int cpuinfo_parse(const char *text, struct cpu_info *info, struct kvm_error *err);

/* Where a loaded module came from. */
enum module_origin {
	MODULE_NOT_LOADED,
	MODULE_BUILTIN,		/* compiled into the kernel */
	MODULE_IN_TREE,		/* the distribution's module */
	MODULE_BUNDLE,		/* built by kmod/build-modules */
	MODULE_OUT_OF_TREE,	/* built outside the kernel by someone else */
};

/* The prefix of the version build-modules records in each module. */
#define BUNDLE_VERSION_PREFIX "kvm-bundle-"

/*
 * What /sys/module/NAME says about the origin of a module: whether the
 * folder exists, whether it has an initstate (loadable modules do), its
 * version file (NULL when there is none) and its taint flags ('O' marks an
 * out-of-tree module).
 */
enum module_origin module_classify(bool present, bool has_initstate, const char *version,
				   const char *taint);
const char *module_origin_name(enum module_origin origin);

struct module_state {
	const char *name;		/* "kvm", "kvm_amd" */
	enum module_origin origin;
	char *version;			/* /sys/module/NAME/version, or NULL */
	char *installed_path;		/* what modprobe would load now, or NULL */
	bool installed_is_bundle;	/* that file is the bundle's build */
	int nested;			/* vendor modules: 1 on, 0 off, -1 unknown */
};

struct device_state {
	const char *path;
	int stat_errno;		/* 0 when it exists */
	bool is_char;
	unsigned major, minor;
	uid_t uid;
	gid_t gid;
	mode_t mode;		/* permission bits */
	char *owner;		/* names of uid and gid, or NULL */
	char *group;
	int open_errno;		/* 0 when the caller could open it read-write */
};

/* The outcome of the run of a tiny real-mode guest through the KVM API. */
struct selftest_result {
	bool ran;
	bool passed;
	unsigned exits;		/* VM exits seen */
	struct strbuf message;	/* what went wrong, or what was proven */
};

/* Everything the checks look at, gathered once. */
struct host_facts {
	int cpuinfo_status;		/* 0, or -errno reading /proc/cpuinfo */
	struct cpu_info cpu;
	bool cpuid_vmx;			/* what CPUID itself offers */
	bool cpuid_svm;
	int msr_status;			/* 0 when msr_value was read, else -errno */
	uint32_t msr_index;
	uint64_t msr_value;
	struct module_state kvm;
	struct module_state vendor;	/* kvm_intel or kvm_amd */
	const char *other_vendor;	/* another vendor module loaded (kvm_pvm), or NULL */
	struct device_state dev_kvm;
	int api_version;		/* KVM_GET_API_VERSION, or -1 */
	struct device_state vhost_net;
	struct device_state tun;
	int iommu_units;		/* entries in /sys/class/iommu, or -errno */
	int iommu_groups;		/* entries in /sys/kernel/iommu_groups, or -errno */
	char *user;			/* the caller's login name */
	bool user_in_kvm_group;
	bool root;
	bool selftest_wanted;
	struct selftest_result selftest;
};

/* The MSRs that say whether the firmware disabled VT-x or AMD-V. */
#define MSR_IA32_FEATURE_CONTROL 0x3a
#define FEATURE_CONTROL_LOCKED (1ULL << 0)
#define FEATURE_CONTROL_VMX_OUTSIDE_SMX (1ULL << 2)
#define MSR_AMD_VM_CR 0xc0010114
#define VM_CR_SVM_DISABLED (1ULL << 4)

/*
 * Gathers the facts of the host whose /proc, /sys and /dev lie under ROOT
 * ("/" for the running system).  MSRs, CPUID and the KVM API are read only
 * when ROOT is "/".  Never fails: what cannot be read is recorded as such.
 */
void host_facts_gather(struct host_facts *facts, const char *root, bool selftest);
void host_facts_release(struct host_facts *facts);

/* Runs a small real-mode guest on DEV (a /dev/kvm path). */
void selftest_run(const char *dev, struct selftest_result *result);

enum check_status {
	CHECK_OK,
	CHECK_WARN,	/* works, but something users want is missing */
	CHECK_FAIL,	/* does not work; for an essential check, KVM cannot be used */
	CHECK_UNKNOWN,	/* could not be checked */
	CHECK_SKIPPED,	/* does not apply */
};

const char *check_status_name(enum check_status status);

struct check {
	const char *name;		/* "cpu", "firmware", ... */
	bool essential;			/* a failure makes KVM unusable */
	enum check_status status;
	struct strbuf summary;		/* what was found, one line */
	struct strbuf fix;		/* how to fix a failure or warning */
	struct json_object *details;	/* facts for --output=json */
};

#define MAX_CHECKS 12

struct report {
	struct check checks[MAX_CHECKS];
	size_t count;
	int verdict;			/* KVM_OK_USABLE, _NOT_USABLE or _UNKNOWN */
};

/* Judges FACTS into REPORT; pure. */
void report_judge(struct report *report, const struct host_facts *facts);
void report_release(struct report *report);
const struct check *report_find(const struct report *report, const char *name);

/* The whole report, for --output=json; the caller puts the reference. */
struct json_object *report_json(const struct report *report);
/* The report for people. */
void report_print(const struct report *report, FILE *out);

#endif
