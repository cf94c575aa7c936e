// SPDX-License-Identifier: GPL-2.0-or-later
/* Gathering facts from a made-up /proc, /sys and /dev. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "kvm-ok.h"
#include "run.h"
#include "tap.h"

static char root[] = "/tmp/test-kvm-ok-XXXXXX";

static int remove_tree(const char *path)
{
	const char *argv[] = { "rm", "-rf", path, NULL };
	struct run_cmd cmd;
	int ret;

	run_cmd_init(&cmd, argv);
	ret = run_command_ok(&cmd, NULL);
	run_cmd_release(&cmd);
	return ret;
}

static void put(const char *path, const char *text)
{
	struct strbuf full = STRBUF_INIT;
	FILE *f;

	strbuf_addf(&full, "%s/%s", root, path);
	for (char *slash = strchr(full.buf + strlen(root) + 1, '/'); slash;
	     slash = strchr(slash + 1, '/')) {
		*slash = '\0';
		mkdir(full.buf, 0755);
		*slash = '/';
	}
	if (text) {
		f = fopen(full.buf, "w");
		fputs(text, f);
		fclose(f);
	} else {
		mkdir(full.buf, 0755);
	}
	strbuf_release(&full);
}

int main(void)
{
	struct strbuf path = STRBUF_INIT;
	struct host_facts f;
	struct report r;

	if (!mkdtemp(root))
		return 1;
	put("proc/cpuinfo", "processor\t: 0\nvendor_id\t: AuthenticAMD\n"
			    "model name\t: AMD EPYC Processor\nflags\t\t: fpu svm hypervisor\n");
	put("sys/module/kvm/initstate", "live\n");
	put("sys/module/kvm/version", "kvm-bundle-0.1.0+26add7866727b917\n");
	put("sys/module/kvm/taint", "OE\n");
	put("sys/module/kvm_amd/initstate", "live\n");
	put("sys/module/kvm_amd/taint", "\n");
	put("sys/module/kvm_amd/parameters/nested", "1\n");
	put("sys/class/iommu", NULL);
	put("sys/kernel/iommu_groups/0", NULL);
	/* A regular file where the device node should be. */
	put("dev/kvm", "");

	host_facts_gather(&f, root, false);
	CHECK_INT(f.cpuinfo_status, 0);
	CHECK_INT(f.cpu.vendor, CPU_VENDOR_AMD);
	CHECK(f.cpu.svm);
	CHECK_STR(f.kvm.name, "kvm");
	CHECK_INT(f.kvm.origin, MODULE_BUNDLE);
	CHECK_STR(f.kvm.version, "kvm-bundle-0.1.0+26add7866727b917");
	CHECK_STR(f.vendor.name, "kvm_amd");
	CHECK_INT(f.vendor.origin, MODULE_IN_TREE);
	CHECK_INT(f.vendor.nested, 1);
	CHECK_INT(f.dev_kvm.stat_errno, 0);
	CHECK(!f.dev_kvm.is_char);
	CHECK_INT(f.vhost_net.stat_errno, ENOENT);
	CHECK_INT(f.iommu_units, 0);
	CHECK_INT(f.iommu_groups, 1);
	/* Not the live host: no MSR, no API. */
	CHECK_INT(f.msr_status, -ENODATA);
	CHECK_INT(f.api_version, -1);

	report_judge(&r, &f);
	CHECK_INT(report_find(&r, "device")->status, CHECK_FAIL);
	CHECK(strstr(report_find(&r, "device")->summary.buf, "not a character device") != NULL);
	CHECK_INT(r.verdict, KVM_OK_NOT_USABLE);
	report_release(&r);
	host_facts_release(&f);

	/* Without /proc: could not tell. */
	strbuf_addf(&path, "%s/proc", root);
	CHECK_INT(remove_tree(path.buf), 0);
	strbuf_reset(&path);
	strbuf_addf(&path, "%s/dev", root);
	CHECK_INT(remove_tree(path.buf), 0);
	host_facts_gather(&f, root, false);
	CHECK_INT(f.cpuinfo_status, -ENOENT);
	report_judge(&r, &f);
	CHECK_INT(report_find(&r, "cpu")->status, CHECK_UNKNOWN);
	CHECK_INT(report_find(&r, "device")->status, CHECK_FAIL);
	report_release(&r);
	host_facts_release(&f);

	CHECK_INT(remove_tree(root), 0);
	strbuf_release(&path);
	return tap_done();
}
