# SPDX-License-Identifier: GPL-2.0-or-later
"""Shared fixtures of the pytest suites.

The programs under test come from the build folder (KVM_BUILD_DIR, default
build/ at the top of the checkout), or from an installed tree when
KVM_BIN_DIR names its bin folder.
"""
import json
import os
import pathlib
import shutil
import subprocess

import pytest

TOP = pathlib.Path(__file__).resolve().parent.parent
BUILD = pathlib.Path(os.environ.get("KVM_BUILD_DIR", TOP / "build"))

PROGRAMS = {
    "kvm-image": "image-tools/cli/kvm-image",
    "kvm-run": "qemu-kvm/kvm-run",
    "kvm-ok": "kmod/kvm-ok/kvm-ok",
    "kvm-netboot": "netboot/kvm-netboot",
    "kvm-install": "installer/kvm-install",
}


def pytest_configure(config):
    config.addinivalue_line(
        "markers", "guest: boots guests, builds kernel modules, QEMU or packages; slow, and "
        "exercises little of the bundle's C, so the sanitizer pass of make check leaves it out")
    config.addinivalue_line(
        "markers", "slow: takes more than about ten minutes; left to make check-slow")


def pytest_collection_modifyitems(config, items):
    """Slow tests run only when asked for by -m (make check-slow)."""
    if "slow" in (config.getoption("markexpr") or ""):
        return
    skip = pytest.mark.skip(reason="slow: make check-slow runs it")
    for item in items:
        if "slow" in item.keywords:
            item.add_marker(skip)


def program_path(name):
    """The path of one of the bundle's programs."""
    bindir = os.environ.get("KVM_BIN_DIR")
    if bindir:
        return pathlib.Path(bindir) / name
    return BUILD / PROGRAMS[name]


def built_program(name):
    """The path of one of the bundle's programs; fails the test when it
    has not been built."""
    path = program_path(name)
    if not path.exists():
        pytest.fail(f"{path} is missing: build first with `make`")
    return path


def build_sanitizer():
    """The sanitizers the build under test was made with ("none" if none)."""
    options = subprocess.run(["meson", "introspect", str(BUILD), "--buildoptions"],
                             capture_output=True, text=True)
    if options.returncode != 0:
        return "none"
    return next((o["value"] for o in json.loads(options.stdout) if o["name"] == "b_sanitize"),
                "none")


def run(argv, check=False, **kwargs):
    """Runs argv with text output captured; never through a shell."""
    return subprocess.run([str(a) for a in argv], capture_output=True, text=True,
                          check=check, **kwargs)


def require_program(name):
    """Skips the test, saying why, when a peer tool is not installed."""
    if shutil.which(name) is None:
        pytest.skip(f"{name} is not installed (scripts/install-deps installs it)")


def strace_env():
    """The environment for a program run under strace.  LeakSanitizer
    cannot work under ptrace, so leak checks are off there: the ASan pass
    checks the same code paths in the runs without strace."""
    return dict(os.environ, ASAN_OPTIONS=os.environ.get("ASAN_OPTIONS", "") + ":detect_leaks=0")


def under_strace(argv, syscall, action):
    """ARGV run under strace, which does ACTION (what follows "inject=SYSCALL:",
    such as "signal=TERM:when=1") at SYSCALL; returns the command and the
    environment to run it in."""
    return ["strace", "-f", "-qq", "-o", "/dev/null", "-e", f"trace={syscall}", "-e",
            f"inject={syscall}:{action}", *[str(a) for a in argv]], strace_env()


@pytest.fixture(scope="session")
def strace():
    """Skips, saying why, unless strace can trace and inject faults here."""
    require_program("strace")
    probe = run(["strace", "-f", "-qq", "-o", "/dev/null", "-e", "trace=getpid", "-e",
                 "inject=getpid:signal=TERM", "true"])
    if probe.returncode != 0:
        pytest.skip(f"strace cannot trace here (ptrace restricted?): {probe.stderr.strip()}")


@pytest.fixture(scope="session")
def kvm_image():
    """Runs kvm-image with the given arguments; returns CompletedProcess."""
    path = built_program("kvm-image")

    def call(*args, **kwargs):
        return run([path, *args], **kwargs)

    call.path = path
    return call


@pytest.fixture(scope="session")
def kvm_run():
    """The path of the built launcher, kvm-run."""
    return built_program("kvm-run")


@pytest.fixture(scope="session")
def kvm_ok():
    """The path of the built kvm-ok."""
    return built_program("kvm-ok")


@pytest.fixture
def qemu_img():
    require_program("qemu-img")

    def call(*args, **kwargs):
        return run(["qemu-img", *args], **kwargs)

    return call
