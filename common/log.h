/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Messages of command-line programs, on standard error, each prefixed by
 * the program's name.  Library code never calls these: it returns errors.
 */
#ifndef KVM_LOG_H
#define KVM_LOG_H

enum log_level {
	LOG_LEVEL_QUIET,	/* errors only (--quiet) */
	LOG_LEVEL_NORMAL,	/* warnings and notices */
	LOG_LEVEL_VERBOSE,	/* what is being done (--verbose) */
	LOG_LEVEL_DEBUG,	/* everything (--verbose twice) */
};

void log_set_program(const char *name);
const char *log_program(void);
void log_set_level(enum log_level level);
enum log_level log_get_level(void);

void log_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_notice(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_verbose(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_debug(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif
