// SPDX-License-Identifier: GPL-2.0-or-later
#include <stdlib.h>
#include <string.h>

#include "tap.h"
#include "xalloc.h"

int main(void)
{
	char *s, *t;
	int *zeros;
	void *p;

	s = xstrdup("hello");
	CHECK_STR(s, "hello");
	t = xstrndup("hello world", 5);
	CHECK_STR(t, "hello");
	free(t);
	t = xstrndup("hi", 10);
	CHECK_STR(t, "hi");
	free(t);

	zeros = xcalloc(16, sizeof(*zeros));
	CHECK(zeros[0] == 0 && zeros[15] == 0);
	free(zeros);

	s = xrealloc(s, 4096);
	CHECK_STR(s, "hello");
	free(s);

	/* Zero sizes still give a pointer that free accepts. */
	p = xmalloc(0);
	CHECK(p != NULL);
	free(p);
	p = xcalloc(0, 8);
	CHECK(p != NULL);
	free(p);
	return tap_done();
}
