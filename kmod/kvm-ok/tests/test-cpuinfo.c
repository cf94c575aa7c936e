// SPDX-License-Identifier: GPL-2.0-or-later
/* /proc/cpuinfo parsing and the module origin rules. */
#include <errno.h>

#include "kvm-ok.h"
#include "tap.h"

static const char intel[] =
	"processor\t: 0\n"
	"vendor_id\t: GenuineIntel\n"
	"model name\t: Intel(R) Xeon(R) CPU E5-2680 v4 @ 2.40GHz\n"
	"flags\t\t: fpu vme de pse tsc msr pae mce cx8 apic vmx smx est tm2 ssse3\n"
	"vmx flags\t: vnmi preemption_timer invvpid ept_x_only ept_ad\n"
	"\n"
	"processor\t: 1\n"
	"vendor_id\t: GenuineIntel\n"
	"model name\t: Intel(R) Xeon(R) CPU E5-2680 v4 @ 2.40GHz\n"
	"flags\t\t: fpu vme de pse tsc msr pae mce cx8 apic vmx smx est tm2 ssse3\n";

static const char amd_guest[] =
	"processor\t: 0\n"
	"vendor_id\t: AuthenticAMD\n"
	"model name\t: AMD EPYC Processor\n"
	"flags\t\t: fpu vme de pse svm_lock hypervisor lahf_lm cmp_legacy svm extapic\n";

/* "svm_lock" and "nosvm" must not count as svm, nor "vmx_x" as vmx. */
static const char lookalikes[] =
	"processor\t: 0\n"
	"vendor_id\t: AuthenticAMD\n"
	"model name\t: AMD Ryzen\n"
	"flags\t\t: fpu svm_lock nosvm vmx_x hypervisor_x\n";

static const char hygon[] =
	"processor\t: 0\n"
	"vendor_id\t: HygonGenuine\n"
	"flags\t\t: fpu svm\n";

int main(void)
{
	struct kvm_error err = { 0 };
	struct cpu_info info;

	CHECK_INT(cpuinfo_parse(intel, &info, &err), 0);
	CHECK_INT(info.vendor, CPU_VENDOR_INTEL);
	CHECK_STR(info.vendor_id, "GenuineIntel");
	CHECK_STR(info.model, "Intel(R) Xeon(R) CPU E5-2680 v4 @ 2.40GHz");
	CHECK_INT(info.count, 2);
	CHECK(info.vmx);
	CHECK(!info.svm);
	CHECK(!info.hypervisor);
	CHECK_STR(cpu_vendor_module(info.vendor), "kvm_intel");

	CHECK_INT(cpuinfo_parse(amd_guest, &info, &err), 0);
	CHECK_INT(info.vendor, CPU_VENDOR_AMD);
	CHECK(info.svm);
	CHECK(!info.vmx);
	CHECK(info.hypervisor);
	CHECK_INT(info.count, 1);
	CHECK_STR(cpu_vendor_module(info.vendor), "kvm_amd");

	CHECK_INT(cpuinfo_parse(lookalikes, &info, &err), 0);
	CHECK(!info.svm);
	CHECK(!info.vmx);
	CHECK(!info.hypervisor);

	CHECK_INT(cpuinfo_parse(hygon, &info, &err), 0);
	CHECK_INT(info.vendor, CPU_VENDOR_AMD);
	CHECK(info.svm);
	CHECK_STR(info.model, "");

	CHECK_INT(cpuinfo_parse("", &info, &err), -EINVAL);
	CHECK_MSG(err, "/proc/cpuinfo: names no processor");
	CHECK(cpu_vendor_module(CPU_VENDOR_UNKNOWN) == NULL);

	/* Where a module comes from, as /sys/module tells it. */
	CHECK_INT(module_classify(false, false, NULL, NULL), MODULE_NOT_LOADED);
	CHECK_INT(module_classify(true, false, NULL, NULL), MODULE_BUILTIN);
	CHECK_INT(module_classify(true, true, NULL, ""), MODULE_IN_TREE);
	CHECK_INT(module_classify(true, true, "kvm-bundle-0.1.0+26add7866727b917", "OE"),
		  MODULE_BUNDLE);
	CHECK_INT(module_classify(true, true, "kvm-bundle-0.1.0+1", NULL), MODULE_BUNDLE);
	CHECK_INT(module_classify(true, true, NULL, "OE"), MODULE_OUT_OF_TREE);
	CHECK_INT(module_classify(true, true, "5.4", "O"), MODULE_OUT_OF_TREE);
	CHECK_INT(module_classify(true, true, "5.4", "E"), MODULE_IN_TREE);
	CHECK_STR(module_origin_name(MODULE_BUNDLE), "bundle");
	CHECK_STR(module_origin_name(MODULE_IN_TREE), "in-tree");
	return tap_done();
}
