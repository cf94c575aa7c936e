# SPDX-License-Identifier: GPL-2.0-or-later
"""The qcow2 driver of kvm-image against qemu-img, qemu-io and qcowinfo.

Every image is made at test time by qemu-img (and qemu-io) from a pattern
disk.  Reading is checked byte for byte against `qemu-img convert -O raw`;
writing by `qemu-img check` and `qemu-img compare`; hostile images are
valid ones patched with struct, and must fail with the exact complaint
and leave nothing behind.
"""
import json
import os
import random
import shutil
import struct

import pytest

from conftest import require_program, run

MiB = 1 << 20
KiB = 1 << 10
# Not a whole number of clusters of 4k and more, but whole sectors, so the
# raw pattern and the images agree on the size.
PATTERN_SIZE = 3 * MiB + 7 * 512


def write_pattern(path):
    """Random data, holes, compressible text and partly filled clusters, in
    runs of 64 KiB, and data in the very last bytes."""
    rng = random.Random(20240501)
    with open(path, "wb") as f:
        f.truncate(PATTERN_SIZE)
        for i, offset in enumerate(range(0, PATTERN_SIZE, 64 * KiB)):
            f.seek(offset)
            kind = i % 4
            if kind == 0:
                f.write(rng.randbytes(min(64 * KiB, PATTERN_SIZE - offset)))
            elif kind == 2:
                f.write((b"qcow2 pattern %06d " % i) * 1000)
            elif kind == 3:
                f.write(rng.randbytes(1000))
        f.seek(PATTERN_SIZE - 700)
        f.write(b"the end of the disk " * 35)


def have(program):
    return shutil.which(program) is not None


def qemu_io(image, *commands, fmt="qcow2"):
    """Runs qemu-io commands on image; skips the part when it is absent."""
    if not have("qemu-io"):
        return
    argv = ["qemu-io", "-f", fmt]
    for command in commands:
        argv += ["-c", command]
    # qemu opens a data file relative to its working folder.
    result = run(argv + [image], cwd=image.parent)
    assert result.returncode == 0, result.stderr


@pytest.fixture(scope="module")
def pattern(tmp_path_factory):
    require_program("qemu-img")
    path = tmp_path_factory.mktemp("pattern") / "pattern.raw"
    write_pattern(path)
    return path


def qemu_raw(qemu_img, image, out):
    result = qemu_img("convert", "-O", "raw", image, out, cwd=image.parent)
    assert result.returncode == 0, result.stderr
    return out.read_bytes()


def assert_reads_like_qemu(kvm_image, qemu_img, image, tmp_path):
    ours = tmp_path / (image.name + ".kvm.raw")
    result = kvm_image("convert", image, ours, "-O", "raw")
    assert result.returncode == 0, result.stderr
    theirs = qemu_raw(qemu_img, image, tmp_path / (image.name + ".qemu.raw"))
    assert ours.read_bytes() == theirs


def info_json(kvm_image, image):
    result = kvm_image("info", "--output=json", image)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


# ---- Reading what qemu-img writes ----

READ_CASES = {
    "v2": ("compat=0.10", False),
    "v3": ("compat=1.1", False),
    "cluster-512": ("cluster_size=512", False),
    "cluster-4k": ("cluster_size=4k", False),
    "cluster-64k": ("cluster_size=64k", False),
    "cluster-2M": ("cluster_size=2M", False),
    "zlib": ("compression_type=zlib", True),
    "zstd": ("compression_type=zstd", True),
    "zstd-4k": ("compression_type=zstd,cluster_size=4k", True),
    "extended-l2": ("extended_l2=on", False),
    "extended-l2-32k-zstd": ("extended_l2=on,cluster_size=32k,compression_type=zstd", True),
    "lazy-refcounts": ("lazy_refcounts=on", False),
    **{f"refcount-bits-{b}": (f"refcount_bits={b}", False) for b in (1, 2, 4, 8, 16, 32, 64)},
}


def make_read_case(qemu_img, pattern, folder, name):
    options, compress = READ_CASES[name]
    image = folder / f"{name}.qcow2"
    argv = ["convert", "-f", "raw", "-O", "qcow2", "-o", options]
    if compress:
        argv.append("-c")
    result = qemu_img(*argv, pattern, image)
    assert result.returncode == 0, result.stderr
    # Zeros over data and over a hole, and (with extended L2 entries)
    # subclusters of a cluster written in part.
    qemu_io(image, "write -z 0 64k", "write -z 192k 8k", "write -z 320k 64k",
            "write -P 0x5a 1088k 2k", "write -P 0xa5 1152k 512",
            "write -z 1216k 4k")
    return image


@pytest.mark.parametrize("name", sorted(READ_CASES))
def test_read_matches_qemu(kvm_image, qemu_img, pattern, tmp_path, name):
    image = make_read_case(qemu_img, pattern, tmp_path, name)
    assert_reads_like_qemu(kvm_image, qemu_img, image, tmp_path)
    result = kvm_image("check", image)
    assert result.returncode == 0, result.stdout + result.stderr
    info = info_json(kvm_image, image)
    theirs = json.loads(qemu_img("info", "--output=json", image).stdout)
    assert info["format"] == "qcow2"
    assert info["virtual-size"] == theirs["virtual-size"]
    assert info["cluster-size"] == theirs["cluster-size"]
    assert info["dirty-flag"] is False
    ours_specific = info["format-specific"]["data"]
    for key, value in theirs["format-specific"]["data"].items():
        assert ours_specific[key] == value, key
    assert ours_specific["snapshots"] == 0


def test_dirty_and_corrupt_flags_are_reported(kvm_image, qemu_img, pattern, tmp_path):
    image = make_read_case(qemu_img, pattern, tmp_path, "lazy-refcounts")
    with open(image, "r+b") as f:
        f.seek(72)
        f.write(struct.pack(">Q", 0x3))
    info = info_json(kvm_image, image)
    assert info["dirty-flag"] is True
    assert info["format-specific"]["data"]["corrupt"] is True
    assert info["format-specific"]["data"]["lazy-refcounts"] is True
    assert_reads_like_qemu(kvm_image, qemu_img, image, tmp_path)


def test_map_reports_zero_and_data(kvm_image, qemu_img, pattern, tmp_path):
    image = make_read_case(qemu_img, pattern, tmp_path, "v3")
    result = kvm_image("map", "--output=json", image)
    assert result.returncode == 0, result.stderr
    extents = json.loads(result.stdout)
    assert extents[0]["start"] == 0
    assert sum(e["length"] for e in extents) == PATTERN_SIZE
    if have("qemu-io"):
        assert extents[0]["zero"] is True and extents[0]["data"] is False


def test_snapshots_are_counted_and_checked(kvm_image, qemu_img, pattern, tmp_path):
    image = make_read_case(qemu_img, pattern, tmp_path, "v3")
    for megabyte, tag in enumerate(("one", "two"), start=1):
        assert qemu_img("snapshot", "-c", tag, image).returncode == 0
        qemu_io(image, f"write -P 0x33 {megabyte}M 64k")
    assert_reads_like_qemu(kvm_image, qemu_img, image, tmp_path)
    assert info_json(kvm_image, image)["format-specific"]["data"]["snapshots"] == 2
    result = kvm_image("check", image)
    assert result.returncode == 0, result.stdout + result.stderr


def test_backing_chain_of_three(kvm_image, qemu_img, pattern, tmp_path):
    base = tmp_path / "base.qcow2"
    assert qemu_img("convert", "-f", "raw", "-O", "qcow2", pattern, base).returncode == 0
    # The middle layer is larger than the base: the rest reads as zeros.
    mid = tmp_path / "mid.qcow2"
    assert qemu_img("create", "-q", "-f", "qcow2", "-b", "base.qcow2", "-F", "qcow2",
                    mid, "5M").returncode == 0
    qemu_io(mid, "write -P 0x11 64k 128k", "write -z 256k 64k", "write -P 0x12 4M 64k")
    top = tmp_path / "top.qcow2"
    assert qemu_img("create", "-q", "-f", "qcow2", "-b", "mid.qcow2", "-F", "qcow2",
                    top, "6M").returncode == 0
    qemu_io(top, "write -P 0x21 100k 8k", "write -z 4M 4k", "write -P 0x22 5M 1M")
    assert_reads_like_qemu(kvm_image, qemu_img, top, tmp_path)
    info = info_json(kvm_image, top)
    assert info["backing-filename"] == "mid.qcow2"
    out = tmp_path / "flat.qcow2"
    result = kvm_image("convert", top, out)
    assert result.returncode == 0, result.stderr
    assert qemu_img("compare", top, out).returncode == 0


@pytest.mark.parametrize("raw_data", ["on", "off"])
def test_external_data_file(kvm_image, qemu_img, pattern, tmp_path, raw_data):
    image = tmp_path / "ext.qcow2"
    result = qemu_img("convert", "-f", "raw", "-O", "qcow2", "-o",
                      f"data_file=ext.data,data_file_raw={raw_data}", pattern, image,
                      cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    qemu_io(image, "write -z 64k 64k", "write -P 0x77 2M 4k")
    assert_reads_like_qemu(kvm_image, qemu_img, image, tmp_path)
    specific = info_json(kvm_image, image)["format-specific"]["data"]
    assert specific["data-file"] == "ext.data"
    assert specific["data-file-raw"] is (raw_data == "on")
    assert kvm_image("check", image).returncode == 0


# ---- Writing ----

WRITE_CASES = {
    "plain": [],
    "compressed": ["-c"],
    "compressed-zstd": ["-c", "-o", "compression_type=zstd"],
    "cluster-512": ["-o", "cluster_size=512"],
    "cluster-4k-compressed": ["-c", "-o", "cluster_size=4k"],
    "cluster-2M": ["-o", "cluster_size=2M"],
    "cluster-2M-zstd": ["-c", "-o", "cluster_size=2M,compression_type=zstd"],
    "preallocation-metadata": ["-o", "preallocation=metadata"],
    "refcount-bits-1-compressed": ["-c", "-o", "refcount_bits=1"],
    "refcount-bits-2-compressed": ["-c", "-o", "refcount_bits=2,cluster_size=4k"],
    "refcount-bits-64": ["-o", "refcount_bits=64,cluster_size=4k"],
}


@pytest.fixture(scope="module")
def write_source(tmp_path_factory, pattern):
    require_program("qemu-img")
    folder = tmp_path_factory.mktemp("source")
    image = folder / "source.qcow2"
    result = run(["qemu-img", "convert", "-f", "raw", "-O", "qcow2", pattern, image])
    assert result.returncode == 0, result.stderr
    qemu_io(image, "write -z 0 64k", "write -z 2M 128k")
    return image


@pytest.mark.parametrize("name", sorted(WRITE_CASES))
def test_write_is_clean_and_identical(kvm_image, qemu_img, write_source, tmp_path, name):
    out = tmp_path / "out.qcow2"
    result = kvm_image("convert", write_source, out, "-O", "qcow2", *WRITE_CASES[name])
    assert result.returncode == 0, result.stderr
    check = qemu_img("check", out)
    assert check.returncode == 0, check.stdout + check.stderr
    assert "No errors were found" in check.stdout
    compare = qemu_img("compare", write_source, out)
    assert compare.returncode == 0, compare.stdout + compare.stderr
    assert kvm_image("check", out).returncode == 0
    assert_reads_like_qemu(kvm_image, qemu_img, out, tmp_path)
    # libqcow reads zlib clusters only.
    if have("qcowinfo") and "zstd" not in name:
        info = run(["qcowinfo", out])
        assert info.returncode == 0, info.stderr
        assert f"({PATTERN_SIZE} bytes)" in info.stdout


def test_qcowinfo_reads_output(kvm_image, write_source, tmp_path):
    require_program("qcowinfo")
    out = tmp_path / "out.qcow2"
    assert kvm_image("convert", write_source, out).returncode == 0
    info = run(["qcowinfo", out])
    assert info.returncode == 0, info.stderr
    assert "Format version\t\t: 3" in info.stdout


def test_output_is_deterministic(kvm_image, write_source, tmp_path):
    first, second = tmp_path / "a.qcow2", tmp_path / "b.qcow2"
    assert kvm_image("convert", write_source, first, "-c", "-m", "1").returncode == 0
    assert kvm_image("convert", write_source, second, "-c", "-m", "4").returncode == 0
    assert first.read_bytes() == second.read_bytes()


def test_preallocation_maps_every_cluster(kvm_image, qemu_img, tmp_path):
    out = tmp_path / "pre.qcow2"
    result = kvm_image("create", "-f", "qcow2", "-o", "preallocation=metadata", out, "10M")
    assert result.returncode == 0, result.stderr
    check = qemu_img("check", out)
    assert check.returncode == 0, check.stdout
    assert "160/160 = 100.00% allocated" in check.stdout


def test_compression_with_preallocation_is_refused(kvm_image, write_source, tmp_path):
    out = tmp_path / "x.qcow2"
    result = kvm_image("convert", write_source, out, "-c", "-o", "preallocation=metadata")
    assert result.returncode != 0
    assert "cannot be combined with compression" in result.stderr
    assert os.listdir(tmp_path) == []


MEASURE_CASES = [[], ["-o", "cluster_size=512"], ["-o", "cluster_size=2M"],
                 ["-o", "refcount_bits=1"], ["-o", "refcount_bits=64,cluster_size=4k"]]


@pytest.mark.parametrize("options", MEASURE_CASES, ids=lambda o: ",".join(o) or "default")
def test_measure_matches_qemu(kvm_image, qemu_img, write_source, options):
    def numbers(text):
        values = {}
        for line in text.splitlines():
            key, _, value = line.partition(":")
            values[key.strip()] = value.strip()
        return values["required size"], values["fully allocated size"]

    for source in (["--size", "7G"], [write_source]):
        ours = kvm_image("measure", "-O", "qcow2", *options, *source)
        theirs = qemu_img("measure", "-O", "qcow2", *options, *source)
        assert ours.returncode == 0, ours.stderr
        assert numbers(ours.stdout) == numbers(theirs.stdout)


# ---- check on damaged images ----

def header(path):
    with open(path, "rb") as f:
        data = f.read(112)
    fields = struct.unpack(">4sIQIIQIIQQIIQ", data[:72])
    return {
        "cluster_bits": fields[4], "l1_size": fields[7], "l1_offset": fields[8],
        "reftable_offset": fields[9], "reftable_clusters": fields[10],
    }


def read_u64(f, offset):
    f.seek(offset)
    return struct.unpack(">Q", f.read(8))[0]


def write_u64(f, offset, value):
    f.seek(offset)
    f.write(struct.pack(">Q", value))


def first_l2(path):
    h = header(path)
    with open(path, "rb") as f:
        return read_u64(f, h["l1_offset"]) & 0x00fffffffffffe00


def qemu_check_code(qemu_img, image):
    return qemu_img("check", image).returncode


def test_check_reports_a_leak(kvm_image, qemu_img, write_source, tmp_path):
    image = tmp_path / "leak.qcow2"
    shutil.copy(write_source, image)
    h = header(image)
    cluster = 1 << h["cluster_bits"]
    size = image.stat().st_size
    with open(image, "r+b") as f:
        f.truncate(size + cluster)
        block = read_u64(f, h["reftable_offset"])
        f.seek(block + 2 * (size // cluster))
        f.write(struct.pack(">H", 1))
    assert qemu_check_code(qemu_img, image) == 3
    result = kvm_image("check", image)
    assert result.returncode == 3, result.stdout
    result = kvm_image("check", "--output=json", image)
    report = json.loads(result.stdout)
    assert report["leaks"] == 1 and report["corruptions"] == 0


def test_check_reports_a_shared_cluster(kvm_image, qemu_img, write_source, tmp_path):
    image = tmp_path / "shared.qcow2"
    shutil.copy(write_source, image)
    l2 = first_l2(image)
    with open(image, "r+b") as f:
        # Guest cluster 4 holds data; make cluster 5 point at it too.
        entry = read_u64(f, l2 + 4 * 8)
        assert entry & 0x00fffffffffffe00
        write_u64(f, l2 + 5 * 8, entry)
    assert qemu_check_code(qemu_img, image) == 2
    result = kvm_image("check", image)
    assert result.returncode == 2, result.stdout


def test_check_refuses_what_it_cannot_count(kvm_image, qemu_img, tmp_path):
    image = tmp_path / "huge.qcow2"
    assert qemu_img("create", "-q", "-f", "qcow2", "-o", "cluster_size=512",
                    image, "1G").returncode == 0
    with open(image, "r+b") as f:
        f.truncate(17 << 30)
    result = kvm_image("check", image)
    assert result.returncode not in (0, 2, 3)
    assert f"kvm-image: {image}: too large to check" in result.stderr


# ---- Hostile images ----

def patch(path, offset, fmt, *values):
    with open(path, "r+b") as f:
        f.seek(offset)
        f.write(struct.pack(fmt, *values))


def set_data_file_name(path, name):
    """Rewrites the header extensions with another data file name."""
    with open(path, "r+b") as f:
        data = bytearray(f.read(65536))
        header_length = struct.unpack(">I", data[100:104])[0]
        pos, extensions = header_length, []
        while True:
            ext_type, length = struct.unpack(">II", data[pos:pos + 8])
            if ext_type == 0:
                break
            body = bytes(data[pos + 8:pos + 8 + length])
            if ext_type == 0x44415441:
                body = name.encode()
            extensions.append((ext_type, body))
            pos += 8 + (length + 7) // 8 * 8
        out = bytearray()
        for ext_type, body in extensions:
            out += struct.pack(">II", ext_type, len(body)) + body
            out += b"\0" * (-len(body) % 8)
        out += b"\0" * 8
        f.seek(header_length)
        f.write(out)


def hostile_base(qemu_img, pattern, folder, *options):
    image = folder / "bad.qcow2"
    result = qemu_img("convert", "-f", "raw", "-O", "qcow2", *options, pattern, image,
                      cwd=folder)
    assert result.returncode == 0, result.stderr
    return image


def damage_truncated(image):
    with open(image, "r+b") as f:
        f.truncate(50)


def damage_version(image):
    patch(image, 4, ">I", 4)


def damage_l1_past_eof(image):
    patch(image, 40, ">Q", 1 << 40)


def damage_huge_l1(image):
    patch(image, 36, ">I", 0x10000000)


def damage_cluster_bits(image):
    patch(image, 20, ">I", 30)


def damage_l2_entry(image):
    with open(image, "r+b") as f:
        write_u64(f, first_l2(image), (1 << 63) | (1 << 40))


def damage_compressed(image):
    # Guest cluster 2 holds text, which compresses.
    with open(image, "r+b") as f:
        entry = read_u64(f, first_l2(image) + 2 * 8)
        assert entry & (1 << 62)
        f.seek(entry & ((1 << 54) - 1))
        f.write(b"\xff" * 200)


def damage_unknown_feature(image):
    patch(image, 72, ">Q", 1 << 10)


def damage_encrypted(image):
    patch(image, 32, ">I", 1)


def damage_header_length(image):
    patch(image, 100, ">I", 50)


def damage_size(image):
    patch(image, 24, ">Q", 1 << 62)


def damage_refcount_table(image):
    patch(image, 48, ">Q", 1 << 40)


def damage_long_backing_name(image):
    patch(image, 8, ">QI", 0x200, 2000)


HOSTILE = {
    "truncated-header": ([], damage_truncated, "header is truncated"),
    "wrong-version": ([], damage_version, "qcow2 version 4 is not supported"),
    "l1-past-eof": ([], damage_l1_past_eof, "L1 table is past the end of the file"),
    "huge-l1-size": ([], damage_huge_l1, "L1 table of 2147483648 bytes is too large"),
    "cluster-bits-30": ([], damage_cluster_bits, "cluster_bits 30 is out of range (9 to 21)"),
    "l2-entry-past-eof": ([], damage_l2_entry,
                          "cluster at guest offset 0x0 points past the end of the file"),
    "compressed-garbage": (["-c"], damage_compressed,
                           "compressed cluster at guest offset 0x20000 does not decompress"),
    "unknown-incompatible-bit": ([], damage_unknown_feature,
                                 "unsupported qcow2 feature (incompatible feature bits 0x400)"),
    "encrypted": ([], damage_encrypted, "encrypted images are not supported"),
    "header-length": ([], damage_header_length, "header length 50 is invalid"),
    "absurd-size": ([], damage_size, "is absurd"),
    "refcount-table-past-eof": ([], damage_refcount_table,
                                "refcount table is past the end of the file"),
    "backing-name-too-long": ([], damage_long_backing_name,
                              "backing file name is longer than 1023 bytes"),
}


def assert_refused(kvm_image, image, out_dir, expected):
    out_dir.mkdir()
    result = kvm_image("convert", image, out_dir / "out.raw", "-O", "raw")
    assert result.returncode != 0
    assert expected in result.stderr
    assert result.stderr.startswith(f"kvm-image: {image}")
    assert os.listdir(out_dir) == []


@pytest.mark.parametrize("name", sorted(HOSTILE))
def test_hostile_image_is_refused(kvm_image, qemu_img, pattern, tmp_path, name):
    options, damage, expected = HOSTILE[name]
    folder = tmp_path / "in"
    folder.mkdir()
    image = hostile_base(qemu_img, pattern, folder, *options)
    damage(image)
    assert_refused(kvm_image, image, tmp_path / "out", expected)


def test_backing_absolute_path_is_refused(kvm_image, qemu_img, tmp_path):
    image = tmp_path / "abs.qcow2"
    assert qemu_img("create", "-q", "-f", "qcow2", "-u", "-b", "/etc/hostname", "-F", "raw",
                    image, "1M").returncode == 0
    assert_refused(kvm_image, image, tmp_path / "out", "absolute path not allowed")


def test_backing_dotdot_is_refused(kvm_image, qemu_img, tmp_path):
    (tmp_path / "x").write_bytes(b"outside")
    folder = tmp_path / "sub"
    folder.mkdir()
    image = folder / "dotdot.qcow2"
    assert qemu_img("create", "-q", "-f", "qcow2", "-u", "-b", "../x", "-F", "raw",
                    image, "1M").returncode == 0
    assert_refused(kvm_image, image, tmp_path / "out", "leads out of")


def test_backing_symlink_out_is_refused(kvm_image, qemu_img, tmp_path):
    folder = tmp_path / "sub"
    folder.mkdir()
    os.symlink("/etc/hostname", folder / "link.raw")
    image = folder / "sym.qcow2"
    assert qemu_img("create", "-q", "-f", "qcow2", "-u", "-b", "link.raw", "-F", "raw",
                    image, "1M").returncode == 0
    assert_refused(kvm_image, image, tmp_path / "out", "symlink leads out of")


def test_data_file_outside_is_refused(kvm_image, qemu_img, pattern, tmp_path):
    folder = tmp_path / "in"
    folder.mkdir()
    image = hostile_base(qemu_img, pattern, folder, "-o", "data_file=d.raw")
    set_data_file_name(image, "/etc/hostname")
    assert_refused(kvm_image, image, tmp_path / "out", "absolute path not allowed")
