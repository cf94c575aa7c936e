# SPDX-License-Identifier: GPL-2.0-or-later
"""Building kvm-run-qemu-core (packaging-debian/build-deb-qemu-core) from
the tests, once per state of its inputs: the result is cached in
~/.cache/kvm-bundle/deb-qemu-core/<digest>/, where the digest covers
packaging-debian/qemu-core/, qemu-kvm/core/, the build script, the bundle's
changelog (version and date), the Debian QEMU source version it is built
from and the versions of the tools and libraries that make the binary.

The package build itself is not shortened: dpkg-buildpackage runs in the
unpacked Debian QEMU tree, and its debian/rules runs build-qemu-core on
that tree.  build-qemu-core keeps its builds in ~/.cache/kvm-bundle/
qemu-core/, keyed on the tree's contents, the patches, the device list,
the script, the compiler flags and tools and the install folder, so the
QEMU compile that make qemu-kvm-core and tests/qemu_kvm/test_core.py did
for the same Debian source is reused: the same inputs give the same
binary (a package built from nothing in its own tree was checked to be
the same .deb, byte for byte; docs/qemu-kvm.md)."""
import hashlib
import os
import pathlib
import shutil
import subprocess

import pytest

from conftest import TOP
from debbuild import cached_changes, changelog_field, run_build

BUILD_SCRIPT = TOP / "packaging-debian" / "build-deb-qemu-core"
INPUTS = ("packaging-debian/qemu-core", "qemu-kvm/core", "packaging-debian/build-deb-qemu-core",
          "packaging-debian/debian/changelog")
# What makes the bytes of the package besides its sources.
TOOLCHAIN = ("debhelper", "dpkg-dev", "binutils", "gcc", "meson", "ninja-build", "libglib2.0-dev",
             "libpixman-1-dev", "libslirp-dev", "libseccomp-dev", "libfdt-dev", "zlib1g-dev")
BUILD_ENV = {"DEB_BUILD_OPTIONS": "nocheck"}


def require_tools():
    for tool, package in (("dpkg-buildpackage", "dpkg-dev"), ("dh", "debhelper"),
                          ("apt-get", "apt"), ("dpkg-source", "dpkg-dev")):
        if shutil.which(tool) is None:
            pytest.skip(f"{tool} is not installed (scripts/install-deps installs {package})")


def qemu_source_version():
    """The Debian QEMU source the package is built from: that of the
    installed qemu-system-x86, as build-deb-qemu-core takes it."""
    result = subprocess.run(["dpkg-query", "-W", "-f", "${source:Version}", "qemu-system-x86"],
                            capture_output=True, text=True)
    if result.returncode != 0 or not result.stdout:
        pytest.skip("qemu-system-x86 is not installed: its source version is the one built")
    return result.stdout


def package_version():
    return f"{qemu_source_version()}+kvm{changelog_field('Version')}"


def input_digest():
    digest = hashlib.sha256()
    for name in INPUTS:
        top = TOP / name
        paths = sorted(p for p in top.rglob("*") if p.is_file()) if top.is_dir() else [top]
        for path in paths:
            digest.update(f"{path.relative_to(TOP)} {oct(path.stat().st_mode)}\n".encode())
            digest.update(hashlib.sha256(path.read_bytes()).digest())
    digest.update(qemu_source_version().encode())
    versions = subprocess.run(["dpkg-query", "-W", "-f", "${Package} ${Version}\n", *TOOLCHAIN],
                              capture_output=True, text=True).stdout
    digest.update(versions.encode())
    return digest.hexdigest()[:16]


def cached_build():
    """The .changes file of kvm-run-qemu-core, built once per input state."""
    require_tools()

    def make(outdir):
        run_build([BUILD_SCRIPT, outdir], outdir, dict(os.environ, **BUILD_ENV),
                  timeout=3 * 3600)
        # The unpacked QEMU tree (300 MB) is not needed once the package exists.
        for tree in outdir.glob("kvm-run-qemu-core-*"):
            if tree.is_dir():
                shutil.rmtree(tree)

    return cached_changes("deb-qemu-core", input_digest(), make)


def deb(changes):
    debs = [p for p in pathlib.Path(changes).parent.glob("kvm-run-qemu-core_*.deb")]
    assert len(debs) == 1, debs
    return debs[0]
