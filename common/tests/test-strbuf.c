// SPDX-License-Identifier: GPL-2.0-or-later
#include <stdlib.h>
#include <string.h>

#include "strbuf.h"
#include "tap.h"

static void test_empty(void)
{
	struct strbuf sb = STRBUF_INIT;
	char *s;

	CHECK(sb.buf == strbuf_empty);
	CHECK_STR(sb.buf, "");
	strbuf_rtrim(&sb);
	strbuf_reset(&sb);
	strbuf_release(&sb);
	CHECK(sb.buf == strbuf_empty);

	/* Detaching an empty buffer still gives a string the caller frees. */
	s = strbuf_detach(&sb);
	CHECK(s != strbuf_empty);
	CHECK_STR(s, "");
	free(s);
	CHECK(sb.buf == strbuf_empty && sb.len == 0);
}

static void test_add(void)
{
	struct strbuf sb;
	char *s;

	strbuf_init(&sb, 4);
	CHECK(sb.alloc >= 5);
	strbuf_addstr(&sb, "abc");
	strbuf_addch(&sb, '-');
	strbuf_add(&sb, "xyz123", 3);
	strbuf_addf(&sb, "%d/%s", 42, "n");
	CHECK_STR(sb.buf, "abc-xyz42/n");
	CHECK_INT(sb.len, 11);

	strbuf_setlen(&sb, 3);
	CHECK_STR(sb.buf, "abc");
	strbuf_addstr(&sb, "  \n\t\n");
	strbuf_rtrim(&sb);
	CHECK_STR(sb.buf, "abc");

	s = strbuf_detach(&sb);
	CHECK_STR(s, "abc");
	CHECK(sb.buf == strbuf_empty);
	free(s);

	strbuf_addstr(&sb, "again");
	strbuf_reset(&sb);
	CHECK_STR(sb.buf, "");
	CHECK_INT(sb.len, 0);
	strbuf_release(&sb);
}

static void test_growth(void)
{
	struct strbuf sb = STRBUF_INIT;
	size_t i;
	int ok = 1;

	for (i = 0; i < 100000; i++)
		strbuf_addch(&sb, (char)('a' + i % 26));
	CHECK_INT(sb.len, 100000);
	CHECK(sb.alloc > sb.len);
	for (i = 0; i < 100000; i++)
		ok &= sb.buf[i] == (char)('a' + i % 26);
	CHECK(ok);
	CHECK(sb.buf[sb.len] == '\0');
	strbuf_release(&sb);
}

static void test_long_addf(void)
{
	struct strbuf sb = STRBUF_INIT;
	size_t len = 200000;
	char *big = malloc(len + 1);

	memset(big, 'x', len);
	big[len] = '\0';
	strbuf_addstr(&sb, "head:");
	strbuf_addf(&sb, "%s:%s", big, "tail");
	CHECK_INT(sb.len, 5 + len + 5);
	CHECK(strncmp(sb.buf, "head:xxx", 8) == 0);
	CHECK_STR(sb.buf + sb.len - 5, ":tail");

	/* Many short formats in a row, crossing the first allocation. */
	strbuf_reset(&sb);
	for (int i = 0; i < 1000; i++)
		strbuf_addf(&sb, "%04d,", i);
	CHECK_INT(sb.len, 5000);
	CHECK(strncmp(sb.buf + 4995, "0999,", 5) == 0);
	strbuf_release(&sb);
	free(big);
}

int main(void)
{
	test_empty();
	test_add();
	test_growth();
	test_long_addf();
	return tap_done();
}
