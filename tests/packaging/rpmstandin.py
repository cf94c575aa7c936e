# SPDX-License-Identifier: GPL-2.0-or-later
"""The relaxed dependency check of the RPM install tests: a repository of
one package, kvm-test-base, that provides every name our packages require
from the distribution and holds /bin/sh (busybox) and logging stand-ins for
the programs the scriptlets run.  Only the distribution's names are faked;
what our packages require of each other must resolve for real."""
import pathlib
import shutil

from conftest import run

# The stand-ins for the distribution's base packages log each call here,
# inside the root.
CALL_LOG = "var/log/stand-in-calls"
STAND_IN_SCRIPT = """#!/bin/sh
echo "$(basename "$0") $*" >>/%(log)s
%(body)s
"""
# What a stand-in does besides logging: groupadd really adds the group, so
# the test sees the scriptlet's effect; getent answers from /etc/group.
STAND_IN_BODIES = {
    "groupadd": 'for a; do name=$a; done; echo "$name:x:499:" >>/etc/group',
    "getent": 'grep -q "^$2:" /etc/group',
}
STAND_IN_PROGRAMS = ["/usr/bin/groupadd", "/usr/bin/getent", "/usr/bin/udevadm",
                     "/sbin/depmod", "/sbin/ldconfig", "/usr/sbin/dkms"]


def query(rpm, *options):
    """One rpm -qp query of a package file, as lines."""
    result = run(["rpm", "-qp", *options, rpm], check=True)
    return result.stdout.splitlines()


def unresolved_requirements(rpms):
    """What our packages require that none of them provides: the
    distribution's base packages."""
    required, provided = set(), set()
    for rpm in rpms:
        required |= {line.split()[0] for line in query(rpm, "-R")}
        provided |= {line.split()[0] for line in query(rpm, "--provides")}
        provided |= set(query(rpm, "-l"))
    return sorted(r for r in required - provided if not r.startswith("rpmlib("))


def make_repo(rpms, work):
    """Builds kvm-test-base for rpms in work; returns (repository folder,
    the names it provides)."""
    provides = unresolved_requirements(rpms)
    root = work / "root"
    (root / "bin").mkdir(parents=True)
    busybox = pathlib.Path(shutil.which("busybox")).resolve()
    shutil.copy(busybox, root / "bin" / "busybox")
    for applet in ("sh", "grep", "basename", "cat", "mkdir", "rm", "ln"):
        (root / "bin" / applet).symlink_to("busybox")
    # The programs the scriptlets run, and any other file our packages
    # require (/usr/bin/env of build-modules, /usr/bin/pkg-config of the .pc).
    file_requirements = [p for p in provides if p.startswith("/") and p != "/bin/sh"]
    for program in sorted(set(STAND_IN_PROGRAMS + file_requirements)):
        path = root / program.lstrip("/")
        path.parent.mkdir(parents=True, exist_ok=True)
        name = path.name
        path.write_text(STAND_IN_SCRIPT % {"log": CALL_LOG, "body": STAND_IN_BODIES.get(name, "")})
        path.chmod(0o755)
    (root / "etc").mkdir()
    (root / "etc" / "group").write_text("root:x:0:\n")
    (root / "var" / "log").mkdir(parents=True)
    files = sorted("/" + str(p.relative_to(root)) for p in root.rglob("*") if not p.is_dir())
    spec = work / "kvm-test-base.spec"
    spec.write_text("\n".join([
        "Name: kvm-test-base", "Version: 1", "Release: 1", "License: GPL-2.0-or-later",
        "Summary: stand-in for the distribution's base packages",
        "AutoReqProv: no",
        *[f"Provides: {p}" for p in provides if not p.startswith("/")],
        "%description", "Stand-in for the base packages of the kvm RPM install test.",
        "%install", f"cp -a {root}/. %{{buildroot}}/",
        "%files", "%config(noreplace) /etc/group", "%dir /var/log",
        *[f for f in files if f != "/etc/group"], ""]))
    result = run(["rpmbuild", "-bb", "--define", f"_topdir {work / 'top'}",
                  "--define", "__os_install_post %{nil}", spec], timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    repo = work / "repo"
    repo.mkdir()
    for rpm in (work / "top" / "RPMS").glob("*/*.rpm"):
        shutil.copy(rpm, repo)
    run(["createrepo_c", "--quiet", repo], check=True)
    return repo, provides
