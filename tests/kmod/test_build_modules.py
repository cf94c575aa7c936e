# SPDX-License-Identifier: GPL-2.0-or-later
"""kmod/build-modules: the kvm modules from the distribution's source, for
the kernel the KVM harness boots (linux-image-amd64), never the host's."""
import os
import pathlib
import shutil
import subprocess

import pytest

import kvmharness
from kmodbuild import BUILD_MODULES, MODULES, build, modinfo, require_kernel_build_inputs

# Boots guests or builds kernel modules: the sanitizer pass leaves it out.
pytestmark = pytest.mark.guest


@pytest.fixture(scope="module")
def kernel():
    kernels = kvmharness.installed_kernels()
    if not kernels:
        pytest.skip("no kernel in /boot and /lib/modules (scripts/install-deps installs "
                    "linux-image-amd64)")
    require_kernel_build_inputs(kernels[-1])
    return kernels[-1]


@pytest.fixture(scope="module")
def built(kernel):
    out, stderr, seconds = build(kernel)
    print(f"build-modules: {seconds:.1f} s ({'cached' if 'cached' in stderr else 'built'})")
    return out


def in_tree(kernel, name):
    return pathlib.Path("/lib/modules") / kernel / "kernel" / "arch" / "x86" / "kvm" / f"{name}.ko"


def test_vermagic_matches_the_kernel(kernel, built):
    for name in MODULES:
        ko = built / f"{name}.ko"
        assert ko.is_file()
        assert modinfo(ko, "vermagic") == modinfo(in_tree(kernel, name), "vermagic")
        assert modinfo(ko, "vermagic").startswith(kernel + " ")
        assert modinfo(ko, "version").startswith("kvm-bundle-")
        # Stripped as distributions ship them: well under the 18 MB with
        # debugging sections.
        assert ko.stat().st_size < 4 * 1024 * 1024
    assert modinfo(built / "kvm-amd.ko", "depends") == "kvm,ccp"
    assert modinfo(built / "kvm.ko", "depends") == "irqbypass"


def test_unchanged_inputs_reuse_the_cache(kernel, built):
    out, stderr, seconds = build(kernel)
    assert out == built
    assert "using the cached build" in stderr
    assert seconds < 10


def test_install_and_uninstall(kernel, built, tmp_path):
    out, _, _ = build(kernel, "--install", "--destdir", tmp_path)
    updates = tmp_path / "lib" / "modules" / kernel / "updates"
    for name in MODULES:
        assert (updates / f"{name}.ko").read_bytes() == (built / f"{name}.ko").read_bytes()
    assert "updates/kvm-amd.ko:" in (tmp_path / "lib" / "modules" / kernel / "modules.dep").read_text()
    result = subprocess.run([BUILD_MODULES, "--kernel", kernel, "--uninstall", "--destdir", tmp_path],
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert not updates.exists()
    assert "updates/" not in (tmp_path / "lib" / "modules" / kernel / "modules.dep").read_text()


def kvm_main_tail(kernel):
    """The last lines of virt/kvm/kvm_main.c of the source build-modules uses."""
    source = next(pathlib.Path("/usr/src").glob("linux-source-*.tar.*"), None)
    if source is None:
        pytest.skip("the patch test needs the Debian linux-source tarball")
    text = subprocess.run(["tar", "-xOf", source, "--wildcards", "*/virt/kvm/kvm_main.c"],
                          capture_output=True, text=True, check=True).stdout
    return text.splitlines(keepends=True)


def make_patch(lines, added):
    """A unified diff that appends added after the last three lines."""
    tail = lines[-3:]
    start = len(lines) - 2
    body = "".join(" " + line for line in tail) + "".join("+" + line for line in added)
    return ("--- a/virt/kvm/kvm_main.c\n+++ b/virt/kvm/kvm_main.c\n"
            f"@@ -{start},3 +{start},{3 + len(added)} @@\n" + body)


def test_series_patches_are_applied(kernel, tmp_path):
    lines = kvm_main_tail(kernel)
    patches = tmp_path / "patches"
    patches.mkdir()
    (patches / "0001-site-marker.patch").write_text(
        make_patch(lines, ["\n", 'MODULE_INFO(site_fix, "applied");\n']))
    (patches / "series").write_text("# a site's fixes\n0001-site-marker.patch\n")
    out, stderr, _ = build(kernel, "--patches", patches)
    assert "applying 0001-site-marker.patch" in stderr or "using the cached build" in stderr
    assert modinfo(out / "kvm.ko", "site_fix") == "applied"
    assert modinfo(out / "kvm.ko", "kvm_bundle_patches") == "0001-site-marker.patch"


def test_a_patch_that_does_not_apply_is_named(kernel, tmp_path):
    patches = tmp_path / "patches"
    patches.mkdir()
    (patches / "0001-stale.patch").write_text(
        "--- a/virt/kvm/kvm_main.c\n+++ b/virt/kvm/kvm_main.c\n@@ -1,3 +1,4 @@\n"
        " no such line\n no such line either\n nor this\n+int stale;\n")
    (patches / "series").write_text("0001-stale.patch\n")
    env = dict(os.environ, XDG_CACHE_HOME=str(tmp_path / "cache"))
    result = subprocess.run([BUILD_MODULES, "--kernel", kernel, "--patches", patches],
                            capture_output=True, text=True, env=env)
    assert result.returncode == 1
    assert result.stderr.splitlines()[-1].startswith(
        f"build-modules: {patches / '0001-stale.patch'}: does not apply to Linux ")


def test_dkms_builds_the_modules(kernel, tmp_path):
    """dkms.conf as the kvm-dkms package installs it, built by dkms itself
    (into a folder of its own, --output) in a tree of its own, signed with a
    machine owner key of the test's (not the machine's
    /var/lib/dkms/mok.key), and with KVM exported, which Makefile.kvm would
    take for its folder (QEMU's build scripts export it).  One build for
    all of it, since each takes half a minute."""
    if shutil.which("dkms") is None:
        pytest.skip("dkms is not installed (scripts/install-deps installs it)")
    if shutil.which("openssl") is None:
        pytest.skip("openssl is not installed")
    version = "0.0.1"
    source = tmp_path / "src" / f"kvm-{version}"
    source.mkdir(parents=True)
    shutil.copy(BUILD_MODULES, source / "build-modules")
    shutil.copytree(BUILD_MODULES.parent / "patches", source / "patches")
    conf = (BUILD_MODULES.parent / "dkms.conf").read_text().replace("@VERSION@", version)
    (source / "dkms.conf").write_text(conf)
    key, cert = tmp_path / "mok.key", tmp_path / "mok.der"
    subprocess.run(["openssl", "req", "-new", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
                    "-subj", "/CN=kvm-bundle dkms test/", "-keyout", key, "-outform", "DER",
                    "-out", cert], check=True, capture_output=True)
    trees = ["--dkmstree", tmp_path / "tree", "--sourcetree", tmp_path / "src",
             "--installtree", tmp_path / "install"]
    for folder in ("tree", "install"):
        (tmp_path / folder).mkdir()
    env = dict(os.environ, mok_signing_key=str(key), mok_certificate=str(cert), KVM="/nonexistent")
    for action in (["add"], ["build", "-k", kernel]):
        result = subprocess.run(["dkms", *trees, *action, "-m", "kvm", "-v", version],
                                capture_output=True, text=True, env=env)
        assert result.returncode == 0, result.stdout + result.stderr
    built = tmp_path / "tree" / "kvm" / version / kernel / "x86_64" / "module"
    for name in MODULES:
        ko = built / f"{name}.ko"
        assert modinfo(ko, "vermagic").startswith(kernel + " ")
        assert modinfo(ko, "version").startswith(f"kvm-bundle-{version}+")
        assert modinfo(ko, "signer") == "kvm-bundle dkms test"
