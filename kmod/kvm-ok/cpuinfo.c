// SPDX-License-Identifier: GPL-2.0-or-later
/* What /proc/cpuinfo says about the CPU's virtualisation extensions. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "kvm-ok.h"

const char *cpu_vendor_module(enum cpu_vendor vendor)
{
	switch (vendor) {
	case CPU_VENDOR_INTEL:
		return "kvm_intel";
	case CPU_VENDOR_AMD:
		return "kvm_amd";
	default:
		return NULL;
	}
}

static enum cpu_vendor vendor_of(const char *vendor_id)
{
	if (strcmp(vendor_id, "GenuineIntel") == 0 || strcmp(vendor_id, "CentaurHauls") == 0 ||
	    strstr(vendor_id, "Shanghai") != NULL)
		return CPU_VENDOR_INTEL;
	if (strcmp(vendor_id, "AuthenticAMD") == 0 || strcmp(vendor_id, "HygonGenuine") == 0)
		return CPU_VENDOR_AMD;
	return CPU_VENDOR_UNKNOWN;
}

/* Whether the space-separated LIST holds WORD. */
static bool has_word(const char *list, const char *word)
{
	size_t len = strlen(word);

	for (const char *p = list; (p = strstr(p, word)) != NULL; p += len) {
		bool starts = p == list || p[-1] == ' ' || p[-1] == '\t';
		bool ends = p[len] == '\0' || p[len] == ' ' || p[len] == '\n';

		if (starts && ends)
			return true;
	}
	return false;
}

/* The value of a "key<tabs>: value" line, or NULL when LINE is not KEY's. */
static const char *value_of(const char *line, const char *key)
{
	size_t len = strlen(key);

	if (strncmp(line, key, len) != 0)
		return NULL;
	line += len;
	while (*line == ' ' || *line == '\t')
		line++;
	if (*line != ':')
		return NULL;
	line++;
	while (*line == ' ')
		line++;
	return line;
}

int cpuinfo_parse(const char *text, struct cpu_info *info, struct kvm_error *err)
{
	struct strbuf line = STRBUF_INIT;
	const char *p = text, *value;
	bool seen_flags = false;

	memset(info, 0, sizeof(*info));
	while (*p) {
		const char *end = strchr(p, '\n');
		size_t len = end ? (size_t)(end - p) : strlen(p);

		strbuf_reset(&line);
		strbuf_add(&line, p, len);
		p += len + (end ? 1 : 0);

		if (value_of(line.buf, "processor")) {
			info->count++;
		} else if ((value = value_of(line.buf, "vendor_id")) && !info->vendor_id[0]) {
			snprintf(info->vendor_id, sizeof(info->vendor_id), "%s", value);
			info->vendor = vendor_of(info->vendor_id);
		} else if ((value = value_of(line.buf, "model name")) && !info->model[0]) {
			snprintf(info->model, sizeof(info->model), "%s", value);
		} else if ((value = value_of(line.buf, "flags")) && !seen_flags) {
			/* The first CPU speaks for all: the kernel keeps them equal. */
			seen_flags = true;
			info->vmx = has_word(value, "vmx");
			info->svm = has_word(value, "svm");
			info->hypervisor = has_word(value, "hypervisor");
		}
	}
	strbuf_release(&line);
	if (info->count == 0)
		return kvm_error_set(err, -EINVAL, "/proc/cpuinfo: names no processor");
	return 0;
}
