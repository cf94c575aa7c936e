# SPDX-License-Identifier: GPL-2.0-or-later
"""The KVM harness: a guest with working KVM on a machine without it.

This machine has no VT-x or AMD-V, but QEMU's software emulation with
`-cpu EPYC` emulates AMD SVM (nested paging included) well enough that
Debian's kernel (linux-image-amd64) loads kvm and kvm_amd inside it and
/dev/kvm works there.  The harness boots that kernel under
`qemu-system-x86_64 -cpu EPYC -accel tcg` with an initramfs it builds
(busybox-static, the kernel modules asked for, any extra files), shares the
host's root read-only over 9p, and runs a shell script inside.  The host's
own programs (kvm-ok from the build folder, qemu-system-x86_64) run in the
guest through `chroot /host`.  Nothing is ever loaded into the host's
kernel.

The outer QEMU exits 0 whatever happens inside, so results come back as
markers: lines the guest writes to a second serial port, parsed into a
RunResult.  A run takes 10 to 30 seconds.

API
---
    import kvmharness

    reason = kvmharness.unavailable_reason()   # None, or why it cannot run
    harness = kvmharness.Harness()             # newest installed Debian kernel
    result = harness.run('''
        modprobe kvm_amd && mark kvm-loaded
        report kvm-ok host_run /path/to/kvm-ok
        report guest boot_guest
    ''', modules=["kvm_amd"], timeout=300)
    assert result.finished, result.explain()
    assert "kvm-loaded" in result.markers
    assert result.reports["kvm-ok"].status == 0
    assert kvmharness.GUEST_MARKER in result.reports["guest"].output

Harness(kernel_version=None, memory_mb=1024, cpu="EPYC")
    kernel_version: a folder of /lib/modules with a matching /boot/vmlinuz-*;
    default the newest one.  .kernel_version and .vmlinuz say which.

Harness.run(script, modules=(), files=None, timeout=300, append="")
    script:  busybox sh run as root in the guest after set-up.
    modules: names of in-tree modules of the kernel to put in the initramfs,
             with their dependencies (modprobe --show-depends); the script
             loads them with `modprobe NAME`.  virtio and 9p are always there.
    files:   {path in the guest: host path or bytes}; a path under
             /lib/modules/VERSION/ is seen by depmod, so a module placed in
             updates/ there wins over the in-tree one, as on a real host.
    timeout: seconds before the outer QEMU is killed (result.timed_out).
    append:  extra kernel command line.
    Returns a RunResult.  Runs are serialised machine-wide with a lock,
    since the machine has few cores and a starved guest times out.

Inside the guest the script has:
    mark NAME [VALUE...]  record a marker (one line; the last one of a name wins)
    report NAME CMD...    run CMD (a program or a shell function), record its
                          exit status and combined output
    host_run CMD...       run a host program: chroot /host with a clean
                          environment; /proc, /sys, /dev are the guest's,
                          /run is a writable tmpfs
    boot_guest [ARGS...]  run the host's qemu-system-x86_64 with -accel kvm
                          -cpu host on this kernel and a tiny initramfs that
                          prints GUEST_MARKER and powers off (ARGS are added
                          to QEMU's command line); exits non-zero on failure
    $KERNEL_VERSION       the guest kernel's version

RunResult fields: console (the serial console), markers {name: value},
reports {name: Report(status, output)}, finished (the script returned and
the guest powered off cleanly), timed_out, seconds, and explain(), a text for
assertion messages.

Smaller pieces, for tests that build their own guests: installed_kernels(),
Cpio (an initramfs writer: directory, file, symlink, char_device, tree,
data, write), busybox_initramfs(init_script), parse_markers(text), and
Harness.module_closure(names) (the .ko files of in-tree modules with their
dependencies), Harness.build_initramfs(script, modules, files, path) and
Harness.qemu_command(initramfs, console, markers) to run QEMU yourself.
In the guest, /run/kvmharness/guest.cpio (seen from host_run) is the
initramfs boot_guest uses, for tests that start the inner guest their own way.
"""
import dataclasses
import fcntl
import os
import pathlib
import shutil
import stat
import subprocess
import tempfile
import time

GUEST_MARKER = "KVMHARNESS-GUEST-BOOTED"
MARK = "KVMHARNESS-MARK"
BEGIN = "KVMHARNESS-BEGIN"
END = "KVMHARNESS-END"

BUSYBOX = pathlib.Path("/bin/busybox")
QEMU = "qemu-system-x86_64"
# What the set-up itself needs: virtio over PCI and the 9p file system.
BASE_MODULES = ("virtio_pci", "9pnet_virtio", "9p")


def _cache_dir():
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return pathlib.Path(base) / "kvm-bundle"


def installed_kernels():
    """Versions with both a /boot/vmlinuz-VERSION and modules, oldest first."""
    found = []
    for vmlinuz in pathlib.Path("/boot").glob("vmlinuz-*"):
        version = vmlinuz.name[len("vmlinuz-"):]
        if (pathlib.Path("/lib/modules") / version / "kernel").is_dir():
            found.append(version)
    return sorted(found, key=_version_key)


def _version_key(version):
    return [int(p) if p.isdigit() else p for p in version.replace("-", ".").split(".")]


def _is_static(path):
    """Whether an ELF file has no program interpreter (is statically linked)."""
    data = path.read_bytes()[:4096]
    if data[:4] != b"\x7fELF" or data[4] != 2:
        return False
    phoff = int.from_bytes(data[32:40], "little")
    phentsize = int.from_bytes(data[54:56], "little")
    phnum = int.from_bytes(data[56:58], "little")
    for i in range(phnum):
        entry = data[phoff + i * phentsize: phoff + (i + 1) * phentsize]
        if int.from_bytes(entry[0:4], "little") == 3:  # PT_INTERP
            return False
    return True


def unavailable_reason():
    """None when the harness can run here, else what is missing and how to
    install it."""
    if shutil.which(QEMU) is None:
        return f"{QEMU} is not installed (scripts/install-deps installs qemu-system-x86)"
    if not BUSYBOX.exists() or not _is_static(BUSYBOX):
        return "a static busybox is not installed (scripts/install-deps installs busybox-static)"
    if shutil.which("depmod") is None and not pathlib.Path("/sbin/depmod").exists():
        return "depmod is not installed (scripts/install-deps installs kmod)"
    if not installed_kernels():
        return "no kernel image with modules in /boot and /lib/modules " \
               "(scripts/install-deps installs linux-image-amd64)"
    kernel = installed_kernels()[-1]
    if not os.access(f"/boot/vmlinuz-{kernel}", os.R_OK):
        return f"/boot/vmlinuz-{kernel} is not readable by this user"
    return None


def require():
    """For pytest: skips the calling test, with the reason, when the harness
    cannot run here."""
    import pytest

    reason = unavailable_reason()
    if reason:
        pytest.skip(reason)


@dataclasses.dataclass
class Report:
    status: int
    output: str


@dataclasses.dataclass
class RunResult:
    console: str
    markers: dict
    reports: dict
    finished: bool
    timed_out: bool
    seconds: float

    def explain(self, lines=60):
        """The end of the console and what came back, for assertion messages."""
        tail = "\n".join(self.console.splitlines()[-lines:])
        return (f"finished={self.finished} timed_out={self.timed_out} "
                f"seconds={self.seconds:.1f}\nmarkers={self.markers}\n"
                f"reports={ {k: v.status for k, v in self.reports.items()} }\n"
                f"--- console (last {lines} lines) ---\n{tail}")


def parse_markers(text):
    """Markers and reports from what the guest wrote to its marker port."""
    markers, reports = {}, {}
    current, status_lines = None, []
    for raw in text.splitlines():
        line = raw.rstrip("\r")
        if current is not None:
            if line.startswith(END + " " + current + " "):
                try:
                    status = int(line.split()[-1])
                except ValueError:
                    status = -1
                reports[current] = Report(status, "\n".join(status_lines))
                current, status_lines = None, []
            else:
                status_lines.append(line)
            continue
        if line.startswith(MARK + " "):
            name, _, value = line[len(MARK) + 1:].partition(" ")
            markers[name] = value
        elif line.startswith(BEGIN + " "):
            current, status_lines = line[len(BEGIN) + 1:].strip(), []
    return markers, reports


class Cpio:
    """An initramfs in the newc format, written without cpio(1) so that
    device nodes need no root."""

    def __init__(self):
        self.entries = []
        self.names = set()

    def _add(self, name, mode, data=b"", rdev=(0, 0)):
        name = name.strip("/")
        if name in self.names:
            return
        parent = os.path.dirname(name)
        if parent:
            self.directory(parent)
        self.names.add(name)
        self.entries.append((name, mode, data, rdev))

    def directory(self, name):
        name = name.strip("/")
        if name in self.names:
            return
        self._add(name, stat.S_IFDIR | 0o755)

    def file(self, name, data, mode=0o644):
        self._add(name, stat.S_IFREG | mode, data)

    def symlink(self, name, target):
        self._add(name, stat.S_IFLNK | 0o777, target.encode())

    def char_device(self, name, major, minor, mode=0o600):
        self._add(name, stat.S_IFCHR | mode, rdev=(major, minor))

    def tree(self, top, prefix=""):
        """Adds the files below the folder top, under prefix."""
        top = pathlib.Path(top)
        for path in sorted(top.rglob("*")):
            name = prefix.strip("/") + "/" + str(path.relative_to(top))
            if path.is_symlink():
                self.symlink(name, os.readlink(path))
            elif path.is_dir():
                self.directory(name)
            else:
                self.file(name, path.read_bytes(), path.stat().st_mode & 0o777)

    def data(self):
        """The archive's bytes."""
        parts = []
        for ino, (name, mode, data, rdev) in enumerate(self.entries + [("TRAILER!!!", 0, b"", (0, 0))], 1):
            encoded = name.encode() + b"\0"
            fields = [ino, mode, 0, 0, 1, 0, len(data), 0, 0, rdev[0], rdev[1], len(encoded), 0]
            parts.append(b"070701" + b"".join(b"%08X" % f for f in fields) + encoded)
            parts.append(b"\0" * (-(110 + len(encoded)) % 4))
            parts.append(data)
            parts.append(b"\0" * (-len(data) % 4))
        return b"".join(parts)

    def write(self, path):
        pathlib.Path(path).write_bytes(self.data())


def busybox_initramfs(init_script):
    """A Cpio holding busybox and /init; the base of every guest's initramfs."""
    cpio = Cpio()
    for d in ("bin", "dev", "proc", "sys", "tmp", "run", "etc", "root"):
        cpio.directory(d)
    cpio.char_device("dev/console", 5, 1)
    cpio.char_device("dev/null", 1, 3, 0o666)
    cpio.file("bin/busybox", BUSYBOX.read_bytes(), 0o755)
    cpio.symlink("bin/sh", "busybox")
    cpio.file("init", init_script.encode(), 0o755)
    return cpio


# The guest that boot_guest starts: it prints the marker and powers off.
GUEST_INIT = f"""#!/bin/busybox sh
/bin/busybox mount -t proc proc /proc
echo {GUEST_MARKER} "$(/bin/busybox uname -r)" "$(/bin/busybox grep -c ^processor /proc/cpuinfo)cpu"
/bin/busybox poweroff -f
"""

# Shell functions the script may use; sourced by /init before the script.
GUEST_LIBRARY = f"""
mark() {{
	local name=$1
	shift
	echo "{MARK} $name $*" >/dev/ttyS1
}}

report() {{
	local name=$1 status
	shift
	"$@" >/tmp/report.out 2>&1
	status=$?
	cat /tmp/report.out
	{{
		echo "{BEGIN} $name"
		cat /tmp/report.out
		echo "{END} $name $status"
	}} >/dev/ttyS1
	return $status
}}

host_run() {{
	chroot /host /usr/bin/env -i PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \\
		HOME=/root TERM=dumb "$@"
}}

boot_guest() {{
	host_run timeout 120 {QEMU} -accel kvm -cpu host -m 256 -smp 1 \\
		-nodefaults -no-reboot -display none -serial stdio \\
		-kernel /boot/vmlinuz-$KERNEL_VERSION -initrd /run/kvmharness/guest.cpio \\
		-append "console=ttyS0 panic=-1 quiet no_timer_check" "$@"
}}
"""

OUTER_INIT = """#!/bin/busybox sh
/bin/busybox --install -s /bin
export PATH=/bin:/sbin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
stty -F /dev/ttyS1 raw -echo
export KERNEL_VERSION=$(uname -r)
. /harness/lib.sh
mark booted "$KERNEL_VERSION"
for m in {base_modules}; do
	modprobe $m || mark harness-error "modprobe $m failed"
done
mkdir -p /host
if mount -t 9p -o trans=virtio,version=9p2000.L,ro,cache=loose,msize=262144 hostroot /host; then
	mount -t proc proc /host/proc
	mount -t sysfs sysfs /host/sys
	mount -t devtmpfs devtmpfs /host/dev
	mkdir -p /dev/shm
	mount -t tmpfs tmpfs /host/dev/shm
	mount -t tmpfs tmpfs /host/run
	mkdir -p /host/run/kvmharness
	cp /harness/guest.cpio /host/run/kvmharness/
else
	mark harness-error "mounting the host root over 9p failed"
fi
mark ready
(. /harness/script.sh)
mark script-exit $?
mark done
poweroff -f
"""


class Harness:
    def __init__(self, kernel_version=None, memory_mb=1024, cpu="EPYC"):
        kernels = installed_kernels()
        if kernel_version is None:
            if not kernels:
                raise RuntimeError(unavailable_reason())
            kernel_version = kernels[-1]
        self.kernel_version = kernel_version
        self.vmlinuz = pathlib.Path("/boot") / f"vmlinuz-{kernel_version}"
        self.modules_dir = pathlib.Path("/lib/modules") / kernel_version
        self.memory_mb = memory_mb
        self.cpu = cpu
        self._guest_cpio = None

    def module_closure(self, names):
        """The .ko files of the in-tree modules NAMES and what they depend on."""
        paths = []
        for name in names:
            out = subprocess.run(["modprobe", "-S", self.kernel_version, "--show-depends", name],
                                 capture_output=True, text=True)
            if out.returncode != 0:
                raise RuntimeError(f"modprobe --show-depends {name}: {out.stderr.strip()}")
            for line in out.stdout.splitlines():
                words = line.split()
                if words and words[0] == "insmod":
                    path = pathlib.Path(words[1])
                    if path not in paths:
                        paths.append(path)
        return paths

    def guest_cpio(self):
        """The initramfs of the guest boot_guest starts, made once."""
        if self._guest_cpio is None:
            self._guest_cpio = busybox_initramfs(GUEST_INIT).data()
        return self._guest_cpio

    def build_initramfs(self, script, modules=(), files=None, path=None):
        """Writes the outer guest's initramfs to path; returns path."""
        cpio = busybox_initramfs(OUTER_INIT.format(base_modules=" ".join(BASE_MODULES)))
        cpio.file("harness/lib.sh", GUEST_LIBRARY.encode())
        cpio.file("harness/script.sh", script.encode(), 0o755)
        cpio.file("harness/guest.cpio", self.guest_cpio())
        with tempfile.TemporaryDirectory(prefix="kvmharness-") as staging:
            root = pathlib.Path(staging)
            moddir = root / "lib" / "modules" / self.kernel_version
            moddir.mkdir(parents=True)
            for name in ("modules.order", "modules.builtin", "modules.builtin.modinfo"):
                if (self.modules_dir / name).exists():
                    shutil.copy(self.modules_dir / name, moddir / name)
            for ko in self.module_closure([*BASE_MODULES, *modules]):
                dest = moddir / ko.relative_to(self.modules_dir)
                dest.parent.mkdir(parents=True, exist_ok=True)
                shutil.copy(ko, dest)
            for guest_path, source in (files or {}).items():
                dest = root / guest_path.lstrip("/")
                dest.parent.mkdir(parents=True, exist_ok=True)
                if isinstance(source, (bytes, bytearray)):
                    dest.write_bytes(source)
                else:
                    shutil.copy(source, dest)
            depmod = subprocess.run(["depmod", "-b", root, self.kernel_version],
                                    capture_output=True, text=True)
            if depmod.returncode != 0:
                raise RuntimeError(f"depmod: {depmod.stderr.strip()}")
            cpio.tree(root)
        cpio.write(path)
        return path

    def qemu_command(self, initramfs, console, markers, append=""):
        return [
            QEMU, "-accel", "tcg", "-cpu", self.cpu, "-m", str(self.memory_mb), "-smp", "1",
            "-nodefaults", "-no-reboot", "-display", "none",
            "-kernel", str(self.vmlinuz), "-initrd", str(initramfs),
            # no_timer_check: on a loaded host, emulated timer interrupts
            # come late and the kernel's IO-APIC timer check panics.
            "-append", f"console=ttyS0 panic=-1 loglevel=4 no_timer_check {append}".strip(),
            "-serial", f"file:{console}", "-serial", f"file:{markers}",
            "-virtfs", "local,path=/,mount_tag=hostroot,security_model=none,readonly=on,multidevs=remap",
        ]

    def run(self, script, modules=(), files=None, timeout=300, append=""):
        """Boots the guest, runs script in it, returns a RunResult."""
        with tempfile.TemporaryDirectory(prefix="kvmharness-") as tmp:
            tmp = pathlib.Path(tmp)
            initramfs = self.build_initramfs(script, modules, files, tmp / "initramfs.cpio")
            console, markers = tmp / "console.log", tmp / "markers.log"
            command = self.qemu_command(initramfs, console, markers, append)
            lock_path = _cache_dir() / "kvmharness.lock"
            lock_path.parent.mkdir(parents=True, exist_ok=True)
            with open(lock_path, "w") as lock:
                fcntl.flock(lock, fcntl.LOCK_EX)
                start = time.monotonic()
                timed_out = False
                try:
                    subprocess.run(command, stdin=subprocess.DEVNULL, capture_output=True,
                                   timeout=timeout)
                except subprocess.TimeoutExpired:
                    timed_out = True
                seconds = time.monotonic() - start
            console_text = console.read_text(errors="replace") if console.exists() else ""
            marker_text = markers.read_text(errors="replace") if markers.exists() else ""
        found, reports = parse_markers(marker_text)
        return RunResult(console=console_text.replace("\r", ""), markers=found, reports=reports,
                         finished="done" in found and not timed_out, timed_out=timed_out,
                         seconds=seconds)
