/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * OVF descriptors, 1.x and 2.x, in the shape vSphere exports them.
 *
 * Elements are matched by local name whatever their namespace: OVF 1.x
 * puts every item in <Item> with rasd: children, OVF 2.0 adds
 * <StorageItem> (sasd:) and <EthernetPortItem> (epasd:) with the same
 * children, and exporters disagree on prefixes.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <libxml/parser.h>
#include <libxml/tree.h>

#include "import.h"
#include "xalloc.h"

/* CIM ResourceType values (DSP0243). */
enum {
	RESOURCE_CPU = 3,
	RESOURCE_MEMORY = 4,
	RESOURCE_IDE = 5,
	RESOURCE_SCSI = 6,
	RESOURCE_ETHERNET = 10,
	RESOURCE_FLOPPY = 14,
	RESOURCE_CDROM = 15,
	RESOURCE_DVD = 16,
	RESOURCE_DISK = 17,
	RESOURCE_SERIAL = 21,
	RESOURCE_PARALLEL = 22,
	RESOURCE_USB = 23,
	RESOURCE_VIDEO = 24,
	RESOURCE_STORAGE_OTHER = 20,	/* SATA and NVMe controllers */
	RESOURCE_SOUND = 35,
};

static bool is_element(const xmlNode *node, const char *name)
{
	return node->type == XML_ELEMENT_NODE && strcmp((const char *)node->name, name) == 0;
}

static const xmlNode *child(const xmlNode *node, const char *name)
{
	for (const xmlNode *c = node ? node->children : NULL; c; c = c->next)
		if (is_element(c, name))
			return c;
	return NULL;
}

/* An attribute by local name, whatever its namespace ("ovf:href", "href"). */
static char *attr(const xmlNode *node, const char *name)
{
	for (const xmlAttr *a = node->properties; a; a = a->next) {
		if (strcmp((const char *)a->name, name) == 0) {
			xmlChar *v = xmlNodeGetContent((const xmlNode *)a);
			char *s = xstrdup(v ? (const char *)v : "");

			xmlFree(v);
			return s;
		}
	}
	return NULL;
}

/* The trimmed text of child NAME, or NULL. */
static char *child_text(const xmlNode *node, const char *name)
{
	const xmlNode *c = child(node, name);
	xmlChar *v;
	char *s, *start, *end;

	if (!c)
		return NULL;
	v = xmlNodeGetContent(c);
	start = (char *)(v ? v : (xmlChar *)"");
	while (*start == ' ' || *start == '\t' || *start == '\n' || *start == '\r')
		start++;
	end = start + strlen(start);
	while (end > start && (end[-1] == ' ' || end[-1] == '\t' || end[-1] == '\n' || end[-1] == '\r'))
		end--;
	s = xstrndup(start, (size_t)(end - start));
	xmlFree(v);
	return s;
}

static int parse_uint(const char *s, uint64_t max, uint64_t *value)
{
	char *end;
	unsigned long long v;

	if (!s || !*s || *s == '-')
		return -EINVAL;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno || *end || v > max)
		return -ERANGE;
	*value = v;
	return 0;
}

/*
 * "byte * 2^30", "byte * 10^9", "byte", "MegaBytes" and the like: the
 * number of bytes in one unit.
 */
static int parse_units(const char *units, uint64_t *bytes)
{
	char *s, *p;
	unsigned base, power;
	int n;

	*bytes = 1;
	if (!units || !*units)
		return 0;
	if (strcasecmp(units, "KB") == 0 || strcasecmp(units, "KiloBytes") == 0) {
		*bytes = 1ull << 10;
		return 0;
	}
	if (strcasecmp(units, "MB") == 0 || strcasecmp(units, "MegaBytes") == 0) {
		*bytes = 1ull << 20;
		return 0;
	}
	if (strcasecmp(units, "GB") == 0 || strcasecmp(units, "GigaBytes") == 0) {
		*bytes = 1ull << 30;
		return 0;
	}
	s = xmalloc(strlen(units) + 1);
	p = s;
	for (const char *q = units; *q; q++)
		if (*q != ' ')
			*p++ = *q;
	*p = '\0';
	if (strcmp(s, "byte") == 0) {
		free(s);
		return 0;
	}
	if (sscanf(s, "byte*%u^%u%n", &base, &power, &n) != 2 || s[n] != '\0' ||
	    (base != 2 && base != 10) || (base == 2 && power > 60) || (base == 10 && power > 18)) {
		free(s);
		return -EINVAL;
	}
	free(s);
	for (unsigned i = 0; i < power; i++)
		*bytes *= base;
	return 0;
}

/* QUANTITY UNITS in bytes, at most MAX. */
static int quantity_bytes(const char *name, const char *what, const char *quantity,
			  const char *units, uint64_t max, uint64_t *bytes, struct kvm_error *err)
{
	uint64_t count, unit;

	if (parse_units(units, &unit) < 0)
		return kvm_error_set(err, -EINVAL, "%s: %s has unknown units '%s'", name, what, units);
	if (parse_uint(quantity, UINT64_MAX, &count) < 0)
		return kvm_error_set(err, -EINVAL, "%s: %s '%s' is not a number", name, what,
				     quantity ? quantity : "");
	if (count > max / unit)
		return kvm_error_set(err, -EFBIG, "%s: %s of %s x %" PRIu64 " bytes is more than %" PRIu64
				     " bytes", name, what, quantity, unit, max);
	*bytes = count * unit;
	return 0;
}

struct ovf_file {
	char *id;
	char *href;
};

struct ovf_disk {
	char *id;
	char *file_ref;
	uint64_t capacity;
};

struct ovf_controller {
	char *instance_id;
	char *bus;
	char *model;
	int index;
};

struct ovf_state {
	const char *name;
	struct import_vm *vm;
	struct ovf_file *files;
	size_t n_files;
	struct ovf_disk *disks;
	size_t n_disks;
	struct ovf_controller *controllers;
	size_t n_controllers;
	int controllers_per_bus[4];
};

static void state_free(struct ovf_state *st)
{
	for (size_t i = 0; i < st->n_files; i++) {
		free(st->files[i].id);
		free(st->files[i].href);
	}
	free(st->files);
	for (size_t i = 0; i < st->n_disks; i++) {
		free(st->disks[i].id);
		free(st->disks[i].file_ref);
	}
	free(st->disks);
	for (size_t i = 0; i < st->n_controllers; i++) {
		free(st->controllers[i].instance_id);
		free(st->controllers[i].bus);
		free(st->controllers[i].model);
	}
	free(st->controllers);
}

static int read_references(struct ovf_state *st, const xmlNode *refs, struct kvm_error *err)
{
	for (const xmlNode *c = refs ? refs->children : NULL; c; c = c->next) {
		struct ovf_file *f;
		char *chunk, *compression;

		if (!is_element(c, "File"))
			continue;
		if (st->n_files == IMPORT_MAX_DISKS * 2)
			return kvm_error_set(err, -E2BIG, "%s: more than %d files", st->name,
					     IMPORT_MAX_DISKS * 2);
		chunk = attr(c, "chunkSize");
		compression = attr(c, "compression");
		st->files = xrealloc(st->files, (st->n_files + 1) * sizeof(*st->files));
		f = &st->files[st->n_files++];
		f->id = attr(c, "id");
		f->href = attr(c, "href");
		if (!f->id || !f->href || !*f->href) {
			free(chunk);
			free(compression);
			return kvm_error_set(err, -EINVAL, "%s: a File has no id or href", st->name);
		}
		if (chunk) {
			free(chunk);
			free(compression);
			return kvm_error_set(err, -ENOTSUP, "%s: %s is split into chunks, which import does not join",
					     st->name, f->href);
		}
		if (compression && strcmp(compression, "identity") != 0) {
			kvm_error_set(err, -ENOTSUP, "%s: %s is compressed with %s; import reads uncompressed files only",
				      st->name, f->href, compression);
			free(compression);
			return err ? err->code : -ENOTSUP;
		}
		free(compression);
	}
	return 0;
}

static int read_disk_section(struct ovf_state *st, const xmlNode *section, struct kvm_error *err)
{
	for (const xmlNode *c = section ? section->children : NULL; c; c = c->next) {
		struct ovf_disk *d;
		char *capacity, *units;
		int r;

		if (!is_element(c, "Disk"))
			continue;
		if (st->n_disks == IMPORT_MAX_DISKS)
			return kvm_error_set(err, -E2BIG, "%s: more than %d disks", st->name,
					     IMPORT_MAX_DISKS);
		st->disks = xrealloc(st->disks, (st->n_disks + 1) * sizeof(*st->disks));
		d = &st->disks[st->n_disks++];
		d->id = attr(c, "diskId");
		d->file_ref = attr(c, "fileRef");
		d->capacity = 0;
		if (!d->id)
			return kvm_error_set(err, -EINVAL, "%s: a Disk has no diskId", st->name);
		capacity = attr(c, "capacity");
		units = attr(c, "capacityAllocationUnits");
		r = quantity_bytes(st->name, "disk capacity", capacity, units, IMPORT_MAX_DISK_BYTES,
				   &d->capacity, err);
		free(capacity);
		free(units);
		if (r < 0)
			return r;
	}
	return 0;
}

static const struct ovf_file *find_file(const struct ovf_state *st, const char *id)
{
	for (size_t i = 0; id && i < st->n_files; i++)
		if (strcmp(st->files[i].id, id) == 0)
			return &st->files[i];
	return NULL;
}

static const struct ovf_disk *find_disk(const struct ovf_state *st, const char *host_resource)
{
	const char *id = host_resource;

	/* "ovf:/disk/vmdisk1", or "/disk/vmdisk1" in some exports. */
	if (!id)
		return NULL;
	if (strncmp(id, "ovf:", 4) == 0)
		id += 4;
	if (strncmp(id, "/disk/", 6) == 0)
		id += 6;
	for (size_t i = 0; i < st->n_disks; i++)
		if (strcmp(st->disks[i].id, id) == 0)
			return &st->disks[i];
	return NULL;
}

static int bus_slot(const char *bus)
{
	return strcmp(bus, "scsi") == 0 ? 0 : strcmp(bus, "sata") == 0 ? 1 :
	       strcmp(bus, "ide") == 0 ? 2 : 3;
}

static void add_controller(struct ovf_state *st, const char *instance_id, const char *bus,
			   const char *model)
{
	struct ovf_controller *c;

	st->controllers = xrealloc(st->controllers,
				   (st->n_controllers + 1) * sizeof(*st->controllers));
	c = &st->controllers[st->n_controllers++];
	c->instance_id = xstrdup(instance_id ? instance_id : "");
	c->bus = xstrdup(bus);
	c->model = model && *model ? xstrdup(model) : NULL;
	c->index = st->controllers_per_bus[bus_slot(bus)]++;
}

static const struct ovf_controller *find_controller(const struct ovf_state *st, const char *id)
{
	for (size_t i = 0; id && i < st->n_controllers; i++)
		if (strcmp(st->controllers[i].instance_id, id) == 0)
			return &st->controllers[i];
	return NULL;
}

static bool is_item(const xmlNode *c)
{
	return is_element(c, "Item") || is_element(c, "StorageItem") ||
	       is_element(c, "EthernetPortItem");
}

static int item_type(const xmlNode *item)
{
	char *text = child_text(item, "ResourceType");
	uint64_t type = 0;

	if (parse_uint(text, 1000, &type) < 0)
		type = 0;
	free(text);
	return (int)type;
}

/* Controllers first: disks name their controller by InstanceID. */
static int read_controllers(struct ovf_state *st, const xmlNode *hw)
{
	for (const xmlNode *c = hw->children; c; c = c->next) {
		char *id, *sub;
		int type;

		if (!is_item(c))
			continue;
		type = item_type(c);
		if (type != RESOURCE_IDE && type != RESOURCE_SCSI && type != RESOURCE_STORAGE_OTHER)
			continue;
		id = child_text(c, "InstanceID");
		sub = child_text(c, "ResourceSubType");
		if (type == RESOURCE_IDE)
			add_controller(st, id, "ide", sub);
		else if (type == RESOURCE_SCSI)
			add_controller(st, id, "scsi", sub);
		else if (sub && strstr(sub, "nvme"))
			add_controller(st, id, "nvme", sub);
		else
			add_controller(st, id, "sata", sub);
		free(id);
		free(sub);
	}
	return 0;
}

static int read_disk_item(struct ovf_state *st, const xmlNode *item, struct kvm_error *err)
{
	char *host = child_text(item, "HostResource");
	char *parent = child_text(item, "Parent");
	char *address = child_text(item, "AddressOnParent");
	const struct ovf_disk *disk = find_disk(st, host);
	const struct ovf_controller *ctrl = find_controller(st, parent);
	const struct ovf_file *file;
	struct import_disk *d;
	uint64_t unit = 0;
	int r = 0;

	if (!disk) {
		r = kvm_error_set(err, -EINVAL, "%s: a disk item names %s, which DiskSection does not list",
				  st->name, host ? host : "no disk");
		goto out;
	}
	file = find_file(st, disk->file_ref);
	if (!file) {
		/* A disk without a file is a blank one the importer creates. */
		import_vm_drop(st->vm, "blank disk %s of %" PRIu64 " bytes: not created", disk->id,
			       disk->capacity);
		goto out;
	}
	if (st->vm->n_disks == IMPORT_MAX_DISKS) {
		r = kvm_error_set(err, -E2BIG, "%s: more than %d disks", st->name, IMPORT_MAX_DISKS);
		goto out;
	}
	if (address)
		parse_uint(address, 1024, &unit);
	d = import_vm_add_disk(st->vm);
	d->file = xstrdup(file->href);
	d->capacity = disk->capacity;
	d->bus = xstrdup(ctrl ? ctrl->bus : "scsi");
	d->controller = ctrl && ctrl->model ? xstrdup(ctrl->model) : NULL;
	d->controller_index = ctrl ? ctrl->index : 0;
	d->unit = (int)unit;
out:
	free(host);
	free(parent);
	free(address);
	return r;
}

static void read_nic_item(struct ovf_state *st, const xmlNode *item)
{
	struct import_nic *nic;

	if (st->vm->n_nics == IMPORT_MAX_NICS)
		return;
	nic = import_vm_add_nic(st->vm);
	nic->model = child_text(item, "ResourceSubType");
	nic->network = child_text(item, "Connection");
	nic->mac = child_text(item, "Address");
	if (nic->mac && !*nic->mac) {
		free(nic->mac);
		nic->mac = NULL;
	}
}

static int read_quantity_item(struct ovf_state *st, const xmlNode *item, int type,
			      struct kvm_error *err)
{
	char *quantity = child_text(item, "VirtualQuantity");
	char *units = child_text(item, "AllocationUnits");
	uint64_t value;
	int r;

	if (type == RESOURCE_CPU) {
		if (parse_uint(quantity, IMPORT_MAX_CPUS, &value) < 0 || value == 0)
			r = kvm_error_set(err, -EINVAL, "%s: CPU count '%s' is not from 1 to %d",
					  st->name, quantity ? quantity : "", IMPORT_MAX_CPUS);
		else
			r = 0, st->vm->cpus = (unsigned)value;
	} else {
		r = quantity_bytes(st->name, "memory", quantity, units ? units : "byte * 2^20",
				   IMPORT_MAX_MEMORY_BYTES, &st->vm->memory, err);
	}
	free(quantity);
	free(units);
	return r;
}

static void drop_item(struct ovf_state *st, const xmlNode *item, int type)
{
	char *label = child_text(item, "ElementName");
	const char *what = label ? label : "device";

	switch (type) {
	case RESOURCE_VIDEO:
		import_vm_drop(st->vm, "%s (VMware SVGA): a standard VGA adapter instead", what);
		break;
	case RESOURCE_CDROM:
	case RESOURCE_DVD:
		import_vm_drop(st->vm, "%s: CD-ROM drive left out; attach an ISO with kvm-run --cdrom",
			       what);
		break;
	case RESOURCE_FLOPPY:
	case RESOURCE_SERIAL:
	case RESOURCE_PARALLEL:
	case RESOURCE_SOUND:
		import_vm_drop(st->vm, "%s: left out", what);
		break;
	case RESOURCE_USB:
		import_vm_drop(st->vm, "%s: a USB 3 controller (qemu-xhci) instead", what);
		break;
	default: {
		char *sub = child_text(item, "ResourceSubType");

		import_vm_drop(st->vm, "%s (resource type %d%s%s): VMware-specific, left out", what,
			       type, sub ? ", " : "", sub ? sub : "");
		free(sub);
	}
	}
	free(label);
}

/* vmw:Config and vmw:ExtraConfig settings of vSphere exports. */
static void read_vmware_config(struct ovf_state *st, const xmlNode *c)
{
	char *key = attr(c, "key");
	char *value = attr(c, "value");

	if (key && value) {
		if (strcmp(key, "firmware") == 0)
			st->vm->efi = strcasecmp(value, "efi") == 0;
		else if (strcmp(key, "bootOptions.efiSecureBootEnabled") == 0 ||
			 strcmp(key, "uefi.secureBoot.enabled") == 0)
			st->vm->secure_boot = strcasecmp(value, "true") == 0;
	}
	free(key);
	free(value);
}

static int read_hardware(struct ovf_state *st, const xmlNode *hw, struct kvm_error *err)
{
	int r;

	read_controllers(st, hw);
	for (const xmlNode *c = hw->children; c; c = c->next) {
		int type;

		if (is_element(c, "Config") || is_element(c, "ExtraConfig")) {
			read_vmware_config(st, c);
			continue;
		}
		if (!is_item(c))
			continue;
		type = item_type(c);
		switch (type) {
		case RESOURCE_CPU:
		case RESOURCE_MEMORY:
			r = read_quantity_item(st, c, type, err);
			if (r < 0)
				return r;
			break;
		case RESOURCE_IDE:
		case RESOURCE_SCSI:
		case RESOURCE_STORAGE_OTHER:
			break;
		case RESOURCE_DISK:
			r = read_disk_item(st, c, err);
			if (r < 0)
				return r;
			break;
		case RESOURCE_ETHERNET:
			read_nic_item(st, c);
			break;
		default:
			drop_item(st, c, type);
		}
	}
	return 0;
}

static const xmlNode *find_virtual_system(const xmlNode *envelope, const char *name,
					  struct kvm_error *err)
{
	const xmlNode *vs = child(envelope, "VirtualSystem");

	if (vs)
		return vs;
	if (child(envelope, "VirtualSystemCollection"))
		kvm_error_set(err, -ENOTSUP, "%s: a VirtualSystemCollection (vApp) holds several "
			      "guests; import one guest at a time", name);
	else
		kvm_error_set(err, -EINVAL, "%s: no VirtualSystem", name);
	return NULL;
}

static int read_envelope(struct ovf_state *st, const xmlNode *env, struct kvm_error *err)
{
	const xmlNode *vs, *hw, *os;
	char *text;
	int r;

	r = read_references(st, child(env, "References"), err);
	if (r < 0)
		return r;
	r = read_disk_section(st, child(env, "DiskSection"), err);
	if (r < 0)
		return r;
	vs = find_virtual_system(env, st->name, err);
	if (!vs)
		return err ? err->code : -EINVAL;
	text = child_text(vs, "Name");
	st->vm->name = text && *text ? text : attr(vs, "id");
	if (st->vm->name != text)
		free(text);
	os = child(vs, "OperatingSystemSection");
	if (os) {
		st->vm->os_id = attr(os, "osType");
		if (!st->vm->os_id)
			st->vm->os_id = attr(os, "id");
		st->vm->os_description = child_text(os, "Description");
	}
	hw = child(vs, "VirtualHardwareSection");
	if (!hw)
		return kvm_error_set(err, -EINVAL, "%s: no VirtualHardwareSection", st->name);
	return read_hardware(st, hw, err);
}

static void ignore_xml_message(void *context, const char *fmt, ...)
{
}

int ovf_parse(const char *text, size_t len, const char *name, struct import_vm *vm,
	      struct kvm_error *err)
{
	struct ovf_state st = { .name = name, .vm = vm };
	xmlGenericErrorFunc previous_handler;
	void *previous_context;
	const xmlError *xerr;
	xmlDoc *doc;
	xmlNode *root;
	int r;

	if (len > INT32_MAX)
		return kvm_error_set(err, -EFBIG, "%s: descriptor is too large", name);
	/* No network, no external entities, no DTD: the descriptor is
	 * untrusted.  libxml2 bounds entity expansion itself.  Its encoding
	 * errors ignore XML_PARSE_NOERROR and go to the generic handler, which
	 * prints: silence it for this thread while parsing, then restore the
	 * caller's, since a library must not print. */
	previous_handler = xmlGenericError;
	previous_context = xmlGenericErrorContext;
	xmlSetGenericErrorFunc(NULL, ignore_xml_message);
	doc = xmlReadMemory(text, (int)len, name, NULL,
			    XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING);
	xmlSetGenericErrorFunc(previous_context, previous_handler);
	if (!doc) {
		xerr = xmlGetLastError();
		const char *why = xerr && xerr->message ? xerr->message : "?";

		return kvm_error_set(err, -EINVAL, "%s: not an OVF descriptor: not XML (line %d: %.*s)",
				     name, xerr ? xerr->line : 0, (int)strcspn(why, "\n"), why);
	}
	root = xmlDocGetRootElement(doc);
	if (!root || !is_element(root, "Envelope")) {
		r = kvm_error_set(err, -EINVAL, "%s: not an OVF descriptor: the root element is not Envelope",
				  name);
		goto out;
	}
	r = read_envelope(&st, root, err);
	if (r == 0 && vm->n_disks == 0)
		r = kvm_error_set(err, -EINVAL, "%s: the guest has no disk", name);
out:
	state_free(&st);
	xmlFreeDoc(doc);
	return r;
}
