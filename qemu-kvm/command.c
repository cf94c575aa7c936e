/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The QEMU command line of a guest, from its profile and the options. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kvm-run.h"
#include "xalloc.h"

/* ICH9's AHCI on q35 has six ports; PIIX's IDE two buses of two units. */
#define AHCI_PORTS 6
#define IDE_SLOTS 4

/* The enlightenments Windows uses under Hyper-V, which KVM provides;
 * software emulation has few of them, so they go only with KVM. */
#define HYPERV_FLAGS "hv-relaxed,hv-vapic,hv-spinlocks=0x1fff,hv-vpindex,hv-runtime," \
		     "hv-time,hv-synic,hv-stimer,hv-reset,hv-frequencies,hv-tlbflush,hv-ipi"

void arglist_push(struct arglist *list, const char *arg)
{
	if (list->len + 2 > list->alloc) {
		list->alloc = list->alloc ? list->alloc * 2 : 16;
		list->items = xrealloc(list->items, list->alloc * sizeof(*list->items));
	}
	list->items[list->len++] = xstrdup(arg);
	list->items[list->len] = NULL;
}

void arglist_pushf(struct arglist *list, const char *fmt, ...)
{
	struct strbuf sb = STRBUF_INIT;
	va_list ap;

	va_start(ap, fmt);
	strbuf_vaddf(&sb, fmt, ap);
	va_end(ap);
	arglist_push(list, sb.buf);
	strbuf_release(&sb);
}

void arglist_release(struct arglist *list)
{
	if (!list)
		return;
	for (size_t i = 0; i < list->len; i++)
		free(list->items[i]);
	free(list->items);
	memset(list, 0, sizeof(*list));
}

void mac_for_name(const char *name, char mac[18])
{
	uint32_t hash = 2166136261u;	/* FNV-1a */

	for (const char *c = name; *c; c++)
		hash = (hash ^ (uint8_t)*c) * 16777619u;
	/* 52:54:00 is the prefix QEMU and libvirt give guests. */
	snprintf(mac, 18, "52:54:00:%02x:%02x:%02x", (hash >> 16) & 0xff, (hash >> 8) & 0xff,
		 hash & 0xff);
}

/* QEMU's option syntax doubles a ',' inside a value. */
static void add_escaped(struct strbuf *sb, const char *value)
{
	for (const char *c = value; *c; c++) {
		if (*c == ',')
			strbuf_addch(sb, ',');
		strbuf_addch(sb, *c);
	}
}

/* Pushes PREFIX VALUE SUFFIX with VALUE escaped. */
static void push_with_value(struct arglist *argv, const char *prefix, const char *value,
			    const char *suffix)
{
	struct strbuf sb = STRBUF_INIT;

	strbuf_addstr(&sb, prefix);
	add_escaped(&sb, value);
	strbuf_addstr(&sb, suffix);
	arglist_push(argv, sb.buf);
	strbuf_release(&sb);
}

/* Hands out the storage controller's places for AHCI and IDE devices. */
struct slots {
	enum disk_bus bus;
	unsigned used;
};

static int next_slot(struct slots *slots, struct strbuf *where, struct kvm_error *err)
{
	if (slots->bus == DISK_BUS_IDE) {
		if (slots->used == IDE_SLOTS)
			return kvm_error_set(err, -ENOSPC,
					     "too many disks and CD-ROMs for the IDE controller (%d)",
					     IDE_SLOTS);
		strbuf_addf(where, "bus=ide.%u,unit=%u", slots->used / 2, slots->used % 2);
	} else {
		if (slots->used == AHCI_PORTS)
			return kvm_error_set(err, -ENOSPC,
					     "too many disks and CD-ROMs for the AHCI controller (%d)",
					     AHCI_PORTS);
		strbuf_addf(where, "bus=ide.%u", slots->used);
	}
	slots->used++;
	return 0;
}

static int add_cdrom(struct arglist *argv, struct slots *slots, const char *id,
		     const char *path, unsigned bootindex, struct kvm_error *err)
{
	struct strbuf device = STRBUF_INIT;
	struct strbuf drive = STRBUF_INIT;
	int ret;

	strbuf_addf(&device, "ide-cd,drive=%s,", id);
	ret = next_slot(slots, &device, err);
	if (ret < 0)
		goto out;
	if (bootindex)
		strbuf_addf(&device, ",bootindex=%u", bootindex);
	strbuf_addstr(&drive, "file=");
	add_escaped(&drive, path);
	strbuf_addf(&drive, ",format=raw,if=none,id=%s,media=cdrom,readonly=on", id);
	arglist_push(argv, "-drive");
	arglist_push(argv, drive.buf);
	arglist_push(argv, "-device");
	arglist_push(argv, device.buf);
out:
	strbuf_release(&device);
	strbuf_release(&drive);
	return ret;
}

static int add_disks(const struct launch *l, struct arglist *argv, struct kvm_error *err)
{
	const struct profile *p = l->profile;
	/* CD-ROMs sit on the chipset's controller even when disks are virtio. */
	struct slots slots = { .bus = strcmp(p->machine, "pc") == 0 ? DISK_BUS_IDE : DISK_BUS_AHCI };
	unsigned bootindex = 1;
	int ret;

	if (p->disk_bus == DISK_BUS_IDE && slots.bus != DISK_BUS_IDE)
		return kvm_error_set(err, -EINVAL, "%s: disk-bus ide needs machine pc", p->path);
	if (p->disk_bus == DISK_BUS_AHCI && slots.bus != DISK_BUS_AHCI)
		return kvm_error_set(err, -EINVAL, "%s: disk-bus ahci needs machine q35", p->path);

	for (size_t i = 0; i < l->n_disks; i++) {
		struct strbuf drive = STRBUF_INIT;
		struct strbuf device = STRBUF_INIT;

		strbuf_addstr(&drive, "file=");
		add_escaped(&drive, l->disks[i].path);
		strbuf_addf(&drive, ",format=%s,if=none,id=disk%zu", l->disks[i].facts.format, i);
		if (p->disk_bus == DISK_BUS_VIRTIO) {
			strbuf_addf(&device, "virtio-blk-pci,drive=disk%zu", i);
			ret = 0;
		} else {
			strbuf_addf(&device, "ide-hd,drive=disk%zu,", i);
			ret = next_slot(&slots, &device, err);
		}
		strbuf_addf(&device, ",bootindex=%u", bootindex++);
		if (!ret) {
			arglist_push(argv, "-drive");
			arglist_push(argv, drive.buf);
			arglist_push(argv, "-device");
			arglist_push(argv, device.buf);
		}
		strbuf_release(&drive);
		strbuf_release(&device);
		if (ret < 0)
			return ret;
	}
	/* After the disks: an empty disk falls through to the installer, an
	 * installed one boots without it. */
	if (l->cdrom) {
		ret = add_cdrom(argv, &slots, "cdrom0", l->cdrom, bootindex++, err);
		if (ret < 0)
			return ret;
	}
	if (l->virtio_win) {
		ret = add_cdrom(argv, &slots, "virtio-win", l->virtio_win, 0, err);
		if (ret < 0)
			return ret;
	}
	return 0;
}

static void add_firmware(const struct launch *l, struct arglist *argv)
{
	if (l->firmware == FIRMWARE_BIOS) {
		arglist_push(argv, "-bios");
		arglist_push(argv, l->files->seabios);
		return;
	}
	if (l->firmware == FIRMWARE_UEFI_SECURE_BOOT) {
		/* Only SMM code may write the variables that hold the keys. */
		arglist_push(argv, "-global");
		arglist_push(argv, "driver=cfi.pflash01,property=secure,value=on");
	}
	arglist_push(argv, "-drive");
	push_with_value(argv, "if=pflash,format=raw,unit=0,readonly=on,file=", l->files->ovmf_code, "");
	arglist_push(argv, "-drive");
	push_with_value(argv, "if=pflash,format=raw,unit=1,file=", l->ovmf_vars, "");
}

static void add_network(const struct launch *l, struct arglist *argv)
{
	if (l->net == NET_NONE)
		return;
	arglist_push(argv, "-netdev");
	switch (l->net) {
	case NET_BRIDGE:
		arglist_pushf(argv, "bridge,id=net0,br=%s", l->net_device);
		break;
	case NET_TAP:
		arglist_pushf(argv, "tap,id=net0,ifname=%s,script=no,downscript=no", l->net_device);
		break;
	default:
		arglist_push(argv, "user,id=net0");
		break;
	}
	arglist_push(argv, "-device");
	arglist_pushf(argv, "%s,netdev=net0,mac=%s", l->profile->nic, l->mac);
}

static void add_console(const struct launch *l, struct arglist *argv)
{
	switch (l->console) {
	case CONSOLE_SERIAL:
		arglist_push(argv, "-display");
		arglist_push(argv, "none");
		arglist_push(argv, "-serial");
		arglist_push(argv, "mon:stdio");
		break;
	case CONSOLE_VNC:
		/* Only this host may look, and a busy display takes the next one. */
		arglist_push(argv, "-display");
		arglist_push(argv, "vnc=127.0.0.1:0,to=99");
		arglist_push(argv, "-serial");
		arglist_push(argv, "mon:stdio");
		break;
	case CONSOLE_GTK:
		arglist_push(argv, "-display");
		arglist_push(argv, "gtk");
		arglist_push(argv, "-serial");
		arglist_push(argv, "vc");
		arglist_push(argv, "-monitor");
		arglist_push(argv, "vc");
		break;
	}
}

int launch_command(const struct launch *l, struct arglist *argv, struct kvm_error *err)
{
	const struct profile *p = l->profile;
	bool q35 = strcmp(p->machine, "q35") == 0;
	int ret;

	if (l->firmware == FIRMWARE_UEFI_SECURE_BOOT && !q35)
		return kvm_error_set(err, -EINVAL, "%s: Secure Boot needs machine q35", p->path);
	if (p->tablet && strcmp(p->usb, "none") == 0)
		return kvm_error_set(err, -EINVAL, "%s: tablet needs a usb controller", p->path);

	arglist_push(argv, l->files->qemu);
	arglist_push(argv, "-name");
	push_with_value(argv, "", l->name, "");
	arglist_push(argv, "-machine");
	arglist_pushf(argv, "%s%s", p->machine,
		      l->firmware == FIRMWARE_UEFI_SECURE_BOOT ? ",smm=on" : "");
	arglist_push(argv, "-accel");
	arglist_push(argv, l->kvm ? "kvm" : "tcg");
	arglist_push(argv, "-cpu");
	if (l->kvm && p->hyperv)
		arglist_pushf(argv, "%s,%s", p->cpu_kvm, HYPERV_FLAGS);
	else
		arglist_push(argv, l->kvm ? p->cpu_kvm : p->cpu_tcg);
	arglist_push(argv, "-smp");
	arglist_pushf(argv, "%u", l->cpus);
	arglist_push(argv, "-m");
	arglist_pushf(argv, "%llu", (unsigned long long)l->memory_mib);
	/* Every device is named below; QEMU's defaults differ between versions. */
	arglist_push(argv, "-nodefaults");

	add_firmware(l, argv);
	if (strcmp(p->video, "none")) {
		arglist_push(argv, "-device");
		arglist_push(argv, p->video);
	}
	ret = add_disks(l, argv, err);
	if (ret < 0)
		return ret;
	add_network(l, argv);
	if (strcmp(p->usb, "none")) {
		arglist_push(argv, "-device");
		arglist_pushf(argv, "%s,id=usb", p->usb);
	}
	if (p->tablet) {
		/* Absolute pointing: the mouse is where the VNC or GTK pointer is. */
		arglist_push(argv, "-device");
		arglist_push(argv, "usb-tablet");
	}
	if (p->rng) {
		arglist_push(argv, "-object");
		arglist_push(argv, "rng-random,id=rng0,filename=/dev/urandom");
		arglist_push(argv, "-device");
		arglist_push(argv, "virtio-rng-pci,rng=rng0");
	}
	if (p->balloon) {
		arglist_push(argv, "-device");
		arglist_push(argv, "virtio-balloon-pci");
	}
	if (l->tpm) {
		arglist_push(argv, "-chardev");
		push_with_value(argv, "socket,id=tpm0-socket,path=", l->tpm_socket, "");
		arglist_push(argv, "-tpmdev");
		arglist_push(argv, "emulator,id=tpm0,chardev=tpm0-socket");
		arglist_push(argv, "-device");
		/* Windows 11 looks for the CRB interface; i440fx has only TIS. */
		arglist_push(argv, q35 ? "tpm-crb,tpmdev=tpm0" : "tpm-tis,tpmdev=tpm0");
	}
	add_console(l, argv);
	for (size_t i = 0; i < p->qemu_args.len; i++)
		arglist_push(argv, p->qemu_args.items[i]);
	for (size_t i = 0; i < l->n_extra; i++)
		arglist_push(argv, l->extra[i]);
	return 0;
}
