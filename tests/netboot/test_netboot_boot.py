# SPDX-License-Identifier: GPL-2.0-or-later
"""End to end: QEMU guests (software emulation) on a tap device of a
bridge in a namespace boot from the network served by `kvm-netboot serve`.

The profile is Debian's kernel and a busybox initramfs built here.  The host
entry's installer fetches its answer file (kvm-install's test profile,
rendered with callback_url=@CALLBACK_URL@) over HTTP, writes the host name
it holds to the guest's disk as the marker, fetches the callback URL the
server put into the answer file, and powers off.  The test checks the marker on
the disk, the callback, and that the next boot of that MAC goes to the
local disk.  The "site" DHCP server that hands out addresses is a separate
plain dnsmasq, as on a real network: kvm-netboot serve runs with its
default, proxy-DHCP only."""
import fcntl
import pathlib
import shutil
import time
import uuid

import pytest

from conftest import require_program
import kvmharness
from netboot_fixtures import Netns, Server, http_get, kvm_install, kvm_netboot, require_root, served_dir

# Boots guests: the sanitizer pass leaves it out.
pytestmark = pytest.mark.guest

BOOT_TIMEOUT = 240
MAC = "52:54:00:4e:42:01"
HOST_ID = "01-52-54-00-4e-42-01"
DONE = "KVMNB-INSTALLER-DONE"
DISK_TAG = b"KVMNB-DISK "

# The "installer": it reads the URLs kvm-netboot put on its command line.
INSTALLER_INIT = f"""#!/bin/busybox sh
/bin/busybox --install -s /bin
export PATH=/bin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
for m in $(cat /modules.order); do insmod /modules/$m; done
cat > /udhcpc.script <<'SCRIPT'
#!/bin/sh
[ "$1" = bound ] && ifconfig "$interface" "$ip" netmask "$subnet" up
exit 0
SCRIPT
chmod +x /udhcpc.script
arg() {{ tr ' ' '\\n' </proc/cmdline | sed -n "s/^$1=//p"; }}
n=0
while ! ip link show eth0 >/dev/null 2>&1 && [ $n -lt 50 ]; do sleep 0.2; n=$((n + 1)); done
ip link set eth0 up
udhcpc -i eth0 -s /udhcpc.script -q -n -t 20 -T 2 || echo KVMNB-NO-LEASE
wget -q -O /answers "$(arg kvm_netboot.answers)" || echo KVMNB-NO-ANSWERS
marker=$(sed -n 's|^write /etc/hostname ||p' /answers)
printf '{DISK_TAG.decode()}%s\\n' "$marker" | dd of=/dev/vda conv=notrunc 2>/dev/null
sync
wget -q -O /callback "$(sed -n 's/^callback //p' /answers)" && cat /callback
echo "KVMNB-SECUREBOOT $(dmesg | grep -o 'Secure boot enabled' | head -n 1)"
echo {DONE} "$marker"
poweroff -f
"""


def installer_initramfs(harness, path):
    cpio = kvmharness.busybox_initramfs(INSTALLER_INIT)
    order = []
    for ko in harness.module_closure(["virtio_pci", "virtio_net", "virtio_blk"]):
        name = ko.name
        if name not in order:
            order.append(name)
            data = ko.read_bytes()
            if name.endswith(".xz") or name.endswith(".zst"):
                raise RuntimeError(f"{ko}: compressed modules are not handled")
            cpio.file(f"modules/{name}", data)
    cpio.file("modules.order", " ".join(order).encode())
    cpio.write(path)


def make_lab(serve_options, site_dhcp):
    """A tree with the test profile, served in a new namespace; with
    SITE_DHCP, beside a plain dnsmasq that hands out the addresses and
    sends IPv6 router advertisements (without them, iPXE waits 13 s for
    one).  Returns (namespace, tree, folder, server, cleanup)."""
    require_root()
    require_program("qemu-system-x86_64")
    require_program("dnsmasq")
    kvmharness.require()
    tmp = served_dir("kvmnb-lab-")
    harness = kvmharness.Harness()
    src = tmp / "installer"
    src.mkdir()
    shutil.copyfile(harness.vmlinuz, src / "vmlinuz")
    installer_initramfs(harness, src / "initrd")
    tree = tmp / "tree"
    for argv in (["init", tree, "--timeout", "3"],
                 ["add", "linux", "--from", src, "--name", "installer", "--tree", tree,
                  "--append", "console=ttyS0 quiet panic=-1"]):
        result = kvm_netboot(*argv)
        assert result.returncode == 0, result.stderr
    ns = Netns("10.77.0.1", ipv6="fd77::1/64")
    if site_dhcp:
        ns.spawn(["dnsmasq", "--keep-in-foreground", "--conf-file=/dev/null",
                  "--log-facility=-", "--port=0", "--interface=br0", "--bind-interfaces",
                  "--leasefile-ro", "--pid-file=", "--dhcp-range=10.77.0.100,10.77.0.150,1h",
                  "--enable-ra", "--dhcp-range=::,constructor:br0,ra-only"],
                 tmp / "site-dhcp.log")
    server = Server(ns, tree, tmp / "serve.log", *serve_options)

    def cleanup():
        try:
            status = server.stop()
            text = server.text()
        finally:
            ns.close()
            shutil.rmtree(tmp)
        assert status == 0, text

    return ns, tree, tmp, server, cleanup


@pytest.fixture(scope="module")
def lab():
    """kvm-netboot serve with its defaults (proxy-DHCP) beside a site DHCP
    server."""
    *lab, cleanup = make_lab((), site_dhcp=True)
    yield lab
    cleanup()


@pytest.fixture(scope="module")
def secure_lab():
    """kvm-netboot serve handing out addresses, with --secure-boot."""
    *lab, cleanup = make_lab(("--dhcp-range", "10.77.0.50,10.77.0.60", "--secure-boot"),
                             site_dhcp=False)
    yield lab
    cleanup()


def guest_lock():
    """The KVM harness's machine-wide lock: one software-emulated guest at
    a time, so that none is starved into a timeout."""
    path = kvmharness._cache_dir() / "kvmharness.lock"
    path.parent.mkdir(parents=True, exist_ok=True)
    lock = open(path, "w")
    fcntl.flock(lock, fcntl.LOCK_EX)
    return lock


def qemu(ns, tmp, disk, tag, firmware, until, timeout=BOOT_TIMEOUT):
    """Boots a guest from the network; returns (console, debug log) once
    UNTIL(console, debug) is true or QEMU exits."""
    tap = "tap" + uuid.uuid4().hex[:6]
    ns.add_tap(tap)
    console = tmp / f"{tag}-console.log"
    debug = tmp / f"{tag}-firmware.log"
    argv = ["qemu-system-x86_64", "-accel", "tcg", "-m", "512", "-nodefaults", "-no-reboot",
            "-display", "none", "-serial", f"file:{console}",
            "-chardev", f"file,id=dbg,path={debug}", "-device", "isa-debugcon,iobase=0x402,chardev=dbg",
            "-drive", f"file={disk},format=raw,if=none,id=disk0",
            "-device", "virtio-blk-pci,drive=disk0,bootindex=2",
            "-netdev", f"tap,id=n0,ifname={tap},script=no,downscript=no"]
    if firmware == "bios":
        argv += ["-device", f"virtio-net-pci,netdev=n0,mac={MAC},bootindex=1"]
    elif firmware == "secure-boot":
        # Secure Boot enforced with Microsoft's keys, as on a PC: only
        # signed loaders (shim, then GRUB, then Debian's kernel) run.
        vars_copy = tmp / f"{tag}-vars.fd"
        shutil.copyfile("/usr/share/OVMF/OVMF_VARS_4M.ms.fd", vars_copy)
        argv += ["-machine", "q35,smm=on",
                 "-global", "driver=cfi.pflash01,property=secure,value=on",
                 "-drive", "if=pflash,format=raw,readonly=on,"
                           "file=/usr/share/OVMF/OVMF_CODE_4M.secboot.fd",
                 "-drive", f"if=pflash,format=raw,file={vars_copy}",
                 "-device", f"virtio-net-pci,netdev=n0,mac={MAC},bootindex=1,romfile="]
    else:
        vars_copy = tmp / f"{tag}-vars.fd"
        shutil.copyfile("/usr/share/OVMF/OVMF_VARS_4M.fd", vars_copy)
        # OVMF's own PXE (no iPXE ROM): option 93 says UEFI, the server
        # hands out snponly.efi over TFTP.
        argv += ["-machine", "q35",
                 "-drive", "if=pflash,format=raw,readonly=on,file=/usr/share/OVMF/OVMF_CODE_4M.fd",
                 "-drive", f"if=pflash,format=raw,file={vars_copy}",
                 "-device", f"virtio-net-pci,netdev=n0,mac={MAC},bootindex=1,romfile="]
    with guest_lock():
        proc = ns.spawn(argv, tmp / f"{tag}-qemu.log")
        deadline = time.monotonic() + timeout
        try:
            while proc.poll() is None and time.monotonic() < deadline:
                text = console.read_text(errors="replace") if console.exists() else ""
                fw = debug.read_text(errors="replace") if debug.exists() else ""
                if until(text, fw):
                    break
                time.sleep(0.5)
        finally:
            if proc.poll() is None:
                proc.kill()
            proc.wait()
    text = console.read_text(errors="replace") if console.exists() else ""
    fw = debug.read_text(errors="replace") if debug.exists() else ""
    return text, fw


def arm_host(tree, tmp, marker):
    """Arms the host with kvm-install's test-profile answer file, so the
    callback the guest makes is the one the template writes."""
    answers = tmp / f"{marker}.answers"
    result = kvm_install("render", "test", "--set", f"hostname={marker}", "--set", "password=x",
                         "--set", "callback_url=@CALLBACK_URL@", "--output", answers, "--force")
    assert result.returncode == 0, result.stderr
    result = kvm_netboot("host", "add", MAC, "--profile", "installer", "--answers", answers,
                         "--tree", tree, "--force")
    assert result.returncode == 0, result.stderr


def disk_marker(disk):
    data = disk.read_bytes()[:512]
    if not data.startswith(DISK_TAG):
        return None
    return data[len(DISK_TAG):].split(b"\n")[0].decode()


@pytest.mark.parametrize("firmware", ["bios", "uefi"])
def test_guest_installs_once_then_boots_locally(lab, firmware):
    ns, tree, tmp, server = lab
    if firmware == "uefi" and not pathlib.Path("/usr/share/OVMF/OVMF_CODE_4M.fd").exists():
        pytest.skip("OVMF is not installed (scripts/install-deps installs ovmf)")
    marker = f"installed-{firmware}-{uuid.uuid4().hex[:8]}"
    arm_host(tree, tmp, marker)
    disk = tmp / f"{firmware}.raw"
    disk.write_bytes(b"\0" * (8 << 20))

    started = time.monotonic()
    console, _ = qemu(ns, tmp, disk, f"{firmware}-install", firmware,
                      lambda text, fw: DONE in text)
    seconds = time.monotonic() - started
    assert f"{DONE} {marker}" in console, \
        f"the installer did not finish:\n{console[-3000:]}\n--- serve ---\n{server.text()[-3000:]}"
    assert disk_marker(disk) == marker
    log = server.text()
    assert f"GET /answers/{HOST_ID} 200" in log
    assert f"GET /callback/{HOST_ID} 200" in log
    assert f"host {HOST_ID} installed installer" in log
    if firmware == "uefi":
        # Option 93 said UEFI: the loader came over TFTP, then the script.
        assert "efi64" in log and "snponly.efi to 10.77.0." in log, log[-4000:]
    listing = kvm_netboot("host", "list", "--tree", tree, "--output", "json")
    assert '"installed": true' in listing.stdout, listing.stdout
    status, body = http_get(ns, f"http://10.77.0.1/answers/{HOST_ID}")
    assert status == 404, "the answer file is still served after the install"
    print(f"{firmware}: network install in {seconds:.0f} s")

    # The next boot of that MAC: the server sends it to the local disk
    # (SeaBIOS says so on its debug port; iPXE under UEFI on the console).
    before = len(server.text())
    local = "Booting from Hard Disk" if firmware == "bios" else "is installed: booting the local disk"
    console, fw = qemu(ns, tmp, disk, f"{firmware}-local", firmware,
                       lambda text, fw: local in text + fw, timeout=150)
    after = server.text()[before:]
    assert f"GET /hosts/{HOST_ID}.ipxe 200" in after, after
    assert local in console + fw, f"{console[-2000:]}\n--- firmware ---\n{fw[-2000:]}"
    assert "/profiles/installer/" not in after, "the installed host was sent the installer again"
    assert disk_marker(disk) == marker


def test_secure_boot_guest_installs_through_shim_and_grub(secure_lab):
    """OVMF with Secure Boot enforced: shim, GRUB and Debian's kernel, all
    signed, over TFTP with full DHCP."""
    ns, tree, tmp, server = secure_lab
    for firmware_file in ("OVMF_CODE_4M.secboot.fd", "OVMF_VARS_4M.ms.fd"):
        if not pathlib.Path("/usr/share/OVMF", firmware_file).exists():
            pytest.skip("OVMF is not installed (scripts/install-deps installs ovmf)")
    if not (tree / "boot" / "bootx64.efi").exists():
        pytest.skip("shim-signed is not installed (scripts/install-deps installs it)")
    marker = f"installed-sb-{uuid.uuid4().hex[:8]}"
    arm_host(tree, tmp, marker)
    disk = tmp / "secure-boot.raw"
    disk.write_bytes(b"\0" * (8 << 20))
    console, _ = qemu(ns, tmp, disk, "sb-install", "secure-boot", lambda text, fw: DONE in text)
    log = server.text()
    assert f"{DONE} {marker}" in console, f"{console[-3000:]}\n--- serve ---\n{log[-3000:]}"
    # The kernel's own word that the firmware enforced Secure Boot.
    assert "KVMNB-SECUREBOOT Secure boot enabled" in console, "Secure Boot was not enforced"
    assert disk_marker(disk) == marker
    assert "bootx64.efi to 10.77.0." in log and "grubx64.efi to 10.77.0." in log, log[-3000:]
    assert f"GET /callback/{HOST_ID} 200" in log

    # The next boot going local is shown by the BIOS and UEFI guests; here,
    # that GRUB's entry for the host now says so.
    entry = (tree / "boot" / "grub" / "hosts" / f"{MAC}.cfg").read_text()
    assert "set default=local" in entry and "profiles/installer" not in entry
