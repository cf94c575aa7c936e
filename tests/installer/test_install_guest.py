# SPDX-License-Identifier: GPL-2.0-or-later
"""kvm-install end to end with the test profile, under software emulation:
Debian's kernel and a busybox installer this test builds fetch the
rendered answer file over HTTP from kvm-install, write the files it names
to the new disk and power off; the test reads them back from the image."""
import io
import os
import tarfile

import pytest

import kvmharness
from conftest import require_program, run
from installer_fixtures import build_test_installer, kvm_install, machine_lock  # noqa: F401

KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGq0Ezqv0n5Yl8xK7m3cVJjJ0v7Hh2X1p0Q5pH3fR0aB t@x"


def install(kvm_install, tmp_path, initrd, *extra, disk_name="web1.qcow2"):
    kvmharness.require()
    disk = tmp_path / disk_name
    with machine_lock():
        result = kvm_install("test", "--disk", disk, "--size", "64M", "--accel", "tcg",
                             "--kernel", kvmharness.Harness().vmlinuz, "--initrd", initrd,
                             "--set", "password=s3cret", "--set", f"ssh_keys={KEY}",
                             "--set", "packages=vim curl", "--set", "user=alice",
                             "--set", "post_commands=echo installed > etc/marker",
                             *extra, timeout=900)
    return result, disk


def disk_files(qemu_img, disk, tmp_path):
    raw = tmp_path / "disk.raw"
    assert qemu_img("convert", "-O", "raw", disk, raw).returncode == 0
    with open(raw, "rb") as f:
        data = f.read(4 << 20)
    with tarfile.open(fileobj=io.BytesIO(data)) as tar:
        return {m.name.lstrip("./"): tar.extractfile(m).read().decode()
                for m in tar.getmembers() if m.isfile()}


@pytest.mark.guest
def test_install_writes_what_the_answer_file_names(kvm_install, qemu_img, tmp_path):
    initrd = tmp_path / "installer.cpio"
    build_test_installer(initrd)
    result, disk = install(kvm_install, tmp_path, initrd)
    assert result.returncode == 0, result.stderr
    assert "answer file fetched by the installer" in result.stderr
    assert "files written to the disk" in result.stderr
    assert f"Start it with: kvm-run --disk {disk}" in result.stdout
    assert run(["qemu-img", "info", disk]).stdout.count("file format: qcow2") == 1
    files = disk_files(qemu_img, disk, tmp_path)
    # The host name comes from the disk's name.
    assert files["etc/hostname"] == "web1\n"
    assert files["etc/kvm-install/user"] == "alice\n"
    assert files["etc/kvm-install/password_hash"].startswith("$6$")
    assert files["home/alice/.ssh/authorized_keys"] == KEY + "\n"
    assert files["etc/kvm-install/packages"] == "vim\ncurl\n"
    assert files["etc/kvm-install/disk"] == "/dev/vda\n"
    assert files["etc/marker"] == "installed\n"
    log = tmp_path / "web1.qcow2.install.log"
    assert "KVM-INSTALL-WROTE" in log.read_text(errors="replace")
    assert sorted(p.name for p in tmp_path.iterdir()) == \
        ["disk.raw", "installer.cpio", "web1.qcow2", "web1.qcow2.install.log"]


@pytest.mark.guest
def test_failed_install_says_where_it_stopped_and_leaves_no_disk(kvm_install, tmp_path):
    initrd = tmp_path / "installer.cpio"
    # The "installer" dies after fetching: it never writes the disk.
    build_test_installer(initrd, before_write="echo 'installer crashed'; poweroff -f")
    result, disk = install(kvm_install, tmp_path, initrd, "--output", "json")
    assert result.returncode == 1
    assert "answer file fetched" in result.stderr
    last = result.stderr.strip().splitlines()[-1]
    assert "the install stopped after: answer file fetched" in last or \
        "it stopped after: answer file fetched" in last, result.stderr
    assert "web1.qcow2.install.log" in last
    assert not disk.exists()
    assert not [p for p in os.listdir(tmp_path) if p.startswith(".web1")]
    assert "installer crashed" in (tmp_path / "web1.qcow2.install.log").read_text(errors="replace")


@pytest.mark.guest
def test_installer_that_never_fetches_is_reported(kvm_install, tmp_path):
    initrd = tmp_path / "installer.cpio"
    build_test_installer(initrd, before_fetch="poweroff -f")
    result, disk = install(kvm_install, tmp_path, initrd)
    assert result.returncode == 1
    assert "before fetching the answer file" in result.stderr
    assert not disk.exists()


def test_existing_disk_is_not_touched(kvm_install, tmp_path):
    disk = tmp_path / "web1.qcow2"
    disk.write_bytes(b"precious")
    result = kvm_install("test", "--disk", disk, "--kernel", "/nonexistent", "--initrd", "/x",
                         "--set", "password=x")
    assert result.returncode == 1
    assert result.stderr == f"kvm-install: {disk}: already exists (use --force to replace it)\n"
    assert disk.read_bytes() == b"precious"


@pytest.mark.parametrize("args,message", [
    ([], "give the new disk with --disk FILE"),
    (["--disk", "d.qcow2", "--netboot"], "--netboot is not available yet"),
    (["--disk", "d.qcow2", "--cpus", "0"], "--cpus takes a number from 1 to 64"),
    (["--disk", "d.qcow2", "--size", "lots"], "'lots' is not a size"),
    (["--disk", "d.qcow2", "--method", "magic"], "--method takes installer or bootstrap"),
])
def test_usage_errors(kvm_install, tmp_path, args, message):
    result = kvm_install("test", *args, "--set", "password=x", cwd=tmp_path)
    assert result.returncode == 1
    assert message in result.stderr
    assert list(tmp_path.iterdir()) == []


def test_iso_profiles_need_an_iso(kvm_install, tmp_path):
    result = kvm_install("ubuntu-24.04", "--disk", tmp_path / "u.qcow2", "--set", "password=x")
    assert result.returncode == 1 and "give the installation ISO with --iso" in result.stderr
