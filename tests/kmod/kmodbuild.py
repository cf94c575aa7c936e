# SPDX-License-Identifier: GPL-2.0-or-later
"""Running kmod/build-modules from the tests: the modules for the kernel
the KVM harness boots, built once and cached outside the checkout."""
import pathlib
import subprocess
import time

import pytest

from conftest import TOP

BUILD_MODULES = TOP / "kmod" / "build-modules"
MODULES = ("kvm", "kvm-intel", "kvm-amd")


def require_kernel_build_inputs(kernel):
    """Skips, saying what to install, when the headers or the source of
    kernel are missing."""
    headers = pathlib.Path("/lib/modules") / kernel / "build"
    if not (headers / "Makefile").exists():
        pytest.skip(f"no headers for {kernel} (scripts/install-deps installs linux-headers-amd64)")
    if not list(pathlib.Path("/usr/src").glob("linux-source-*.tar.*")) and \
            not list(pathlib.Path("/usr/src").glob("linux-[0-9]*")):
        pytest.skip("no kernel source in /usr/src (scripts/install-deps installs linux-source-6.1)")


def build(kernel, *args, env=None):
    """Runs build-modules for kernel; returns (output folder, stderr, seconds)."""
    start = time.monotonic()
    result = subprocess.run([BUILD_MODULES, "--kernel", kernel, *args], capture_output=True,
                            text=True, env=env)
    seconds = time.monotonic() - start
    assert result.returncode == 0, result.stderr
    return pathlib.Path(result.stdout.splitlines()[-1]), result.stderr, seconds


def modinfo(path, field):
    return subprocess.run(["modinfo", "-F", field, path], capture_output=True, text=True,
                          check=True).stdout.strip()
