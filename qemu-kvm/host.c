/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * What the host offers: whether KVM really works, and where this
 * distribution put QEMU, its firmware and swtpm.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/if.h>
#include <linux/if_tun.h>
#include <linux/kvm.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "kvm-run.h"
#include "run.h"
#include "xalloc.h"

#define KVM_DEVICE "/dev/kvm"

/*
 * Runs one instruction, hlt, in real mode in a new VM.  The module loads on
 * CPUs whose VT-x/AMD-V the firmware turned off, and some nested set-ups
 * create VMs that cannot run a normal guest; only running one tells.
 */
static int run_test_guest(int kvm, int vm, struct kvm_error *err)
{
	const uint64_t guest_address = 0x1000;
	struct kvm_userspace_memory_region region;
	struct kvm_sregs sregs;
	struct kvm_regs regs;
	struct kvm_run *run = MAP_FAILED;
	uint8_t *memory;
	long run_size;
	int vcpu = -1, ret = 0;

	memory = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (memory == MAP_FAILED)
		return kvm_error_errno(err, -errno, KVM_DEVICE ": test guest memory");
	memory[0] = 0xf4;	/* hlt */
	region = (struct kvm_userspace_memory_region){
		.slot = 0,
		.guest_phys_addr = guest_address,
		.memory_size = 4096,
		.userspace_addr = (uint64_t)(uintptr_t)memory,
	};
	if (ioctl(vm, KVM_SET_USER_MEMORY_REGION, &region) < 0) {
		ret = kvm_error_errno(err, -errno, KVM_DEVICE ": cannot give a VM memory");
		goto out;
	}
	vcpu = ioctl(vm, KVM_CREATE_VCPU, 0);
	run_size = ioctl(kvm, KVM_GET_VCPU_MMAP_SIZE, 0);
	if (vcpu < 0 || run_size <= 0) {
		ret = kvm_error_errno(err, -errno, KVM_DEVICE ": cannot create a virtual CPU");
		goto out;
	}
	run = mmap(NULL, (size_t)run_size, PROT_READ | PROT_WRITE, MAP_SHARED, vcpu, 0);
	if (run == MAP_FAILED) {
		ret = kvm_error_errno(err, -errno, KVM_DEVICE ": cannot map a virtual CPU");
		goto out;
	}
	if (ioctl(vcpu, KVM_GET_SREGS, &sregs) < 0) {
		ret = kvm_error_errno(err, -errno, KVM_DEVICE ": cannot read a virtual CPU");
		goto out;
	}
	sregs.cs.base = 0;
	sregs.cs.selector = 0;
	memset(&regs, 0, sizeof(regs));
	regs.rip = guest_address;
	regs.rflags = 0x2;	/* bit 1 is always set */
	if (ioctl(vcpu, KVM_SET_SREGS, &sregs) < 0 || ioctl(vcpu, KVM_SET_REGS, &regs) < 0) {
		ret = kvm_error_errno(err, -errno, KVM_DEVICE ": cannot set up a virtual CPU");
		goto out;
	}
	if (ioctl(vcpu, KVM_RUN, 0) < 0) {
		ret = kvm_error_errno(err, -errno, KVM_DEVICE ": cannot run a test guest");
		goto out;
	}
	if (run->exit_reason != KVM_EXIT_HLT)
		ret = kvm_error_set(err, -ENOTSUP,
				    KVM_DEVICE ": a test guest stopped for reason %u, not at its hlt "
				    "(a nested or partial KVM?)", run->exit_reason);
out:
	if (run != MAP_FAILED)
		munmap(run, (size_t)run_size);
	if (vcpu >= 0)
		close(vcpu);
	munmap(memory, 4096);
	return ret;
}

static bool module_loaded(const char *name)
{
	struct strbuf path = STRBUF_INIT;
	bool loaded;

	strbuf_addf(&path, "/sys/module/%s", name);
	loaded = access(path.buf, F_OK) == 0;
	strbuf_release(&path);
	return loaded;
}

int host_kvm_usable(struct kvm_error *err)
{
	int fd, vm, version, ret;

	/* PVM serves /dev/kvm without VT-x/AMD-V but runs only guest kernels
	 * built for it: QEMU's machines crash or hang there. */
	if (module_loaded("kvm_pvm") && !module_loaded("kvm_intel") && !module_loaded("kvm_amd"))
		return kvm_error_set(err, -ENOTSUP,
				     KVM_DEVICE " is served by kvm_pvm, which runs only guests built "
				     "for PVM; kvm_intel or kvm_amd is needed");

	fd = open(KVM_DEVICE, O_RDWR | O_CLOEXEC);
	if (fd < 0 && errno == ENOENT)
		return kvm_error_set(err, -ENOENT,
				     KVM_DEVICE " does not exist: the kvm module is not loaded "
				     "or this CPU has no VT-x/AMD-V");
	if (fd < 0 && (errno == EACCES || errno == EPERM))
		return kvm_error_set(err, -EACCES,
				     KVM_DEVICE ": permission denied: join the group that owns it (kvm)");
	if (fd < 0)
		return kvm_error_errno(err, -errno, KVM_DEVICE);

	version = ioctl(fd, KVM_GET_API_VERSION, 0);
	if (version != KVM_API_VERSION) {
		ret = kvm_error_set(err, -ENOTSUP, KVM_DEVICE ": API version %d, QEMU needs %d",
				    version, KVM_API_VERSION);
		goto out;
	}
	vm = ioctl(fd, KVM_CREATE_VM, 0);
	if (vm < 0) {
		ret = kvm_error_errno(err, -errno, KVM_DEVICE ": cannot create a virtual machine");
		goto out;
	}
	ret = run_test_guest(fd, vm, err);
	close(vm);
out:
	close(fd);
	return ret;
}

/* Distribution files are looked for under KVM_RUN_ROOT, "/" by default. */
static void under_root(const char *path, struct strbuf *out)
{
	const char *root = getenv("KVM_RUN_ROOT");

	strbuf_reset(out);
	if (root && root[0] && strcmp(root, "/"))
		strbuf_addstr(out, root);
	strbuf_addstr(out, path);
}

static bool is_file(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

/* The first of PATHS (NULL-terminated) that exists under the root. */
static char *first_file(const char *const *paths)
{
	struct strbuf path = STRBUF_INIT;

	for (; *paths; paths++) {
		under_root(*paths, &path);
		if (is_file(path.buf))
			return strbuf_detach(&path);
	}
	strbuf_release(&path);
	return NULL;
}

/*
 * The KVM-only QEMU (qemu-kvm/core, a package of its own), when installed:
 * KVM_RUN_QEMU_CORE names another one (the tests' build), or is set empty
 * to leave it out.  *PATH is NULL when there is none.
 */
static int find_qemu_core(char **path, struct kvm_error *err)
{
	static const char *const installed[] = { KVM_RUN_QEMU_CORE, NULL };
	const char *chosen = getenv("KVM_RUN_QEMU_CORE");

	*path = NULL;
	if (!chosen) {
		*path = first_file(installed);
		return 0;
	}
	if (!chosen[0])
		return 0;
	if (access(chosen, X_OK) < 0)
		return kvm_error_set(err, -ENOENT, "%s: no such program (KVM_RUN_QEMU_CORE)", chosen);
	*path = xstrdup(chosen);
	return 0;
}

int host_find_qemu(struct host_files *files, bool kvm, struct kvm_error *err)
{
	/* RHEL ships QEMU only there; never the name in PATH, which may be us. */
	static const char *const rhel[] = { "/usr/libexec/qemu-kvm", NULL };
	const char *chosen = getenv("KVM_RUN_QEMU");
	char *core;
	int ret;

	files->qemu_kvm_only = false;
	if (chosen && chosen[0]) {
		if (!run_program_exists(chosen))
			return kvm_error_set(err, -ENOENT, "%s: no such program (KVM_RUN_QEMU)",
					     chosen);
		files->qemu = xstrdup(chosen);
		return 0;
	}
	ret = find_qemu_core(&core, err);
	if (ret < 0)
		return ret;
	/* It has no software emulator: guests without KVM need the other. */
	if (core && kvm) {
		files->qemu = core;
		files->qemu_kvm_only = true;
		return 0;
	}
	if (run_program_exists("qemu-system-x86_64"))
		files->qemu = xstrdup("qemu-system-x86_64");
	else
		files->qemu = first_file(rhel);
	if (files->qemu) {
		free(core);
		return 0;
	}
	ret = core ? kvm_error_set(err, -ENOENT,
				   "%s runs guests only with KVM, and software emulation needs "
				   "qemu-system-x86_64, which is not installed", core)
		   : kvm_error_set(err, -ENOENT,
				   "qemu-system-x86_64: not installed (the package is "
				   "qemu-system-x86 on Debian, qemu-x86 on openSUSE, "
				   "qemu-system-x86-core on Fedora)");
	free(core);
	return ret;
}

int host_find_seabios(struct host_files *files, struct kvm_error *err)
{
	static const char *const paths[] = {
		"/usr/share/seabios/bios-256k.bin",	/* Debian, Fedora */
		"/usr/share/qemu/bios-256k.bin",	/* openSUSE */
		NULL,
	};

	files->seabios = first_file(paths);
	if (!files->seabios)
		return kvm_error_set(err, -ENOENT,
				     "SeaBIOS: not installed (the package is seabios on Debian, "
				     "qemu-seabios on openSUSE, seabios-bin on Fedora)");
	return 0;
}

struct ovmf_pair {
	const char *code;
	const char *vars;
};

int host_find_ovmf(struct host_files *files, bool secure_boot, struct kvm_error *err)
{
	/* Secure Boot wants the SMM build and variables with Microsoft's keys
	 * enrolled, which Windows' boot loader is signed with. */
	static const struct ovmf_pair secure[] = {
		{ "/usr/share/OVMF/OVMF_CODE_4M.secboot.fd", "/usr/share/OVMF/OVMF_VARS_4M.ms.fd" },
		{ "/usr/share/OVMF/OVMF_CODE.secboot.fd", "/usr/share/OVMF/OVMF_VARS.ms.fd" },
		{ "/usr/share/qemu/ovmf-x86_64-ms-4m-code.bin", "/usr/share/qemu/ovmf-x86_64-ms-4m-vars.bin" },
		{ "/usr/share/qemu/ovmf-x86_64-ms-code.bin", "/usr/share/qemu/ovmf-x86_64-ms-vars.bin" },
		{ "/usr/share/edk2/ovmf-4m/OVMF_CODE.secboot.fd", "/usr/share/edk2/ovmf-4m/OVMF_VARS.secboot.fd" },
		{ "/usr/share/edk2/ovmf/OVMF_CODE.secboot.fd", "/usr/share/edk2/ovmf/OVMF_VARS.secboot.fd" },
		{ NULL, NULL },
	};
	static const struct ovmf_pair plain[] = {
		{ "/usr/share/OVMF/OVMF_CODE_4M.fd", "/usr/share/OVMF/OVMF_VARS_4M.fd" },
		{ "/usr/share/OVMF/OVMF_CODE.fd", "/usr/share/OVMF/OVMF_VARS.fd" },
		{ "/usr/share/qemu/ovmf-x86_64-4m-code.bin", "/usr/share/qemu/ovmf-x86_64-4m-vars.bin" },
		{ "/usr/share/qemu/ovmf-x86_64-code.bin", "/usr/share/qemu/ovmf-x86_64-vars.bin" },
		{ "/usr/share/edk2/ovmf-4m/OVMF_CODE.fd", "/usr/share/edk2/ovmf-4m/OVMF_VARS.fd" },
		{ "/usr/share/edk2/ovmf/OVMF_CODE.fd", "/usr/share/edk2/ovmf/OVMF_VARS.fd" },
		{ NULL, NULL },
	};
	struct strbuf code = STRBUF_INIT, vars = STRBUF_INIT;

	for (const struct ovmf_pair *pair = secure_boot ? secure : plain; pair->code; pair++) {
		under_root(pair->code, &code);
		under_root(pair->vars, &vars);
		if (is_file(code.buf) && is_file(vars.buf)) {
			files->ovmf_code = strbuf_detach(&code);
			files->ovmf_vars = strbuf_detach(&vars);
			return 0;
		}
	}
	strbuf_release(&code);
	strbuf_release(&vars);
	return kvm_error_set(err, -ENOENT,
			     "OVMF%s: not installed (the package is ovmf on Debian, qemu-ovmf-x86_64 "
			     "on openSUSE, edk2-ovmf on Fedora)",
			     secure_boot ? " with Secure Boot" : "");
}

int host_find_swtpm(struct host_files *files, struct kvm_error *err)
{
	if (!run_program_exists("swtpm"))
		return kvm_error_set(err, -ENOENT,
				     "swtpm: not installed, and the guest's TPM needs it (the package "
				     "is swtpm)");
	files->swtpm = xstrdup("swtpm");
	return 0;
}

void host_find_virtio_win(struct host_files *files)
{
	/* Fedora's and RHEL's virtio-win package; elsewhere users put it there. */
	static const char *const paths[] = {
		"/usr/share/virtio-win/virtio-win.iso",
		NULL,
	};

	files->virtio_win = first_file(paths);
}

void host_files_release(struct host_files *files)
{
	if (!files)
		return;
	free(files->qemu);
	free(files->seabios);
	free(files->ovmf_code);
	free(files->ovmf_vars);
	free(files->swtpm);
	free(files->virtio_win);
	memset(files, 0, sizeof(*files));
}

static bool valid_ifname(const char *name)
{
	size_t len = strlen(name);

	return len > 0 && len < IFNAMSIZ && !strchr(name, '/') && !strchr(name, ',') &&
	       strcmp(name, ".") && strcmp(name, "..");
}

int host_check_bridge(const char *bridge, struct kvm_error *err)
{
	struct strbuf path = STRBUF_INIT;
	struct stat st;
	int ret = 0;

	if (!valid_ifname(bridge))
		return kvm_error_set(err, -EINVAL, "%s: not a network interface name", bridge);
	strbuf_addf(&path, "/sys/class/net/%s/bridge", bridge);
	if (stat(path.buf, &st) < 0 || !S_ISDIR(st.st_mode))
		ret = kvm_error_set(err, -ENODEV, "%s: no such bridge", bridge);
	strbuf_release(&path);
	return ret;
}

int host_check_tap(const char *tap, struct kvm_error *err)
{
	struct strbuf path = STRBUF_INIT;
	struct ifreq ifr;
	int fd, ret = 0;

	if (!valid_ifname(tap))
		return kvm_error_set(err, -EINVAL, "%s: not a network interface name", tap);
	/* Attaching to a name that does not exist would create a new TAP. */
	strbuf_addf(&path, "/sys/class/net/%s/tun_flags", tap);
	if (access(path.buf, F_OK) < 0) {
		ret = kvm_error_set(err, -ENODEV, "%s: no such TAP device", tap);
		goto out;
	}
	fd = open("/dev/net/tun", O_RDWR | O_CLOEXEC);
	if (fd < 0) {
		ret = kvm_error_errno(err, -errno, "/dev/net/tun");
		goto out;
	}
	/* A TAP one process holds cannot be attached by another: QEMU would fail
	 * with a vague message after the guest's set-up, so try it first. */
	memset(&ifr, 0, sizeof(ifr));
	ifr.ifr_flags = IFF_TAP | IFF_NO_PI;
	memcpy(ifr.ifr_name, tap, strlen(tap));
	if (ioctl(fd, TUNSETIFF, &ifr) < 0) {
		if (errno == EBUSY)
			ret = kvm_error_set(err, -EBUSY, "%s: TAP device in use by another program",
					    tap);
		else if (errno == EPERM)
			ret = kvm_error_set(err, -EPERM,
					    "%s: not allowed to use this TAP device (is it owned by "
					    "another user?)", tap);
		else
			ret = kvm_error_errno(err, -errno, "%s: cannot attach to the TAP device", tap);
	}
	close(fd);
out:
	strbuf_release(&path);
	return ret;
}
