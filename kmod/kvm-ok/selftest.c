// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The self-test: proves /dev/kvm really runs guests, which no file under
 * /sys can.  It creates a VM with one page of memory and one vCPU, and
 * runs a few real-mode instructions that leave the guest in each of the
 * ways a real guest does: port I/O, a memory-mapped I/O write, a write to
 * its own RAM, and HLT.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <linux/kvm.h>

#include "kvm-ok.h"

#define GUEST_BASE 0x1000	/* guest-physical address of the page */
#define GUEST_SIZE 0x1000
#define MMIO_ADDR 0x8000	/* outside the page, so an MMIO exit */
#define SERIAL_PORT 0x3f8
#define RAM_PROBE 0x1800	/* inside the page */
#define RUN_SECONDS 10

static const uint8_t guest_code[] = {
	0xba, 0xf8, 0x03,			/* mov dx, 0x3f8 */
	0x00, 0xd8,				/* add al, bl      (2 + 3) */
	0x04, '0',				/* add al, '0' */
	0xee,					/* out dx, al      -> '5' */
	0xc7, 0x06, 0x00, 0x80, 0x34, 0x12,	/* mov word [0x8000], 0x1234 */
	0xc6, 0x06, 0x00, 0x18, 0x42,		/* mov byte [0x1800], 0x42 */
	0xb0, '\n',				/* mov al, '\n' */
	0xee,					/* out dx, al */
	0xf4,					/* hlt */
};

/* What the guest must do, exit by exit. */
enum step { STEP_OUT_DIGIT, STEP_MMIO, STEP_OUT_NEWLINE, STEP_HALT, STEP_DONE };

static void on_alarm(int sig)
{
	(void)sig;
}

static int fail(struct selftest_result *result, const char *what, int error)
{
	strbuf_reset(&result->message);
	strbuf_addstr(&result->message, what);
	if (error)
		strbuf_addf(&result->message, ": %s", strerror(error));
	return -1;
}

/* Checks one exit against the step expected; returns the next step or -1. */
static int check_exit(struct selftest_result *result, const struct kvm_run *run,
		      enum step step)
{
	const uint8_t *io = (const uint8_t *)run + run->io.data_offset;

	switch (step) {
	case STEP_OUT_DIGIT:
	case STEP_OUT_NEWLINE:
		if (run->exit_reason != KVM_EXIT_IO || run->io.direction != KVM_EXIT_IO_OUT ||
		    run->io.port != SERIAL_PORT || run->io.size != 1)
			break;
		if (*io != (step == STEP_OUT_DIGIT ? '5' : '\n'))
			return fail(result, "the guest computed a wrong value (bad instruction emulation)", 0);
		return step + 1;
	case STEP_MMIO:
		if (run->exit_reason != KVM_EXIT_MMIO || !run->mmio.is_write ||
		    run->mmio.phys_addr != MMIO_ADDR || run->mmio.len != 2)
			break;
		if (run->mmio.data[0] != 0x34 || run->mmio.data[1] != 0x12)
			return fail(result, "the guest's MMIO write carried wrong data", 0);
		return step + 1;
	case STEP_HALT:
		if (run->exit_reason == KVM_EXIT_HLT)
			return step + 1;
		break;
	case STEP_DONE:
		break;
	}
	strbuf_reset(&result->message);
	strbuf_addf(&result->message, "unexpected VM exit %u at step %d", run->exit_reason, step);
	if (run->exit_reason == KVM_EXIT_FAIL_ENTRY)
		strbuf_addf(&result->message, " (entry failed, hardware reason 0x%llx)",
			    (unsigned long long)run->fail_entry.hardware_entry_failure_reason);
	else if (run->exit_reason == KVM_EXIT_INTERNAL_ERROR)
		strbuf_addf(&result->message, " (internal error, suberror %u)", run->internal.suberror);
	return -1;
}

void selftest_run(const char *dev, struct selftest_result *result)
{
	struct kvm_userspace_memory_region region = { 0 };
	struct sigaction action = { .sa_handler = on_alarm }, old_action;
	struct kvm_sregs sregs;
	struct kvm_regs regs = { 0 };
	struct kvm_run *run = MAP_FAILED;
	uint8_t *memory = MAP_FAILED;
	int kvm = -1, vm = -1, vcpu = -1, run_size = 0;
	enum step step = STEP_OUT_DIGIT;

	result->ran = true;
	result->passed = false;
	result->exits = 0;
	strbuf_reset(&result->message);

	kvm = open(dev, O_RDWR | O_CLOEXEC);
	if (kvm < 0) {
		fail(result, "cannot open /dev/kvm", errno);
		goto out;
	}
	if (ioctl(kvm, KVM_GET_API_VERSION, 0) != KVM_API_VERSION) {
		fail(result, "the kernel speaks another KVM API version", 0);
		goto out;
	}
	vm = ioctl(kvm, KVM_CREATE_VM, 0);
	if (vm < 0) {
		fail(result, "KVM_CREATE_VM failed", errno);
		goto out;
	}
	/* VMX without unrestricted guest emulates real mode through a TSS it
	 * needs a place for; SVM ignores it. */
	if (ioctl(kvm, KVM_CHECK_EXTENSION, KVM_CAP_SET_TSS_ADDR) > 0 &&
	    ioctl(vm, KVM_SET_TSS_ADDR, 0xfffbd000UL) < 0) {
		fail(result, "KVM_SET_TSS_ADDR failed", errno);
		goto out;
	}
	memory = mmap(NULL, GUEST_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (memory == MAP_FAILED) {
		fail(result, "cannot allocate the guest's memory", errno);
		goto out;
	}
	memcpy(memory, guest_code, sizeof(guest_code));
	region.guest_phys_addr = GUEST_BASE;
	region.memory_size = GUEST_SIZE;
	region.userspace_addr = (uintptr_t)memory;
	if (ioctl(vm, KVM_SET_USER_MEMORY_REGION, &region) < 0) {
		fail(result, "KVM_SET_USER_MEMORY_REGION failed", errno);
		goto out;
	}
	vcpu = ioctl(vm, KVM_CREATE_VCPU, 0);
	if (vcpu < 0) {
		fail(result, "KVM_CREATE_VCPU failed", errno);
		goto out;
	}
	run_size = ioctl(kvm, KVM_GET_VCPU_MMAP_SIZE, 0);
	if (run_size < (int)sizeof(*run)) {
		fail(result, "KVM_GET_VCPU_MMAP_SIZE failed", run_size < 0 ? errno : 0);
		goto out;
	}
	run = mmap(NULL, (size_t)run_size, PROT_READ | PROT_WRITE, MAP_SHARED, vcpu, 0);
	if (run == MAP_FAILED) {
		fail(result, "cannot map the vCPU's run structure", errno);
		goto out;
	}
	if (ioctl(vcpu, KVM_GET_SREGS, &sregs) < 0) {
		fail(result, "KVM_GET_SREGS failed", errno);
		goto out;
	}
	sregs.cs.base = 0;
	sregs.cs.selector = 0;
	if (ioctl(vcpu, KVM_SET_SREGS, &sregs) < 0) {
		fail(result, "KVM_SET_SREGS failed", errno);
		goto out;
	}
	regs.rip = GUEST_BASE;
	regs.rax = 2;
	regs.rbx = 3;
	regs.rflags = 0x2;
	if (ioctl(vcpu, KVM_SET_REGS, &regs) < 0) {
		fail(result, "KVM_SET_REGS failed", errno);
		goto out;
	}

	/* A guest that never exits must not hang kvm-ok: the alarm interrupts
	 * KVM_RUN with EINTR. */
	sigemptyset(&action.sa_mask);
	sigaction(SIGALRM, &action, &old_action);
	alarm(RUN_SECONDS);
	while (step != STEP_DONE) {
		int next;

		if (ioctl(vcpu, KVM_RUN, 0) < 0) {
			fail(result, errno == EINTR ? "the guest did not finish in time" : "KVM_RUN failed",
			     errno == EINTR ? 0 : errno);
			break;
		}
		result->exits++;
		next = check_exit(result, run, step);
		if (next < 0)
			break;
		step = next;
	}
	alarm(0);
	sigaction(SIGALRM, &old_action, NULL);
	if (step != STEP_DONE)
		goto out;
	if (memory[RAM_PROBE - GUEST_BASE] != 0x42) {
		fail(result, "the guest's write to its memory did not arrive", 0);
		goto out;
	}
	result->passed = true;
	strbuf_addf(&result->message,
		    "a VM ran %zu bytes of real-mode code: port I/O, MMIO, a RAM write and HLT, "
		    "in %u exits as expected", sizeof(guest_code), result->exits);
out:
	if (run != MAP_FAILED)
		munmap(run, (size_t)run_size);
	if (vcpu >= 0)
		close(vcpu);
	if (vm >= 0)
		close(vm);
	if (kvm >= 0)
		close(kvm);
	/* Only once the VM is gone, which still maps it. */
	if (memory != MAP_FAILED)
		munmap(memory, GUEST_SIZE);
}
