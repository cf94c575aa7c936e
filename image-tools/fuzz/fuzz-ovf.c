/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The OVF descriptor parser, the XML that arrives inside every OVA. */
#include <stdint.h>

#include "import/import.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct import_vm vm;
	struct kvm_error err;

	import_vm_init(&vm);
	ovf_parse((const char *)data, size, "fuzz.ovf", &vm, &err);
	import_vm_free(&vm);
	return 0;
}
