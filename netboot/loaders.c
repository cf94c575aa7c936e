/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <errno.h>
#include <string.h>
#include <unistd.h>

#include "files.h"
#include "loaders.h"
#include "log.h"

struct loader {
	const char *name;		/* in boot/ */
	const char *package;		/* Debian's, for the warning */
	bool required;
	const char *const sources[4];	/* Debian's path first, then others' */
};

static const struct loader loaders[] = {
	{ LOADER_BIOS, "ipxe", true,
	  { "/usr/lib/ipxe/undionly.kpxe", "/usr/share/ipxe/undionly.kpxe" } },
	{ LOADER_UEFI, "ipxe", true,
	  { "/usr/lib/ipxe/snponly.efi", "/usr/share/ipxe/ipxe-snponly-x86_64.efi" } },
	{ LOADER_UEFI_HTTP, "ipxe", true,
	  { "/usr/lib/ipxe/ipxe.efi", "/usr/share/ipxe/ipxe-x86_64.efi" } },
	{ LOADER_PXELINUX, "pxelinux", false,
	  { "/usr/lib/PXELINUX/pxelinux.0", "/usr/share/syslinux/pxelinux.0" } },
	{ "ldlinux.c32", "syslinux-common", false,
	  { "/usr/lib/syslinux/modules/bios/ldlinux.c32", "/usr/share/syslinux/ldlinux.c32" } },
	{ "menu.c32", "syslinux-common", false,
	  { "/usr/lib/syslinux/modules/bios/menu.c32", "/usr/share/syslinux/menu.c32" } },
	{ "libutil.c32", "syslinux-common", false,
	  { "/usr/lib/syslinux/modules/bios/libutil.c32", "/usr/share/syslinux/libutil.c32" } },
	{ "libcom32.c32", "syslinux-common", false,
	  { "/usr/lib/syslinux/modules/bios/libcom32.c32", "/usr/share/syslinux/libcom32.c32" } },
	/* Secure Boot: the distribution's shim, signed by Microsoft, and the
	 * GRUB it trusts; shim asks for grubx64.efi beside itself. */
	{ LOADER_SHIM, "shim-signed", false,
	  { "/usr/lib/shim/shimx64.efi.signed", "/usr/share/efi/x86_64/shim.efi",
	    "/boot/efi/EFI/fedora/shimx64.efi" } },
	{ "mmx64.efi", "shim-signed", false,
	  { "/usr/lib/shim/mmx64.efi.signed", "/usr/share/efi/x86_64/MokManager.efi" } },
	{ "grubx64.efi", "grub-efi-amd64-signed", false,
	  { "/usr/lib/grub/x86_64-efi-signed/grubnetx64.efi.signed",
	    "/usr/share/efi/x86_64/grub.efi" } },
};

static const char *find_source(const struct loader *l)
{
	for (size_t i = 0; i < sizeof(l->sources) / sizeof(*l->sources) && l->sources[i]; i++)
		if (access(l->sources[i], R_OK) == 0)
			return l->sources[i];
	return NULL;
}

int loaders_install(const struct nb_tree *tree, struct kvm_error *err)
{
	struct strbuf path = STRBUF_INIT;
	int ret = 0;

	for (size_t i = 0; i < sizeof(loaders) / sizeof(*loaders); i++) {
		const struct loader *l = &loaders[i];
		const char *source = find_source(l);

		if (!source) {
			if (l->required) {
				ret = kvm_error_set(err, -ENOENT, "%s: iPXE's %s is not installed "
						    "(install the %s package)", tree->dir, l->name,
						    l->package);
				break;
			}
			log_warn("%s is not installed (package %s): left out of the tree",
				 l->sources[0], l->package);
			continue;
		}
		strbuf_reset(&path);
		strbuf_addf(&path, "%s/" TREE_BOOT "/%s", tree->dir, l->name);
		log_verbose("%s -> %s", source, path.buf);
		if ((ret = files_copy(source, path.buf, true, 0644, err)) < 0)
			break;
	}
	strbuf_release(&path);
	return ret;
}
