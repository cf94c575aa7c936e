/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The systems kvm-install knows: which template, how the installer boots
 * and is told where its answer file is, and what on its console says how
 * far it got.
 */
#include <string.h>

#include "kvm-install.h"

/* The files of debian-installer-12-netboot-amd64. */
#define DI_IMAGES "/usr/lib/debian-installer/images/12/amd64/text/debian-installer/amd64"

static const struct milestone test_milestones[] = {
	{ "KVM-INSTALL-FETCHED", "answer file fetched" },
	{ "KVM-INSTALL-WROTE", "files written to the disk" },
	{ NULL, NULL },
};

/* Titles of the installer's progress bars, as its text frontend prints
 * them on the serial console. */
static const struct milestone debian_milestones[] = {
	{ "Detecting network hardware", "detecting network hardware" },
	{ "Configuring the network with DHCP", "network configured" },
	{ "Checking the Debian archive mirror", "checking the archive" },
	{ "Loading additional components", "loading the installer's components" },
	{ "Starting up the partitioner", "partitioning" },
	{ "Installing the base system", "installing the base system" },
	{ "Select and install software", "installing software" },
	{ "Installing GRUB", "installing GRUB" },
	{ "Finishing the installation", "finishing the installation" },
	{ NULL, NULL },
};

static const struct milestone ubuntu_milestones[] = {
	{ "subiquity", "installer started" },
	{ "curtin command install", "installing" },
	{ "reboot: Power down", "powered off" },
	{ NULL, NULL },
};

static const struct milestone anaconda_milestones[] = {
	{ "Starting installer", "installer started" },
	{ "Starting package installation process", "installing packages" },
	{ "Performing post-installation setup tasks", "post-installation" },
	{ NULL, NULL },
};

static const struct milestone suse_milestones[] = {
	{ "Loading Installation System", "installer loading" },
	{ "Installing", "installing" },
	{ NULL, NULL },
};

static const struct milestone windows_milestones[] = {
	{ NULL, NULL },
};

static const struct profile test_profile = {
	.name = "test",
	.description = "a test guest: a busybox initramfs (--kernel, --initrd) writes the files the answer names",
	.template_name = "test.files",
	.answer_name = "answer",
	.format = FORMAT_PLAIN,
	.boot = BOOT_KERNEL,
	.cmdline = "console=ttyS0 panic=-1 kvm-install.url={{answer_base}}answer",
	.disk_device = "/dev/vda",
	.memory_mib = 256,
	.milestones = test_milestones,
	.done_pattern = "KVM-INSTALL-WROTE",
};

static const struct profile debian_12 = {
	.name = "debian-12",
	.description = "Debian 12 bookworm: Debian's installer with a preseed, or --method bootstrap",
	.template_name = "debian-12.preseed",
	.answer_name = "preseed.cfg",
	.format = FORMAT_PRESEED,
	.boot = BOOT_KERNEL,
	.kernel = DI_IMAGES "/linux",
	.initrd = DI_IMAGES "/initrd.gz",
	.cmdline = "auto=true priority=critical url={{answer_base}}preseed.cfg "
		   "hostname={{hostname}} domain={{domain}} interface=auto "
		   "console=ttyS0,115200n8 DEBIAN_FRONTEND=text --- console=ttyS0,115200n8",
	.disk_device = "/dev/vda",
	.mirror = "http://deb.debian.org/debian",
	.memory_mib = 1024,
	.bootstrap = true,
	.milestones = debian_milestones,
	.done_pattern = "Finishing the installation",
	/* The text frontend asks; with priority=critical and the preseed,
	 * anything it asks is a question the answer file did not answer. */
	.question_pattern = "Prompt: '?' for help",
};

static const struct profile ubuntu_2404 = {
	.name = "ubuntu-24.04",
	.description = "Ubuntu 24.04 LTS server (--iso): autoinstall through cloud-init's NoCloud",
	.template_name = "ubuntu-24.04.user-data",
	.answer_name = "user-data",
	.format = FORMAT_AUTOINSTALL,
	.boot = BOOT_ISO_KERNEL,
	.kernel = "casper/vmlinuz",
	.initrd = "casper/initrd",
	.cmdline = "autoinstall ds=nocloud-net;s={{answer_base}} console=ttyS0,115200n8 ---",
	.disk_device = "/dev/vda",
	.memory_mib = 4096,
	.milestones = ubuntu_milestones,
};

static const struct profile fedora = {
	.name = "fedora",
	.description = "Fedora Server (--iso): Anaconda with a kickstart",
	.template_name = "fedora.ks",
	.answer_name = "ks.cfg",
	.format = FORMAT_KICKSTART,
	.boot = BOOT_ISO_KERNEL,
	.kernel = "images/pxeboot/vmlinuz",
	.initrd = "images/pxeboot/initrd.img",
	.cmdline = "inst.ks={{answer_base}}ks.cfg inst.stage2=hd:LABEL={{iso_label}} inst.text "
		   "console=ttyS0,115200n8",
	.disk_device = "vda",
	.validator_version = "F38",
	.memory_mib = 2048,
	.milestones = anaconda_milestones,
};

static const struct profile rhel_9 = {
	.name = "rhel-9",
	.description = "RHEL 9 and its rebuilds, AlmaLinux and Rocky Linux (--iso): Anaconda with a kickstart",
	.template_name = "rhel-9.ks",
	.answer_name = "ks.cfg",
	.format = FORMAT_KICKSTART,
	.boot = BOOT_ISO_KERNEL,
	.kernel = "images/pxeboot/vmlinuz",
	.initrd = "images/pxeboot/initrd.img",
	.cmdline = "inst.ks={{answer_base}}ks.cfg inst.stage2=hd:LABEL={{iso_label}} inst.text "
		   "console=ttyS0,115200n8",
	.disk_device = "vda",
	.validator_version = "RHEL9",
	.memory_mib = 2048,
	.milestones = anaconda_milestones,
};

static const struct profile leap_156 = {
	.name = "opensuse-leap-15.6",
	.description = "openSUSE Leap 15.6 (--iso): YaST with an AutoYaST profile",
	.template_name = "opensuse-leap-15.6.xml",
	.answer_name = "autoinst.xml",
	.format = FORMAT_AUTOYAST,
	.boot = BOOT_ISO_KERNEL,
	.kernel = "boot/x86_64/loader/linux",
	.initrd = "boot/x86_64/loader/initrd",
	.cmdline = "autoyast={{answer_base}}autoinst.xml install=cd:/ textmode=1 "
		   "console=ttyS0,115200n8",
	.disk_device = "/dev/vda",
	.memory_mib = 2048,
	.milestones = suse_milestones,
};

static const struct profile tumbleweed = {
	.name = "opensuse-tumbleweed",
	.description = "openSUSE Tumbleweed (--iso of the Agama installer): an Agama profile",
	.template_name = "opensuse-tumbleweed.json",
	.answer_name = "agama.json",
	.format = FORMAT_AGAMA,
	.boot = BOOT_ISO_KERNEL,
	.kernel = "boot/x86_64/loader/linux",
	.initrd = "boot/x86_64/loader/initrd",
	.cmdline = "root=live:CDLABEL={{iso_label}} inst.auto={{answer_base}}agama.json "
		   "agama.auto={{answer_base}}agama.json console=ttyS0,115200n8",
	.disk_device = "/dev/vda",
	.memory_mib = 4096,
	.milestones = suse_milestones,
};

static const struct profile windows_10 = {
	.name = "windows-10",
	.description = "Windows 10 (--iso): UEFI, GPT, virtio-win drivers, autounattend.xml",
	.template_name = "windows.xml",
	.answer_name = "autounattend.xml",
	.format = FORMAT_AUTOUNATTEND,
	.boot = BOOT_WINDOWS,
	.windows_image = "Windows 10 Pro",
	.windows_drivers = "w10",
	.memory_mib = 4096,
	.milestones = windows_milestones,
};

static const struct profile windows_11 = {
	.name = "windows-11",
	.description = "Windows 11 (--iso): UEFI with Secure Boot, TPM 2.0, virtio-win, autounattend.xml",
	.template_name = "windows.xml",
	.answer_name = "autounattend.xml",
	.format = FORMAT_AUTOUNATTEND,
	.boot = BOOT_WINDOWS,
	.windows_image = "Windows 11 Pro",
	.windows_drivers = "w11",
	.memory_mib = 4096,
	.milestones = windows_milestones,
};

static const struct profile windows_server_2022 = {
	.name = "windows-server-2022",
	.description = "Windows Server 2022 (--iso): UEFI, virtio-win, autounattend.xml",
	.template_name = "windows.xml",
	.answer_name = "autounattend.xml",
	.format = FORMAT_AUTOUNATTEND,
	.boot = BOOT_WINDOWS,
	.windows_image = "Windows Server 2022 SERVERSTANDARD",
	.windows_drivers = "2k22",
	.memory_mib = 4096,
	.milestones = windows_milestones,
};

const struct profile *const profiles[] = {
	&debian_12,
	&ubuntu_2404,
	&fedora,
	&rhel_9,
	&leap_156,
	&tumbleweed,
	&windows_10,
	&windows_11,
	&windows_server_2022,
	&test_profile,
	NULL,
};

const struct profile *profile_find(const char *name)
{
	for (const struct profile *const *p = profiles; *p; p++)
		if (strcmp((*p)->name, name) == 0)
			return *p;
	return NULL;
}
