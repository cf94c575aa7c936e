// SPDX-License-Identifier: GPL-2.0-or-later
#include <ctype.h>
#include <errno.h>
#include <stdbool.h>
#include <string.h>

#include "size.h"

static int suffix_shift(const char *s, unsigned int *shift)
{
	static const char units[] = "bkmgtpe";
	const char *unit;

	if (!*s) {
		*shift = 0;
		return 0;
	}
	unit = strchr(units, tolower((unsigned char)s[0]));
	if (!unit)
		return -1;
	*shift = 10 * (unsigned int)(unit - units);
	s++;
	/* "KiB" and "KB" are accepted; a bare "b" takes no "B" or "iB" after it. */
	if (*shift && s[0] == 'i' && s[1] == 'B')
		s += 2;
	else if (*shift && s[0] == 'B')
		s++;
	return *s ? -1 : 0;
}

int size_parse(const char *s, uint64_t *bytes, struct kvm_error *err)
{
	uint64_t whole = 0, frac_num = 0, frac_den = 1, value, frac_bytes;
	const char *p = s;
	unsigned int shift;
	bool digits = false, fraction = false;

	for (; *p >= '0' && *p <= '9'; p++) {
		uint64_t digit = (uint64_t)(*p - '0');

		digits = true;
		if (whole > (UINT64_MAX - digit) / 10)
			goto range;
		whole = whole * 10 + digit;
	}
	if (*p == '.') {
		fraction = true;
		p++;
		for (; *p >= '0' && *p <= '9'; p++) {
			digits = true;
			/* Digits past 18 cannot change a 64-bit result after the shift. */
			if (frac_den < 1000000000000000000ULL) {
				frac_num = frac_num * 10 + (uint64_t)(*p - '0');
				frac_den *= 10;
			}
		}
	}
	/* A fraction of a byte means a missing unit, not a rounding wish. */
	if (!digits || suffix_shift(p, &shift) < 0 || (fraction && !shift))
		return kvm_error_set(err, -EINVAL,
				     "%s: not a size (use e.g. 512, 64k, 8G)", s);
	if (shift && whole > (UINT64_MAX >> shift))
		goto range;
	value = whole << shift;
	if (frac_num) {
		/* frac_num / frac_den < 1, so this cannot exceed 2^shift. */
		unsigned __int128 f = (unsigned __int128)frac_num << shift;

		frac_bytes = (uint64_t)(f / frac_den);
		if (value > UINT64_MAX - frac_bytes)
			goto range;
		value += frac_bytes;
	}
	*bytes = value;
	return 0;

range:
	return kvm_error_set(err, -ERANGE, "%s: size too large", s);
}
