# SPDX-License-Identifier: GPL-2.0-or-later
"""What kvm-image promises on its command line, whatever the format:
default names, refusing to overwrite, one-line errors, nothing left behind.
"""
import hashlib
import os
import signal
import subprocess
import time

import pytest

from conftest import require_program, run
from pattern import write_pattern


def files_in(folder):
    return sorted(p.name for p in folder.iterdir())


def digest(path):
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture
def sample_vmdk(tmp_path, qemu_img):
    pattern = write_pattern(tmp_path / "pattern.raw")
    vmdk = tmp_path / "vm.vmdk"
    assert qemu_img("convert", "-q", "-O", "vmdk", pattern, vmdk).returncode == 0
    pattern.unlink()
    return vmdk


def test_convert_without_target_writes_qcow2_beside_the_source(kvm_image, sample_vmdk, qemu_img):
    result = kvm_image("convert", sample_vmdk)
    assert result.returncode == 0, result.stderr
    out = sample_vmdk.with_suffix(".qcow2")
    assert files_in(sample_vmdk.parent) == ["vm.qcow2", "vm.vmdk"]
    assert qemu_img("compare", sample_vmdk, out).returncode == 0


def test_default_target_follows_the_output_format(kvm_image, sample_vmdk):
    assert kvm_image("convert", "-O", "raw", sample_vmdk).returncode == 0
    assert (sample_vmdk.parent / "vm.raw").exists()


def test_existing_target_is_refused_and_kept(kvm_image, sample_vmdk):
    target = sample_vmdk.parent / "vm.qcow2"
    target.write_bytes(b"precious")
    result = kvm_image("convert", sample_vmdk)
    assert result.returncode == 1
    assert result.stderr == f"kvm-image: {target}: already exists (use --force to replace it)\n"
    assert target.read_bytes() == b"precious"
    assert files_in(sample_vmdk.parent) == ["vm.qcow2", "vm.vmdk"]


def test_force_replaces_the_target(kvm_image, sample_vmdk, qemu_img):
    target = sample_vmdk.parent / "vm.qcow2"
    target.write_bytes(b"old")
    assert kvm_image("convert", "--force", sample_vmdk).returncode == 0
    assert qemu_img("compare", sample_vmdk, target).returncode == 0


def test_source_is_never_the_target_even_with_force(kvm_image, sample_vmdk):
    before = digest(sample_vmdk)
    result = kvm_image("convert", "--force", "-O", "vmdk", sample_vmdk, sample_vmdk)
    assert result.returncode == 1
    assert "is the source image" in result.stderr
    assert result.stderr.count("\n") == 1
    assert digest(sample_vmdk) == before
    assert files_in(sample_vmdk.parent) == ["vm.vmdk"]


@pytest.mark.parametrize("args, message", [
    (["convert", "missing.vmdk"], "kvm-image: missing.vmdk: No such file or directory\n"),
    (["info", "."], "kvm-image: .: is a directory\n"),
    (["convert", "-O", "vdi", "x"], "kvm-image convert: cannot write format 'vdi' (see kvm-image convert --help)\n"),
    (["frobnicate"], "kvm-image: 'frobnicate' is not a command (see kvm-image --help)\n"),
    (["info"], "kvm-image info: give one image (see kvm-image info --help)\n"),
    (["create", "-f", "qcow2", "x.qcow2", "lots"], "kvm-image: lots: not a size (use e.g. 512, 64k, 8G)\n"),
    (["info", "--output=xml", "x"], "kvm-image info: --output takes human or json, not 'xml' (see kvm-image info --help)\n"),
])
def test_usage_errors_are_one_line(kvm_image, tmp_path, args, message):
    result = kvm_image(*args, cwd=tmp_path)
    assert result.returncode != 0
    assert result.stderr == message
    assert files_in(tmp_path) == []


def test_unknown_creation_option_is_an_error_not_ignored(kvm_image, tmp_path):
    result = kvm_image("create", "-f", "qcow2", "-o", "clustersize=4k", tmp_path / "x.qcow2", "1M")
    assert result.returncode == 1
    assert "qcow2 does not take option 'clustersize'" in result.stderr
    assert files_in(tmp_path) == []


def test_target_folder_that_cannot_be_written_leaves_nothing(kvm_image, sample_vmdk, tmp_path):
    # root may write into a read-only folder, so a missing one stands in.
    target_dir = tmp_path / "no-such-dir"
    result = kvm_image("convert", sample_vmdk, target_dir / "out.qcow2")
    assert result.returncode == 1
    assert result.stderr.startswith("kvm-image: ")
    assert result.stderr.count("\n") == 1


def test_help_and_version(kvm_image):
    result = kvm_image("--help")
    assert result.returncode == 0
    for command in ("convert", "info", "check", "compare", "create", "map", "measure"):
        assert f"  {command} " in result.stdout
        sub = kvm_image(command, "--help")
        assert sub.returncode == 0 and sub.stdout.startswith("Usage: kvm-image " + command)
    version = kvm_image("--version")
    assert version.returncode == 0 and version.stdout.startswith("kvm-image ")


def test_progress_is_drawn_only_when_asked_off_a_terminal(kvm_image, sample_vmdk):
    quiet = kvm_image("convert", sample_vmdk, sample_vmdk.parent / "a.qcow2")
    assert quiet.stderr == ""
    shown = kvm_image("convert", "--progress", sample_vmdk, sample_vmdk.parent / "b.qcow2")
    assert shown.returncode == 0
    assert "100%" in shown.stderr


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_interrupted_conversion_leaves_nothing(kvm_image, tmp_path, sig):
    """A conversion killed half-way removes its temporary output."""
    big = tmp_path / "big.raw"
    with open(big, "wb") as f:
        block = os.urandom(1 << 20)
        for _ in range(256):
            f.write(block)
    proc = subprocess.Popen([str(kvm_image.path), "convert", "-c", "-m", "1", big,
                             tmp_path / "big.qcow2"], stderr=subprocess.PIPE)
    # Wait until the temporary output exists, then interrupt.
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline and not any(n.startswith(".big.qcow2.") for n in files_in(tmp_path)):
        time.sleep(0.01)
    assert proc.poll() is None, "the conversion ended before it could be interrupted"
    proc.send_signal(sig)
    proc.wait(timeout=30)
    assert proc.returncode == -sig
    assert files_in(tmp_path) == ["big.raw"]
