/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The VMX parser: key = value lines copied off datastores. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "import/import.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	/* vmx_parse takes a C string, as the file is read into one. */
	char *text = malloc(size + 1);
	struct import_vm vm;
	struct kvm_error err;

	if (!text)
		return 0;
	memcpy(text, data, size);
	text[size] = '\0';
	import_vm_init(&vm);
	vmx_parse(text, "fuzz.vmx", &vm, &err);
	import_vm_free(&vm);
	free(text);
	return 0;
}
