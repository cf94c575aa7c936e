/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * VMX files: the key = "value" lines VMware Workstation, Fusion and ESXi
 * keep a guest's configuration in.  Keys are case-insensitive; values may
 * hold "|XX" escapes of the byte 0xXX.
 */
#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "import.h"
#include "xalloc.h"

#define VMX_MAX_ENTRIES 65536

struct vmx_entry {
	char *key;	/* lower case */
	char *value;
};

struct vmx {
	struct vmx_entry *entries;
	size_t n;
};

static void vmx_free(struct vmx *vmx)
{
	for (size_t i = 0; i < vmx->n; i++) {
		free(vmx->entries[i].key);
		free(vmx->entries[i].value);
	}
	free(vmx->entries);
}

static int hex_digit(char c)
{
	return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 :
	       c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
}

static char *unescape(const char *s, size_t len)
{
	char *out = xmalloc(len + 1), *p = out;

	for (size_t i = 0; i < len; i++) {
		if (s[i] == '|' && i + 2 < len && hex_digit(s[i + 1]) >= 0 &&
		    hex_digit(s[i + 2]) >= 0) {
			*p++ = (char)(hex_digit(s[i + 1]) << 4 | hex_digit(s[i + 2]));
			i += 2;
		} else {
			*p++ = s[i];
		}
	}
	*p = '\0';
	return out;
}

static int parse_lines(const char *text, const char *name, struct vmx *vmx, struct kvm_error *err)
{
	unsigned line_no = 0;

	for (const char *line = text; *line;) {
		const char *end = strchr(line, '\n'), *eq, *k, *ke, *v, *ve;
		struct vmx_entry *e;

		if (!end)
			end = line + strlen(line);
		line_no++;
		k = line;
		while (k < end && isspace((unsigned char)*k))
			k++;
		if (k == end || *k == '#')
			goto next;
		eq = memchr(k, '=', (size_t)(end - k));
		if (!eq)
			return kvm_error_set(err, -EINVAL, "%s:%u: not a key = value line", name, line_no);
		ke = eq;
		while (ke > k && isspace((unsigned char)ke[-1]))
			ke--;
		v = eq + 1;
		ve = end;
		while (v < ve && isspace((unsigned char)*v))
			v++;
		while (ve > v && isspace((unsigned char)ve[-1]))
			ve--;
		if (ve - v >= 2 && *v == '"' && ve[-1] == '"')
			v++, ve--;
		if (ke == k)
			return kvm_error_set(err, -EINVAL, "%s:%u: a value without a key", name, line_no);
		if (vmx->n == VMX_MAX_ENTRIES)
			return kvm_error_set(err, -E2BIG, "%s: more than %d settings", name,
					     VMX_MAX_ENTRIES);
		vmx->entries = xrealloc(vmx->entries, (vmx->n + 1) * sizeof(*vmx->entries));
		e = &vmx->entries[vmx->n++];
		e->key = xstrndup(k, (size_t)(ke - k));
		for (char *c = e->key; *c; c++)
			*c = (char)tolower((unsigned char)*c);
		e->value = unescape(v, (size_t)(ve - v));
next:
		line = *end ? end + 1 : end;
	}
	return 0;
}

/* The last value of KEY (lower case), as VMware takes it, or NULL. */
static const char *get(const struct vmx *vmx, const char *key)
{
	for (size_t i = vmx->n; i-- > 0;)
		if (strcmp(vmx->entries[i].key, key) == 0)
			return vmx->entries[i].value;
	return NULL;
}

static const char *getf(const struct vmx *vmx, struct strbuf *key, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static const char *getf(const struct vmx *vmx, struct strbuf *key, const char *fmt, ...)
{
	va_list ap;

	strbuf_reset(key);
	va_start(ap, fmt);
	strbuf_vaddf(key, fmt, ap);
	va_end(ap);
	return get(vmx, key->buf);
}

static bool is_true(const char *value)
{
	return value && (strcasecmp(value, "true") == 0 || strcasecmp(value, "yes") == 0 ||
			 strcmp(value, "1") == 0);
}

static int get_uint(const struct vmx *vmx, const char *key, const char *name, uint64_t max,
		    uint64_t *out, struct kvm_error *err)
{
	const char *value = get(vmx, key);
	unsigned long long v;
	char *end;

	if (!value)
		return 0;
	errno = 0;
	v = strtoull(value, &end, 10);
	if (errno || end == value || *end || *value == '-' || v > max)
		return kvm_error_set(err, -EINVAL, "%s: %s = \"%s\" is not a number from 0 to %" PRIu64,
				     name, key, value, max);
	*out = v;
	return 0;
}

static bool is_cdrom(const char *device_type, const char *file)
{
	size_t len = file ? strlen(file) : 0;

	if (device_type && (strstr(device_type, "cdrom") || strstr(device_type, "atapi")))
		return true;
	return len > 4 && strcasecmp(file + len - 4, ".iso") == 0;
}

/* The disks: BUSn:u.fileName of each present device on a present bus. */
static int read_disks(const struct vmx *vmx, const char *name, struct import_vm *vm,
		      struct kvm_error *err)
{
	static const char *const buses[] = { "scsi", "sata", "ide", "nvme" };
	struct strbuf key = STRBUF_INIT;
	int r = 0;

	for (size_t i = 0; i < vmx->n; i++) {
		const char *k = vmx->entries[i].key, *file = vmx->entries[i].value;
		const char *bus = NULL, *present, *device_type, *model;
		unsigned ctrl, unit;
		int n = 0;
		struct import_disk *d;

		for (size_t b = 0; b < sizeof(buses) / sizeof(buses[0]); b++) {
			size_t len = strlen(buses[b]);

			if (strncmp(k, buses[b], len) == 0 &&
			    sscanf(k + len, "%u:%u.filename%n", &ctrl, &unit, &n) == 2 &&
			    k[len + (size_t)n] == '\0' && n > 0) {
				bus = buses[b];
				break;
			}
		}
		if (!bus || ctrl > 3 || unit > 64 || get(vmx, k) != file)
			continue;
		present = getf(vmx, &key, "%s%u:%u.present", bus, ctrl, unit);
		if (!is_true(present))
			continue;
		if (!is_true(getf(vmx, &key, "%s%u.present", bus, ctrl)))
			continue;
		device_type = getf(vmx, &key, "%s%u:%u.devicetype", bus, ctrl, unit);
		if (is_cdrom(device_type, file)) {
			import_vm_drop(vm, "%s%u:%u: CD-ROM drive (%s) left out; attach an ISO with kvm-run --cdrom",
				       bus, ctrl, unit, file);
			continue;
		}
		if (vm->n_disks == IMPORT_MAX_DISKS) {
			r = kvm_error_set(err, -E2BIG, "%s: more than %d disks", name, IMPORT_MAX_DISKS);
			goto out;
		}
		model = getf(vmx, &key, "%s%u.virtualdev", bus, ctrl);
		d = import_vm_add_disk(vm);
		d->file = xstrdup(file);
		d->bus = xstrdup(bus);
		d->controller = model ? xstrdup(model) : NULL;
		d->controller_index = (int)ctrl;
		d->unit = (int)unit;
	}
out:
	strbuf_release(&key);
	return r;
}

static void read_nics(const struct vmx *vmx, struct import_vm *vm)
{
	struct strbuf key = STRBUF_INIT;

	for (unsigned i = 0; i < 10; i++) {
		const char *mac;
		struct import_nic *nic;

		if (!is_true(getf(vmx, &key, "ethernet%u.present", i)) || vm->n_nics == IMPORT_MAX_NICS)
			continue;
		nic = import_vm_add_nic(vm);
		mac = getf(vmx, &key, "ethernet%u.virtualdev", i);
		nic->model = xstrdup(mac ? mac : "vlance");
		mac = getf(vmx, &key, "ethernet%u.networkname", i);
		nic->network = mac ? xstrdup(mac) : NULL;
		mac = getf(vmx, &key, "ethernet%u.address", i);
		if (!mac)
			mac = getf(vmx, &key, "ethernet%u.generatedaddress", i);
		nic->mac = mac && *mac ? xstrdup(mac) : NULL;
	}
	strbuf_release(&key);
}

/* Devices VMware has and KVM does not, or has in another form. */
static void read_dropped(const struct vmx *vmx, struct import_vm *vm)
{
	static const struct {
		const char *key;
		bool default_present;
		const char *what;
	} devices[] = {
		{ "svga.present", true, "VMware SVGA video: a standard VGA adapter instead" },
		{ "vmci0.present", false, "VMCI (VMware host-guest channel): left out" },
		{ "sound.present", false, "sound card: left out" },
		{ "usb.present", false, "USB 2 controller: a USB 3 controller (qemu-xhci) instead" },
		{ "usb_xhci.present", false, "USB 3 controller: qemu-xhci" },
		{ "floppy0.present", false, "floppy drive: left out" },
		{ "serial0.present", false, "serial port 0: left out (kvm-run --console serial gives one)" },
		{ "parallel0.present", false, "parallel port: left out" },
		{ "vvtd.enable", false, "virtual IOMMU (VT-d): left out" },
		{ "vhv.enable", false, "nested virtualization: left to the host's kvm module" },
		{ "tools.synctime", false, "VMware Tools time synchronisation: left out" },
	};

	for (size_t i = 0; i < sizeof(devices) / sizeof(devices[0]); i++) {
		const char *value = get(vmx, devices[i].key);

		if (value ? is_true(value) : devices[i].default_present)
			import_vm_drop(vm, "%s", devices[i].what);
	}
}

int vmx_parse(const char *text, const char *name, struct import_vm *vm, struct kvm_error *err)
{
	struct vmx vmx = { 0 };
	uint64_t cpus = 1, memory_mib = 0;
	const char *value;
	int r;

	r = parse_lines(text, name, &vmx, err);
	if (r < 0)
		goto out;
	if (!get(&vmx, "config.version") && !get(&vmx, "virtualhw.version") &&
	    !get(&vmx, "guestos") && !get(&vmx, "displayname")) {
		r = kvm_error_set(err, -EINVAL, "%s: not a VMX file: no config.version, "
				  "virtualHW.version, guestOS or displayName", name);
		goto out;
	}
	value = get(&vmx, "displayname");
	vm->name = value && *value ? xstrdup(value) : NULL;
	r = get_uint(&vmx, "numvcpus", name, IMPORT_MAX_CPUS, &cpus, err);
	if (r < 0)
		goto out;
	if (cpus == 0) {
		r = kvm_error_set(err, -EINVAL, "%s: numvcpus is 0", name);
		goto out;
	}
	vm->cpus = (unsigned)cpus;
	r = get_uint(&vmx, "memsize", name, IMPORT_MAX_MEMORY_BYTES >> 20, &memory_mib, err);
	if (r < 0)
		goto out;
	vm->memory = memory_mib << 20;
	value = get(&vmx, "firmware");
	vm->efi = value && strcasecmp(value, "efi") == 0;
	vm->secure_boot = vm->efi && is_true(get(&vmx, "uefi.secureboot.enabled"));
	value = get(&vmx, "guestos");
	vm->os_id = value ? xstrdup(value) : NULL;
	r = read_disks(&vmx, name, vm, err);
	if (r < 0)
		goto out;
	if (vm->n_disks == 0) {
		r = kvm_error_set(err, -EINVAL, "%s: the guest has no disk", name);
		goto out;
	}
	read_nics(&vmx, vm);
	read_dropped(&vmx, vm);
out:
	vmx_free(&vmx);
	return r;
}
