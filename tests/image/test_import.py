# SPDX-License-Identifier: GPL-2.0-or-later
"""kvm-image import: OVAs, OVF folders and VMX folders as VMware exports
them, made here by qemu-img and ovf_fixtures; the converted disks are
compared with qemu-img, the domain XML is checked by virt-xml-validate, and
hostile sources must fail with one clear line and leave nothing behind."""
import io
import json
import os
import pathlib
import shutil
import subprocess
import tarfile

import pytest

from conftest import require_program, run
from layers import assert_reads_zeros, own_clusters
from ovf_fixtures import (make_appliance, make_ova, make_raw, manifest, ovf_descriptor,
                          make_stream_vmdk)


@pytest.fixture(autouse=True)
def tools():
    require_program("qemu-img")


def files_under(path):
    return sorted(str(p.relative_to(path)) for p in pathlib.Path(path).rglob("*"))


def import_ok(kvm_image, source, out, *args):
    result = kvm_image("import", source, "--output", out, "--no-progress", *args)
    assert result.returncode == 0, result.stderr
    return json.loads((pathlib.Path(out) / "report.json").read_text())


def assert_same(qemu_img, a, b):
    result = qemu_img("compare", a, b)
    assert result.returncode == 0, result.stdout + result.stderr


def assert_valid_domain(path):
    require_program("virt-xml-validate")
    result = run(["virt-xml-validate", path, "domain"])
    assert result.returncode == 0, result.stdout + result.stderr


def test_ova_ovf10_one_disk_bios_sha1(kvm_image, qemu_img, tmp_path):
    raws, _, members = make_appliance(tmp_path, "web", algo="SHA1")
    ova = make_ova(tmp_path / "web.ova", members)
    report = import_ok(kvm_image, ova, tmp_path / "guest")
    assert report["manifest"] == "web.mf: 2 files verified (SHA-1)"
    assert report["firmware"] == "bios" and report["profile"] == "linux"
    assert report["cpus"] == 2 and report["memory"] == 2048 << 20
    disk = tmp_path / "guest" / "web.qcow2"
    assert_same(qemu_img, raws[0], disk)
    assert_valid_domain(tmp_path / "guest" / "web.xml")
    assert any("VMware SVGA" in line for line in report["dropped"])
    profile = (tmp_path / "guest" / "web.profile").read_text()
    assert "inherit = linux\n" in profile and "firmware = bios\n" in profile
    assert "memory = 2048M\n" in profile
    assert report["nics"][0]["from"].startswith("VmxNet3")
    # Read in place: nothing but the guest's files was written.
    assert files_under(tmp_path / "guest") == sorted(
        ["report.json", "report.txt", "web.profile", "web.qcow2", "web.xml"])


def test_ova_ovf20_three_disks_efi_sha256(kvm_image, qemu_img, tmp_path):
    raws, _, members = make_appliance(tmp_path, "app", n_disks=3, version="2.0", efi=True,
                                      secure_boot=True)
    ova = make_ova(tmp_path / "app.ova", members)
    report = import_ok(kvm_image, ova, tmp_path / "guest")
    assert report["manifest"] == "app.mf: 4 files verified (SHA-256)"
    assert report["firmware"] == "uefi-secure-boot"
    for i, raw in enumerate(raws):
        assert_same(qemu_img, raw, tmp_path / "guest" / f"app-disk{i + 1}.qcow2")
    xml = (tmp_path / "guest" / "app.xml").read_text()
    assert "firmware='efi'" in xml and "name='secure-boot'" in xml
    assert_valid_domain(tmp_path / "guest" / "app.xml")


def test_ovf_folder_with_relative_paths(kvm_image, qemu_img, tmp_path):
    src = tmp_path / "export"
    src.mkdir()
    raws, ovf, members = make_appliance(src, "multi", n_disks=3, efi=True,
                                        hrefs=["disks/a.vmdk", "disks/b.vmdk", "c.vmdk"])
    # vSphere lists the EFI variables of the guest in the manifest too.
    (src / "multi.nvram").write_bytes(b"NVRAM" * 100)
    (src / "multi.mf").write_bytes(manifest(
        [m for m in members if not m[0].endswith(".mf")] + [("multi.nvram", src / "multi.nvram")]))
    report = import_ok(kvm_image, ovf, tmp_path / "guest", "--format", "raw")
    assert report["manifest"] == "multi.mf: 5 files verified (SHA-256)"
    assert report["firmware"] == "uefi"
    for i, raw in enumerate(raws):
        assert_same(qemu_img, raw, tmp_path / "guest" / f"multi-disk{i + 1}.raw")
    assert_valid_domain(tmp_path / "guest" / "multi.xml")


def test_wrong_checksum_is_refused(kvm_image, tmp_path):
    _, _, members = make_appliance(tmp_path, "bad")
    name, mf = members[1]
    members[1] = (name, mf.replace(mf.split(b"= ")[1][:8], b"00000000"))
    ova = make_ova(tmp_path / "bad.ova", members)
    result = kvm_image("import", ova, "--output", tmp_path / "guest")
    assert result.returncode == 1
    assert result.stderr.startswith(f"kvm-image: {ova}: bad.mf: SHA256 digest of bad.ovf")
    assert "does not match the manifest" in result.stderr
    assert not (tmp_path / "guest").exists()


def test_certificate_is_reported(kvm_image, tmp_path):
    require_program("openssl")
    _, _, members = make_appliance(tmp_path, "signed")
    key, cert = tmp_path / "key.pem", tmp_path / "cert.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", key,
                    "-out", cert, "-subj", "/CN=Example Appliances", "-days", "2"],
                   check=True, capture_output=True)
    mf = tmp_path / "signed.mf"
    sig = subprocess.run(["openssl", "dgst", "-sha256", "-sign", key, mf], check=True,
                         capture_output=True).stdout
    members.append(("signed.cert", f"SHA256(signed.mf)= {sig.hex()}\n".encode() +
                    cert.read_bytes()))
    report = import_ok(kvm_image, make_ova(tmp_path / "signed.ova", members), tmp_path / "g")
    assert "CN=Example Appliances" in report["certificate"]
    assert "signature of the manifest holds" in report["certificate"]


# What each snapshot of make_vmx_chain writes: data, and zeroed grains over
# the base's data (make_raw puts data at 0 and in the last 64 KiB), which
# must read as zeros however the chain is kept.
SNAPSHOT_WRITES = {
    1: ["write -P 0xab 1M 64k", "write -z 16320k 64k"],
    2: ["write -P 0xcd 1088k 64k", "write -z 0 64k"],
}
ZEROED_IN_SNAPSHOTS = ((0, 64 << 10), (16320 << 10, 64 << 10))


def make_vmx_chain(directory):
    """vm.vmdk <- vm-000001.vmdk <- vm-000002.vmdk, with writes and zeroed
    grains in each delta, as VMware's snapshots leave them; returns the
    newest delta."""
    require_program("qemu-io")
    directory.mkdir()
    make_raw(directory / "base.raw", 16 << 20, 5)
    subprocess.run(["qemu-img", "convert", "-O", "vmdk", directory / "base.raw",
                    directory / "vm.vmdk"], check=True)
    (directory / "base.raw").unlink()
    parent = "vm.vmdk"
    for level, writes in SNAPSHOT_WRITES.items():
        delta = f"vm-00000{level}.vmdk"
        subprocess.run(["qemu-img", "create", "-q", "-f", "vmdk", "-o", "zeroed_grain=on",
                        "-b", parent, "-F", "vmdk", delta], cwd=directory, check=True)
        subprocess.run(["qemu-io", *(a for w in writes for a in ("-c", w)), delta],
                       cwd=directory, check=True, capture_output=True)
        parent = delta
    return directory / parent


VMX = """.encoding = "UTF-8"
config.version = "8"
virtualHW.version = "19"
displayName = "db server"
numvcpus = "4"
memsize = "4096"
guestOS = "{guest_os}"
scsi0.present = "TRUE"
scsi0.virtualDev = "pvscsi"
scsi0:0.present = "TRUE"
scsi0:0.fileName = "{disk}"
sata0.present = "TRUE"
sata0:1.present = "TRUE"
sata0:1.deviceType = "cdrom-image"
sata0:1.fileName = "/vmfs/volumes/ds1/iso/setup.iso"
ethernet0.present = "TRUE"
ethernet0.virtualDev = "vmxnet3"
ethernet0.networkName = "VM Network"
ethernet0.addressType = "generated"
ethernet0.generatedAddress = "00:0c:29:aa:bb:cc"
vmci0.present = "TRUE"
"""


def test_vmx_snapshot_chain_is_flattened(kvm_image, qemu_img, tmp_path):
    newest = make_vmx_chain(tmp_path / "vm")
    vmx = tmp_path / "vm" / "vm.vmx"
    vmx.write_text(VMX.format(guest_os="debian11-64", disk=newest.name))
    report = import_ok(kvm_image, vmx, tmp_path / "guest")
    assert report["name"] == "db server" and report["cpus"] == 4
    assert report["disks"][0]["snapshots-flattened"] == 2
    assert report["disks"][0]["from"] == "scsi0:0 on pvscsi"
    # The flattened disk holds the newest state, read by qemu-img itself.
    assert_same(qemu_img, newest, tmp_path / "guest" / "vm.qcow2")
    assert report["nics"][0]["mac"] == "00:0c:29:aa:bb:cc"
    assert any("setup.iso" in line for line in report["dropped"])
    assert any("VMCI" in line for line in report["dropped"])
    assert_valid_domain(tmp_path / "guest" / "vm.xml")


def test_vmx_keep_chain_becomes_qcow2_backing_chain(kvm_image, qemu_img, tmp_path):
    newest = make_vmx_chain(tmp_path / "vm")
    vmx = tmp_path / "vm" / "vm.vmx"
    vmx.write_text(VMX.format(guest_os="debian11-64", disk=newest.name))
    guest = tmp_path / "guest"
    report = import_ok(kvm_image, vmx, guest, "--keep-chain")
    top, snap1, base = guest / "vm.qcow2", guest / "vm-snapshot1.qcow2", guest / "vm-base.qcow2"
    disk = report["disks"][0]
    assert disk["snapshots-kept"] == 2 and disk["snapshots-flattened"] == 0
    assert disk["file"] == str(top) and disk["backing-chain"] == [str(snap1), str(base)]
    assert "2 snapshot layers kept as a qcow2 backing chain" in (guest / "report.txt").read_text()
    assert report["command"].endswith(f"--disk {top}")

    # qemu-img sees the chain, by names relative to the folder.
    chain = json.loads(qemu_img("info", "--backing-chain", "--output=json", top).stdout)
    assert [pathlib.Path(i["filename"]).name for i in chain] == \
        ["vm.qcow2", "vm-snapshot1.qcow2", "vm-base.qcow2"]
    assert [i.get("backing-filename") for i in chain] == ["vm-snapshot1.qcow2", "vm-base.qcow2", None]
    assert all(i["format"] == "qcow2" for i in chain)
    assert [i.get("backing-filename-format") for i in chain[:2]] == ["qcow2", "qcow2"]
    for layer in (top, snap1, base):
        assert qemu_img("check", layer).returncode == 0
    # Each layer reads as its VMware counterpart and holds only its own clusters.
    assert_same(qemu_img, newest, top)
    assert_same(qemu_img, tmp_path / "vm" / "vm-000001.vmdk", snap1)
    assert_same(qemu_img, tmp_path / "vm" / "vm.vmdk", base)
    for ours, theirs in ((top, newest), (snap1, tmp_path / "vm" / "vm-000001.vmdk")):
        assert own_clusters(ours) == own_clusters(theirs)
    assert "zero" in own_clusters(top).values()
    for offset, length in ZEROED_IN_SNAPSHOTS:
        assert_reads_zeros(top, offset, length)
    # kvm-image reads the chain back without --allow-external-files.
    assert kvm_image("compare", newest, top).returncode == 0

    xml = (guest / "vm.xml").read_text()
    assert_valid_domain(guest / "vm.xml")
    assert f"<source file='{top}'/>" in xml
    assert xml.index(str(snap1)) < xml.index(str(base)) and "<backingStore/>" in xml


def test_windows_guest_keeps_sata_and_e1000e(kvm_image, tmp_path):
    _, _, members = make_appliance(tmp_path, "win", efi=True, secure_boot=True,
                                   os_type="windows11_64Guest", os_id=103,
                                   os_text="Microsoft Windows 11 (64-bit)", nic="E1000e")
    report = import_ok(kvm_image, make_ova(tmp_path / "win.ova", members), tmp_path / "g")
    assert report["profile"] == "windows-11"
    assert report["disk-bus"] == "ahci" and report["nic"] == "e1000e"
    xml = (tmp_path / "g" / "win.xml").read_text()
    assert "<tpm model='tpm-crb'>" in xml and "bus='sata'" in xml
    assert any("Windows keeps SATA" in line for line in report["notes"])
    assert_valid_domain(tmp_path / "g" / "win.xml")


def test_existing_files_need_force(kvm_image, tmp_path):
    _, _, members = make_appliance(tmp_path, "web")
    ova = make_ova(tmp_path / "web.ova", members)
    import_ok(kvm_image, ova, tmp_path / "guest")
    before = (tmp_path / "guest" / "web.qcow2").stat().st_mtime_ns
    result = kvm_image("import", ova, "--output", tmp_path / "guest")
    assert result.returncode == 1 and "exists" in result.stderr
    assert (tmp_path / "guest" / "web.qcow2").stat().st_mtime_ns == before
    import_ok(kvm_image, ova, tmp_path / "guest", "--force")


# ---- Hostile sources: one clear line, nothing written anywhere. ----

def hostile(kvm_image, tmp_path, ova, message):
    before = files_under(tmp_path)
    result = kvm_image("import", ova, "--output", tmp_path / "out" / "guest")
    assert result.returncode == 1
    assert result.stderr.count("\n") == 1, result.stderr
    assert message in result.stderr, result.stderr
    assert files_under(tmp_path) == before


@pytest.mark.parametrize("name,message", [
    ("../evil.vmdk", "leads out with '..'"),
    ("disks/../../evil.vmdk", "leads out with '..'"),
    ("/etc/evil.vmdk", "has an absolute name"),
])
def test_hostile_member_names(kvm_image, tmp_path, name, message):
    _, _, members = make_appliance(tmp_path, "x")
    members.append((name, b"x" * 512))
    (tmp_path / "out").mkdir()
    hostile(kvm_image, tmp_path, make_ova(tmp_path / "x.ova", members), message)


def test_hostile_symlink_member(kvm_image, tmp_path):
    _, _, members = make_appliance(tmp_path, "x")
    ova = make_ova(tmp_path / "x.ova", members[:1])
    with tarfile.open(ova, "a", format=tarfile.USTAR_FORMAT) as tar:
        link = tarfile.TarInfo("x-disk1.vmdk")
        link.type = tarfile.SYMTYPE
        link.linkname = "/etc/shadow"
        tar.addfile(link)
    (tmp_path / "out").mkdir()
    hostile(kvm_image, tmp_path, ova, "is a link or special file")


def test_hostile_missing_disk(kvm_image, tmp_path):
    _, _, members = make_appliance(tmp_path, "x")
    members = [m for m in members if not m[0].endswith(".vmdk") and not m[0].endswith(".mf")]
    (tmp_path / "out").mkdir()
    hostile(kvm_image, tmp_path, make_ova(tmp_path / "x.ova", members),
            "the OVF lists disk x-disk1.vmdk, which the OVA does not hold")


def test_hostile_not_xml(kvm_image, tmp_path):
    (tmp_path / "out").mkdir()
    hostile(kvm_image, tmp_path,
            make_ova(tmp_path / "x.ova", [("x.ovf", b"<Envelope><Unclosed></Envelope>")]),
            "x.ova/x.ovf: not an OVF descriptor: not XML")


def test_hostile_huge_disk(kvm_image, tmp_path):
    _, vmdk = make_stream_vmdk(tmp_path, "x-disk1", 1 << 20, 1)
    ovf = ovf_descriptor("x", [("x-disk1.vmdk", vmdk.stat().st_size)],
                         capacities=[("1", "byte * 2^60")]).encode()
    (tmp_path / "out").mkdir()
    hostile(kvm_image, tmp_path,
            make_ova(tmp_path / "x.ova", [("x.ovf", ovf), ("x-disk1.vmdk", vmdk)]),
            "disk capacity of 1 x 1152921504606846976 bytes is more than")


def test_hostile_compressed_ova(kvm_image, tmp_path):
    _, _, members = make_appliance(tmp_path, "x")
    ova = make_ova(tmp_path / "x.ova", members)
    subprocess.run(["gzip", "-k", ova], check=True)
    os.replace(str(ova) + ".gz", ova)
    (tmp_path / "out").mkdir()
    hostile(kvm_image, tmp_path, ova, "the OVA is gzip-compressed")


def test_hostile_vmx_disk_outside(kvm_image, tmp_path):
    (tmp_path / "vm").mkdir()
    (tmp_path / "vm" / "vm.vmx").write_text(VMX.format(guest_os="debian11-64",
                                                       disk="../../etc/passwd"))
    (tmp_path / "out").mkdir()
    hostile(kvm_image, tmp_path, tmp_path / "vm" / "vm.vmx", "vm.vmx")


def test_fix_guest_without_os_fails_cleanly(kvm_image, tmp_path):
    """--fix-guest on a disk without a system: a clear error, and the disks
    converted so far are removed again."""
    _, _, members = make_appliance(tmp_path, "blank")
    ova = make_ova(tmp_path / "blank.ova", members)
    result = kvm_image("import", ova, "--output", tmp_path / "guest", "--fix-guest")
    assert result.returncode == 1
    if "needs libguestfs" in result.stderr:
        pytest.skip("this kvm-image is built without libguestfs")
    assert "found no operating system" in result.stderr or "libguestfs" in result.stderr
    assert not (tmp_path / "guest").exists()
