# SPDX-License-Identifier: GPL-2.0-or-later
"""The hostile-image corpus: images built to break a reader, each with the
exact error kvm-image must give (or the proof that it reads the image).

- every field of every header (qcow2; VMDK hosted sparse, stream-optimized
  footer, COWD and seSparse) at 0, at its maximum and just past the file;
- L2 and grain tables that overlap the header, the directory or each
  other, and data that small tables map again and again;
- compressed grains whose stated length lies and decompression bombs;
- descriptors with a million extents, a 100 MiB line, NUL bytes and
  names that are not UTF-8;
- chains of 1,000 backing files and backing loops;
- files that shrink or grow while a conversion reads them.

The base images are made by qemu-img (and by kvm-image for the footer of a
stream-optimized VMDK, which qemu-img does not write) and patched here.
Every refusal must be one line `kvm-image: FILE: what is wrong`, leave the
output folder empty and the source unchanged.  tests/image/test_limits.py
runs the same corpus under a memory and CPU cap.
"""
import hashlib
import re
import threading
import json
import os
import random
import struct
import subprocess
import time
import zlib

import pytest

from conftest import require_program, run, under_strace
from test_vmdk import descriptor, make_cowd, make_sesparse

KIB = 1024
MIB = 1024 * KIB
SECTOR = 512
# What the hostile images are converted to: 2 MiB clusters hold any
# virtual size a reader may accept, up to the 32 PiB cap.
CONVERT_ARGS = ["-O", "qcow2", "-o", "cluster_size=2M"]


def small_disk():
    """1 MiB: random data, text that compresses, a hole, data at the end."""
    rng = random.Random(5)
    disk = bytearray(MIB)
    disk[0:64 * KIB] = rng.randbytes(64 * KIB)
    text = b"compressible text " * 2000
    disk[512 * KIB:512 * KIB + len(text)] = text
    disk[MIB - 4 * KIB:] = rng.randbytes(4 * KIB)
    return bytes(disk)


@pytest.fixture(scope="module")
def bases(tmp_path_factory, kvm_image):
    """The base images each case patches, as bytes."""
    require_program("qemu-img")
    folder = tmp_path_factory.mktemp("bases")
    raw = folder / "disk.raw"
    raw.write_bytes(small_disk())
    made = {}

    def qemu(name, *args):
        result = run(["qemu-img", "convert", "-f", "raw", *args, raw, folder / name])
        assert result.returncode == 0, result.stderr
        made[name] = (folder / name).read_bytes()

    qemu("qcow2", "-O", "qcow2", "-o", "cluster_size=4k")
    qemu("qcow2-zlib", "-c", "-O", "qcow2", "-o", "cluster_size=4k")
    qemu("qcow2-zstd", "-c", "-O", "qcow2", "-o", "cluster_size=4k,compression_type=zstd")
    qemu("sparse", "-O", "vmdk")
    result = kvm_image("convert", "-f", "raw", "-O", "vmdk", "-o", "subformat=streamOptimized",
                       raw, folder / "stream")
    assert result.returncode == 0, result.stderr
    made["stream"] = (folder / "stream").read_bytes()
    disk = small_disk()
    grains = {i: disk[i * 4096:(i + 1) * 4096] for i in (0, 1, 200, 255)}
    make_cowd(folder / "cowd", MIB // SECTOR, 8, grains)
    made["cowd"] = (folder / "cowd").read_bytes()
    make_sesparse(folder / "sesparse", MIB // SECTOR, grains)
    made["sesparse"] = (folder / "sesparse").read_bytes()
    return made


def digest(path):
    return hashlib.sha256(path.read_bytes()).hexdigest()


def convert(kvm_image, image, out_dir, *args, fmt=None):
    out_dir.mkdir(exist_ok=True)
    fmt_args = ["-f", fmt] if fmt else []
    return kvm_image("convert", *fmt_args, *CONVERT_ARGS, *args, image, out_dir / "out.qcow2")


def assert_refused(kvm_image, image, out_dir, message, fmt=None):
    """MESSAGE is the whole error line after "kvm-image: "."""
    before = digest(image)
    result = convert(kvm_image, image, out_dir, fmt=fmt)
    assert result.returncode == 1, result.stderr
    assert result.stderr == f"kvm-image: {message}\n"
    assert list(out_dir.iterdir()) == []
    assert digest(image) == before


def assert_read(kvm_image, image, out_dir, fmt=None):
    result = convert(kvm_image, image, out_dir, fmt=fmt)
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    assert [p.name for p in out_dir.iterdir()] == ["out.qcow2"]


# ---- Every field of every header ----

def u(fmt):
    """The largest value of a struct field."""
    return (1 << (8 * struct.calcsize(fmt))) - 1


def round_up(value, unit):
    return -(-value // unit) * unit


def stream_capacity_past(data):
    """The capacity whose grain directory (in the footer, 32 MiB per
    4-byte entry) reaches past the end of the file."""
    gd_sector = struct.unpack_from("<Q", data, len(data) - 2 * SECTOR + 56)[0]
    return ((len(data) - gd_sector * SECTOR) // 4 + 1) << 16


# (base, driver, where the header starts (negative: from the end of the
# file), byte order, fields: name -> (offset, struct format, {kind: value}))
# "past" is a function of the base file's bytes: the first value that puts
# what the field describes past the end of the file.  Fields without a "past" value describe no place in the file.
HEADERS = {
    "qcow2": ("qcow2", "qcow2", 0, ">", {
        "magic": (0, "I", {}),
        "version": (4, "I", {}),
        "backing_file_offset": (8, "Q", {"past": lambda data: len(data)}),
        "backing_file_size": (16, "I", {}),
        "cluster_bits": (20, "I", {"past": lambda data: 21}),
        "size": (24, "Q", {"past": lambda data: 2 * MIB + 1}),
        "crypt_method": (32, "I", {}),
        "l1_size": (36, "I", {"past": lambda data: (len(data) - 0x3000) // 8 + 1}),
        "l1_table_offset": (40, "Q", {"past": lambda data: round_up(len(data), 4096)}),
        "refcount_table_offset": (48, "Q", {"past": lambda data: round_up(len(data), 4096)}),
        "refcount_table_clusters": (56, "I", {"past": lambda data: len(data) // 4096}),
        "nb_snapshots": (60, "I", {}),
        "snapshots_offset": (64, "Q", {"past": lambda data: round_up(len(data), 4096)}),
        "incompatible_features": (72, "Q", {}),
        "compatible_features": (80, "Q", {}),
        "autoclear_features": (88, "Q", {}),
        "refcount_order": (96, "I", {}),
        "header_length": (100, "I", {"past": lambda data: 4097}),
        "compression_type": (104, "B", {}),
    }),
    "sparse": ("sparse", "vmdk", 0, "<", {
        "magic": (0, "I", {}),
        "version": (4, "I", {}),
        "flags": (8, "I", {}),
        # The directory at sector 26 maps 32 MiB per 4-byte entry.
        "capacity": (12, "Q", {"past": lambda data: ((len(data) - 26 * SECTOR) // 4 + 1) << 16}),
        "grain_size": (20, "Q", {"past": lambda data: 1 << 15}),
        "descriptor_offset": (28, "Q", {"past": lambda data: len(data) // SECTOR}),
        "descriptor_size": (36, "Q", {"past": lambda data: len(data) // SECTOR}),
        "gtes_per_gt": (44, "I", {"past": lambda data: len(data) // 4}),
        "rgd_offset": (48, "Q", {"past": lambda data: len(data) // SECTOR}),
        "gd_offset": (56, "Q", {"past": lambda data: len(data) // SECTOR}),
        "overhead": (64, "Q", {"past": lambda data: len(data) // SECTOR}),
        "unclean_shutdown": (72, "B", {}),
        "compress_algorithm": (77, "H", {}),
    }),
    "stream-footer": ("stream", "vmdk", -2 * SECTOR, "<", {
        "magic": (0, "I", {}),
        "version": (4, "I", {}),
        "flags": (8, "I", {}),
        "capacity": (12, "Q", {"past": stream_capacity_past}),
        "grain_size": (20, "Q", {"past": lambda data: 1 << 15}),
        "descriptor_offset": (28, "Q", {"past": lambda data: len(data) // SECTOR}),
        "descriptor_size": (36, "Q", {"past": lambda data: len(data) // SECTOR}),
        "gtes_per_gt": (44, "I", {"past": lambda data: len(data) // 4}),
        "gd_offset": (56, "Q", {"past": lambda data: len(data) // SECTOR}),
        "compress_algorithm": (77, "H", {}),
    }),
    "cowd": ("cowd", "vmdk", 0, "<", {
        "version": (4, "I", {}),
        "flags": (8, "I", {}),
        "sectors": (12, "I", {"past": lambda data: 4096 * 8 + 1}),
        "grain_size": (16, "I", {"past": lambda data: 1 << 15}),
        "gd_offset": (20, "I", {"past": lambda data: len(data) // SECTOR}),
        "gd_entries": (24, "I", {}),
        "free_sector": (28, "I", {"past": lambda data: len(data) // SECTOR + 1}),
    }),
    "sesparse": ("sesparse", "vmdk", 0, "<", {
        "version": (8, "Q", {}),
        "capacity": (16, "Q", {"past": lambda data: 4096 * 8 + 1}),
        "grain_size": (24, "Q", {"past": lambda data: 1 << 15}),
        "grain_table_size": (32, "Q", {"past": lambda data: len(data) // SECTOR}),
        "flags": (40, "Q", {}),
        "volatile_header_offset": (80, "Q", {"past": lambda data: len(data) // SECTOR}),
        "grain_dir_offset": (128, "Q", {"past": lambda data: len(data) // SECTOR}),
        "grain_dir_size": (136, "Q", {"past": lambda data: len(data) // SECTOR + 1}),
        "grain_tables_offset": (144, "Q", {"past": lambda data: len(data) // SECTOR}),
        "grain_tables_size": (152, "Q", {"past": lambda data: len(data) // SECTOR + 1}),
        "grains_offset": (192, "Q", {"past": lambda data: len(data) // SECTOR}),
        "grains_size": (200, "Q", {"past": lambda data: len(data) // SECTOR + 1}),
        "volatile_magic": (SECTOR, "Q", {}),
        "volatile_replay_journal": (SECTOR + 24, "Q", {}),
    }),
}


def field_cases():
    for header, (_, _, _, _, fields) in HEADERS.items():
        for field, (_, fmt, special) in fields.items():
            for kind in ("zero", "max", *special):
                yield f"{header}-{field}-{kind}"


def field_image(bases, case, folder):
    """Writes the base of CASE with its one field changed; returns the path
    and the driver."""
    for header, (base, driver, start, order, fields) in HEADERS.items():
        for field, (offset, fmt, special) in fields.items():
            for kind in ("zero", "max", *special):
                if f"{header}-{field}-{kind}" != case:
                    continue
                data = bytearray(bases[base])
                value = {"zero": 0, "max": u(fmt)}.get(kind) if kind in ("zero", "max") \
                    else special[kind](bytes(data))
                struct.pack_into(order + fmt, data, (start % len(data)) + offset, value)
                path = folder / f"{case}.{driver}"
                path.write_bytes(bytes(data))
                return path, driver
    raise KeyError(case)


# Outcomes: the error line after "kvm-image: " ({image} is the file,
# {folder} its folder), or READ when the field does not matter to a reader.
READ = None
FIELD_OUTCOMES = {
    "qcow2-magic-zero": "{image}: not a qcow2 image (bad magic)",
    "qcow2-magic-max": "{image}: not a qcow2 image (bad magic)",
    "qcow2-version-zero": "{image}: qcow2 version 0 is not supported",
    "qcow2-version-max": "{image}: qcow2 version 4294967295 is not supported",
    "qcow2-backing_file_offset-zero": READ,
    "qcow2-backing_file_offset-max": "{image}: the backing file name lies outside the header cluster",
    "qcow2-backing_file_offset-past": "{image}: the backing file name lies outside the header cluster",
    # Without an offset there is no name to measure.
    "qcow2-backing_file_size-zero": READ,
    "qcow2-backing_file_size-max": READ,
    "qcow2-cluster_bits-zero": "{image}: cluster_bits 0 is out of range (9 to 21)",
    "qcow2-cluster_bits-max": "{image}: cluster_bits 4294967295 is out of range (9 to 21)",
    "qcow2-cluster_bits-past": "{image}: L1 table offset 0x3000 is not aligned",
    "qcow2-size-zero": READ,
    "qcow2-size-max": "{image}: virtual size 18446744073709551615 is absurd",
    "qcow2-size-past": "{image}: L1 table of 1 entries is too small for the virtual size",
    "qcow2-crypt_method-zero": READ,
    "qcow2-crypt_method-max": "{image}: encrypted images are not supported",
    "qcow2-l1_size-zero": "{image}: L1 table of 0 entries is too small for the virtual size",
    "qcow2-l1_size-max": "{image}: L1 table of 34359738360 bytes is too large",
    "qcow2-l1_size-past": "{image}: L1 table is past the end of the file",
    # The L1 table read from the header: its first entry is the magic.
    "qcow2-l1_table_offset-zero": "{image}: L2 table offset 0x4649fb00000000 is past the end of the file",
    "qcow2-l1_table_offset-max": "{image}: L1 table offset 0xffffffffffffffff is not aligned",
    "qcow2-l1_table_offset-past": "{image}: L1 table is past the end of the file",
    # Reading needs no refcounts; only their table's place is checked.
    "qcow2-refcount_table_offset-zero": READ,
    "qcow2-refcount_table_offset-max": "{image}: refcount table offset 0xffffffffffffffff is not aligned",
    "qcow2-refcount_table_offset-past": "{image}: refcount table is past the end of the file",
    "qcow2-refcount_table_clusters-zero": READ,
    "qcow2-refcount_table_clusters-max": "{image}: refcount table of 17592186040320 bytes is too large",
    "qcow2-refcount_table_clusters-past": "{image}: refcount table is past the end of the file",
    "qcow2-nb_snapshots-zero": READ,
    "qcow2-nb_snapshots-max": "{image}: 4294967295 snapshots is absurd",
    # Snapshots are never read while there are none.
    "qcow2-snapshots_offset-zero": READ,
    "qcow2-snapshots_offset-max": READ,
    "qcow2-snapshots_offset-past": READ,
    "qcow2-incompatible_features-zero": READ,
    "qcow2-incompatible_features-max": "{image}: unsupported qcow2 feature (incompatible feature bits 0xffffffffffffffe0)",
    "qcow2-compatible_features-zero": READ,
    "qcow2-compatible_features-max": READ,
    "qcow2-autoclear_features-zero": READ,
    "qcow2-autoclear_features-max": READ,
    "qcow2-refcount_order-zero": READ,
    "qcow2-refcount_order-max": "{image}: refcount order 4294967295 is invalid",
    "qcow2-header_length-zero": "{image}: header length 0 is invalid",
    "qcow2-header_length-max": "{image}: header length 4294967295 is invalid",
    "qcow2-header_length-past": "{image}: header length 4097 is invalid",
    "qcow2-compression_type-zero": READ,
    "qcow2-compression_type-max": "{image}: compression type 255 without its feature bit",
    # Without a magic the file is read as a text descriptor.
    "sparse-magic-zero": "{image}: not a VMDK descriptor",
    "sparse-magic-max": "{image}: not a VMDK descriptor",
    "sparse-version-zero": "{image}: sparse extent version 0 is not supported",
    "sparse-version-max": "{image}: sparse extent version 4294967295 is not supported",
    "sparse-flags-zero": READ,
    "sparse-flags-max": "{image}: grain at guest offset 0x0 has a compressed size of 3185950873",
    # A sparse file of capacity 0 is a descriptor whose extents are other
    # files: here the one qemu-img named when it wrote the base.
    "sparse-capacity-zero": "{image}: {folder}/sparse: No such file or directory",
    "sparse-capacity-max": "{image}: capacity of 18446744073709551615 sectors is absurd",
    "sparse-capacity-past": "{image}: grain directory at 0x3400 is past the end of the file",
    "sparse-grain_size-zero": "{image}: grain size of 0 sectors is not a power of two",
    "sparse-grain_size-max": "{image}: grain size of 18446744073709551615 sectors is not a power of two",
    "sparse-grain_size-past": "{image}: grain at guest offset 0x0 is past the end of the file",
    "sparse-descriptor_offset-zero": READ,
    "sparse-descriptor_offset-max": "{image}: embedded descriptor is past the end of the file",
    "sparse-descriptor_offset-past": "{image}: embedded descriptor is past the end of the file",
    "sparse-descriptor_size-zero": READ,
    "sparse-descriptor_size-max": "{image}: descriptor is larger than 1048576 bytes",
    "sparse-descriptor_size-past": "{image}: embedded descriptor is past the end of the file",
    "sparse-gtes_per_gt-zero": "{image}: 0 entries per grain table is absurd",
    "sparse-gtes_per_gt-max": "{image}: 4294967295 entries per grain table is absurd",
    "sparse-gtes_per_gt-past": "{image}: grain table 0 at 0x3600 is past the end of the file",
    # The redundant directory, the overhead and the dirty flag do not
    # change how the data reads.
    "sparse-rgd_offset-zero": READ,
    "sparse-rgd_offset-max": READ,
    "sparse-rgd_offset-past": READ,
    "sparse-gd_offset-zero": "{image}: sparse extent has no grain directory",
    "sparse-gd_offset-max": "{image}: grain directory is at the end, but the file has no footer",
    "sparse-gd_offset-past": "{image}: grain directory at 0x40000 is past the end of the file",
    "sparse-overhead-zero": READ,
    "sparse-overhead-max": READ,
    "sparse-overhead-past": READ,
    "sparse-unclean_shutdown-zero": READ,
    "sparse-unclean_shutdown-max": READ,
    "sparse-compress_algorithm-zero": READ,
    "sparse-compress_algorithm-max": READ,
    "stream-footer-magic-zero": "{image}: grain directory is at the end, but the file has no footer",
    "stream-footer-magic-max": "{image}: grain directory is at the end, but the file has no footer",
    "stream-footer-version-zero": "{image}: sparse extent version 0 is not supported",
    "stream-footer-version-max": "{image}: sparse extent version 4294967295 is not supported",
    # Compressed by the algorithm field, but without markers the grain
    # size is read from the marker's LBA.
    "stream-footer-flags-zero": "{image}: grain at guest offset 0x0 has a compressed size of 0",
    "stream-footer-flags-max": READ,
    "stream-footer-capacity-zero": "{image}: {folder}/stream: No such file or directory",
    "stream-footer-capacity-max": "{image}: capacity of 18446744073709551615 sectors is absurd",
    "stream-footer-capacity-past": "{image}: grain directory at 0x14c00 is past the end of the file",
    "stream-footer-grain_size-zero": "{image}: grain size of 0 sectors is not a power of two",
    "stream-footer-grain_size-max": "{image}: grain size of 18446744073709551615 sectors is not a power of two",
    "stream-footer-grain_size-past": "{image}: grain at guest offset 0x0 does not decompress",
    "stream-footer-descriptor_offset-zero": READ,
    "stream-footer-descriptor_offset-max": "{image}: embedded descriptor is past the end of the file",
    "stream-footer-descriptor_offset-past": "{image}: embedded descriptor is past the end of the file",
    "stream-footer-descriptor_size-zero": READ,
    "stream-footer-descriptor_size-max": "{image}: descriptor is larger than 1048576 bytes",
    "stream-footer-descriptor_size-past": "{image}: embedded descriptor is past the end of the file",
    "stream-footer-gtes_per_gt-zero": "{image}: 0 entries per grain table is absurd",
    "stream-footer-gtes_per_gt-max": "{image}: 4294967295 entries per grain table is absurd",
    "stream-footer-gtes_per_gt-past": "{image}: grain table 0 at 0x14200 is past the end of the file",
    "stream-footer-gd_offset-zero": "{image}: sparse extent has no grain directory",
    "stream-footer-gd_offset-max": "{image}: grain directory is at the end, but the file has no footer",
    "stream-footer-gd_offset-past": "{image}: grain directory at 0x15400 is past the end of the file",
    "stream-footer-compress_algorithm-zero": READ,
    "stream-footer-compress_algorithm-max": READ,
    # ESX 2 never checked the version or flags of COWD files either.
    "cowd-version-zero": READ,
    "cowd-version-max": READ,
    "cowd-flags-zero": READ,
    "cowd-flags-max": READ,
    "cowd-sectors-zero": READ,
    "cowd-sectors-max": "{image}: grain directory of 1 entries cannot map 4294967295 sectors",
    "cowd-sectors-past": "{image}: grain directory of 1 entries cannot map 32769 sectors",
    "cowd-grain_size-zero": "{image}: grain size of 0 sectors is not a power of two",
    "cowd-grain_size-max": "{image}: grain size of 4294967295 sectors is not a power of two",
    "cowd-grain_size-past": "{image}: grain at guest offset 0x0 is past the end of the file",
    # The directory read from the header: its entry is the magic.
    "cowd-gd_offset-zero": "{image}: grain table 0 at 0x88ae9e8600 is past the end of the file",
    "cowd-gd_offset-max": "{image}: grain directory at 0x1fffffffe00 is past the end of the file",
    "cowd-gd_offset-past": "{image}: grain directory at 0x8a00 is past the end of the file",
    "cowd-gd_entries-zero": "{image}: grain directory of 0 entries cannot map 2048 sectors",
    "cowd-gd_entries-max": READ,
    "cowd-free_sector-zero": READ,
    "cowd-free_sector-max": READ,
    "cowd-free_sector-past": READ,
    "sesparse-version-zero": "{image}: seSparse version 0x0 is not supported",
    "sesparse-version-max": "{image}: seSparse version 0xffffffffffffffff is not supported",
    "sesparse-capacity-zero": READ,
    "sesparse-capacity-max": "{image}: capacity of 18446744073709551615 sectors is absurd",
    # A second grain table the directory does not have: unallocated.
    "sesparse-capacity-past": READ,
    "sesparse-grain_size-zero": "{image}: grain size of 0 sectors is not a power of two",
    "sesparse-grain_size-max": "{image}: grain size of 18446744073709551615 sectors is not a power of two",
    "sesparse-grain_size-past": "{image}: grain at guest offset 0x0 is past the end of the file",
    "sesparse-grain_table_size-zero": "{image}: grain table of 0 sectors is absurd",
    "sesparse-grain_table_size-max": "{image}: grain table of 18446744073709551615 sectors is absurd",
    "sesparse-grain_table_size-past": "{image}: grain table 0 lies outside the grain table area",
    "sesparse-flags-zero": READ,
    "sesparse-flags-max": "{image}: seSparse flags 0xffffffffffffffff are not supported",
    "sesparse-volatile_header_offset-zero": "{image}: seSparse volatile header has a bad magic",
    "sesparse-volatile_header_offset-max": "{image}: seSparse volatile header is past the end of the file",
    "sesparse-volatile_header_offset-past": "{image}: seSparse volatile header is past the end of the file",
    "sesparse-grain_dir_offset-zero": "{image}: grain directory entry 0 is invalid (0xcafebabe)",
    "sesparse-grain_dir_offset-max": "{image}: seSparse header field at byte 128 (0xffffffffffffffff) is past the end of the file",
    "sesparse-grain_dir_offset-past": "{image}: grain directory at 0xc600 is past the end of the file",
    "sesparse-grain_dir_size-zero": "{image}: grain directory of 0 sectors cannot map 2048 sectors",
    "sesparse-grain_dir_size-max": "{image}: seSparse header field at byte 136 (0xffffffffffffffff) is past the end of the file",
    "sesparse-grain_dir_size-past": "{image}: seSparse header field at byte 136 (0x64) is past the end of the file",
    "sesparse-grain_tables_offset-zero": "{image}: grain table 0 overlaps the header",
    "sesparse-grain_tables_offset-max": "{image}: seSparse header field at byte 144 (0xffffffffffffffff) is past the end of the file",
    "sesparse-grain_tables_offset-past": "{image}: grain table 0 at 0xc600 is past the end of the file",
    "sesparse-grain_tables_size-zero": "{image}: grain table 0 lies outside the grain table area",
    "sesparse-grain_tables_size-max": "{image}: seSparse header field at byte 152 (0xffffffffffffffff) is past the end of the file",
    "sesparse-grain_tables_size-past": "{image}: seSparse header field at byte 152 (0x64) is past the end of the file",
    # Grain 0 then lies in the header.
    "sesparse-grains_offset-zero": READ,
    "sesparse-grains_offset-max": "{image}: seSparse header field at byte 192 (0xffffffffffffffff) is past the end of the file",
    "sesparse-grains_offset-past": "{image}: grain at guest offset 0x0 is past the end of the file",
    "sesparse-grains_size-zero": READ,
    "sesparse-grains_size-max": READ,
    "sesparse-grains_size-past": READ,
    "sesparse-volatile_magic-zero": "{image}: seSparse volatile header has a bad magic",
    "sesparse-volatile_magic-max": "{image}: seSparse volatile header has a bad magic",
    "sesparse-volatile_replay_journal-zero": READ,
    "sesparse-volatile_replay_journal-max": "{image}: seSparse journal must be replayed by ESXi first",
}


def test_every_field_case_has_an_outcome():
    assert sorted(field_cases()) == sorted(FIELD_OUTCOMES)


@pytest.mark.parametrize("case", sorted(FIELD_OUTCOMES))
def test_header_field(kvm_image, bases, tmp_path, case):
    folder = tmp_path / "in"
    folder.mkdir()
    image, driver = field_image(bases, case, folder)
    outcome = FIELD_OUTCOMES[case]
    if outcome is READ:
        assert_read(kvm_image, image, tmp_path / "out", fmt=driver)
    else:
        assert_refused(kvm_image, image, tmp_path / "out", outcome.format(image=image, folder=folder),
                       fmt=driver)


# ---- Tables that overlap, and data mapped again and again ----

def be64(data, offset):
    return struct.unpack_from(">Q", data, offset)[0]


def qcow2_l2(data):
    """The offset of the base's first (and only) L2 table."""
    return be64(data, be64(data, 40)) & 0x00fffffffffffe00


def qcow2_patch(bases, base, *patches):
    data = bytearray(bases[base])
    for offset, fmt, value in patches:
        struct.pack_into(fmt, data, offset, value)
    return bytes(data)


def qcow2_two_l1_entries(bases, second):
    """The base grown to 4 MiB, its second L1 entry set to SECOND."""
    data = bases["qcow2"]
    l1 = be64(data, 40)
    return qcow2_patch(bases, "qcow2", (24, ">Q", 4 * MIB), (36, ">I", 2),
                       (l1 + 8, ">Q", second(data) | 1 << 63))


def qcow2_mapping_one_cluster(cluster_bits, tables):
    """An image of TABLES L2 tables whose every entry maps the one data
    cluster: a few MiB that would read as terabytes."""
    cs = 1 << cluster_bits
    span = cs * cs // 8
    l1_at, data_at, first_table = cs, 2 * cs, 3 * cs
    out = bytearray(first_table + tables * cs)
    struct.pack_into(">4sIQIIQIIQQIIQQQQII", out, 0, b"QFI\xfb", 3, 0, 0, cluster_bits,
                     tables * span, 0, tables, l1_at, 0, 0, 0, 0, 0, 0, 0, 4, 104)
    for t in range(tables):
        struct.pack_into(">Q", out, l1_at + 8 * t, (first_table + t * cs) | 1 << 63)
        struct.pack_into(f">{cs // 8}Q", out, first_table + t * cs,
                         *[data_at | 1 << 63] * (cs // 8))
    out[data_at:data_at + cs] = b"A" * cs
    return bytes(out)


def sparse_gd(data):
    return struct.unpack_from("<Q", data, 56)[0] * SECTOR


def sparse_patch(bases, *patches):
    data = bytearray(bases["sparse"])
    for offset, fmt, value in patches:
        struct.pack_into(fmt, data, offset, value)
    return bytes(data)


def sparse_two_tables(bases, second):
    """The base grown to 64 MiB (two grain tables); the second directory
    entry set to SECOND (in sectors) of the first."""
    data = bases["sparse"]
    first = struct.unpack_from("<I", data, sparse_gd(data))[0]
    return sparse_patch(bases, (12, "<Q", 64 * MIB // SECTOR),
                        (sparse_gd(data) + 4, "<I", second(first)))


def sparse_every_grain(bases, sector):
    """The base grown to the 32 MiB its grain table maps, every entry set
    to SECTOR."""
    data = bases["sparse"]
    gt = struct.unpack_from("<I", data, sparse_gd(data))[0] * SECTOR
    return sparse_patch(bases, (12, "<Q", 32 * MIB // SECTOR),
                        *[(gt + 4 * i, "<I", sector) for i in range(512)])


# name -> (bytes of the image, driver, outcome as in FIELD_OUTCOMES)
OVERLAP_CASES = {
    "qcow2-l2-is-the-l1-table": (
        lambda b: qcow2_patch(b, "qcow2", (be64(b["qcow2"], 40), ">Q", 0x3000 | 1 << 63)),
        "qcow2", "{image}: L2 table offset 0x3000 overlaps the L1 table"),
    "qcow2-l2-is-the-refcount-table": (
        lambda b: qcow2_patch(b, "qcow2", (be64(b["qcow2"], 40), ">Q", 0x1000 | 1 << 63)),
        "qcow2", "{image}: L2 table offset 0x1000 overlaps the refcount table"),
    "qcow2-l2-table-shared": (
        lambda b: qcow2_two_l1_entries(b, qcow2_l2), "qcow2",
        "{image}: L2 table at 0x4000 serves more than one L1 entry"),
    "qcow2-l2-table-unaligned": (
        lambda b: qcow2_two_l1_entries(b, lambda d: qcow2_l2(d) + 512), "qcow2",
        "{image}: L2 table offset 0x4200 is not aligned"),
    # 2 MiB clusters; the L1 entries are distinct, the data cluster is not.
    "qcow2-one-cluster-everywhere": (
        lambda b: qcow2_mapping_one_cluster(21, 2), "qcow2",
        "{image}: maps more than its 10485760 bytes of data (its tables use clusters more than once)"),
    "sparse-grain-table-shared": (
        lambda b: sparse_two_tables(b, lambda first: first), "vmdk",
        "{image}: grain tables at 0x3600 and 0x3600 overlap"),
    "sparse-grain-tables-overlap": (
        lambda b: sparse_two_tables(b, lambda first: first + 1), "vmdk",
        "{image}: grain tables at 0x3600 and 0x3800 overlap"),
    "sparse-grain-table-is-the-directory": (
        lambda b: sparse_patch(b, (sparse_gd(b["sparse"]), "<I", sparse_gd(b["sparse"]) // SECTOR)),
        "vmdk", "{image}: grain table 0 at 0x3400 overlaps the grain directory"),
    "sparse-one-grain-everywhere": (
        lambda b: sparse_every_grain(b, 128), "vmdk",
        "{image}: maps more than its 262144 bytes of data (its tables use clusters more than once)"),
}


@pytest.mark.parametrize("case", sorted(OVERLAP_CASES))
def test_overlapping_tables(kvm_image, bases, tmp_path, case):
    build, driver, outcome = OVERLAP_CASES[case]
    image = tmp_path / f"{case}.{driver}"
    image.write_bytes(build(bases))
    assert_refused(kvm_image, image, tmp_path / "out", outcome.format(image=image))


@pytest.mark.parametrize("case", ["qcow2-one-cluster-everywhere", "sparse-one-grain-everywhere"])
def test_compare_refuses_images_that_map_clusters_again(kvm_image, bases, tmp_path, case):
    """compare reads what both images map, so it holds them to the same
    budget as convert, before reading anything."""
    build, driver, outcome = OVERLAP_CASES[case]
    image = tmp_path / f"{case}.{driver}"
    image.write_bytes(build(bases))
    other = tmp_path / "other.raw"
    other.write_bytes(b"")
    for a, b in ((image, other), (other, image)):
        result = kvm_image("compare", a, b, timeout=20)
        assert result.returncode == 2
        assert result.stderr == "kvm-image: " + outcome.format(image=image) + "\n"


def qcow2_l1_naming_one_table(cluster_bits):
    """One cluster of disk (one L1 entry needed), but an L1 table of a
    whole cluster of entries that all name the same L2 table."""
    cs = 1 << cluster_bits
    entries = cs // 8
    out = bytearray(3 * cs)
    struct.pack_into(">4sIQIIQIIQQIIQQQQII", out, 0, b"QFI\xfb", 3, 0, 0, cluster_bits, cs, 0,
                     entries, 2 * cs, 0, 0, 0, 0, 0, 0, 0, 4, 104)
    struct.pack_into(f">{entries}Q", out, 2 * cs, *[cs | 1 << 63] * entries)
    return bytes(out)


def test_check_walks_a_shared_l2_table_once(kvm_image, tmp_path):
    """Reading needs the first L1 entry only, but check walks them all: a
    6 MiB file must not make it walk 2^36 entries."""
    image = tmp_path / "shared.qcow2"
    image.write_bytes(qcow2_l1_naming_one_table(21))
    assert_read(kvm_image, image, tmp_path / "out")
    result = kvm_image("check", image, timeout=60)
    assert result.returncode == 2, result.stderr
    assert result.stdout.startswith("ERROR L2 table 0x200000 is named again by L1 entry 1\n")


def test_data_in_the_metadata_reads_and_fails_check(kvm_image, bases, tmp_path):
    """A data cluster that is the L1 table reads as its bytes (qemu-img
    reads it so too), and check calls the image corrupt."""
    data = bases["qcow2"]
    image = tmp_path / "data-on-l1.qcow2"
    image.write_bytes(qcow2_patch(bases, "qcow2", (qcow2_l2(data), ">Q", 0x3000 | 1 << 63)))
    assert_read(kvm_image, image, tmp_path / "out")
    raw = tmp_path / "read.raw"
    assert kvm_image("convert", "-O", "raw", image, raw).returncode == 0
    assert raw.read_bytes()[:4096] == data[0x3000:0x4000]
    assert kvm_image("check", image).returncode == 2


# ---- Compressed grains that lie, and decompression bombs ----

QCOW2_COMPRESSED_GUEST = 0x80000    # the text at 512 KiB compresses
QCOW2_CSIZE_SHIFT = 62 - (12 - 8)   # for 4 KiB clusters


def qcow2_compressed_entry(data):
    l2 = qcow2_l2(data)
    index = QCOW2_COMPRESSED_GUEST // 4096
    entry = be64(data, l2 + 8 * index)
    assert entry & 1 << 62
    return l2 + 8 * index, entry


def qcow2_set_compressed(bases, base, offset, sectors):
    """The first compressed cluster of BASE made to say OFFSET, SECTORS."""
    where, _ = qcow2_compressed_entry(bases[base])
    return qcow2_patch(bases, base, (where, ">Q", 1 << 62 | (sectors - 1) << QCOW2_CSIZE_SHIFT
                                     | offset))


def qcow2_with_stream(bases, base, stream):
    """The first compressed cluster of BASE replaced by STREAM, appended."""
    data = bytearray(bases[base])
    offset = round_up(len(data), SECTOR)
    data += bytes(offset - len(data)) + stream
    data += bytes(-len(data) % SECTOR)
    where, _ = qcow2_compressed_entry(data)
    sectors = -(-len(stream) // SECTOR)
    struct.pack_into(">Q", data, where, 1 << 62 | (sectors - 1) << QCOW2_CSIZE_SHIFT | offset)
    return bytes(data)


def raw_deflate(payload):
    """qcow2's zlib clusters: raw deflate with a 4 KiB window."""
    z = zlib.compressobj(9, zlib.DEFLATED, -12)
    return z.compress(payload) + z.flush()


def zstd_rle_frame(byte, blocks):
    """A zstd frame of BLOCKS run-length blocks of 128 KiB of BYTE, 4 bytes
    each, never marked last: a bomb of any size from a few bytes."""
    frame = struct.pack("<IBB", 0xFD2FB528, 0x00, 7 << 3)    # 128 KiB window
    block = struct.pack("<I", (128 * KIB) << 3 | 1 << 1)[:3] + bytes([byte])
    return frame + block * blocks


def stream_first_marker(data):
    """The offset of the first grain marker of a kvm-image stream file."""
    footer = len(data) - 2 * SECTOR
    gd = struct.unpack_from("<Q", data, footer + 56)[0] * SECTOR
    gt = struct.unpack_from("<I", data, gd)[0] * SECTOR
    return struct.unpack_from("<I", data, gt)[0] * SECTOR


def stream_patch_size(bases, size):
    data = bytearray(bases["stream"])
    struct.pack_into("<I", data, stream_first_marker(data) + 8, size)
    return bytes(data)


def stream_with_grain(bases, payload):
    """The first grain of the stream base replaced by PAYLOAD (deflated)."""
    data = bytearray(bases["stream"])
    marker = stream_first_marker(data)
    old_size = struct.unpack_from("<I", data, marker + 8)[0]
    new = zlib.compress(payload, 9)
    assert len(new) <= old_size, "the bomb must fit where the grain was"
    struct.pack_into("<I", data, marker + 8, len(new))
    data[marker + 12:marker + 12 + len(new)] = new
    return bytes(data)


COMPRESSED_CASES = {
    # A stated length past the end of the file is cut at the end, as the
    # last compressed cluster may be; the data then reads.
    "qcow2-length-past-the-file": (
        lambda b: qcow2_set_compressed(b, "qcow2-zlib", qcow2_compressed_entry(
            b["qcow2-zlib"])[1] & ((1 << QCOW2_CSIZE_SHIFT) - 1), 16),
        "qcow2", READ),
    "qcow2-length-too-short": (
        lambda b: qcow2_with_stream(b, "qcow2-zlib", raw_deflate(small_disk()[:4096])[:100]),
        "qcow2", "{image}: compressed cluster at guest offset 0x80000 does not decompress"),
    "qcow2-offset-past-the-file": (
        lambda b: qcow2_set_compressed(b, "qcow2-zlib", 1 << 40, 1),
        "qcow2", "{image}: compressed cluster at guest offset 0x80000 points past the end of the file"),
    # 4 KiB clusters that inflate to 1 MiB and to 250 MiB: deflate is
    # refused, zstd is cut when the cluster is full, as QEMU reads it;
    # neither inflates more than a cluster.
    "qcow2-deflate-bomb": (
        lambda b: qcow2_with_stream(b, "qcow2-zlib", raw_deflate(bytes(MIB))),
        "qcow2", "{image}: compressed cluster at guest offset 0x80000 does not decompress"),
    "qcow2-zstd-bomb": (
        lambda b: qcow2_with_stream(b, "qcow2-zstd", zstd_rle_frame(0x41, 2000)),
        "qcow2", READ),
    "stream-size-zero": (
        lambda b: stream_patch_size(b, 0), "vmdk",
        "{image}: grain at guest offset 0x0 has a compressed size of 0"),
    "stream-size-past-the-file": (
        lambda b: stream_patch_size(b, len(b["stream"])), "vmdk",
        "{image}: grain at guest offset 0x0 is past the end of the file"),
    "stream-size-absurd": (
        lambda b: stream_patch_size(b, 0xffffffff), "vmdk",
        "{image}: grain at guest offset 0x0 has a compressed size of 4294967295"),
    "stream-size-too-short": (
        lambda b: stream_patch_size(b, 100), "vmdk",
        "{image}: grain at guest offset 0x0 does not decompress"),
    "stream-grain-bomb": (
        lambda b: stream_with_grain(b, bytes(16 * MIB)), "vmdk",
        "{image}: grain at guest offset 0x0 does not decompress"),
}


@pytest.mark.parametrize("case", sorted(COMPRESSED_CASES))
def test_compressed_lies_and_bombs(kvm_image, bases, tmp_path, case):
    build, driver, outcome = COMPRESSED_CASES[case]
    image = tmp_path / f"{case}.{driver}"
    image.write_bytes(build(bases))
    if outcome is READ:
        assert_read(kvm_image, image, tmp_path / "out", fmt=driver)
    else:
        assert_refused(kvm_image, image, tmp_path / "out", outcome.format(image=image),
                       fmt=driver)


def test_zstd_bomb_reads_one_cluster(kvm_image, bases, tmp_path):
    image = tmp_path / "bomb.qcow2"
    image.write_bytes(qcow2_with_stream(bases, "qcow2-zstd", zstd_rle_frame(0x41, 2000)))
    raw = tmp_path / "read.raw"
    assert kvm_image("convert", "-O", "raw", image, raw).returncode == 0
    got = raw.read_bytes()
    assert got[QCOW2_COMPRESSED_GUEST:QCOW2_COMPRESSED_GUEST + 4096] == b"A" * 4096
    assert got[QCOW2_COMPRESSED_GUEST + 4096:QCOW2_COMPRESSED_GUEST + 8192] != b"A" * 4096


# ---- Text descriptors ----

HEAD = '# Disk DescriptorFile\nversion=1\nCID=12345678\nparentCID=ffffffff\ncreateType="monolithicFlat"\n'


def write_flat(folder, name=b"d-flat.vmdk", sectors=8):
    (folder / os.fsdecode(name)).write_bytes(b"\x5a" * sectors * SECTOR)


def sparse_with_a_big_directory(folder):
    """A hosted sparse file of 32 TiB whose 4 MiB grain directory is empty:
    small, but each extent that names it loads 8 MiB of directory."""
    header = struct.pack("<4sIIQQQQIQQQ?4sH", b"KDMV", 1, 3, 1 << 36, 128, 0, 0, 512, 0, 1,
                         1, False, b"\n \r\n", 0)
    with open(folder / "big.vmdk", "wb") as f:
        f.write(header.ljust(SECTOR, b"\0"))
        f.truncate(SECTOR + 4 * MIB)


DESCRIPTOR_CASES = {
    # 11 MB of one-sector extents: refused by size before any is parsed.
    "a-million-extents": (
        lambda folder: (HEAD + "RW 1 ZERO\n" * 1000000).encode(),
        "{image}: descriptor is larger than 1048576 bytes"),
    "4097-extents": (
        lambda folder: (HEAD + "RW 1 ZERO\n" * 4097).encode(),
        "{image}: more than 4096 extents"),
    "a-100-MiB-line": (
        lambda folder: HEAD.encode() + b"ddb.comment = \"" + b"x" * (100 * MIB) + b"\"\n",
        "{image}: descriptor is larger than 1048576 bytes"),
    # Under the size cap, but no file has such a name.
    "a-1-MB-file-name": (
        lambda folder: HEAD.encode() + b'RW 8 FLAT "' + b"n" * 1000000 + b'" 0\n',
        "{image}: names a file of 1000000 bytes, more than 1023"),
    # Parsing stops at the first NUL, as embedded descriptors are padded.
    "nul-before-the-extents": (
        lambda folder: HEAD.encode() + b"\0" + b'RW 8 FLAT "d-flat.vmdk" 0\n',
        "{image}: descriptor names no extents"),
    "nul-in-a-file-name": (
        lambda folder: write_flat(folder) or HEAD.encode() + b'RW 8 FLAT "d-fl\0at.vmdk" 0\n',
        "{image}: line 6: extent names no file"),
    "all-nul": (
        lambda folder: bytes(4096),
        "{image}: not a VMDK descriptor"),
    "extent-of-no-sectors": (
        lambda folder: write_flat(folder) or (HEAD + 'RW 0 FLAT "d-flat.vmdk" 0\n').encode(),
        "{image}: line 6: extent of 0 sectors"),
    "extent-of-absurd-size": (
        lambda folder: (HEAD + "RW 18446744073709551615 ZERO\n").encode(),
        "{image}: line 6: extent of 18446744073709551615 sectors is too large"),
    "extent-size-past-20-digits": (
        lambda folder: (HEAD + "RW 184467440737095516150 ZERO\n").encode(),
        "{image}: line 6: extent size is not a number"),
    "extents-past-the-size-cap": (
        lambda folder: (HEAD + "RW 70368744177664 ZERO\n" * 2).encode(),
        "{image}: extents add up to more than 36028797018963968 bytes"),
    "flat-extent-past-its-file": (
        lambda folder: write_flat(folder) or (HEAD + 'RW 16 FLAT "d-flat.vmdk" 0\n').encode(),
        "{folder}/d-flat.vmdk: extent file holds 4096 bytes, but {image} needs 8192 from offset 0"),
    "flat-offset-past-its-file": (
        lambda folder: write_flat(folder) or (HEAD + 'RW 8 FLAT "d-flat.vmdk" 9\n').encode(),
        "{folder}/d-flat.vmdk: extent file holds 4096 bytes, but {image} needs 4096 from offset 4608"),
    "one-sparse-file-named-ten-times": (
        lambda folder: sparse_with_a_big_directory(folder) or
        (HEAD + 'RW 8 SPARSE "big.vmdk"\n' * 10).encode(),
        "{image}: the grain directories of its extents take more than 67108864 bytes"),
    "unknown-extent-type": (
        lambda folder: (HEAD + 'RW 8 TAPE "d-flat.vmdk"\n').encode(),
        "{image}: line 6: unknown extent type 'TAPE'"),
    "non-utf-8-missing-extent": (
        lambda folder: HEAD.encode() + b'RW 8 FLAT "d-\xff\xfe.vmdk" 0\n',
        "{image}: {folder}/d-\udcff\udcfe.vmdk: No such file or directory"),
    "extent-is-a-directory": (
        lambda folder: (folder / "sub").mkdir() or (HEAD + 'RW 8 FLAT "sub" 0\n').encode(),
        "{image}: extent file {folder}/sub is not a regular file"),
    # Opening a FIFO for reading would wait for a writer for ever.
    "extent-is-a-fifo": (
        lambda folder: os.mkfifo(folder / "fifo") or (HEAD + 'RW 8 FLAT "fifo" 0\n').encode(),
        "{image}: extent file {folder}/fifo is not a regular file"),
}


@pytest.mark.parametrize("case", sorted(DESCRIPTOR_CASES))
def test_descriptor(kvm_image, tmp_path, case):
    build, outcome = DESCRIPTOR_CASES[case]
    folder = tmp_path / "in"
    folder.mkdir()
    image = folder / "d.vmdk"
    image.write_bytes(build(folder))
    # stderr as bytes: names that are not UTF-8 come back as they are.
    expected = ("kvm-image: " + outcome.format(image=image, folder=folder) + "\n")
    before = digest(image)
    out = tmp_path / "out"
    out.mkdir()
    result = subprocess.run([str(kvm_image.path), "convert", "-f", "vmdk", image,
                             out / "out.qcow2"], capture_output=True)
    assert result.returncode == 1, result.stderr
    assert result.stderr == os.fsencode(expected)
    assert list(out.iterdir()) == [] and digest(image) == before


def test_non_utf_8_extent_name_reads(kvm_image, tmp_path):
    """File names are bytes: a name that is not UTF-8 opens and reads."""
    name = b"disk-\xff\xfe-flat.vmdk"
    write_flat(tmp_path, name)
    image = tmp_path / os.fsdecode(b"d\xe9j\xe0.vmdk")
    image.write_bytes(HEAD.encode() + b'RW 8 FLAT "' + name + b'" 0\n')
    out = tmp_path / "out.raw"
    result = subprocess.run([str(kvm_image.path), "convert", "-O", "raw", image, out],
                            capture_output=True)
    assert result.returncode == 0, result.stderr
    assert out.read_bytes() == b"\x5a" * 8 * SECTOR
    info = subprocess.run([str(kvm_image.path), "info", "--output=json", image],
                          capture_output=True)
    assert info.returncode == 0, info.stderr
    # Names are given back byte for byte, as the file system has them.
    data = json.loads(info.stdout.decode("utf-8", "surrogateescape"))
    assert data["filename"] == str(image)


# ---- Backing chains and loops ----

def qcow2_layer(folder, name, backing=None, fmt="qcow2"):
    args = ["qemu-img", "create", "-q", "-f", "qcow2", "-o", "cluster_size=64k"]
    if backing:
        args += ["-u", "-b", backing, "-F", fmt]
    result = run(args + [folder / name, "1M"])
    assert result.returncode == 0, result.stderr


def qcow2_chain(folder, length):
    """layer-0000.qcow2 <- ... <- layer-{length-1}.qcow2, written from one
    template whose backing name has the same length in every layer."""
    qcow2_layer(folder, "layer-0000.qcow2")
    qcow2_layer(folder, "template", "layer-XXXX.qcow2")
    template = (folder / "template").read_bytes()
    for i in range(1, length):
        data = template.replace(b"layer-XXXX", b"layer-%04d" % (i - 1))
        (folder / ("layer-%04d.qcow2" % i)).write_bytes(data)
    (folder / "template").unlink()
    return folder / ("layer-%04d.qcow2" % (length - 1))


def vmdk_chain(folder, length):
    """1,000 snapshot descriptors, each of one ZERO extent, CID i, parent
    i - 1."""
    for i in range(length):
        parent = f'parentFileNameHint="snap-{i - 1:04d}.vmdk"' if i else ""
        (folder / f"snap-{i:04d}.vmdk").write_text(descriptor(
            "vmfsSparse", ["RW 2048 ZERO"], cid=f"{i + 1:08x}",
            parent_cid=f"{i:08x}" if i else "ffffffff", extra=parent))
    return folder / f"snap-{length - 1:04d}.vmdk"


def test_a_chain_of_1000_qcow2_files_stops_at_64(kvm_image, tmp_path):
    require_program("qemu-img")
    top = qcow2_chain(tmp_path, 1000)
    assert_refused(kvm_image, top, tmp_path / "out",
                   f"{tmp_path}/layer-0935.qcow2: backing chain is deeper than 64 images")


def test_a_chain_of_1000_vmdk_snapshots_stops_at_64(kvm_image, tmp_path):
    top = vmdk_chain(tmp_path, 1000)
    assert_refused(kvm_image, top, tmp_path / "out",
                   f"{tmp_path}/snap-0935.vmdk: backing chain is deeper than 64 images")


def test_a_chain_of_64_reads(kvm_image, tmp_path):
    require_program("qemu-img")
    top = qcow2_chain(tmp_path, 65)
    assert_read(kvm_image, top, tmp_path / "out")


def loop_self(folder):
    qcow2_layer(folder, "a.qcow2", "a.qcow2")
    return folder / "a.qcow2", f"{folder}/a.qcow2"


def loop_of_three(folder):
    for me, backing in (("a", "b"), ("b", "c"), ("c", "a")):
        qcow2_layer(folder, f"{me}.qcow2", f"{backing}.qcow2")
    return folder / "a.qcow2", f"{folder}/a.qcow2"


def loop_through_a_symlink(folder):
    """The same file under another name is the same file."""
    os.symlink("a.qcow2", folder / "alias.qcow2")
    qcow2_layer(folder, "a.qcow2", "alias.qcow2")
    return folder / "a.qcow2", f"{folder}/alias.qcow2"


def loop_through_a_hard_link(folder):
    qcow2_layer(folder, "a.qcow2", "b.qcow2")
    os.link(folder / "a.qcow2", folder / "b.qcow2")
    return folder / "a.qcow2", f"{folder}/b.qcow2"


def loop_across_formats(folder):
    """qcow2 -> VMDK -> qcow2: the loop is found before any CID check."""
    qcow2_layer(folder, "a.qcow2", "b.vmdk", fmt="vmdk")
    (folder / "b.vmdk").write_text(descriptor(
        "vmfsSparse", ["RW 2048 ZERO"], parent_cid="00000001",
        extra='parentFileNameHint="a.qcow2"'))
    return folder / "a.qcow2", f"{folder}/a.qcow2"


@pytest.mark.parametrize("build", [loop_self, loop_of_three, loop_through_a_symlink,
                                   loop_through_a_hard_link, loop_across_formats],
                         ids=lambda f: f.__name__)
def test_backing_loop(kvm_image, tmp_path, build):
    require_program("qemu-img")
    folder = tmp_path / "in"
    folder.mkdir()
    top, looping = build(folder)
    assert_refused(kvm_image, top, tmp_path / "out",
                   f"{looping}: backing chain loops back to this file")


def test_backing_file_that_is_a_fifo(kvm_image, tmp_path):
    require_program("qemu-img")
    os.mkfifo(tmp_path / "fifo")
    qcow2_layer(tmp_path, "a.qcow2", "fifo", fmt="raw")
    assert_refused(kvm_image, tmp_path / "a.qcow2", tmp_path / "out",
                   f"{tmp_path}/fifo: not a regular file or block device")


# ---- Files that change size while they are read ----

TRUNCATED = r"kvm-image: {image}: truncated: \d+ bytes at offset 0x[0-9a-f]+ lie past the end of the file\n"


@pytest.fixture
def big_source(tmp_path):
    """32 MiB of data that does not compress, as raw and as qcow2."""
    require_program("qemu-img")
    raw = tmp_path / "src.raw"
    rng = random.Random(7)
    with open(raw, "wb") as f:
        for _ in range(32):
            f.write(rng.randbytes(MIB))
    qcow2 = tmp_path / "src.qcow2"
    result = run(["qemu-img", "convert", "-f", "raw", "-O", "qcow2", raw, qcow2])
    assert result.returncode == 0, result.stderr
    return {"raw": raw, "qcow2": qcow2}


def convert_paused(kvm_image, image, out_dir, while_paused):
    """Starts a conversion of IMAGE that strace holds for 2 s at its first
    write, runs WHILE_PAUSED as soon as the output file exists, and lets it
    finish.  By that write the worker has read at most its slots (4 of
    the 16 clusters), so the rest of the source is read after the change,
    however fast the conversion."""
    out_dir.mkdir()
    argv, env = under_strace([kvm_image.path, "convert", "-m", "1", *CONVERT_ARGS, image,
                              out_dir / "out.qcow2"], "pwrite64", "delay_enter=2000000:when=1")
    proc = subprocess.Popen(argv, stderr=subprocess.PIPE, text=True, env=env)
    deadline = time.monotonic() + 20
    while not any(out_dir.iterdir()) and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.001)
    assert proc.poll() is None, "the conversion ended before its first write"
    while_paused()
    _, stderr = proc.communicate(timeout=60)
    return proc.returncode, stderr


@pytest.mark.parametrize("fmt", ["raw", "qcow2"])
def test_source_that_shrinks_while_read(kvm_image, strace, big_source, tmp_path, fmt):
    image = big_source[fmt]
    code, stderr = convert_paused(kvm_image, image, tmp_path / "out",
                                  lambda: os.truncate(image, 64 * KIB))
    assert code == 1
    assert re.fullmatch(TRUNCATED.format(image=re.escape(str(image))), stderr), stderr
    assert list((tmp_path / "out").iterdir()) == []


def test_source_that_grows_while_read(kvm_image, strace, big_source, tmp_path):
    """What the file held when it was opened is the disk."""
    image = big_source["raw"]
    before = image.read_bytes()

    def grow():
        with open(image, "ab") as f:
            f.write(b"\x77" * MIB)

    code, stderr = convert_paused(kvm_image, image, tmp_path / "out", grow)
    assert code == 0, stderr
    raw = tmp_path / "back.raw"
    assert kvm_image("convert", "-O", "raw", tmp_path / "out" / "out.qcow2", raw).returncode == 0
    assert raw.read_bytes() == before


def test_source_whose_size_flaps_while_read(kvm_image, big_source, tmp_path):
    """A file cut and extended again and again under a conversion: the
    conversion completes or says the file was cut, and never leaves a
    partial output."""
    image = big_source["qcow2"]
    size = image.stat().st_size
    stop = threading.Event()

    def flap():
        while not stop.is_set():
            os.truncate(image, size // 3)
            os.truncate(image, size)

    thread = threading.Thread(target=flap)
    thread.start()
    try:
        out = tmp_path / "out"
        for _ in range(3):
            result = convert(kvm_image, image, out, "-m", "2")
            if result.returncode == 0:
                (out / "out.qcow2").unlink()
                continue
            # Cut while it was read ("truncated"), or when it was opened.
            assert result.returncode == 1
            assert result.stderr.startswith(f"kvm-image: {image}: ")
            assert result.stderr.endswith(" past the end of the file\n")
            assert result.stderr.count("\n") == 1
            assert list(out.iterdir()) == []
    finally:
        stop.set()
        thread.join()
