// SPDX-License-Identifier: GPL-2.0-or-later
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "tap.h"

/* Runs every log function at LEVEL with stderr in a file; returns its text. */
static char *log_all_at(enum log_level level)
{
	static char text[4096];
	FILE *tmp = tmpfile();
	int saved = dup(STDERR_FILENO);
	size_t n;

	fflush(stderr);
	dup2(fileno(tmp), STDERR_FILENO);
	log_set_level(level);
	log_error("e %d", 1);
	log_warn("w %d", 2);
	log_notice("n %d", 3);
	log_verbose("v %d", 4);
	log_debug("d %d", 5);
	fflush(stderr);
	dup2(saved, STDERR_FILENO);
	close(saved);

	rewind(tmp);
	n = fread(text, 1, sizeof(text) - 1, tmp);
	text[n] = '\0';
	fclose(tmp);
	return text;
}

int main(void)
{
	CHECK_STR(log_program(), "kvm");
	log_set_program("test-log");
	CHECK_STR(log_program(), "test-log");

	CHECK_STR(log_all_at(LOG_LEVEL_QUIET), "test-log: e 1\n");
	CHECK_INT(log_get_level(), LOG_LEVEL_QUIET);
	CHECK_STR(log_all_at(LOG_LEVEL_NORMAL), "test-log: e 1\ntest-log: w 2\ntest-log: n 3\n");
	CHECK_STR(log_all_at(LOG_LEVEL_VERBOSE),
		  "test-log: e 1\ntest-log: w 2\ntest-log: n 3\ntest-log: v 4\n");
	CHECK_STR(log_all_at(LOG_LEVEL_DEBUG),
		  "test-log: e 1\ntest-log: w 2\ntest-log: n 3\ntest-log: v 4\n"
		  "test-log: d 5\n");
	return tap_done();
}
