# SPDX-License-Identifier: GPL-2.0-or-later
"""The pattern disk the image tests convert, written by the test itself.

It holds what trips converters: data that is not the same in any two
sectors, runs of allocated zeros inside data, holes, data in the last
partial grain, and a size that is a whole number of sectors but not of
64 KiB grains or clusters.
"""
import pathlib

KIB = 1024
MIB = 1024 * KIB

# 16 MiB + 64 KiB + 1.5 KiB: not a multiple of any grain or cluster size.
SIZE = 16 * MIB + 64 * KIB + 3 * 512

# (offset, length, kind): "data" is a pattern, "zero" allocated zeros.
REGIONS = [
    (0, 64 * KIB, "data"),                 # a boot sector and more
    (64 * KIB, 64 * KIB, "zero"),
    (192 * KIB, 4 * KIB + 512, "data"),    # crosses no grain, ends mid-grain
    (1 * MIB, 2 * MIB, "data"),
    (1 * MIB + 512 * KIB, 256 * KIB, "zero"),  # zeros inside the data run
    (8 * MIB - 512, 1024, "data"),         # straddles a grain boundary
    (12 * MIB, 1 * MIB, "zero"),
    (SIZE - 2048, 2048, "data"),           # the last, partial grain
]


def sector_pattern(offset, length):
    """Bytes that differ from sector to sector, so misplaced data shows."""
    out = bytearray(length)
    for i in range(0, length, 512):
        sector = (offset + i) // 512
        stamp = f"sector {sector:012d} ".encode()
        chunk = (stamp * (512 // len(stamp) + 1))[:512]
        end = min(512, length - i)
        out[i:i + end] = chunk[:end]
    return bytes(out)


def write_pattern(path, size=SIZE, regions=REGIONS):
    """Writes the pattern disk as a sparse raw file and returns its path."""
    path = pathlib.Path(path)
    with open(path, "wb") as f:
        f.truncate(size)
        for offset, length, kind in regions:
            f.seek(offset)
            f.write(sector_pattern(offset, length) if kind == "data" else bytes(length))
    return path


def expected_bytes(size=SIZE, regions=REGIONS):
    """The content the pattern disk must read as, for direct comparison."""
    out = bytearray(size)
    for offset, length, kind in regions:
        out[offset:offset + length] = (sector_pattern(offset, length) if kind == "data"
                                       else bytes(length))
    return bytes(out)
