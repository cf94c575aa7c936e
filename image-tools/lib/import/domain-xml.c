/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The libvirt domain XML and the kvm-run profile of an imported guest. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "import.h"

static void add_escaped(struct strbuf *sb, const char *s)
{
	for (; *s; s++) {
		switch (*s) {
		case '&':
			strbuf_addstr(sb, "&amp;");
			break;
		case '<':
			strbuf_addstr(sb, "&lt;");
			break;
		case '>':
			strbuf_addstr(sb, "&gt;");
			break;
		case '\'':
			strbuf_addstr(sb, "&apos;");
			break;
		case '"':
			strbuf_addstr(sb, "&quot;");
			break;
		default:
			/* Control characters are not allowed in XML 1.0. */
			strbuf_addch(sb, (unsigned char)*s < 0x20 && *s != '\t' ? '_' : *s);
		}
	}
}

/* libvirt's domain names: no '/', and not empty. */
static void add_domain_name(struct strbuf *sb, const char *name)
{
	struct strbuf clean = STRBUF_INIT;

	for (const char *p = name; *p; p++)
		strbuf_addch(&clean, *p == '/' ? '_' : *p);
	add_escaped(sb, clean.len ? clean.buf : "imported");
	strbuf_release(&clean);
}

static bool is_mac(const char *mac)
{
	unsigned b[6];
	int n = 0;

	return mac && sscanf(mac, "%2x:%2x:%2x:%2x:%2x:%2x%n", &b[0], &b[1], &b[2], &b[3], &b[4],
			     &b[5], &n) == 6 && mac[n] == '\0' && !(b[0] & 1);
}

static void add_os(struct strbuf *xml, const struct import_target *target)
{
	bool efi = strcmp(target->firmware, "bios") != 0;

	strbuf_addf(xml, "  <os%s>\n", efi ? " firmware='efi'" : "");
	strbuf_addstr(xml, "    <type arch='x86_64' machine='q35'>hvm</type>\n");
	if (efi) {
		bool secure = strcmp(target->firmware, "uefi-secure-boot") == 0;

		strbuf_addf(xml, "    <firmware>\n"
				 "      <feature enabled='%s' name='secure-boot'/>\n"
				 "      <feature enabled='%s' name='enrolled-keys'/>\n"
				 "    </firmware>\n", secure ? "yes" : "no", secure ? "yes" : "no");
	}
	strbuf_addstr(xml, "    <boot dev='hd'/>\n  </os>\n");
}

static void add_features(struct strbuf *xml, const struct import_target *target, bool windows)
{
	strbuf_addstr(xml, "  <features>\n    <acpi/>\n    <apic/>\n");
	if (windows)
		strbuf_addstr(xml, "    <hyperv mode='custom'>\n"
				   "      <relaxed state='on'/>\n"
				   "      <vapic state='on'/>\n"
				   "      <spinlocks state='on' retries='8191'/>\n"
				   "    </hyperv>\n");
	if (strcmp(target->firmware, "uefi-secure-boot") == 0)
		strbuf_addstr(xml, "    <smm state='on'/>\n");
	strbuf_addstr(xml, "  </features>\n");
}

/* A kept snapshot chain, nested as libvirt describes it; an empty
 * <backingStore/> says that the base has none. */
static void add_backing_chain(struct strbuf *xml, const struct import_disk *d,
			      const char *format)
{
	size_t k;

	if (!d->n_backing)
		return;
	for (k = 0; k < d->n_backing; k++) {
		int indent = 6 + 2 * (int)k;

		strbuf_addf(xml, "%*s<backingStore type='file'>\n"
				 "%*s<format type='%s'/>\n"
				 "%*s<source file='", indent, "", indent + 2, "", format,
			    indent + 2, "");
		add_escaped(xml, d->backing_paths[k]);
		strbuf_addstr(xml, "'/>\n");
	}
	strbuf_addf(xml, "%*s<backingStore/>\n", 6 + 2 * (int)k, "");
	while (k-- > 0)
		strbuf_addf(xml, "%*s</backingStore>\n", 6 + 2 * (int)k, "");
}

int domain_xml_write(const struct import_vm *vm, const struct import_target *target,
		     char *const *disk_paths, const char *format, struct strbuf *xml,
		     struct kvm_error *err)
{
	bool virtio = strcmp(target->disk_bus, "virtio") == 0;
	bool windows = strncmp(target->profile, "windows", 7) == 0;

	if (vm->n_disks > 26)
		return kvm_error_set(err, -E2BIG, "%s: more than 26 disks have no libvirt name",
				     vm->name);
	strbuf_addstr(xml, "<domain type='kvm'>\n  <name>");
	add_domain_name(xml, vm->name);
	strbuf_addstr(xml, "</name>\n");
	if (vm->os_description || vm->os_id) {
		strbuf_addstr(xml, "  <description>Imported from VMware by kvm-image import: ");
		add_escaped(xml, vm->os_description ? vm->os_description : vm->os_id);
		strbuf_addstr(xml, "</description>\n");
	}
	strbuf_addf(xml, "  <memory unit='KiB'>%" PRIu64 "</memory>\n", vm->memory >> 10);
	strbuf_addf(xml, "  <vcpu>%u</vcpu>\n", vm->cpus);
	add_os(xml, target);
	add_features(xml, target, windows);
	strbuf_addstr(xml, "  <cpu mode='host-passthrough'/>\n");
	/* Windows keeps its clock in local time. */
	if (windows)
		strbuf_addstr(xml, "  <clock offset='localtime'>\n"
				   "    <timer name='hypervclock' present='yes'/>\n  </clock>\n");
	else
		strbuf_addstr(xml, "  <clock offset='utc'/>\n");
	strbuf_addstr(xml, "  <on_poweroff>destroy</on_poweroff>\n"
			   "  <on_reboot>restart</on_reboot>\n  <on_crash>destroy</on_crash>\n"
			   "  <devices>\n");
	for (size_t i = 0; i < vm->n_disks; i++) {
		strbuf_addf(xml, "    <disk type='file' device='disk'>\n"
				 "      <driver name='qemu' type='%s'/>\n"
				 "      <source file='", format);
		add_escaped(xml, disk_paths[i]);
		strbuf_addstr(xml, "'/>\n");
		add_backing_chain(xml, &vm->disks[i], format);
		strbuf_addf(xml, "      <target dev='%s%c' bus='%s'/>\n",
			    virtio ? "vd" : "sd", (char)('a' + i), virtio ? "virtio" : "sata");
		if (i == 0)
			strbuf_addstr(xml, "      <boot order='1'/>\n");
		strbuf_addstr(xml, "    </disk>\n");
	}
	for (size_t i = 0; i < vm->n_nics; i++) {
		strbuf_addstr(xml, "    <interface type='network'>\n");
		if (is_mac(vm->nics[i].mac)) {
			strbuf_addstr(xml, "      <mac address='");
			add_escaped(xml, vm->nics[i].mac);
			strbuf_addstr(xml, "'/>\n");
		}
		strbuf_addf(xml, "      <source network='default'/>\n"
				 "      <model type='%s'/>\n    </interface>\n",
			    strcmp(target->nic, "virtio-net-pci") == 0 ? "virtio" : target->nic);
	}
	strbuf_addstr(xml, "    <controller type='usb' model='qemu-xhci'/>\n"
			   "    <input type='tablet' bus='usb'/>\n"
			   "    <serial type='pty'/>\n"
			   "    <console type='pty'/>\n"
			   "    <graphics type='vnc' autoport='yes' listen='127.0.0.1'/>\n"
			   "    <video>\n      <model type='vga'/>\n    </video>\n");
	if (!windows)
		strbuf_addstr(xml, "    <rng model='virtio'>\n"
				   "      <backend model='random'>/dev/urandom</backend>\n"
				   "    </rng>\n");
	if (target->tpm)
		strbuf_addstr(xml, "    <tpm model='tpm-crb'>\n"
				   "      <backend type='emulator' version='2.0'/>\n"
				   "    </tpm>\n");
	strbuf_addstr(xml, "  </devices>\n</domain>\n");
	return 0;
}

void profile_write(const struct import_vm *vm, const struct import_target *target,
		   const char *source, struct strbuf *profile)
{
	strbuf_addf(profile, "# %s, imported from %s by kvm-image import.\n", vm->name, source);
	strbuf_addf(profile, "# Run it with: kvm-run --profile THIS-FILE --disk DISK...\n");
	strbuf_addf(profile, "inherit = %s\n", target->profile);
	strbuf_addstr(profile, "description = ");
	for (const char *p = vm->name; *p; p++)
		strbuf_addch(profile, *p == '\n' || *p == '#' ? ' ' : *p);
	strbuf_addstr(profile, " (imported from VMware)\n");
	strbuf_addf(profile, "firmware = %s\n", target->firmware);
	strbuf_addf(profile, "memory = %" PRIu64 "M\n", vm->memory >> 20);
	strbuf_addf(profile, "cpus = %u\n", vm->cpus);
	strbuf_addf(profile, "disk-bus = %s\n", target->disk_bus);
	strbuf_addf(profile, "nic = %s\n", target->nic);
	strbuf_addf(profile, "tpm = %s\n", target->tpm ? "yes" : "no");
}
