# SPDX-License-Identifier: GPL-2.0-or-later
"""What the kvm-run tests make: disks with a Windows or Linux partition
layout written byte by byte, a root folder laid out as a distribution puts
its firmware, and a Linux guest (Debian's kernel and a busybox initramfs)
that reports on the serial console which disk it sees, then powers off."""
import os
import pathlib
import subprocess
import uuid

import kvmharness

SECTOR = 512
GUEST_MARKER = "KVM-RUN-GUEST"
DISK_TEXT = b"kvm-run test disk"

MS_BASIC_DATA = "EBD0A0A2-B9E5-4433-87C0-68B6B72699C7"
MS_RESERVED = "E3C9E316-0B5C-4DB8-817D-F92DF00215AE"
EFI_SYSTEM = "C12A7328-F81F-11D2-BA4B-00A0C93EC93B"
LINUX_FS = "0FC63DAF-8483-4772-8E79-3D69D8477DE4"
BIOS_BOOT = "21686148-6449-6E6F-744E-656564454649"

# Where each distribution puts what kvm-run looks for (host.c's tables).
LAYOUTS = {
    "debian": {
        "seabios": "/usr/share/seabios/bios-256k.bin",
        "ovmf": ("/usr/share/OVMF/OVMF_CODE_4M.fd", "/usr/share/OVMF/OVMF_VARS_4M.fd"),
        "ovmf-sb": ("/usr/share/OVMF/OVMF_CODE_4M.secboot.fd", "/usr/share/OVMF/OVMF_VARS_4M.ms.fd"),
    },
    "opensuse": {
        "seabios": "/usr/share/qemu/bios-256k.bin",
        "ovmf": ("/usr/share/qemu/ovmf-x86_64-4m-code.bin", "/usr/share/qemu/ovmf-x86_64-4m-vars.bin"),
        "ovmf-sb": ("/usr/share/qemu/ovmf-x86_64-ms-4m-code.bin",
                    "/usr/share/qemu/ovmf-x86_64-ms-4m-vars.bin"),
    },
    "fedora": {
        "seabios": "/usr/share/seabios/bios-256k.bin",
        "ovmf": ("/usr/share/edk2/ovmf/OVMF_CODE.fd", "/usr/share/edk2/ovmf/OVMF_VARS.fd"),
        "ovmf-sb": ("/usr/share/edk2/ovmf/OVMF_CODE.secboot.fd",
                    "/usr/share/edk2/ovmf/OVMF_VARS.secboot.fd"),
    },
}


def fake_root(root, layout="debian", virtio_win=True):
    """Empty files where LAYOUT's packages put SeaBIOS, OVMF and virtio-win."""
    files = LAYOUTS[layout]
    paths = [files["seabios"], *files["ovmf"], *files["ovmf-sb"]]
    if virtio_win:
        paths.append("/usr/share/virtio-win/virtio-win.iso")
    for path in paths:
        target = pathlib.Path(str(root) + path)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(b"firmware")
    return root


def fake_bin(folder):
    """Stand-ins for qemu-system-x86_64 and swtpm, for --dry-run, which
    only looks them up."""
    folder.mkdir(parents=True, exist_ok=True)
    for name in ("qemu-system-x86_64", "swtpm"):
        stub = folder / name
        stub.write_text("#!/bin/sh\nexit 1\n")
        stub.chmod(0o755)
    return folder


def fake_host_env(tmp_path, root, data_dir):
    """The environment of a kvm-run that sees only ROOT as the host and
    keeps its own files under TMP_PATH."""
    return {
        "PATH": str(fake_bin(tmp_path / "bin")),
        "HOME": str(tmp_path / "home"),
        "XDG_CONFIG_HOME": str(tmp_path / "config"),
        "XDG_STATE_HOME": str(tmp_path / "state"),
        "XDG_RUNTIME_DIR": str(tmp_path / "run"),
        "KVM_RUN_ROOT": str(root),
        "KVM_RUN_DATA_DIR": str(data_dir),
    }


def _mbr(entries):
    """A boot sector with up to four (type, first LBA, sectors) entries."""
    mbr = bytearray(SECTOR)
    for i, (ptype, first, count) in enumerate(entries):
        entry = 446 + 16 * i
        mbr[entry + 4] = ptype
        mbr[entry + 8:entry + 12] = first.to_bytes(4, "little")
        mbr[entry + 12:entry + 16] = count.to_bytes(4, "little")
    mbr[510:512] = b"\x55\xaa"
    return bytes(mbr)


def write_mbr_disk(path, ptype, filesystem=None, size=64 << 20):
    """A disk with one MBR partition at 1 MiB holding FILESYSTEM's start."""
    sectors = size // SECTOR
    with open(path, "wb") as f:
        f.truncate(size)
        f.write(_mbr([(ptype, 2048, sectors - 2048)]))
        if filesystem:
            f.seek(2048 * SECTOR)
            f.write(filesystem)
    return path


def write_gpt_disk(path, types, size=64 << 20):
    """A disk with a protective MBR and a GPT of TYPES, 8 MiB apart."""
    sectors = size // SECTOR
    header = bytearray(SECTOR)
    header[0:8] = b"EFI PART"
    header[8:12] = (0x00010000).to_bytes(4, "little")
    header[12:16] = (92).to_bytes(4, "little")
    header[24:32] = (1).to_bytes(8, "little")
    header[32:40] = (sectors - 1).to_bytes(8, "little")
    header[40:48] = (34).to_bytes(8, "little")
    header[48:56] = (sectors - 34).to_bytes(8, "little")
    header[72:80] = (2).to_bytes(8, "little")
    header[80:84] = (128).to_bytes(4, "little")
    header[84:88] = (128).to_bytes(4, "little")
    table = bytearray(128 * 128)
    for i, type_guid in enumerate(types):
        first = 2048 + i * 16384
        entry = table[i * 128:(i + 1) * 128]
        entry[0:16] = uuid.UUID(type_guid).bytes_le
        entry[16:32] = uuid.uuid4().bytes_le
        entry[32:40] = first.to_bytes(8, "little")
        entry[40:48] = (first + 16383).to_bytes(8, "little")
        table[i * 128:(i + 1) * 128] = entry
    with open(path, "wb") as f:
        f.truncate(size)
        f.write(_mbr([(0xEE, 1, sectors - 1)]))
        f.write(header)
        f.write(table)
    return path


def ntfs_boot_sector():
    sector = bytearray(2048)
    sector[0:3] = b"\xeb\x52\x90"
    sector[3:11] = b"NTFS    "
    return bytes(sector)


def ext4_start():
    start = bytearray(2048)
    start[1024 + 56:1024 + 58] = b"\x53\xef"
    return bytes(start)


def guest_kernel():
    """Debian's newest installed kernel, or None."""
    kernels = kvmharness.installed_kernels()
    return kernels[-1] if kernels else None


# Every profile's disk controller needs its driver in the initramfs.
GUEST_MODULES = ("virtio_blk", "virtio_pci", "ahci", "ata_piix", "sd_mod")

GUEST_INIT = f"""#!/bin/busybox sh
/bin/busybox --install -s /bin
export PATH=/bin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
for m in $(cat /modules.list); do insmod /modules/$m 2>/dev/null; done
disk=
for i in $(seq 1 50); do
	for d in vda sda hda; do
		[ -e /sys/block/$d ] && disk=$d && break 2
	done
	sleep 0.2
done
echo "{GUEST_MARKER} disk=$disk content=$(head -c {len(DISK_TEXT)} /dev/$disk 2>/dev/null)"
poweroff -f
"""


def build_guest_initramfs(path, kernel_version):
    """A busybox initramfs with the disk drivers of every profile; its init
    prints GUEST_MARKER, the disk it found and the disk's first bytes."""
    harness = kvmharness.Harness(kernel_version)
    cpio = kvmharness.busybox_initramfs(GUEST_INIT)
    names = []
    for ko in harness.module_closure(GUEST_MODULES):
        cpio.file(f"modules/{ko.name}", ko.read_bytes())
        names.append(ko.name)
    cpio.file("modules.list", "\n".join(names).encode() + b"\n")
    cpio.write(path)
    return path


def guest_disk(path, fmt):
    """A disk whose first bytes are DISK_TEXT, in format FMT (via qemu-img)."""
    raw = path.with_suffix(".raw")
    with open(raw, "wb") as f:
        f.truncate(16 << 20)
        f.write(DISK_TEXT)
    if fmt == "raw":
        return raw
    subprocess.run(["qemu-img", "convert", "-q", "-O", fmt, raw, path], check=True)
    os.unlink(raw)
    return path
