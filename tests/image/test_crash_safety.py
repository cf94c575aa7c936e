# SPDX-License-Identifier: GPL-2.0-or-later
"""A conversion that is killed, runs out of space, cannot write its folder
or is pointed at its own source never changes the source, never leaves a
file under the output name, and says why it failed.

Signals are delivered by strace at a chosen system call, so that "early"
(the first write), "middle" (the eighth) and "finish" (the fsync before
the rename) are exact points rather than races.  What SIGKILL leaves (no
handler sees it) is a hidden ".NAME.partial-XXXXXX" file, which the next
conversion to NAME removes.  Full and read-only file systems are small
tmpfs mounts made here, which needs root.
"""
import hashlib
import os
import random
import re
import signal
import subprocess
import time

import pytest

from conftest import require_program, run, under_strace

MIB = 1 << 20
FORMATS = ["qcow2", "vmdk", "raw"]
# The system call at which a signal arrives, and its ordinal.
POINTS = {
    "early": "pwrite64:when=1",
    "middle": "pwrite64:when=8",
    "finish": "fsync:when=1",
}
SIGNALS = {"SIGINT": signal.SIGINT, "SIGTERM": signal.SIGTERM, "SIGKILL": signal.SIGKILL}


def digest(path):
    return hashlib.sha256(path.read_bytes()).hexdigest()


def names(folder):
    return sorted(p.name for p in folder.iterdir())


@pytest.fixture(scope="module")
def source_data():
    """16 MiB that does not compress, so that every grain is written."""
    rng = random.Random(11)
    return rng.randbytes(16 * MIB)


@pytest.fixture
def source(tmp_path, source_data):
    path = tmp_path / "source.img"
    path.write_bytes(source_data)
    return path


def partial_names(folder, target):
    pattern = re.compile(r"\." + re.escape(target) + r"\.partial-[A-Za-z0-9]{6}")
    return [n for n in names(folder) if pattern.fullmatch(n)]


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("point", sorted(POINTS))
@pytest.mark.parametrize("sig", sorted(SIGNALS))
def test_signal(kvm_image, strace, source, tmp_path, fmt, point, sig):
    before = digest(source)
    target = f"disk.{fmt}"
    syscall, when = POINTS[point].split(":")
    argv, env = under_strace([kvm_image.path, "convert", "-m", "1", "-O", fmt, source,
                              tmp_path / target], syscall, f"signal={sig[3:]}:{when}")
    result = run(argv, env=env)
    assert result.returncode == -SIGNALS[sig], result.stderr
    assert digest(source) == before
    assert not (tmp_path / target).exists()
    if sig != "SIGKILL":
        assert names(tmp_path) == ["source.img"]
        return
    # No handler runs on SIGKILL: the partial file stays, named as such,
    # until the next conversion to the same name removes it.
    assert len(partial_names(tmp_path, target)) == 1, names(tmp_path)
    again = kvm_image("convert", "-O", fmt, source, tmp_path / target)
    assert again.returncode == 0, again.stderr
    assert names(tmp_path) == sorted(["source.img", target])


def test_partial_file_of_a_live_conversion_is_kept(kvm_image, strace, source, tmp_path):
    """Only a dead writer's partial file is a leftover: a conversion to the
    same name leaves a running one's alone, and that one then finds the
    name taken.  strace holds the first conversion's second write for 5 s,
    however fast the conversion, while the second one runs."""
    argv, env = under_strace([kvm_image.path, "convert", "-m", "1", source,
                              tmp_path / "disk.qcow2"], "pwrite64", "delay_enter=5000000:when=2")
    first = subprocess.Popen(argv, stderr=subprocess.PIPE, text=True, env=env)
    # Written to, so past its lock.
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline and not any(
            (tmp_path / n).stat().st_size for n in partial_names(tmp_path, "disk.qcow2")):
        time.sleep(0.001)
    busy = partial_names(tmp_path, "disk.qcow2")
    assert len(busy) == 1 and first.poll() is None
    second = kvm_image("convert", source, tmp_path / "disk.qcow2")
    assert second.returncode == 0, second.stderr
    assert partial_names(tmp_path, "disk.qcow2") == busy
    assert first.poll() is None, "the first conversion was not held while the second ran"
    _, stderr = first.communicate(timeout=60)
    assert first.returncode == 1
    assert stderr == f"kvm-image: {tmp_path}/disk.qcow2: already exists (use --force to replace it)\n"
    assert names(tmp_path) == ["disk.qcow2", "source.img"]


# ---- Full and read-only file systems ----

def mount_tmpfs(where, size):
    if os.geteuid() != 0:
        pytest.skip("mounting a small tmpfs needs root")
    require_program("mount")
    where.mkdir()
    result = run(["mount", "-t", "tmpfs", "-o", f"size={size},mode=0755", "tmpfs", where])
    if result.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {result.stderr.strip()}")


def unmount(where):
    if run(["umount", where]).returncode != 0:
        run(["umount", "-l", where])


@pytest.fixture
def small_fs(tmp_path):
    """A 4 MiB tmpfs, too small for the 16 MiB source's conversion."""
    where = tmp_path / "small"
    mount_tmpfs(where, "4m")
    yield where
    unmount(where)


@pytest.fixture
def read_only_fs(tmp_path):
    """A tmpfs mounted read-only (root ignores mode bits, not this), with
    one file made before it became read-only."""
    where = tmp_path / "ro"
    mount_tmpfs(where, "1m")
    (where / "old.qcow2").write_bytes(b"old")
    result = run(["mount", "-o", "remount,ro", where])
    if result.returncode != 0:
        unmount(where)
        pytest.skip(f"cannot remount a tmpfs read-only: {result.stderr.strip()}")
    yield where
    unmount(where)


@pytest.mark.parametrize("fmt", FORMATS)
def test_full_file_system(kvm_image, source, small_fs, fmt):
    before = digest(source)
    target = small_fs / f"disk.{fmt}"
    result = kvm_image("convert", "-O", fmt, source, target)
    assert result.returncode == 1
    assert re.fullmatch(f"kvm-image: {re.escape(str(target))}: write at offset 0x[0-9a-f]+ "
                        "failed: No space left on device\n", result.stderr), result.stderr
    assert names(small_fs) == []
    assert digest(source) == before


@pytest.mark.parametrize("force", [False, True], ids=["new", "force"])
def test_read_only_folder(kvm_image, source, read_only_fs, force):
    before = digest(source)
    target = read_only_fs / ("old.qcow2" if force else "new.qcow2")
    args = ["--force"] if force else []
    result = kvm_image("convert", *args, source, target)
    assert result.returncode == 1
    assert result.stderr == (f"kvm-image: {target}: cannot create a temporary file: "
                             "Read-only file system\n")
    assert names(read_only_fs) == ["old.qcow2"]
    assert (read_only_fs / "old.qcow2").read_bytes() == b"old"
    assert digest(source) == before


# ---- The source as the destination ----

def qemu_img(*args, cwd=None):
    require_program("qemu-img")
    result = run(["qemu-img", *args], cwd=cwd)
    assert result.returncode == 0, result.stderr


def same_path(folder, src):
    return src, src


def dot_slash_path(folder, src):
    return src, folder / "." / src.name


def symlink_to_source(folder, src):
    os.symlink(src.name, folder / "alias.qcow2")
    return src, folder / "alias.qcow2"


def hard_link_to_source(folder, src):
    os.link(src, folder / "link.qcow2")
    return src, folder / "link.qcow2"


def default_target_is_the_source(folder, src):
    """`-O qcow2` on a .qcow2 file: the default target is the file itself."""
    return src, None


def backing_file_as_target(folder, src):
    qemu_img("create", "-q", "-f", "qcow2", "-b", src.name, "-F", "qcow2", folder / "top.qcow2")
    return folder / "top.qcow2", src


def extent_as_target(folder, src):
    (folder / "d-flat.vmdk").write_bytes(b"\x5a" * MIB)
    (folder / "d.vmdk").write_text(
        '# Disk DescriptorFile\nversion=1\nCID=12345678\nparentCID=ffffffff\n'
        'createType="monolithicFlat"\nRW 2048 FLAT "d-flat.vmdk" 0\n')
    return folder / "d.vmdk", folder / "d-flat.vmdk"


def data_file_as_target(folder, src):
    qemu_img("create", "-q", "-f", "qcow2", "-o", "data_file=data.raw", "d.qcow2", "1M",
             cwd=folder)
    return folder / "d.qcow2", folder / "data.raw"


SOURCE_AS_TARGET = {
    "same-path": (same_path, "is the source image {src}"),
    "dot-slash": (dot_slash_path, "is the source image {src}"),
    "symlink": (symlink_to_source, "is the source image {src}"),
    "hard-link": (hard_link_to_source, "is the source image {src}"),
    "default-target": (default_target_is_the_source, "is the source image {src}"),
    "backing-file": (backing_file_as_target, "is the source image {folder}/disk.qcow2"),
    "vmdk-extent": (extent_as_target, "is a file the source image {src} reads"),
    "qcow2-data-file": (data_file_as_target, "is a file the source image {src} reads"),
}


@pytest.mark.parametrize("force", [False, True], ids=["plain", "force"])
@pytest.mark.parametrize("case", sorted(SOURCE_AS_TARGET))
def test_source_as_destination(kvm_image, tmp_path, case, force):
    folder = tmp_path
    qemu_img("create", "-q", "-f", "qcow2", folder / "disk.qcow2", "1M")
    build, message = SOURCE_AS_TARGET[case]
    src, target = build(folder, folder / "disk.qcow2")
    before = {name: digest(folder / name) for name in names(folder)
              if (folder / name).is_file()}
    args = ["--force"] if force else []
    result = kvm_image("convert", *args, src, *([target] if target else []))
    shown = target if target else src
    assert result.returncode == 1
    assert result.stderr == (f"kvm-image: {shown}: "
                             + message.format(src=src, folder=folder)
                             + "; it is never overwritten\n")
    assert {name: digest(folder / name) for name in names(folder)
            if (folder / name).is_file()} == before
