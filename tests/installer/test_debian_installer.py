# SPDX-License-Identifier: GPL-2.0-or-later
"""kvm-install debian-12: Debian's own installer (debian-installer-12-
netboot-amd64) with the rendered preseed, under software emulation.

The archive is the one this machine's apt sources name.  Here it serves
ordinary packages but not most installer components (udebs), so the
installer stops when it loads them, after every question up to the
archive check was answered by the preseed without a prompt.  The test
asserts those milestones, and says plainly (as a skip) that the install
stopped there and why.  With KVM_TEST_MIRROR naming a complete archive the
same install runs to the end and the installed guest boots to its login
prompt (make check-slow; 25 to 35 minutes under emulation)."""
import os

import pytest

import kvmharness
from installer_fixtures import boot_to_login, debian_archive, kvm_install, machine_lock  # noqa: F401

DI_KERNEL = "/usr/lib/debian-installer/images/12/amd64/text/debian-installer/amd64/linux"
MARKER = "KVM-INSTALL-DEBIAN-BOOTED"


def run_installer(kvm_install, tmp_path, mirror, timeout_min):
    if not os.path.exists(DI_KERNEL):
        pytest.skip("debian-installer-12-netboot-amd64 is not installed (scripts/install-deps)")
    reason = kvmharness.unavailable_reason()
    if reason:
        pytest.skip(reason)
    disk = tmp_path / "deb12.qcow2"
    with machine_lock():
        result = kvm_install("debian-12", "--disk", disk, "--size", "8G", "--accel", "tcg",
                             "--set", "password=s3cret", "--set", f"mirror={mirror}",
                             "--set", f"post_commands=echo {MARKER} >> /etc/issue",
                             # IPv6 autoconfiguration waits a minute on QEMU's user network.
                             "--append", "ipv6.disable=1",
                             "--timeout", str(timeout_min), timeout=timeout_min * 60 + 300)
    return result, disk


@pytest.mark.guest
def test_preseed_answers_every_question_up_to_the_archive(kvm_install, tmp_path):
    mirror, complete = debian_archive()
    if complete:
        pytest.skip("KVM_TEST_MIRROR is set: test_full_install runs the whole install")
    result, disk = run_installer(kvm_install, tmp_path, mirror, 15)
    log = (tmp_path / "deb12.qcow2.install.log").read_text(errors="replace")
    # The installer booted, configured its network, fetched the preseed
    # from kvm-install and checked the archive without asking anything.
    assert "network configured" in result.stderr, result.stderr
    assert "answer file fetched by the installer" in result.stderr, result.stderr
    assert "checking the archive" in result.stderr, result.stderr
    assert "Checking the Debian archive mirror" in log
    before_archive = log.split("Checking the Debian archive mirror", 1)[0]
    assert "Prompt: '?' for help" not in before_archive, before_archive[-2000:]
    if result.returncode == 0:
        boot_to_login(disk, MARKER, tmp_path)
        return
    last = result.stderr.strip().splitlines()[-1]
    assert "Download installer components" in last, result.stderr
    assert not disk.exists()
    pytest.skip(f"Debian's installer answered every question up to the archive check from the "
                f"preseed, then stopped: the archive {mirror} serves no installer components "
                f"(udebs) here ('{last.split(': ', 2)[-1]}'); set KVM_TEST_MIRROR to a complete "
                f"archive and run make check-slow for the whole install")


@pytest.mark.slow
@pytest.mark.guest
def test_full_install(kvm_install, tmp_path):
    mirror, complete = debian_archive()
    if not complete:
        pytest.skip("KVM_TEST_MIRROR is not set: the archive reachable here has no udebs")
    result, disk = run_installer(kvm_install, tmp_path, mirror, 90)
    assert result.returncode == 0, result.stderr
    assert "finishing the installation" in result.stderr
    boot_to_login(disk, MARKER, tmp_path)
