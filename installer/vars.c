/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The one set of variables every answer-file template takes.  Values come
 * from --vars files (KEY = VALUE lines) and --set KEY=VALUE; lists grow by
 * one item per assignment.  vars_finish() fills defaults, checks values and
 * derives what the formats need (a SHA-512 crypt hash of the password, the
 * archive's host and folder, Windows' names of the time zone and keyboard).
 */
#include <crypt.h>
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kvm-install.h"
#include "xalloc.h"

struct var_spec {
	const char *name;
	bool list;
	const char *help;
};

static const struct var_spec specs[] = {
	{ "hostname", false, "the guest's host name (default: the disk's file name)" },
	{ "domain", false, "the DNS domain (default: localdomain)" },
	{ "user", false, "the first user, an administrator through sudo (default: user)" },
	{ "fullname", false, "the user's full name (default: the user name)" },
	{ "password", false, "the user's password; stored as a SHA-512 crypt hash where the format allows" },
	{ "password_hash", false, "the user's password as a crypt(3) hash, instead of password" },
	{ "ssh_keys", true, "an SSH public key of the user; one per assignment" },
	{ "timezone", false, "the time zone (default: Etc/UTC)" },
	{ "locale", false, "the locale (default: en_US.UTF-8)" },
	{ "keyboard", false, "the keyboard layout: us, de, fr, gb... (default: us)" },
	{ "disk", false, "the disk to install on, as the installer names it (default: the profile's)" },
	{ "packages", true, "extra packages; one or more (blank-separated) per assignment" },
	{ "proxy", false, "an HTTP proxy URL for the installer's downloads" },
	{ "mirror", false, "the package archive URL (default: the distribution's)" },
	{ "post_commands", true, "a shell command run in the installed system at the end; one per assignment" },
	{ "callback_url", false, "a URL fetched once the system is installed: http(s)://..., or @CALLBACK_URL@ for kvm-netboot (default: none)" },
	{ "windows_image", false, "Windows: the edition's image name in install.wim" },
	{ "product_key", false, "Windows: the product key (default: none, setup's own)" },
	{ "windows_timezone", false, "Windows: its time zone name (default: from timezone)" },
	{ "windows_input", false, "Windows: its keyboard, as 0409:00000409 (default: from keyboard)" },
	{ "windows_drivers", false, "Windows: the virtio-win driver folder: w10, w11, 2k22 (default: the profile's)" },
	{ "yast_keymap", false, "openSUSE: YaST's keymap name (default: from keyboard)" },
	{ "language", false, "derived from locale: en" },
	{ "country", false, "derived from locale: US" },
	{ "windows_locale", false, "derived from locale: en-US" },
	{ "mirror_host", false, "derived from mirror: its host" },
	{ "mirror_dir", false, "derived from mirror: its folder" },
	{ "has_ssh_keys", false, "derived: yes when ssh_keys has any" },
	{ "answer_base", false, "set by kvm-install: the URL of the folder the guest fetches the answer file from" },
	{ "iso_label", false, "set by kvm-install: the volume label of the --iso" },
};

#define N_SPECS (sizeof(specs) / sizeof(specs[0]))

void vars_init(struct vars *vars)
{
	vars->count = N_SPECS;
	vars->vars = xcalloc(N_SPECS, sizeof(*vars->vars));
	for (size_t i = 0; i < N_SPECS; i++) {
		vars->vars[i].name = specs[i].name;
		vars->vars[i].list = specs[i].list;
	}
}

static void var_clear(struct var *var)
{
	for (size_t i = 0; i < var->count; i++)
		free(var->values[i]);
	free(var->values);
	var->values = NULL;
	var->count = 0;
	var->set = false;
}

void vars_release(struct vars *vars)
{
	if (!vars || !vars->vars)
		return;
	for (size_t i = 0; i < vars->count; i++)
		var_clear(&vars->vars[i]);
	free(vars->vars);
	vars->vars = NULL;
	vars->count = 0;
}

static struct var *var_lookup(const struct vars *vars, const char *name)
{
	for (size_t i = 0; i < vars->count; i++)
		if (strcmp(vars->vars[i].name, name) == 0)
			return &vars->vars[i];
	return NULL;
}

const struct var *vars_get(const struct vars *vars, const char *name)
{
	return var_lookup(vars, name);
}

const char *vars_value(const struct vars *vars, const char *name)
{
	const struct var *var = var_lookup(vars, name);

	return var && !var->list && var->count ? var->values[0] : "";
}

static void var_append(struct var *var, const char *value, size_t len)
{
	var->values = xrealloc(var->values, (var->count + 1) * sizeof(*var->values));
	var->values[var->count++] = xstrndup(value, len);
	var->set = true;
}

static void var_set(struct var *var, const char *value)
{
	var_clear(var);
	var_append(var, value, strlen(value));
}

int vars_assign(struct vars *vars, const char *key, const char *value, struct kvm_error *err)
{
	struct var *var = var_lookup(vars, key);

	if (!var)
		return kvm_error_set(err, -EINVAL, "'%s' is not a variable (see kvm-install --help-vars)", key);
	for (const char *p = value; *p; p++)
		if (iscntrl((unsigned char)*p) && *p != '\t')
			return kvm_error_set(err, -EINVAL,
					     "the value of %s holds a control character (a new line?)", key);
	if (!var->list) {
		var_set(var, value);
		return 0;
	}
	if (strcmp(key, "packages") != 0) {
		var_append(var, value, strlen(value));
		return 0;
	}
	/* Packages: "vim curl" is two items, as on an apt-get command line. */
	for (const char *p = value; *p;) {
		size_t len;

		p += strspn(p, " \t,");
		len = strcspn(p, " \t,");
		if (len)
			var_append(var, p, len);
		p += len;
	}
	return 0;
}

static char *trim(char *s)
{
	char *end = s + strlen(s);

	while (*s && isspace((unsigned char)*s))
		s++;
	while (end > s && isspace((unsigned char)end[-1]))
		*--end = '\0';
	return s;
}

int vars_load_file(struct vars *vars, const char *path, struct kvm_error *err)
{
	FILE *f = fopen(path, "r");
	char *line = NULL;
	size_t cap = 0;
	unsigned lineno = 0;
	int ret = 0;

	if (!f)
		return kvm_error_errno(err, -errno, "%s", path);
	while (getline(&line, &cap, f) >= 0) {
		char *text = trim(line), *eq, *key;

		lineno++;
		if (!*text || *text == '#')
			continue;
		eq = strchr(text, '=');
		if (!eq) {
			ret = kvm_error_set(err, -EINVAL, "%s:%u: not KEY = VALUE", path, lineno);
			break;
		}
		*eq = '\0';
		key = trim(text);
		ret = vars_assign(vars, key, trim(eq + 1), err);
		if (ret < 0) {
			kvm_error_prefix(err, "%s:%u", path, lineno);
			break;
		}
	}
	if (!ret && ferror(f))
		ret = kvm_error_errno(err, -EIO, "%s", path);
	free(line);
	fclose(f);
	return ret;
}

static void set_default(struct vars *vars, const char *name, const char *value)
{
	struct var *var = var_lookup(vars, name);

	if (!var->set && value)
		var_set(var, value);
}

static bool all_in(const char *s, const char *extra)
{
	for (; *s; s++)
		if (!isalnum((unsigned char)*s) && !strchr(extra, *s))
			return false;
	return true;
}

/* Windows' names, for the zones and layouts most people use; others are
 * set with windows_timezone and windows_input. */
static const char *const windows_zones[][2] = {
	{ "Etc/UTC", "UTC" }, { "UTC", "UTC" },
	{ "Europe/London", "GMT Standard Time" },
	{ "Europe/Berlin", "W. Europe Standard Time" },
	{ "Europe/Paris", "Romance Standard Time" },
	{ "Europe/Amsterdam", "W. Europe Standard Time" },
	{ "Europe/Zurich", "W. Europe Standard Time" },
	{ "Europe/Vienna", "W. Europe Standard Time" },
	{ "America/New_York", "Eastern Standard Time" },
	{ "America/Chicago", "Central Standard Time" },
	{ "America/Denver", "Mountain Standard Time" },
	{ "America/Los_Angeles", "Pacific Standard Time" },
	{ "Asia/Tokyo", "Tokyo Standard Time" },
};

static const char *const keyboards[][3] = {
	/* keyboard, Windows input locale, YaST keymap */
	{ "us", "0409:00000409", "english-us" },
	{ "gb", "0809:00000809", "english-uk" },
	{ "de", "0407:00000407", "german" },
	{ "fr", "040c:0000040c", "french" },
	{ "ch", "0807:00000807", "german-ch" },
	{ "es", "0c0a:0000040a", "spanish" },
	{ "it", "0410:00000410", "italian" },
};

static int derive_locale(struct vars *vars, struct kvm_error *err)
{
	const char *locale = vars_value(vars, "locale");
	size_t lang_len = strspn(locale, "abcdefghijklmnopqrstuvwxyz");
	struct strbuf buf = STRBUF_INIT;

	if (lang_len < 2 || locale[lang_len] != '_' ||
	    strspn(locale + lang_len + 1, "ABCDEFGHIJKLMNOPQRSTUVWXYZ") != 2)
		return kvm_error_set(err, -EINVAL, "locale '%s' is not like en_US.UTF-8", locale);
	strbuf_add(&buf, locale, lang_len);
	set_default(vars, "language", buf.buf);
	strbuf_reset(&buf);
	strbuf_add(&buf, locale + lang_len + 1, 2);
	set_default(vars, "country", buf.buf);
	strbuf_reset(&buf);
	strbuf_addf(&buf, "%s-%s", vars_value(vars, "language"), vars_value(vars, "country"));
	set_default(vars, "windows_locale", buf.buf);
	strbuf_release(&buf);
	return 0;
}

static int derive_mirror(struct vars *vars, struct kvm_error *err)
{
	const char *mirror = vars_value(vars, "mirror");
	const char *host = strstr(mirror, "://");
	struct strbuf buf = STRBUF_INIT;
	size_t len;

	if (!*mirror)
		return 0;
	if (!host || (strncmp(mirror, "http://", 7) != 0 && strncmp(mirror, "https://", 8) != 0))
		return kvm_error_set(err, -EINVAL, "mirror '%s' is not an http:// or https:// URL", mirror);
	host += 3;
	len = strcspn(host, "/");
	if (!len)
		return kvm_error_set(err, -EINVAL, "mirror '%s' names no host", mirror);
	strbuf_add(&buf, host, len);
	set_default(vars, "mirror_host", buf.buf);
	strbuf_reset(&buf);
	strbuf_addstr(&buf, host[len] ? host + len : "/");
	while (buf.len > 1 && buf.buf[buf.len - 1] == '/')
		strbuf_setlen(&buf, buf.len - 1);
	set_default(vars, "mirror_dir", buf.buf);
	strbuf_release(&buf);
	return 0;
}

static int hash_password(struct vars *vars, struct kvm_error *err)
{
	struct crypt_data data;
	const char *salt, *hash;

	if (var_lookup(vars, "password_hash")->set || !*vars_value(vars, "password"))
		return 0;
	salt = crypt_gensalt("$6$", 0, NULL, 0);
	if (!salt)
		return kvm_error_errno(err, -errno, "crypt_gensalt");
	memset(&data, 0, sizeof(data));
	hash = crypt_r(vars_value(vars, "password"), salt, &data);
	if (!hash || strncmp(hash, "$6$", 3) != 0)
		return kvm_error_set(err, -EINVAL, "crypt(3) gave no SHA-512 hash");
	set_default(vars, "password_hash", hash);
	explicit_bzero(&data, sizeof(data));
	return 0;
}

/* The installer's last step fetches callback_url, from a shell, a YAML or
 * JSON string, XML or a PowerShell '...' string: an http(s) URL of RFC 3986
 * characters without the quote ', or the token kvm-netboot replaces with
 * the host's own callback URL when it serves the answer file. */
static int check_callback_url(const char *url, struct kvm_error *err)
{
	const char *host;

	if (!*url || strcmp(url, "@CALLBACK_URL@") == 0)
		return 0;
	if (strncmp(url, "http://", 7) == 0)
		host = url + 7;
	else if (strncmp(url, "https://", 8) == 0)
		host = url + 8;
	else
		host = NULL;
	if (!host || !*host || *host == '/' || !all_in(url, "-._~:/?#[]@!$&()*+,;=%"))
		return kvm_error_set(err, -EINVAL,
				     "callback_url '%s' is neither an http:// or https:// URL nor @CALLBACK_URL@",
				     url);
	return 0;
}

int vars_finish(struct vars *vars, const struct profile *profile, struct kvm_error *err)
{
	const char *hostname, *user, *keyboard, *timezone;
	int ret;

	set_default(vars, "hostname", "guest");
	set_default(vars, "domain", "localdomain");
	set_default(vars, "user", "user");
	set_default(vars, "fullname", vars_value(vars, "user"));
	set_default(vars, "timezone", "Etc/UTC");
	set_default(vars, "locale", "en_US.UTF-8");
	set_default(vars, "keyboard", "us");
	set_default(vars, "disk", profile->disk_device);
	set_default(vars, "mirror", profile->mirror);
	set_default(vars, "windows_image", profile->windows_image);
	set_default(vars, "windows_drivers", profile->windows_drivers);

	hostname = vars_value(vars, "hostname");
	if (strlen(hostname) > 63 || !all_in(hostname, "-") || hostname[0] == '-')
		return kvm_error_set(err, -EINVAL, "hostname '%s' is not letters, digits and -", hostname);
	if (!all_in(vars_value(vars, "domain"), "-."))
		return kvm_error_set(err, -EINVAL, "domain '%s' is not letters, digits, - and .",
				     vars_value(vars, "domain"));
	user = vars_value(vars, "user");
	if (!*user || strlen(user) > 32 || !all_in(user, "-_") || isdigit((unsigned char)user[0]) ||
	    user[0] == '-' || strcmp(user, "root") == 0)
		return kvm_error_set(err, -EINVAL, "user '%s' is not a user name like alice", user);
	for (size_t i = 0; i < var_lookup(vars, "packages")->count; i++)
		if (!all_in(var_lookup(vars, "packages")->values[i], "-+._:@"))
			return kvm_error_set(err, -EINVAL, "'%s' is not a package name",
					     var_lookup(vars, "packages")->values[i]);
	if (!all_in(vars_value(vars, "timezone"), "/_-+"))
		return kvm_error_set(err, -EINVAL, "timezone '%s' is not like Europe/Berlin",
				     vars_value(vars, "timezone"));
	if (!all_in(vars_value(vars, "keyboard"), "-_"))
		return kvm_error_set(err, -EINVAL, "keyboard '%s' is not a layout like us",
				     vars_value(vars, "keyboard"));

	if (strpbrk(vars_value(vars, "fullname"), "\"\\:'"))
		return kvm_error_set(err, -EINVAL, "fullname '%s' holds a quote, backslash or colon",
				     vars_value(vars, "fullname"));
	for (size_t i = 0; i < var_lookup(vars, "ssh_keys")->count; i++) {
		const char *key = var_lookup(vars, "ssh_keys")->values[i];

		if ((strncmp(key, "ssh-", 4) != 0 && strncmp(key, "ecdsa-", 6) != 0 &&
		     strncmp(key, "sk-", 3) != 0) || strpbrk(key, "'\"\\"))
			return kvm_error_set(err, -EINVAL, "ssh_keys: '%.40s' is not an SSH public key line "
					     "(ssh-ed25519 AAAA... comment)", key);
	}
	ret = check_callback_url(vars_value(vars, "callback_url"), err);
	if (ret < 0)
		return ret;
	if (profile->format == FORMAT_AUTOUNATTEND && strlen(hostname) > 15)
		return kvm_error_set(err, -EINVAL, "hostname '%s' is longer than the 15 characters Windows allows",
				     hostname);

	ret = hash_password(vars, err);
	if (ret < 0)
		return ret;
	if (!*vars_value(vars, "password_hash") && !var_lookup(vars, "ssh_keys")->count)
		return kvm_error_set(err, -EINVAL,
				     "no way to log in: set password (or password_hash) or ssh_keys");
	if (profile->format == FORMAT_AUTOUNATTEND && !*vars_value(vars, "password"))
		return kvm_error_set(err, -EINVAL,
				     "%s: Windows setup takes the password itself, not a hash: set password",
				     profile->name);

	if (var_lookup(vars, "ssh_keys")->count)
		set_default(vars, "has_ssh_keys", "yes");
	ret = derive_locale(vars, err);
	if (ret < 0)
		return ret;
	ret = derive_mirror(vars, err);
	if (ret < 0)
		return ret;

	timezone = vars_value(vars, "timezone");
	for (size_t i = 0; i < sizeof(windows_zones) / sizeof(windows_zones[0]); i++)
		if (strcmp(timezone, windows_zones[i][0]) == 0)
			set_default(vars, "windows_timezone", windows_zones[i][1]);
	keyboard = vars_value(vars, "keyboard");
	for (size_t i = 0; i < sizeof(keyboards) / sizeof(keyboards[0]); i++) {
		if (strcmp(keyboard, keyboards[i][0]) == 0) {
			set_default(vars, "windows_input", keyboards[i][1]);
			set_default(vars, "yast_keymap", keyboards[i][2]);
		}
	}
	if (profile->format == FORMAT_AUTOUNATTEND && !*vars_value(vars, "windows_timezone"))
		return kvm_error_set(err, -EINVAL, "time zone %s has no Windows name here: set windows_timezone",
				     timezone);
	if (profile->format == FORMAT_AUTOUNATTEND && !*vars_value(vars, "windows_input"))
		return kvm_error_set(err, -EINVAL, "keyboard %s has no Windows name here: set windows_input",
				     keyboard);
	if (profile->format == FORMAT_AUTOYAST && !*vars_value(vars, "yast_keymap"))
		return kvm_error_set(err, -EINVAL, "keyboard %s has no YaST name here: set yast_keymap",
				     keyboard);
	return 0;
}

void vars_print_help(void)
{
	for (size_t i = 0; i < N_SPECS; i++)
		printf("  %-17s %s%s\n", specs[i].name, specs[i].list ? "(list) " : "", specs[i].help);
}
