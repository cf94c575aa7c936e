# SPDX-License-Identifier: GPL-2.0-or-later
"""The RPM packages of packaging-rpm/kvm.spec, built by `make rpm`'s script
on this Debian machine as openSUSE and as Fedora: rpmlint, the files, the
requirements and the scriptlets of each package, and an install of the
repository `make rpm-repo` makes into an empty root with zypper (openSUSE)
and dnf (Fedora).  docs/packaging.md says what this does and does not test.
"""
import os
import re
import shutil

import pytest

from conftest import TOP, run
import rpmstandin

pytestmark = pytest.mark.guest

BUILD_RPMS = TOP / "packaging-rpm" / "build-rpms"
MAKE_REPO = TOP / "packaging-rpm" / "make-repo"
RPMLINTRC = TOP / "packaging-rpm" / "kvm.rpmlintrc"
TARGETS = ("opensuse", "fedora")
VERSION = re.search(r"^  version : '([^']+)',$", (TOP / "meson.build").read_text(),
                    re.MULTILINE).group(1)
CALL_LOG = rpmstandin.CALL_LOG


def require_tools(*names):
    for name in names:
        if shutil.which(name) is None:
            pytest.skip(f"{name} is not installed (scripts/install-deps installs it)")


query = rpmstandin.query


@pytest.fixture(scope="session")
def repos(tmp_path_factory):
    """OUTPUT of build-rpms (cached under ~/.cache/kvm-bundle/rpm/) made
    into repositories by make-repo: {target: folder}."""
    require_tools("rpmbuild", "createrepo_c")
    output = tmp_path_factory.mktemp("rpm")
    built = run([BUILD_RPMS, output], timeout=3600)
    assert built.returncode == 0, built.stderr[-3000:]
    made = run([MAKE_REPO, output], timeout=600)
    assert made.returncode == 0, made.stderr
    return {target: output / target for target in TARGETS}


def packages(folder):
    """{package name: file} of the binary RPMs in a folder."""
    found = {}
    for rpm in sorted(folder.glob("*/*.rpm")):
        found[query(rpm, "--qf", "%{NAME}")[0]] = rpm
    return found


@pytest.fixture(scope="session")
def built(repos):
    return {target: packages(folder) for target, folder in repos.items()}


def optional_components():
    """The subpackages of components whose sources are in the tree."""
    names = []
    if (TOP / "netboot" / "meson.build").exists():
        names.append("kvm-netboot")
    if (TOP / "installer" / "meson.build").exists():
        names.append("kvm-install")
    return names


def module_package(names, target):
    if target == "fedora":
        return "kvm-dkms"
    kmps = [n for n in names if n.startswith("kvm-kmp-")]
    assert len(kmps) == 1, f"one kvm-kmp-FLAVOR expected, got {kmps}"
    return kmps[0]


@pytest.mark.parametrize("target", TARGETS)
def test_the_subpackages_are_the_debian_ones(built, repos, target):
    names = set(built[target])
    expected = {"kvm", "kvm-host", "kvm-image", "libkvmimage0", "libkvmimage-devel",
                "kvm-run", module_package(names, target), *optional_components()}
    assert names == expected
    assert len(list(repos[target].glob("*.src.rpm"))) == 1


def test_rpmlint_reports_no_errors_or_unexplained_warnings(built, repos):
    """The binaries of both variants and openSUSE's source RPM in one run,
    so that every filter of the rpmlintrc (some are openSUSE's, some
    Fedora's) is used: rpmlint reports unused ones as errors.  Fedora's
    source RPM in a run of its own (two source RPMs named kvm in one run are
    taken for one package with two specs), which uses only some filters."""
    require_tools("rpmlint")
    binaries = [rpm for target in TARGETS for rpm in built[target].values()]
    runs = [[*binaries, *repos["opensuse"].glob("*.src.rpm")],
            ["--ignore-unused-rpmlintrc", *repos["fedora"].glob("*.src.rpm")]]
    for files in runs:
        result = run(["rpmlint", "-r", RPMLINTRC, *files], timeout=600)
        summary = result.stdout.strip().splitlines()[-1]
        assert result.returncode == 0, result.stdout
        assert " 0 errors, 0 warnings" in summary, result.stdout


def file_owners(packages_of_target):
    """{path: [packages]} of everything but directories, which packages
    may share."""
    owners = {}
    for name, rpm in packages_of_target.items():
        for line in query(rpm, "--qf", "[%{FILEMODES:perms} %{FILENAMES}\n]"):
            perms, path = line.split(" ", 1)
            if not perms.startswith("d"):
                owners.setdefault(path, []).append(name)
    return owners


@pytest.mark.parametrize("target", TARGETS)
def test_every_file_is_in_the_right_package(built, target):
    names = built[target]
    owners = file_owners(names)
    shared = {p: o for p, o in owners.items() if len(o) > 1}
    assert shared == {}, "files in more than one package"

    def owner(path):
        return owners.get(path, ["nobody"])

    expected = {
        "/usr/bin/kvm-ok": "kvm-host",
        "/usr/share/man/man1/kvm-ok.1.gz": "kvm-host",
        "/usr/share/bash-completion/completions/kvm-ok": "kvm-host",
        "/usr/lib/udev/rules.d/65-kvm.rules": "kvm-host",
        "/usr/lib/modprobe.d/kvm-bundle.conf": "kvm-host",
        "/usr/lib/modules-load.d/kvm.conf": "kvm-host",
        "/usr/lib/sysusers.d/kvm.conf": "kvm-host",
        "/usr/bin/kvm-image": "kvm-image",
        "/usr/share/man/man1/kvm-image.1.gz": "kvm-image",
        "/usr/lib64/libkvmimage.so.0": "libkvmimage0",
        "/usr/lib64/libkvmimage.so": "libkvmimage-devel",
        "/usr/lib64/pkgconfig/libkvmimage.pc": "libkvmimage-devel",
        "/usr/include/kvmimage.h": "libkvmimage-devel",
        "/usr/bin/kvm-run": "kvm-run",
        "/usr/share/man/man1/kvm-run.1.gz": "kvm-run",
        "/usr/share/kvm-run/profiles/windows-11.profile": "kvm-run",
        "/usr/share/licenses/kvm/COPYING": "kvm",
    }
    if "kvm-netboot" in names:
        expected.update({"/usr/bin/kvm-netboot": "kvm-netboot",
                         "/usr/share/man/man1/kvm-netboot.1.gz": "kvm-netboot",
                         "/usr/share/bash-completion/completions/kvm-netboot": "kvm-netboot"})
    if "kvm-install" in names:
        expected.update({"/usr/bin/kvm-install": "kvm-install",
                         "/usr/share/man/man1/kvm-install.1.gz": "kvm-install",
                         "/usr/share/bash-completion/completions/kvm-install": "kvm-install"})
    if target == "fedora":
        expected.update({f"/usr/src/kvm-{VERSION}/dkms.conf": "kvm-dkms",
                         f"/usr/src/kvm-{VERSION}/build-modules": "kvm-dkms",
                         f"/usr/src/kvm-{VERSION}/patches/series": "kvm-dkms"})
    else:
        kmp = module_package(names, target)
        modules = [p for p in owners if re.fullmatch(r"/lib/modules/[^/]+/updates/kvm(-intel|-amd)?\.ko", p)]
        assert len(modules) == 3 and all(owner(p) == [kmp] for p in modules)
    for path, package in expected.items():
        assert owner(path) == [package], path
    # The command names the distribution's QEMU owns stay its own
    # (docs/qemu-kvm.md), and nothing goes to /etc, which is the admin's.
    for path in owners:
        assert not re.search(r"/(qemu-kvm|kvm)(\.1\.gz)?$", path), path
        assert not path.startswith("/etc/"), path


def requirements(rpm):
    return {line.split()[0] for line in query(rpm, "-R")}


@pytest.mark.parametrize("target", TARGETS)
def test_requirements_are_the_distributions_names(built, target):
    names = built[target]
    qemu = {"opensuse": "qemu-x86", "fedora": "qemu-kvm-core"}[target]
    assert {"kvm-host", "kvm-image", "kvm-run"} <= requirements(names["kvm"])
    assert {qemu, "libkvmimage.so.0()(64bit)"} <= requirements(names["kvm-run"])
    assert "libkvmimage0" in requirements(names["libkvmimage-devel"])
    assert "kmod" in requirements(names["kvm-host"])
    recommended = set(query(names["kvm-run"], "--recommends"))
    ovmf = {"opensuse": "qemu-ovmf-x86_64", "fedora": "edk2-ovmf"}[target]
    assert {ovmf, "swtpm"} <= recommended
    # The KVM-only QEMU is a choice: suggested, never pulled in.
    assert query(names["kvm-run"], "--suggests") == ["kvm-run-qemu-core"]
    if "kvm-netboot" in names:
        ipxe = {"opensuse": "ipxe-bootimgs", "fedora": "ipxe-bootimgs-x86"}[target]
        assert {"dnsmasq", ipxe} <= requirements(names["kvm-netboot"])
    if "kvm-install" in names:
        assert "kvm-run" in requirements(names["kvm-install"])
    if target == "fedora":
        assert "dkms" in requirements(names["kvm-dkms"])
    else:
        kmp = module_package(names, target)
        assert {"kvm-host", "kernel-" + kmp.removeprefix("kvm-kmp-")} <= requirements(names[kmp])


@pytest.mark.parametrize("target", TARGETS)
def test_scriptlets_are_present(built, target):
    names = built[target]
    host = "\n".join(query(names["kvm-host"], "--scripts"))
    assert re.search(r"preinstall scriptlet.*\n(.*\n)*getent group 'kvm' >/dev/null \|\| groupadd -r 'kvm'", host)
    assert "udevadm trigger --name-match=kvm" in host
    if target == "opensuse":
        assert "udevadm control --reload" in host
    lib = "\n".join(query(names["libkvmimage0"], "--scripts"))
    assert "postinstall program: /sbin/ldconfig" in lib
    if target == "fedora":
        dkms = "\n".join(query(names["kvm-dkms"], "--scripts"))
        assert f"dkms add -m kvm -v {VERSION}" in dkms
        assert f"dkms remove -m kvm -v {VERSION}" in dkms
    else:
        kmp = "\n".join(query(names[module_package(names, target)], "--scripts"))
        assert "postinstall scriptlet" in kmp and "/sbin/depmod -a" in kmp


# --- installing into an empty root ---------------------------------------

@pytest.fixture(scope="session")
def stand_in_repo(built, tmp_path_factory):
    """The distribution's base packages stood in for (rpmstandin)."""
    require_tools("busybox")
    every = [rpm for names in built.values() for rpm in names.values()]
    return rpmstandin.make_repo(every, tmp_path_factory.mktemp("stand-in"))


def require_root():
    if os.geteuid() != 0:
        pytest.skip("installing into a root runs the scriptlets in a chroot: needs root")


def check_installed(root, target, names):
    """The files of the packages are in the root and their scriptlets ran."""
    for path in ("usr/bin/kvm-ok", "usr/bin/kvm-image", "usr/bin/kvm-run",
                 "usr/lib/udev/rules.d/65-kvm.rules", "usr/lib/sysusers.d/kvm.conf",
                 "usr/lib64/libkvmimage.so.0", "usr/include/kvmimage.h"):
        assert (root / path).exists(), path
    assert re.search(r"^kvm:x:\d+:", (root / "etc" / "group").read_text(), re.MULTILINE)
    calls = (root / CALL_LOG).read_text()
    assert "groupadd -r kvm" in calls
    assert "ldconfig" in calls
    if target == "opensuse":
        assert "udevadm control --reload" in calls
    if target == "fedora":
        dkms = (root / f"usr/src/kvm-{VERSION}/dkms.conf").read_text()
        assert f'PACKAGE_VERSION="{VERSION}"' in dkms
        assert f"dkms add -m kvm -v {VERSION}" in calls
    else:
        assert list(root.glob("lib/modules/*/updates/kvm-amd.ko"))
        assert "depmod -a" in calls
    for name in optional_components():
        assert (root / "usr" / "bin" / name).exists()


def wanted(names, target):
    """Every package; kvm-netboot and kvm-install by name, since kvm only
    recommends them and the installs leave recommendations out."""
    return ["kvm", module_package(names, target), "libkvmimage-devel", *optional_components()]


def test_zypper_installs_the_repository_into_an_empty_root(built, repos, stand_in_repo, tmp_path):
    require_tools("zypper")
    require_root()
    base, provides = stand_in_repo
    root = tmp_path / "root"
    zypper = ["zypper", "--root", root, "--non-interactive", "--no-gpg-checks"]
    # What a user does: add the repository's .repo file.
    for added in (run([*zypper, "addrepo", repos["opensuse"] / "kvm.repo"], timeout=300),
                  run([*zypper, "addrepo", f"file://{base}", "base"], timeout=300)):
        assert added.returncode == 0, added.stdout + added.stderr
    names = built["opensuse"]
    result = run([*zypper, "install", "--no-recommends", *wanted(names, "opensuse")], timeout=900)
    assert result.returncode == 0, (result.stdout[-3000:] + result.stderr[-3000:]
                                    + "\nthe stand-in provides: " + " ".join(provides))
    check_installed(root, "opensuse", names)


def test_dnf_installs_the_repository_into_an_empty_root(built, repos, stand_in_repo, tmp_path):
    require_tools("dnf")
    require_root()
    base, provides = stand_in_repo
    root = tmp_path / "root"
    (root / "etc" / "yum.repos.d").mkdir(parents=True)
    # What a user does: the repository's .repo file into yum.repos.d.
    shutil.copy(repos["fedora"] / "kvm.repo", root / "etc" / "yum.repos.d" / "kvm.repo")
    names = built["fedora"]
    result = run(["dnf", "--installroot", root, "--releasever", "41", "--assumeyes",
                  "--setopt=install_weak_deps=False", "--setopt=reposdir=" + str(root / "etc/yum.repos.d"),
                  "--repofrompath", f"base,file://{base}", "--setopt=base.gpgcheck=0",
                  "install", *wanted(names, "fedora")], timeout=900)
    assert result.returncode == 0, (result.stdout[-3000:] + result.stderr[-3000:]
                                    + "\nthe stand-in provides: " + " ".join(provides))
    check_installed(root, "fedora", names)
