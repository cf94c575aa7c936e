// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Gathering the facts kvm-ok judges: /proc/cpuinfo, CPUID, the MSRs that
 * say whether the firmware disabled VT-x or AMD-V, /sys/module, the device
 * nodes and the KVM API.  Nothing here decides anything.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <linux/kvm.h>

#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>
#endif

#include "kvm-ok.h"
#include "run.h"
#include "xalloc.h"

/* Reads a small file under ROOT into out; returns 0 or -errno. */
static int read_small_file(const char *root, const char *path, struct strbuf *out)
{
	struct strbuf full = STRBUF_INIT;
	char buf[4096];
	ssize_t n;
	int fd, ret = 0;

	strbuf_addf(&full, "%s%s", root, path);
	fd = open(full.buf, O_RDONLY | O_CLOEXEC);
	strbuf_release(&full);
	if (fd < 0)
		return -errno;
	while ((n = read(fd, buf, sizeof(buf))) != 0) {
		if (n < 0) {
			if (errno == EINTR)
				continue;
			ret = -errno;
			break;
		}
		strbuf_add(out, buf, (size_t)n);
	}
	close(fd);
	return ret;
}

/* The first line of a small file, or NULL when it cannot be read. */
static char *read_line(const char *root, const char *path)
{
	struct strbuf sb = STRBUF_INIT;

	if (read_small_file(root, path, &sb) < 0) {
		strbuf_release(&sb);
		return NULL;
	}
	strbuf_setlen(&sb, strcspn(sb.buf, "\n"));
	return strbuf_detach(&sb);
}

static bool exists(const char *root, const char *path)
{
	struct strbuf full = STRBUF_INIT;
	bool found;

	strbuf_addf(&full, "%s%s", root, path);
	found = access(full.buf, F_OK) == 0;
	strbuf_release(&full);
	return found;
}

/* Entries of a folder under ROOT, or -errno. */
static int count_entries(const char *root, const char *path)
{
	struct strbuf full = STRBUF_INIT;
	struct dirent *entry;
	int count = 0;
	DIR *dir;

	strbuf_addf(&full, "%s%s", root, path);
	dir = opendir(full.buf);
	strbuf_release(&full);
	if (!dir)
		return -errno;
	while ((entry = readdir(dir)) != NULL) {
		if (entry->d_name[0] != '.')
			count++;
	}
	closedir(dir);
	return count;
}

static bool is_live(const char *root)
{
	return strcmp(root, "/") == 0 || root[0] == '\0';
}

/* Programs of kmod live in /sbin, which a user's PATH may lack. */
static const char *kmod_program(const char *name, struct strbuf *path)
{
	static const char *const dirs[] = { "/usr/sbin/", "/sbin/", "/usr/bin/", "/bin/" };

	if (run_program_exists(name))
		return name;
	for (size_t i = 0; i < sizeof(dirs) / sizeof(dirs[0]); i++) {
		strbuf_reset(path);
		strbuf_addf(path, "%s%s", dirs[i], name);
		if (run_program_exists(path->buf))
			return path->buf;
	}
	return name;
}

static void gather_cpuid(struct host_facts *facts)
{
#if defined(__x86_64__) || defined(__i386__)
	unsigned eax, ebx, ecx, edx;

	if (__get_cpuid(1, &eax, &ebx, &ecx, &edx))
		facts->cpuid_vmx = ecx & (1u << 5);
	if (__get_cpuid(0x80000001, &eax, &ebx, &ecx, &edx))
		facts->cpuid_svm = ecx & (1u << 2);
#else
	(void)facts;
#endif
}

static int read_msr(uint32_t index, uint64_t *value)
{
	int fd = open("/dev/cpu/0/msr", O_RDONLY | O_CLOEXEC);
	ssize_t n;

	if (fd < 0)
		return -errno;
	n = pread(fd, value, sizeof(*value), index);
	close(fd);
	if (n < 0)
		return -errno;
	return n == sizeof(*value) ? 0 : -EIO;
}

static void gather_msr(struct host_facts *facts)
{
	bool intel = facts->cpu.vendor == CPU_VENDOR_INTEL || facts->cpuid_vmx;

	facts->msr_status = -ENODATA;
	if (!facts->cpuid_vmx && !facts->cpuid_svm)
		return;
	facts->msr_index = intel ? MSR_IA32_FEATURE_CONTROL : MSR_AMD_VM_CR;
	facts->msr_status = read_msr(facts->msr_index, &facts->msr_value);
	if (facts->msr_status == -ENOENT && facts->root) {
		/* The msr driver is a module on most distributions. */
		struct strbuf path = STRBUF_INIT;
		const char *argv[] = { kmod_program("modprobe", &path), "-q", "msr", NULL };
		struct run_cmd cmd;

		run_cmd_init(&cmd, argv);
		cmd.capture_stderr = true;
		if (run_command(&cmd, NULL) == 0 && cmd.status == 0)
			facts->msr_status = read_msr(facts->msr_index, &facts->msr_value);
		run_cmd_release(&cmd);
		strbuf_release(&path);
	}
}

/* "filename:" and "version:" of `modinfo NAME`: the file modprobe loads. */
static void gather_installed(struct module_state *module)
{
	struct strbuf path = STRBUF_INIT;
	const char *argv[] = { kmod_program("modinfo", &path), module->name, NULL };
	struct run_cmd cmd;

	run_cmd_init(&cmd, argv);
	cmd.capture_stdout = true;
	cmd.capture_stderr = true;
	if (run_command(&cmd, NULL) == 0 && cmd.status == 0) {
		for (char *save, *line = strtok_r(cmd.out.buf, "\n", &save); line;
		     line = strtok_r(NULL, "\n", &save)) {
			if (strncmp(line, "filename:", 9) == 0 && !module->installed_path)
				module->installed_path = xstrdup(line + 9 + strspn(line + 9, " \t"));
			else if (strncmp(line, "version:", 8) == 0)
				module->installed_is_bundle |=
					strstr(line, BUNDLE_VERSION_PREFIX) != NULL;
		}
	}
	run_cmd_release(&cmd);
	strbuf_release(&path);
}

static void gather_module(struct module_state *module, const char *name, const char *root)
{
	struct strbuf path = STRBUF_INIT;
	char *taint, *nested;
	bool present, initstate;

	module->name = name;
	strbuf_addf(&path, "/sys/module/%s", name);
	present = exists(root, path.buf);
	strbuf_addstr(&path, "/initstate");
	initstate = exists(root, path.buf);
	strbuf_reset(&path);
	strbuf_addf(&path, "/sys/module/%s/version", name);
	module->version = read_line(root, path.buf);
	strbuf_reset(&path);
	strbuf_addf(&path, "/sys/module/%s/taint", name);
	taint = read_line(root, path.buf);
	module->origin = module_classify(present, initstate, module->version, taint);
	free(taint);

	strbuf_reset(&path);
	strbuf_addf(&path, "/sys/module/%s/parameters/nested", name);
	nested = read_line(root, path.buf);
	module->nested = !nested ? -1 : (nested[0] == 'Y' || nested[0] == '1');
	free(nested);
	strbuf_release(&path);

	if (is_live(root))
		gather_installed(module);
}

static void gather_device(struct device_state *dev, const char *path, const char *root)
{
	struct strbuf full = STRBUF_INIT;
	struct passwd *pw;
	struct group *gr;
	struct stat st;
	int fd;

	dev->path = path;
	strbuf_addf(&full, "%s%s", root, path);
	if (stat(full.buf, &st) < 0) {
		dev->stat_errno = errno;
		dev->open_errno = errno;
		goto out;
	}
	dev->is_char = S_ISCHR(st.st_mode);
	dev->major = major(st.st_rdev);
	dev->minor = minor(st.st_rdev);
	dev->uid = st.st_uid;
	dev->gid = st.st_gid;
	dev->mode = st.st_mode & 07777;
	pw = getpwuid(st.st_uid);
	gr = getgrgid(st.st_gid);
	dev->owner = pw ? xstrdup(pw->pw_name) : NULL;
	dev->group = gr ? xstrdup(gr->gr_name) : NULL;
	fd = open(full.buf, O_RDWR | O_CLOEXEC);
	dev->open_errno = fd < 0 ? errno : 0;
	if (fd >= 0)
		close(fd);
out:
	strbuf_release(&full);
}

static int kvm_api_version(const char *path)
{
	int fd = open(path, O_RDWR | O_CLOEXEC), version;

	if (fd < 0)
		return -1;
	version = ioctl(fd, KVM_GET_API_VERSION, 0);
	close(fd);
	return version;
}

static void gather_user(struct host_facts *facts)
{
	struct passwd *pw = getpwuid(geteuid());
	struct group *kvm = getgrnam("kvm");
	gid_t groups[256];
	int n;

	facts->root = geteuid() == 0;
	if (pw)
		facts->user = xstrdup(pw->pw_name);
	else {
		struct strbuf uid = STRBUF_INIT;

		strbuf_addf(&uid, "uid %u", (unsigned)geteuid());
		facts->user = strbuf_detach(&uid);
	}
	if (!kvm)
		return;
	n = getgroups(sizeof(groups) / sizeof(groups[0]), groups);
	facts->user_in_kvm_group = getegid() == kvm->gr_gid;
	for (int i = 0; i < n; i++)
		facts->user_in_kvm_group |= groups[i] == kvm->gr_gid;
}

void host_facts_gather(struct host_facts *facts, const char *root, bool selftest)
{
	struct strbuf cpuinfo = STRBUF_INIT;
	const char *vendor_module;
	bool live = is_live(root);

	memset(facts, 0, sizeof(*facts));
	if (live)
		root = "";
	facts->msr_status = -ENODATA;
	facts->api_version = -1;
	strbuf_init(&facts->selftest.message, 0);
	gather_user(facts);

	facts->cpuinfo_status = read_small_file(root, "/proc/cpuinfo", &cpuinfo);
	if (facts->cpuinfo_status == 0)
		facts->cpuinfo_status = cpuinfo_parse(cpuinfo.buf, &facts->cpu, NULL);
	strbuf_release(&cpuinfo);

	if (live) {
		gather_cpuid(facts);
		gather_msr(facts);
	}

	gather_module(&facts->kvm, "kvm", root);
	vendor_module = cpu_vendor_module(facts->cpu.vendor);
	if (!vendor_module)
		vendor_module = exists(root, "/sys/module/kvm_amd") ? "kvm_amd" : "kvm_intel";
	gather_module(&facts->vendor, vendor_module, root);
	/* PVM runs KVM guests without VT-x or AMD-V, but only guest kernels
	 * built for it. */
	if (exists(root, "/sys/module/kvm_pvm"))
		facts->other_vendor = "kvm_pvm";

	gather_device(&facts->dev_kvm, "/dev/kvm", root);
	if (live && facts->dev_kvm.open_errno == 0)
		facts->api_version = kvm_api_version("/dev/kvm");
	gather_device(&facts->vhost_net, "/dev/vhost-net", root);
	gather_device(&facts->tun, "/dev/net/tun", root);

	facts->iommu_units = count_entries(root, "/sys/class/iommu");
	facts->iommu_groups = count_entries(root, "/sys/kernel/iommu_groups");

	facts->selftest_wanted = selftest;
	if (selftest && live && facts->dev_kvm.open_errno == 0)
		selftest_run("/dev/kvm", &facts->selftest);
}

static void module_state_release(struct module_state *module)
{
	free(module->version);
	free(module->installed_path);
}

static void device_state_release(struct device_state *dev)
{
	free(dev->owner);
	free(dev->group);
}

void host_facts_release(struct host_facts *facts)
{
	if (!facts)
		return;
	module_state_release(&facts->kvm);
	module_state_release(&facts->vendor);
	device_state_release(&facts->dev_kvm);
	device_state_release(&facts->vhost_net);
	device_state_release(&facts->tun);
	free(facts->user);
	strbuf_release(&facts->selftest.message);
}
