/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * A minimal TAP producer for the C unit tests (meson runs them with
 * protocol 'tap').  Each CHECK is one test point; a failing one prints the
 * expression and its place and the run exits non-zero at the end.
 */
#ifndef KVM_TAP_H
#define KVM_TAP_H

#include <stdio.h>
#include <string.h>

static int tap_count;
static int tap_failed;

static inline int tap_check(int ok, const char *what, const char *file, int line)
{
	tap_count++;
	if (ok) {
		printf("ok %d - %s\n", tap_count, what);
	} else {
		tap_failed++;
		printf("not ok %d - %s\n#   at %s:%d\n", tap_count, what, file, line);
	}
	fflush(stdout);
	return ok;
}

#define CHECK(expr) tap_check(!!(expr), #expr, __FILE__, __LINE__)
#define CHECK_STR(a, b)                                                       \
	do {                                                                  \
		const char *tap_a_ = (a), *tap_b_ = (b);                      \
		if (!tap_check(tap_a_ && tap_b_ && strcmp(tap_a_, tap_b_) == 0, \
			       #a " == " #b, __FILE__, __LINE__))             \
			printf("#   got \"%s\", want \"%s\"\n",                 \
			       tap_a_ ? tap_a_ : "(null)", tap_b_ ? tap_b_ : "(null)"); \
	} while (0)
#define CHECK_INT(a, b)                                                       \
	do {                                                                  \
		long long tap_a_ = (long long)(a), tap_b_ = (long long)(b);   \
		if (!tap_check(tap_a_ == tap_b_, #a " == " #b, __FILE__, __LINE__)) \
			printf("#   got %lld, want %lld\n", tap_a_, tap_b_);      \
	} while (0)
/* The message left in a struct kvm_error contains NEEDLE. */
#define CHECK_MSG(err, needle)                                                \
	do {                                                                  \
		if (!tap_check(strstr((err).message, (needle)) != NULL,       \
			       "message has \"" needle "\"", __FILE__, __LINE__)) \
			printf("#   message: \"%s\"\n", (err).message);        \
	} while (0)

static inline int tap_done(void)
{
	printf("1..%d\n", tap_count);
	return tap_failed ? 1 : 0;
}

#endif
