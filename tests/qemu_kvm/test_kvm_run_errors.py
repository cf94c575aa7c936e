# SPDX-License-Identifier: GPL-2.0-or-later
"""Bad input gets one line on standard error and a non-zero exit, before
anything starts: a missing disk, an unknown profile, a busy TAP device, no
QEMU, KVM required where it cannot be used; and no swtpm is left running
when the guest cannot start."""
import fcntl
import os
import struct
import subprocess

import pytest

from conftest import TOP, require_program, run
import kvmrun_fixtures as fx


@pytest.fixture
def env(tmp_path):
    return dict(os.environ, HOME=str(tmp_path / "home"), XDG_CONFIG_HOME=str(tmp_path / "config"),
                XDG_STATE_HOME=str(tmp_path / "state"), XDG_RUNTIME_DIR=str(tmp_path / "run"),
                KVM_RUN_DATA_DIR=str(TOP / "qemu-kvm"))


def swtpm_count(tmp_path):
    """The swtpm processes this test started: their state and socket lie
    under its tmp_path.  Other tests running in parallel start their own."""
    listed = subprocess.run(["pgrep", "-a", "-x", "swtpm"], capture_output=True, text=True).stdout
    return sum(str(tmp_path) in line for line in listed.splitlines())


def test_missing_disk(kvm_run, env, tmp_path):
    missing = tmp_path / "missing.qcow2"
    result = run([kvm_run, "--disk", missing, "--accel", "tcg"], env=env)
    assert result.returncode == 1
    assert result.stderr == f"kvm-run: {missing}: No such file or directory\n"


def test_unknown_profile(kvm_run, env):
    result = run([kvm_run, "--profile", "beos", "--accel", "tcg"], env=env)
    assert result.returncode == 1
    assert result.stderr == \
        "kvm-run: unknown profile 'beos' (known: legacy, linux, windows, windows-11)\n"


def test_broken_profile_names_the_line(kvm_run, env, tmp_path):
    mine = tmp_path / "config" / "kvm-run" / "profiles"
    mine.mkdir(parents=True)
    (mine / "bad.profile").write_text("machine = q35  # fine\ndisk-bus = scsi  # not known\n")
    result = run([kvm_run, "--profile", "bad", "--accel", "tcg"], env=env)
    assert result.returncode == 1
    assert result.stderr == f"kvm-run: {mine}/bad.profile:2: disk-bus is virtio, ahci or ide\n"


def test_no_qemu_installed(kvm_run, env, tmp_path):
    empty = tmp_path / "empty-bin"
    empty.mkdir()
    env = dict(env, PATH=str(empty), KVM_RUN_ROOT=str(fx.fake_root(tmp_path / "root")))
    # --accel tcg: no warning that KVM cannot be used comes before the error.
    for args in (["--profile", "linux", "--accel", "tcg", "--dry-run"],
                 ["--accel", "tcg", "-hda", "x.img"]):
        result = run([kvm_run, *args], env=env)
        assert result.returncode == 1
        assert result.stderr == (
            "kvm-run: qemu-system-x86_64: not installed (the package is qemu-system-x86 on "
            "Debian, qemu-x86 on openSUSE, qemu-system-x86-core on Fedora)\n")


def test_options_that_contradict(kvm_run, env):
    result = run([kvm_run, "--accel", "tcg", "--require-kvm", "--dry-run"], env=env)
    assert result.returncode == 1
    assert result.stderr == "kvm-run: --accel tcg and --require-kvm contradict each other\n"
    result = run([kvm_run, "--mac", "01:00:5e:00:00:01"], env=env)
    assert result.returncode == 1
    assert result.stderr.startswith("kvm-run: 01:00:5e:00:00:01: not a unicast MAC address")


def kvm_unusable_reason(kvm_run, env):
    """What kvm-run says when it falls back, or None where KVM works."""
    result = run([kvm_run, "--dry-run", "--profile", "linux", "--console", "serial"], env=env)
    assert result.returncode == 0, result.stderr
    if "\n-accel\nkvm\n" in result.stdout:
        return None
    return result.stderr


def test_without_kvm_it_warns_and_emulates(kvm_run, env):
    reason = kvm_unusable_reason(kvm_run, env)
    if reason is None:
        pytest.skip("KVM works on this host: nothing to fall back from")
    assert reason.startswith("kvm-run: KVM cannot be used: /dev/kvm")
    assert reason.endswith("; using software emulation, which is much slower "
                           "(kvm-ok says how to fix it)\n")


def test_require_kvm_is_an_error_without_kvm(kvm_run, env, tmp_path):
    if kvm_unusable_reason(kvm_run, env) is None:
        pytest.skip("KVM works on this host: --require-kvm cannot fail here")
    result = run([kvm_run, "--require-kvm", "--profile", "windows-11"], env=env)
    assert result.returncode == 1
    assert result.stderr.startswith("kvm-run: KVM cannot be used: /dev/kvm")
    assert result.stderr.endswith("(kvm-ok says how to fix it)\n")
    assert result.stderr.count("\n") == 1
    assert swtpm_count(tmp_path) == 0


TUNSETIFF = 0x400454CA
IFF_TAP = 0x0002
IFF_NO_PI = 0x1000


def test_busy_tap_device(kvm_run, env, tmp_path):
    """A TAP another program holds, in a network namespace made here."""
    require_program("ip")
    require_program("swtpm")
    if os.geteuid() != 0:
        pytest.skip("making a network namespace and a TAP needs root")
    namespace = f"kvmrun{os.getpid()}"
    if run(["ip", "netns", "add", namespace]).returncode != 0:
        pytest.skip("cannot make a network namespace here")
    try:
        made = run(["ip", "netns", "exec", namespace, "ip", "tuntap", "add", "dev", "tapbusy",
                    "mode", "tap"])
        assert made.returncode == 0, made.stderr
        # A helper in the namespace attaches to the TAP and keeps it.
        holder = subprocess.Popen(
            ["ip", "netns", "exec", namespace, "python3", "-c",
             "import fcntl, struct, sys, time\n"
             "fd = open('/dev/net/tun', 'r+b', buffering=0)\n"
             f"fcntl.ioctl(fd, {TUNSETIFF}, struct.pack('16sH', b'tapbusy', {IFF_TAP | IFF_NO_PI}))\n"
             "print('held', flush=True)\n"
             "time.sleep(120)\n"],
            stdout=subprocess.PIPE, text=True)
        try:
            assert holder.stdout.readline() == "held\n"
            result = run(["ip", "netns", "exec", namespace, kvm_run, "--profile", "windows-11",
                          "--accel", "tcg", "--net", "tap=tapbusy"], env=env)
            assert result.returncode == 1
            assert result.stderr == "kvm-run: tapbusy: TAP device in use by another program\n"
            assert swtpm_count(tmp_path) == 0
            missing = run(["ip", "netns", "exec", namespace, kvm_run, "--accel", "tcg",
                           "--net", "tap=tapnone"], env=env)
            assert missing.returncode == 1
            assert missing.stderr == "kvm-run: tapnone: no such TAP device\n"
            bridge = run(["ip", "netns", "exec", namespace, kvm_run, "--accel", "tcg",
                          "--net", "bridge=br9"], env=env)
            assert bridge.returncode == 1
            assert bridge.stderr == "kvm-run: br9: no such bridge\n"
        finally:
            holder.kill()
            holder.wait()
    finally:
        run(["ip", "netns", "delete", namespace])


def test_no_swtpm_is_left_when_qemu_fails(kvm_run, env, tmp_path):
    """QEMU refuses the command line after swtpm has started: swtpm stops."""
    require_program("qemu-system-x86_64")
    require_program("swtpm")
    result = run([kvm_run, "--profile", "windows-11", "--accel", "tcg", "--name", "broken",
                  "--console", "serial", "--", "-no-such-option"], env=env,
                 stdin=subprocess.DEVNULL, timeout=120)
    assert result.returncode == 1
    assert "-no-such-option" in result.stderr
    assert swtpm_count(tmp_path) == 0
    assert not (tmp_path / "run" / "kvm-run" / "broken").exists()
