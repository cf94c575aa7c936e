// SPDX-License-Identifier: GPL-2.0-or-later
/* The report for people and, with --output=json, for programs. */
#include <string.h>

#include "json-out.h"
#include "kvm-ok.h"

static const char *verdict_name(int verdict)
{
	switch (verdict) {
	case KVM_OK_USABLE:
		return "usable";
	case KVM_OK_NOT_USABLE:
		return "not-usable";
	default:
		return "unknown";
	}
}

struct json_object *report_json(const struct report *report)
{
	struct json_object *root = json_object_new_object();
	struct json_object *checks = json_object_new_array();

	json_out_add_bool(root, "usable", report->verdict == KVM_OK_USABLE);
	json_out_add_string(root, "verdict", verdict_name(report->verdict));
	json_out_add_int(root, "exit-status", report->verdict);
	for (size_t i = 0; i < report->count; i++) {
		const struct check *c = &report->checks[i];
		struct json_object *obj = json_object_new_object();

		json_out_add_string(obj, "name", c->name);
		json_out_add_string(obj, "status", check_status_name(c->status));
		json_out_add_bool(obj, "essential", c->essential);
		json_out_add_string(obj, "summary", c->summary.buf);
		if (c->fix.len)
			json_out_add_string(obj, "fix", c->fix.buf);
		json_object_object_add(obj, "details", json_object_get(c->details));
		json_object_array_add(checks, obj);
	}
	json_object_object_add(root, "checks", checks);
	return root;
}

void report_print(const struct report *report, FILE *out)
{
	for (size_t i = 0; i < report->count; i++) {
		const struct check *c = &report->checks[i];

		fprintf(out, "%-10s %-8s %s\n", c->name, check_status_name(c->status), c->summary.buf);
		if (c->fix.len)
			fprintf(out, "%-19s fix: %s\n", "", c->fix.buf);
	}
	fputc('\n', out);
	switch (report->verdict) {
	case KVM_OK_USABLE:
		fputs("KVM acceleration can be used\n", out);
		break;
	case KVM_OK_NOT_USABLE:
		fputs("KVM acceleration can NOT be used\n", out);
		break;
	default:
		fputs("Could not tell whether KVM acceleration can be used\n", out);
	}
}
