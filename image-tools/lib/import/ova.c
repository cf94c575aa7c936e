/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * OVA files: an uncompressed tar of the OVF, its manifest and certificate,
 * and the disks.  libarchive lists the members; each member's data is a
 * contiguous byte range of the .ova, which the disks are then opened as
 * (kvmi_open's window), so nothing is extracted.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <archive.h>
#include <archive_entry.h>

#include "driver.h"
#include "import.h"
#include "xalloc.h"

#define TAR_BLOCK 512

/* Compressed tars are refused with a clear word rather than extracted. */
static const char *compression_of(const unsigned char *head, size_t len)
{
	if (len >= 2 && head[0] == 0x1f && head[1] == 0x8b)
		return "gzip";
	if (len >= 6 && memcmp(head, "\xfd" "7zXZ\0", 6) == 0)
		return "xz";
	if (len >= 3 && memcmp(head, "BZh", 3) == 0)
		return "bzip2";
	if (len >= 4 && memcmp(head, "\x28\xb5\x2f\xfd", 4) == 0)
		return "zstd";
	return NULL;
}

static int check_name(const char *ova, const char *name, struct kvm_error *err)
{
	const char *p = name;

	if (!*name)
		return kvm_error_set(err, -EPERM, "%s: a member has an empty name", ova);
	if (name[0] == '/')
		return kvm_error_set(err, -EPERM, "%s: member %s has an absolute name", ova, name);
	while (*p) {
		size_t len = strcspn(p, "/");

		if (len == 2 && p[0] == '.' && p[1] == '.')
			return kvm_error_set(err, -EPERM, "%s: member %s leads out with '..'", ova, name);
		p += len;
		if (*p == '/')
			p++;
	}
	return 0;
}

/* The tar header block of a member must sit just before its data and
 * give its size; anything else (sparse members, odd extensions) would make
 * the byte range wrong. */
static int check_header(int fd, const char *ova, const char *name, uint64_t data_offset,
			uint64_t size, struct kvm_error *err)
{
	unsigned char block[TAR_BLOCK];
	unsigned sum = 0, stored;
	char field[13];
	unsigned long long declared;
	int r;

	if (data_offset < TAR_BLOCK || data_offset % TAR_BLOCK)
		return kvm_error_set(err, -EINVAL, "%s: member %s does not start on a tar block", ova,
				     name);
	r = io_pread_exact(fd, ova, block, sizeof(block), data_offset - TAR_BLOCK, err);
	if (r < 0)
		return r;
	for (size_t i = 0; i < sizeof(block); i++)
		sum += i >= 148 && i < 156 ? ' ' : block[i];
	memcpy(field, block + 148, 8);
	field[8] = '\0';
	stored = (unsigned)strtoul(field, NULL, 8);
	if (block[124] & 0x80) {
		/* GNU base-256 size, for members of 8 GiB and more. */
		declared = 0;
		for (int i = 1; i < 12; i++)
			declared = declared << 8 | block[124 + i];
		if (block[124] & 0x7f)
			declared = UINT64_MAX;
	} else {
		memcpy(field, block + 124, 12);
		field[12] = '\0';
		declared = strtoull(field, NULL, 8);
	}
	if (stored != sum || declared != size || (block[156] != '0' && block[156] != '\0'))
		return kvm_error_set(err, -EINVAL, "%s: member %s is not a plain file stored in one piece",
				     ova, name);
	return 0;
}

static int list_members(struct archive *a, int fd, struct ova *ova, struct kvm_error *err)
{
	struct archive_entry *entry;
	int r;

	for (;;) {
		struct ova_member *m;
		const char *name;
		uint64_t offset;

		r = archive_read_next_header(a, &entry);
		if (r == ARCHIVE_EOF)
			return 0;
		if (r != ARCHIVE_OK && r != ARCHIVE_WARN)
			return kvm_error_set(err, -EINVAL, "%s: not a tar archive (OVA): %s", ova->path,
					     archive_error_string(a) ? archive_error_string(a) : "?");
		name = archive_entry_pathname(entry);
		if (!name)
			return kvm_error_set(err, -EINVAL, "%s: a member has no name", ova->path);
		r = check_name(ova->path, name, err);
		if (r < 0)
			return r;
		if (archive_entry_filetype(entry) == AE_IFDIR)
			continue;
		if (archive_entry_filetype(entry) != AE_IFREG || archive_entry_hardlink(entry) ||
		    archive_entry_symlink(entry))
			return kvm_error_set(err, -EPERM, "%s: member %s is a link or special file",
					     ova->path, name);
		if (archive_entry_sparse_count(entry) > 0)
			return kvm_error_set(err, -ENOTSUP, "%s: member %s is a sparse tar member",
					     ova->path, name);
		if (ova->n_members == IMPORT_MAX_OVA_MEMBERS)
			return kvm_error_set(err, -E2BIG, "%s: more than %d members", ova->path,
					     IMPORT_MAX_OVA_MEMBERS);
		/* Once the header is read, the bytes libarchive has consumed
		 * end where the member's data starts. */
		offset = (uint64_t)archive_filter_bytes(a, 0);
		r = check_header(fd, ova->path, name, offset, (uint64_t)archive_entry_size(entry), err);
		if (r < 0)
			return r;
		for (size_t i = 0; i < ova->n_members; i++)
			if (strcmp(ova->members[i].name, name) == 0)
				return kvm_error_set(err, -EINVAL, "%s: member %s is there twice",
						     ova->path, name);
		ova->members = xrealloc(ova->members, (ova->n_members + 1) * sizeof(*ova->members));
		m = &ova->members[ova->n_members++];
		m->name = xstrdup(name);
		m->offset = offset;
		m->size = (uint64_t)archive_entry_size(entry);
		archive_read_data_skip(a);
	}
}

int ova_open(const char *path, struct ova *ova, struct kvm_error *err)
{
	unsigned char head[8];
	struct archive *a = NULL;
	const char *compression;
	struct stat st;
	ssize_t n;
	int fd, r;

	memset(ova, 0, sizeof(*ova));
	ova->path = xstrdup(path);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return kvm_error_errno(err, -errno, "%s", path);
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		r = kvm_error_set(err, -EINVAL, "%s: not a regular file", path);
		goto out;
	}
	n = pread(fd, head, sizeof(head), 0);
	compression = compression_of(head, n > 0 ? (size_t)n : 0);
	if (compression) {
		r = kvm_error_set(err, -ENOTSUP, "%s: the OVA is %s-compressed; its disks cannot be read "
				  "in place: decompress it first", path, compression);
		goto out;
	}
	a = archive_read_new();
	archive_read_support_format_tar(a);
	if (archive_read_open_fd(a, fd, 64 * 1024) != ARCHIVE_OK) {
		r = kvm_error_set(err, -EINVAL, "%s: %s", path, archive_error_string(a));
		goto out;
	}
	r = list_members(a, fd, ova, err);
	if (r == 0 && ova->n_members == 0)
		r = kvm_error_set(err, -EINVAL, "%s: the OVA is empty", path);
out:
	archive_read_free(a);
	close(fd);
	return r;
}

void ova_close(struct ova *ova)
{
	for (size_t i = 0; i < ova->n_members; i++)
		free(ova->members[i].name);
	free(ova->members);
	free(ova->path);
	memset(ova, 0, sizeof(*ova));
}

const struct ova_member *ova_find(const struct ova *ova, const char *name)
{
	/* OVF hrefs are relative to the OVF, which lies at the top. */
	if (strncmp(name, "./", 2) == 0)
		name += 2;
	for (size_t i = 0; i < ova->n_members; i++) {
		const char *member = ova->members[i].name;

		if (strncmp(member, "./", 2) == 0)
			member += 2;
		if (strcmp(member, name) == 0)
			return &ova->members[i];
	}
	return NULL;
}

int ova_read_member(const struct ova *ova, const struct ova_member *m, char **text,
		    struct kvm_error *err)
{
	int fd, r;

	if (m->size > IMPORT_MAX_DESCRIPTOR_BYTES)
		return kvm_error_set(err, -EFBIG, "%s: %s is larger than %u bytes", ova->path, m->name,
				     IMPORT_MAX_DESCRIPTOR_BYTES);
	fd = open(ova->path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return kvm_error_errno(err, -errno, "%s", ova->path);
	*text = malloc(m->size + 1);
	if (!*text) {
		close(fd);
		return kvm_error_set(err, -ENOMEM, "%s: out of memory for %s", ova->path, m->name);
	}
	r = io_pread_exact(fd, ova->path, *text, m->size, m->offset, err);
	close(fd);
	if (r < 0) {
		free(*text);
		*text = NULL;
		return r;
	}
	(*text)[m->size] = '\0';
	return 0;
}
