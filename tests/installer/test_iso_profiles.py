# SPDX-License-Identifier: GPL-2.0-or-later
"""The installers booted from an ISO (Ubuntu, Fedora, RHEL, openSUSE):
kvm-install reads the kernel and initrd from the paths each distribution's
ISO has them at, reads the ISO's volume label, and tells the installer
where its answer file is the way that installer expects it (inst.ks=,
ds=nocloud-net;s=, autoyast=, agama.auto=).  No real ISO is on this
machine: the test makes one with xorriso holding Debian's kernel and the
busybox test installer at those paths, which fetches the answer file from
the URL on its command line and writes it to the disk.  The real
installers were not run here (docs/installer.md)."""
import io
import tarfile

import pytest

import kvmharness
from conftest import require_program, run
from installer_fixtures import build_test_installer, kvm_install, machine_lock  # noqa: F401

# profile: kernel, initrd, volume label, what its installer prints first,
# the start of its answer file
ISOS = {
    "ubuntu-24.04": ("casper/vmlinuz", "casper/initrd", "Ubuntu-Server 24.04 LTS amd64",
                     "subiquity", "#cloud-config\n"),
    "fedora": ("images/pxeboot/vmlinuz", "images/pxeboot/initrd.img", "Fedora-S-dvd-x86_64-40",
               "Starting installer", "# Rendered by kvm-install from fedora.ks"),
    "opensuse-leap-15.6": ("boot/x86_64/loader/linux", "boot/x86_64/loader/initrd",
                           "openSUSE-Leap-15.6-DVD-x86_64", "Loading Installation System",
                           '<?xml version="1.0"?>'),
    "opensuse-tumbleweed": ("boot/x86_64/loader/linux", "boot/x86_64/loader/initrd",
                            "Install-Tumbleweed-x86_64", "Loading Installation System", "{\n"),
}


def make_iso(tmp_path, profile):
    require_program("xorriso")
    kernel, initrd, label, milestone, _ = ISOS[profile]
    tree = tmp_path / "iso"
    (tree / kernel).parent.mkdir(parents=True, exist_ok=True)
    (tree / initrd).parent.mkdir(parents=True, exist_ok=True)
    build_test_installer(tree / initrd, before_write=f"echo '{milestone}'")
    (tree / kernel).write_bytes(kvmharness.Harness().vmlinuz.read_bytes())
    iso = tmp_path / "installer.iso"
    result = run(["xorriso", "-as", "mkisofs", "-R", "-J", "-V", label, "-o", iso, tree])
    assert result.returncode == 0, result.stderr
    return iso


# Leap's ISO has Tumbleweed's paths; it differs only in autoyast=, so its
# boot waits for make check-slow to keep make check within its budget.
@pytest.mark.guest
@pytest.mark.parametrize("profile", [pytest.param(p, marks=pytest.mark.slow)
                                     if p == "opensuse-leap-15.6" else p for p in ISOS])
def test_iso_installer_gets_its_answer_file(kvm_install, qemu_img, tmp_path, profile):
    kvmharness.require()
    iso = make_iso(tmp_path, profile)
    disk = tmp_path / "host1.qcow2"
    with machine_lock():
        result = kvm_install(profile, "--iso", iso, "--disk", disk, "--size", "64M",
                             "--memory", "256", "--accel", "tcg", "--set", "password=pw",
                             timeout=900)
    assert result.returncode == 0, result.stderr
    assert "answer file fetched by the installer" in result.stderr
    raw = tmp_path / "disk.raw"
    assert qemu_img("convert", "-O", "raw", disk, raw).returncode == 0
    with tarfile.open(fileobj=io.BytesIO(raw.read_bytes()[:4 << 20])) as tar:
        files = {m.name.lstrip("./"): tar.extractfile(m).read().decode()
                 for m in tar.getmembers() if m.isfile()}
    assert files["answer"].startswith(ISOS[profile][4]), files["answer"][:200]
    assert "host1" in files["answer"]
    cmdline = files["cmdline"]
    if profile == "ubuntu-24.04":
        assert "autoinstall" in cmdline.split()
        assert files["meta-data"] == "instance-id: host1\n"
    if profile == "fedora":
        assert f"inst.stage2=hd:LABEL={ISOS[profile][2]}" in cmdline
    if profile == "opensuse-tumbleweed":
        assert f"root=live:CDLABEL={ISOS[profile][2]}" in cmdline


def test_iso_without_the_kernel_is_refused(kvm_install, tmp_path):
    require_program("xorriso")
    (tmp_path / "tree").mkdir()
    (tmp_path / "tree" / "README").write_text("not an installer\n")
    iso = tmp_path / "other.iso"
    assert run(["xorriso", "-as", "mkisofs", "-R", "-V", "OTHER", "-o", iso,
                tmp_path / "tree"]).returncode == 0
    disk = tmp_path / "f.qcow2"
    result = kvm_install("fedora", "--iso", iso, "--disk", disk, "--set", "password=pw",
                         "--accel", "tcg")
    assert result.returncode == 1
    assert result.stderr.strip().endswith(
        f"{iso}: has no images/pxeboot/vmlinuz: is it the right ISO for this profile?")
    assert not disk.exists()
