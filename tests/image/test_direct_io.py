# SPDX-License-Identifier: GPL-2.0-or-later
"""kvm-image convert writes guest data with direct I/O: the output does not
pass through the page cache, so converting a large disk neither evicts what
the host had cached nor leaves gigabytes dirty for the kernel to write after
the command returned.  Where the file system refuses O_DIRECT (ramfs, tmpfs
before Linux 6.6) the data goes through the page cache, and the output is
the same.  The workers yield the CPU to the writer, so that the disk is
never left idle while the writer waits to run.
"""
import errno
import os
import random

import pytest

from conftest import require_program, run, strace_env

MIB = 1 << 20
SIZE = 64 * MIB


def accepts_direct_io(folder):
    probe = folder / ".direct-probe"
    try:
        fd = os.open(probe, os.O_CREAT | os.O_WRONLY | os.O_DIRECT, 0o600)
    except OSError as e:
        if e.errno == errno.EINVAL:
            return False
        raise
    os.close(fd)
    probe.unlink()
    return True


def make_source(path):
    """64 MiB of data that is nowhere zero, with a tail that is not a
    whole 4 KiB block, so the last write cannot be direct."""
    rng = random.Random(4)
    with open(path, "wb") as f:
        for _ in range(SIZE // MIB):
            f.write(rng.randbytes(MIB))
        f.write(rng.randbytes(1536))


def resident_bytes(path):
    result = run(["fincore", "--bytes", "--noheadings", "--output", "RES", path], check=True)
    return int(result.stdout.split()[0])


# (output format arguments, output name, the file that holds the data): a
# monolithicFlat VMDK keeps its data in a second file, the extent.
OUTPUTS = {
    "qcow2": (["-O", "qcow2"], "out.qcow2", "out.qcow2"),
    "raw": (["-O", "raw"], "out.raw", "out.raw"),
    "vmdk": (["-O", "vmdk"], "out.vmdk", "out.vmdk"),
    "vmdk-flat": (["-O", "vmdk", "-o", "subformat=monolithicFlat"], "out.vmdk", "out-flat.vmdk"),
}


@pytest.mark.parametrize("output", OUTPUTS)
def test_output_data_bypasses_the_page_cache(kvm_image, tmp_path, output):
    require_program("fincore")
    require_program("qemu-img")
    if not accepts_direct_io(tmp_path):
        pytest.skip(f"{tmp_path} refuses O_DIRECT: the page-cache path is all there is")
    args, name, data_name = OUTPUTS[output]
    source, out, data_file = tmp_path / "src.raw", tmp_path / name, tmp_path / data_name
    make_source(source)
    result = kvm_image("convert", "--no-progress", *args, source, out)
    assert result.returncode == 0, result.stderr
    assert data_file.stat().st_size >= SIZE
    # Metadata (headers, tables, the unaligned tail) is written through the
    # cache; 64 MiB of data would be there had it been too.
    assert resident_bytes(data_file) < 2 * MIB
    assert run(["qemu-img", "compare", "-q", "-f", "raw", source, out]).returncode == 0


@pytest.fixture
def ramfs(tmp_path):
    """A ramfs, which has no direct I/O at all."""
    if os.geteuid() != 0:
        pytest.skip("mounting a ramfs needs root")
    require_program("mount")
    where = tmp_path / "ramfs"
    where.mkdir()
    result = run(["mount", "-t", "ramfs", "ramfs", where])
    if result.returncode != 0:
        pytest.skip(f"cannot mount a ramfs here: {result.stderr.strip()}")
    yield where
    if run(["umount", where]).returncode != 0:
        run(["umount", "-l", where])


@pytest.mark.parametrize("fmt", ["qcow2", "raw"])
def test_file_system_without_direct_io(kvm_image, tmp_path, ramfs, fmt):
    require_program("qemu-img")
    assert not accepts_direct_io(ramfs)
    source, out = tmp_path / "src.raw", ramfs / f"out.{fmt}"
    make_source(source)
    result = kvm_image("convert", "--no-progress", "-O", fmt, source, out)
    assert result.returncode == 0, result.stderr
    assert run(["qemu-img", "compare", "-q", "-f", "raw", source, out]).returncode == 0


def test_workers_yield_the_cpu_to_the_writer(kvm_image, tmp_path, strace):
    """The writer waits on the disk and must run the moment a write ends:
    the workers ask for SCHED_BATCH, so that one woken for a freed slot
    does not preempt it.  The writer, the calling thread, keeps its policy."""
    source, out = tmp_path / "src.raw", tmp_path / "out.qcow2"
    traces = tmp_path / "traces"
    traces.mkdir()
    make_source(source)
    # One trace file per thread: their calls cannot interleave in one line.
    result = run(["strace", "-ff", "-qq", "-o", traces / "t", "-e",
                  "trace=execve,sched_setscheduler", kvm_image.path, "convert", "--no-progress",
                  "-m", "3", "-O", "qcow2", source, out], env=strace_env())
    assert result.returncode == 0, result.stderr
    threads = {f.name: f.read_text() for f in traces.iterdir()}
    writer = [name for name, text in threads.items() if "execve(" in text]
    batch = [name for name, text in threads.items()
             if "sched_setscheduler(" in text and "SCHED_BATCH" in text and ") = 0" in text]
    assert len(writer) == 1, threads
    assert len(batch) == 3, threads
    assert writer[0] not in batch
