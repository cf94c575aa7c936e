/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The import report as text: what the guest was, what it became. */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "import.h"

static const char *get_string(struct json_object *obj, const char *key)
{
	struct json_object *v;

	return json_object_object_get_ex(obj, key, &v) ? json_object_get_string(v) : NULL;
}

static void add_field(struct strbuf *sb, const char *label, const char *value)
{
	if (value)
		strbuf_addf(sb, "%-13s %s\n", label, value);
}

static void add_list(struct strbuf *sb, struct json_object *report, const char *key,
		     const char *title)
{
	struct json_object *list;
	size_t n;

	if (!json_object_object_get_ex(report, key, &list))
		return;
	n = json_object_array_length(list);
	if (n == 0)
		return;
	strbuf_addf(sb, "\n%s:\n", title);
	for (size_t i = 0; i < n; i++)
		strbuf_addf(sb, "  - %s\n", json_object_get_string(json_object_array_get_idx(list, i)));
}

/* The layers under a disk's file that --keep-chain kept, nearest first. */
static void add_kept_chain(struct strbuf *sb, struct json_object *disk)
{
	struct json_object *chain;
	size_t n;

	if (!json_object_object_get_ex(disk, "backing-chain", &chain))
		return;
	n = json_object_array_length(chain);
	strbuf_addf(sb, "    %zu snapshot layer%s kept as a qcow2 backing chain, newest first:\n",
		    n, n == 1 ? "" : "s");
	for (size_t k = 0; k < n; k++)
		strbuf_addf(sb, "      <- %s\n",
			    json_object_get_string(json_object_array_get_idx(chain, k)));
}

char *kvmi_import_report_text(struct json_object *report)
{
	struct strbuf sb = STRBUF_INIT;
	struct json_object *list, *v;

	strbuf_addf(&sb, "Imported %s (%s) as guest \"%s\"\n\n", get_string(report, "source"),
		    get_string(report, "source-type"), get_string(report, "name"));
	add_field(&sb, "System:", get_string(report, "os"));
	if (json_object_object_get_ex(report, "cpus", &v))
		strbuf_addf(&sb, "%-13s %" PRId64 "\n", "CPUs:", json_object_get_int64(v));
	if (json_object_object_get_ex(report, "memory", &v))
		strbuf_addf(&sb, "%-13s %" PRIu64 " MiB\n", "Memory:",
			    (uint64_t)json_object_get_uint64(v) >> 20);
	strbuf_addf(&sb, "%-13s %s -> %s\n", "Firmware:", get_string(report, "source-firmware"),
		    get_string(report, "firmware"));
	add_field(&sb, "Profile:", get_string(report, "profile"));
	add_field(&sb, "Manifest:", get_string(report, "manifest"));
	add_field(&sb, "Certificate:", get_string(report, "certificate"));

	if (json_object_object_get_ex(report, "disks", &list)) {
		strbuf_addstr(&sb, "\nDisks:\n");
		for (size_t i = 0; i < json_object_array_length(list); i++) {
			struct json_object *d = json_object_array_get_idx(list, i);
			struct json_object *snaps;

			strbuf_addf(&sb, "  %s (%s, %s) -> %s (%s, %s)", get_string(d, "source"),
				    get_string(d, "source-format") ? get_string(d, "source-format") : "?",
				    get_string(d, "from"), get_string(d, "file"),
				    get_string(d, "format"), get_string(d, "to"));
			if (json_object_object_get_ex(d, "snapshots-flattened", &snaps) &&
			    json_object_get_int(snaps) > 0)
				strbuf_addf(&sb, ", %d snapshot layer%s flattened",
					    json_object_get_int(snaps),
					    json_object_get_int(snaps) == 1 ? "" : "s");
			strbuf_addch(&sb, '\n');
			add_kept_chain(&sb, d);
		}
	}
	if (json_object_object_get_ex(report, "nics", &list) && json_object_array_length(list)) {
		strbuf_addstr(&sb, "\nNetwork cards:\n");
		for (size_t i = 0; i < json_object_array_length(list); i++) {
			struct json_object *n = json_object_array_get_idx(list, i);

			strbuf_addf(&sb, "  %s -> %s", get_string(n, "from"), get_string(n, "to"));
			if (get_string(n, "mac"))
				strbuf_addf(&sb, ", MAC %s kept", get_string(n, "mac"));
			strbuf_addch(&sb, '\n');
		}
	}
	add_list(&sb, report, "guest-fixes", "Changes made inside the guest");
	add_list(&sb, report, "dropped", "Dropped or replaced");
	add_list(&sb, report, "notes", "Notes");
	strbuf_addstr(&sb, "\nFiles:\n");
	add_field(&sb, "  libvirt:", get_string(report, "domain-xml"));
	add_field(&sb, "  kvm-run:", get_string(report, "profile-file"));
	strbuf_addstr(&sb, "\nRun it:\n");
	strbuf_addf(&sb, "  %s\n", get_string(report, "command"));
	strbuf_addf(&sb, "  %s\n", get_string(report, "libvirt"));
	return strbuf_detach(&sb);
}
