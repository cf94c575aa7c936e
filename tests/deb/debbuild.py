# SPDX-License-Identifier: GPL-2.0-or-later
"""Building the Debian packages from the tests (packaging-debian/build-deb),
once per source state: the result is cached in
~/.cache/kvm-bundle/deb/<digest>/, where the digest covers every file the
build copies, packaging-debian/ itself and the versions of the tools that
make the packages; parallel test workers wait for the one that builds."""
import fcntl
import hashlib
import os
import pathlib
import re
import shutil
import subprocess
import time

import pytest

from conftest import TOP

BUILD_DEB = TOP / "packaging-debian" / "build-deb"
MAKE_REPO = TOP / "packaging-debian" / "make-repo"
CHANGELOG = TOP / "packaging-debian" / "debian" / "changelog"
# What makes the bytes of the packages besides the source.
TOOLCHAIN = ("debhelper", "dpkg-dev", "dh-dkms", "gcc", "meson", "scdoc", "binutils")
# The unit tests run in `make check` already; the packages' build skips them.
BUILD_ENV = {"DEB_BUILD_OPTIONS": "nocheck"}


def cache_dir(name):
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    path = pathlib.Path(base) / "kvm-bundle" / name
    path.mkdir(parents=True, exist_ok=True)
    return path


def require_tools():
    """Skips, saying what to install, when a packaging tool is missing."""
    for tool, package in (("dpkg-buildpackage", "dpkg-dev"), ("dh", "debhelper"),
                          ("dh_dkms", "dh-dkms"), ("apt-ftparchive", "apt-utils")):
        if shutil.which(tool) is None:
            pytest.skip(f"{tool} is not installed (scripts/install-deps installs {package})")


def changelog_field(field):
    return subprocess.run(["dpkg-parsechangelog", "-l", CHANGELOG, "-S", field],
                          capture_output=True, text=True, check=True).stdout.strip()


def source_files():
    """The files build-deb copies, relative to the top of the checkout."""
    listing = subprocess.run(["git", "-C", TOP, "ls-files", "-z", "--cached", "--others",
                              "--exclude-standard"], capture_output=True, check=True).stdout
    return sorted(name for name in listing.decode().split("\0") if name)


def source_digest():
    digest = hashlib.sha256()
    for name in source_files():
        path = TOP / name
        if path.is_symlink():
            digest.update(f"{name} -> {os.readlink(path)}\n".encode())
        elif path.is_file():
            digest.update(f"{name} {oct(path.stat().st_mode)}\n".encode())
            digest.update(hashlib.sha256(path.read_bytes()).digest())
    versions = subprocess.run(["dpkg-query", "-W", "-f", "${Package} ${Version}\n", *TOOLCHAIN],
                              capture_output=True, text=True).stdout
    digest.update(versions.encode())
    return digest.hexdigest()[:16]


def run_build(argv, outdir, env, timeout=None):
    """Runs a package build script, keeping its output in OUTDIR/build.log;
    fails the test with the log's end when it fails."""
    result = subprocess.run([str(a) for a in argv], capture_output=True, text=True, env=env,
                            timeout=timeout)
    log = pathlib.Path(outdir) / "build.log"
    log.write_text(result.stdout + result.stderr)
    assert result.returncode == 0, f"{pathlib.Path(argv[0]).name} failed; the log is {log}:\n" + \
        "\n".join((result.stdout + result.stderr).splitlines()[-30:])


def only_changes(outdir):
    changes = list(pathlib.Path(outdir).glob("*.changes"))
    assert len(changes) == 1, changes
    return changes[0]


def build(outdir, epoch=None):
    """Runs build-deb into outdir; returns the .changes file."""
    env = dict(os.environ, **BUILD_ENV)
    if epoch is not None:
        env["SOURCE_DATE_EPOCH"] = str(epoch)
    run_build([BUILD_DEB, outdir], outdir, env)
    return only_changes(outdir)


def cached_changes(name, digest, make):
    """The .changes file of a build kept in ~/.cache/kvm-bundle/NAME/DIGEST/:
    MAKE(outdir) builds it there the first time, under a lock that parallel
    test workers share."""
    root = cache_dir(name)
    with open(root / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        outdir = root / digest
        if not (outdir / ".complete").exists():
            remove_stale_builds(root)
            shutil.rmtree(outdir, ignore_errors=True)
            outdir.mkdir()
            make(outdir)
            (outdir / ".complete").touch()
    return only_changes(outdir)


def cached_build():
    """The packages of the current source, built once: the .changes file."""
    require_tools()
    if not (TOP / ".git").exists():
        pytest.skip("the package tests key their cache on git's file list; this is no checkout")

    def make(outdir):
        build(outdir, epoch=changelog_field("Timestamp"))
        # The copied source is not needed once the packages exist.
        shutil.rmtree(outdir / f"kvm-{changelog_field('Version')}")

    return cached_changes("deb", source_digest(), make)


def remove_stale_builds(root, days=2):
    """Removes builds of other sources older than days; a younger one may be
    in use by a test run of another checkout."""
    for old in root.iterdir():
        if old.is_dir() and time.time() - old.stat().st_mtime > days * 86400:
            shutil.rmtree(old, ignore_errors=True)


def debs(changes):
    """The binary packages of a .changes file, without debug symbols."""
    return sorted(p for p in changes.parent.glob("*.deb") if "-dbgsym_" not in p.name)


def control_packages():
    """The binary packages packaging-debian/debian/control defines."""
    control = (TOP / "packaging-debian" / "debian" / "control").read_text()
    return re.findall(r"^Package: (\S+)$", control, re.M)


def package_names(changes):
    return [subprocess.run(["dpkg-deb", "-f", deb, "Package"], capture_output=True, text=True,
                           check=True).stdout.strip() for deb in debs(changes)]


def make_repo(changes, repo):
    result = subprocess.run([MAKE_REPO, changes.parent, repo], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    return repo
