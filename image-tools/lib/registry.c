/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <errno.h>
#include <string.h>

#include "core.h"
#include "strbuf.h"

/* Probing asks each driver for a score; on a tie the earlier one wins. */
static const struct image_driver *const drivers[] = {
	&qcow2_driver,
	&vmdk_driver,
	&raw_driver,
};

#define N_DRIVERS (sizeof(drivers) / sizeof(drivers[0]))

const struct image_driver *driver_find(const char *name)
{
	for (size_t i = 0; i < N_DRIVERS; i++)
		if (strcmp(drivers[i]->name, name) == 0)
			return drivers[i];
	return NULL;
}

const struct image_driver *driver_probe(const uint8_t *head, size_t len, const char *path)
{
	const struct image_driver *best = NULL;
	int best_score = 0;

	for (size_t i = 0; i < N_DRIVERS; i++) {
		int score = drivers[i]->probe(head, len, path);

		if (score > best_score) {
			best = drivers[i];
			best_score = score;
		}
	}
	return best;
}

int driver_find_writable(const char *format, const struct image_driver **drv,
			 struct kvm_error *err)
{
	struct strbuf names = STRBUF_INIT;
	int r;

	*drv = driver_find(format);
	if (*drv && (*drv)->create)
		return 0;
	for (size_t i = 0; i < N_DRIVERS; i++)
		if (drivers[i]->create)
			strbuf_addf(&names, "%s%s", names.len ? ", " : "", drivers[i]->name);
	r = kvm_error_set(err, -EINVAL, "%s: %s (formats that can be written: %s)", format,
			  *drv ? "this format cannot be written" : "unknown format", names.buf);
	strbuf_release(&names);
	*drv = NULL;
	return r;
}

const char *const *kvmi_formats(void)
{
	static const char *names[N_DRIVERS + 1];

	for (size_t i = 0; i < N_DRIVERS; i++)
		names[i] = drivers[i]->name;
	return names;
}

bool kvmi_format_writable(const char *format)
{
	const struct image_driver *drv = driver_find(format);

	return drv && drv->create;
}

char *kvmi_format_options_help(const char *format)
{
	const struct image_driver *drv = driver_find(format);
	struct strbuf help = STRBUF_INIT;
	static const char *const type_names[] = {
		[OPTION_SIZE] = "SIZE", [OPTION_STRING] = "VALUE", [OPTION_BOOL] = "on|off",
	};

	if (!drv || !drv->create)
		return NULL;
	for (const struct option_desc *o = drv->create_options; o && o->name; o++)
		strbuf_addf(&help, "  %s=%-8s %s\n", o->name, type_names[o->type], o->help);
	return strbuf_detach(&help);
}
