// SPDX-License-Identifier: GPL-2.0-or-later
/* The verdicts and fixes kvm-ok gives for hosts this machine is not. */
#include <errno.h>
#include <string.h>

#include "kvm-ok.h"
#include "tap.h"

/* A host where everything works: AMD, the bundle's modules, root:kvm 0660. */
static void usable_amd_host(struct host_facts *f)
{
	memset(f, 0, sizeof(*f));
	f->cpu.vendor = CPU_VENDOR_AMD;
	strcpy(f->cpu.vendor_id, "AuthenticAMD");
	strcpy(f->cpu.model, "AMD EPYC 7713");
	f->cpu.count = 4;
	f->cpu.svm = true;
	f->cpuid_svm = true;
	f->msr_index = MSR_AMD_VM_CR;
	f->msr_value = 0;
	f->kvm = (struct module_state){ .name = "kvm", .origin = MODULE_BUNDLE,
					.version = "kvm-bundle-0.1.0+abc", .nested = -1 };
	f->vendor = (struct module_state){ .name = "kvm_amd", .origin = MODULE_BUNDLE,
					   .version = "kvm-bundle-0.1.0+abc", .nested = 1 };
	f->dev_kvm = (struct device_state){ .path = "/dev/kvm", .is_char = true, .major = 10,
					    .minor = 232, .mode = 0660, .owner = "root",
					    .group = "kvm" };
	f->api_version = 12;
	f->vhost_net = (struct device_state){ .path = "/dev/vhost-net", .is_char = true,
					      .mode = 0660, .owner = "root", .group = "kvm" };
	f->tun = (struct device_state){ .path = "/dev/net/tun", .is_char = true, .mode = 0666,
					.owner = "root", .group = "root" };
	f->iommu_units = 1;
	f->iommu_groups = 12;
	f->user = "alice";
	f->user_in_kvm_group = true;
	strbuf_init(&f->selftest.message, 0);
}

static enum check_status status_of(const struct report *r, const char *name)
{
	const struct check *c = report_find(r, name);

	return c ? c->status : (enum check_status)-1;
}

static const char *fix_of(const struct report *r, const char *name)
{
	const struct check *c = report_find(r, name);

	return c ? c->fix.buf : "";
}

static const char *summary_of(const struct report *r, const char *name)
{
	const struct check *c = report_find(r, name);

	return c ? c->summary.buf : "";
}

#define CHECK_HAS(text, needle) tap_check(strstr((text), (needle)) != NULL, \
					  "\"" needle "\" in " #text, __FILE__, __LINE__)

int main(void)
{
	struct host_facts f;
	struct report r;
	struct json_object *json, *member;

	usable_amd_host(&f);
	report_judge(&r, &f);
	CHECK_INT(r.verdict, KVM_OK_USABLE);
	CHECK_INT(status_of(&r, "cpu"), CHECK_OK);
	CHECK_INT(status_of(&r, "firmware"), CHECK_OK);
	CHECK_INT(status_of(&r, "modules"), CHECK_OK);
	CHECK_HAS(summary_of(&r, "modules"), "kvm_amd is the bundle's build (kvm-bundle-0.1.0+abc)");
	CHECK_INT(status_of(&r, "device"), CHECK_OK);
	CHECK_HAS(summary_of(&r, "device"), "crw-rw---- root:kvm");
	CHECK_INT(status_of(&r, "access"), CHECK_OK);
	CHECK(report_find(&r, "selftest") == NULL);
	CHECK_INT(status_of(&r, "nested"), CHECK_OK);
	CHECK_INT(status_of(&r, "iommu"), CHECK_OK);
	json = report_json(&r);
	CHECK(json_object_object_get_ex(json, "verdict", &member));
	CHECK_STR(json_object_get_string(member), "usable");
	CHECK(json_object_object_get_ex(json, "checks", &member));
	CHECK_INT(json_object_array_length(member), r.count);
	json_object_put(json);
	report_release(&r);

	/* This machine: a virtual CPU without SVM or VT-x, nothing loaded. */
	usable_amd_host(&f);
	f.cpu.vendor = CPU_VENDOR_INTEL;
	strcpy(f.cpu.vendor_id, "GenuineIntel");
	f.cpu.svm = f.cpuid_svm = false;
	f.cpu.hypervisor = true;
	f.msr_status = -ENODATA;
	f.kvm.origin = f.vendor.origin = MODULE_NOT_LOADED;
	f.vendor.name = "kvm_intel";
	f.dev_kvm.stat_errno = f.dev_kvm.open_errno = ENOENT;
	f.api_version = -1;
	report_judge(&r, &f);
	CHECK_INT(r.verdict, KVM_OK_NOT_USABLE);
	CHECK_INT(status_of(&r, "cpu"), CHECK_FAIL);
	CHECK_HAS(summary_of(&r, "cpu"), "virtual machine");
	CHECK_HAS(fix_of(&r, "cpu"), "nested=1");
	CHECK_INT(status_of(&r, "firmware"), CHECK_SKIPPED);
	CHECK_INT(status_of(&r, "modules"), CHECK_FAIL);
	CHECK_HAS(fix_of(&r, "modules"), "see the cpu check");
	CHECK_INT(status_of(&r, "device"), CHECK_FAIL);
	CHECK_HAS(fix_of(&r, "device"), "kvm_intel");
	CHECK_INT(status_of(&r, "access"), CHECK_SKIPPED);
	CHECK_INT(status_of(&r, "nested"), CHECK_SKIPPED);
	report_release(&r);

	/* The same with PVM, which gives a working /dev/kvm without VT-x:
	 * ordinary guests still cannot run. */
	f.other_vendor = "kvm_pvm";
	f.kvm.origin = MODULE_BUILTIN;
	f.dev_kvm.stat_errno = f.dev_kvm.open_errno = 0;
	f.api_version = 12;
	report_judge(&r, &f);
	CHECK_INT(r.verdict, KVM_OK_NOT_USABLE);
	CHECK_INT(status_of(&r, "modules"), CHECK_FAIL);
	CHECK_HAS(summary_of(&r, "modules"), "kvm_pvm is loaded");
	CHECK_HAS(summary_of(&r, "modules"), "kvm is built into the kernel");
	CHECK_INT(status_of(&r, "access"), CHECK_OK);
	report_release(&r);

	/* Intel with VT-x locked off by the firmware: CPUID has it, the
	 * kernel hides it. */
	usable_amd_host(&f);
	f.cpu.vendor = CPU_VENDOR_INTEL;
	strcpy(f.cpu.vendor_id, "GenuineIntel");
	f.cpu.svm = f.cpuid_svm = false;
	f.cpuid_vmx = true;
	f.msr_index = MSR_IA32_FEATURE_CONTROL;
	f.msr_value = FEATURE_CONTROL_LOCKED;
	f.vendor.origin = MODULE_NOT_LOADED;
	f.vendor.name = "kvm_intel";
	f.dev_kvm.stat_errno = ENOENT;
	report_judge(&r, &f);
	CHECK_INT(r.verdict, KVM_OK_NOT_USABLE);
	CHECK_INT(status_of(&r, "cpu"), CHECK_FAIL);
	CHECK_HAS(fix_of(&r, "cpu"), "Intel Virtualization Technology");
	CHECK_INT(status_of(&r, "firmware"), CHECK_FAIL);
	CHECK_HAS(summary_of(&r, "firmware"), "MSR 0x3a");
	report_release(&r);

	/* VT-x enabled but not locked: the kernel locks it on when kvm loads. */
	f.msr_value = 0;
	f.cpu.vmx = true;
	report_judge(&r, &f);
	CHECK_INT(status_of(&r, "firmware"), CHECK_OK);
	report_release(&r);

	/* AMD with SVMDIS set in VM_CR. */
	usable_amd_host(&f);
	f.msr_value = VM_CR_SVM_DISABLED;
	report_judge(&r, &f);
	CHECK_INT(r.verdict, KVM_OK_NOT_USABLE);
	CHECK_INT(status_of(&r, "firmware"), CHECK_FAIL);
	CHECK_HAS(fix_of(&r, "firmware"), "SVM Mode");
	report_release(&r);

	/* Not root: the MSR cannot be read, which does not matter when
	 * /dev/kvm works. */
	usable_amd_host(&f);
	f.msr_status = -EACCES;
	report_judge(&r, &f);
	CHECK_INT(r.verdict, KVM_OK_USABLE);
	CHECK_INT(status_of(&r, "firmware"), CHECK_UNKNOWN);
	CHECK_HAS(fix_of(&r, "firmware"), "as root");
	report_release(&r);

	/* A user outside group kvm. */
	usable_amd_host(&f);
	f.dev_kvm.open_errno = EACCES;
	f.user_in_kvm_group = false;
	report_judge(&r, &f);
	CHECK_INT(r.verdict, KVM_OK_NOT_USABLE);
	CHECK_INT(status_of(&r, "access"), CHECK_FAIL);
	CHECK_HAS(fix_of(&r, "access"), "usermod -aG kvm alice");
	report_release(&r);

	/* No udev rule: root:root 0600. */
	usable_amd_host(&f);
	f.dev_kvm.group = "root";
	f.dev_kvm.mode = 0600;
	f.dev_kvm.open_errno = EACCES;
	report_judge(&r, &f);
	CHECK_INT(status_of(&r, "device"), CHECK_WARN);
	CHECK_HAS(fix_of(&r, "device"), "GROUP=\"kvm\"");
	CHECK_HAS(fix_of(&r, "access"), "udev rule");
	report_release(&r);

	/* The bundle's build installed, the in-tree one still loaded. */
	usable_amd_host(&f);
	f.kvm.origin = f.vendor.origin = MODULE_IN_TREE;
	f.vendor.installed_is_bundle = true;
	report_judge(&r, &f);
	CHECK_INT(r.verdict, KVM_OK_USABLE);
	CHECK_INT(status_of(&r, "modules"), CHECK_WARN);
	CHECK_HAS(summary_of(&r, "modules"), "distribution's in-tree module");
	CHECK_HAS(fix_of(&r, "modules"), "modprobe -r kvm_amd kvm && modprobe kvm_amd");
	report_release(&r);

	/* Nested off, no vhost-net, no IOMMU: warnings that do not change
	 * the verdict. */
	usable_amd_host(&f);
	f.vendor.nested = 0;
	f.vhost_net.stat_errno = ENOENT;
	f.iommu_units = 0;
	report_judge(&r, &f);
	CHECK_INT(r.verdict, KVM_OK_USABLE);
	CHECK_INT(status_of(&r, "nested"), CHECK_WARN);
	CHECK_HAS(fix_of(&r, "nested"), "options kvm_amd nested=1");
	CHECK_INT(status_of(&r, "vhost-net"), CHECK_WARN);
	CHECK_HAS(fix_of(&r, "vhost-net"), "modprobe vhost_net");
	CHECK_INT(status_of(&r, "iommu"), CHECK_WARN);
	CHECK_HAS(fix_of(&r, "iommu"), "AMD-Vi");
	report_release(&r);

	/* The self-test decides when asked for. */
	usable_amd_host(&f);
	f.selftest_wanted = true;
	f.selftest.ran = true;
	f.selftest.passed = false;
	strbuf_addstr(&f.selftest.message, "unexpected VM exit 9 at step 0");
	report_judge(&r, &f);
	CHECK_INT(r.verdict, KVM_OK_NOT_USABLE);
	CHECK_INT(status_of(&r, "selftest"), CHECK_FAIL);
	CHECK_HAS(summary_of(&r, "selftest"), "unexpected VM exit 9");
	report_release(&r);
	f.selftest.passed = true;
	report_judge(&r, &f);
	CHECK_INT(r.verdict, KVM_OK_USABLE);
	report_release(&r);
	strbuf_release(&f.selftest.message);

	/* /dev/kvm cannot even be looked at: could not tell. */
	usable_amd_host(&f);
	f.dev_kvm.stat_errno = f.dev_kvm.open_errno = EACCES;
	report_judge(&r, &f);
	CHECK_INT(r.verdict, KVM_OK_UNKNOWN);
	CHECK_INT(status_of(&r, "device"), CHECK_UNKNOWN);
	report_release(&r);
	return tap_done();
}
