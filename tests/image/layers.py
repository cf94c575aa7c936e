# SPDX-License-Identifier: GPL-2.0-or-later
"""What one layer of a backing chain holds, as qemu-img and qemu-io see it:
shared by the convert -B and import --keep-chain tests."""
import json

from conftest import run


def own_clusters(image, cluster=64 << 10):
    """{cluster index: "zero" or "data"} of what IMAGE's own layer holds,
    as qemu-img map tells it (depth 0, present)."""
    result = run(["qemu-img", "map", "--output=json", image])
    assert result.returncode == 0, result.stderr
    held = {}
    for e in json.loads(result.stdout):
        if e["depth"] == 0 and e["present"]:
            for c in range(e["start"] // cluster, -(-(e["start"] + e["length"]) // cluster)):
                held[c] = "zero" if e["zero"] else "data"
    return held


def assert_reads_zeros(image, offset, length):
    """qemu-io reads LENGTH zero bytes at OFFSET of IMAGE, through its chain."""
    result = run(["qemu-io", "-r", "-c", f"read -P 0 {offset} {length}", image])
    assert result.returncode == 0 and "verification failed" not in result.stdout, \
        result.stdout + result.stderr
