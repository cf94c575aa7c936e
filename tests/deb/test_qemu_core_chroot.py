# SPDX-License-Identifier: GPL-2.0-or-later
"""kvm-run-qemu-core installed with apt in the clean Debian root of the
install test (chroot.kvm_deps_tarball, cached), from one repository of the
bundle's packages and it, as make repo makes it: with it, kvm-run starts it
for guests under KVM; removed, kvm-run falls back to Debian's QEMU.  The
root has no usable /dev/kvm, so --accel kvm asks for KVM (kvm-run warns
and --dry-run prints the command it would run)."""
import shutil

import pytest

import chroot
import debbuild
import qemucorebuild
from conftest import run

pytestmark = pytest.mark.guest

BINARY = "/usr/libexec/kvm-run/qemu-kvm-core"
GUEST = ("--dry-run", "--accel", "kvm", "--profile", "linux", "--console", "serial")


@pytest.fixture
def root(tmp_path):
    chroot.require()
    kvm = debbuild.cached_build()
    core = qemucorebuild.cached_build()
    repo = tmp_path / "repo"
    made = run([debbuild.MAKE_REPO, kvm.parent, core.parent, repo], timeout=600)
    assert made.returncode == 0, made.stderr
    deps = chroot.kvm_deps_tarball(kvm, repo)
    top = chroot.fresh_root(deps, tmp_path / "root")
    chroot.add_repo(top, repo)
    yield top
    shutil.rmtree(top)


def first_line(root, *argv):
    result = chroot.chroot(root, *argv)
    return result.stdout.splitlines()[0]


def test_kvm_run_starts_the_installed_package_and_falls_back_without_it(root):
    before = chroot.installed(root)
    chroot.chroot(root, "apt-get", "install", "-y", "-q", "--no-install-recommends",
                  "kvm-run", "kvm-run-qemu-core")
    # Everything else it needs is what Debian's QEMU, which kvm-run
    # depends on, needs too.
    assert chroot.installed(root) - before == {"kvm-run", "libkvmimage0", "kvm-run-qemu-core"}

    assert first_line(root, "kvm-run", *GUEST) == BINARY
    assert first_line(root, "qemu-kvm", *GUEST) == BINARY
    verbose = chroot.chroot(root, "kvm-run", "-v", *GUEST)
    assert f"kvm-run: running {BINARY}, the KVM-only QEMU" in verbose.stderr
    # Software emulation needs Debian's QEMU, which has TCG.
    assert first_line(root, "kvm-run", "--dry-run", "--accel", "tcg", "--profile", "linux",
                      "--console", "serial") == "qemu-system-x86_64"
    accels = chroot.chroot(root, BINARY, "-accel", "help").stdout.splitlines()
    assert accels == ["Accelerators supported in QEMU binary:", "kvm"]

    chroot.chroot(root, "apt-get", "remove", "-y", "-q", "kvm-run-qemu-core")
    assert not (root / BINARY.lstrip("/")).exists()
    assert first_line(root, "kvm-run", *GUEST) == "qemu-system-x86_64"
