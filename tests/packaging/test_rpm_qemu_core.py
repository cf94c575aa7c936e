# SPDX-License-Identifier: GPL-2.0-or-later
"""kvm-run-qemu-core's RPM (packaging-rpm/kvm-run-qemu-core.spec), built by
`make rpm-qemu-core`'s script on this Debian machine as openSUSE and as
Fedora, with Debian's patched QEMU tree standing in for theirs: rpmlint,
its files, its requirements (each distribution's firmware packages), and
installs with zypper and dnf into empty roots beside the stand-in for the
distribution's packages (rpmstandin).  The packages are cached under
~/.cache/kvm-bundle/rpm-qemu-core/ and the QEMU build inside them comes
from build-qemu-core's cache, keyed on the tree's contents and every other
input: the same binary as make qemu-kvm-core's and the Debian package's."""
import os
import re
import shutil

import pytest

from conftest import TOP, run
import rpmstandin

pytestmark = pytest.mark.guest

BUILD = TOP / "packaging-rpm" / "build-rpm-qemu-core"
RPMLINTRC = TOP / "packaging-rpm" / "kvm-run-qemu-core.rpmlintrc"
TARGETS = ("opensuse", "fedora")
BINARY = "/usr/libexec/kvm-run/qemu-kvm-core"
FIRMWARE = {"opensuse": {"qemu-seabios", "qemu-vgabios", "qemu-ipxe", "qemu-x86"},
            "fedora": {"seabios-bin", "seavgabios-bin", "ipxe-roms-qemu", "qemu-system-x86-core"}}


def require_tools(*names):
    for name in names:
        if shutil.which(name) is None:
            pytest.skip(f"{name} is not installed (scripts/install-deps installs it)")


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    """{target: the .rpm} (build-rpm-qemu-core, cached)."""
    require_tools("rpmbuild", "dpkg-query")
    output = tmp_path_factory.mktemp("rpm-qemu-core")
    result = run([BUILD, output], timeout=3 * 3600)
    assert result.returncode == 0, result.stderr[-3000:]
    rpms = {}
    for target in TARGETS:
        found = list((output / target).glob("x86_64/kvm-run-qemu-core-*.rpm"))
        assert len(found) == 1, found
        rpms[target] = found[0]
    return rpms


def test_rpmlint_reports_no_errors_or_unexplained_warnings(built):
    require_tools("rpmlint")
    result = run(["rpmlint", "-r", RPMLINTRC, *built.values()], timeout=600)
    summary = result.stdout.strip().splitlines()[-1]
    assert result.returncode == 0, result.stdout
    assert " 0 errors, 0 warnings" in summary, result.stdout


@pytest.mark.parametrize("target", TARGETS)
def test_it_holds_the_binary_in_kvm_runs_folder(built, target):
    files = rpmstandin.query(built[target], "-l")
    assert BINARY in files
    # Besides it: its folder, QEMU's license texts, the bundle's README, and
    # the build-id link rpm adds for the binary.
    others = [f for f in files if f not in (BINARY, "/usr/libexec/kvm-run")
              and not f.startswith(("/usr/share/licenses/kvm-run-qemu-core",
                                    "/usr/share/doc/kvm-run-qemu-core", "/usr/lib/.build-id"))]
    assert others == []
    assert "/usr/share/licenses/kvm-run-qemu-core/COPYING" in files
    modes = dict(reversed(line.split(" ", 1)) for line in rpmstandin.query(
        built[target], "--qf", "[%{FILEMODES:perms} %{FILENAMES}\n]"))
    assert modes[BINARY] == "-rwxr-xr-x"


@pytest.mark.parametrize("target", TARGETS)
def test_requirements_are_the_distributions_firmware(built, target):
    required = {line.split()[0] for line in rpmstandin.query(built[target], "-R")}
    assert FIRMWARE[target] <= required
    # rpm's dependency generator found the libraries of the features built in.
    assert {"libglib-2.0.so.0()(64bit)", "libslirp.so.0()(64bit)",
            "libseccomp.so.2()(64bit)", "libfdt.so.1()(64bit)"} <= required
    assert rpmstandin.query(built[target], "--recommends") == ["kvm-run"]
    version = rpmstandin.query(built[target], "--qf", "%{VERSION}-%{RELEASE}")[0]
    assert re.fullmatch(r"[0-9.]+-[^-]+\.kvm[0-9.]+(\.fc[0-9]+)?", version), version


def require_root():
    if os.geteuid() != 0:
        pytest.skip("installing into a root runs the scriptlets in a chroot: needs root")


@pytest.fixture(scope="module")
def repos(built, tmp_path_factory):
    """{target: a repository of the package} and the stand-in's."""
    require_tools("createrepo_c", "busybox")
    work = tmp_path_factory.mktemp("rpm-qemu-core-repos")
    made = {}
    for target, rpm in built.items():
        made[target] = work / target
        made[target].mkdir()
        shutil.copy(rpm, made[target])
        run(["createrepo_c", "--quiet", made[target]], check=True)
    base, provides = rpmstandin.make_repo(list(built.values()), work / "stand-in")
    return made, base, provides


def check_installed(root):
    binary = root / BINARY.lstrip("/")
    assert binary.is_file()
    # The root holds the stand-in, not a distribution: the binary runs with
    # this machine's libraries, which it was built against.
    result = run([binary, "-accel", "help"], timeout=120)
    assert result.stdout.splitlines() == ["Accelerators supported in QEMU binary:", "kvm"]


def test_zypper_installs_it_into_an_empty_root(repos, tmp_path):
    require_tools("zypper")
    require_root()
    made, base, provides = repos
    root = tmp_path / "root"
    zypper = ["zypper", "--root", root, "--non-interactive", "--no-gpg-checks"]
    for added in (run([*zypper, "addrepo", f"file://{made['opensuse']}", "kvm"], timeout=300),
                  run([*zypper, "addrepo", f"file://{base}", "base"], timeout=300)):
        assert added.returncode == 0, added.stdout + added.stderr
    result = run([*zypper, "install", "--no-recommends", "kvm-run-qemu-core"], timeout=900)
    assert result.returncode == 0, (result.stdout[-3000:] + result.stderr[-3000:]
                                    + "\nthe stand-in provides: " + " ".join(provides))
    check_installed(root)


def test_dnf_installs_it_into_an_empty_root(repos, tmp_path):
    require_tools("dnf")
    require_root()
    made, base, provides = repos
    root = tmp_path / "root"
    result = run(["dnf", "--installroot", root, "--releasever", "41", "--assumeyes",
                  "--setopt=install_weak_deps=False", "--setopt=reposdir=" + str(tmp_path / "none"),
                  "--repofrompath", f"kvm,file://{made['fedora']}", "--setopt=kvm.gpgcheck=0",
                  "--repofrompath", f"base,file://{base}", "--setopt=base.gpgcheck=0",
                  "install", "kvm-run-qemu-core"], timeout=900)
    assert result.returncode == 0, (result.stdout[-3000:] + result.stderr[-3000:]
                                    + "\nthe stand-in provides: " + " ".join(provides))
    check_installed(root)
