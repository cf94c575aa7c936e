# SPDX-License-Identifier: GPL-2.0-or-later
"""`apt-get install kvm` from the local repository (make repo) in a clean
Debian root made with debootstrap: the programs run there, DKMS builds the
modules for the kernel headers of that root, and purging every package
gives back the root as it was (file lists compared, as piuparts does).

The Debian packages ours need are installed into the cached root first
(chroot.deps_tarball), so the install under test brings in exactly ours;
the first run downloads them and takes long, later runs reuse the root."""
import json
import re
import shutil
import subprocess

import pytest

import chroot
import debbuild

pytestmark = pytest.mark.guest

@pytest.fixture
def root(tmp_path):
    chroot.require()
    changes = debbuild.cached_build()
    ours = debbuild.package_names(changes)
    repo = debbuild.make_repo(changes, tmp_path / "repo")
    deps = chroot.kvm_deps_tarball(changes, repo)
    top = chroot.fresh_root(deps, tmp_path / "root")
    chroot.add_repo(top, repo)
    yield top, ours
    # Over a GiB: not kept for pytest's last three runs.
    shutil.rmtree(top)


def test_apt_install_kvm_then_purge_leaves_nothing(root):
    root, ours = root
    # Debian's udev, installed with the dependencies, made group kvm; a host
    # without it (a container) must get it from kvm-host.
    chroot.chroot(root, "groupdel", "kvm")
    before_packages = chroot.installed(root)
    before = chroot.snapshot(root)

    # The metapackage pulls in everything; kvm-netboot and kvm-install by
    # Recommends, which apt installs by default.  kvm-dkms and the -dev
    # package are asked for by name, as a site that wants them does.
    chroot.chroot(root, "apt-get", "install", "-y", "-q", "kvm", "kvm-dkms", "libkvmimage-dev")
    new = chroot.installed(root) - before_packages
    assert new == set(ours), f"apt-get install kvm brought {sorted(new)}"

    def run(*argv, expect=0):
        result = chroot.chroot(root, *argv, check=False)
        assert result.returncode == expect, f"{' '.join(argv)}: {result.stderr}"
        return result.stdout

    assert run("kvm-image", "--version").strip()
    # A VMware disk as in an OVA: streamOptimized, made by qemu-img of a
    # disk with data in it.
    pattern = root / "root" / "small.raw"
    pattern.write_bytes(bytes(1 << 20) + b"\x5a" * 65536 + bytes(3 << 20))
    vmdk = root / "root" / "small.vmdk"
    subprocess.run(["qemu-img", "convert", "-f", "raw", "-O", "vmdk", "-o",
                    "subformat=streamOptimized", pattern, vmdk], check=True)
    run("kvm-image", "convert", "/root/small.vmdk")
    compare = subprocess.run(["qemu-img", "compare", vmdk, root / "root" / "small.qcow2"],
                             capture_output=True, text=True)
    assert compare.returncode == 0, compare.stdout + compare.stderr

    # No KVM in the root: kvm-ok says so, in JSON, with exit status 1.
    verdict = json.loads(run("kvm-ok", "--output=json", expect=1))
    assert verdict

    dry = run("kvm-run", "--dry-run", "--disk", "/root/small.qcow2")
    assert "qemu-system-x86_64" in dry and "small.qcow2" in dry
    assert run("qemu-kvm", "--dry-run", "--disk", "/root/small.qcow2") == dry
    assert "kvm-netboot" in run("kvm-netboot", "--help")
    assert "kvm-install" in run("kvm-install", "--help")
    assert run("getent", "group", "kvm").startswith("kvm:")

    # DKMS built the modules at install time for the root's kernel headers.
    kernels = [p.name for p in (root / "lib/modules").iterdir() if (p / "build").exists()]
    assert len(kernels) == 1, kernels
    status = run("dkms", "status", "kvm")
    assert re.search(rf"kvm/\S+, {re.escape(kernels[0])}, x86_64: installed", status), status
    for module in ("kvm", "kvm-intel", "kvm-amd"):
        ko = f"/lib/modules/{kernels[0]}/updates/dkms/{module}.ko"
        assert run("modinfo", "-F", "vermagic", ko).startswith(kernels[0] + " ")
        assert run("modinfo", "-F", "version", ko).startswith("kvm-bundle-")

    for made in ("small.raw", "small.vmdk", "small.qcow2"):
        (root / "root" / made).unlink()
    chroot.chroot(root, "apt-get", "purge", "-y", "-q", *ours)
    assert chroot.installed(root) == before_packages
    after = chroot.snapshot(root)
    left = sorted(set(after) - set(before))
    gone = sorted(set(before) - set(after))
    changed = sorted(p for p in set(before) & set(after) if before[p] != after[p])
    assert not left, f"left behind after purge: {left[:50]}"
    assert not gone, f"removed by the purge although there before: {gone[:50]}"
    assert not changed, f"changed type or link target: {changed[:50]}"
