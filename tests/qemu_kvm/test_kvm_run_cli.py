# SPDX-License-Identifier: GPL-2.0-or-later
"""kvm-run's command lines, checked against golden files: every profile,
the options that change the machine, the profile picked from the disk, and
the old qemu-kvm habit of passing QEMU's options through.  The host is a
made-up root (firmware where Debian, openSUSE or Fedora put it) and stand-in
programs, so the lines are the same on every machine.

Set KVM_RUN_UPDATE_GOLDEN=1 to rewrite the golden files after a change.
"""
import os
import pathlib

import pytest

from conftest import TOP, run
import kvmrun_fixtures as fx

GOLDEN = pathlib.Path(__file__).parent / "golden"


@pytest.fixture
def host(tmp_path):
    """The environment of a kvm-run that sees only the made-up host."""
    root = fx.fake_root(tmp_path / "root")
    env = fx.fake_host_env(tmp_path, root, TOP / "qemu-kvm")
    disks = tmp_path / "disks"
    disks.mkdir()
    with open(disks / "plain.img", "wb") as f:
        f.truncate(64 << 20)
    fx.write_mbr_disk(disks / "xp.img", 0x07, fx.ntfs_boot_sector())
    fx.write_gpt_disk(disks / "win11.img", [fx.EFI_SYSTEM, fx.MS_RESERVED, fx.MS_BASIC_DATA])
    fx.write_mbr_disk(disks / "debian.img", 0x83, fx.ext4_start())
    fx.write_gpt_disk(disks / "fedora.img", [fx.EFI_SYSTEM, fx.LINUX_FS])
    fx.write_gpt_disk(disks / "ubuntu-bios.img", [fx.BIOS_BOOT, fx.EFI_SYSTEM, fx.LINUX_FS])
    (disks / "install.iso").write_bytes(b"\0" * 4096)
    (disks / "virtio-win-0.1.iso").write_bytes(b"\0" * 4096)
    return type("Host", (), {"env": env, "tmp": tmp_path, "disks": disks, "root": root})


def kvm_run_in(kvm_run, host, *args, env=None):
    return run([kvm_run, *args], env={**host.env, **(env or {})}, cwd=host.disks)


def normalized(text, host):
    return text.replace(str(host.tmp), "@TMP@")


def check_golden(name, text):
    path = GOLDEN / f"{name}.txt"
    if os.environ.get("KVM_RUN_UPDATE_GOLDEN"):
        path.write_text(text)
    assert path.exists(), f"{path} is missing (KVM_RUN_UPDATE_GOLDEN=1 writes it)"
    assert text == path.read_text(), f"the command line differs from {path.name}"


# name: arguments after --dry-run.  Disks are in @TMP@/disks.
CASES = {
    "linux": ["--profile", "linux", "--disk", "plain.img", "--console", "serial", "--accel", "tcg"],
    "linux-kvm": ["--profile", "linux", "--disk", "plain.img", "--console", "serial", "--accel", "kvm"],
    "linux-uefi": ["--profile", "linux", "--disk", "plain.img", "--uefi", "--console", "vnc",
                   "--accel", "tcg"],
    "linux-secure-boot-tpm": ["--profile", "linux", "--disk", "plain.img", "--secure-boot", "--tpm",
                              "--console", "gtk", "--accel", "kvm"],
    "linux-options": ["--profile", "linux", "--disk", "plain.img", "--disk", "debian.img",
                      "--cdrom", "install.iso", "--memory", "512M", "--cpus", "4",
                      "--net", "bridge=br0", "--mac", "52:54:00:aa:bb:cc", "--name", "web1",
                      "--console", "vnc", "--accel", "tcg"],
    "linux-tap-extra": ["--profile", "linux", "--net", "tap=tap0", "--memory", "1024",
                        "--console", "serial", "--accel", "tcg", "--",
                        "-kernel", "vmlinuz", "-append", "console=ttyS0 quiet"],
    "linux-no-net": ["--profile", "linux", "--net", "none", "--console", "serial", "--accel", "tcg"],
    "windows": ["--profile", "windows", "--disk", "xp.img", "--cdrom", "install.iso",
                "--console", "vnc", "--accel", "tcg"],
    "windows-kvm": ["--profile", "windows", "--disk", "xp.img", "--cdrom", "install.iso",
                    "--console", "vnc", "--accel", "kvm"],
    "windows-virtio-win-given": ["--profile", "windows", "--disk", "xp.img",
                                 "--virtio-win", "virtio-win-0.1.iso", "--console", "vnc",
                                 "--accel", "kvm"],
    "windows-11": ["--profile", "windows-11", "--disk", "win11.img", "--cdrom", "install.iso",
                   "--console", "vnc", "--accel", "tcg"],
    "windows-11-kvm": ["--profile", "windows-11", "--disk", "win11.img", "--console", "gtk",
                       "--accel", "kvm"],
    "legacy": ["--profile", "legacy", "--disk", "xp.img", "--console", "vnc", "--accel", "tcg"],
    "legacy-full-ide": ["--profile", "legacy", "--disk", "xp.img", "--disk", "plain.img",
                        "--disk", "debian.img", "--cdrom", "install.iso", "--console", "serial",
                        "--accel", "kvm"],
    "auto-windows-mbr": ["--disk", "xp.img", "--console", "vnc", "--accel", "tcg"],
    "auto-windows-gpt": ["--disk", "win11.img", "--console", "vnc", "--accel", "tcg"],
    "auto-linux-mbr": ["--disk", "debian.img", "--console", "serial", "--accel", "tcg"],
    "auto-linux-gpt-uefi": ["--disk", "fedora.img", "--console", "serial", "--accel", "tcg"],
    "auto-linux-gpt-bios-boot": ["--disk", "ubuntu-bios.img", "--console", "serial", "--accel", "tcg"],
    "auto-unknown": ["--disk", "plain.img", "--console", "serial", "--accel", "tcg"],
    # QEMU's own options, after kvm-run's neutral ones.
    "passthrough": ["--accel", "tcg", "-hda", "plain.img", "-m", "1024"],
    "passthrough-no-kvm": ["-no-kvm", "-hda", "plain.img", "-m", "1024"],
    "passthrough-enable-kvm": ["-enable-kvm", "-hda", "plain.img"],
    "passthrough-bare-disk": ["--accel=kvm", "plain.img", "-m", "512"],
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_dry_run_matches_golden(kvm_run, host, name):
    result = kvm_run_in(kvm_run, host, "--dry-run", *CASES[name])
    assert result.returncode == 0, result.stderr
    check_golden(name, normalized(result.stdout, host))


def test_auto_profile_is_announced(kvm_run, host):
    result = kvm_run_in(kvm_run, host, "--dry-run", "--disk", "win11.img", "--accel", "tcg",
                        "--console", "vnc")
    assert result.returncode == 0, result.stderr
    assert "kvm-run: win11.img: Windows is installed there: using profile windows-11\n" in result.stderr


def test_vmdk_boots_as_it_is_with_a_warning(kvm_run, host, qemu_img):
    disk = host.disks / "vm.vmdk"
    assert qemu_img("create", "-q", "-f", "vmdk", disk, "64M").returncode == 0
    result = kvm_run_in(kvm_run, host, "--dry-run", "--profile", "linux", "--disk", "vm.vmdk",
                        "--accel", "tcg", "--console", "serial")
    assert result.returncode == 0, result.stderr
    assert "file=vm.vmdk,format=vmdk,if=none,id=disk0\n" in result.stdout
    assert ("kvm-run: vm.vmdk: QEMU runs VMDK slower than qcow2; `kvm-image convert vm.vmdk` "
            "makes a qcow2 copy\n") in result.stderr


def test_qcow2_is_given_to_qemu_as_qcow2(kvm_run, host, qemu_img):
    assert qemu_img("create", "-q", "-f", "qcow2", host.disks / "vm.qcow2", "64M").returncode == 0
    result = kvm_run_in(kvm_run, host, "--dry-run", "--disk", "vm.qcow2", "--accel", "tcg",
                        "--console", "serial")
    assert result.returncode == 0, result.stderr
    assert "file=vm.qcow2,format=qcow2,if=none,id=disk0\n" in result.stdout


def test_commas_in_paths_are_escaped(kvm_run, host):
    os.rename(host.disks / "plain.img", host.disks / "a,b.img")
    result = kvm_run_in(kvm_run, host, "--dry-run", "--disk", "a,b.img", "--accel", "tcg",
                        "--console", "serial")
    assert result.returncode == 0, result.stderr
    assert "file=a,,b.img,format=raw,if=none,id=disk0\n" in result.stdout


@pytest.mark.parametrize("layout", sorted(fx.LAYOUTS))
def test_firmware_is_found_where_each_distribution_installs_it(kvm_run, host, tmp_path, layout):
    root = fx.fake_root(tmp_path / f"root-{layout}", layout, virtio_win=False)
    env = {"KVM_RUN_ROOT": str(root)}
    files = fx.LAYOUTS[layout]
    bios = kvm_run_in(kvm_run, host, "--dry-run", "--profile", "legacy", "--accel", "tcg",
                      "--console", "serial", env=env)
    assert bios.returncode == 0, bios.stderr
    assert f"{root}{files['seabios']}\n" in bios.stdout
    for option, (code, vars_template) in (("--uefi", files["ovmf"]),
                                          ("--secure-boot", files["ovmf-sb"])):
        result = kvm_run_in(kvm_run, host, "--dry-run", "--profile", "linux", option,
                            "--accel", "tcg", "--console", "serial", "--name", "g", env=env)
        assert result.returncode == 0, result.stderr
        assert f"if=pflash,format=raw,unit=0,readonly=on,file={root}{code}\n" in result.stdout
        own_vars = host.tmp / "state" / "kvm-run" / "g" / os.path.basename(vars_template)
        assert f"if=pflash,format=raw,unit=1,file={own_vars}\n" in result.stdout


def test_user_profiles_override_and_inherit_the_shipped_ones(kvm_run, host):
    mine = pathlib.Path(host.env["XDG_CONFIG_HOME"]) / "kvm-run" / "profiles"
    mine.mkdir(parents=True)
    (mine / "windows.profile").write_text(
        "inherit = windows     # the shipped one\n"
        "memory = 8G           # more for this host's guests\n")
    (mine / "lab.profile").write_text("inherit = linux  # a lab machine\ncpus = 8  # big\n")
    result = kvm_run_in(kvm_run, host, "--dry-run", "--profile", "windows-11", "--accel", "tcg",
                        "--console", "vnc")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    # windows-11 inherits windows, which is now the user's: 8G, but 4G is
    # windows-11's own setting, which wins.
    assert lines[lines.index("-m") + 1] == "4096"
    result = kvm_run_in(kvm_run, host, "--dry-run", "--profile", "windows", "--accel", "tcg",
                        "--console", "vnc")
    lines = result.stdout.splitlines()
    assert lines[lines.index("-m") + 1] == "8192"
    assert lines[lines.index("-device", lines.index("-netdev")) + 1].startswith("e1000e,")
    listed = kvm_run_in(kvm_run, host, "--list-profiles")
    assert [line.split()[0] for line in listed.stdout.splitlines()] == [
        "lab", "legacy", "linux", "windows", "windows-11"]


def test_every_shipped_profile_line_is_commented():
    for path in sorted((TOP / "qemu-kvm" / "profiles").glob("*.profile")):
        for number, line in enumerate(path.read_text().splitlines(), 1):
            if line.strip() and not line.startswith("#"):
                assert " # " in line, f"{path.name}:{number} has no comment"


def test_help_names_every_option(kvm_run, host):
    result = kvm_run_in(kvm_run, host, "--help")
    assert result.returncode == 0
    for option in ("--profile", "--disk", "--cdrom", "--memory", "--cpus", "--net", "--mac",
                   "--uefi", "--secure-boot", "--tpm", "--console", "--name", "--require-kvm",
                   "--dry-run"):
        assert option in result.stdout
