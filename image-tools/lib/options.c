/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "options.h"
#include "size.h"
#include "strbuf.h"
#include "xalloc.h"

static const struct option_desc *find_desc(const struct option_desc *descs, const char *name,
					   size_t len)
{
	for (; descs && descs->name; descs++)
		if (strlen(descs->name) == len && strncmp(descs->name, name, len) == 0)
			return descs;
	return NULL;
}

static void list_names(struct strbuf *sb, const struct option_desc *descs)
{
	for (; descs && descs->name; descs++)
		strbuf_addf(sb, "%s%s", sb->len ? ", " : "", descs->name);
	if (!sb->len)
		strbuf_addstr(sb, "none");
}

int options_parse(struct option_list *list, const char *text,
		  const struct option_desc *descs, const char *format,
		  struct kvm_error *err)
{
	const char *p = text;
	int r = 0;

	memset(list, 0, sizeof(*list));
	while (p && *p) {
		const char *end = strchrnul(p, ',');
		const char *eq = memchr(p, '=', (size_t)(end - p));
		size_t name_len = eq ? (size_t)(eq - p) : (size_t)(end - p);
		const struct option_desc *desc = find_desc(descs, p, name_len);

		if (!desc) {
			struct strbuf known = STRBUF_INIT;

			list_names(&known, descs);
			r = kvm_error_set(err, -EINVAL, "%s does not take option '%.*s' (it takes: %s)",
					  format, (int)name_len, p, known.buf);
			strbuf_release(&known);
			goto fail;
		}
		for (size_t i = 0; i < list->count; i++) {
			if (list->values[i].desc == desc) {
				r = kvm_error_set(err, -EINVAL, "option '%s' is given twice", desc->name);
				goto fail;
			}
		}
		if (!eq && desc->type != OPTION_BOOL) {
			r = kvm_error_set(err, -EINVAL, "option '%s' needs a value", desc->name);
			goto fail;
		}
		list->values = xrealloc(list->values, (list->count + 1) * sizeof(*list->values));
		list->values[list->count].desc = desc;
		list->values[list->count].value = eq ? xstrndup(eq + 1, (size_t)(end - eq - 1))
						     : xstrdup("on");
		list->count++;
		p = *end ? end + 1 : end;
	}
	return 0;
fail:
	options_free(list);
	return r;
}

void options_free(struct option_list *list)
{
	if (!list)
		return;
	for (size_t i = 0; i < list->count; i++)
		free(list->values[i].value);
	free(list->values);
	memset(list, 0, sizeof(*list));
}

const char *options_get_string(const struct option_list *list, const char *name,
			       const char *def)
{
	for (size_t i = 0; list && i < list->count; i++)
		if (strcmp(list->values[i].desc->name, name) == 0)
			return list->values[i].value;
	return def;
}

int options_get_size(const struct option_list *list, const char *name, uint64_t def,
		     uint64_t *value, struct kvm_error *err)
{
	const char *text = options_get_string(list, name, NULL);
	int r;

	*value = def;
	if (!text)
		return 0;
	r = size_parse(text, value, err);
	if (r < 0)
		return kvm_error_prefix(err, "option '%s'", name);
	return 0;
}

int options_get_bool(const struct option_list *list, const char *name, bool def,
		     bool *value, struct kvm_error *err)
{
	static const char *const yes[] = { "on", "true", "yes", "1" };
	static const char *const no[] = { "off", "false", "no", "0" };
	const char *text = options_get_string(list, name, NULL);

	*value = def;
	if (!text)
		return 0;
	for (size_t i = 0; i < sizeof(yes) / sizeof(yes[0]); i++) {
		if (strcasecmp(text, yes[i]) == 0) {
			*value = true;
			return 0;
		}
		if (strcasecmp(text, no[i]) == 0) {
			*value = false;
			return 0;
		}
	}
	return kvm_error_set(err, -EINVAL, "option '%s': '%s' is not on or off", name, text);
}
