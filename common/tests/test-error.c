// SPDX-License-Identifier: GPL-2.0-or-later
#include <errno.h>
#include <string.h>

#include "kvm-error.h"
#include "tap.h"

static void test_set(void)
{
	struct kvm_error err = { 0 };

	CHECK_INT(kvm_error_set(&err, -EINVAL, "%s: bad magic 0x%x", "a.img", 0x1234), -EINVAL);
	CHECK_INT(err.code, -EINVAL);
	CHECK_STR(err.message, "a.img: bad magic 0x1234");
	CHECK_INT(kvm_error_set(NULL, -EIO, "nothing %d", 1), -EIO);

	kvm_error_clear(&err);
	CHECK_INT(err.code, 0);
	CHECK_STR(err.message, "");
	kvm_error_clear(NULL);
}

static void test_errno(void)
{
	struct kvm_error err = { 0 };
	char want[KVM_ERROR_MAX];

	CHECK_INT(kvm_error_errno(&err, -ENOENT, "%s", "b.vmdk"), -ENOENT);
	snprintf(want, sizeof(want), "b.vmdk: %s", strerror(ENOENT));
	CHECK_STR(err.message, want);
	CHECK_INT(kvm_error_errno(NULL, -EPERM, "x"), -EPERM);
}

static void test_prefix(void)
{
	struct kvm_error err = { 0 };

	kvm_error_set(&err, -EIO, "read failed");
	CHECK_INT(kvm_error_prefix(&err, "%s", "disk.qcow2"), -EIO);
	CHECK_STR(err.message, "disk.qcow2: read failed");
	CHECK_INT(err.code, -EIO);
}

static void test_truncation(void)
{
	struct kvm_error err = { 0 };
	char long_name[3 * KVM_ERROR_MAX];

	memset(long_name, 'n', sizeof(long_name) - 1);
	long_name[sizeof(long_name) - 1] = '\0';

	kvm_error_set(&err, -EINVAL, "%s: bad", long_name);
	CHECK_INT(strlen(err.message), KVM_ERROR_MAX - 1);
	CHECK(err.message[0] == 'n' && err.message[KVM_ERROR_MAX - 2] == 'n');

	kvm_error_errno(&err, -EIO, "%s", long_name);
	CHECK_INT(strlen(err.message), KVM_ERROR_MAX - 1);
	CHECK_INT(err.code, -EIO);

	/* A prefix that fills everything still leaves a terminated message. */
	kvm_error_set(&err, -EIO, "short");
	kvm_error_prefix(&err, "%s", long_name);
	CHECK_INT(strlen(err.message), KVM_ERROR_MAX - 1);

	kvm_error_set(&err, -EIO, "%s", long_name);
	kvm_error_prefix(&err, "p");
	CHECK_INT(strlen(err.message), KVM_ERROR_MAX - 1);
	CHECK(strncmp(err.message, "p: nnn", 6) == 0);
}

int main(void)
{
	test_set();
	test_errno();
	test_prefix();
	test_truncation();
	return tap_done();
}
