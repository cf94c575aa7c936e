# SPDX-License-Identifier: GPL-2.0-or-later
"""kvm-image import --fix-guest --virtio-win on a Windows guest.

No Windows here: the guest is a synthetic one that libguestfs inspection
takes for Windows 10 (build 19045, 64-bit): an MBR disk with an NTFS
partition made by guestfish, holding Windows/System32/cmd.exe (a PE32+
header) and SYSTEM and SOFTWARE hives made from nothing (regf.py) and
filled by hivexregedit.  Its current control set is ControlSet002, so
edits to the wrong one show.  The virtio-win ISO is made by xorriso with
the real ISO's folder layout and small distinct dummy driver files, with
decoys (w11, x86) that must not be taken.  After the import, guestfish
reads the converted disk back and hivexregedit --export shows the keys.
The guest's disk is cached in ~/.cache/kvm-bundle/import-windows/."""
import hashlib
import json
import os
import pathlib
import struct
import subprocess

import pytest

from conftest import require_program, run
from ovf_fixtures import make_ova, manifest, ovf_descriptor
import regf
from regf import empty_hive

TIMEOUT = 1200
SYSTEM = "HKEY_LOCAL_MACHINE\\SYSTEM"
SOFTWARE = "HKEY_LOCAL_MACHINE\\SOFTWARE"
DRIVERS = {"viostor": "viostor", "vioscsi": "vioscsi", "NetKVM": "netkvm"}
SCSI_CLASS = "{4D36E97B-E325-11CE-BFC1-08002BE10318}"
CRITICAL_DEVICES = {
    "pci#ven_1af4&dev_1001": "viostor",
    "pci#ven_1af4&dev_1001&subsys_00021af4&rev_00": "viostor",
    "pci#ven_1af4&dev_1042": "viostor",
    "pci#ven_1af4&dev_1042&subsys_11001af4&rev_01": "viostor",
    "pci#ven_1af4&dev_1004": "vioscsi",
    "pci#ven_1af4&dev_1004&subsys_00081af4&rev_00": "vioscsi",
    "pci#ven_1af4&dev_1048": "vioscsi",
    "pci#ven_1af4&dev_1048&subsys_11001af4&rev_01": "vioscsi",
}

# The SYSTEM and SOFTWARE hives of the synthetic guest: key -> values, in
# .reg syntax.  ControlSet001 is the last known good one, left alone.
SYSTEM_KEYS = {
    "Select": ['"Current"=dword:00000002', '"Default"=dword:00000002',
               '"LastKnownGood"=dword:00000001', '"Failed"=dword:00000000'],
    "ControlSet001\\Services\\Tcpip\\Parameters": ['"Hostname"="old-win"'],
    "ControlSet001\\Control": [],
    "ControlSet002\\Services\\Tcpip\\Parameters": ['"Hostname"="win-guest"'],
    "ControlSet002\\Services\\storahci": ['"Start"=dword:00000000'],
    "ControlSet002\\Control\\CriticalDeviceDatabase\\pci#cc_0106": [
        f'"ClassGUID"="{SCSI_CLASS}"', '"Service"="storahci"'],
    "MountedDevices": [],
}
SOFTWARE_KEYS = {
    "Microsoft\\Windows NT\\CurrentVersion": [
        '"ProductName"="Windows 10 Pro"', '"CurrentMajorVersionNumber"=dword:0000000a',
        '"CurrentMinorVersionNumber"=dword:00000000', '"CurrentVersion"="6.3"',
        '"CurrentBuild"="19045"', '"InstallationType"="Client"'],
    "Microsoft\\Windows\\CurrentVersion": ['"ProgramFilesDir"="C:\\\\Program Files"'],
}


def utf16_hex(text, kind=1):
    """A string value as hivexregedit --export writes it."""
    data = (text + "\0").encode("utf-16-le")
    return f"hex({kind}):" + ",".join(f"{b:02x}" for b in data)


def dword(value):
    return f"dword:{value:08x}"


def make_hive(path, prefix, keys):
    """A hive with KEYS (and every parent of them) merged into it."""
    path.write_bytes(empty_hive())
    lines = ["Windows Registry Editor Version 5.00", ""]
    done = set()
    for key, values in keys.items():
        parts = key.split("\\")
        for depth in range(1, len(parts) + 1):
            name = "\\".join(parts[:depth])
            if name not in done:
                done.add(name)
                lines += [f"[{prefix}\\{name}]"] + (values if depth == len(parts) else []) + [""]
    reg = path.with_suffix(".reg")
    reg.write_text("\n".join(lines) + "\n")
    result = run(["hivexregedit", "--merge", "--prefix", prefix, path, reg])
    assert result.returncode == 0, result.stderr


def export(hive, prefix, key):
    """KEY of HIVE as hivexregedit --export prints it, as {key: {name: value}}."""
    result = run(["hivexregedit", "--export", "--prefix", prefix, hive, key])
    assert result.returncode == 0, result.stderr
    keys, current = {}, None
    for line in result.stdout.splitlines():
        if line.startswith("["):
            current = keys.setdefault(line[len(prefix) + 2:-1], {})
        elif "=" in line and current is not None:
            name, value = line.split("=", 1)
            current[name.strip('"')] = value
    return keys


def pe32_plus_console():
    """The headers of a 64-bit console program, enough for inspection's
    file(1) to call cmd.exe "PE32+ executable ... x86-64"."""
    image = bytearray(512)
    image[0:2] = b"MZ"
    struct.pack_into("<I", image, 0x3C, 0x80)
    image[0x80:0x84] = b"PE\0\0"
    struct.pack_into("<HHIIIHH", image, 0x84, 0x8664, 0, 0, 0, 0, 0xF0, 0x22)
    struct.pack_into("<H", image, 0x98, 0x20B)
    struct.pack_into("<H", image, 0x98 + 68, 3)
    return bytes(image)


class Guestfish:
    """guestfish, falling back to software emulation where /dev/kvm is
    there but cannot run the appliance (as on this CI host)."""

    def __init__(self):
        self.env = dict(os.environ)

    def __call__(self, args, script):
        for attempt in range(2):
            result = subprocess.run(["guestfish", *map(str, args), "--"], input=script,
                                    text=True, capture_output=True, env=self.env,
                                    timeout=TIMEOUT)
            if "guestfs_launch failed" not in result.stderr or attempt or \
                    "LIBGUESTFS_BACKEND_SETTINGS" in self.env:
                return result
            self.env["LIBGUESTFS_BACKEND_SETTINGS"] = "force_tcg"
        return result


def driver_bytes(folder, version, arch, ext):
    return f"{folder}/{version}/{arch}/{DRIVERS[folder]}.{ext} dummy\n".encode() * 8


def make_virtio_win_iso(tmp, name, layout):
    """An ISO holding FOLDER/VERSION/ARCH/STEM.{sys,inf,cat} for each of
    LAYOUT's (folder, version, arch)."""
    root = tmp / (name + ".d")
    for folder, version, arch in layout:
        directory = root / folder / version / arch
        directory.mkdir(parents=True)
        for ext in ("sys", "inf", "cat"):
            (directory / f"{DRIVERS[folder]}.{ext}").write_bytes(
                driver_bytes(folder, version, arch, ext))
    (root / "virtio-win_license.txt").write_text("dummy\n")
    iso = tmp / (name + ".iso")
    result = run(["xorriso", "-as", "mkisofs", "-quiet", "-R", "-J", "-V", "virtio-win",
                  "-o", iso, root])
    assert result.returncode == 0, result.stderr
    return iso


FIXTURE_SCRIPT = """run
available ntfs3g
part-disk /dev/sda mbr
part-set-bootable /dev/sda 1 true
mkfs ntfs /dev/sda1
mount /dev/sda1 /
mkdir-p /Windows/System32/config
mkdir-p /Windows/System32/drivers
upload {tmp}/cmd.exe /Windows/System32/cmd.exe
upload {tmp}/SYSTEM /Windows/System32/config/SYSTEM
upload {tmp}/SOFTWARE /Windows/System32/config/SOFTWARE
umount-all
"""


def windows_vmdk(tmp, guestfish):
    """The guest's disk as streamOptimized VMDK, cached in
    ~/.cache/kvm-bundle/import-windows/ by a hash of what it is made of
    (one appliance launch when missing)."""
    key = hashlib.sha256(repr((FIXTURE_SCRIPT, SYSTEM_KEYS, SOFTWARE_KEYS, pe32_plus_console(),
                               pathlib.Path(regf.__file__).read_bytes())).encode()).hexdigest()
    cache = pathlib.Path(os.environ.get("XDG_CACHE_HOME", pathlib.Path.home() / ".cache")) \
        / "kvm-bundle" / "import-windows"
    cached = cache / f"win-{key[:16]}.vmdk"
    if cached.exists():
        return cached
    raw = tmp / "win.raw"
    with open(raw, "wb") as f:
        f.truncate(64 << 20)
    result = guestfish(["-a", raw], FIXTURE_SCRIPT.format(tmp=tmp))
    if "guestfs_launch failed" in result.stderr:
        pytest.skip(f"libguestfs cannot start its appliance here: {result.stderr.strip()[-300:]}")
    if "not available" in result.stderr or "ntfs3g" in result.stderr:
        pytest.skip(f"the libguestfs appliance has no ntfs-3g: {result.stderr.strip()[-300:]}")
    assert result.returncode == 0, result.stderr
    cache.mkdir(parents=True, exist_ok=True)
    partial = cache / f"win-{key[:16]}.{os.getpid()}.partial"
    subprocess.run(["qemu-img", "convert", "-f", "raw", "-O", "vmdk", "-o",
                    "subformat=streamOptimized", raw, partial], check=True)
    raw.unlink()
    os.replace(partial, cached)
    return cached


@pytest.fixture(scope="module")
def windows(tmp_path_factory):
    """The synthetic Windows 10 guest as a VMware OVA, its hives, and the
    guestfish runner."""
    for tool in ("guestfish", "hivexregedit", "xorriso", "qemu-img"):
        require_program(tool)
    tmp = tmp_path_factory.mktemp("windows")
    make_hive(tmp / "SYSTEM", SYSTEM, SYSTEM_KEYS)
    make_hive(tmp / "SOFTWARE", SOFTWARE, SOFTWARE_KEYS)
    (tmp / "cmd.exe").write_bytes(pe32_plus_console())
    guestfish = Guestfish()
    vmdk = windows_vmdk(tmp, guestfish)
    ovf = ovf_descriptor("win", [("win-disk1.vmdk", vmdk.stat().st_size)],
                         capacities=[("64", "byte * 2^20")], os_type="windows9_64Guest",
                         os_id=103, os_text="Microsoft Windows 10 (64-bit)", nic="E1000e").encode()
    members = [("win.ovf", ovf)]
    members.append(("win.mf", manifest(members + [("win-disk1.vmdk", vmdk)])))
    members.append(("win-disk1.vmdk", vmdk))
    return {"tmp": tmp, "ova": make_ova(tmp / "win.ova", members), "guestfish": guestfish}


def kvm_image_import(kvm_image, windows, out, iso):
    return run([kvm_image.path, "import", windows["ova"], "--output", out, "--fix-guest",
                "--virtio-win", iso, "--no-progress"], env=windows["guestfish"].env,
               timeout=TIMEOUT)


def read_back(windows, disk, dest):
    """The hives and driver files of the imported guest, read by guestfish."""
    dest.mkdir()
    script = f"""run
mount-ro /dev/sda1 /
download /Windows/System32/config/SYSTEM {dest / 'SYSTEM'}
download /Windows/System32/config/SOFTWARE {dest / 'SOFTWARE'}
copy-out /Windows/Drivers {dest}
"""
    for stem in DRIVERS.values():
        script += f"download /Windows/System32/drivers/{stem}.sys {dest / (stem + '.sys')}\n"
    result = windows["guestfish"](["--ro", "--format=qcow2", "-a", disk], script)
    assert result.returncode == 0, result.stderr


@pytest.mark.guest
def test_windows_guest_gets_virtio_drivers(kvm_image, windows, tmp_path):
    iso = make_virtio_win_iso(tmp_path, "virtio-win", [
        (folder, version, arch) for folder in DRIVERS
        for version, arch in (("w10", "amd64"), ("w11", "amd64"), ("w10", "x86"),
                              ("2k22", "amd64"))])
    out = tmp_path / "guest"
    result = kvm_image_import(kvm_image, windows, out, iso)
    assert result.returncode == 0, result.stderr

    report = json.loads((out / "report.json").read_text())
    assert report["profile"] == "windows"
    assert report["disk-bus"] == "virtio" and report["nic"] == "virtio-net-pci"
    fixes = "\n".join(report["guest-fixes"])
    assert ("virtio-win drivers for Windows 10.0 build 19045 (client, amd64): viostor from "
            "viostor/w10/amd64, vioscsi from vioscsi/w10/amd64, netkvm from NetKVM/w10/amd64"
            ) in fixes, fixes
    assert "SYSTEM hive, ControlSet002: viostor and vioscsi are boot-start" in fixes
    assert "RunOnce runs C:\\Windows\\Drivers\\VirtIO\\install-drivers.cmd" in fixes
    assert "virtio-blk, vda" in report["disks"][0]["to"]
    assert report["nics"][0]["to"].startswith("virtio-net")
    assert "viostor from viostor/w10/amd64" in (out / "report.txt").read_text()

    xml = (out / "win.xml").read_text()
    assert "bus='virtio'" in xml and "<model type='virtio'/>" in xml, xml
    assert "bus='sata'" not in xml and "e1000e" not in xml
    validate = run(["virt-xml-validate", out / "win.xml", "domain"])
    assert validate.returncode == 0, validate.stdout + validate.stderr
    profile = (out / "win.profile").read_text()
    assert "disk-bus = virtio\n" in profile and "nic = virtio-net-pci\n" in profile

    got = tmp_path / "read-back"
    read_back(windows, out / "win.qcow2", got)
    for folder, stem in DRIVERS.items():
        assert (got / f"{stem}.sys").read_bytes() == driver_bytes(folder, "w10", "amd64", "sys")
        for ext in ("sys", "inf", "cat"):
            assert (got / "Drivers" / "VirtIO" / stem / f"{stem}.{ext}").read_bytes() == \
                driver_bytes(folder, "w10", "amd64", ext)
    script = (got / "Drivers" / "VirtIO" / "install-drivers.cmd").read_bytes().decode()
    for stem in DRIVERS.values():
        assert (f'pnputil /add-driver "C:\\Windows\\Drivers\\VirtIO\\{stem}\\{stem}.inf" '
                '/install >> "C:\\Windows\\Drivers\\VirtIO\\install.log" 2>&1\r\n') in script

    services = export(got / "SYSTEM", SYSTEM, "ControlSet002\\Services")
    for stem in ("viostor", "vioscsi"):
        assert services[f"ControlSet002\\Services\\{stem}"] == {
            "Type": dword(1), "Start": dword(0), "ErrorControl": dword(1),
            "Group": utf16_hex("SCSI miniport"),
            "ImagePath": utf16_hex(f"system32\\drivers\\{stem}.sys", kind=2),
        }
    assert services["ControlSet002\\Services\\storahci"] == {"Start": dword(0)}
    database = export(got / "SYSTEM", SYSTEM, "ControlSet002\\Control\\CriticalDeviceDatabase")
    expected = {f"ControlSet002\\Control\\CriticalDeviceDatabase\\{key}": {
        "ClassGUID": utf16_hex(SCSI_CLASS), "Service": utf16_hex(service)}
        for key, service in CRITICAL_DEVICES.items()}
    expected["ControlSet002\\Control\\CriticalDeviceDatabase\\pci#cc_0106"] = {
        "ClassGUID": utf16_hex(SCSI_CLASS), "Service": utf16_hex("storahci")}
    expected["ControlSet002\\Control\\CriticalDeviceDatabase"] = {}
    assert database == expected
    # The other control set is as it was.
    assert export(got / "SYSTEM", SYSTEM, "ControlSet001") == \
        export(windows["tmp"] / "SYSTEM", SYSTEM, "ControlSet001")
    run_once = export(got / "SOFTWARE", SOFTWARE, "Microsoft\\Windows\\CurrentVersion\\RunOnce")
    assert run_once == {"Microsoft\\Windows\\CurrentVersion\\RunOnce": {
        "kvm-image-virtio-win": utf16_hex(
            'cmd.exe /c "C:\\Windows\\Drivers\\VirtIO\\install-drivers.cmd"')}}


@pytest.mark.guest
def test_virtio_win_without_the_needed_folder_is_refused(kvm_image, windows, tmp_path):
    """NetKVM only for Windows 11 and for 32-bit Windows 10: nothing fits."""
    iso = make_virtio_win_iso(tmp_path, "partial", [
        ("viostor", "w10", "amd64"), ("vioscsi", "w10", "amd64"), ("NetKVM", "w11", "amd64"),
        ("NetKVM", "w10", "x86")])
    (tmp_path / "out").mkdir()
    before = sorted(p.name for p in (tmp_path / "out").iterdir())
    result = kvm_image_import(kvm_image, windows, tmp_path / "out" / "guest", iso)
    assert result.returncode == 1
    assert result.stderr == (f"kvm-image: {iso}: no NetKVM/w10/amd64 folder with netkvm.sys, "
                             "netkvm.inf and netkvm.cat, which this Windows 10.0 (build 19045) "
                             "guest needs\n")
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == before


def test_virtio_win_needs_fix_guest(kvm_image, tmp_path):
    result = kvm_image("import", tmp_path / "x.ova", "--virtio-win", tmp_path / "v.iso",
                       "--output", tmp_path / "guest")
    assert result.returncode == 1
    assert result.stderr == ("kvm-image import: --virtio-win is used by --fix-guest only "
                             "(see kvm-image import --help)\n")
    assert list(tmp_path.iterdir()) == []
