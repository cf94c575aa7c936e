# SPDX-License-Identifier: GPL-2.0-or-later
"""kvm-run with real KVM, in the KVM harness (tests/kvmharness.py): inside
a guest with emulated AMD SVM, where kvm_amd loads, `kvm-run --require-kvm
--profile linux` must find KVM usable and boot the harness's small guest
with it."""
import pytest

from conftest import TOP

# Boots guests or builds kernel modules: the sanitizer pass leaves it out.
pytestmark = pytest.mark.guest

kvmharness = pytest.importorskip(
    "kvmharness", reason="tests/kvmharness.py (the KVM harness of the kmod issue) is not there")


def test_require_kvm_boots_the_linux_profile_with_kvm(kvm_run):
    kvmharness.require()
    # The guest sees the host's root at the same paths.
    kvm_run = kvm_run.resolve()
    harness = kvmharness.Harness()
    data_dir = TOP.resolve() / "qemu-kvm"
    result = harness.run(f'''
modprobe kvm_amd && mark kvm-loaded
report kvm-run host_run env HOME=/run XDG_STATE_HOME=/run/state XDG_RUNTIME_DIR=/run \\
	KVM_RUN_DATA_DIR={data_dir} \\
	{kvm_run} --require-kvm --profile linux --memory 256M --cpus 1 --net none \\
	--console serial --name harness -- \\
	-kernel /boot/vmlinuz-$KERNEL_VERSION -initrd /run/kvmharness/guest.cpio \\
	-append "console=ttyS0 panic=-1 quiet no_timer_check" -no-reboot
report dry-run host_run env HOME=/run KVM_RUN_DATA_DIR={data_dir} \\
	{kvm_run} --dry-run --require-kvm --profile linux --console serial
''', modules=["kvm_amd"], timeout=600)
    assert result.finished, result.explain()
    assert "kvm-loaded" in result.markers, result.explain()
    dry_run = result.reports["dry-run"]
    assert dry_run.status == 0, dry_run.output
    lines = dry_run.output.splitlines()
    assert lines[lines.index("-accel") + 1] == "kvm"
    assert lines[lines.index("-cpu") + 1] == "host"
    booted = result.reports["kvm-run"]
    assert booted.status == 0, booted.output
    assert kvmharness.GUEST_MARKER in booted.output, result.explain()
    print(f"KVM harness run: {result.seconds:.1f} s")
