# SPDX-License-Identifier: GPL-2.0-or-later
"""The convert matrix, in the manner of QEMU's iotests: one pattern disk,
every source format qemu-img makes of it, converted by kvm-image to every
output format kvm-image writes.  Each output must read back, through
qemu-img, exactly as the pattern; qcow2 outputs must pass `qemu-img check`.
"""
import json

import pytest

from conftest import require_program, run
from pattern import SIZE, expected_bytes, write_pattern

# What qemu-img makes from the pattern: (name, format, qemu-img options).
SOURCES = [
    ("raw", "raw", []),
    ("qcow2-v2", "qcow2", ["-o", "compat=0.10"]),
    ("qcow2-v3", "qcow2", ["-o", "compat=1.1"]),
    ("qcow2-4k", "qcow2", ["-o", "cluster_size=4k"]),
    ("qcow2-zlib", "qcow2", ["-c"]),
    ("qcow2-zstd", "qcow2", ["-c", "-o", "compression_type=zstd"]),
    ("vmdk-monolithicSparse", "vmdk", ["-o", "subformat=monolithicSparse"]),
    ("vmdk-monolithicFlat", "vmdk", ["-o", "subformat=monolithicFlat"]),
    ("vmdk-twoGbMaxExtentSparse", "vmdk", ["-o", "subformat=twoGbMaxExtentSparse"]),
    ("vmdk-twoGbMaxExtentFlat", "vmdk", ["-o", "subformat=twoGbMaxExtentFlat"]),
    ("vmdk-streamOptimized", "vmdk", ["-o", "subformat=streamOptimized"]),
]

# What kvm-image writes: (name, -O format, further convert arguments).
TARGETS = [
    ("raw", "raw", []),
    ("qcow2", "qcow2", []),
    ("qcow2-512", "qcow2", ["-o", "cluster_size=512"]),
    ("qcow2-2M", "qcow2", ["-o", "cluster_size=2M"]),
    ("qcow2-zlib", "qcow2", ["-c"]),
    ("qcow2-zstd", "qcow2", ["-c", "-o", "compression_type=zstd"]),
    ("qcow2-metadata", "qcow2", ["-o", "preallocation=metadata"]),
    ("vmdk-monolithicSparse", "vmdk", ["-o", "subformat=monolithicSparse"]),
    ("vmdk-monolithicFlat", "vmdk", ["-o", "subformat=monolithicFlat"]),
    ("vmdk-streamOptimized", "vmdk", ["-o", "subformat=streamOptimized"]),
]


@pytest.fixture(scope="module")
def sources(tmp_path_factory):
    """Every source image, made once for the module by qemu-img."""
    require_program("qemu-img")
    folder = tmp_path_factory.mktemp("sources")
    pattern = write_pattern(folder / "pattern.raw")
    made = {}
    for name, fmt, options in SOURCES:
        path = folder / f"{name}.{fmt}"
        result = run(["qemu-img", "convert", "-q", "-f", "raw", "-O", fmt, *options,
                      pattern, path])
        assert result.returncode == 0, result.stderr
        made[name] = (path, fmt)
    return pattern, made


def read_back_raw(path, fmt, tmp_path):
    """The content of an image as qemu-img reads it."""
    raw = tmp_path / "readback.raw"
    result = run(["qemu-img", "convert", "-q", "-f", fmt, "-O", "raw", path, raw])
    assert result.returncode == 0, f"qemu-img cannot read {path}: {result.stderr}"
    data = raw.read_bytes()
    raw.unlink()
    return data


@pytest.mark.parametrize("target", TARGETS, ids=[t[0] for t in TARGETS])
@pytest.mark.parametrize("source", [s[0] for s in SOURCES])
def test_convert(kvm_image, sources, source, target, tmp_path):
    _, made = sources
    src, src_fmt = made[source]
    name, fmt, args = target
    out = tmp_path / f"out.{fmt}"

    result = kvm_image("convert", "-O", fmt, *args, src, out)
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""

    assert read_back_raw(out, fmt, tmp_path) == expected_bytes()
    if fmt == "qcow2":
        check = run(["qemu-img", "check", out])
        assert check.returncode == 0, check.stdout + check.stderr
    # Nothing but the output (and, for monolithicFlat, its extent) is left.
    leftovers = sorted(p.name for p in tmp_path.iterdir())
    expected = ["out.vmdk", "out-flat.vmdk"] if name == "vmdk-monolithicFlat" else [out.name]
    assert leftovers == sorted(expected)


@pytest.mark.parametrize("source", [s[0] for s in SOURCES])
def test_compare_and_info(kvm_image, sources, source):
    pattern, made = sources
    src, fmt = made[source]

    result = kvm_image("compare", pattern, src)
    assert (result.returncode, result.stdout) == (0, "Images are identical.\n"), result.stderr

    info = kvm_image("info", "--output=json", src)
    assert info.returncode == 0, info.stderr
    facts = json.loads(info.stdout)
    assert facts["format"] == fmt
    assert facts["virtual-size"] == SIZE
    assert facts["filename"] == str(src)


@pytest.mark.parametrize("source", [s[0] for s in SOURCES])
def test_map_matches_content(kvm_image, sources, source):
    """Every range map calls zero reads as zeros; data lies where the
    pattern has it (a converter that trusts the map loses nothing)."""

    _, made = sources
    src, _ = made[source]
    result = kvm_image("map", "--output=json", src)
    assert result.returncode == 0, result.stderr
    ranges = json.loads(result.stdout)
    assert ranges[0]["start"] == 0
    assert sum(r["length"] for r in ranges) == SIZE
    content = expected_bytes()
    for r in ranges:
        assert r["data"] or r["zero"]
        if not r["data"]:
            assert content[r["start"]:r["start"] + r["length"]].count(0) == r["length"], r


def test_thread_count_does_not_change_output(kvm_image, sources, tmp_path):
    _, made = sources
    src, _ = made["vmdk-streamOptimized"]
    outputs = []
    for threads in ("1", "2", "7"):
        out = tmp_path / f"out-{threads}.qcow2"
        result = kvm_image("convert", "-c", "-m", threads, src, out)
        assert result.returncode == 0, result.stderr
        outputs.append(out.read_bytes())
    assert outputs[0] == outputs[1] == outputs[2]


@pytest.mark.parametrize("fmt", ["qcow2", "vmdk", "raw"])
def test_create_then_read_back_empty(kvm_image, tmp_path, fmt):
    path = tmp_path / f"new.{fmt}"
    result = kvm_image("create", "-f", fmt, path, "10M")
    assert result.returncode == 0, result.stderr
    assert read_back_raw(path, fmt, tmp_path) == bytes(10 << 20)
    if fmt == "qcow2":
        assert run(["qemu-img", "check", path]).returncode == 0
