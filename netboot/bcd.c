/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <hivex.h>

#include "bcd.h"
#include "files.h"
#include "outfile.h"
#include "strbuf.h"

#define GUID_BOOTMGR "{9dea862c-5cdd-4e70-acc1-f32b344d4795}"
#define GUID_RAMDISK_OPTIONS "{7619dcc8-fafe-11d9-b411-000476eba25f}"
#define GUID_WINPE "{7619dcc9-fafe-11d9-b411-000476eba25f}"

/* Object types (the Description key's Type value). */
#define TYPE_BOOTMGR 0x10100002
#define TYPE_OSLOADER 0x10200003
#define TYPE_DEVICE 0x30000000

#define HIVE_PAGE 4096

static void put32(unsigned char *p, uint32_t v)
{
	p[0] = (unsigned char)v;
	p[1] = (unsigned char)(v >> 8);
	p[2] = (unsigned char)(v >> 16);
	p[3] = (unsigned char)(v >> 24);
}

/*
 * An empty registry hive (hivex opens hives, it does not create them): the
 * base block, and one hbin holding the root key, the security descriptor
 * hivex makes new keys inherit, and free space.
 */
static void blank_hive(unsigned char *hive)
{
	unsigned char *bin = hive + HIVE_PAGE, *nk = bin + 0x20, *sk = nk + 88;
	uint32_t sum = 0;

	memset(hive, 0, 2 * HIVE_PAGE);
	memcpy(hive, "regf", 4);
	put32(hive + 4, 1);		/* sequence numbers, equal: clean */
	put32(hive + 8, 1);
	put32(hive + 20, 1);		/* version 1.3 */
	put32(hive + 24, 3);
	put32(hive + 32, 1);		/* format: direct memory load */
	put32(hive + 36, 0x20);		/* the root key, from the first hbin */
	put32(hive + 40, HIVE_PAGE);	/* the hbins' size */
	put32(hive + 44, 1);
	for (int i = 0; i < 127; i++)
		sum ^= (uint32_t)hive[i * 4] | (uint32_t)hive[i * 4 + 1] << 8 |
		       (uint32_t)hive[i * 4 + 2] << 16 | (uint32_t)hive[i * 4 + 3] << 24;
	put32(hive + 508, sum);

	memcpy(bin, "hbin", 4);
	put32(bin + 8, HIVE_PAGE);

	put32(nk, (uint32_t)-88);	/* a used cell of 88 bytes */
	memcpy(nk + 4, "nk", 2);
	nk[6] = 0x2c;			/* root key, not deletable, ASCII name */
	put32(nk + 20, 0xffffffff);	/* parent */
	put32(nk + 32, 0xffffffff);	/* subkey lists */
	put32(nk + 36, 0xffffffff);
	put32(nk + 44, 0xffffffff);	/* value list */
	put32(nk + 48, 0x20 + 88);	/* security: the sk below */
	put32(nk + 52, 0xffffffff);	/* class name */
	nk[76] = 4;
	memcpy(nk + 80, "ROOT", 4);

	put32(sk, (uint32_t)-48);
	memcpy(sk + 4, "sk", 2);
	put32(sk + 8, 0x20 + 88);	/* the list of sk cells: only this one */
	put32(sk + 12, 0x20 + 88);
	put32(sk + 16, 1);		/* the root key uses it */
	put32(sk + 20, 20);		/* an empty self-relative descriptor */
	sk[24] = 1;
	sk[27] = 0x80;

	put32(sk + 48, HIVE_PAGE - 0x20 - 88 - 48);	/* the free rest */
}

struct bcd {
	hive_h *h;
	hive_node_h objects;
};

static hive_node_h child(hive_h *h, hive_node_h parent, const char *name)
{
	hive_node_h node = hivex_node_get_child(h, parent, name);

	return node ? node : hivex_node_add_child(h, parent, name);
}

static int set_value(hive_h *h, hive_node_h node, const char *key, hive_type type,
		     const void *data, size_t len)
{
	hive_set_value value = { .key = (char *)key, .t = type, .len = len, .value = (char *)data };

	return hivex_node_set_value(h, node, &value, 0) < 0 ? -errno : 0;
}

/* A REG_SZ or REG_MULTI_SZ in UTF-16LE; MULTI adds the list's final NUL. */
static void utf16(const char *s, bool multi, struct strbuf *out)
{
	for (; *s; s++) {
		strbuf_addch(out, *s);
		strbuf_addch(out, '\0');
	}
	strbuf_add(out, "\0\0\0\0", multi ? 4 : 2);
}

static hive_node_h object(struct bcd *bcd, const char *guid, uint32_t type)
{
	hive_node_h obj = child(bcd->h, bcd->objects, guid), desc;
	unsigned char le[4];

	if (!obj || !(desc = child(bcd->h, obj, "Description")) || !child(bcd->h, obj, "Elements"))
		return 0;
	put32(le, type);
	return set_value(bcd->h, desc, "Type", hive_t_REG_DWORD, le, 4) < 0 ? 0 : obj;
}

static int element(struct bcd *bcd, hive_node_h obj, const char *id, hive_type type,
		   const void *data, size_t len)
{
	hive_node_h elements = hivex_node_get_child(bcd->h, obj, "Elements");
	hive_node_h el = elements ? child(bcd->h, elements, id) : 0;

	return el ? set_value(bcd->h, el, "Element", type, data, len) : -errno;
}

static int element_string(struct bcd *bcd, hive_node_h obj, const char *id, const char *s,
			  bool multi)
{
	struct strbuf sb = STRBUF_INIT;
	int ret;

	utf16(s, multi, &sb);
	ret = element(bcd, obj, id, multi ? hive_t_REG_MULTI_SZ : hive_t_REG_SZ, sb.buf, sb.len);
	strbuf_release(&sb);
	return ret;
}

static int element_flag(struct bcd *bcd, hive_node_h obj, const char *id)
{
	static const unsigned char yes = 1;

	return element(bcd, obj, id, hive_t_REG_BINARY, &yes, 1);
}

/* GUID text to its binary form, as Windows stores it. */
static void guid_bytes(const char *text, unsigned char *out)
{
	static const int order[16] = { 3, 2, 1, 0, 5, 4, 7, 6, 8, 9, 10, 11, 12, 13, 14, 15 };
	unsigned char raw[16];
	int n = 0;

	for (const char *c = text; *c && n < 16; c++) {
		if (*c == '{' || *c == '-' || *c == '}')
			continue;
		raw[n++] = (unsigned char)strtoul((char[]){ c[0], c[1], 0 }, NULL, 16);
		c++;
	}
	for (int i = 0; i < 16; i++)
		out[i] = raw[order[i]];
}

/* The "boot" device: whatever the boot manager was loaded from (with
 * wimboot, its virtual disk; over PXE, the TFTP server). */
static void boot_device(unsigned char *p)
{
	memset(p, 0, 72);
	put32(p, 5);
	put32(p + 8, 72);
}

/*
 * "ramdisk=[boot]\sources\boot.wim,{ramdiskoptions}", in the layout seen in
 * the BCD of Microsoft's install media: the options' GUID, a ramdisk
 * device, and the file on the boot device it is loaded from.
 */
static size_t ramdisk_device(unsigned char *p, size_t size)
{
	static const char path[] = "\\sources\\boot.wim";
	size_t path_len = 2 * sizeof(path), total = 16 + 40 + 12 + 72 + path_len;

	if (total > size)
		return 0;
	memset(p, 0, total);
	guid_bytes(GUID_RAMDISK_OPTIONS, p);
	put32(p + 20, 1);
	put32(p + 24, (uint32_t)(total - 16));
	put32(p + 32, 3);			/* a ramdisk */
	put32(p + 56, 1);			/* the file it holds */
	put32(p + 60, (uint32_t)(12 + 72 + path_len));
	put32(p + 64, 5);
	boot_device(p + 68);
	for (size_t i = 0; path[i]; i++)
		p[68 + 72 + 2 * i] = (unsigned char)path[i];
	return total;
}

static int fill(struct bcd *bcd, const char *description, bool uefi)
{
	unsigned char device[256], boot[16 + 72];
	hive_node_h root = hivex_root(bcd->h), desc, bootmgr, options, winpe;
	size_t len = ramdisk_device(device, sizeof(device));

	desc = child(bcd->h, root, "Description");
	if (!desc)
		return -errno;
	{
		struct strbuf name = STRBUF_INIT;
		int ret;

		utf16("BCD00000001", false, &name);
		ret = set_value(bcd->h, desc, "KeyName", hive_t_REG_SZ, name.buf, name.len);
		strbuf_release(&name);
		if (ret < 0)
			return ret;
	}
	bcd->objects = child(bcd->h, root, "Objects");
	if (!bcd->objects)
		return -errno;
	bootmgr = object(bcd, GUID_BOOTMGR, TYPE_BOOTMGR);
	options = object(bcd, GUID_RAMDISK_OPTIONS, TYPE_DEVICE);
	winpe = object(bcd, GUID_WINPE, TYPE_OSLOADER);
	if (!bootmgr || !options || !winpe)
		return -errno;
	memset(boot, 0, 16);
	boot_device(boot + 16);
	if (element_string(bcd, bootmgr, "12000004", "Windows Boot Manager", false) < 0 ||
	    element_string(bcd, bootmgr, "23000003", GUID_WINPE, false) < 0 ||
	    element_string(bcd, bootmgr, "24000001", GUID_WINPE, true) < 0 ||
	    element(bcd, bootmgr, "25000004", hive_t_REG_BINARY, "\0\0\0\0\0\0\0\0", 8) < 0 ||
	    element_string(bcd, options, "12000004", "Ramdisk Options", false) < 0 ||
	    element(bcd, options, "31000003", hive_t_REG_BINARY, boot, sizeof(boot)) < 0 ||
	    element_string(bcd, options, "32000004", "\\boot\\boot.sdi", false) < 0 ||
	    element_string(bcd, winpe, "12000004", description, false) < 0 ||
	    element(bcd, winpe, "11000001", hive_t_REG_BINARY, device, len) < 0 ||
	    element(bcd, winpe, "21000001", hive_t_REG_BINARY, device, len) < 0 ||
	    element_string(bcd, winpe, "12000002", uefi ? "\\windows\\system32\\boot\\winload.efi"
			   : "\\windows\\system32\\boot\\winload.exe", false) < 0 ||
	    element_string(bcd, winpe, "22000002", "\\windows", false) < 0 ||
	    element_flag(bcd, winpe, "26000010") < 0 ||	/* detecthal */
	    element_flag(bcd, winpe, "26000022") < 0)	/* winpe */
		return -errno;
	return 0;
}

int bcd_write(const char *path, const char *description, bool uefi, struct kvm_error *err)
{
	unsigned char hive[2 * HIVE_PAGE];
	struct strbuf tmp = STRBUF_INIT;
	struct bcd bcd = { 0 };
	int ret;

	/* hivex works on a file: a blank one beside the target, committed
	 * by hivex into the final name only when complete. */
	blank_hive(hive);
	strbuf_addf(&tmp, "%s.blank", path);
	if ((ret = files_write(tmp.buf, hive, sizeof(hive), true, 0644, err)) < 0)
		goto out;
	bcd.h = hivex_open(tmp.buf, HIVEX_OPEN_WRITE);
	if (!bcd.h) {
		ret = kvm_error_errno(err, -errno, "%s: hivex", tmp.buf);
		goto out;
	}
	if ((ret = fill(&bcd, description, uefi)) < 0) {
		kvm_error_errno(err, ret ? ret : -EIO, "%s: writing the BCD", path);
		goto out;
	}
	if (hivex_commit(bcd.h, tmp.buf, 0) < 0) {
		ret = kvm_error_errno(err, -errno, "%s: hivex", tmp.buf);
		goto out;
	}
	if (rename(tmp.buf, path) < 0)
		ret = kvm_error_errno(err, -errno, "%s", path);
out:
	if (bcd.h)
		hivex_close(bcd.h);
	unlink(tmp.buf);
	strbuf_release(&tmp);
	return ret;
}
