// SPDX-License-Identifier: GPL-2.0-or-later
/* Which kvm modules are loaded, and whose build they are. */
#include <string.h>

#include "kvm-ok.h"

enum module_origin module_classify(bool present, bool has_initstate, const char *version,
				   const char *taint)
{
	if (!present)
		return MODULE_NOT_LOADED;
	/* Built-in modules have a /sys/module folder for their parameters, but
	 * no initstate. */
	if (!has_initstate)
		return MODULE_BUILTIN;
	if (version && strncmp(version, BUNDLE_VERSION_PREFIX, strlen(BUNDLE_VERSION_PREFIX)) == 0)
		return MODULE_BUNDLE;
	if (taint && strchr(taint, 'O'))
		return MODULE_OUT_OF_TREE;
	return MODULE_IN_TREE;
}

const char *module_origin_name(enum module_origin origin)
{
	switch (origin) {
	case MODULE_NOT_LOADED:
		return "not-loaded";
	case MODULE_BUILTIN:
		return "built-in";
	case MODULE_IN_TREE:
		return "in-tree";
	case MODULE_BUNDLE:
		return "bundle";
	case MODULE_OUT_OF_TREE:
		return "out-of-tree";
	}
	return "unknown";
}
