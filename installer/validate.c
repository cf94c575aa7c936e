/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Each rendered answer file is checked by the parser its own world uses,
 * where Debian has it: ksvalidator for kickstart, debconf-set-selections
 * --checkonly for preseed, libxml2 for AutoYaST and autounattend.xml, a
 * YAML parser (python3-yaml) for autoinstall, json-c for Agama.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <json-c/json.h>
#include <libxml/parser.h>

#include "io.h"
#include "kvm-install.h"
#include "run.h"
#include "xalloc.h"

extern char **environ;

static int run_validator(const char *const *argv, const char *const *envp, const char *name,
			 struct strbuf *skipped, struct kvm_error *err)
{
	struct run_cmd cmd;
	int ret;

	run_cmd_init(&cmd, argv);
	cmd.envp = envp;
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

static int write_new_file(const char *path, const struct strbuf *text, struct kvm_error *err)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	int ret;

	if (fd < 0)
		return kvm_error_errno(err, -errno, "%s", path);
	ret = write_all(fd, text->buf, text->len);
	if (close(fd) < 0 && ret == 0)
		ret = -errno;
	return ret < 0 ? kvm_error_errno(err, ret, "%s", path) : 0;
}

/*
 * debconf-set-selections locks the system's debconf database even to check
 * a file, and fails without a word while another debconf user (apt, or a
 * second render) holds it; so it gets a database of its own.
 */
static int validate_preseed(const char *path, const char *name, struct strbuf *skipped,
			    struct kvm_error *err)
{
	const char *argv[] = { "debconf-set-selections", "--checkonly", path, NULL };
	/* What the folder holds when debconf is done with it. */
	static const char *const made[] = { "config.dat", "templates.dat", "debconf.conf" };
	const char *tmp = getenv("TMPDIR");
	struct strbuf dir = STRBUF_INIT, conf = STRBUF_INIT, text = STRBUF_INIT;
	struct strbuf rc = STRBUF_INIT;
	const char **envp = NULL;
	size_t n = 0, kept = 0;
	int ret;

	strbuf_addf(&dir, "%s/kvm-install-debconf-XXXXXX", tmp && *tmp ? tmp : "/tmp");
	if (!mkdtemp(dir.buf)) {
		ret = kvm_error_errno(err, -errno, "a folder for debconf in %s",
				      tmp && *tmp ? tmp : "/tmp");
		strbuf_release(&dir);
		return ret;
	}
	strbuf_addf(&conf, "%s/debconf.conf", dir.buf);
	strbuf_addf(&text, "Config: configdb\nTemplates: templatedb\n\n"
			   "Name: configdb\nDriver: File\nFilename: %s/config.dat\n\n"
			   "Name: templatedb\nDriver: File\nFilename: %s/templates.dat\n",
		    dir.buf, dir.buf);
	ret = write_new_file(conf.buf, &text, err);
	if (ret == 0) {
		strbuf_addf(&rc, "DEBCONF_SYSTEMRC=%s", conf.buf);
		while (environ[n])
			n++;
		envp = xcalloc(n + 2, sizeof(*envp));
		for (size_t i = 0; i < n; i++)
			if (strncmp(environ[i], "DEBCONF_", 8) != 0)
				envp[kept++] = environ[i];
		envp[kept] = rc.buf;
		ret = run_validator(argv, envp, name, skipped, err);
	}
	for (size_t i = 0; i < sizeof(made) / sizeof(made[0]); i++) {
		strbuf_reset(&text);
		strbuf_addf(&text, "%s/%s", dir.buf, made[i]);
		unlink(text.buf);
	}
	rmdir(dir.buf);
	free(envp);
	strbuf_release(&dir);
	strbuf_release(&conf);
	strbuf_release(&text);
	strbuf_release(&rc);
	return ret;
}

int validate_answer(const struct profile *profile, const char *path, const char *name,
		    struct strbuf *skipped, struct kvm_error *err)
{
	switch (profile->format) {
	case FORMAT_PRESEED:
		return validate_preseed(path, name, skipped, err);
	case FORMAT_KICKSTART: {
		const char *argv[] = { "ksvalidator", "-e", "-v", profile->validator_version, path, NULL };

		return run_validator(argv, NULL, name, skipped, err);
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

		return run_validator(argv, NULL, name, skipped, err);
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
