# SPDX-License-Identifier: GPL-2.0-or-later
"""The Debian packages (packaging-debian/): what each holds, lintian, and
that two builds with the same SOURCE_DATE_EPOCH are byte-identical."""
import hashlib
import shutil
import subprocess

import pytest

import debbuild

pytestmark = pytest.mark.guest

PACKAGES = {"kvm", "kvm-host", "kvm-dkms", "kvm-image", "libkvmimage0", "libkvmimage-dev",
            "kvm-run", "kvm-netboot", "kvm-install"}


@pytest.fixture(scope="module")
def changes():
    return debbuild.cached_build()


def contents(deb):
    """Path -> ("file" | "link TARGET" | "dir", mode) of a .deb."""
    listing = subprocess.run(["dpkg-deb", "--fsys-tarfile", deb], capture_output=True, check=True)
    members = subprocess.run(["tar", "-tvf", "-"], input=listing.stdout, capture_output=True,
                             check=True).stdout.decode().splitlines()
    entries = {}
    for line in members:
        fields = line.split(None, 5)
        mode, name = fields[0], fields[5]
        if mode.startswith("l"):
            name, target = name.split(" -> ")
            entries[name.lstrip(".")] = ("link " + target, mode)
        else:
            entries[name.lstrip(".").rstrip("/") or "/"] = \
                ("dir" if mode.startswith("d") else "file", mode)
    return entries


def package(changes, name):
    return next(d for d in debbuild.debs(changes) if d.name.startswith(name + "_"))


def field(deb, name):
    return subprocess.run(["dpkg-deb", "-f", deb, name], capture_output=True, text=True,
                          check=True).stdout.strip()


def test_every_package_is_built(changes):
    assert set(debbuild.package_names(changes)) == PACKAGES


def test_each_package_holds_its_files(changes):
    host = contents(package(changes, "kvm-host"))
    for path in ("/usr/bin/kvm-ok", "/usr/share/man/man1/kvm-ok.1.gz",
                 "/usr/share/bash-completion/completions/kvm-ok",
                 "/lib/udev/rules.d/65-kvm.rules", "/lib/modprobe.d/kvm.conf",
                 "/usr/lib/modules-load.d/kvm.conf", "/usr/lib/sysusers.d/kvm.conf"):
        assert path in host, f"kvm-host lacks {path}"

    run = contents(package(changes, "kvm-run"))
    assert run["/usr/bin/qemu-kvm"][0] == "link kvm-run"
    assert run["/usr/share/man/man1/qemu-kvm.1.gz"][0] == "link kvm-run.1.gz"
    assert "/usr/share/kvm-run/profiles/windows-11.profile" in run
    assert "/usr/share/bash-completion/completions/kvm-run" in run

    version = debbuild.changelog_field("Version")
    dkms = contents(package(changes, "kvm-dkms"))
    src = f"/usr/src/kvm-{version}"
    assert dkms[f"{src}/build-modules"][1] == "-rwxr-xr-x"
    assert f"{src}/patches/series" in dkms
    with_version = subprocess.run(["dpkg-deb", "--fsys-tarfile", package(changes, "kvm-dkms")],
                                  capture_output=True, check=True).stdout
    conf = subprocess.run(["tar", "-xOf", "-", f".{src}/dkms.conf"], input=with_version,
                          capture_output=True, check=True).stdout.decode()
    assert f'PACKAGE_VERSION="{version}"' in conf
    assert "dkms" in field(package(changes, "kvm-dkms"), "Depends")

    dev = contents(package(changes, "libkvmimage-dev"))
    assert "/usr/include/kvmimage.h" in dev
    assert any(p.endswith("/pkgconfig/libkvmimage.pc") for p in dev)
    lib = contents(package(changes, "libkvmimage0"))
    assert any(p.endswith("/libkvmimage.so.0") for p in lib)
    assert not any(p.endswith("/libkvmimage.so") for p in lib), "the .so link is for -dev"

    for name in ("kvm-image", "kvm-netboot", "kvm-install"):
        files = contents(package(changes, name))
        assert f"/usr/bin/{name}" in files
        assert f"/usr/share/man/man1/{name}.1.gz" in files
        assert f"/usr/share/bash-completion/completions/{name}" in files


def test_relationships(changes):
    """Depends for what must work, Recommends for what improves."""
    kvm = package(changes, "kvm")
    for name in ("kvm-host", "kvm-image", "kvm-run"):
        assert name in field(kvm, "Depends")
    for name in ("kvm-netboot", "kvm-install"):
        assert name in field(kvm, "Recommends")
    run = package(changes, "kvm-run")
    assert "qemu-system-x86" in field(run, "Depends")
    assert "libkvmimage0" in field(run, "Depends"), "shlibs did not find the library"
    for name in ("ovmf", "swtpm", "ipxe-qemu"):
        assert name in field(run, "Recommends")
    # The KVM-only QEMU is a choice: suggested, never pulled in.
    assert field(run, "Suggests") == "kvm-run-qemu-core"
    assert "dnsmasq-base" in field(package(changes, "kvm-netboot"), "Depends")
    assert "linux-source-6.1" in field(package(changes, "kvm-dkms"), "Depends")
    # The launcher's name must not collide with Debian's QEMU, which
    # Provides and Breaks qemu-kvm.
    assert all(field(d, "Package") != "qemu-kvm" for d in debbuild.debs(changes))


def test_library_symbols_file(changes):
    """The symbols file is used: the programs depend on the version that
    introduced the symbols they use."""
    control = subprocess.run(["dpkg-deb", "--ctrl-tarfile", package(changes, "libkvmimage0")],
                             capture_output=True, check=True).stdout
    symbols = subprocess.run(["tar", "-xOf", "-", "./symbols"], input=control,
                             capture_output=True, check=True).stdout.decode()
    assert symbols.startswith("libkvmimage.so.0 libkvmimage0 #MINVER#")
    assert " kvmi_open@Base " in symbols
    assert "kvm_error" not in symbols, "the static common library leaks into the ABI"


def test_lintian_has_no_errors_and_no_warnings(changes):
    if shutil.which("lintian") is None:
        pytest.skip("lintian is not installed (scripts/install-deps installs it)")
    result = subprocess.run(["lintian", "--fail-on", "error,warning", "--display-level",
                             ">=warning", changes], capture_output=True, text=True, timeout=1800)
    tags = [line for line in result.stdout.splitlines() if line[:2] in ("E:", "W:")]
    assert result.returncode == 0 and not tags, \
        "lintian:\n" + result.stdout + result.stderr


def test_two_builds_are_byte_identical(changes, tmp_path):
    """A second build, in another folder, with the same SOURCE_DATE_EPOCH."""
    second = debbuild.build(tmp_path, epoch=debbuild.changelog_field("Timestamp"))

    def digests(changes_file):
        return {d.name: hashlib.sha256(d.read_bytes()).hexdigest()
                for d in changes_file.parent.glob("*.deb")}

    first, again = digests(changes), digests(second)
    assert first.keys() == again.keys()
    differing = sorted(name for name in first if first[name] != again[name])
    assert not differing, f"not reproducible: {differing}"
