/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <errno.h>

#include "options.h"
#include "tap.h"

static const struct option_desc descs[] = {
	{ "cluster_size", OPTION_SIZE, "cluster size" },
	{ "subformat", OPTION_STRING, "layout" },
	{ "lazy", OPTION_BOOL, "lazy refcounts" },
	{ NULL, OPTION_STRING, NULL },
};

int main(void)
{
	struct option_list list;
	struct kvm_error err = { 0 };
	uint64_t size;
	bool flag;

	CHECK_INT(options_parse(&list, "cluster_size=2M,subformat=streamOptimized,lazy", descs,
				"fmt", &err), 0);
	CHECK_INT(list.count, 3);
	CHECK_INT(options_get_size(&list, "cluster_size", 0, &size, &err), 0);
	CHECK_INT(size, 2 << 20);
	CHECK_STR(options_get_string(&list, "subformat", NULL), "streamOptimized");
	CHECK_INT(options_get_bool(&list, "lazy", false, &flag, &err), 0);
	CHECK(flag);
	options_free(&list);

	CHECK_INT(options_parse(&list, NULL, descs, "fmt", &err), 0);
	CHECK_INT(options_get_size(&list, "cluster_size", 65536, &size, &err), 0);
	CHECK_INT(size, 65536);
	CHECK_STR(options_get_string(&list, "subformat", "monolithicSparse"), "monolithicSparse");
	options_free(&list);

	CHECK_INT(options_parse(&list, "clustersize=4k", descs, "fmt", &err), -EINVAL);
	CHECK_MSG(err, "fmt does not take option 'clustersize' (it takes: cluster_size, subformat, lazy)");
	CHECK_INT(list.count, 0);

	CHECK_INT(options_parse(&list, "subformat=a,subformat=b", descs, "fmt", &err), -EINVAL);
	CHECK_MSG(err, "option 'subformat' is given twice");

	CHECK_INT(options_parse(&list, "subformat", descs, "fmt", &err), -EINVAL);
	CHECK_MSG(err, "option 'subformat' needs a value");

	CHECK_INT(options_parse(&list, "cluster_size=big", descs, "fmt", &err), 0);
	CHECK_INT(options_get_size(&list, "cluster_size", 0, &size, &err), -EINVAL);
	CHECK_MSG(err, "option 'cluster_size'");
	options_free(&list);

	CHECK_INT(options_parse(&list, "lazy=maybe", descs, "fmt", &err), 0);
	CHECK_INT(options_get_bool(&list, "lazy", false, &flag, &err), -EINVAL);
	CHECK_MSG(err, "'maybe' is not on or off");
	options_free(&list);

	CHECK_INT(options_parse(&list, "x=1", NULL, "raw", &err), -EINVAL);
	CHECK_MSG(err, "raw does not take option 'x' (it takes: none)");
	return tap_done();
}
