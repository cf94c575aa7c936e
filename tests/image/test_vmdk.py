# SPDX-License-Identifier: GPL-2.0-or-later
"""The VMDK driver: every subformat qemu-img writes, the ones only VMware
writes (built here by hand from the specification), snapshot chains,
our own output checked by qemu-img, libvmdk and a structural parser, and
hostile images that must be refused with a precise message and nothing
written.
"""
import os
import shutil
import struct
import subprocess
import time
import zlib

import pytest

from conftest import require_program, run
from pattern import SIZE, expected_bytes, write_pattern

SECTOR = 512
GRAIN = 64 * 1024
QEMU_SUBFORMATS = ["monolithicSparse", "monolithicFlat", "twoGbMaxExtentSparse",
                   "twoGbMaxExtentFlat", "streamOptimized"]
WRITE_SUBFORMATS = ["monolithicSparse", "monolithicFlat", "streamOptimized"]


@pytest.fixture(scope="module")
def pattern(tmp_path_factory):
    return write_pattern(tmp_path_factory.mktemp("pattern") / "pattern.raw")


@pytest.fixture(scope="module")
def expected():
    return expected_bytes()


def ok(result):
    assert result.returncode == 0, result.stderr
    return result


def same_as(qemu_img, a, b, fmt_a="raw", fmt_b="raw"):
    r = qemu_img("compare", "-f", fmt_a, "-F", fmt_b, a, b)
    assert r.returncode == 0, r.stdout + r.stderr


def read_raw(kvm_image, src, dest):
    ok(kvm_image("convert", src, dest, "-O", "raw"))
    return dest.read_bytes()


def padded(data, size):
    return data + bytes(size - len(data))


# ---- Images qemu-img makes ----

@pytest.mark.parametrize("subformat", QEMU_SUBFORMATS + ["compat6"])
def test_reads_qemu_img_output(kvm_image, qemu_img, pattern, tmp_path, subformat):
    options = "compat6=on" if subformat == "compat6" else f"subformat={subformat}"
    src = tmp_path / "disk.vmdk"
    ok(qemu_img("convert", "-f", "raw", "-O", "vmdk", "-o", options, pattern, src))
    out = tmp_path / "disk.raw"
    ok(kvm_image("convert", src, out, "-O", "raw"))
    same_as(qemu_img, pattern, out)


@pytest.mark.parametrize("subformat", QEMU_SUBFORMATS)
@pytest.mark.parametrize("out_subformat", WRITE_SUBFORMATS)
def test_vmdk_to_vmdk(kvm_image, qemu_img, pattern, tmp_path, subformat, out_subformat):
    src = tmp_path / "src" / "disk.vmdk"
    src.parent.mkdir()
    ok(qemu_img("convert", "-f", "raw", "-O", "vmdk", "-o", f"subformat={subformat}",
                pattern, src))
    out = tmp_path / "out" / "disk.vmdk"
    out.parent.mkdir()
    ok(kvm_image("convert", src, out, "-O", "vmdk", "-o", f"subformat={out_subformat}"))
    same_as(qemu_img, pattern, out, "raw", "vmdk")


def vmdkinfo_reads(path):
    if shutil.which("vmdkinfo") is None:
        print("vmdkinfo is not installed (libvmdk-utils): skipping the libvmdk check")
        return
    r = run(["vmdkinfo", path])
    assert r.returncode == 0, r.stdout + r.stderr
    assert "Media size" in r.stdout


def vmdkmount_content(path, mountpoint):
    """The disk as libvmdk reads it, or None when FUSE cannot be used here."""
    if shutil.which("vmdkmount") is None or not os.path.exists("/dev/fuse"):
        print("vmdkmount or /dev/fuse is missing: skipping the libvmdk read check")
        return None
    mountpoint.mkdir()
    # libvmdk finds extent files relative to the current folder.
    proc = subprocess.Popen(["vmdkmount", str(path), str(mountpoint)], cwd=path.parent,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        for _ in range(100):
            if (mountpoint / "vmdk1").exists():
                return (mountpoint / "vmdk1").read_bytes()
            if proc.poll() is not None:
                break
            time.sleep(0.1)
        # libvmdk 20200926 mounts no monolithicFlat disk ("Unsupported disk
        # type"), whoever wrote it.
        reason = proc.stderr.read().strip() if proc.poll() is not None else "timed out"
        print(f"vmdkmount did not mount ({reason}): skipping the libvmdk read check")
        return None
    finally:
        for unmount in (["fusermount3", "-u"], ["fusermount", "-u"], ["umount"]):
            if shutil.which(unmount[0]):
                subprocess.run(unmount + [str(mountpoint)], capture_output=True)
                break
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()


@pytest.mark.parametrize("subformat", WRITE_SUBFORMATS)
def test_writes_what_qemu_and_libvmdk_read(kvm_image, qemu_img, pattern, expected, tmp_path,
                                           subformat):
    out = tmp_path / "disk.vmdk"
    ok(kvm_image("convert", "-f", "raw", pattern, out, "-O", "vmdk", "-o",
                 f"subformat={subformat}"))
    same_as(qemu_img, pattern, out, "raw", "vmdk")
    check = qemu_img("check", "-f", "vmdk", out)
    assert check.returncode == 0, check.stdout + check.stderr
    vmdkinfo_reads(out)
    content = vmdkmount_content(out, tmp_path / "mnt")
    if content is not None:
        assert padded(expected, len(content)) == content


@pytest.mark.parametrize("subformat", WRITE_SUBFORMATS)
def test_output_is_deterministic(kvm_image, pattern, tmp_path, subformat):
    digests = []
    for name in ("a", "b"):
        folder = tmp_path / name
        folder.mkdir()
        ok(kvm_image("convert", "-f", "raw", pattern, folder / "disk.vmdk", "-O", "vmdk",
                     "-o", f"subformat={subformat}"))
        digests.append({p.name: p.read_bytes() for p in folder.iterdir()})
    assert digests[0] == digests[1]


def test_compressed_needs_stream_optimized(kvm_image, pattern, tmp_path):
    r = kvm_image("convert", "-c", "-f", "raw", pattern, tmp_path / "d.vmdk", "-O", "vmdk")
    assert r.returncode != 0
    assert "use subformat=streamOptimized" in r.stderr
    assert not list(tmp_path.iterdir())


def test_measure(kvm_image, pattern, tmp_path):
    for subformat in WRITE_SUBFORMATS:
        r = ok(kvm_image("measure", "-O", "vmdk", "-o", f"subformat={subformat}", pattern))
        required = int(r.stdout.split("required size:")[1].split()[0])
        folder = tmp_path / subformat
        folder.mkdir()
        ok(kvm_image("convert", "-f", "raw", pattern, folder / "d.vmdk", "-O", "vmdk", "-o",
                     f"subformat={subformat}"))
        written = sum(p.stat().st_size for p in folder.iterdir())
        assert written <= required, subformat


# ---- The stream-optimized layout ESXi wants in an OVA ----

def parse_header(sector):
    fields = struct.unpack_from("<4sIIQQQQIQQQ?cccc H", sector)
    names = ["magic", "version", "flags", "capacity", "grain", "desc_offset", "desc_size",
             "gtes", "rgd", "gd", "overhead", "unclean", "nl1", "nl2", "nl3", "nl4", "algo"]
    return dict(zip(names, fields))


def test_stream_optimized_layout(kvm_image, pattern, expected, tmp_path):
    out = tmp_path / "disk.vmdk"
    ok(kvm_image("convert", "-f", "raw", pattern, out, "-O", "vmdk", "-o",
                 "subformat=streamOptimized"))
    data = out.read_bytes()
    assert len(data) % SECTOR == 0
    header = parse_header(data[:SECTOR])
    assert header["magic"] == b"KDMV"
    assert header["version"] == 3
    assert header["flags"] & 1 and header["flags"] & (1 << 16) and header["flags"] & (1 << 17)
    assert header["gd"] == 0xffffffffffffffff
    assert header["algo"] == 1
    assert (header["nl1"], header["nl2"], header["nl3"], header["nl4"]) == \
        (b"\n", b" ", b"\r", b"\n")
    assert header["grain"] == 128 and header["gtes"] == 512
    assert header["capacity"] == (SIZE + SECTOR - 1) // SECTOR

    desc = data[header["desc_offset"] * SECTOR:
                (header["desc_offset"] + header["desc_size"]) * SECTOR].rstrip(b"\0").decode()
    assert 'createType="streamOptimized"' in desc
    assert 'ddb.adapterType = "lsilogic"' in desc
    assert 'ddb.virtualHWVersion = "4"' in desc
    cylinders = header["capacity"] // (255 * 63)
    assert f'ddb.geometry.cylinders = "{cylinders}"' in desc
    assert 'ddb.geometry.heads = "255"' in desc
    assert 'ddb.geometry.sectors = "63"' in desc

    # Walk the stream from the first grain to the end-of-stream marker.
    pos = header["overhead"] * SECTOR
    disk = bytearray(header["capacity"] * SECTOR)
    tables, gd_at, footer_seen = [], None, False
    while True:
        lba, size = struct.unpack_from("<QI", data, pos)
        if size:
            grain = zlib.decompress(data[pos + 12:pos + 12 + size])
            disk[lba * SECTOR:lba * SECTOR + len(grain)] = grain
            pos += (12 + size + SECTOR - 1) // SECTOR * SECTOR
            continue
        kind = struct.unpack_from("<I", data, pos + 12)[0]
        assert data[pos + 16:pos + SECTOR] == bytes(SECTOR - 16)
        if kind == 0:
            assert lba == 0 and pos + SECTOR == len(data)
            break
        if kind == 1:
            assert lba == 4
            tables.append(pos // SECTOR + 1)
        elif kind == 2:
            gd_at = pos // SECTOR + 1
        elif kind == 3:
            assert lba == 1
            footer = parse_header(data[pos + SECTOR:pos + 2 * SECTOR])
            assert footer["gd"] == gd_at
            assert {k: v for k, v in footer.items() if k != "gd"} == \
                {k: v for k, v in header.items() if k != "gd"}
            footer_seen = True
        pos += (1 + lba) * SECTOR
    assert footer_seen and tables and gd_at
    assert bytes(disk[:len(expected)]) == expected
    # The directory points at the tables written behind GT markers.
    n_tables = -(-header["capacity"] // (128 * 512))
    directory = struct.unpack_from(f"<{n_tables}I", data, gd_at * SECTOR)
    assert sorted(d for d in directory if d) == tables


def test_info(kvm_image, qemu_img, pattern, tmp_path):
    import json
    src = tmp_path / "disk.vmdk"
    ok(qemu_img("convert", "-f", "raw", "-O", "vmdk", "-o",
                "subformat=twoGbMaxExtentSparse,adapter_type=lsilogic", pattern, src))
    info = json.loads(ok(kvm_image("info", src, "--output=json")).stdout)
    assert info["format"] == "vmdk"
    assert info["virtual-size"] == SIZE
    assert info["cluster-size"] == GRAIN
    data = info["format-specific"]["data"]
    assert data["create-type"] == "twoGbMaxExtentSparse"
    assert data["adapter-type"] == "lsilogic"
    assert data["parent-cid"] == 0xffffffff
    assert data["ddb"]["ddb.adapterType"] == "lsilogic"
    [extent] = data["extents"]
    assert extent["format"] == "SPARSE" and extent["access"] == "RW"
    assert extent["virtual-size"] == SIZE and extent["grain-size"] == GRAIN


# ---- Hand-built images: what only VMware makes ----

def descriptor(create_type, extents, cid="12345678", parent_cid="ffffffff", extra="",
               newline="\n"):
    lines = ["# Disk DescriptorFile", "version=1", f"CID={cid}", f"parentCID={parent_cid}",
             f'createType="{create_type}"', extra, "", "# Extent description", *extents, "",
             "# The Disk Data Base", "#DDB", 'ddb.adapterType = "lsilogic"']
    return newline.join(lines) + newline


def flat_copy(expected, path):
    path.write_bytes(padded(expected, -(-len(expected) // SECTOR) * SECTOR))
    return len(path.read_bytes()) // SECTOR


@pytest.mark.parametrize("create_type", ["vmfs", "vmfsThin", "vmfsEagerZeroedThick"])
def test_esxi_flat(kvm_image, expected, tmp_path, create_type):
    sectors = flat_copy(expected, tmp_path / "vm-flat.vmdk")
    (tmp_path / "vm.vmdk").write_text(
        descriptor(create_type, [f'RW {sectors} VMFS "vm-flat.vmdk"']))
    got = read_raw(kvm_image, tmp_path / "vm.vmdk", tmp_path / "out.raw")
    assert got == padded(expected, sectors * SECTOR)


def make_cowd(path, capacity, grain_sectors, grains):
    """A vmfsSparse ("COWD", version 1) file: 2 KiB header, the grain
    directory at sector 4, every grain table (4096 entries), the grains."""
    per_gt = 4096 * grain_sectors
    n_gd = -(-capacity // per_gt)
    gd_sectors = -(-n_gd * 4 // SECTOR)
    gt_start = 4 + gd_sectors
    data_start = gt_start + n_gd * 32
    tables = [[0] * 4096 for _ in range(n_gd)]
    body = bytearray()
    for index, content in sorted(grains.items()):
        assert len(content) == grain_sectors * SECTOR
        tables[index // 4096][index % 4096] = data_start + len(body) // SECTOR
        body += content
    header = b"COWD" + struct.pack("<IIIIIII", 1, 3, capacity, grain_sectors, 4, n_gd,
                                   data_start + len(body) // SECTOR)
    out = bytearray(header.ljust(2048, b"\0"))
    out += b"".join(struct.pack("<I", gt_start + i * 32) for i in range(n_gd)).ljust(
        gd_sectors * SECTOR, b"\0")
    for table in tables:
        out += struct.pack("<4096I", *table)
    out += body
    path.write_bytes(out)


def test_vmfs_sparse_delta(kvm_image, expected, tmp_path):
    sectors = flat_copy(expected, tmp_path / "base-flat.vmdk")
    (tmp_path / "base.vmdk").write_text(
        descriptor("vmfs", [f'RW {sectors} VMFS "base-flat.vmdk"'], cid="0badcafe"))
    grain_sectors = 8
    changed = {0: b"\x11" * 4096, 300: b"\x22" * 4096, sectors // grain_sectors - 1: b"\x33" * 4096}
    make_cowd(tmp_path / "snap-delta.vmdk", sectors, grain_sectors, changed)
    (tmp_path / "snap.vmdk").write_text(descriptor(
        "vmfsSparse", [f'RW {sectors} VMFSSPARSE "snap-delta.vmdk"'], cid="fee1dead",
        parent_cid="0badcafe", extra='parentFileNameHint="base.vmdk"'))
    want = bytearray(padded(expected, sectors * SECTOR))
    for index, content in changed.items():
        want[index * 4096:(index + 1) * 4096] = content
    assert read_raw(kvm_image, tmp_path / "snap.vmdk", tmp_path / "out.raw") == bytes(want)


def make_sesparse(path, capacity, grains, zeros=()):
    """A seSparse file (ESXi 6.5+): constant and volatile headers, one
    grain directory sector, grain tables of 4096 8-byte entries, 4 KiB
    grains."""
    n_gt = -(-capacity // (4096 * 8))
    gd_sectors = max(1, -(-n_gt * 8 // SECTOR))
    gd_at, gt_at = 2, 2 + gd_sectors
    grains_at = gt_at + n_gt * 64
    tables = [[0] * 4096 for _ in range(n_gt)]
    body = bytearray()
    for index, content in sorted(grains.items()):
        cluster = len(body) // 4096
        entry = (3 << 60) | ((cluster & 0xfff) << 48) | (cluster >> 12)
        tables[index // 4096][index % 4096] = entry
        body += content
    for index in zeros:
        tables[index // 4096][index % 4096] = 2 << 60
    const = struct.pack("<26Q", 0xcafebabe, 0x200000001, capacity, 8, 64, 0, 0, 0, 0, 0,
                        1, 1, 0, 0, 0, 0, gd_at, gd_sectors, gt_at, n_gt * 64, 0, 0, 0, 0,
                        grains_at, len(body) // SECTOR)
    volatile = struct.pack("<4Q", 0xcafecafe, n_gt, 1, 0)
    out = bytearray(const.ljust(SECTOR, b"\0") + volatile.ljust(SECTOR, b"\0"))
    out += b"".join(struct.pack("<Q", (1 << 60) | i) for i in range(n_gt)).ljust(
        gd_sectors * SECTOR, b"\0")
    for table in tables:
        out += struct.pack("<4096Q", *table)
    out += body
    path.write_bytes(out)


def test_sesparse_snapshot(kvm_image, expected, tmp_path):
    sectors = flat_copy(expected, tmp_path / "base-flat.vmdk")
    (tmp_path / "base.vmdk").write_text(
        descriptor("vmfs", [f'RW {sectors} VMFS "base-flat.vmdk"'], cid="00000001"))
    changed = {1: b"\x44" * 4096, 4100: b"\x55" * 4096}
    make_sesparse(tmp_path / "snap-sesparse.vmdk", sectors, changed, zeros=[2])
    (tmp_path / "snap.vmdk").write_text(descriptor(
        "seSparse", [f'RW {sectors} SESPARSE "snap-sesparse.vmdk"'], cid="00000002",
        parent_cid="00000001", extra='parentFileNameHint="base.vmdk"'))
    want = bytearray(padded(expected, sectors * SECTOR))
    for index, content in changed.items():
        want[index * 4096:(index + 1) * 4096] = content
    want[2 * 4096:3 * 4096] = bytes(4096)
    assert read_raw(kvm_image, tmp_path / "snap.vmdk", tmp_path / "out.raw") == bytes(want)


def test_zero_extents_count_in_size(kvm_image, expected, tmp_path):
    sectors = flat_copy(expected, tmp_path / "d-flat.vmdk")
    half = sectors // 2
    (tmp_path / "d.vmdk").write_text(descriptor("monolithicFlat", [
        f'RW {half} FLAT "d-flat.vmdk" 0',
        "RW 2048 ZERO",
        f'RW {sectors - half} FLAT "d-flat.vmdk" {half}',
        "RW 100 ZERO"]))
    flat = padded(expected, sectors * SECTOR)
    want = flat[:half * SECTOR] + bytes(2048 * SECTOR) + flat[half * SECTOR:] + bytes(100 * SECTOR)
    info = ok(kvm_image("info", tmp_path / "d.vmdk"))
    assert str(len(want)) in info.stdout
    assert read_raw(kvm_image, tmp_path / "d.vmdk", tmp_path / "out.raw") == want


def test_rdonly_only_descriptor(kvm_image, qemu_img, pattern, tmp_path):
    ok(qemu_img("convert", "-f", "raw", "-O", "vmdk", "-o", "subformat=twoGbMaxExtentSparse",
                pattern, tmp_path / "d.vmdk"))
    text = (tmp_path / "d.vmdk").read_text().replace("\nRW ", "\nRDONLY ")
    (tmp_path / "d.vmdk").write_text(text)
    ok(kvm_image("convert", tmp_path / "d.vmdk", tmp_path / "out.raw", "-O", "raw"))
    same_as(qemu_img, pattern, tmp_path / "out.raw")


def test_noaccess_extent_reads_zeros(kvm_image, expected, tmp_path):
    sectors = flat_copy(expected, tmp_path / "d-flat.vmdk")
    (tmp_path / "d.vmdk").write_text(descriptor("monolithicFlat", [
        f'RW {sectors} FLAT "d-flat.vmdk" 0',
        'NOACCESS 4096 FLAT "missing-flat.vmdk" 0']))
    want = padded(expected, sectors * SECTOR) + bytes(4096 * SECTOR)
    assert read_raw(kvm_image, tmp_path / "d.vmdk", tmp_path / "out.raw") == want


def test_descriptor_crlf_comments_and_case(kvm_image, expected, tmp_path):
    sectors = flat_copy(expected, tmp_path / "d-flat.vmdk")
    text = ("# Disk DescriptorFile\r\n"
            "# written by hand\r\n"
            "VERSION=1\r\n"
            "cid = 0000abcd\r\n"
            "ParentCid=FFFFFFFF\r\n"
            "  CREATETYPE = monolithicFlat   \r\n"
            "\r\n"
            "# Extent description\r\n"
            f"rw {sectors} flat d-flat.vmdk 0\r\n"
            "\r\n"
            "DDB.AdapterType = buslogic\r\n")
    (tmp_path / "d.vmdk").write_text(text, newline="")
    assert read_raw(kvm_image, tmp_path / "d.vmdk", tmp_path / "out.raw") == \
        padded(expected, sectors * SECTOR)
    import json
    data = json.loads(ok(kvm_image("info", "--output=json", tmp_path / "d.vmdk")).stdout)
    data = data["format-specific"]["data"]
    assert data["cid"] == 0xabcd and data["adapter-type"] == "buslogic"
    assert data["create-type"] == "monolithicFlat"


def test_embedded_and_separate_descriptor(kvm_image, qemu_img, pattern, tmp_path):
    """monolithicSparse embeds its descriptor; a separate descriptor can
    name the same sparse file as an extent, even under another name."""
    ok(qemu_img("convert", "-f", "raw", "-O", "vmdk", pattern, tmp_path / "inner.vmdk"))
    sectors = -(-SIZE // SECTOR)
    (tmp_path / "outer.vmdk").write_text(
        descriptor("monolithicSparse", [f'RW {sectors} SPARSE "inner.vmdk"']))
    for name in ("inner.vmdk", "outer.vmdk"):
        out = tmp_path / f"{name}.raw"
        ok(kvm_image("convert", tmp_path / name, out, "-O", "raw"))
        same_as(qemu_img, pattern, out)


def make_chain(qemu_img, folder, layers=3):
    """base <- mid <- top, each written before its child is made, since a
    write gives a layer a new CID."""
    names = ["base.vmdk", "mid.vmdk", "top.vmdk"][:layers]
    writes = [("0x11", 0, 4 * GRAIN), ("0x22", GRAIN, 64 * 1024), ("0x33", 3 * GRAIN + 512, 4096)]
    for i, name in enumerate(names):
        args = ["create", "-f", "vmdk"]
        if i:
            args += ["-b", names[i - 1], "-F", "vmdk"]
        ok(qemu_img(*args, folder / name, str(8 * 1024 * 1024)))
        byte, offset, length = writes[i]
        ok(run(["qemu-io", "-f", "vmdk", "-c", f"write -P {byte} {offset} {length}",
                folder / name]))
    want = bytearray(8 * 1024 * 1024)
    for byte, offset, length in writes[:layers]:
        want[offset:offset + length] = bytes([int(byte, 16)]) * length
    return folder / names[-1], bytes(want)


def test_snapshot_chain(kvm_image, qemu_img, tmp_path):
    require_program("qemu-io")
    top, want = make_chain(qemu_img, tmp_path)
    assert read_raw(kvm_image, top, tmp_path / "out.raw") == want
    info = ok(kvm_image("info", "--backing-chain", top))
    assert "mid.vmdk" in info.stdout and "base.vmdk" in info.stdout


def set_parent_cid(path, cid):
    """Rewrites the parentCID value of an embedded descriptor.  QEMU writes
    CIDs without leading zeros, so the new value may be longer; the
    descriptor's NUL padding gives up the difference, keeping every offset."""
    data = path.read_bytes()
    start = data.index(b"parentCID=") + len(b"parentCID=")
    end = data.index(b"\n", start)
    grown = len(cid) - (end - start)
    padding = data.index(b"\0" * max(grown, 1), end)
    data = data[:start] + cid.encode() + data[end:padding] + data[padding + max(grown, 0):]
    if grown < 0:
        data = data[:padding + grown] + b"\0" * -grown + data[padding + grown:]
    path.write_bytes(data)


def test_cid_mismatch(kvm_image, qemu_img, tmp_path):
    require_program("qemu-io")
    top, _ = make_chain(qemu_img, tmp_path, layers=2)
    set_parent_cid(top, "deadbeef")
    (tmp_path / "out").mkdir()
    r = kvm_image("convert", top, tmp_path / "out" / "x.raw", "-O", "raw")
    assert r.returncode != 0
    assert f"{top}: parentCID 0xdeadbeef does not match the CID 0x" in r.stderr
    assert "mid.vmdk" in r.stderr or "base.vmdk" in r.stderr
    assert not list((tmp_path / "out").iterdir())


def test_check(kvm_image, qemu_img, pattern, tmp_path):
    ok(qemu_img("convert", "-f", "raw", "-O", "vmdk", pattern, tmp_path / "d.vmdk"))
    ok(kvm_image("check", tmp_path / "d.vmdk"))
    corrupt_first_gte(tmp_path / "d.vmdk", 0x7fffff00)
    r = kvm_image("check", tmp_path / "d.vmdk")
    assert r.returncode == 2, r.stdout + r.stderr
    sectors = flat_copy(b"\1" * 4096, tmp_path / "f-flat.vmdk")
    (tmp_path / "f.vmdk").write_text(descriptor("monolithicFlat", [f'RW {sectors} FLAT "f-flat.vmdk" 0']))
    assert kvm_image("check", tmp_path / "f.vmdk").returncode == 63


# ---- Hostile images ----

def sparse_header(path):
    return parse_header(path.read_bytes()[:SECTOR])


def first_gt_offset(path):
    header = sparse_header(path)
    data = path.read_bytes()
    return struct.unpack_from("<I", data, header["gd"] * SECTOR)[0] * SECTOR


def corrupt_first_gte(path, value):
    data = bytearray(path.read_bytes())
    struct.pack_into("<I", data, first_gt_offset(path), value)
    path.write_bytes(bytes(data))


def hostile_extent(name):
    def build(folder, qemu_img, pattern):
        (folder / "d.vmdk").write_text(descriptor("monolithicFlat", [f'RW 8 FLAT "{name}" 0']))
        return folder / "d.vmdk"
    return build


def hostile_symlink(folder, qemu_img, pattern):
    os.symlink("/etc/hostname", folder / "link-flat.vmdk")
    return hostile_extent("link-flat.vmdk")(folder, qemu_img, pattern)


def hostile_parent(hint):
    def build(folder, qemu_img, pattern):
        make_cowd(folder / "d-delta.vmdk", 2048, 8, {})
        (folder / "d.vmdk").write_text(descriptor(
            "vmfsSparse", ['RW 2048 VMFSSPARSE "d-delta.vmdk"'], parent_cid="12345678",
            extra=f'parentFileNameHint="{hint}"'))
        return folder / "d.vmdk"
    return build


def hostile_loop(folder, qemu_img, pattern):
    sectors = 2048
    for me, other in (("a", "b"), ("b", "a")):
        make_cowd(folder / f"{me}-delta.vmdk", sectors, 8, {})
        (folder / f"{me}.vmdk").write_text(descriptor(
            "vmfsSparse", [f'RW {sectors} VMFSSPARSE "{me}-delta.vmdk"'], cid="00000001",
            parent_cid="00000001", extra=f'parentFileNameHint="{other}.vmdk"'))
    return folder / "a.vmdk"


def qemu_sparse(folder, qemu_img, pattern, subformat="monolithicSparse"):
    ok(qemu_img("convert", "-f", "raw", "-O", "vmdk", "-o", f"subformat={subformat}", pattern,
                folder / "d.vmdk"))
    return folder / "d.vmdk"


def hostile_truncated(folder, qemu_img, pattern):
    path = qemu_sparse(folder, qemu_img, pattern)
    os.truncate(path, path.stat().st_size // 2)
    return path


def hostile_gd_past_eof(folder, qemu_img, pattern):
    path = qemu_sparse(folder, qemu_img, pattern)
    data = bytearray(path.read_bytes())
    struct.pack_into("<Q", data, 56, 0x100000)
    path.write_bytes(bytes(data))
    return path


def hostile_gte_past_eof(folder, qemu_img, pattern):
    path = qemu_sparse(folder, qemu_img, pattern)
    corrupt_first_gte(path, 0x7fffff00)
    return path


def hostile_bad_grain(folder, qemu_img, pattern):
    path = qemu_sparse(folder, qemu_img, pattern, "streamOptimized")
    data = bytearray(path.read_bytes())
    grain = struct.unpack_from("<I", data, first_gt_offset(path))[0] * SECTOR
    size = struct.unpack_from("<I", data, grain + 8)[0]
    data[grain + 12:grain + 12 + size] = bytes(reversed(data[grain + 12:grain + 12 + size]))
    path.write_bytes(bytes(data))
    return path


def hostile_capacity(folder, qemu_img, pattern):
    path = qemu_sparse(folder, qemu_img, pattern)
    data = bytearray(path.read_bytes())
    struct.pack_into("<Q", data, 12, 1 << 62)
    path.write_bytes(bytes(data))
    return path


def hostile_big_descriptor(folder, qemu_img, pattern):
    path = folder / "d.vmdk"
    path.write_text(descriptor("monolithicFlat", ['RW 8 FLAT "x-flat.vmdk" 0'])
                    + "# padding\n" * 200000)
    return path


def hostile_many_extents(folder, qemu_img, pattern):
    flat_copy(bytes(SECTOR), folder / "x-flat.vmdk")
    path = folder / "d.vmdk"
    path.write_text(descriptor("monolithicFlat", ['RW 1 FLAT "x-flat.vmdk" 0'] * 5000))
    return path


HOSTILE = {
    "absolute-extent": (hostile_extent("/etc/hostname"), "/etc/hostname: absolute path not allowed"),
    "dotdot-extent": (hostile_extent("../outside-flat.vmdk"), "'..' leads out of"),
    "symlink-extent": (hostile_symlink, "link-flat.vmdk: symlink leads out of"),
    "absolute-parent": (hostile_parent("/etc/hostname"), "/etc/hostname: absolute path not allowed"),
    "parent-loop": (hostile_loop, "backing chain loops back to this file"),
    "truncated": (hostile_truncated, "is past the end of the file"),
    "gd-past-eof": (hostile_gd_past_eof, "grain directory at sector 1048576 is past the end of the file"),
    "gte-past-eof": (hostile_gte_past_eof, "grain at guest offset 0x0 is past the end of the file"),
    "bad-grain": (hostile_bad_grain, "grain at guest offset 0x0 does not decompress"),
    "capacity": (hostile_capacity, "capacity of 4611686018427387904 sectors is absurd"),
    "big-descriptor": (hostile_big_descriptor, "descriptor is larger than 1048576 bytes"),
    "many-extents": (hostile_many_extents, "more than 4096 extents"),
}


@pytest.mark.parametrize("case", sorted(HOSTILE))
def test_hostile(kvm_image, qemu_img, pattern, tmp_path, case):
    build, message = HOSTILE[case]
    folder = tmp_path / "in"
    folder.mkdir()
    src = build(folder, qemu_img, pattern)
    out = tmp_path / "out"
    out.mkdir()
    r = kvm_image("convert", src, out / "disk.qcow2")
    assert r.returncode != 0
    assert message in r.stderr, r.stderr
    assert r.stderr.startswith("kvm-image: ") and r.stderr.count("\n") == 1, r.stderr
    assert not list(out.iterdir())
