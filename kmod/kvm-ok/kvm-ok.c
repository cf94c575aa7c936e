// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * kvm-ok: tells whether this host can run KVM guests and, for each thing
 * that stands in the way, how to fix it.  What cpu-checker's kvm-ok and
 * libvirt's virt-host-validate check, in one tool, plus --selftest, which
 * runs a tiny guest to prove that /dev/kvm really works.
 *
 * Exit status: 0 usable, 1 not usable, 2 could not tell (or bad usage).
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>

#include "cli.h"
#include "config.h"
#include "json-out.h"
#include "kvm-ok.h"
#include "log.h"

static const char help[] =
	"Usage: kvm-ok [OPTIONS]\n"
	"\n"
	"Tell whether this host can run KVM guests, and how to fix what stands in\n"
	"the way: the CPU's virtualisation extension, the firmware, the kvm modules\n"
	"(in-tree or the bundle's build), /dev/kvm and its permissions, nested\n"
	"virtualisation, /dev/vhost-net, /dev/net/tun and the IOMMU.\n"
	"\n"
	"Options:\n"
	"  -s, --selftest          also run a tiny virtual machine through /dev/kvm\n"
	"      --output=human|json report for people (default) or programs\n"
	"  -q, --quiet             print nothing; only the exit status tells\n"
	"  -v, --verbose           say what is being looked at\n"
	"  -h, --help              show this help\n"
	"  -V, --version           show the version\n"
	"\n"
	"Exit status: 0 KVM can be used, 1 it cannot, 2 could not tell.\n";

enum { OPT_VERSION = 'V', OPT_SELFTEST = 's' };

static const struct option long_options[] = {
	{ "selftest", no_argument, NULL, OPT_SELFTEST },
	{ "version", no_argument, NULL, OPT_VERSION },
	CLI_COMMON_LONG_OPTIONS,
	{ NULL, 0, NULL, 0 },
};

int main(int argc, char **argv)
{
	struct cli_common common = { .progress = PROGRESS_NEVER };
	struct host_facts facts;
	struct report report;
	bool selftest = false;
	int opt, status;

	log_set_program("kvm-ok");
	while ((opt = getopt_long(argc, argv, "sV" CLI_COMMON_SHORT_OPTIONS, long_options,
				  NULL)) != -1) {
		int handled = cli_common_option(&common, opt, optarg, "kvm-ok");

		if (handled < 0)
			return KVM_OK_UNKNOWN;
		if (handled)
			continue;
		switch (opt) {
		case OPT_SELFTEST:
			selftest = true;
			break;
		case OPT_VERSION:
			printf("kvm-ok %s\n", PACKAGE_VERSION);
			return 0;
		}
	}
	if (common.help) {
		fputs(help, stdout);
		return 0;
	}
	if (optind != argc) {
		cli_usage_error("kvm-ok", "takes no arguments, '%s' is one", argv[optind]);
		return KVM_OK_UNKNOWN;
	}

	log_verbose("looking at /proc/cpuinfo, CPUID, the firmware's MSR, /sys/module, /dev%s",
		    selftest ? " and running the self-test" : "");
	host_facts_gather(&facts, "/", selftest);
	report_judge(&report, &facts);
	if (common.json) {
		struct json_object *obj = report_json(&report);

		json_out_print(stdout, obj);
		json_object_put(obj);
	} else if (log_get_level() != LOG_LEVEL_QUIET) {
		report_print(&report, stdout);
	}
	status = report.verdict;
	report_release(&report);
	host_facts_release(&facts);
	return status;
}
