// SPDX-License-Identifier: GPL-2.0-or-later
#include <stdarg.h>
#include <stdio.h>

#include "log.h"
#include "strbuf.h"

static const char *program_name = "kvm";
static enum log_level current_level = LOG_LEVEL_NORMAL;

void log_set_program(const char *name)
{
	program_name = name;
}

const char *log_program(void)
{
	return program_name;
}

void log_set_level(enum log_level level)
{
	current_level = level;
}

enum log_level log_get_level(void)
{
	return current_level;
}

/*
 * The line is built whole and written with one call, so that lines of
 * several threads do not interleave mid-line.
 */
static void log_vprint(enum log_level min_level, const char *fmt, va_list ap)
{
	struct strbuf line = STRBUF_INIT;

	if (current_level < min_level)
		return;
	strbuf_addf(&line, "%s: ", program_name);
	strbuf_vaddf(&line, fmt, ap);
	if (!line.len || line.buf[line.len - 1] != '\n')
		strbuf_addch(&line, '\n');
	fputs(line.buf, stderr);
	fflush(stderr);
	strbuf_release(&line);
}

void log_error(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_vprint(LOG_LEVEL_QUIET, fmt, ap);
	va_end(ap);
}

void log_warn(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_vprint(LOG_LEVEL_NORMAL, fmt, ap);
	va_end(ap);
}

void log_notice(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_vprint(LOG_LEVEL_NORMAL, fmt, ap);
	va_end(ap);
}

void log_verbose(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_vprint(LOG_LEVEL_VERBOSE, fmt, ap);
	va_end(ap);
}

void log_debug(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_vprint(LOG_LEVEL_DEBUG, fmt, ap);
	va_end(ap);
}
