# SPDX-License-Identifier: GPL-2.0-or-later
"""What the kvm-install tests share: the program, run with the templates
of this checkout (or of the installed tree under test)."""
import contextlib
import fcntl
import os
import pathlib
import select
import subprocess
import time

import pytest

import kvmharness
from conftest import TOP, built_program, run

# Every profile and the answer file it renders.
PROFILES = {
    "debian-12": "preseed",
    "ubuntu-24.04": "autoinstall",
    "fedora": "kickstart",
    "rhel-9": "kickstart",
    "opensuse-leap-15.6": "autoyast",
    "opensuse-tumbleweed": "agama",
    "windows-10": "autounattend",
    "windows-11": "autounattend",
    "windows-server-2022": "autounattend",
    "test": "plain",
}


def install_env(**extra):
    env = dict(os.environ)
    if not os.environ.get("KVM_BIN_DIR"):
        env["KVM_INSTALL_DATA_DIR"] = str(TOP / "installer")
    env.update(extra)
    return env


@pytest.fixture(scope="session")
def kvm_install():
    """Runs kvm-install with the given arguments; returns CompletedProcess."""
    path = built_program("kvm-install")

    def call(*args, env=None, **kwargs):
        return run([path, *args], env=env or install_env(), **kwargs)

    call.path = path
    return call


@contextlib.contextmanager
def machine_lock():
    """The KVM harness's machine-wide lock: one emulated guest at a time,
    since a starved guest times out on this machine's few cores."""
    path = kvmharness._cache_dir() / "kvmharness.lock"
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        yield


# The test profile's installer: it fetches the answer file from the URL on
# its command line, writes the files it names below /target, and puts
# /target on the new disk as a tar archive (no mkfs in busybox), so the
# test reads them back with Python's tarfile.
TEST_INSTALLER = """#!/bin/busybox sh
/bin/busybox --install -s /bin
export PATH=/bin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
for m in $(cat /modules.order); do insmod /modules/$m; done
# The answer file's URL, however the profile's installer is told it.
for arg in $(cat /proc/cmdline); do
	case $arg in
	kvm-install.url=*|inst.ks=*|autoyast=*|agama.auto=*|url=*)
		url=${{arg#*=}}
		;;
	ds=nocloud-net\\;s=*)
		seed=${{arg#*;s=}}
		url=${{seed}}user-data
		;;
	esac
done
ip link set eth0 up
ip addr add 10.0.2.15/24 dev eth0
ip route add default via 10.0.2.2
{before_fetch}
if wget -q -O /answer "$url"; then
	echo KVM-INSTALL-FETCHED
	mkdir -p /target
	cd /target
	while read -r verb path rest; do
		case $verb in
		write|append)
			mkdir -p "./${{path%/*}}"
			if [ $verb = write ]; then
				printf '%s\\n' "$rest" >"./$path"
			else
				printf '%s\\n' "$rest" >>"./$path"
			fi
			;;
		run)
			sh -c "$path $rest"
			;;
		esac
	done </answer
	cp /answer ./answer
	cat /proc/cmdline >./cmdline
	if [ -n "$seed" ] && wget -q -O ./meta-data "${{seed}}meta-data"; then
		echo KVM-INSTALL-META-DATA
	fi
	{before_write}
	tar -cf /dev/vda . && sync && echo KVM-INSTALL-WROTE
fi
poweroff -f
"""

MODULES = ("virtio_pci", "virtio_blk", "virtio_net")


def build_test_installer(path, before_fetch="", before_write=""):
    """Writes the test installer's initramfs to path; returns the kernel."""
    harness = kvmharness.Harness()
    cpio = kvmharness.busybox_initramfs(TEST_INSTALLER.format(before_fetch=before_fetch,
                                                             before_write=before_write))
    order = []
    for ko in harness.module_closure(MODULES):
        cpio.file("modules/" + ko.name, ko.read_bytes())
        order.append(ko.name)
    cpio.file("modules.order", ("\n".join(order) + "\n").encode())
    cpio.write(path)
    return harness.vmlinuz


def debian_archive():
    """The Debian archive to install from: KVM_TEST_MIRROR, else the first
    bookworm archive this machine's apt sources name (read at run time,
    never written into the repository).  Returns (URL, complete), complete
    meaning KVM_TEST_MIRROR vouches for a full archive, udebs included."""
    mirror = os.environ.get("KVM_TEST_MIRROR")
    if mirror:
        return mirror, True
    apt = pathlib.Path("/etc/apt")
    files = [apt / "sources.list", *sorted((apt / "sources.list.d").glob("*"))]
    for path in files:
        if not path.is_file():
            continue
        text = path.read_text(errors="replace")
        if path.suffix == ".sources":
            for block in text.split("\n\n"):
                fields = dict(line.split(":", 1) for line in block.splitlines()
                              if ":" in line and not line.startswith("#"))
                suites = fields.get("Suites", "").split()
                for uri in fields.get("URIs", "").split():
                    if "bookworm" in suites and uri.startswith("http"):
                        return uri, False
        else:
            for line in text.splitlines():
                words = [w for w in line.split() if not w.startswith("[")]
                if len(words) >= 3 and words[0] == "deb" and words[2] == "bookworm" \
                        and words[1].startswith("http"):
                    return words[1], False
    pytest.skip("no bookworm archive in /etc/apt/sources.list*; set KVM_TEST_MIRROR")


def boot_to_login(disk, marker, tmp_path, timeout=900):
    """Boots the installed disk with kvm-run under TCG, as kvm-install
    tells users to, until the login prompt after marker; returns the
    console.  Fails the test when it does not come."""
    kvm_run = built_program("kvm-run")
    env = dict(os.environ, XDG_STATE_HOME=str(tmp_path / "state"))
    if not os.environ.get("KVM_BIN_DIR"):
        env["KVM_RUN_DATA_DIR"] = str(TOP / "qemu-kvm")
    console = []
    with machine_lock():
        proc = subprocess.Popen([kvm_run, "--disk", disk, "--accel", "tcg", "--memory", "1G",
                                 "--console", "serial", "--net", "none", "--name", "installed"],
                                stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                stderr=subprocess.STDOUT, env=env)
        deadline = time.monotonic() + timeout
        try:
            os.set_blocking(proc.stdout.fileno(), False)
            while time.monotonic() < deadline and proc.poll() is None:
                ready, _, _ = select.select([proc.stdout], [], [], 5)
                if ready:
                    console.append(proc.stdout.read() or b"")
                    text = b"".join(console).decode(errors="replace")
                    after = text.split(marker, 1)
                    if len(after) == 2 and "login:" in after[1]:
                        return text
        finally:
            proc.kill()
            proc.wait()
    text = b"".join(console).decode(errors="replace")
    pytest.fail(f"no login prompt after {marker} within {timeout} s:\n{text[-3000:]}")
