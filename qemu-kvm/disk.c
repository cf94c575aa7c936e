/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * What a disk is: its format, read by libkvmimage (so that QEMU is told
 * the format and never guesses it from untrusted bytes), and which system
 * is installed on it, read from its partition table and boot sectors.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kvm-run.h"
#include "kvmimage.h"
#include "xalloc.h"

#define SECTOR 512
/* The MBR, the GPT header and 128 entries of 128 bytes: what detection reads. */
#define DETECT_BYTES (34 * SECTOR)
#define PROBED_PARTITIONS 8
/* Enough for an NTFS boot sector and an ext superblock (at 1024). */
#define FS_PROBE_BYTES 2048

const char *guest_os_name(enum guest_os os)
{
	switch (os) {
	case GUEST_OS_LINUX:
		return "linux";
	case GUEST_OS_WINDOWS:
		return "windows";
	case GUEST_OS_UNKNOWN:
		break;
	}
	return "unknown";
}

static uint32_t le32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint64_t le64(const uint8_t *p)
{
	return (uint64_t)le32(p) | (uint64_t)le32(p + 4) << 32;
}

/* A GPT type GUID in its usual text form (the first three fields are
 * little-endian on disk). */
static void guid_text(const uint8_t *g, char out[37])
{
	snprintf(out, 37,
		 "%02X%02X%02X%02X-%02X%02X-%02X%02X-%02X%02X-%02X%02X%02X%02X%02X%02X",
		 g[3], g[2], g[1], g[0], g[5], g[4], g[7], g[6], g[8], g[9], g[10], g[11],
		 g[12], g[13], g[14], g[15]);
}

struct votes {
	int linux;
	int windows;
	bool esp;
	bool bios_boot;
};

static void vote_gpt_type(const char *guid, struct votes *v)
{
	static const char *const windows[] = {
		"E3C9E316-0B5C-4DB8-817D-F92DF00215AE",	/* Microsoft reserved */
		"EBD0A0A2-B9E5-4433-87C0-68B6B72699C7",	/* Microsoft basic data */
		"DE94BBA4-06D1-4D40-A16A-BFD50179D6AC",	/* Windows recovery */
		"5808C8AA-7E8F-42E0-85D2-E1E90434CFB3",	/* LDM metadata */
		"AF9B60A0-1431-4F62-BC68-3311714A69AD",	/* LDM data */
		NULL,
	};
	static const char *const linux[] = {
		"0FC63DAF-8483-4772-8E79-3D69D8477DE4",	/* Linux filesystem */
		"0657FD6D-A4AB-43C4-84E5-0933C84B4F4F",	/* Linux swap */
		"E6D6D379-F507-44C2-A23C-238F2A3DF928",	/* Linux LVM */
		"A19D880F-05FC-4D3B-A006-743F0F84911E",	/* Linux RAID */
		"4F68BCE3-E8CD-4DB1-96E7-FBCAF984B709",	/* Linux root (x86-64) */
		"933AC7E1-2EB4-4F13-B844-0E14E2AEF915",	/* Linux /home */
		"BC13C2FF-59E6-4262-A352-B275FD6F7172",	/* Linux extended boot */
		"CA7D7CCB-63ED-4C53-861C-1742536059CC",	/* LUKS */
		NULL,
	};

	for (const char *const *t = windows; *t; t++)
		if (strcmp(guid, *t) == 0)
			v->windows += 2;
	for (const char *const *t = linux; *t; t++)
		if (strcmp(guid, *t) == 0)
			v->linux += 2;
	if (strcmp(guid, "C12A7328-F81F-11D2-BA4B-00A0C93EC93B") == 0)
		v->esp = true;
	if (strcmp(guid, "21686148-6449-6E6F-744E-656564454649") == 0)
		v->bios_boot = true;
}

static void vote_mbr_type(uint8_t type, struct votes *v)
{
	switch (type) {
	case 0x07:	/* NTFS (or exFAT) */
	case 0x27:	/* Windows recovery */
	case 0x42:	/* Windows dynamic disk */
		v->windows += 2;
		break;
	case 0x82:	/* Linux swap */
	case 0x83:	/* Linux */
	case 0x8e:	/* Linux LVM */
	case 0xfd:	/* Linux RAID */
		v->linux += 2;
		break;
	}
}

/* A boot sector or superblock at the start of DATA (2 KiB), if it is one. */
static void vote_filesystem(const uint8_t *data, struct votes *v)
{
	if (memcmp(data + 3, "NTFS    ", 8) == 0)
		v->windows += 3;
	if (data[1024 + 56] == 0x53 && data[1024 + 57] == 0xef)	/* ext2/3/4 */
		v->linux += 3;
	if (memcmp(data, "XFSB", 4) == 0)
		v->linux += 3;
}

static bool has_string(const uint8_t *data, size_t len, const char *needle)
{
	return memmem(data, len, needle, strlen(needle)) != NULL;
}

/* Reads the file system start of the partition at byte OFFSET and votes. */
static int vote_partition(disk_read_fn read, void *opaque, uint64_t size, uint64_t offset,
			  struct votes *v, struct kvm_error *err)
{
	uint8_t start[FS_PROBE_BYTES] = { 0 };
	size_t len = sizeof(start);
	int ret;

	if (offset >= size)
		return 0;
	if (size - offset < len)
		len = (size_t)(size - offset);
	ret = read(opaque, start, len, offset, err);
	if (ret < 0)
		return ret;
	vote_filesystem(start, v);
	return 0;
}

int disk_detect_os(disk_read_fn read, void *opaque, uint64_t size, struct disk_facts *facts,
		   struct kvm_error *err)
{
	uint8_t head[DETECT_BYTES] = { 0 };
	struct votes v = { 0 };
	size_t probed = 0;
	int ret;

	facts->os = GUEST_OS_UNKNOWN;
	facts->gpt = false;
	facts->needs_uefi = false;
	if (size < SECTOR)
		return 0;
	ret = read(opaque, head, size < DETECT_BYTES ? (size_t)size : DETECT_BYTES, 0, err);
	if (ret < 0)
		return ret;

	/* A whole-disk file system, as some images are. */
	vote_filesystem(head, &v);

	if (head[510] == 0x55 && head[511] == 0xaa) {
		for (int i = 0; i < 4; i++) {
			const uint8_t *entry = head + 446 + 16 * i;

			if (entry[4] == 0xee) {
				facts->gpt = true;
				continue;
			}
			vote_mbr_type(entry[4], &v);
			if (entry[4] && probed++ < PROBED_PARTITIONS) {
				ret = vote_partition(read, opaque, size,
						     (uint64_t)le32(entry + 8) * SECTOR, &v, err);
				if (ret < 0)
					return ret;
			}
		}
		/* The boot code: GRUB's says its name; Windows' its error messages. */
		if (has_string(head, 440, "GRUB"))
			v.linux += 1;
		if (has_string(head, 440, "Invalid partition table") ||
		    has_string(head, 440, "Missing operating system"))
			v.windows += 1;
	}

	if (facts->gpt && memcmp(head + SECTOR, "EFI PART", 8) == 0) {
		const uint8_t *hdr = head + SECTOR;
		uint64_t table = le64(hdr + 72) * SECTOR;
		uint32_t count = le32(hdr + 80), entry_size = le32(hdr + 84);

		/* Only the entries within the sectors read: Windows and Linux
		 * installers put theirs in the first 128, at LBA 2. */
		for (uint32_t i = 0; entry_size >= 128 && entry_size <= 4096 && i < count &&
		     table < DETECT_BYTES && (uint64_t)(i + 1) * entry_size <= DETECT_BYTES - table;
		     i++) {
			const uint8_t *entry = head + table + (uint64_t)i * entry_size;
			char guid[37];

			guid_text(entry, guid);
			vote_gpt_type(guid, &v);
			if (strcmp(guid, "00000000-0000-0000-0000-000000000000") &&
			    probed++ < PROBED_PARTITIONS) {
				ret = vote_partition(read, opaque, size, le64(entry + 32) * SECTOR,
						     &v, err);
				if (ret < 0)
					return ret;
			}
		}
	}

	if (v.windows > v.linux)
		facts->os = GUEST_OS_WINDOWS;
	else if (v.linux > v.windows)
		facts->os = GUEST_OS_LINUX;
	/* Without a BIOS boot partition GRUB cannot boot GPT from a BIOS. */
	facts->needs_uefi = facts->gpt && v.esp && !v.bios_boot;
	return 0;
}

static int read_image(void *opaque, void *buf, size_t len, uint64_t offset,
		      struct kvm_error *err)
{
	return kvmi_read(opaque, buf, len, offset, err);
}

int disk_inspect(const char *path, struct disk_facts *facts, struct kvm_error *err)
{
	struct kvmi_image *img = NULL;
	int ret;

	memset(facts, 0, sizeof(*facts));
	ret = kvmi_open(path, NULL, &img, err);
	if (ret < 0)
		return ret;
	facts->format = xstrdup(kvmi_format(img));
	ret = disk_detect_os(read_image, img, kvmi_virtual_size(img), facts, err);
	kvmi_close(img);
	if (ret < 0)
		disk_facts_release(facts);
	return ret;
}

void disk_facts_release(struct disk_facts *facts)
{
	if (!facts)
		return;
	free(facts->format);
	facts->format = NULL;
}
