/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <errno.h>
#include <string.h>

#include "export.h"
#include "loaders.h"
#include "menu.h"

int export_format_from_name(const char *name, enum export_format *format)
{
	if (strcmp(name, "dnsmasq") == 0)
		*format = EXPORT_DNSMASQ;
	else if (strcmp(name, "kea") == 0)
		*format = EXPORT_KEA;
	else if (strcmp(name, "isc-dhcpd") == 0)
		*format = EXPORT_ISC_DHCPD;
	else
		return -EINVAL;
	return 0;
}

static void print_dnsmasq(FILE *out, const char *server, const char *base)
{
	fprintf(out,
		"# kvm-netboot: PXE and HTTP boot through %s\n"
		"dhcp-match=set:bios,option:client-arch,0\n"
		"dhcp-match=set:efi64,option:client-arch,7\n"
		"dhcp-match=set:efi64,option:client-arch,9\n"
		"dhcp-match=set:efihttp,option:client-arch,16\n"
		"dhcp-userclass=set:ipxe,iPXE\n"
		"dhcp-boot=tag:ipxe,%s/" IPXE_SCRIPT "\n"
		"dhcp-boot=tag:!ipxe,tag:bios," LOADER_BIOS ",,%s\n"
		"dhcp-boot=tag:!ipxe,tag:efi64," LOADER_UEFI ",,%s\n"
		"dhcp-boot=tag:efihttp,%s/" LOADER_UEFI_HTTP "\n"
		"dhcp-option-force=tag:efihttp,60,HTTPClient\n",
		server, base, server, server, base);
}

static void print_kea(FILE *out, const char *server, const char *base)
{
	fprintf(out,
		"{\n"
		"  \"// kvm-netboot\": \"client classes for the Dhcp4 object; PXE and HTTP boot through %s\",\n"
		"  \"client-classes\": [\n"
		"    {\n"
		"      \"name\": \"kvm-netboot-ipxe\",\n"
		"      \"test\": \"option[77].hex == 'iPXE'\",\n"
		"      \"boot-file-name\": \"%s/" IPXE_SCRIPT "\"\n"
		"    },\n"
		"    {\n"
		"      \"name\": \"kvm-netboot-bios\",\n"
		"      \"test\": \"not member('kvm-netboot-ipxe') and option[93].hex == 0x0000\",\n"
		"      \"next-server\": \"%s\",\n"
		"      \"boot-file-name\": \"" LOADER_BIOS "\"\n"
		"    },\n"
		"    {\n"
		"      \"name\": \"kvm-netboot-efi64\",\n"
		"      \"test\": \"not member('kvm-netboot-ipxe') and (option[93].hex == 0x0007 or option[93].hex == 0x0009)\",\n"
		"      \"next-server\": \"%s\",\n"
		"      \"boot-file-name\": \"" LOADER_UEFI "\"\n"
		"    },\n"
		"    {\n"
		"      \"name\": \"kvm-netboot-efihttp\",\n"
		"      \"test\": \"option[93].hex == 0x0010\",\n"
		"      \"boot-file-name\": \"%s/" LOADER_UEFI_HTTP "\",\n"
		"      \"option-data\": [ { \"name\": \"vendor-class-identifier\", \"data\": \"HTTPClient\" } ]\n"
		"    }\n"
		"  ]\n"
		"}\n",
		server, base, server, server, base);
}

static void print_isc_dhcpd(FILE *out, const char *server, const char *base)
{
	fprintf(out,
		"# kvm-netboot: PXE and HTTP boot through %s\n"
		"option client-arch code 93 = unsigned integer 16;\n"
		"if exists user-class and option user-class = \"iPXE\" {\n"
		"\tfilename \"%s/" IPXE_SCRIPT "\";\n"
		"} elsif option client-arch = 16 {\n"
		"\toption vendor-class-identifier \"HTTPClient\";\n"
		"\tfilename \"%s/" LOADER_UEFI_HTTP "\";\n"
		"} elsif option client-arch = 7 or option client-arch = 9 {\n"
		"\tnext-server %s;\n"
		"\tfilename \"" LOADER_UEFI "\";\n"
		"} elsif option client-arch = 0 {\n"
		"\tnext-server %s;\n"
		"\tfilename \"" LOADER_BIOS "\";\n"
		"}\n",
		server, base, base, server, server);
}

int export_print(FILE *out, const struct nb_tree *tree, enum export_format format,
		 const char *server, struct kvm_error *err)
{
	struct nb_tree at = *tree;
	struct strbuf base = STRBUF_INIT;

	at.server = (char *)server;
	menu_base_url(&at, &base);
	switch (format) {
	case EXPORT_DNSMASQ:
		print_dnsmasq(out, server, base.buf);
		break;
	case EXPORT_KEA:
		print_kea(out, server, base.buf);
		break;
	case EXPORT_ISC_DHCPD:
		print_isc_dhcpd(out, server, base.buf);
		break;
	}
	strbuf_release(&base);
	if (fflush(out) != 0)
		return kvm_error_errno(err, -errno, "standard output");
	return 0;
}
