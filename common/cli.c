/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "config.h"
#include "log.h"
#include "strbuf.h"

int cli_common_option(struct cli_common *common, int opt, const char *arg,
		      const char *command)
{
	switch (opt) {
	case 'v':
		if (log_get_level() < LOG_LEVEL_DEBUG)
			log_set_level(log_get_level() + 1);
		return 1;
	case 'q':
		log_set_level(LOG_LEVEL_QUIET);
		return 1;
	case 'h':
		common->help = true;
		return 1;
	case 'p':
	case CLI_OPT_PROGRESS:
		common->progress = PROGRESS_ALWAYS;
		return 1;
	case CLI_OPT_NO_PROGRESS:
		common->progress = PROGRESS_NEVER;
		return 1;
	case CLI_OPT_OUTPUT:
		if (strcmp(arg, "json") == 0)
			common->json = true;
		else if (strcmp(arg, "human") == 0)
			common->json = false;
		else
			return -cli_usage_error(command, "--output takes human or json, not '%s'", arg);
		return 1;
	case '?':
		/* getopt has already said what was wrong. */
		fprintf(stderr, "(see %s --help)\n", command);
		return -1;
	}
	return 0;
}

int cli_parse(int argc, char **argv, const char *short_options,
	      const struct option *long_options, struct cli_common *common,
	      int (*handle)(int opt, const char *arg, void *ctx), void *ctx)
{
	struct strbuf shorts = STRBUF_INIT;
	int opt, status = 0;

	strbuf_addf(&shorts, "%s" CLI_COMMON_SHORT_OPTIONS, short_options);
	while (!status && (opt = getopt_long(argc, argv, shorts.buf, long_options, NULL)) != -1) {
		int handled = cli_common_option(common, opt, optarg, argv[0]);

		if (handled < 0)
			status = 1;
		else if (!handled && handle(opt, optarg, ctx) != 0)
			status = 1;
	}
	strbuf_release(&shorts);
	return status;
}

int cli_usage_error(const char *command, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "%s: ", command);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, " (see %s --help)\n", command);
	return 1;
}

int cli_run_command(const char *program, const struct cli_command *commands,
		    size_t n_commands, void (*usage)(FILE *out), int argc, char **argv)
{
	struct strbuf name = STRBUF_INIT;
	int status;

	if (argc < 2) {
		usage(stderr);
		return 1;
	}
	if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 ||
	    strcmp(argv[1], "help") == 0) {
		usage(stdout);
		return 0;
	}
	if (strcmp(argv[1], "--version") == 0 || strcmp(argv[1], "-V") == 0) {
		printf("%s %s\n", program, PACKAGE_VERSION);
		return 0;
	}
	for (size_t i = 0; i < n_commands; i++) {
		if (strcmp(argv[1], commands[i].name) != 0)
			continue;
		strbuf_addf(&name, "%s %s", program, commands[i].name);
		argv[1] = name.buf;
		status = commands[i].run(argc - 1, argv + 1);
		strbuf_release(&name);
		return status;
	}
	log_error("'%s' is not a command (see %s --help)", argv[1], program);
	return 1;
}
