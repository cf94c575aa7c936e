# SPDX-License-Identifier: GPL-2.0-or-later
"""The Windows path up to the start of setup, without Windows: kvm-install
--dry-run renders and validates autounattend.xml and prints the kvm-run
command line; kvm-run --dry-run then shows the QEMU command it would run
(UEFI, Secure Boot and TPM for windows-11, the ISO, virtio-win, the answer
file on a USB stick).  No Windows installation has been run here."""
import os

import pytest

from conftest import TOP, built_program, run
from installer_fixtures import kvm_install  # noqa: F401


@pytest.mark.parametrize("profile", ["windows-10", "windows-11", "windows-server-2022"])
def test_windows_command_line(kvm_install, qemu_img, tmp_path, profile):
    iso, virtio = tmp_path / "Win.iso", tmp_path / "virtio-win.iso"
    iso.write_bytes(b"\0" * 65536)
    virtio.write_bytes(b"\0" * 65536)
    disk = tmp_path / "w1.qcow2"
    result = kvm_install(profile, "--iso", iso, "--virtio-win", virtio, "--disk", disk,
                         "--set", "password=Passw0rd!", "--memory", "4G", "--dry-run")
    assert result.returncode == 0, result.stderr
    argv = result.stdout.splitlines()
    assert not disk.exists(), "--dry-run created the disk"
    assert argv[0].endswith("kvm-run")
    assert argv[argv.index("--profile") + 1] == ("windows-11" if profile == "windows-11" else "windows")
    assert "--uefi" in argv
    assert argv[argv.index("--cdrom") + 1] == str(iso)
    assert argv[argv.index("--virtio-win") + 1] == str(virtio)
    assert argv[argv.index("--disk") + 1] == str(disk)
    answers = next(a for a in argv if a.startswith("file=fat:ro:"))
    assert answers.endswith("/answer,format=vvfat,if=none,id=answers")
    assert "usb-storage,drive=answers,removable=on" in argv

    # What kvm-run makes of it, on this host's firmware, swtpm and QEMU.
    kvm_run = built_program("kvm-run")
    assert qemu_img("create", "-f", "qcow2", disk, "1G").returncode == 0
    env = dict(os.environ, XDG_STATE_HOME=str(tmp_path / "state"))
    if not os.environ.get("KVM_BIN_DIR"):
        env["KVM_RUN_DATA_DIR"] = str(TOP / "qemu-kvm")
    qemu = run([kvm_run, "--dry-run", *argv[1:]], env=env)
    assert qemu.returncode == 0, qemu.stderr
    line = qemu.stdout
    assert "OVMF" in line or "ovmf" in line, line
    assert "usb-storage,drive=answers,removable=on" in line
    assert f"file={iso}" in line.replace("\n", " ") or str(iso) in line
    if profile == "windows-11":
        assert "tpm-crb" in line
        assert "property=secure,value=on" in line
