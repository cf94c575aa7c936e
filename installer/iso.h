/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Files and the volume label of an installer ISO (iso.c). */
#ifndef KVM_INSTALL_ISO_H
#define KVM_INSTALL_ISO_H

#include "kvm-error.h"
#include "strbuf.h"

/* Copies MEMBER ("casper/vmlinuz") of the ISO to DEST. */
int iso_extract(const char *iso, const char *member, const char *dest, struct kvm_error *err);

/* Appends the ISO's volume label (what LABEL= and CDLABEL= name). */
int iso_label(const char *iso, struct strbuf *label, struct kvm_error *err);

#endif
