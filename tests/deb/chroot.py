# SPDX-License-Identifier: GPL-2.0-or-later
"""A clean Debian root to install the packages into, made with debootstrap
from the Debian archive this machine's apt sources name.

Two tarballs are cached in ~/.cache/kvm-bundle/deb-chroot/: the minbase
root of the suite and mirror (with its package lists, rebuilt after a
week), and that root with the packages ours depend on installed, keyed on
the base and on our packages' relationship fields.  Downloaded .debs are
kept in archives/ there and reused.  A test root is a fresh extraction of
the second tarball, so everything ours brings in comes from the install
under test, and purging ours must give back the root as it was.
"""
import fcntl
import hashlib
import os
import pathlib
import re
import shutil
import subprocess
import time

import pytest

import debbuild
from debbuild import cache_dir

# Inside the root only Debian's archive and the local repository are used.
CHROOT_ENV = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "DEBIAN_FRONTEND": "noninteractive",
              "LC_ALL": "C", "HOME": "/root"}
BASE_MAX_AGE = 7 * 86400
REPO_IN_ROOT = "/srv/kvm-repo"
REPO_LIST = "etc/apt/sources.list.d/kvm-bundle.list"
# Paths the package system, logs and caches change on any install, as
# piuparts ignores them; /root holds the files the test itself made.
IGNORED = ("/proc", "/dev", "/run", "/tmp", "/var/tmp", "/root", "/var/lib/dpkg", "/var/lib/apt",
           "/var/cache/apt", "/var/cache/debconf", "/var/cache/man", "/var/cache/ldconfig",
           "/var/log", "/etc/ld.so.cache", "/etc/group-", "/etc/gshadow-", "/etc/passwd-",
           "/etc/shadow-",
           # DKMS makes the machine's module-signing key on its first build
           # and keeps it for every DKMS package: it may be enrolled as a
           # MOK in the firmware.  dkms owns it, not kvm-dkms.
           "/var/lib/dkms/mok.key", "/var/lib/dkms/mok.pub")


def require():
    """Skips, saying why, where a root cannot be made here."""
    if os.geteuid() != 0:
        pytest.skip("making a Debian root with debootstrap and chroot needs root")
    for tool, package in (("debootstrap", "debootstrap"), ("unshare", "util-linux"),
                          ("qemu-img", "qemu-utils")):
        if shutil.which(tool) is None:
            pytest.skip(f"{tool} is not installed (scripts/install-deps installs {package})")


def _os_release(field):
    for line in pathlib.Path("/etc/os-release").read_text().splitlines():
        key, _, value = line.partition("=")
        if key == field:
            return value.strip('"')
    return ""


def _apt_sources():
    """(URI, suite) pairs of every deb source of this machine."""
    pairs = []
    etc = pathlib.Path("/etc/apt")
    files = [etc / "sources.list", *sorted((etc / "sources.list.d").glob("*.list"))]
    for path in files:
        if not path.is_file():
            continue
        for line in path.read_text().splitlines():
            line = re.sub(r"\[[^]]*\]", "", line.split("#", 1)[0]).split()
            if len(line) >= 3 and line[0] == "deb":
                pairs.append((line[1].rstrip("/"), line[2]))
    for path in sorted((etc / "sources.list.d").glob("*.sources")):
        for stanza in re.split(r"\n\s*\n", path.read_text()):
            fields = {}
            for line in stanza.splitlines():
                if line.startswith("#") or ":" not in line:
                    continue
                key, _, value = line.partition(":")
                fields[key.strip().lower()] = value.split()
            if "deb" in fields.get("types", []) and fields.get("enabled", ["yes"]) != ["no"]:
                pairs += [(uri.rstrip("/"), suite) for uri in fields.get("uris", [])
                          for suite in fields.get("suites", [])]
    return pairs


def host_archive():
    """The suite and the sources.list lines of the Debian archive (with its
    -updates and -security suites where this machine uses them)."""
    if _os_release("ID") != "debian":
        pytest.skip("the install test makes a root of this machine's Debian release; "
                    "this machine is not Debian")
    suite = _os_release("VERSION_CODENAME")
    lines = []
    for uri, source_suite in _apt_sources():
        if source_suite in (suite, f"{suite}-updates", f"{suite}-security") and \
                re.search(r"/debian(-security)?$", uri):
            line = f"deb {uri} {source_suite} main"
            if line not in lines:
                lines.append(line)
    mirror = next((line.split()[1] for line in lines if line.split()[2] == suite), None)
    if mirror is None:
        pytest.skip(f"no Debian archive for {suite} in /etc/apt/sources.list*")
    return suite, mirror, lines


def chroot(root, *argv, check=True, timeout=1800):
    """Runs argv inside root with its own /proc, in a PID and mount
    namespace of its own, so nothing stays mounted or running after it."""
    result = subprocess.run(["unshare", "--fork", "--pid", f"--mount-proc={root}/proc",
                             "chroot", str(root), *[str(a) for a in argv]],
                            capture_output=True, text=True, env=CHROOT_ENV, timeout=timeout)
    if check:
        assert result.returncode == 0, \
            f"{' '.join(map(str, argv))} in the root failed ({result.returncode}):\n" \
            + "\n".join((result.stdout + result.stderr).splitlines()[-40:])
    return result


def _extract(tarball, root):
    root.mkdir(parents=True)
    subprocess.run(["tar", "-C", root, "--numeric-owner", "-xpf", tarball], check=True)


def _pack(root, tarball):
    partial = tarball.with_name(tarball.name + ".partial")
    subprocess.run(["tar", "-C", root, "--numeric-owner", "-cf", partial, "."], check=True)
    partial.rename(tarball)


def _link_or_copy(source, target):
    try:
        os.link(source, target)
    except OSError:
        shutil.copy2(source, target)


def _with_archive_cache(root, archives):
    """Puts the cached .debs where apt in root looks; returns a function
    that keeps the new ones and empties apt's folder again."""
    apt_archives = root / "var/cache/apt/archives"
    for deb in archives.glob("*.deb"):
        if not (apt_archives / deb.name).exists():
            _link_or_copy(deb, apt_archives / deb.name)

    def keep_new():
        for deb in apt_archives.glob("*.deb"):
            if not (archives / deb.name).exists():
                _link_or_copy(deb, archives / deb.name)
        chroot(root, "apt-get", "clean")

    return keep_new


def _digest(*parts):
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()[:16]


def base_tarball(suite, mirror, sources):
    """The minbase root of suite from mirror, with package lists."""
    cache = cache_dir("deb-chroot")
    archives = cache / "archives"
    archives.mkdir(exist_ok=True)
    tarball = cache / f"base-{suite}-{_digest(suite, mirror, *sources)}.tar"
    with open(cache / ".lock-base", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if tarball.exists() and time.time() - tarball.stat().st_mtime < BASE_MAX_AGE:
            return tarball
        work = cache / "work-base"
        shutil.rmtree(work, ignore_errors=True)
        result = subprocess.run(["debootstrap", "--variant=minbase", f"--cache-dir={archives}",
                                 suite, work, mirror], capture_output=True, text=True)
        assert result.returncode == 0, "debootstrap failed:\n" + result.stdout[-3000:] + \
            result.stderr[-3000:]
        (work / "etc/apt/sources.list").write_text("\n".join(sources) + "\n")
        # Services are never started in the root.
        policy = work / "usr/sbin/policy-rc.d"
        policy.write_text("#!/bin/sh\nexit 101\n")
        policy.chmod(0o755)
        chroot(work, "apt-get", "update", "-q")
        chroot(work, "apt-get", "clean")
        tarball.unlink(missing_ok=True)
        _pack(work, tarball)
        shutil.rmtree(work)
    return tarball


def add_repo(root, repo):
    """Copies the local repository into root and tells apt about it
    (only its own index is read again)."""
    shutil.copytree(repo, root / REPO_IN_ROOT.lstrip("/"))
    (root / REPO_LIST).write_text(f"deb [trusted=yes] file:{REPO_IN_ROOT} ./\n")
    chroot(root, "apt-get", "update", "-q", "-o", f"Dir::Etc::SourceList=/{REPO_LIST}",
           "-o", "Dir::Etc::SourceParts=-", "-o", "APT::Get::List-Cleanup=0")


def remove_repo(root):
    shutil.rmtree(root / REPO_IN_ROOT.lstrip("/"))
    (root / REPO_LIST).unlink()
    for index in (root / "var/lib/apt/lists").glob("_srv_kvm-repo_*"):
        index.unlink()


def simulate(root, names):
    """The packages `apt-get install --no-install-recommends names` would
    install in root."""
    result = chroot(root, "apt-get", "install", "-s", "--no-install-recommends", *names)
    return sorted(re.findall(r"^Inst (\S+)", result.stdout, re.M))


def deps_tarball(base, repo, install, ours, fields):
    """base with what `apt-get install install` brings in from Debian
    (everything but ours) already installed."""
    cache = cache_dir("deb-chroot")
    tarball = cache / f"deps-{_digest(base.name, *install, *fields)}.tar"
    with open(cache / ".lock-deps", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if tarball.exists() and tarball.stat().st_mtime >= base.stat().st_mtime:
            return tarball
        work = cache / "work-deps"
        shutil.rmtree(work, ignore_errors=True)
        _extract(base, work)
        add_repo(work, repo)
        deps = [name for name in simulate(work, install) if name not in ours]
        keep_new = _with_archive_cache(work, cache / "archives")
        chroot(work, "apt-get", "install", "-y", "-q", "--no-install-recommends", *deps)
        keep_new()
        remove_repo(work)
        for old in cache.glob("deps-*.tar"):
            old.unlink()
        _pack(work, tarball)
        shutil.rmtree(work)
    return tarball


# What kvm-dkms builds on, as a host has it: the kernel and its headers.
KERNEL = ("linux-image-amd64", "linux-headers-amd64")


def relationship_names(deb, field):
    """Package names of a relationship field, first alternative of each."""
    value = subprocess.run(["dpkg-deb", "-f", deb, field], capture_output=True, text=True,
                           check=True).stdout
    return [re.split(r"[\s(:]", part.split("|")[0].strip())[0]
            for part in value.split(",") if part.strip()]


def kvm_deps_tarball(changes, repo):
    """The root with what the bundle's packages (of changes, in repo) need
    from Debian installed, their recommendations and a kernel with its
    headers too: one cached tarball that every install test starts from."""
    ours = debbuild.package_names(changes)
    suite, mirror, sources = host_archive()
    base = base_tarball(suite, mirror, sources)
    recommended = {name for deb in debbuild.debs(changes)
                   for name in relationship_names(deb, "Recommends")} \
        - set(debbuild.control_packages())
    fields = [subprocess.run(["dpkg-deb", "-f", deb, "Package", "Depends", "Pre-Depends",
                              "Recommends"], capture_output=True, text=True,
                             check=True).stdout for deb in debbuild.debs(changes)]
    return deps_tarball(base, repo, sorted(ours) + sorted(recommended) + list(KERNEL), ours, fields)


def installed(root):
    """The packages installed in root."""
    result = chroot(root, "dpkg-query", "-W", "-f", "${Package} ${db:Status-Abbrev}\n")
    return {line.split()[0] for line in result.stdout.splitlines()
            if line.split()[1:2] == ["ii"]}


def fresh_root(tarball, root):
    _extract(tarball, root)
    return root


def snapshot(root):
    """Every path under root but the ignored ones: its type, and the
    target of symbolic links."""
    entries = {}
    for folder, dirs, files in os.walk(root):
        rel_folder = "/" + os.path.relpath(folder, root).lstrip(".")
        rel_folder = rel_folder.rstrip("/") or "/"
        dirs[:] = [d for d in dirs if _kept(os.path.join(rel_folder, d))]
        for name in dirs + files:
            rel = os.path.join(rel_folder, name)
            if not _kept(rel):
                continue
            path = os.path.join(folder, name)
            if os.path.islink(path):
                entries[rel] = "link " + os.readlink(path)
            elif os.path.isdir(path):
                entries[rel] = "dir"
            else:
                entries[rel] = "file"
    return entries


def _kept(path):
    return not any(path == p or path.startswith(p + "/") for p in IGNORED)
