/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The VMDK text descriptor parser alone, which sees most hostile text. */
#include <stdint.h>

#include "formats/vmdk.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct vmdk_descriptor desc;
	struct kvm_error err;

	if (vmdk_descriptor_parse((const char *)data, size, "fuzz.vmdk", &desc, &err) == 0) {
		vmdk_descriptor_ddb(&desc, "ddb.adapterType");
		vmdk_descriptor_free(&desc);
	}
	return 0;
}
