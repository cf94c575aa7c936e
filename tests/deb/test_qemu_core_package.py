# SPDX-License-Identifier: GPL-2.0-or-later
"""kvm-run-qemu-core, the KVM-only QEMU's Debian package
(packaging-debian/build-deb-qemu-core, cached by qemucorebuild): it holds
the binary where kvm-run looks for it and nothing else but its documents,
names the Debian QEMU source it is built from, depends on what the binary
loads, is lintian clean down to the pedantic tags, and its binary runs
guests with KVM only."""
import re
import shutil
import subprocess

import pytest

import debbuild
import qemucorebuild
from conftest import run
from test_packages import contents, field

pytestmark = pytest.mark.guest

BINARY = "/usr/libexec/kvm-run/qemu-kvm-core"
DOCS = "/usr/share/doc/kvm-run-qemu-core"


@pytest.fixture(scope="module")
def changes():
    return qemucorebuild.cached_build()


@pytest.fixture(scope="module")
def deb(changes):
    return qemucorebuild.deb(changes)


def test_it_holds_the_binary_and_its_documents_only(deb):
    files = {path: kind for path, kind in contents(deb).items() if kind[0] != "dir"}
    assert files.keys() == {BINARY, f"{DOCS}/copyright", f"{DOCS}/changelog.Debian.gz",
                            f"{DOCS}/README.Debian"}
    assert files[BINARY] == ("file", "-rwxr-xr-x")


def test_fields_name_the_qemu_source_and_what_the_binary_loads(deb):
    source = qemucorebuild.qemu_source_version()
    assert field(deb, "Package") == "kvm-run-qemu-core"
    assert field(deb, "Version") == qemucorebuild.package_version()
    assert field(deb, "Architecture") == "amd64"
    # Debian Policy 7.8: the binary holds the code of Debian's qemu source.
    assert field(deb, "Built-Using") == f"qemu (= {source})"
    depends = [part.strip() for part in field(deb, "Depends").split(",")]
    names = {re.split(r"[\s(]", part)[0] for part in depends}
    # SeaBIOS and its VGA BIOS, iPXE's ROMs, kvmvapic.bin and linuxboot_dma.bin.
    assert {"seabios", "ipxe-qemu", "qemu-system-data"} <= names
    upstream = source.rsplit("-", 1)[0]
    assert f"qemu-system-data (>> {upstream}~)" in depends
    # shlibs: the libraries of the features it is built with, and not those
    # of Debian's full QEMU (GnuTLS, SPICE, io_uring...).
    assert {"libglib2.0-0", "libpixman-1-0", "libslirp0", "libseccomp2", "libfdt1"} <= names
    assert not names & {"libgnutls30", "libspice-server1", "liburing2", "qemu-system-x86"}
    assert field(deb, "Recommends") == "kvm-run"


def test_lintian_is_clean_down_to_pedantic(changes):
    if shutil.which("lintian") is None:
        pytest.skip("lintian is not installed (scripts/install-deps installs it)")
    result = subprocess.run(["lintian", "-I", "--pedantic", "--fail-on", "error,warning,info,pedantic",
                             changes], capture_output=True, text=True, timeout=1800)
    tags = [line for line in result.stdout.splitlines() if line[:2] in ("E:", "W:", "I:", "P:")]
    assert result.returncode == 0 and not tags, "lintian:\n" + result.stdout + result.stderr


def test_the_packaged_binary_runs_with_kvm_only(deb, tmp_path):
    subprocess.run(["dpkg-deb", "-x", deb, tmp_path], check=True)
    binary = tmp_path / BINARY.lstrip("/")
    result = run([binary, "-accel", "help"], timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == ["Accelerators supported in QEMU binary:", "kvm"]
    version = run([binary, "--version"], timeout=120).stdout
    assert f"({qemucorebuild.qemu_source_version()}, kvm-bundle qemu-kvm core)" in version


def test_the_kvm_packages_and_it_make_one_repository(changes, tmp_path):
    """make repo: the bundle's packages and kvm-run-qemu-core together."""
    kvm = debbuild.cached_build()
    repo = tmp_path / "repo"
    result = run([debbuild.MAKE_REPO, kvm.parent, changes.parent, repo], timeout=600)
    assert result.returncode == 0, result.stderr
    packages = re.findall(r"^Package: (\S+)$", (repo / "Packages").read_text(), re.M)
    assert "kvm-run-qemu-core" in packages and "kvm-run" in packages
