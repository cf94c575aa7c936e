# SPDX-License-Identifier: GPL-2.0-or-later
"""kvm-netboot init, add, host and export: the menus of every loader
against golden files, profiles from folders and from ISOs (read with
libarchive), the settings for other DHCP servers checked by those servers,
and the errors users see."""
import filecmp
import json
import os
import shutil
import subprocess

import pytest

from conftest import require_program, run
from netboot_fixtures import GOLDEN, kvm_netboot

MAC = "52:54:00:AB:cd:01"
HOST_ID = "01-52-54-00-ab-cd-01"

# The generated files checked against tests/netboot/golden/ (the name
# there is the path with / as __).  KVM_UPDATE_GOLDEN=1 rewrites them.
GENERATED = [
    "kvm-netboot.json",
    "boot/boot.ipxe",
    "boot/menu.ipxe",
    f"boot/hosts/{HOST_ID}.ipxe",
    "boot/pxelinux.cfg/default",
    f"boot/pxelinux.cfg/{HOST_ID}",
    "boot/grub/grub.cfg",
    "boot/grub/hosts/52:54:00:ab:cd:01.cfg",
]


def ok(*args):
    result = kvm_netboot(*args)
    assert result.returncode == 0, result.stderr
    return result


@pytest.fixture
def source(tmp_path):
    """A folder with a kernel and an initrd, as the linux profile takes."""
    src = tmp_path / "src"
    src.mkdir()
    (src / "vmlinuz").write_bytes(b"kernel " * 100)
    (src / "initrd").write_bytes(b"initrd " * 100)
    return src


@pytest.fixture
def tree(tmp_path, source):
    tree = tmp_path / "tree"
    ok("init", tree, "--server", "192.0.2.10", "--http-port", "8080", "--timeout", "5")
    ok("add", "linux", "--from", source, "--name", "rescue", "--tree", tree,
       "--append", "console=ttyS0 ds=nocloud;s=x")
    answers = tmp_path / "answers.cfg"
    answers.write_text("d-i preseed/late_command string wget -q -O- @CALLBACK_URL@\n")
    ok("host", "add", MAC, "--profile", "rescue", "--answers", answers, "--tree", tree)
    return tree


def test_menus_of_every_loader_match_the_golden_files(tree):
    update = os.environ.get("KVM_UPDATE_GOLDEN") == "1"
    for name in GENERATED:
        golden = GOLDEN / name.replace("/", "__").replace(":", "-")
        text = (tree / name).read_text()
        if update:
            golden.parent.mkdir(exist_ok=True)
            golden.write_text(text)
        assert text == golden.read_text(), f"{name} differs from {golden}"


def test_grub_accepts_its_menus(tree):
    """GRUB's own parser reads every generated file, with kernel arguments
    full of what GRUB's shell would take as syntax."""
    require_program("grub-script-check")
    ok("add", "linux", "--from", tree / "boot/profiles/rescue", "--name", "quoting", "--tree",
       tree, "--append", "a;b $x 'q' \"d\" {e} f\\g")
    ok("host", "add", MAC, "--profile", "quoting", "--tree", tree, "--force")
    for name in ("boot/grub/grub.cfg", "boot/grub/hosts/52:54:00:ab:cd:01.cfg"):
        result = run(["grub-script-check", tree / name])
        assert result.returncode == 0, (name, result.stdout + result.stderr)
    assert "'a;b' '$x' ''\\''q'\\''' '\"d\"' '{e}' 'f\\g'" in \
        (tree / "boot/grub/grub.cfg").read_text()


def test_every_menu_boots_the_local_disk_by_default(tree):
    assert "ONTIMEOUT local" in (tree / "boot/pxelinux.cfg/default").read_text()
    assert "TIMEOUT 50\n" in (tree / "boot/pxelinux.cfg/default").read_text()
    assert "set default=local\nset timeout=5\n" in (tree / "boot/grub/grub.cfg").read_text()
    assert "--timeout 5000 --default local" in (tree / "boot/menu.ipxe").read_text()


def test_tree_has_the_loaders_of_the_system(tree):
    require_program("dpkg")
    for name, package_path in [("undionly.kpxe", "/usr/lib/ipxe/undionly.kpxe"),
                               ("snponly.efi", "/usr/lib/ipxe/snponly.efi"),
                               ("ipxe.efi", "/usr/lib/ipxe/ipxe.efi"),
                               ("pxelinux.0", "/usr/lib/PXELINUX/pxelinux.0"),
                               ("ldlinux.c32", "/usr/lib/syslinux/modules/bios/ldlinux.c32"),
                               ("bootx64.efi", "/usr/lib/shim/shimx64.efi.signed"),
                               ("grubx64.efi",
                                "/usr/lib/grub/x86_64-efi-signed/grubnetx64.efi.signed")]:
        if not os.path.exists(package_path):
            pytest.skip(f"{package_path} is not installed (scripts/install-deps installs it)")
        assert filecmp.cmp(tree / "boot" / name, package_path, shallow=False), name


def test_host_entry_returns_to_local_boot_when_marked_installed(tree):
    description = json.loads((tree / "kvm-netboot.json").read_text())
    description["hosts"][0]["installed"] = True
    (tree / "kvm-netboot.json").write_text(json.dumps(description))
    ok("init", tree, "--server", "192.0.2.10", "--http-port", "8080", "--timeout", "5", "--force")
    assert "LOCALBOOT 0" in (tree / f"boot/pxelinux.cfg/{HOST_ID}").read_text()
    assert "booting the local disk\nexit" in (tree / f"boot/hosts/{HOST_ID}.ipxe").read_text()
    assert "set default=local" in (tree / "boot/grub/hosts/52:54:00:ab:cd:01.cfg").read_text()
    listing = json.loads(ok("host", "list", "--tree", tree, "--output", "json").stdout)
    assert listing == [{"mac": "52:54:00:ab:cd:01", "profile": "rescue", "installed": True}]


def test_host_remove_deletes_its_entries(tree):
    ok("host", "remove", MAC, "--tree", tree)
    for name in GENERATED[3:]:
        if HOST_ID in name or "52:54" in name:
            assert not (tree / name).exists(), name
    assert not (tree / "hosts" / f"{HOST_ID}.answers").exists()
    assert ok("host", "list", "--tree", tree).stdout == ""


def test_host_add_refuses_to_rearm_without_force(tree):
    result = kvm_netboot("host", "add", MAC, "--profile", "rescue", "--tree", tree)
    assert result.returncode == 1
    assert f"host {HOST_ID} is already to be installed" in result.stderr


@pytest.mark.parametrize("argv, message", [
    (["host", "add", "52:54:00:zz:00:01", "--profile", "rescue"],
     "kvm-netboot: 52:54:00:zz:00:01: not a MAC address"),
    (["host", "add", MAC, "--profile", "nothing"], "no profile 'nothing'"),
    (["host", "remove", "52:54:00:00:00:09"], "no host 01-52-54-00-00-00-09"),
    (["add", "no-such-os"], "kvm-netboot: no-such-os: no such profile"),
    (["add", "linux", "--from", "/nonexistent"], "kvm-netboot: /nonexistent: No such file"),
    (["add", "linux", "--name", "Bad/Name", "--from", "/"], "Bad/Name: not a usable name"),
    (["add", "linux", "--name", "rescue", "--from", "/"], "has a profile rescue already"),
])
def test_bad_input_is_one_line_and_changes_nothing(tree, argv, message):
    before = (tree / "kvm-netboot.json").read_text()
    result = kvm_netboot(*argv, "--tree", tree)
    assert result.returncode == 1
    assert message in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr
    assert (tree / "kvm-netboot.json").read_text() == before


def test_init_refuses_an_existing_tree(tree):
    result = kvm_netboot("init", tree)
    assert result.returncode == 1
    assert "a netboot tree is already there (--force" in result.stderr


def test_commands_need_a_tree(tmp_path):
    result = kvm_netboot("host", "list", "--tree", tmp_path)
    assert result.returncode == 1
    assert f"kvm-netboot: {tmp_path}: not a netboot tree" in result.stderr


def test_serve_requires_an_interface(tree):
    result = kvm_netboot("serve", tree)
    assert result.returncode == 1
    assert "--interface is required" in result.stderr


def make_iso(tmp_path, name, files):
    require_program("xorriso")
    root = tmp_path / (name + "-root")
    for path, data in files.items():
        (root / path).parent.mkdir(parents=True, exist_ok=True)
        (root / path).write_bytes(data)
    iso = tmp_path / (name + ".iso")
    result = run(["xorriso", "-as", "mkisofs", "-quiet", "-R", "-J", "-V", name.upper(),
                  "-o", iso, root])
    assert result.returncode == 0, result.stderr
    return iso, root


def test_fedora_from_an_iso_read_without_mounting(tree, tmp_path):
    iso, root = make_iso(tmp_path, "fedora", {
        "images/pxeboot/vmlinuz": os.urandom(70000),
        "images/pxeboot/initrd.img": os.urandom(90000),
        "Packages/b/bash-5.2.rpm": os.urandom(5000),
        "repodata/repomd.xml": b"<repomd/>\n",
        ".treeinfo": b"[general]\nname = Fedora\n",
    })
    ok("add", "fedora", "--from", iso, "--tree", tree)
    dest = tree / "boot/profiles/fedora"
    for path in ["images/pxeboot/vmlinuz", "images/pxeboot/initrd.img",
                 "Packages/b/bash-5.2.rpm", "repodata/repomd.xml", ".treeinfo"]:
        assert filecmp.cmp(dest / path, root / path, shallow=False), path
    menu = (tree / "boot/menu.ipxe").read_text()
    assert "kernel profiles/fedora/images/pxeboot/vmlinuz initrd=initrd.img ip=dhcp " \
           "inst.repo=http://192.0.2.10:8080/profiles/fedora\n" in menu
    ok("host", "add", MAC, "--profile", "fedora", "--tree", tree, "--force")
    entry = (tree / f"boot/pxelinux.cfg/{HOST_ID}").read_text()
    assert f"inst.ks=http://192.0.2.10:8080/answers/{HOST_ID}" in entry


def test_ubuntu_serves_its_iso_for_the_live_installer(tree, tmp_path):
    iso, root = make_iso(tmp_path, "ubuntu", {
        "casper/vmlinuz": os.urandom(30000),
        "casper/initrd": os.urandom(40000),
        "casper/ubuntu-server-minimal.squashfs": os.urandom(50000),
    })
    ok("add", "ubuntu-24.04", "--from", iso, "--tree", tree)
    dest = tree / "boot/profiles/ubuntu-24.04"
    assert filecmp.cmp(dest / "install.iso", iso, shallow=False)
    assert filecmp.cmp(dest / "vmlinuz", root / "casper/vmlinuz", shallow=False)
    assert not (dest / "casper").exists(), "only the kernel and initrd are taken out"
    ok("host", "add", MAC, "--profile", "ubuntu-24.04", "--tree", tree, "--force")
    grub = (tree / "boot/grub/hosts/52:54:00:ab:cd:01.cfg").read_text()
    # GRUB would take the ; as the end of a command: the word is quoted.
    assert f"'ds=nocloud-net;s=http://192.0.2.10:8080/answers/{HOST_ID}/'" in grub


def test_iso_without_the_profiles_kernel_is_refused(tree, tmp_path):
    iso, _ = make_iso(tmp_path, "other", {"README.TXT": b"not an installer\n"})
    before = (tree / "kvm-netboot.json").read_text()
    result = kvm_netboot("add", "opensuse-leap", "--from", iso, "--tree", tree)
    assert result.returncode == 1
    assert f"{iso}: no boot/x86_64/loader/linux in it" in result.stderr
    assert (tree / "kvm-netboot.json").read_text() == before


def test_not_an_iso_is_refused(tree, tmp_path):
    bogus = tmp_path / "bogus.iso"
    bogus.write_bytes(b"\0" * 70000)
    result = kvm_netboot("add", "fedora", "--from", bogus, "--tree", tree)
    assert result.returncode == 1
    assert f"kvm-netboot: {bogus}: not an ISO image" in result.stderr


def test_debian_12_from_the_netboot_package(tree):
    package = "/usr/lib/debian-installer/images/12/amd64/text/debian-installer/amd64"
    if not os.path.exists(package + "/linux"):
        pytest.skip("debian-installer-12-netboot-amd64 is not installed "
                    "(scripts/install-deps installs it)")
    ok("add", "debian-12", "--tree", tree)
    dest = tree / "boot/profiles/debian-12"
    assert filecmp.cmp(dest / "linux", package + "/linux", shallow=False)
    assert filecmp.cmp(dest / "initrd.gz", package + "/initrd.gz", shallow=False)
    ok("host", "add", MAC, "--profile", "debian-12", "--tree", tree, "--force")
    entry = (tree / f"boot/hosts/{HOST_ID}.ipxe").read_text()
    assert f"auto=true priority=critical url=http://192.0.2.10:8080/answers/{HOST_ID} " \
           "interface=auto ---" in entry


def test_list_profiles_names_every_profile():
    names = [line.split()[0] for line in kvm_netboot("add", "--list-profiles").stdout.splitlines()]
    assert names == sorted(["debian-12", "fedora", "linux", "opensuse-leap",
                            "opensuse-tumbleweed", "rhel", "ubuntu-24.04", "windows-10",
                            "windows-11", "windows-server-2022"])


def test_export_dnsmasq_is_accepted_by_dnsmasq(tree, tmp_path):
    require_program("dnsmasq")
    conf = tmp_path / "netboot.conf"
    conf.write_text(ok("export", "--format", "dnsmasq", "--tree", tree).stdout)
    assert "dhcp-boot=tag:!ipxe,tag:bios,undionly.kpxe,,192.0.2.10" in conf.read_text()
    result = run(["dnsmasq", "--test", f"--conf-file={conf}"])
    assert result.returncode == 0, result.stderr


def test_export_isc_dhcpd_is_accepted_by_dhcpd(tree, tmp_path):
    if not os.path.exists("/usr/sbin/dhcpd"):
        pytest.skip("dhcpd is not installed (scripts/install-deps installs isc-dhcp-server)")
    conf = tmp_path / "dhcpd.conf"
    conf.write_text("subnet 192.0.2.0 netmask 255.255.255.0 { range 192.0.2.100 192.0.2.200; }\n"
                    + ok("export", "--format", "isc-dhcpd", "--tree", tree).stdout)
    result = run(["/usr/sbin/dhcpd", "-t", "-cf", conf])
    assert result.returncode == 0, result.stderr


def test_export_kea_is_accepted_by_kea(tree, tmp_path):
    exported = json.loads(ok("export", "--format", "kea", "--tree", tree).stdout)
    if not shutil.which("kea-dhcp4"):
        pytest.skip("kea-dhcp4 is not installed (scripts/install-deps installs kea-dhcp4-server)")
    config = {"Dhcp4": {
        "interfaces-config": {"interfaces": []},
        "subnet4": [{"id": 1, "subnet": "192.0.2.0/24",
                     "pools": [{"pool": "192.0.2.100 - 192.0.2.200"}]}],
        "client-classes": exported["client-classes"],
    }}
    conf = tmp_path / "kea.json"
    conf.write_text(json.dumps(config))
    result = run(["kea-dhcp4", "-t", conf])
    assert result.returncode == 0, result.stdout + result.stderr


def test_export_needs_the_server_address(tmp_path):
    ok("init", tmp_path / "t")
    result = kvm_netboot("export", "--format", "kea", "--tree", tmp_path / "t")
    assert result.returncode == 1
    assert "the server's address is not known yet" in result.stderr
    assert "192.0.2.7" in ok("export", "--format", "kea", "--tree", tmp_path / "t",
                             "--server", "192.0.2.7").stdout


def windows_media(tmp_path):
    """An ISO in the layout of Windows' install media (there is no Windows
    media here) and a virtio-win folder."""
    iso, root = make_iso(tmp_path, "windows", {
        "bootmgr": b"bootmgr\n",
        "boot/bcd": b"the media's own BCD\n",
        "boot/boot.sdi": os.urandom(3000),
        "sources/boot.wim": os.urandom(80000),
        "sources/install.wim": os.urandom(20000),
        "setup.exe": b"MZ setup\n",
    })
    virtio = tmp_path / "virtio-win"
    for driver in ("NetKVM", "viostor"):
        folder = virtio / driver / "w11" / "amd64"
        folder.mkdir(parents=True)
        for ext in ("inf", "sys", "cat"):
            (folder / f"{driver.lower()}.{ext}").write_text(f"{driver} {ext}\n")
    wimboot = tmp_path / "wimboot"
    wimboot.write_bytes(b"wimboot stand-in\n")
    return iso, root, virtio, wimboot


def bcd_export(path):
    if not shutil.which("hivexregedit"):
        pytest.skip("hivexregedit is not installed (scripts/install-deps installs "
                    "libwin-hivex-perl)")
    result = run(["hivexregedit", "--export", path, "\\"])
    assert result.returncode == 0, result.stderr
    return result.stdout


def utf16_hex(text):
    return ",".join(f"{b:02x}" for b in (text + "\0").encode("utf-16-le"))


def test_windows_profile_from_a_synthetic_iso(tree, tmp_path):
    iso, root, virtio, wimboot = windows_media(tmp_path)
    ok("add", "windows-11", "--from", iso, "--wimboot", wimboot, "--virtio-win", virtio,
       "--tree", tree)
    dest = tree / "boot/profiles/windows-11"
    for path in ["bootmgr", "boot/boot.sdi", "sources/boot.wim", "sources/install.wim",
                 "setup.exe"]:
        assert filecmp.cmp(dest / path, root / path, shallow=False), path
    assert filecmp.cmp(dest / "wimboot", wimboot, shallow=False)

    # The BCDs, read back by hivexregedit: Windows PE from RAM, the
    # loader of each firmware.
    for firmware, loader in (("bios", "winload.exe"), ("uefi", "winload.efi")):
        text = bcd_export(dest / "kvm-netboot" / f"bcd-{firmware}")
        winpe = "\\Objects\\{7619dcc9-fafe-11d9-b411-000476eba25f}\\Elements"
        assert f"[{winpe}\\26000022]\n\"Element\"=hex(3):01" in text  # winpe yes
        assert f"[{winpe}\\26000010]\n\"Element\"=hex(3):01" in text  # detecthal yes
        assert utf16_hex(f"\\windows\\system32\\boot\\{loader}") in text
        assert utf16_hex("\\sources\\boot.wim") in text  # the ramdisk's file
        assert utf16_hex("\\boot\\boot.sdi") in text
        assert "[\\Objects\\{9dea862c-5cdd-4e70-acc1-f32b344d4795}\\Description]\n" \
               "\"Type\"=dword:10100002" in text

    # The share: read-only, and accepted by Samba's own checker.
    share = tree / "samba/windows-11.conf"
    assert f"path = {dest.resolve()}\n" in share.read_text()
    assert "read only = yes" in share.read_text()
    if shutil.which("testparm"):
        result = run(["testparm", "-s", "--suppress-prompt", share])
        assert result.returncode == 0, result.stderr
        assert "[kvm-netboot-windows-11]" in result.stdout

    # A host: wimboot puts the answer file and setup's start into WinPE.
    answers = tmp_path / "autounattend.xml"
    answers.write_text("<unattend><!-- curl @CALLBACK_URL@ --></unattend>\n")
    ok("host", "add", MAC, "--profile", "windows-11", "--answers", answers, "--tree", tree,
       "--force")
    entry = (tree / f"boot/hosts/{HOST_ID}.ipxe").read_text()
    assert "kernel ../profiles/windows-11/wimboot\n" in entry
    assert "initrd -n BCD ../profiles/windows-11/kvm-netboot/${bcd}\n" in entry
    assert "initrd -n boot.wim ../profiles/windows-11/sources/boot.wim\n" in entry
    assert "initrd -n netkvm.sys ../profiles/windows-11/drivers/NetKVM/w11/amd64/netkvm.sys\n" \
        in entry
    assert f"initrd -n autounattend.xml ../answers/{HOST_ID}\n" in entry
    install = (dest / "kvm-netboot/install.cmd").read_text()
    assert "net use S: \\\\192.0.2.10\\kvm-netboot-windows-11" in install
    assert "drvload X:\\Windows\\System32\\netkvm.inf" in install
    assert "S:\\setup.exe /unattend:X:\\Windows\\System32\\autounattend.xml" in install


def test_windows_media_without_boot_wim_is_refused(tree, tmp_path):
    iso, _ = make_iso(tmp_path, "notwindows", {"setup.exe": b"MZ\n", "boot/boot.sdi": b"x"})
    result = kvm_netboot("add", "windows-10", "--from", iso, "--tree", tree)
    assert result.returncode == 1
    assert f"{iso}: no sources/boot.wim in it (is it Windows install media?)" in result.stderr
