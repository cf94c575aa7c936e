# SPDX-License-Identifier: GPL-2.0-or-later
"""The KVM-only QEMU of qemu-kvm/core, built from Debian's own QEMU source
by qemu-kvm/core/build-qemu-core (cached in ~/.cache/kvm-bundle/qemu-core/;
the first build takes 15 to 40 minutes on this shared machine):

- it lists only kvm as accelerator, refuses tcg, defaults to q35, and has
  the devices of qemu-kvm/core/devices.mak and not the others;
- on a host without /dev/kvm it refuses to start a guest with our patch's
  message pointing to kvm-ok.  This machine's /dev/kvm comes from kvm_pvm
  and opens, so the test hides it: QEMU runs in a mount namespace of its
  own whose /dev is a fresh tmpfs holding only null, zero, full, random
  and urandom;
- every patch of the series applies to the current Debian source, and a
  patch that does not is named;
- in the KVM harness, kvm-run --require-kvm runs it and boots a Linux guest
  with KVM, on q35 (profile linux) and on i440FX (-M pc, profile legacy),
  with the firmware of the distribution's folders.
"""
import ctypes
import os
import pathlib
import re
import shutil
import stat
import subprocess

import pytest

from conftest import TOP, run

# Builds QEMU and boots guests; no C of ours under ASan: the plain pass only.
pytestmark = pytest.mark.guest

BUILD_SCRIPT = TOP / "qemu-kvm" / "core" / "build-qemu-core"
KVM_OK_HINT = ("KVM is not usable on this host, and this QEMU runs guests only under KVM: "
               "run kvm-ok to find out why")


def require_debian_source():
    for program in ("apt-get", "dpkg-source", "dpkg-query"):
        if shutil.which(program) is None:
            pytest.skip(f"{program} is not installed: the build takes Debian's QEMU source "
                        "package (elsewhere: build-qemu-core --source TREE)")


@pytest.fixture(scope="session")
def qemu_core():
    """The built KVM-only QEMU (from the cache when its inputs did not change)."""
    require_debian_source()
    result = subprocess.run([BUILD_SCRIPT], capture_output=True, text=True, timeout=3 * 3600)
    if result.returncode != 0:
        pytest.fail(f"build-qemu-core failed:\n{result.stderr[-4000:]}")
    path = pathlib.Path(result.stdout.splitlines()[-1]) / "qemu-kvm-core"
    assert os.access(path, os.X_OK), f"{path} was not built"
    return path


def test_only_kvm_is_compiled_in(qemu_core):
    result = run([qemu_core, "-accel", "help"], timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == ["Accelerators supported in QEMU binary:", "kvm"]
    # The distribution's QEMU, built from the same source, has TCG: the
    # difference is the build's.
    if shutil.which("qemu-system-x86_64"):
        theirs = run(["qemu-system-x86_64", "-accel", "help"], timeout=120).stdout
        assert "tcg" in theirs.splitlines()


def test_tcg_is_refused(qemu_core):
    result = run([qemu_core, "-accel", "tcg", "-nodefaults", "-display", "none", "-S"],
                 timeout=120)
    assert result.returncode == 1
    assert "invalid accelerator tcg" in result.stderr


def test_q35_is_the_default_machine(qemu_core):
    result = run([qemu_core, "-machine", "help"], timeout=120)
    assert result.returncode == 0, result.stderr
    defaults = [line for line in result.stdout.splitlines() if line.endswith("(default)")]
    assert len(defaults) == 1 and defaults[0].startswith("pc-q35-"), defaults
    assert re.search(r"^pc +Standard PC \(i440FX", result.stdout, re.M), result.stdout


def test_devices_are_those_of_the_list(qemu_core):
    result = run([qemu_core, "-device", "help"], timeout=120)
    assert result.returncode == 0, result.stderr
    names = set(re.findall(r'^name "([^"]+)"', result.stdout, re.M))
    wanted = {"virtio-blk-pci", "virtio-net-pci", "virtio-scsi-pci", "virtio-serial-pci",
              "virtio-rng-pci", "virtio-balloon-pci", "ich9-ahci", "ide-hd", "ide-cd",
              "e1000", "e1000e", "isa-serial", "isa-debug-exit", "pvpanic", "VGA", "qemu-xhci",
              "piix3-usb-uhci", "usb-tablet", "tpm-crb", "tpm-tis", "pcie-root-port",
              "pcie-pci-bridge"}
    assert wanted <= names, f"missing: {sorted(wanted - names)}"
    # Devices every default build has and the list leaves out (docs/qemu-kvm.md).
    left_out = {"cirrus-vga", "qxl-vga", "virtio-gpu-pci", "rtl8139", "ne2k_pci", "pcnet",
                "vmxnet3", "usb-storage", "usb-ehci", "ich9-usb-ehci1", "megasas", "lsi53c895a",
                "sdhci-pci", "AC97", "intel-hda", "sb16", "ivshmem-plain", "vfio-pci",
                "virtio-9p-pci", "nvme", "i6300esb", "intel-iommu"}
    assert not left_out & names, f"built although left out: {sorted(left_out & names)}"


CLONE_NEWNS = 0x00020000
MS_REC = 0x4000
MS_PRIVATE = 0x40000


def _in_a_dev_without_kvm():
    """Runs in the child before exec: a private mount namespace whose /dev
    has only the character devices QEMU needs, and no kvm."""
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.unshare(CLONE_NEWNS) != 0:
        raise OSError(ctypes.get_errno(), "unshare(CLONE_NEWNS)")
    if libc.mount(b"none", b"/", None, MS_REC | MS_PRIVATE, None) != 0:
        raise OSError(ctypes.get_errno(), "mount --make-rprivate /")
    if libc.mount(b"tmpfs", b"/dev", b"tmpfs", 0, b"mode=0755") != 0:
        raise OSError(ctypes.get_errno(), "mount -t tmpfs tmpfs /dev")
    for name, minor in (("null", 3), ("zero", 5), ("full", 7), ("random", 8), ("urandom", 9)):
        os.mknod(f"/dev/{name}", 0o666 | stat.S_IFCHR, os.makedev(1, minor))


def run_without_dev_kvm(argv):
    if os.geteuid() != 0:
        pytest.skip("hiding /dev/kvm in a mount namespace needs root")
    return subprocess.run([str(a) for a in argv], capture_output=True, text=True, timeout=120,
                          preexec_fn=_in_a_dev_without_kvm)


def test_without_dev_kvm_it_points_to_kvm_ok(qemu_core):
    guest = ["-M", "q35", "-m", "64", "-nodefaults", "-display", "none", "-S"]
    result = run_without_dev_kvm([qemu_core, *guest])
    assert result.returncode == 1, result.stderr
    assert "Could not access KVM kernel module: No such file or directory" in result.stderr
    assert f"qemu-kvm-core: {KVM_OK_HINT}\n" in result.stderr
    # The message is our patch's: the distribution's QEMU does not say it.
    if shutil.which("qemu-system-x86_64"):
        theirs = run_without_dev_kvm(["qemu-system-x86_64", "-accel", "kvm", *guest])
        assert theirs.returncode == 1
        assert "kvm-ok" not in theirs.stderr


def check_patches(*args):
    require_debian_source()
    return run([BUILD_SCRIPT, "--check-patches", *args], timeout=1800)


def test_every_patch_applies_to_the_current_debian_source():
    result = check_patches()
    assert result.returncode == 0, result.stderr
    series = (TOP / "qemu-kvm" / "core" / "patches" / "series").read_text().split()
    assert f"all {len(series)} patches of the series apply" in result.stderr


def test_a_patch_that_no_longer_applies_is_named(tmp_path):
    patches = tmp_path / "patches"
    shutil.copytree(TOP / "qemu-kvm" / "core" / "patches", patches)
    (patches / "stale.patch").write_text(
        "Description: changes a line the source no longer has\n---\n"
        "--- a/VERSION\n+++ b/VERSION\n@@ -1 +1 @@\n-0.0.1\n+0.0.2\n")
    with open(patches / "series", "a") as series:
        series.write("stale.patch\n")
    result = check_patches("--patches", patches)
    assert result.returncode == 1
    assert "build-qemu-core: stale.patch: does not apply to the QEMU source" in result.stderr


def test_kvm_run_boots_linux_with_kvm_on_q35_and_pc(kvm_run, qemu_core):
    kvmharness = pytest.importorskip(
        "kvmharness", reason="tests/kvmharness.py (the KVM harness) is not there")
    kvmharness.require()
    # The guest sees the host's root at the same paths.
    kvm_run = kvm_run.resolve()
    env = (f"env HOME=/run XDG_STATE_HOME=/run/state XDG_RUNTIME_DIR=/run "
           f"KVM_RUN_DATA_DIR={TOP.resolve() / 'qemu-kvm'} KVM_RUN_QEMU_CORE={qemu_core}")
    guest = ('--memory 256M --net user --console serial -- '
             '-kernel /boot/vmlinuz-$KERNEL_VERSION -initrd /run/kvmharness/guest.cpio '
             '-append "console=ttyS0 panic=-1 quiet no_timer_check" -no-reboot')
    result = kvmharness.Harness().run(f'''
modprobe kvm_amd && mark kvm-loaded
report q35-command host_run {env} {kvm_run} --dry-run --require-kvm --profile linux --console serial
report pc-command host_run {env} {kvm_run} --dry-run --require-kvm --profile legacy --console serial
report q35 host_run {env} {kvm_run} -v --require-kvm --profile linux --name core-q35 --cpus 1 {guest}
report pc host_run {env} {kvm_run} -v --require-kvm --profile legacy --name core-pc {guest}
''', modules=["kvm_amd"], timeout=900)
    assert result.finished, result.explain()
    assert "kvm-loaded" in result.markers, result.explain()
    for machine, profile_machine in (("q35", "q35"), ("pc", "pc")):
        command = result.reports[f"{machine}-command"]
        assert command.status == 0, command.output
        lines = command.output.splitlines()
        assert lines[0] == str(qemu_core)
        assert lines[lines.index("-accel") + 1] == "kvm"
        assert lines[lines.index("-machine") + 1].split(",")[0] == profile_machine
        booted = result.reports[machine]
        assert booted.status == 0, booted.output
        assert f"running {qemu_core}, the KVM-only QEMU" in booted.output
        assert kvmharness.GUEST_MARKER in booted.output, result.explain()
    print(f"KVM harness run: {result.seconds:.1f} s")
