// SPDX-License-Identifier: GPL-2.0-or-later
#include <errno.h>

#include "json-out.h"

int json_out_print(FILE *out, struct json_object *obj)
{
	const char *text;

	text = json_object_to_json_string_ext(obj, JSON_C_TO_STRING_PRETTY |
					      JSON_C_TO_STRING_SPACED |
					      JSON_C_TO_STRING_NOSLASHESCAPE);
	if (!text)
		return -ENOMEM;
	errno = 0;
	if (fputs(text, out) == EOF || fputc('\n', out) == EOF ||
	    fflush(out) == EOF)
		return errno ? -errno : -EIO;
	return 0;
}

void json_out_add_string(struct json_object *obj, const char *key, const char *value)
{
	if (!value)
		return;
	json_object_object_add(obj, key, json_object_new_string(value));
}

void json_out_add_int(struct json_object *obj, const char *key, int64_t value)
{
	json_object_object_add(obj, key, json_object_new_int64(value));
}

void json_out_add_uint(struct json_object *obj, const char *key, uint64_t value)
{
	json_object_object_add(obj, key, json_object_new_uint64(value));
}

void json_out_add_bool(struct json_object *obj, const char *key, bool value)
{
	json_object_object_add(obj, key, json_object_new_boolean(value));
}
