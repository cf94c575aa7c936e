# SPDX-License-Identifier: GPL-2.0-or-later
"""End to end: a Debian system made by debootstrap, on a disk set up the way
a VMware guest's often is (fstab and boot loader naming /dev/sda1, an
initramfs without virtio drivers, open-vm-tools installed), converted to
streamOptimized VMDK and wrapped into an OVA as vSphere exports it, is
imported with --fix-guest and booted by kvm-run under software emulation on
virtio devices; it must reach a marker on the serial console with its root
on /dev/vda1 and open-vm-tools gone.

The debootstrap root is cached in ~/.cache/kvm-bundle/import/, keyed on
what it is made of; the first run downloads about 150 MB from the archive
this machine's apt sources name."""
import hashlib
import os
import pathlib
import re
import shutil
import subprocess

import pytest

from conftest import TOP, program_path, require_program, run
from ovf_fixtures import make_ova, manifest, ovf_descriptor

# Boots a guest: the sanitizer pass leaves it out.
pytestmark = pytest.mark.guest

SUITE = "bookworm"
PACKAGES = ["linux-image-amd64", "initramfs-tools", "extlinux", "systemd-sysv", "udev",
            "open-vm-tools"]
CACHE = pathlib.Path(os.environ.get("XDG_CACHE_HOME", pathlib.Path.home() / ".cache")) \
    / "kvm-bundle" / "import"
BOOT_TIMEOUT = 900

MARKER_SERVICE = """[Unit]
Description=kvm-image import test marker
After=local-fs.target

[Service]
Type=oneshot
ExecStart=/usr/local/sbin/import-marker

[Install]
WantedBy=multi-user.target
"""

MARKER_SCRIPT = """#!/bin/sh
tools=$(dpkg-query -W -f='${db:Status-Status}' open-vm-tools 2>/dev/null || echo none)
echo "KVM-IMPORT-BOOTED root=$(findmnt -n -o SOURCE /) open-vm-tools=${tools:-none}" >/dev/ttyS0
systemctl poweroff
"""


def mirror():
    """The Debian archive this machine's apt sources name."""
    for source in [pathlib.Path("/etc/apt/sources.list"),
                   *pathlib.Path("/etc/apt/sources.list.d").glob("*")]:
        if not source.is_file():
            continue
        text = source.read_text()
        match = re.search(r"^URIs:\s*(\S+/debian)\s*$", text, re.M) or \
            re.search(r"^deb\s+(?:\[[^]]*\]\s+)?(\S+/debian)\s+" + SUITE, text, re.M)
        if match:
            return match.group(1)
    return None


def debian_root():
    """The cached tarball of the debootstrap root, made when missing."""
    require_program("debootstrap")
    url = mirror()
    if not url:
        pytest.skip("no Debian archive in this machine's apt sources")
    key = hashlib.sha256(f"{SUITE} {url} {' '.join(PACKAGES)} minbase v1".encode()).hexdigest()
    tarball = CACHE / f"debian-{SUITE}-{key[:16]}.tar"
    if tarball.exists():
        return tarball
    CACHE.mkdir(parents=True, exist_ok=True)
    root = CACHE / f"root-{key[:16]}.tmp"
    shutil.rmtree(root, ignore_errors=True)
    result = run(["nice", "debootstrap", "--variant=minbase", "--include=" + ",".join(PACKAGES),
                  SUITE, root, url], timeout=1800)
    if result.returncode != 0:
        shutil.rmtree(root, ignore_errors=True)
        pytest.skip(f"debootstrap could not make a {SUITE} root from {url}: "
                    f"{result.stderr.strip().splitlines()[-1:]}")
    partial = tarball.with_suffix(".partial")
    subprocess.run(["tar", "-C", root, "--numeric-owner", "-cf", partial, "."], check=True)
    shutil.rmtree(root, ignore_errors=True)
    os.replace(partial, tarball)
    return tarball


def guestfish(script, env):
    result = subprocess.run(["guestfish", "--"], input=script, text=True, capture_output=True,
                            env=env, timeout=1200)
    if "guestfs_launch failed" in result.stderr:
        # /dev/kvm is there but unusable (as on this CI host): libguestfs
        # does not fall back to software emulation by itself.
        result = subprocess.run(["guestfish", "--"], input=script, text=True,
                                capture_output=True, timeout=1200,
                                env=dict(env, LIBGUESTFS_BACKEND_SETTINGS="force_tcg"))
    assert result.returncode == 0, result.stderr


def make_vmware_disk(tmp_path, tarball, env):
    """A raw disk with the Debian root on /dev/sda1, set up as VMware left it."""
    kernel = sorted(re.findall(r"\./boot/(vmlinuz-\S+)",
                               run(["tar", "-tf", tarball], check=True).stdout))[-1]
    version = kernel[len("vmlinuz-"):]
    (tmp_path / "marker.service").write_text(MARKER_SERVICE)
    (tmp_path / "import-marker").write_text(MARKER_SCRIPT)
    disk = tmp_path / "vmware.raw"
    extlinux = ("DEFAULT debian\\nLABEL debian\\n"
                f"  LINUX /boot/vmlinuz-{version}\\n  INITRD /boot/initrd.img-{version}\\n"
                "  APPEND root=/dev/sda1 ro console=ttyS0\\n")
    guestfish(f"""sparse {disk} 3G
run
part-disk /dev/sda mbr
part-set-bootable /dev/sda 1 true
mkfs ext3 /dev/sda1
mount /dev/sda1 /
tar-in {tarball} /
write /etc/fstab "/dev/sda1 / ext3 errors=remount-ro 0 1\\n"
write /etc/hostname "vmware-guest\\n"
write /etc/initramfs-tools/conf.d/vmware "MODULES=list\\n"
write /etc/initramfs-tools/modules "mptspi\\nvmw_pvscsi\\nahci\\nsd_mod\\next4\\n"
command "update-initramfs -c -k {version}"
mkdir-p /boot/extlinux
write /boot/extlinux/extlinux.conf "{extlinux}"
command "extlinux --install /boot/extlinux"
copy-file-to-device /usr/lib/EXTLINUX/mbr.bin /dev/sda size:440
upload {tmp_path / 'marker.service'} /etc/systemd/system/import-marker.service
upload {tmp_path / 'import-marker'} /usr/local/sbin/import-marker
chmod 0755 /usr/local/sbin/import-marker
ln-s /etc/systemd/system/import-marker.service /etc/systemd/system/multi-user.target.wants/import-marker.service
umount-all
""", env)
    return disk


def test_imported_debian_guest_boots_on_virtio(kvm_image, tmp_path):
    for tool in ("guestfish", "qemu-img", "qemu-system-x86_64"):
        require_program(tool)
    kvm_run = program_path("kvm-run")
    if not kvm_run.exists():
        pytest.skip(f"{kvm_run} is not built")
    env = dict(os.environ)
    tarball = debian_root()
    disk = make_vmware_disk(tmp_path, tarball, env)
    vmdk = tmp_path / "debian-disk1.vmdk"
    subprocess.run(["qemu-img", "convert", "-O", "vmdk", "-o", "subformat=streamOptimized",
                    disk, vmdk], check=True)
    disk.unlink()
    ovf = ovf_descriptor("debian", [(vmdk.name, vmdk.stat().st_size)],
                         capacities=[("3", "byte * 2^30")], memory_mib=512, cpus=1).encode()
    members = [("debian.ovf", ovf)]
    members.append(("debian.mf", manifest(members + [(vmdk.name, vmdk)], "SHA256")))
    members.append((vmdk.name, vmdk))
    ova = make_ova(tmp_path / "debian.ova", members)
    vmdk.unlink()

    result = kvm_image("import", ova, "--output", tmp_path / "guest", "--fix-guest",
                       "--no-progress", timeout=1800)
    assert result.returncode == 0, result.stderr
    report = (tmp_path / "guest" / "report.txt").read_text()
    assert "removed open-vm-tools" in report, report
    assert "/etc/fstab: 1 device name replaced by UUID" in report, report
    assert "/boot/extlinux/extlinux.conf: 1 device name replaced by UUID" in report, report
    assert "initramfs rebuilt by update-initramfs" in report, report

    boot_env = dict(env, XDG_STATE_HOME=str(tmp_path / "state"))
    if not os.environ.get("KVM_BIN_DIR"):
        # The shipped profiles, which the guest's profile inherits.
        boot_env["KVM_RUN_DATA_DIR"] = str(TOP / "qemu-kvm")
    boot = subprocess.run(
        ["nice", kvm_run, "--profile", tmp_path / "guest" / "debian.profile", "--accel", "tcg",
         "--disk", tmp_path / "guest" / "debian.qcow2", "--memory", "512M", "--console",
         "serial", "--net", "none", "--name", "import-test"],
        stdin=subprocess.DEVNULL, capture_output=True, text=True, errors="replace",
        timeout=BOOT_TIMEOUT, env=boot_env)
    # dpkg remembers a purged package as not-installed.
    marker = re.search(r"KVM-IMPORT-BOOTED root=(\S+) open-vm-tools=(\S+)", boot.stdout)
    assert marker, boot.stdout[-3000:] + boot.stderr
    assert marker.group(1) == "/dev/vda1"
    assert marker.group(2) in ("none", "not-installed")
