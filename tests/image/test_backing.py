# SPDX-License-Identifier: GPL-2.0-or-later
"""kvm-image convert -B: a qcow2 layer over a backing file, as qemu-img
convert -B makes it, checked by qemu-img itself: the chain it sees, the
content it reads, the clusters each layer holds, its check; and backing
names that lead out of the output's folder or to nothing are refused."""
import json
import os
import random

import pytest

from conftest import require_program, run
from layers import assert_reads_zeros, own_clusters

MiB = 1 << 20
KiB = 1 << 10
SIZE = 24 * MiB + 3 * 512
# What the top layer does over the base: data in several chunks of the
# pipeline, a partial cluster, the very last bytes, and zeroes over the
# base's data, whole clusters and a part of one.
TOP_WRITES = [
    "write -P 0x22 1M 64k",
    "write -P 0x23 5M 300k",
    "write -P 0x24 9M 100k",
    "write -z 2M 128k",
    "write -z 3076k 8k",
    "write -P 0x25 13M 2M",
    f"write -P 0x26 {SIZE - 1536} 1536",
]
ZEROED_IN_TOP = ((2 * MiB, 128 * KiB), (3076 * KiB, 8 * KiB))


@pytest.fixture(autouse=True)
def tools():
    require_program("qemu-img")
    require_program("qemu-io")


def qemu_io(*args):
    result = run(["qemu-io", *args])
    assert result.returncode == 0 and "failed" not in result.stdout, result.stdout + result.stderr
    return result


@pytest.fixture(scope="module")
def chain(tmp_path_factory):
    """src/base.qcow2 <- src/top.qcow2, and out/b.qcow2, a copy of the
    base in the output folder for the layer to sit on."""
    root = tmp_path_factory.mktemp("backing")
    (root / "src").mkdir()
    (root / "out").mkdir()
    base, top = root / "src" / "base.qcow2", root / "src" / "top.qcow2"
    raw = root / "base.raw"
    rng = random.Random(20261128)
    with open(raw, "wb") as f:
        f.truncate(SIZE)
        for offset in range(0, 4 * MiB, 256 * KiB):
            f.seek(offset)
            f.write(rng.randbytes(192 * KiB))
    assert run(["qemu-img", "convert", "-f", "raw", "-O", "qcow2", raw, base]).returncode == 0
    raw.unlink()
    assert run(["qemu-img", "create", "-q", "-f", "qcow2", "-b", "base.qcow2", "-F", "qcow2",
                top]).returncode == 0
    qemu_io(*(a for w in TOP_WRITES for a in ("-c", w)), top)
    assert run(["cp", base, root / "out" / "b.qcow2"]).returncode == 0
    return root


def convert_layer(kvm_image, chain, name, *args):
    out = chain / "out" / name
    result = kvm_image("convert", "--no-progress", *args, "-B", "b.qcow2",
                       chain / "src" / "top.qcow2", out)
    assert result.returncode == 0, result.stderr
    return out


def test_layer_holds_only_the_top_and_reads_as_the_source(kvm_image, qemu_img, chain):
    out = convert_layer(kvm_image, chain, "layer.qcow2")
    info = json.loads(qemu_img("info", "--backing-chain", "--output=json", out).stdout)
    assert len(info) == 2
    assert info[0]["backing-filename"] == "b.qcow2"
    assert info[0]["backing-filename-format"] == "qcow2"
    assert info[1]["filename"] == str(chain / "out" / "b.qcow2")
    check = qemu_img("check", out)
    assert check.returncode == 0, check.stdout + check.stderr
    compare = qemu_img("compare", chain / "src" / "top.qcow2", out)
    assert compare.returncode == 0, compare.stdout + compare.stderr

    held = own_clusters(out)
    assert held == own_clusters(chain / "src" / "top.qcow2")
    assert held[2 * MiB // (64 * KiB)] == "zero" and held[MiB // (64 * KiB)] == "data"
    for offset, length in ZEROED_IN_TOP:
        assert_reads_zeros(out, offset, length)
    # The base's data the top did not touch still shows through.
    assert 0 not in held
    # kvm-image reads it back without --allow-external-files.
    assert kvm_image("compare", chain / "src" / "top.qcow2", out).returncode == 0
    ours = json.loads(kvm_image("info", "--backing-chain", "--output=json", out).stdout)
    assert [i.get("backing-filename") for i in ours] == ["b.qcow2", None]


@pytest.mark.parametrize("extra", [[], ["-c"]], ids=["plain", "compressed"])
def test_layer_is_the_same_whatever_the_threads(kvm_image, qemu_img, chain, extra):
    outputs = [convert_layer(kvm_image, chain, f"m{n}{''.join(extra)}.qcow2", "-m", str(n),
                             *extra).read_bytes() for n in (1, 2, 8)]
    assert outputs[0] == outputs[1] == outputs[2]
    last = chain / "out" / f"m8{''.join(extra)}.qcow2"
    assert qemu_img("check", last).returncode == 0
    assert qemu_img("compare", chain / "src" / "top.qcow2", last).returncode == 0


@pytest.mark.parametrize("backing, message", [
    ("missing.qcow2", "No such file or directory"),
    ("../src/base.qcow2", "'..' leads out of"),
    ("ABSOLUTE", "absolute path not allowed"),
    ("link.qcow2", "symlink leads out of"),
    ("", "empty file name"),
])
def test_backing_outside_or_missing_is_refused(kvm_image, chain, backing, message):
    out_dir = chain / "out"
    if backing == "ABSOLUTE":
        backing = str(chain / "src" / "base.qcow2")
    if backing == "link.qcow2" and not (out_dir / backing).is_symlink():
        os.symlink(chain / "src" / "base.qcow2", out_dir / backing)
    before = sorted(os.listdir(out_dir))
    result = kvm_image("convert", "-B", backing, chain / "src" / "top.qcow2", out_dir / "x.qcow2")
    assert result.returncode == 1
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"kvm-image: {out_dir / 'x.qcow2'}: backing file")
    assert message in lines[0]
    assert sorted(os.listdir(out_dir)) == before


@pytest.mark.parametrize("args, message", [
    (["-O", "vmdk"], "format vmdk cannot have a backing file"),
    (["-o", "preallocation=metadata"], "cannot be combined with a backing file"),
    (["-o", "cluster_size=512"], "does not fit in the header cluster"),
])
def test_impossible_layers_are_refused(kvm_image, chain, args, message):
    out_dir = chain / "out"
    backing = "b.qcow2"
    if "cluster_size=512" in args:
        # 400 bytes of name: more than a 512-byte header cluster has room for.
        backing = "d" * 200 + "/" + "d" * 190 + "/b.qcow2"
        if not (out_dir / backing).exists():
            (out_dir / backing).parent.mkdir(parents=True)
            os.link(out_dir / "b.qcow2", out_dir / backing)
    before = sorted(os.listdir(out_dir))
    result = kvm_image("convert", *args, "-B", backing, chain / "src" / "top.qcow2",
                       out_dir / "y.img")
    assert result.returncode == 1 and message in result.stderr, result.stderr
    assert len(result.stderr.splitlines()) == 1
    assert sorted(os.listdir(out_dir)) == before


def test_layer_cannot_be_its_own_backing(kvm_image, chain):
    out = convert_layer(kvm_image, chain, "self.qcow2")
    before = out.read_bytes()
    result = kvm_image("convert", "--force", "-B", "self.qcow2", chain / "src" / "top.qcow2", out)
    assert result.returncode == 1 and "cannot be its own backing file" in result.stderr
    assert out.read_bytes() == before
