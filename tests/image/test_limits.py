# SPDX-License-Identifier: GPL-2.0-or-later
"""kvm-image needs no cage: opening or converting any image takes at most
256 MiB of address space and CPU time in proportion to the file's size.

Every hostile image of tests/image/test_hostile.py is run again under
`prlimit --as=268435456 --cpu=20`, with the same expected outcome; then
valid images with the largest tables kvm-image accepts, and a 1 PiB disk
holding a few MiB, which must convert in well under a second of CPU.

AddressSanitizer reserves terabytes of address space for its shadow
memory, so a sanitized build cannot run under an address-space limit:
these tests are skipped there.
"""
import os
import resource
import stat
import subprocess
import sys

import pytest

import test_hostile as hostile
from conftest import build_sanitizer, require_program, run
from test_hostile import bases  # noqa: F401 (the fixture the corpus is built from)

AS_CAP = 256 << 20
# Seconds of CPU per run: hostile files take milliseconds, so this only
# catches work that grows out of proportion to the file.
CPU_CAP = 20
MIB = 1 << 20


class Capped:
    """kvm-image run under prlimit, callable like the kvm_image fixture."""

    def __init__(self, path):
        self.path = path

    def __call__(self, *args, **kwargs):
        return run([self.path, *args], **kwargs)


@pytest.fixture(scope="session")
def capped(tmp_path_factory, kvm_image):
    sanitizer = build_sanitizer()
    if sanitizer != "none":
        pytest.skip(f"the build uses -fsanitize={sanitizer}, whose shadow memory cannot "
                    "live under an address-space limit")
    require_program("prlimit")
    # A wrapper, so that the corpus runs it exactly as it runs kvm-image.
    wrapper = tmp_path_factory.mktemp("capped") / "kvm-image"
    wrapper.write_text("#!/bin/sh\n"
                       f"exec prlimit --as={AS_CAP} --cpu={CPU_CAP} -- "
                       f"'{kvm_image.path}' \"$@\"\n")
    wrapper.chmod(wrapper.stat().st_mode | stat.S_IXUSR)
    return Capped(wrapper)


@pytest.mark.parametrize("case", sorted(hostile.FIELD_OUTCOMES))
def test_header_field(capped, bases, tmp_path, case):  # noqa: F811
    hostile.test_header_field(capped, bases, tmp_path, case)


@pytest.mark.parametrize("case", sorted(hostile.OVERLAP_CASES))
def test_overlapping_tables(capped, bases, tmp_path, case):  # noqa: F811
    hostile.test_overlapping_tables(capped, bases, tmp_path, case)


@pytest.mark.parametrize("case", sorted(hostile.COMPRESSED_CASES))
def test_compressed_lies_and_bombs(capped, bases, tmp_path, case):  # noqa: F811
    hostile.test_compressed_lies_and_bombs(capped, bases, tmp_path, case)


@pytest.mark.parametrize("case", sorted(hostile.DESCRIPTOR_CASES))
def test_descriptor(capped, tmp_path, case):
    hostile.test_descriptor(capped, tmp_path, case)


def test_chains(capped, tmp_path):
    (tmp_path / "qcow2").mkdir()
    hostile.test_a_chain_of_1000_qcow2_files_stops_at_64(capped, tmp_path / "qcow2")
    (tmp_path / "vmdk").mkdir()
    hostile.test_a_chain_of_1000_vmdk_snapshots_stops_at_64(capped, tmp_path / "vmdk")


# ---- Valid images with the largest tables ----

def qemu_io(image, *commands):
    require_program("qemu-io")
    argv = ["qemu-io", "-f", "qcow2"]
    for command in commands:
        argv += ["-c", command]
    result = run(argv + [image])
    assert result.returncode == 0, result.stderr


def child_cpu_seconds():
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


# Offsets and bytes written into the 1 PiB disk: its first, a middle and
# its last mebibyte.
PIB_WRITES = [(0, 0x11), (500 << 40, 0x22), ((1 << 50) - MIB, 0x33)]


def test_a_petabyte_disk_with_a_few_mebibytes(capped, tmp_path):
    """A 1 PiB qcow2 (a 16 MiB L1 table) holding 3 MiB: converting it
    reads the L1 table and the data, not the petabyte."""
    require_program("qemu-img")
    src = tmp_path / "huge.qcow2"
    assert run(["qemu-img", "create", "-q", "-f", "qcow2", src, "1P"]).returncode == 0
    qemu_io(src, *[f"write -P {byte} {offset} 1M" for offset, byte in PIB_WRITES])
    out = tmp_path / "out.qcow2"
    before = child_cpu_seconds()
    result = capped("convert", src, out)
    spent = child_cpu_seconds() - before
    assert result.returncode == 0, result.stderr
    assert spent < 2, f"{spent:.1f} s of CPU for 3 MiB of data"
    # Only the data was written, and it reads back where it was.
    assert out.stat().st_blocks * 512 < 64 * MIB
    qemu_io(out, *[f"read -P {byte} {offset} 1M" for offset, byte in PIB_WRITES],
            f"read -P 0 {1 << 40} 1M")
    # Comparing skips the holes as converting does.
    before = child_cpu_seconds()
    result = capped("compare", src, out)
    spent = child_cpu_seconds() - before
    assert result.returncode == 0, result.stdout + result.stderr
    assert spent < 2, f"{spent:.1f} s of CPU to compare 3 MiB of data"


@pytest.mark.parametrize("target", [["-O", "qcow2", "-o", "cluster_size=2M"],
                                    ["-O", "vmdk", "-o", "subformat=streamOptimized"]],
                         ids=["qcow2", "vmdk-stream"])
def test_the_largest_l1_table(capped, tmp_path, target):
    """2 PiB with 64 KiB clusters: a 32 MiB L1 table, the most QEMU and
    kvm-image accept, read and written under the cap."""
    require_program("qemu-img")
    src = tmp_path / "l1.qcow2"
    assert run(["qemu-img", "create", "-q", "-f", "qcow2", src, "2P"]).returncode == 0
    qemu_io(src, f"write -P 0x5a {(2 << 50) - MIB} 1M")
    info = capped("info", src)
    assert info.returncode == 0, info.stderr
    out = tmp_path / "out"
    result = capped("convert", *target, src, out)
    if target[1] == "vmdk":
        # Too large for VMDK, which kvm-image says before it writes.
        assert result.returncode == 1
        assert result.stderr == f"kvm-image: {out}: disk is too large for a VMDK grain directory\n"
        assert not out.exists()
        return
    assert result.returncode == 0, result.stderr
    qemu_io(out, f"read -P 0x5a {(2 << 50) - MIB} 1M")


def test_a_chain_of_layers_with_the_largest_tables(kvm_image, tmp_path):
    """Eight 2 PiB layers, each with a 32 MiB L1 table: each layer alone is
    fine, but the chain together would need 256 MiB of tables.  kvm-image
    stops at the layer that would pass its chain budget, says so, and stays
    far below the cap: run here without prlimit, its peak is measured."""
    require_program("qemu-img")
    require_program("fallocate")
    layers = [tmp_path / f"l{i}.qcow2" for i in range(8)]
    assert run(["qemu-img", "create", "-q", "-f", "qcow2", layers[0], "2P"]).returncode == 0
    for lower, upper in zip(layers, layers[1:]):
        assert run(["qemu-img", "create", "-q", "-f", "qcow2", "-b", lower.name, "-F", "qcow2",
                    upper, "2P"]).returncode == 0
    for layer in layers:
        # The tables are zeros; holes keep the test's disk use small.
        assert run(["fallocate", "--dig-holes", layer]).returncode == 0
    peak_file = tmp_path / "peak"
    result = run(["/usr/bin/time", "-o", peak_file, "-f", "%M", kvm_image.path, "info",
                  layers[-1]])
    assert result.returncode == 1
    assert result.stderr == (f"kvm-image: {layers[4]}: its L1 table (33554432 bytes) would take "
                             "the tables of the backing chain past 128 MiB\n")
    peak = int(peak_file.read_text().split()[-1]) << 10
    if build_sanitizer() == "none":
        # Sanitizers' shadow memory and quarantine would count too.
        assert peak < AS_CAP // 2, f"peak RSS {peak >> 20} MiB"
    # The first three layers together fit, and read through.
    assert kvm_image("info", layers[2]).returncode == 0
    assert kvm_image("compare", layers[2], layers[0]).returncode == 0


@pytest.mark.parametrize("threads", ["1", "64"])
def test_conversion_buffers_do_not_grow_with_threads(capped, tmp_path, threads):
    """64 workers compressing 2 MiB clusters fit in the cap."""
    src = tmp_path / "src.raw"
    with open(src, "wb") as f:
        f.write(os.urandom(32 * MIB))
    result = capped("convert", "-c", "-m", threads, "-o", "cluster_size=2M", src,
                    tmp_path / "out.qcow2")
    assert result.returncode == 0, result.stderr
    require_program("qemu-img")
    compare = run(["qemu-img", "compare", "-f", "raw", "-F", "qcow2", src, tmp_path / "out.qcow2"])
    assert compare.returncode == 0, compare.stdout + compare.stderr


def test_the_cap_is_real(capped, tmp_path):
    """The cap bites: a program that needs more than 256 MiB fails under
    it, so the passes above mean something."""
    result = subprocess.run(["prlimit", f"--as={AS_CAP}", "--", sys.executable, "-c",
                             "bytearray(300 << 20)"], capture_output=True, text=True)
    assert result.returncode != 0
    assert "MemoryError" in result.stderr
