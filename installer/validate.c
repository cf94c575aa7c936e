/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Each rendered answer file is checked by the parser its own world uses,
 * where Debian has it: ksvalidator for kickstart, debconf-set-selections
 * --checkonly for preseed, libxml2 for AutoYaST and autounattend.xml, a
 * YAML parser (python3-yaml) for autoinstall, json-c for Agama.
 */
#include <errno.h>
#include <string.h>

#include <json-c/json.h>
#include <libxml/parser.h>

#include "kvm-install.h"
#include "run.h"

static int run_validator(const char *const *argv, const char *name, struct strbuf *skipped,
			 struct kvm_error *err)
{
	struct run_cmd cmd;
	int ret;

	run_cmd_init(&cmd, argv);
	cmd.capture_stdout = true;
	cmd.capture_stderr = true;
	cmd.timeout_ms = 120000;
	ret = run_command(&cmd, err);
	if (ret == -ENOENT) {
		kvm_error_clear(err);
		strbuf_addf(skipped, "%s is not installed", argv[0]);
		ret = 1;
	} else if (ret == 0 && cmd.status != 0) {
		struct strbuf *why = cmd.err.len ? &cmd.err : &cmd.out;

		strbuf_rtrim(why);
		ret = kvm_error_set(err, -EINVAL, "%s: %s says: %s", name, argv[0],
				    why->len ? why->buf : "invalid");
	}
	run_cmd_release(&cmd);
	return ret;
}

static int validate_xml(const char *path, const char *name, struct kvm_error *err)
{
	xmlDocPtr doc = xmlReadFile(path, NULL, XML_PARSE_NONET | XML_PARSE_NOERROR |
				    XML_PARSE_NOWARNING);
	const xmlError *e;

	if (doc) {
		xmlFreeDoc(doc);
		return 0;
	}
	e = xmlGetLastError();
	return kvm_error_set(err, -EINVAL, "%s:%d: not well-formed XML: %s", name,
			     e ? e->line : 0, e && e->message ? e->message : "parse error");
}

static int validate_json(const char *path, const char *name, struct kvm_error *err)
{
	struct json_object *obj = json_object_from_file(path);

	if (!obj)
		return kvm_error_set(err, -EINVAL, "%s: not JSON: %s", name, json_util_get_last_err());
	if (!json_object_is_type(obj, json_type_object)) {
		json_object_put(obj);
		return kvm_error_set(err, -EINVAL, "%s: not a JSON object", name);
	}
	json_object_put(obj);
	return 0;
}

int validate_answer(const struct profile *profile, const char *path, const char *name,
		    struct strbuf *skipped, struct kvm_error *err)
{
	switch (profile->format) {
	case FORMAT_PRESEED: {
		const char *argv[] = { "debconf-set-selections", "--checkonly", path, NULL };

		return run_validator(argv, name, skipped, err);
	}
	case FORMAT_KICKSTART: {
		const char *argv[] = { "ksvalidator", "-e", "-v", profile->validator_version, path, NULL };

		return run_validator(argv, name, skipped, err);
	}
	case FORMAT_AUTOINSTALL: {
		/* cloud-init reads user-data only when it starts so. */
		static const char program[] =
			"import sys, yaml\n"
			"text = open(sys.argv[1]).read()\n"
			"if not text.startswith('#cloud-config\\n'):\n"
			"    sys.exit('the first line is not #cloud-config')\n"
			"data = yaml.safe_load(text)\n"
			"if not isinstance(data, dict) or not isinstance(data.get('autoinstall'), dict):\n"
			"    sys.exit('no autoinstall mapping')\n"
			"if data['autoinstall'].get('version') != 1:\n"
			"    sys.exit('autoinstall version is not 1')\n";
		const char *argv[] = { "python3", "-c", program, path, NULL };

		return run_validator(argv, name, skipped, err);
	}
	case FORMAT_AUTOYAST:
	case FORMAT_AUTOUNATTEND:
		return validate_xml(path, name, err);
	case FORMAT_AGAMA:
		return validate_json(path, name, err);
	case FORMAT_PLAIN:
		return 0;
	}
	return 0;
}
