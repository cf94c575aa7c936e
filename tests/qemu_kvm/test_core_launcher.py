# SPDX-License-Identifier: GPL-2.0-or-later
"""Which QEMU kvm-run starts: the KVM-only one of qemu-kvm/core when it is
installed and the guest runs under KVM, the distribution's otherwise (it
alone can emulate, and it alone has a GTK window).  On a made-up host root
with stand-in programs, with --dry-run, whose first line is the QEMU."""
import json
import subprocess

import pytest

from conftest import BUILD, TOP, run
import kvmrun_fixtures as fx


@pytest.fixture
def host(tmp_path):
    root = fx.fake_root(tmp_path / "root")
    core = tmp_path / "core" / "qemu-kvm-core"
    core.parent.mkdir()
    core.write_text("#!/bin/sh\nexit 1\n")
    core.chmod(0o755)
    env = dict(fx.fake_host_env(tmp_path, root, TOP / "qemu-kvm"), KVM_RUN_QEMU_CORE=str(core))
    return type("Host", (), {"env": env, "root": root, "core": core})


def dry_run(kvm_run, host, *args, **env):
    result = run([kvm_run, "--dry-run", *args], env={**host.env, **env})
    assert result.returncode == 0, result.stderr
    return result.stdout.splitlines()


def test_kvm_guests_get_the_kvm_only_qemu(kvm_run, host):
    lines = dry_run(kvm_run, host, "--accel", "kvm", "--profile", "linux", "--console", "serial")
    assert lines[0] == str(host.core)
    assert lines[lines.index("-accel") + 1] == "kvm"
    # The old qemu-kvm habit: QEMU's options passed through.
    lines = dry_run(kvm_run, host, "--accel", "kvm", "-hda", "disk.img")
    assert lines[0] == str(host.core)


def test_emulated_guests_get_the_distributions_qemu(kvm_run, host):
    lines = dry_run(kvm_run, host, "--accel", "tcg", "--profile", "linux", "--console", "serial")
    assert lines[0] == "qemu-system-x86_64"
    assert lines[lines.index("-accel") + 1] == "tcg"
    for args in (["-accel", "tcg", "-hda", "disk.img"], ["-M", "q35,accel=tcg"], ["-no-kvm"]):
        assert dry_run(kvm_run, host, *args)[0] == "qemu-system-x86_64", args


def test_a_gtk_window_needs_the_distributions_qemu(kvm_run, host):
    lines = dry_run(kvm_run, host, "--accel", "kvm", "--profile", "linux", "--console", "gtk")
    assert lines[0] == "qemu-system-x86_64"
    assert lines[lines.index("-display") + 1] == "gtk"
    # On a desktop the default window is GTK; with the KVM-only QEMU it is VNC.
    lines = dry_run(kvm_run, host, "--accel", "kvm", "--profile", "linux", DISPLAY=":0")
    assert lines[0] == str(host.core)
    assert lines[lines.index("-display") + 1].startswith("vnc=127.0.0.1:")


def test_empty_variable_leaves_the_kvm_only_qemu_out(kvm_run, host):
    lines = dry_run(kvm_run, host, "--accel", "kvm", "--profile", "linux", "--console", "serial",
                    KVM_RUN_QEMU_CORE="")
    assert lines[0] == "qemu-system-x86_64"


def test_verbose_says_which_qemu(kvm_run, host):
    result = run([kvm_run, "--dry-run", "-v", "--accel", "kvm", "--profile", "linux",
                  "--console", "serial"], env=host.env)
    assert f"kvm-run: running {host.core}, the KVM-only QEMU\n" in result.stderr


def test_missing_kvm_only_qemu_named(kvm_run, host, tmp_path):
    missing = tmp_path / "nowhere" / "qemu-kvm-core"
    result = run([kvm_run, "--dry-run", "--accel", "kvm", "--profile", "linux"],
                 env={**host.env, "KVM_RUN_QEMU_CORE": str(missing)})
    assert result.returncode == 1
    # After the warning of a host where KVM cannot be used, if this is one.
    assert result.stderr.splitlines()[-1] == (
        f"kvm-run: {missing}: no such program (KVM_RUN_QEMU_CORE)")


def test_emulation_without_the_distributions_qemu_says_why(kvm_run, host, tmp_path):
    empty = tmp_path / "empty-bin"
    empty.mkdir()
    result = run([kvm_run, "--dry-run", "--accel", "tcg", "--profile", "linux"],
                 env={**host.env, "PATH": str(empty)})
    assert result.returncode == 1
    assert result.stderr == (
        f"kvm-run: {host.core} runs guests only with KVM, and software emulation needs "
        "qemu-system-x86_64, which is not installed\n")


def installed_core_path():
    """Where the build under test looks for an installed KVM-only QEMU."""
    options = subprocess.run(["meson", "introspect", str(BUILD), "--buildoptions"],
                             capture_output=True, text=True)
    if options.returncode != 0:
        pytest.skip(f"meson introspect {BUILD} failed: the install paths are unknown")
    values = {o["name"]: o["value"] for o in json.loads(options.stdout)}
    return f"{values['prefix']}/{values['libexecdir']}/kvm-run/qemu-kvm-core"


def test_the_installed_kvm_only_qemu_is_found(kvm_run, host):
    installed = host.root / installed_core_path().lstrip("/")
    installed.parent.mkdir(parents=True)
    installed.write_text("#!/bin/sh\nexit 1\n")
    env = {k: v for k, v in host.env.items() if k != "KVM_RUN_QEMU_CORE"}
    result = run([kvm_run, "--dry-run", "--accel", "kvm", "--profile", "linux",
                  "--console", "serial"], env=env)
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[0] == str(installed)
