// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Judging the facts into checks.  Each failed or warned check says how to
 * fix it; the verdict follows from the essential checks.
 */
#include <errno.h>
#include <stdarg.h>
#include <string.h>

#include "json-out.h"
#include "kvm-ok.h"

const char *check_status_name(enum check_status status)
{
	switch (status) {
	case CHECK_OK:
		return "ok";
	case CHECK_WARN:
		return "warn";
	case CHECK_FAIL:
		return "fail";
	case CHECK_UNKNOWN:
		return "unknown";
	case CHECK_SKIPPED:
		return "skipped";
	}
	return "unknown";
}

static struct check *add_check(struct report *report, const char *name, bool essential)
{
	struct check *check = &report->checks[report->count++];

	check->name = name;
	check->essential = essential;
	check->status = CHECK_UNKNOWN;
	strbuf_init(&check->summary, 0);
	strbuf_init(&check->fix, 0);
	check->details = json_object_new_object();
	return check;
}

static void set_status(struct check *check, enum check_status status, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void set_status(struct check *check, enum check_status status, const char *fmt, ...)
{
	va_list ap;

	check->status = status;
	strbuf_reset(&check->summary);
	va_start(ap, fmt);
	strbuf_vaddf(&check->summary, fmt, ap);
	va_end(ap);
}

static void set_fix(struct check *check, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void set_fix(struct check *check, const char *fmt, ...)
{
	va_list ap;

	strbuf_reset(&check->fix);
	va_start(ap, fmt);
	strbuf_vaddf(&check->fix, fmt, ap);
	va_end(ap);
}

/* "crw-rw---- root:kvm" */
static void describe_node(const struct device_state *dev, struct strbuf *out)
{
	static const char letters[] = "rwxrwxrwx";

	strbuf_addch(out, dev->is_char ? 'c' : '-');
	for (int i = 0; i < 9; i++)
		strbuf_addch(out, dev->mode & (0400 >> i) ? letters[i] : '-');
	if (dev->owner)
		strbuf_addf(out, " %s", dev->owner);
	else
		strbuf_addf(out, " %u", (unsigned)dev->uid);
	if (dev->group)
		strbuf_addf(out, ":%s", dev->group);
	else
		strbuf_addf(out, ":%u", (unsigned)dev->gid);
}

static void add_node_details(struct json_object *details, const struct device_state *dev)
{
	struct strbuf mode = STRBUF_INIT;

	json_out_add_string(details, "path", dev->path);
	json_out_add_bool(details, "exists", dev->stat_errno == 0);
	if (dev->stat_errno == 0) {
		strbuf_addf(&mode, "%04o", (unsigned)dev->mode);
		json_out_add_bool(details, "character-device", dev->is_char);
		json_out_add_int(details, "major", dev->major);
		json_out_add_int(details, "minor", dev->minor);
		json_out_add_string(details, "mode", mode.buf);
		json_out_add_string(details, "owner", dev->owner);
		json_out_add_string(details, "group", dev->group);
		json_out_add_bool(details, "accessible", dev->open_errno == 0);
	}
	strbuf_release(&mode);
}

static const char *extension_name(enum cpu_vendor vendor)
{
	return vendor == CPU_VENDOR_AMD ? "AMD-V (svm)" : "VT-x (vmx)";
}

static void judge_cpu(struct report *report, const struct host_facts *f)
{
	struct check *c = add_check(report, "cpu", true);
	const struct cpu_info *cpu = &f->cpu;
	bool cpuid_has = cpu->vendor == CPU_VENDOR_AMD ? f->cpuid_svm : f->cpuid_vmx;

	json_out_add_string(c->details, "vendor-id", cpu->vendor_id);
	json_out_add_string(c->details, "model", cpu->model);
	json_out_add_int(c->details, "cpus", cpu->count);
	json_out_add_bool(c->details, "vmx", cpu->vmx);
	json_out_add_bool(c->details, "svm", cpu->svm);
	json_out_add_bool(c->details, "hypervisor", cpu->hypervisor);
	json_out_add_bool(c->details, "cpuid-vmx", f->cpuid_vmx);
	json_out_add_bool(c->details, "cpuid-svm", f->cpuid_svm);

	if (f->cpuinfo_status < 0) {
		set_status(c, CHECK_UNKNOWN, "cannot read /proc/cpuinfo: %s", strerror(-f->cpuinfo_status));
		set_fix(c, "mount /proc (mount -t proc proc /proc) and run kvm-ok again");
		return;
	}
	if (cpu->vmx || cpu->svm) {
		set_status(c, CHECK_OK, "%s (%s) with %s, %u CPU%s", cpu->model[0] ? cpu->model : "CPU",
			   cpu->vendor_id, cpu->svm ? "AMD-V (svm)" : "VT-x (vmx)", cpu->count,
			   cpu->count == 1 ? "" : "s");
		return;
	}
	if (cpuid_has) {
		/* The kernel hides the flag when the firmware locked it off. */
		set_status(c, CHECK_FAIL, "%s (%s) has %s, but it is disabled: the kernel does not list it",
			   cpu->model, cpu->vendor_id, extension_name(cpu->vendor));
		set_fix(c, "enable %s in the firmware (BIOS/UEFI) setup, often under \"CPU configuration\"; "
			"then power the machine off and on", cpu->vendor == CPU_VENDOR_AMD ?
			"\"SVM Mode\" (AMD-V)" : "\"Intel Virtualization Technology\" (VT-x)");
		return;
	}
	if (cpu->hypervisor) {
		set_status(c, CHECK_FAIL, "%s (%s) is a virtual CPU without %s: this is a virtual machine "
			   "whose hypervisor does not offer nested virtualisation",
			   cpu->model, cpu->vendor_id, extension_name(cpu->vendor));
		set_fix(c, "enable nested virtualisation on the host of this virtual machine: on KVM, "
			"load kvm_intel or kvm_amd there with nested=1 and start this VM with -cpu host; "
			"on VMware, tick \"Expose hardware assisted virtualization to the guest OS\"; "
			"on Hyper-V, Set-VMProcessor -ExposeVirtualizationExtensions $true");
		return;
	}
	set_status(c, CHECK_FAIL, "%s (%s) has neither VT-x (vmx) nor AMD-V (svm)", cpu->model,
		   cpu->vendor_id);
	set_fix(c, "KVM needs a CPU with hardware virtualisation; this one has none, so guests can "
		"only run under QEMU's software emulation (-accel tcg)");
}

static void judge_firmware(struct report *report, const struct host_facts *f)
{
	struct check *c = add_check(report, "firmware", true);
	bool intel = f->msr_index == MSR_IA32_FEATURE_CONTROL;
	struct strbuf msr = STRBUF_INIT;

	strbuf_addf(&msr, "0x%x", f->msr_index);
	if (f->msr_index)
		json_out_add_string(c->details, "msr", msr.buf);
	if (!f->cpuid_vmx && !f->cpuid_svm) {
		set_status(c, CHECK_SKIPPED, "the CPU offers no virtualisation extension to enable");
		goto out;
	}
	if (f->msr_status < 0) {
		json_out_add_string(c->details, "error", strerror(-f->msr_status));
		set_status(c, CHECK_UNKNOWN, "cannot read MSR %s (%s) through /dev/cpu/0/msr: %s",
			   msr.buf, intel ? "IA32_FEATURE_CONTROL" : "VM_CR", strerror(-f->msr_status));
		if (f->msr_status == -EACCES || f->msr_status == -EPERM)
			set_fix(c, "run kvm-ok as root to read it");
		else if (f->msr_status == -ENOENT || f->msr_status == -ENXIO || f->msr_status == -ENODEV)
			set_fix(c, "load the msr driver as root (modprobe msr) and run kvm-ok again");
		else
			set_fix(c, "none needed when /dev/kvm works: inside a virtual machine the "
				"hypervisor often refuses this MSR");
		goto out;
	}
	json_out_add_uint(c->details, "value", f->msr_value);
	if (intel) {
		if ((f->msr_value & FEATURE_CONTROL_LOCKED) &&
		    !(f->msr_value & FEATURE_CONTROL_VMX_OUTSIDE_SMX)) {
			set_status(c, CHECK_FAIL, "the firmware disabled VT-x and locked it off "
				   "(MSR 0x3a IA32_FEATURE_CONTROL = 0x%llx)",
				   (unsigned long long)f->msr_value);
			set_fix(c, "enable \"Intel Virtualization Technology\" (VT-x) in the firmware "
				"(BIOS/UEFI) setup, then power the machine off and on");
		} else {
			set_status(c, CHECK_OK, "VT-x is enabled (MSR 0x3a IA32_FEATURE_CONTROL = 0x%llx)",
				   (unsigned long long)f->msr_value);
		}
	} else if (f->msr_value & VM_CR_SVM_DISABLED) {
		set_status(c, CHECK_FAIL, "the firmware disabled AMD-V (MSR 0xc0010114 VM_CR = 0x%llx, "
			   "SVMDIS set)", (unsigned long long)f->msr_value);
		set_fix(c, "enable \"SVM Mode\" (AMD-V) in the firmware (BIOS/UEFI) setup, then power "
			"the machine off and on");
	} else {
		set_status(c, CHECK_OK, "AMD-V is enabled (MSR 0xc0010114 VM_CR = 0x%llx)",
			   (unsigned long long)f->msr_value);
	}
out:
	strbuf_release(&msr);
}

static void describe_module(const struct module_state *m, struct strbuf *out)
{
	switch (m->origin) {
	case MODULE_BUNDLE:
		strbuf_addf(out, "%s is the bundle's build (%s)", m->name, m->version);
		break;
	case MODULE_IN_TREE:
		strbuf_addf(out, "%s is the distribution's in-tree module", m->name);
		break;
	case MODULE_OUT_OF_TREE:
		strbuf_addf(out, "%s is an out-of-tree build%s%s", m->name,
			    m->version ? " " : "", m->version ? m->version : "");
		break;
	case MODULE_BUILTIN:
		strbuf_addf(out, "%s is built into the kernel", m->name);
		break;
	case MODULE_NOT_LOADED:
		strbuf_addf(out, "%s is not loaded", m->name);
		break;
	}
}

static void add_module_details(struct json_object *details, const struct module_state *m)
{
	struct json_object *obj = json_object_new_object();

	json_out_add_string(obj, "origin", module_origin_name(m->origin));
	json_out_add_string(obj, "version", m->version);
	json_out_add_string(obj, "installed-path", m->installed_path);
	json_out_add_bool(obj, "installed-is-bundle", m->installed_is_bundle);
	json_object_object_add(details, m->name, obj);
}

static void judge_modules(struct report *report, const struct host_facts *f)
{
	struct check *c = add_check(report, "modules", true);
	const struct module_state *vendor = &f->vendor;
	struct strbuf text = STRBUF_INIT;
	bool has_extension = f->cpu.vmx || f->cpu.svm;

	add_module_details(c->details, &f->kvm);
	add_module_details(c->details, vendor);
	describe_module(&f->kvm, &text);
	strbuf_addstr(&text, ", ");
	describe_module(vendor, &text);

	if (f->other_vendor)
		json_out_add_string(c->details, "other-vendor-module", f->other_vendor);
	if (vendor->origin == MODULE_NOT_LOADED && f->other_vendor) {
		set_status(c, CHECK_FAIL, "%s; %s is loaded, which runs only guest kernels built for "
			   "it (PVM), not ordinary guests", text.buf, f->other_vendor);
		set_fix(c, "ordinary guests need %s, which needs the CPU's virtualisation extension: "
			"see the cpu check", vendor->name);
	} else if (vendor->origin == MODULE_NOT_LOADED) {
		set_status(c, CHECK_FAIL, "%s", text.buf);
		if (has_extension)
			set_fix(c, "load it as root: modprobe %s (the kvm-host package loads it at boot "
				"through /usr/lib/modules-load.d/kvm.conf); if that fails, dmesg says why",
				vendor->name);
		else
			set_fix(c, "%s cannot load without the CPU's virtualisation extension: see the "
				"cpu check", vendor->name);
	} else if (vendor->installed_is_bundle && vendor->origin != MODULE_BUNDLE) {
		set_status(c, CHECK_WARN, "%s; the bundle's build is installed but not loaded", text.buf);
		set_fix(c, "with no virtual machine running, reload as root: modprobe -r %s kvm && "
			"modprobe %s", vendor->name, vendor->name);
	} else {
		set_status(c, CHECK_OK, "%s", text.buf);
	}
	strbuf_release(&text);
}

static void judge_device(struct report *report, const struct host_facts *f)
{
	struct check *c = add_check(report, "device", true);
	const struct device_state *dev = &f->dev_kvm;
	struct strbuf node = STRBUF_INIT;

	add_node_details(c->details, dev);
	if (dev->stat_errno == ENOENT) {
		set_status(c, CHECK_FAIL, "/dev/kvm does not exist");
		if (f->vendor.origin == MODULE_NOT_LOADED)
			set_fix(c, "the kernel creates it when %s loads: see the modules check",
				f->vendor.name);
		else
			set_fix(c, "create it as root: mknod -m 0660 /dev/kvm c 10 232 && "
				"chgrp kvm /dev/kvm (devtmpfs and udev normally do)");
		goto out;
	}
	if (dev->stat_errno) {
		set_status(c, CHECK_UNKNOWN, "cannot look at /dev/kvm: %s", strerror(dev->stat_errno));
		goto out;
	}
	describe_node(dev, &node);
	if (!dev->is_char) {
		set_status(c, CHECK_FAIL, "/dev/kvm is not a character device (%s)", node.buf);
		set_fix(c, "remove it as root (rm /dev/kvm) and reload %s, which creates it",
			f->vendor.name);
	} else if ((dev->group && strcmp(dev->group, "kvm") == 0 && (dev->mode & 0060) == 0060) ||
		   (dev->mode & 0006) == 0006) {
		set_status(c, CHECK_OK, "/dev/kvm %s", node.buf);
	} else {
		set_status(c, CHECK_WARN, "/dev/kvm %s: only %s may use it", node.buf,
			   dev->owner ? dev->owner : "its owner");
		set_fix(c, "install the udev rule of the kvm-host package (KERNEL==\"kvm\", GROUP=\"kvm\", "
			"MODE=\"0660\" in /usr/lib/udev/rules.d/) and apply it as root: "
			"udevadm trigger --name-match=kvm");
	}
out:
	strbuf_release(&node);
}

static void judge_access(struct report *report, const struct host_facts *f)
{
	struct check *c = add_check(report, "access", true);
	const struct device_state *dev = &f->dev_kvm;

	json_out_add_string(c->details, "user", f->user);
	json_out_add_bool(c->details, "in-kvm-group", f->user_in_kvm_group);
	if (f->api_version >= 0)
		json_out_add_int(c->details, "api-version", f->api_version);
	if (dev->stat_errno) {
		set_status(c, CHECK_SKIPPED, "no /dev/kvm to open");
		return;
	}
	if (dev->open_errno == 0) {
		if (f->api_version >= 0 && f->api_version != 12) {
			set_status(c, CHECK_FAIL, "/dev/kvm speaks KVM API version %d, not 12",
				   f->api_version);
			set_fix(c, "use a kernel whose KVM has API version 12 (every Linux since 2.6.22)");
			return;
		}
		if (f->api_version == 12)
			set_status(c, CHECK_OK, "%s can open /dev/kvm (KVM API version 12)", f->user);
		else
			set_status(c, CHECK_OK, "%s can open /dev/kvm", f->user);
		return;
	}
	json_out_add_string(c->details, "error", strerror(dev->open_errno));
	if (dev->open_errno == EACCES || dev->open_errno == EPERM) {
		set_status(c, CHECK_FAIL, "%s may not open /dev/kvm", f->user);
		if (dev->group && strcmp(dev->group, "kvm") == 0 && f->user_in_kvm_group)
			set_fix(c, "group kvm has no read and write permission: install the udev rule "
				"(see the device check)");
		else if (dev->group && strcmp(dev->group, "kvm") == 0)
			set_fix(c, "add %s to group kvm as root (usermod -aG kvm %s), then log in again",
				f->user, f->user);
		else
			set_fix(c, "install the udev rule (see the device check), then add %s to group "
				"kvm as root (usermod -aG kvm %s) and log in again", f->user, f->user);
		return;
	}
	set_status(c, CHECK_FAIL, "opening /dev/kvm fails: %s", strerror(dev->open_errno));
	set_fix(c, "dmesg says why the kernel refuses it");
}

static void judge_selftest(struct report *report, const struct host_facts *f,
			   const struct check *access)
{
	struct check *c = add_check(report, "selftest", true);
	const struct selftest_result *t = &f->selftest;

	if (access->status != CHECK_OK || !t->ran) {
		set_status(c, CHECK_SKIPPED, "needs a /dev/kvm this user can open");
		return;
	}
	json_out_add_int(c->details, "exits", t->exits);
	if (t->passed) {
		set_status(c, CHECK_OK, "%s", t->message.buf);
	} else {
		set_status(c, CHECK_FAIL, "%s", t->message.buf);
		set_fix(c, "the kernel's KVM does not run guests correctly: dmesg may say why; "
			"report it with the output of kvm-ok --selftest --output=json");
	}
}

static void judge_nested(struct report *report, const struct host_facts *f)
{
	struct check *c = add_check(report, "nested", false);
	const struct module_state *vendor = &f->vendor;

	json_out_add_string(c->details, "module", vendor->name);
	if (vendor->origin == MODULE_NOT_LOADED) {
		set_status(c, CHECK_SKIPPED, "%s is not loaded", vendor->name);
		return;
	}
	if (vendor->nested < 0) {
		set_status(c, CHECK_UNKNOWN, "%s has no nested parameter", vendor->name);
		return;
	}
	json_out_add_bool(c->details, "enabled", vendor->nested);
	if (vendor->nested) {
		set_status(c, CHECK_OK, "nested virtualisation is on (%s nested=1): guests can run KVM",
			   vendor->name);
	} else {
		set_status(c, CHECK_WARN, "nested virtualisation is off: guests cannot run KVM themselves");
		set_fix(c, "put \"options %s nested=1\" in /etc/modprobe.d/kvm.conf (the kvm-host package "
			"does) and, with no virtual machine running, reload as root: modprobe -r %s && "
			"modprobe %s", vendor->name, vendor->name, vendor->name);
	}
}

static void judge_node(struct report *report, const char *name, const struct device_state *dev,
		       const char *module, const char *purpose, const struct host_facts *f)
{
	struct check *c = add_check(report, name, false);
	struct strbuf node = STRBUF_INIT;

	add_node_details(c->details, dev);
	if (dev->stat_errno) {
		set_status(c, CHECK_WARN, "%s does not exist: %s", dev->path, purpose);
		set_fix(c, "load the driver as root (modprobe %s) and at boot (add %s to "
			"/etc/modules-load.d/kvm.conf)", module, module);
		goto out;
	}
	describe_node(dev, &node);
	if (dev->open_errno == EACCES || dev->open_errno == EPERM) {
		set_status(c, CHECK_WARN, "%s %s: %s may not open it: %s", dev->path, node.buf,
			   f->user, purpose);
		set_fix(c, "install the udev rule of the kvm-host package (%s to group kvm, mode 0660) "
			"and add %s to group kvm (usermod -aG kvm %s)", dev->path, f->user, f->user);
	} else {
		set_status(c, CHECK_OK, "%s %s", dev->path, node.buf);
	}
out:
	strbuf_release(&node);
}

static void judge_iommu(struct report *report, const struct host_facts *f)
{
	struct check *c = add_check(report, "iommu", false);

	json_out_add_int(c->details, "units", f->iommu_units > 0 ? f->iommu_units : 0);
	json_out_add_int(c->details, "groups", f->iommu_groups > 0 ? f->iommu_groups : 0);
	if (f->iommu_units > 0) {
		set_status(c, CHECK_OK, "an IOMMU is active (%d unit%s, %d group%s): PCI devices can be "
			   "given to guests (VFIO)", f->iommu_units, f->iommu_units == 1 ? "" : "s",
			   f->iommu_groups > 0 ? f->iommu_groups : 0, f->iommu_groups == 1 ? "" : "s");
		return;
	}
	set_status(c, CHECK_WARN, "no IOMMU is active: PCI devices cannot be given to guests (VFIO)");
	if (f->cpu.hypervisor)
		set_fix(c, "this virtual machine has no virtual IOMMU; it is only needed for PCI "
			"passthrough");
	else if (f->cpu.vendor == CPU_VENDOR_INTEL)
		set_fix(c, "enable VT-d in the firmware setup and add intel_iommu=on to the kernel "
			"command line (GRUB_CMDLINE_LINUX in /etc/default/grub, then update-grub or "
			"grub2-mkconfig -o /boot/grub2/grub.cfg)");
	else
		set_fix(c, "enable the IOMMU (AMD-Vi) in the firmware setup; the kernel turns it on "
			"when the firmware reports it");
}

void report_judge(struct report *report, const struct host_facts *f)
{
	const struct check *access;
	bool failed = false;

	memset(report, 0, sizeof(*report));
	judge_cpu(report, f);
	judge_firmware(report, f);
	judge_modules(report, f);
	judge_device(report, f);
	judge_access(report, f);
	access = &report->checks[report->count - 1];
	if (f->selftest_wanted)
		judge_selftest(report, f, access);
	judge_nested(report, f);
	judge_node(report, "vhost-net", &f->vhost_net, "vhost_net",
		   "virtio-net falls back to slower networking in QEMU itself", f);
	judge_node(report, "tun", &f->tun, "tun", "guests cannot have tap network interfaces", f);
	judge_iommu(report, f);

	for (size_t i = 0; i < report->count; i++)
		failed |= report->checks[i].essential && report->checks[i].status == CHECK_FAIL;
	if (failed)
		report->verdict = KVM_OK_NOT_USABLE;
	else if (access->status == CHECK_OK &&
		 (!f->selftest_wanted || report_find(report, "selftest")->status == CHECK_OK))
		report->verdict = KVM_OK_USABLE;
	else
		report->verdict = KVM_OK_UNKNOWN;
}

const struct check *report_find(const struct report *report, const char *name)
{
	for (size_t i = 0; i < report->count; i++) {
		if (strcmp(report->checks[i].name, name) == 0)
			return &report->checks[i];
	}
	return NULL;
}

void report_release(struct report *report)
{
	if (!report)
		return;
	for (size_t i = 0; i < report->count; i++) {
		strbuf_release(&report->checks[i].summary);
		strbuf_release(&report->checks[i].fix);
		json_object_put(report->checks[i].details);
	}
	report->count = 0;
}
