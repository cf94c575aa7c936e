/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The error every library function of the bundle fills.
 *
 * A function that can fail returns a negative errno and, when the caller
 * passed a struct kvm_error, leaves a one-line message in it naming the file
 * and the problem.  Only command-line code prints that message or exits.
 * This header is installed with libkvmimage, whose API uses the same type.
 */
#ifndef KVM_ERROR_H
#define KVM_ERROR_H

#define KVM_ERROR_MAX 512

struct kvm_error {
	int code;			/* negative errno; 0 when no error */
	char message[KVM_ERROR_MAX];
};

/* Records code and message in err (if not NULL) and returns code, so that
 * `return kvm_error_set(err, -EINVAL, "%s: bad magic", path);` reads well. */
int kvm_error_set(struct kvm_error *err, int code, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* Like kvm_error_set, with ": strerror(-code)" appended. */
int kvm_error_errno(struct kvm_error *err, int code, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* Puts "PREFIX: " before the message already in err; returns err->code. */
int kvm_error_prefix(struct kvm_error *err, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

void kvm_error_clear(struct kvm_error *err);

#endif
