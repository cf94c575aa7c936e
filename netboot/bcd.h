/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * A BCD (the boot configuration store of Windows' boot manager) written
 * with hivex: the boot manager, ramdisk options and a Windows PE loader that
 * boots [boot]\sources\boot.wim from RAM, as WDS and wimboot expect.
 */
#ifndef KVM_NETBOOT_BCD_H
#define KVM_NETBOOT_BCD_H

#include <stdbool.h>

#include "kvm-error.h"

/* Writes the store to PATH; UEFI chooses winload.efi over winload.exe. */
int bcd_write(const char *path, const char *description, bool uefi, struct kvm_error *err);

#endif
