// SPDX-License-Identifier: GPL-2.0-or-later
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "progress.h"
#include "tap.h"

static size_t run_progress(enum progress_mode mode, char *text, size_t size)
{
	struct progress p;
	FILE *tmp = tmpfile();
	size_t n;

	progress_start(&p, mode, tmp, "Converting", 1000);
	for (uint64_t done = 0; done <= 1000; done += 50)
		progress_update(&p, done);
	progress_finish(&p);
	rewind(tmp);
	n = fread(text, 1, size - 1, tmp);
	text[n] = '\0';
	fclose(tmp);
	return n;
}

static int count_lines(const char *text)
{
	int lines = 0;

	for (; *text; text++)
		lines += *text == '\n';
	return lines;
}

/* On a terminal 30 columns wide: redraws in place, fitted to the width. */
static void test_terminal(void)
{
	struct winsize ws = { .ws_row = 24, .ws_col = 30 };
	char text[8192], *line, *save = NULL;
	int master, slave, widest = 0;
	struct progress p;
	FILE *out;
	ssize_t n;

	master = posix_openpt(O_RDWR | O_NOCTTY);
	if (master < 0 || grantpt(master) < 0 || unlockpt(master) < 0) {
		printf("ok %d # SKIP no pseudo-terminal\n", ++tap_count);
		return;
	}
	slave = open(ptsname(master), O_RDWR | O_NOCTTY);
	ioctl(slave, TIOCSWINSZ, &ws);
	out = fdopen(slave, "w");

	progress_start(&p, PROGRESS_AUTO, out, "Converting a long label", 3ULL << 30);
	CHECK(p.active && p.tty);
	progress_update(&p, 1ULL << 30);
	progress_finish(&p);
	fclose(out);

	/* The terminal hands its data over in pieces; once the slave side is
	 * closed, read ends with EIO. */
	n = 0;
	for (ssize_t got; (got = read(master, text + n, sizeof(text) - 1 - (size_t)n)) > 0;)
		n += got;
	close(master);
	CHECK(n > 0);
	text[n > 0 ? n : 0] = '\0';
	CHECK(strchr(text, '\r') != NULL);
	CHECK(strstr(text, "100%") != NULL);
	CHECK(strstr(text, "3.0/3.0 GiB") != NULL);
	CHECK(n > 0 && text[n - 1] == '\n');
	for (line = strtok_r(text, "\r\n", &save); line; line = strtok_r(NULL, "\r\n", &save)) {
		char *clear = strstr(line, "\033[K");
		int width = clear ? (int)(clear - line) : (int)strlen(line);

		widest = width > widest ? width : widest;
	}
	CHECK(widest > 0 && widest < 30);
}

int main(void)
{
	char text[8192], buf[32];
	size_t n;

	n = run_progress(PROGRESS_ALWAYS, text, sizeof(text));
	CHECK(n > 0);
	CHECK(strstr(text, "Converting") != NULL);
	CHECK(strstr(text, "100%") != NULL);
	CHECK(strstr(text, " 50%") != NULL);
	/* Not a terminal: one line per tenth and the last, no redraws. */
	CHECK(strchr(text, '\r') == NULL);
	CHECK_INT(count_lines(text), 10);
	CHECK(text[n - 1] == '\n');
	printf("# %.*s", (int)(strchr(text, '\n') - text + 1), text);

	CHECK_INT(run_progress(PROGRESS_NEVER, text, sizeof(text)), 0);
	CHECK_INT(run_progress(PROGRESS_AUTO, text, sizeof(text)), 0);

	test_terminal();

	CHECK_STR(progress_format_bytes(0, buf, sizeof(buf)), "0 B");
	CHECK_STR(progress_format_bytes(512, buf, sizeof(buf)), "512 B");
	CHECK_STR(progress_format_bytes(1023, buf, sizeof(buf)), "1023 B");
	CHECK_STR(progress_format_bytes(1024, buf, sizeof(buf)), "1.0 KiB");
	CHECK_STR(progress_format_bytes(1536, buf, sizeof(buf)), "1.5 KiB");
	CHECK_STR(progress_format_bytes(2ULL << 30, buf, sizeof(buf)), "2.0 GiB");
	CHECK_STR(progress_format_bytes((1ULL << 20) - 1, buf, sizeof(buf)), "1.0 MiB");
	CHECK_STR(progress_format_bytes(UINT64_MAX, buf, sizeof(buf)), "16.0 EiB");
	CHECK_STR(progress_format_bytes(1536, buf, 4), "1.5");
	return tap_done();
}
