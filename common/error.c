// SPDX-License-Identifier: GPL-2.0-or-later
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "kvm-error.h"

static void error_vset(struct kvm_error *err, int code, const char *fmt, va_list ap)
{
	err->code = code;
	/* vsnprintf truncates at the size and always terminates. */
	vsnprintf(err->message, sizeof(err->message), fmt, ap);
}

int kvm_error_set(struct kvm_error *err, int code, const char *fmt, ...)
{
	va_list ap;

	if (!err)
		return code;
	va_start(ap, fmt);
	error_vset(err, code, fmt, ap);
	va_end(ap);
	return code;
}

int kvm_error_errno(struct kvm_error *err, int code, const char *fmt, ...)
{
	va_list ap;
	size_t len;

	if (!err)
		return code;
	va_start(ap, fmt);
	error_vset(err, code, fmt, ap);
	va_end(ap);
	len = strlen(err->message);
	snprintf(err->message + len, sizeof(err->message) - len, ": %s",
		 strerror(-code));
	return code;
}

int kvm_error_prefix(struct kvm_error *err, const char *fmt, ...)
{
	char old[KVM_ERROR_MAX];
	va_list ap;
	size_t len;

	/* Only called on a failure, whose code only err knew. */
	if (!err)
		return -EIO;
	memcpy(old, err->message, sizeof(old));
	old[sizeof(old) - 1] = '\0';
	va_start(ap, fmt);
	vsnprintf(err->message, sizeof(err->message), fmt, ap);
	va_end(ap);
	len = strlen(err->message);
	snprintf(err->message + len, sizeof(err->message) - len, ": %s", old);
	return err->code;
}

void kvm_error_clear(struct kvm_error *err)
{
	if (!err)
		return;
	err->code = 0;
	err->message[0] = '\0';
}
