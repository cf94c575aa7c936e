// SPDX-License-Identifier: GPL-2.0-or-later
#include <errno.h>
#include <stdint.h>

#include "size.h"
#include "tap.h"

static uint64_t parse_ok(const char *s)
{
	struct kvm_error err = { 0 };
	uint64_t v = UINT64_MAX - 1;
	int r = size_parse(s, &v, &err);

	if (r < 0)
		printf("# %s: %s\n", s, err.message);
	return r < 0 ? UINT64_MAX - 1 : v;
}

static void test_valid(void)
{
	CHECK_INT(parse_ok("0"), 0);
	CHECK_INT(parse_ok("512"), 512);
	CHECK_INT(parse_ok("512b"), 512);
	CHECK_INT(parse_ok("64k"), 64 * 1024);
	CHECK_INT(parse_ok("64K"), 64 * 1024);
	CHECK_INT(parse_ok("64KiB"), 64 * 1024);
	CHECK_INT(parse_ok("64KB"), 64 * 1024);
	CHECK_INT(parse_ok("8G"), 8ULL << 30);
	CHECK_INT(parse_ok("8g"), 8ULL << 30);
	CHECK_INT(parse_ok("3m"), 3ULL << 20);
	CHECK_INT(parse_ok("1.5T"), 3ULL << 39);
	CHECK_INT(parse_ok("0.5k"), 512);
	CHECK_INT(parse_ok("2P"), 2ULL << 50);
	CHECK_INT(parse_ok("15E"), 15ULL << 60);
	CHECK_INT(parse_ok("18446744073709551615"), UINT64_MAX);
	CHECK_INT(parse_ok(".5M"), 512 * 1024);
}

static void test_invalid(void)
{
	static const char *const bad[] = {
		"", "-1", "+1", " 1", "1 ", "k", "abc", "12x", "1.5", "1.2.3", "1kk",
		"1bB", "1KiBs", "1iB", "0x10", ".", "1e3",
	};
	struct kvm_error err = { 0 };
	uint64_t v = 7;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		int r = size_parse(bad[i], &v, &err);

		if (!tap_check(r == -EINVAL, bad[i], __FILE__, __LINE__))
			printf("#   got %d (%s)\n", r, err.message);
	}
	CHECK_INT(v, 7);
	size_parse("12x", &v, &err);
	CHECK_STR(err.message, "12x: not a size (use e.g. 512, 64k, 8G)");
	CHECK_INT(err.code, -EINVAL);

	CHECK_INT(size_parse("16E", &v, &err), -ERANGE);
	CHECK_INT(size_parse("18446744073709551616", &v, &err), -ERANGE);
	CHECK_INT(size_parse("99999999999999999999999", &v, &err), -ERANGE);
	CHECK_INT(size_parse("15.99999E", &v, &err), 0);
	CHECK_INT(size_parse("17179869184G", &v, &err), -ERANGE);
	CHECK_INT(size_parse("1", &v, NULL), 0);
	CHECK_INT(size_parse("x", &v, NULL), -EINVAL);
}

int main(void)
{
	test_valid();
	test_invalid();
	return tap_done();
}
