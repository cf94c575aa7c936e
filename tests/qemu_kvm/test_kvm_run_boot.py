# SPDX-License-Identifier: GPL-2.0-or-later
"""Real guests under software emulation, started by kvm-run with each
profile: Debian's kernel and a busybox initramfs built here boot on the
profile's machine, find the profile's disk (virtio, AHCI or IDE, in qcow2,
VMDK or raw) and print a marker on the serial console, then power off.
windows-11 starts swtpm, reaches OVMF's boot manager with Secure Boot
enforced, and leaves no swtpm behind when kvm-run is stopped."""
import os
import pathlib
import select
import shutil
import signal
import subprocess
import time

import pytest

from conftest import TOP, require_program
import kvmrun_fixtures as fx

# Boots guests or builds kernel modules: the sanitizer pass leaves it out.
pytestmark = pytest.mark.guest

# Software emulation on a loaded two-core machine.
BOOT_TIMEOUT = 180


@pytest.fixture(scope="module")
def guest(tmp_path_factory):
    require_program("qemu-system-x86_64")
    require_program("qemu-img")
    if not pathlib.Path("/bin/busybox").exists():
        pytest.skip("busybox is not installed (scripts/install-deps installs busybox-static)")
    kernel = fx.guest_kernel()
    if kernel is None:
        pytest.skip("no kernel in /boot with modules (scripts/install-deps installs linux-image-amd64)")
    folder = tmp_path_factory.mktemp("guest")
    initramfs = fx.build_guest_initramfs(folder / "initramfs.cpio", kernel)
    return type("Guest", (), {"kernel": f"/boot/vmlinuz-{kernel}", "initramfs": initramfs})


def environment(tmp_path):
    return dict(os.environ, HOME=str(tmp_path / "home"), XDG_CONFIG_HOME=str(tmp_path / "config"),
                XDG_STATE_HOME=str(tmp_path / "state"), XDG_RUNTIME_DIR=str(tmp_path / "run"),
                KVM_RUN_DATA_DIR=str(TOP / "qemu-kvm"))


# profile: (disk format, the disk the guest must see)
PROFILES = {
    "linux": ("qcow2", "vda"),
    "windows": ("vmdk", "sda"),
    "legacy": ("raw", "sda"),
}


@pytest.mark.parametrize("profile", sorted(PROFILES))
def test_profile_boots_a_linux_guest(kvm_run, guest, tmp_path, profile):
    fmt, device = PROFILES[profile]
    disk = fx.guest_disk(tmp_path / f"disk.{fmt}", fmt)
    start = time.monotonic()
    result = subprocess.run(
        [kvm_run, "--profile", profile, "--accel", "tcg", "--disk", disk, "--memory", "256M",
         "--console", "serial", "--net", "user", "--",
         "-kernel", guest.kernel, "-initrd", guest.initramfs, "-no-reboot",
         "-append", "console=ttyS0 panic=-1 quiet no_timer_check"],
        env=environment(tmp_path), stdin=subprocess.DEVNULL, capture_output=True, text=True,
        errors="replace", timeout=BOOT_TIMEOUT)
    seconds = time.monotonic() - start
    text = result.stdout.replace("\r", "")
    print(f"{profile}: booted and powered off in {seconds:.1f} s")
    assert f"{fx.GUEST_MARKER} disk={device} content={fx.DISK_TEXT.decode()}\n" in text, \
        text[-3000:] + result.stderr
    assert result.returncode == 0, result.stderr


def swtpm_processes(socket_path):
    found = subprocess.run(["pgrep", "-f", f"swtpm socket.*{socket_path}"], capture_output=True,
                           text=True)
    return found.stdout.split()


def test_windows_11_starts_swtpm_and_reaches_the_boot_manager(kvm_run, tmp_path):
    require_program("qemu-system-x86_64")
    require_program("swtpm")
    env = environment(tmp_path)
    run_dir = tmp_path / "run" / "kvm-run" / "w11"
    socket_path = run_dir / "swtpm.sock"
    process = subprocess.Popen(
        [kvm_run, "--profile", "windows-11", "--accel", "tcg", "--name", "w11", "--net", "none",
         "--memory", "256M", "--console", "serial"],
        env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    console = b""
    running_swtpm = []
    start = time.monotonic()
    try:
        while b"Press any key to enter the Boot Manager Menu" not in console:
            assert time.monotonic() - start < BOOT_TIMEOUT, console[-2000:]
            ready, _, _ = select.select([process.stdout], [], [], 5)
            if ready:
                chunk = os.read(process.stdout.fileno(), 65536)
                assert chunk, f"QEMU ended: {process.stderr.read().decode()}"
                console += chunk
            if not running_swtpm:
                running_swtpm = swtpm_processes(socket_path)
        print(f"windows-11: OVMF's boot manager after {time.monotonic() - start:.1f} s")
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=60)
    text = console.decode(errors="replace")
    assert running_swtpm, "swtpm was not running beside the guest"
    # Secure Boot is enforced: OVMF refuses its own unsigned shell.
    assert "Security Violation" in text
    assert "BdsDxe: No bootable option or device was found." in text
    assert process.returncode == -signal.SIGTERM
    assert swtpm_processes(socket_path) == []
    assert not run_dir.exists()
    state = tmp_path / "state" / "kvm-run" / "w11"
    assert (state / "tpm" / "tpm2-00.permall").is_file(), "the TPM state was not kept"
    assert (state / "OVMF_VARS_4M.ms.fd").is_file() or list(state.glob("*VARS*")), \
        "the guest's UEFI variables were not kept"
