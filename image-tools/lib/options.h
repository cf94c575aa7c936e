/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * "-o key=value,key=value" creation options, checked against the table a
 * driver declares, so that a misspelt option is an error and not ignored.
 */
#ifndef KVMI_OPTIONS_H
#define KVMI_OPTIONS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "kvm-error.h"

enum option_type {
	OPTION_SIZE,		/* 64k, 2M, 10G */
	OPTION_STRING,
	OPTION_BOOL,		/* on/off, true/false, yes/no */
};

struct option_desc {
	const char *name;
	enum option_type type;
	const char *help;
};

struct option_value {
	const struct option_desc *desc;
	char *value;
};

struct option_list {
	struct option_value *values;
	size_t count;
};

/* Parses TEXT (may be NULL) against DESCS (ended by a NULL name); FORMAT
 * names the driver in messages. */
int options_parse(struct option_list *list, const char *text,
		  const struct option_desc *descs, const char *format,
		  struct kvm_error *err);
void options_free(struct option_list *list);

/* The value given for NAME, or DEF when none was. */
const char *options_get_string(const struct option_list *list, const char *name,
			       const char *def);
int options_get_size(const struct option_list *list, const char *name, uint64_t def,
		     uint64_t *value, struct kvm_error *err);
int options_get_bool(const struct option_list *list, const char *name, bool def,
		     bool *value, struct kvm_error *err);

#endif
