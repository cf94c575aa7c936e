/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Machine-readable output (--output=json) through json-c. */
#ifndef KVM_JSON_OUT_H
#define KVM_JSON_OUT_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include <json-c/json.h>

/* Prints OBJ pretty, with a final newline; returns 0 or -errno. */
int json_out_print(FILE *out, struct json_object *obj);

/* Shorthands that add one member to an object; string NULL adds nothing. */
void json_out_add_string(struct json_object *obj, const char *key, const char *value);
void json_out_add_int(struct json_object *obj, const char *key, int64_t value);
void json_out_add_uint(struct json_object *obj, const char *key, uint64_t value);
void json_out_add_bool(struct json_object *obj, const char *key, bool value);

#endif
