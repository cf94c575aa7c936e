/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * kvmi_import: reads the guest from an OVA, OVF or VMX, checks what it can
 * (manifest, names, sizes) before writing anything, converts the disks
 * into the guest folder, and writes the libvirt XML, the kvm-run profile
 * and the report there.  Files written are removed again on failure.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "driver.h"
#include "import.h"
#include "json-out.h"
#include "outfile.h"
#include "path.h"
#include "xalloc.h"

void import_vm_init(struct import_vm *vm)
{
	memset(vm, 0, sizeof(*vm));
	vm->dropped = json_object_new_array();
	vm->notes = json_object_new_array();
}

void import_vm_free(struct import_vm *vm)
{
	for (size_t i = 0; i < vm->n_disks; i++) {
		free(vm->disks[i].file);
		free(vm->disks[i].path);
		free(vm->disks[i].bus);
		free(vm->disks[i].controller);
		for (size_t j = 0; j < vm->disks[i].n_backing; j++)
			free(vm->disks[i].backing_paths[j]);
		free(vm->disks[i].backing_paths);
	}
	free(vm->disks);
	for (size_t i = 0; i < vm->n_nics; i++) {
		free(vm->nics[i].model);
		free(vm->nics[i].network);
		free(vm->nics[i].mac);
	}
	free(vm->nics);
	free(vm->name);
	free(vm->os_id);
	free(vm->os_description);
	json_object_put(vm->dropped);
	json_object_put(vm->notes);
	memset(vm, 0, sizeof(*vm));
}

struct import_disk *import_vm_add_disk(struct import_vm *vm)
{
	struct import_disk *d;

	vm->disks = xrealloc(vm->disks, (vm->n_disks + 1) * sizeof(*vm->disks));
	d = &vm->disks[vm->n_disks++];
	memset(d, 0, sizeof(*d));
	return d;
}

struct import_nic *import_vm_add_nic(struct import_vm *vm)
{
	struct import_nic *n;

	vm->nics = xrealloc(vm->nics, (vm->n_nics + 1) * sizeof(*vm->nics));
	n = &vm->nics[vm->n_nics++];
	memset(n, 0, sizeof(*n));
	return n;
}

static void add_line(struct json_object *array, const char *fmt, va_list ap)
{
	struct strbuf line = STRBUF_INIT;

	strbuf_vaddf(&line, fmt, ap);
	json_object_array_add(array, json_object_new_string(line.buf));
	strbuf_release(&line);
}

void import_vm_drop(struct import_vm *vm, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	add_line(vm->dropped, fmt, ap);
	va_end(ap);
}

void import_vm_note(struct import_vm *vm, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	add_line(vm->notes, fmt, ap);
	va_end(ap);
}

static bool contains_any(const char *s, const char *const *words)
{
	for (; *words; words++)
		if (strcasestr(s, *words))
			return true;
	return false;
}

enum import_os import_vm_os(const struct import_vm *vm)
{
	static const char *const windows_11[] = { "windows11", "windows 11", "windows2022",
						  "server 2022", "windows2025", "server 2025",
						  "windows12", NULL };
	static const char *const windows[] = { "win", NULL };
	static const char *const linux_words[] = {
		"linux", "debian", "ubuntu", "rhel", "centos", "fedora", "suse", "sles", "oracle",
		"rocky", "alma", "photon", "coreos", "mandr", "asianux", "turbo", "amazon", NULL
	};
	const char *texts[] = { vm->os_id, vm->os_description };

	for (size_t i = 0; i < 2; i++) {
		if (!texts[i])
			continue;
		if (contains_any(texts[i], windows_11))
			return IMPORT_OS_WINDOWS_11;
		if (contains_any(texts[i], windows) && !strcasestr(texts[i], "darwin"))
			return IMPORT_OS_WINDOWS;
		if (contains_any(texts[i], linux_words))
			return IMPORT_OS_LINUX;
	}
	return IMPORT_OS_OTHER;
}

static int bus_rank(const char *bus)
{
	return strcmp(bus, "scsi") == 0 ? 0 : strcmp(bus, "nvme") == 0 ? 1 :
	       strcmp(bus, "sata") == 0 ? 2 : 3;
}

static int disk_order(const void *a, const void *b)
{
	const struct import_disk *x = a, *y = b;

	if (bus_rank(x->bus) != bus_rank(y->bus))
		return bus_rank(x->bus) - bus_rank(y->bus);
	if (x->controller_index != y->controller_index)
		return x->controller_index - y->controller_index;
	return x->unit - y->unit;
}

void import_vm_sort_disks(struct import_vm *vm)
{
	qsort(vm->disks, vm->n_disks, sizeof(*vm->disks), disk_order);
}

static int read_fd_text(int fd, const char *name, char **text, size_t *len,
			struct kvm_error *err)
{
	struct stat st;
	int r;

	if (fstat(fd, &st) < 0)
		return kvm_error_errno(err, -errno, "%s", name);
	if (!S_ISREG(st.st_mode))
		return kvm_error_set(err, -EINVAL, "%s: not a regular file", name);
	if ((uint64_t)st.st_size > IMPORT_MAX_DESCRIPTOR_BYTES)
		return kvm_error_set(err, -EFBIG, "%s: larger than %u bytes", name,
				     IMPORT_MAX_DESCRIPTOR_BYTES);
	*text = malloc((size_t)st.st_size + 1);
	if (!*text)
		return kvm_error_set(err, -ENOMEM, "%s: out of memory", name);
	r = io_pread_exact(fd, name, *text, (size_t)st.st_size, 0, err);
	if (r < 0) {
		free(*text);
		*text = NULL;
		return r;
	}
	(*text)[st.st_size] = '\0';
	*len = (size_t)st.st_size;
	return 0;
}

/* What is being imported, and where its files are. */
struct source {
	const char *path;
	enum { SOURCE_OVA, SOURCE_OVF, SOURCE_VMX } type;
	char *dir;		/* the folder of an OVF or VMX */
	struct ova ova;
	char *descriptor;	/* the OVF or VMX */
	size_t descriptor_len;
	char *descriptor_name;
	struct json_object *report;
	unsigned flags;
};

static bool has_suffix(const char *s, const char *suffix)
{
	size_t len = strlen(s), slen = strlen(suffix);

	return len > slen && strcasecmp(s + len - slen, suffix) == 0;
}

static int source_type(const char *path, int *type, struct kvm_error *err)
{
	unsigned char head[512];
	ssize_t n;
	int fd;

	if (has_suffix(path, ".ova")) {
		*type = SOURCE_OVA;
		return 0;
	}
	if (has_suffix(path, ".ovf")) {
		*type = SOURCE_OVF;
		return 0;
	}
	if (has_suffix(path, ".vmx")) {
		*type = SOURCE_VMX;
		return 0;
	}
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return kvm_error_errno(err, -errno, "%s", path);
	n = pread(fd, head, sizeof(head), 0);
	close(fd);
	if (n == (ssize_t)sizeof(head) && memcmp(head + 257, "ustar", 5) == 0)
		*type = SOURCE_OVA;
	else if (n > 0 && (head[0] == '<' || (n > 3 && memcmp(head, "\xef\xbb\xbf<", 4) == 0)))
		*type = SOURCE_OVF;
	else if (n > 0)
		*type = SOURCE_VMX;
	else
		return kvm_error_set(err, -EINVAL, "%s: neither an OVA, an OVF nor a VMX file", path);
	return 0;
}

/* Finds the file NAME that an OVF or VMX in DIR names, inside DIR. */
static int resolve_beside(const struct source *src, const char *name, char **path,
			  struct kvm_error *err)
{
	struct strbuf resolved = STRBUF_INIT;
	int r;

	if (src->flags & KVMI_OPEN_ALLOW_EXTERNAL && !path_has_protocol(name)) {
		if (name[0] != '/')
			strbuf_addf(&resolved, "%s/", src->dir);
		strbuf_addstr(&resolved, name);
		if (access(resolved.buf, R_OK) < 0) {
			r = kvm_error_errno(err, -errno, "%s: names %s", src->descriptor_name,
					    resolved.buf);
			strbuf_release(&resolved);
			return r;
		}
		*path = strbuf_detach(&resolved);
		return 0;
	}
	r = path_resolve_beneath(src->dir, name, &resolved, err);
	if (r < 0) {
		strbuf_release(&resolved);
		return kvm_error_prefix(err, "%s", src->descriptor_name);
	}
	*path = strbuf_detach(&resolved);
	return 0;
}

static int read_descriptor_file(struct source *src, struct kvm_error *err)
{
	struct strbuf dir = STRBUF_INIT;
	int fd = open(src->path, O_RDONLY | O_CLOEXEC);
	int r;

	if (fd < 0)
		return kvm_error_errno(err, -errno, "%s", src->path);
	r = read_fd_text(fd, src->path, &src->descriptor, &src->descriptor_len, err);
	close(fd);
	path_dirname(src->path, &dir);
	src->dir = strbuf_detach(&dir);
	src->descriptor_name = xstrdup(src->path);
	return r;
}

/* The OVA's OVF: its first member by the specification; any .ovf will do. */
static int read_ova_descriptor(struct source *src, struct kvm_error *err)
{
	const struct ova_member *ovf = NULL;
	struct strbuf name = STRBUF_INIT;
	int r;

	r = ova_open(src->path, &src->ova, err);
	if (r < 0)
		return r;
	for (size_t i = 0; i < src->ova.n_members; i++) {
		if (has_suffix(src->ova.members[i].name, ".ovf")) {
			if (ovf)
				return kvm_error_set(err, -EINVAL, "%s: holds more than one OVF descriptor",
						     src->path);
			ovf = &src->ova.members[i];
		}
	}
	if (!ovf)
		return kvm_error_set(err, -EINVAL, "%s: holds no OVF descriptor (.ovf)", src->path);
	strbuf_addf(&name, "%s/%s", src->path, ovf->name);
	src->descriptor_name = strbuf_detach(&name);
	src->descriptor_len = ovf->size;
	return ova_read_member(&src->ova, ovf, &src->descriptor, err);
}

/* Each file an OVF folder's manifest lists, found beside the OVF (vSphere
 * lists the .nvram of EFI guests too, not only the disks). */
static int open_manifest_files(const struct source *src, const char *mf,
			       struct manifest_file **files, size_t *n_files, struct kvm_error *err)
{
	for (const char *line = mf; *line; line += strcspn(line, "\n") + (line[strcspn(line, "\n")] != 0)) {
		const char *open_paren = memchr(line, '(', strcspn(line, "\n"));
		const char *close_paren = memchr(line, ')', strcspn(line, "\n"));
		struct manifest_file *f;
		char *name, *path = NULL;
		struct stat st;
		int fd, r;

		if (!open_paren || !close_paren || close_paren < open_paren)
			continue;
		if (*n_files == IMPORT_MAX_OVA_MEMBERS)
			return kvm_error_set(err, -E2BIG, "%s: the manifest lists more than %d files",
					     src->path, IMPORT_MAX_OVA_MEMBERS);
		name = xstrndup(open_paren + 1, (size_t)(close_paren - open_paren - 1));
		r = resolve_beside(src, name, &path, NULL);
		fd = r < 0 ? -1 : open(path, O_RDONLY | O_CLOEXEC);
		if (fd < 0 || fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
			/* manifest_verify names what is missing. */
			if (fd >= 0)
				close(fd);
			free(path);
			free(name);
			continue;
		}
		free(path);
		*files = xrealloc(*files, (*n_files + 1) * sizeof(**files));
		f = &(*files)[(*n_files)++];
		f->name = name;
		f->fd = fd;
		f->offset = 0;
		f->size = (uint64_t)st.st_size;
	}
	return 0;
}

/* The manifest and certificate beside the OVF, or in the OVA. */
static int check_manifest(struct source *src, const struct import_vm *vm, struct kvm_error *err)
{
	const char *desc_base = path_basename(src->descriptor_name);
	struct strbuf mf_name = STRBUF_INIT, cert_name = STRBUF_INIT, summary = STRBUF_INIT;
	struct manifest_file *files = NULL;
	char *mf = NULL, *cert = NULL;
	size_t n_files = 0, mf_len = 0, cert_len = 0;
	int ova_fd = -1, r = 0;

	strbuf_add(&mf_name, desc_base, strlen(desc_base) - 4);
	strbuf_addstr(&cert_name, mf_name.buf);
	strbuf_addstr(&mf_name, ".mf");
	strbuf_addstr(&cert_name, ".cert");

	if (src->type == SOURCE_OVA) {
		const struct ova_member *m = ova_find(&src->ova, mf_name.buf);
		const struct ova_member *c = ova_find(&src->ova, cert_name.buf);

		if (m) {
			r = ova_read_member(&src->ova, m, &mf, err);
			if (r < 0)
				goto out;
			mf_len = m->size;
		}
		if (c && ova_read_member(&src->ova, c, &cert, NULL) == 0)
			cert_len = c->size;
		ova_fd = open(src->path, O_RDONLY | O_CLOEXEC);
		if (ova_fd < 0) {
			r = kvm_error_errno(err, -errno, "%s", src->path);
			goto out;
		}
		files = xcalloc(src->ova.n_members, sizeof(*files));
		for (size_t i = 0; i < src->ova.n_members; i++) {
			const struct ova_member *member = &src->ova.members[i];

			files[n_files].name = member->name;
			files[n_files].fd = ova_fd;
			files[n_files].offset = member->offset;
			files[n_files].size = member->size;
			n_files++;
		}
	} else {
		char *path = NULL;
		int fd;

		if (resolve_beside(src, mf_name.buf, &path, NULL) == 0) {
			fd = open(path, O_RDONLY | O_CLOEXEC);
			r = fd < 0 ? kvm_error_errno(err, -errno, "%s", path) :
				     read_fd_text(fd, path, &mf, &mf_len, err);
			if (fd >= 0)
				close(fd);
			free(path);
			if (r < 0)
				goto out;
		}
		if (resolve_beside(src, cert_name.buf, &path, NULL) == 0) {
			fd = open(path, O_RDONLY | O_CLOEXEC);
			if (fd >= 0 && read_fd_text(fd, path, &cert, &cert_len, NULL) < 0)
				cert = NULL;
			if (fd >= 0)
				close(fd);
			free(path);
		}
		if (mf) {
			r = open_manifest_files(src, mf, &files, &n_files, err);
			if (r < 0)
				goto out;
		}
	}
	if (mf) {
		r = manifest_verify(mf, mf_name.buf, files, n_files, &summary, err);
		if (r < 0) {
			kvm_error_prefix(err, "%s", src->path);
			goto out;
		}
		json_out_add_string(src->report, "manifest", summary.buf);
	} else {
		json_out_add_string(src->report, "manifest", "none: the files were not verified");
	}
	if (cert) {
		strbuf_reset(&summary);
		if (mf)
			manifest_describe_cert(cert, cert_len, mf, mf_len, &summary);
		else
			strbuf_addstr(&summary, "present, but there is no manifest it could sign");
		json_out_add_string(src->report, "certificate", summary.buf);
	}
out:
	if (src->type != SOURCE_OVA) {
		for (size_t i = 0; i < n_files; i++) {
			close(files[i].fd);
			free((char *)files[i].name);
		}
	}
	if (ova_fd >= 0)
		close(ova_fd);
	free(files);
	free(mf);
	free(cert);
	strbuf_release(&mf_name);
	strbuf_release(&cert_name);
	strbuf_release(&summary);
	return r;
}

/* Where each disk's bytes are: a member of the OVA, or a file beside. */
static int locate_disks(struct source *src, struct import_vm *vm, struct kvm_error *err)
{
	for (size_t i = 0; i < vm->n_disks; i++) {
		struct import_disk *d = &vm->disks[i];
		int r;

		if (src->type == SOURCE_OVA) {
			const struct ova_member *m = ova_find(&src->ova, d->file);

			if (!m)
				return kvm_error_set(err, -ENOENT, "%s: the OVF lists disk %s, which the OVA does not hold",
						     src->path, d->file);
			d->path = xstrdup(src->path);
			d->window_offset = m->offset;
			d->window_length = m->size;
			continue;
		}
		r = resolve_beside(src, d->file, &d->path, err);
		if (r < 0)
			return r;
	}
	return 0;
}

static int read_source(struct source *src, struct import_vm *vm, struct kvm_error *err)
{
	int type = SOURCE_VMX, r;

	r = source_type(src->path, &type, err);
	if (r < 0)
		return r;
	src->type = type;
	r = src->type == SOURCE_OVA ? read_ova_descriptor(src, err) : read_descriptor_file(src, err);
	if (r < 0)
		return r;
	if (src->type == SOURCE_VMX)
		r = vmx_parse(src->descriptor, src->descriptor_name, vm, err);
	else
		r = ovf_parse(src->descriptor, src->descriptor_len, src->descriptor_name, vm, err);
	if (r < 0)
		return r;
	r = locate_disks(src, vm, err);
	if (r < 0)
		return r;
	if (src->type != SOURCE_VMX)
		r = check_manifest(src, vm, err);
	import_vm_sort_disks(vm);
	return r;
}

static void choose_target(const struct import_vm *vm, const struct kvmi_import_options *opts,
			  struct import_target *t)
{
	enum import_os os = import_vm_os(vm);

	t->firmware = vm->secure_boot ? "uefi-secure-boot" : vm->efi ? "uefi" : "bios";
	t->tpm = false;
	switch (os) {
	case IMPORT_OS_WINDOWS_11:
	case IMPORT_OS_WINDOWS:
		t->profile = os == IMPORT_OS_WINDOWS_11 && vm->efi ? "windows-11" : "windows";
		t->tpm = strcmp(t->profile, "windows-11") == 0;
		if (t->tpm)
			t->firmware = "uefi-secure-boot";
		/* Windows boots from virtio only once its drivers are in. */
		t->disk_bus = "ahci";
		t->nic = "e1000e";
		break;
	case IMPORT_OS_LINUX:
		t->profile = "linux";
		/* AHCI keeps the /dev/sdX names an unfixed guest may mount by. */
		t->disk_bus = opts->fix_guest ? "virtio" : "ahci";
		t->nic = "virtio-net-pci";
		break;
	default:
		t->profile = "linux";
		t->disk_bus = "ahci";
		t->nic = "e1000e";
	}
}

/* The stem of the guest's files: the source's name without its suffix,
 * with anything but letters, digits and -_.+ made '_'. */
static void file_stem(const char *source, struct strbuf *stem)
{
	const char *base = path_basename(source);
	const char *dot = strrchr(base, '.');
	size_t len = dot && dot != base ? (size_t)(dot - base) : strlen(base);

	for (size_t i = 0; i < len; i++) {
		char c = base[i];

		strbuf_addch(stem, (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
				   (c >= '0' && c <= '9') || c == '-' || c == '_' || c == '+' ||
				   (c == '.' && i > 0) ? c : '_');
	}
	if (!stem->len)
		strbuf_addstr(stem, "guest");
}

/* What the import wrote so far, to remove on failure. */
struct written {
	char **paths;
	size_t n;
	char *created_dir;
};

static void written_add(struct written *w, const char *path)
{
	w->paths = xrealloc(w->paths, (w->n + 1) * sizeof(*w->paths));
	w->paths[w->n++] = xstrdup(path);
}

static void written_release(struct written *w, bool remove)
{
	for (size_t i = 0; i < w->n; i++) {
		if (remove)
			unlink(w->paths[i]);
		free(w->paths[i]);
	}
	if (remove && w->created_dir)
		rmdir(w->created_dir);
	free(w->paths);
	free(w->created_dir);
}

static int write_text_file(const char *path, const char *text, bool replace, struct written *w,
			   struct kvm_error *err)
{
	struct outfile of;
	int r;

	r = outfile_open(&of, path, replace, 0644, err);
	if (r < 0)
		return r;
	r = io_pwrite_all(of.fd, path, text, strlen(text), 0, err);
	if (r == 0)
		r = outfile_commit(&of, err);
	if (r < 0) {
		outfile_abort(&of);
		return r;
	}
	written_add(w, path);
	return 0;
}

static void step(const struct kvmi_import_options *opts, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void step(const struct kvmi_import_options *opts, const char *fmt, ...)
{
	struct strbuf line = STRBUF_INIT;
	va_list ap;

	if (!opts->step)
		return;
	va_start(ap, fmt);
	strbuf_vaddf(&line, fmt, ap);
	va_end(ap);
	opts->step(opts->step_opaque, line.buf);
	strbuf_release(&line);
}

static const char *nic_description(const char *model)
{
	if (!model)
		return "unknown network card";
	if (strcasecmp(model, "vmxnet3") == 0 || strcasecmp(model, "vmxnet2") == 0 ||
	    strcasecmp(model, "vmxnet") == 0)
		return "VMware paravirtual network card";
	return "emulated network card";
}

/*
 * --keep-chain: the layers of IMG's chain under its top, base first, each
 * to its own qcow2 beside OUT_PATH (NAME-base.qcow2, NAME-snapshot1.qcow2,
 * ...) over the one converted before; the top is then converted over the
 * last of them.  CONV gets the top's backing name.
 */
static int convert_layers(struct kvmi_image *img, int layers, struct import_disk *d,
			  const char *out_path, const struct kvmi_import_options *opts,
			  struct kvmi_convert_options *conv, struct json_object *disk_report,
			  struct written *written, struct kvm_error *err)
{
	struct json_object *chain = json_object_new_array();
	/* A kept chain is always qcow2 (kvmi_import checks), named NAME.qcow2. */
	size_t stem_len = strlen(out_path) - strlen(".qcow2");
	int r = 0;

	json_object_object_add(disk_report, "backing-chain", chain);
	d->backing_paths = xcalloc((size_t)layers, sizeof(*d->backing_paths));
	d->n_backing = (size_t)layers;
	/* Layer DEPTH of the chain is snapshot LAYERS - DEPTH; the base is
	 * snapshot 0. */
	for (int depth = layers; depth >= 1; depth--) {
		struct kvmi_image *layer = img;
		struct strbuf path = STRBUF_INIT;

		for (int k = 0; k < depth; k++)
			layer = kvmi_backing(layer);
		strbuf_add(&path, out_path, stem_len);
		if (depth == layers)
			strbuf_addstr(&path, "-base.qcow2");
		else
			strbuf_addf(&path, "-snapshot%d.qcow2", layers - depth);
		step(opts, "converting snapshot layer %s to %s", path_basename(kvmi_path(layer)),
		     path.buf);
		r = kvmi_convert(layer, path.buf, conv, err);
		if (r < 0) {
			strbuf_release(&path);
			return r;
		}
		written_add(written, path.buf);
		d->backing_paths[depth - 1] = strbuf_detach(&path);
		conv->backing = path_basename(d->backing_paths[depth - 1]);
	}
	for (size_t k = 0; k < d->n_backing; k++)
		json_object_array_add(chain, json_object_new_string(d->backing_paths[k]));
	return r;
}

static int convert_disk(struct import_vm *vm, size_t i, const char *out_path,
			const struct kvmi_import_options *opts, const char *format,
			struct json_object *disk_report, struct written *written,
			struct kvm_error *err)
{
	struct import_disk *d = &vm->disks[i];
	struct strbuf name = STRBUF_INIT;
	struct kvmi_open_options open_opts = {
		.flags = opts->flags,
		.window_offset = d->window_offset,
		.window_length = d->window_length,
	};
	struct kvmi_convert_options conv = {
		.out.format = format,
		.out.replace = opts->replace,
		.threads = opts->threads,
		.progress = opts->progress,
		.progress_opaque = opts->progress_opaque,
	};
	struct kvmi_image *img = NULL;
	int layers = 0, r;

	if (d->window_length || d->window_offset) {
		strbuf_addf(&name, "%s/%s", d->path, d->file);
		open_opts.name = name.buf;
	}
	r = kvmi_open(d->path, &open_opts, &img, err);
	if (r < 0)
		goto out;
	if (kvmi_virtual_size(img) > IMPORT_MAX_DISK_BYTES) {
		r = kvm_error_set(err, -EFBIG, "%s: a disk of %" PRIu64 " bytes is larger than VMware's "
				  "largest (62 TiB)", kvmi_path(img), kvmi_virtual_size(img));
		goto out;
	}
	if (d->capacity && d->capacity != kvmi_virtual_size(img))
		import_vm_note(vm, "%s: the OVF says %" PRIu64 " bytes, the disk holds %"
			       PRIu64 "; the disk's size is kept", d->file, d->capacity,
			       kvmi_virtual_size(img));
	for (struct kvmi_image *l = kvmi_backing(img); l; l = kvmi_backing(l))
		layers++;
	json_out_add_string(disk_report, "source-format", kvmi_format(img));
	json_out_add_uint(disk_report, "virtual-size", kvmi_virtual_size(img));
	json_out_add_int(disk_report, "snapshots-flattened", opts->keep_chain ? 0 : layers);
	json_out_add_int(disk_report, "snapshots-kept", opts->keep_chain ? layers : 0);
	if (opts->keep_chain && layers) {
		r = convert_layers(img, layers, d, out_path, opts, &conv, disk_report, written, err);
		if (r < 0)
			goto out;
	}
	r = kvmi_convert(img, out_path, &conv, err);
out:
	kvmi_close(img);
	strbuf_release(&name);
	return r;
}

static void describe_disk(const struct import_disk *d, const struct import_target *t, size_t i,
			  struct json_object *disk)
{
	struct strbuf from = STRBUF_INIT, to = STRBUF_INIT;
	bool virtio = strcmp(t->disk_bus, "virtio") == 0;

	strbuf_addf(&from, "%s%d:%d", d->bus, d->controller_index, d->unit);
	if (d->controller)
		strbuf_addf(&from, " on %s", d->controller);
	strbuf_addf(&to, "%s, %s%c", virtio ? "virtio-blk" : "SATA (AHCI)", virtio ? "vd" : "sd",
		    (char)('a' + i));
	json_out_add_string(disk, "source", d->file);
	json_out_add_string(disk, "from", from.buf);
	json_out_add_string(disk, "to", to.buf);
	strbuf_release(&from);
	strbuf_release(&to);
}

static void describe_nics(const struct import_vm *vm, const struct import_target *t,
			  struct json_object *report)
{
	struct json_object *nics = json_object_new_array();

	for (size_t i = 0; i < vm->n_nics; i++) {
		struct json_object *nic = json_object_new_object();
		struct strbuf from = STRBUF_INIT;

		strbuf_addf(&from, "%s (%s)", vm->nics[i].model ? vm->nics[i].model : "?",
			    nic_description(vm->nics[i].model));
		if (vm->nics[i].network)
			strbuf_addf(&from, " on %s", vm->nics[i].network);
		json_out_add_string(nic, "from", from.buf);
		json_out_add_string(nic, "to", strcmp(t->nic, "virtio-net-pci") == 0 ?
				    "virtio-net on libvirt network 'default' (kvm-run: user network)" :
				    "e1000e on libvirt network 'default' (kvm-run: user network)");
		json_out_add_string(nic, "mac", vm->nics[i].mac);
		json_object_array_add(nics, nic);
		strbuf_release(&from);
	}
	json_object_object_add(report, "nics", nics);
}

static int make_output_dir(const char *dir, struct written *w, struct kvm_error *err)
{
	struct stat st;

	if (mkdir(dir, 0755) == 0) {
		w->created_dir = xstrdup(dir);
		return 0;
	}
	if (errno != EEXIST)
		return kvm_error_errno(err, -errno, "%s: cannot create the guest folder", dir);
	if (stat(dir, &st) < 0 || !S_ISDIR(st.st_mode))
		return kvm_error_set(err, -ENOTDIR, "%s: exists and is not a folder", dir);
	return 0;
}

struct import_run {
	const struct kvmi_import_options *opts;
	struct source src;
	struct import_vm vm;
	struct import_target target;
	struct strbuf dir;
	struct strbuf stem;
	char **disk_paths;
	struct written written;
	struct json_object *report;
};

static void add_run_command(struct import_run *run)
{
	struct strbuf cmd = STRBUF_INIT;

	strbuf_addf(&cmd, "kvm-run --name %s --profile %s/%s.profile", run->stem.buf, run->dir.buf,
		    run->stem.buf);
	for (size_t i = 0; i < run->vm.n_disks; i++)
		strbuf_addf(&cmd, " --disk %s", run->disk_paths[i]);
	json_out_add_string(run->report, "command", cmd.buf);
	strbuf_reset(&cmd);
	strbuf_addf(&cmd, "virsh define %s/%s.xml", run->dir.buf, run->stem.buf);
	json_out_add_string(run->report, "libvirt", cmd.buf);
	strbuf_release(&cmd);
}

static int write_guest_files(struct import_run *run, struct kvm_error *err)
{
	struct strbuf path = STRBUF_INIT, text = STRBUF_INIT;
	char *report_text;
	int r;

	r = domain_xml_write(&run->vm, &run->target, run->disk_paths, run->opts->format ?
			     run->opts->format : "qcow2", &text, err);
	if (r < 0)
		goto out;
	strbuf_addf(&path, "%s/%s.xml", run->dir.buf, run->stem.buf);
	r = write_text_file(path.buf, text.buf, run->opts->replace, &run->written, err);
	if (r < 0)
		goto out;
	json_out_add_string(run->report, "domain-xml", path.buf);

	strbuf_reset(&text);
	strbuf_reset(&path);
	profile_write(&run->vm, &run->target, run->src.path, &text);
	strbuf_addf(&path, "%s/%s.profile", run->dir.buf, run->stem.buf);
	r = write_text_file(path.buf, text.buf, run->opts->replace, &run->written, err);
	if (r < 0)
		goto out;
	json_out_add_string(run->report, "profile-file", path.buf);
	add_run_command(run);

	strbuf_reset(&path);
	strbuf_addf(&path, "%s/report.txt", run->dir.buf);
	json_out_add_string(run->report, "report", path.buf);
	report_text = kvmi_import_report_text(run->report);
	r = write_text_file(path.buf, report_text, run->opts->replace, &run->written, err);
	free(report_text);
	if (r < 0)
		goto out;
	strbuf_reset(&path);
	strbuf_addf(&path, "%s/report.json", run->dir.buf);
	r = write_text_file(path.buf, json_object_to_json_string_ext(run->report,
			    JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_NOSLASHESCAPE),
			    run->opts->replace, &run->written, err);
out:
	strbuf_release(&path);
	strbuf_release(&text);
	return r;
}

static int convert_disks(struct import_run *run, const char *format, struct kvm_error *err)
{
	struct json_object *disks = json_object_new_array();
	int r = 0;

	json_object_object_add(run->report, "disks", disks);
	run->disk_paths = xcalloc(run->vm.n_disks, sizeof(*run->disk_paths));
	for (size_t i = 0; i < run->vm.n_disks; i++) {
		struct json_object *disk = json_object_new_object();
		struct strbuf out = STRBUF_INIT;

		json_object_array_add(disks, disk);
		if (run->vm.n_disks == 1)
			strbuf_addf(&out, "%s/%s.%s", run->dir.buf, run->stem.buf, format);
		else
			strbuf_addf(&out, "%s/%s-disk%zu.%s", run->dir.buf, run->stem.buf, i + 1, format);
		run->disk_paths[i] = strbuf_detach(&out);
		describe_disk(&run->vm.disks[i], &run->target, i, disk);
		json_out_add_string(disk, "file", run->disk_paths[i]);
		json_out_add_string(disk, "format", format);
		step(run->opts, "converting %s to %s", run->vm.disks[i].file, run->disk_paths[i]);
		r = convert_disk(&run->vm, i, run->disk_paths[i], run->opts, format, disk,
				 &run->written, err);
		if (r < 0)
			return r;
		written_add(&run->written, run->disk_paths[i]);
	}
	return 0;
}

static void describe_guest(struct import_run *run)
{
	struct json_object *r = run->report;

	json_out_add_string(r, "source", run->src.path);
	json_out_add_string(r, "source-type", run->src.type == SOURCE_OVA ? "ova" :
			    run->src.type == SOURCE_OVF ? "ovf" : "vmx");
	json_out_add_string(r, "name", run->vm.name);
	json_out_add_string(r, "os", run->vm.os_description ? run->vm.os_description : run->vm.os_id);
	json_out_add_string(r, "os-id", run->vm.os_id);
	json_out_add_uint(r, "cpus", run->vm.cpus);
	json_out_add_uint(r, "memory", run->vm.memory);
	json_out_add_string(r, "source-firmware", run->vm.secure_boot ? "EFI with Secure Boot" :
			    run->vm.efi ? "EFI" : "BIOS");
	json_out_add_string(r, "firmware", run->target.firmware);
	json_out_add_string(r, "profile", run->target.profile);
	json_out_add_string(r, "disk-bus", run->target.disk_bus);
	json_out_add_string(r, "nic", run->target.nic);
	describe_nics(&run->vm, &run->target, r);
}

static void fill_defaults(struct import_run *run)
{
	struct import_vm *vm = &run->vm;

	if (!vm->name)
		vm->name = xstrdup(run->stem.buf);
	if (vm->cpus == 0)
		vm->cpus = 1;
	if (vm->memory == 0) {
		vm->memory = 1ull << 30;
		import_vm_note(vm, "the source gives no memory size; 1 GiB it is");
	}
	if (vm->n_nics == 0)
		import_vm_note(vm, "the source has no network card; kvm-run still gives one");
}

static int run_import(struct import_run *run, const char *format, struct kvm_error *err)
{
	const struct kvmi_import_options *opts = run->opts;
	char real[PATH_MAX];
	int r;

	step(opts, "reading %s", run->src.path);
	r = read_source(&run->src, &run->vm, err);
	if (r < 0)
		return r;
	file_stem(run->src.path, &run->stem);
	fill_defaults(run);
	if (opts->output_dir)
		strbuf_addstr(&run->dir, opts->output_dir);
	else
		strbuf_addstr(&run->dir, run->stem.buf);
	choose_target(&run->vm, opts, &run->target);
	r = make_output_dir(run->dir.buf, &run->written, err);
	if (r < 0)
		return r;
	/* libvirt wants absolute paths, and the report names them so. */
	if (!realpath(run->dir.buf, real))
		return kvm_error_errno(err, -errno, "%s", run->dir.buf);
	strbuf_reset(&run->dir);
	strbuf_addstr(&run->dir, real);
	describe_guest(run);
	r = convert_disks(run, format, err);
	if (r < 0)
		return r;
	if (opts->fix_guest) {
		struct json_object *fixes = json_object_new_array();

		json_object_object_add(run->report, "guest-fixes", fixes);
		step(opts, "adapting the guest's system to KVM");
		r = fix_guest(&run->vm, run->disk_paths, run->vm.n_disks, format, opts->virtio_win,
			      &run->target, fixes, err);
		if (r < 0)
			return r;
		/* The devices may have changed with the drivers put in. */
		json_out_add_string(run->report, "disk-bus", run->target.disk_bus);
		json_out_add_string(run->report, "nic", run->target.nic);
		describe_nics(&run->vm, &run->target, run->report);
		for (size_t i = 0; i < run->vm.n_disks; i++)
			describe_disk(&run->vm.disks[i], &run->target, i,
				      json_object_array_get_idx(json_object_object_get(run->report, "disks"), i));
	} else if (import_vm_os(&run->vm) == IMPORT_OS_WINDOWS ||
		   import_vm_os(&run->vm) == IMPORT_OS_WINDOWS_11) {
		import_vm_note(&run->vm, "Windows keeps SATA disks and an e1000e card, whose drivers it has; "
			       "install the virtio-win drivers in it before moving it to virtio");
	} else if (import_vm_os(&run->vm) == IMPORT_OS_LINUX) {
		import_vm_note(&run->vm, "disks stay on SATA (AHCI) so that /dev/sdX names still work; "
			       "--fix-guest moves them to virtio");
	}
	json_object_object_add(run->report, "dropped", json_object_get(run->vm.dropped));
	json_object_object_add(run->report, "notes", json_object_get(run->vm.notes));
	return write_guest_files(run, err);
}

int kvmi_import(const char *source, const struct kvmi_import_options *opts,
		struct json_object **report, struct kvm_error *err)
{
	struct import_run run = {
		.opts = opts,
		.src = { .path = source, .flags = opts->flags },
		.dir = STRBUF_INIT,
		.stem = STRBUF_INIT,
	};
	const char *format = opts->format ? opts->format : "qcow2";
	int r;

	*report = NULL;
	if (strcmp(format, "qcow2") != 0 && strcmp(format, "raw") != 0)
		return kvm_error_set(err, -EINVAL, "%s: import writes qcow2 or raw disks, not %s",
				     source, format);
	if (opts->keep_chain && strcmp(format, "qcow2") != 0)
		return kvm_error_set(err, -EINVAL, "%s: a kept snapshot chain needs qcow2 disks", source);
	if (opts->virtio_win && !opts->fix_guest)
		return kvm_error_set(err, -EINVAL, "%s: the virtio-win ISO is used by --fix-guest only",
				     opts->virtio_win);
	/* Before the disks are converted: a mistyped ISO name fails at once. */
	if (opts->virtio_win && access(opts->virtio_win, R_OK) != 0)
		return kvm_error_errno(err, -errno, "%s", opts->virtio_win);
	if (opts->fix_guest && !kvmi_import_can_fix_guest())
		return kvm_error_set(err, -ENOTSUP, "%s: --fix-guest needs libguestfs, which this build "
				     "of libkvmimage lacks (rebuild it with libguestfs-dev installed)",
				     source);
	import_vm_init(&run.vm);
	run.src.report = run.report = json_object_new_object();
	r = run_import(&run, format, err);
	written_release(&run.written, r < 0);
	for (size_t i = 0; run.disk_paths && i < run.vm.n_disks; i++)
		free(run.disk_paths[i]);
	free(run.disk_paths);
	ova_close(&run.src.ova);
	free(run.src.dir);
	free(run.src.descriptor);
	free(run.src.descriptor_name);
	import_vm_free(&run.vm);
	strbuf_release(&run.dir);
	strbuf_release(&run.stem);
	if (r < 0) {
		json_object_put(run.report);
		return r;
	}
	*report = run.report;
	return 0;
}
