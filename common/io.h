/* SPDX-License-Identifier: GPL-2.0-or-later */
#ifndef KVM_IO_H
#define KVM_IO_H

#include <stddef.h>

/* Writes all LEN bytes of DATA to FD, through short writes and EINTR.
 * Returns 0 or a negative errno. */
int write_all(int fd, const void *data, size_t len);

#endif
