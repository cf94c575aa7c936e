// SPDX-License-Identifier: GPL-2.0-or-later
#include <stdio.h>
#include <string.h>

#include "json-out.h"
#include "tap.h"

int main(void)
{
	struct json_object *obj = json_object_new_object();
	struct json_object *back;
	char text[4096];
	FILE *tmp = tmpfile();
	size_t n;

	json_out_add_string(obj, "filename", "dir/a.qcow2");
	json_out_add_string(obj, "backing-filename", NULL);
	json_out_add_int(obj, "offset", -5);
	json_out_add_uint(obj, "virtual-size", 18446744073709551615ULL);
	json_out_add_bool(obj, "dirty-flag", false);
	CHECK_INT(json_out_print(tmp, obj), 0);

	rewind(tmp);
	n = fread(text, 1, sizeof(text) - 1, tmp);
	text[n] = '\0';
	fclose(tmp);

	CHECK(n > 0 && text[n - 1] == '\n');
	/* Pretty, two spaces, and slashes as they are. */
	CHECK(strstr(text, "\n  \"filename\": \"dir/a.qcow2\"") != NULL);
	CHECK(strstr(text, "backing-filename") == NULL);
	CHECK(strstr(text, "\"virtual-size\": 18446744073709551615") != NULL);
	CHECK(strstr(text, "\"offset\": -5") != NULL);
	CHECK(strstr(text, "\"dirty-flag\": false") != NULL);

	back = json_tokener_parse(text);
	CHECK(back != NULL);
	json_object_put(back);
	json_object_put(obj);
	return tap_done();
}
