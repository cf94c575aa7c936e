# SPDX-License-Identifier: GPL-2.0-or-later
"""What the kvm-install tests share: the program, run with the templates
of this checkout (or of the installed tree under test)."""
import contextlib
import fcntl
import os

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
url=$(sed -n 's/.*kvm-install.url=\\([^ ]*\\).*/\\1/p' /proc/cmdline)
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
