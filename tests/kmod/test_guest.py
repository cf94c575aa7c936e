# SPDX-License-Identifier: GPL-2.0-or-later
"""The kvm modules at work, in the KVM harness: Debian's kernel under QEMU
with -cpu EPYC, where kvm_amd loads and /dev/kvm works.  kvm-ok must call
KVM usable there, its self-test must pass, the host's QEMU must boot a guest
with -accel kvm, and our own build must replace the in-tree modules."""
import json

import pytest

import kvmharness
from conftest import TOP, built_program
from kmodbuild import MODULES, build, require_kernel_build_inputs

# Boots guests or builds kernel modules: the sanitizer pass leaves it out.
pytestmark = pytest.mark.guest

CONFIG = TOP / "kmod" / "config"


@pytest.fixture(scope="module")
def harness():
    kvmharness.require()
    return kvmharness.Harness()


@pytest.fixture(scope="module")
def kvm_ok():
    # The guest runs it from the host's root, shared at the same path.
    return built_program("kvm-ok").resolve()


def json_report(result, name):
    assert name in result.reports, result.explain()
    return json.loads(result.reports[name].output)


def checks_of(report):
    return {c["name"]: c for c in report["checks"]}


def test_in_tree_modules_with_the_host_config(harness, kvm_ok):
    """The distribution's modules, loaded the way kvm-host loads them at boot:
    modules-load.d names kvm_vendor, modprobe.d turns it into kvm_amd and
    sets the options."""
    result = harness.run(f"""
        mkdir -p /host/run/modprobe.d
        cp /harness/kvm.conf /host/run/modprobe.d/
        mount --bind /host/run/modprobe.d /host/etc/modprobe.d
        for m in $(grep -v '^#' /harness/modules-load.conf); do
            host_run modprobe $m || mark load-failed $m
        done
        mark ignore_msrs "$(cat /sys/module/kvm/parameters/ignore_msrs)"
        mark report_ignored_msrs "$(cat /sys/module/kvm/parameters/report_ignored_msrs)"
        mark nested "$(cat /sys/module/kvm_amd/parameters/nested)"
        mark loaded "$(cut -d' ' -f1 /proc/modules | sort | tr '\\n' ' ')"
        report kvm-ok host_run {kvm_ok} --selftest --output=json
        report guest boot_guest
    """, files={"/harness/kvm.conf": CONFIG / "modprobe.d" / "kvm.conf",
                "/harness/modules-load.conf": CONFIG / "modules-load.d" / "kvm.conf"},
        modules=["kvm_amd", "kvm_intel", "vhost_net", "tun", "msr"])
    assert result.finished, result.explain()
    assert "load-failed" not in result.markers, result.explain()
    loaded = result.markers["loaded"].split()
    assert {"kvm", "kvm_amd", "vhost_net", "tun"} <= set(loaded), result.explain()
    assert "kvm_intel" not in loaded
    assert result.markers["ignore_msrs"] == "Y"
    assert result.markers["report_ignored_msrs"] == "N"
    assert result.markers["nested"] == "1"

    report = json_report(result, "kvm-ok")
    assert result.reports["kvm-ok"].status == 0, result.reports["kvm-ok"].output
    assert report["verdict"] == "usable"
    checks = checks_of(report)
    assert checks["cpu"]["status"] == "ok" and checks["cpu"]["details"]["svm"]
    assert checks["selftest"]["status"] == "ok", checks["selftest"]
    assert checks["modules"]["details"]["kvm_amd"]["origin"] == "in-tree"
    assert checks["modules"]["details"]["kvm"]["origin"] == "in-tree"
    assert checks["nested"]["status"] == "ok"
    assert checks["vhost-net"]["status"] == "ok"
    assert checks["tun"]["status"] == "ok"

    assert result.reports["guest"].status == 0, result.explain()
    assert kvmharness.GUEST_MARKER in result.reports["guest"].output


def test_bundle_modules_replace_the_in_tree_ones(harness, kvm_ok):
    require_kernel_build_inputs(harness.kernel_version)
    built, _, _ = build(harness.kernel_version)
    updates = f"/lib/modules/{harness.kernel_version}/updates"
    files = {f"{updates}/{name}.ko": built / f"{name}.ko" for name in MODULES}
    result = harness.run(f"""
        modprobe kvm_amd || mark load-failed kvm_amd
        mark kvm-version "$(cat /sys/module/kvm/version)"
        mark kvm-amd-version "$(cat /sys/module/kvm_amd/version)"
        report kvm-ok host_run {kvm_ok} --selftest --output=json
        report kvm-ok-human host_run {kvm_ok}
        report nobody host_run setpriv --reuid=65534 --regid=65534 --clear-groups {kvm_ok} --output=json
        mkdir -p /host/run/rules /host/run/no-rules
        cp /harness/65-kvm.rules /host/run/rules/
        mount --bind /host/run/no-rules /host/usr/lib/udev/rules.d
        mount --bind /host/run/rules /host/etc/udev/rules.d
        report udev host_run udevadm test --action=add /devices/virtual/misc/kvm
        mark dev-kvm "$(host_run stat -c '%G %a' /dev/kvm)"
        report member host_run setpriv --reuid=65534 --regid=65534 --groups=kvm {kvm_ok} --output=json
        report guest boot_guest
    """, modules=["kvm_amd"], files={**files, "/harness/65-kvm.rules": CONFIG / "65-kvm.rules"})
    assert result.finished, result.explain()
    assert "load-failed" not in result.markers, result.explain()
    version = result.markers["kvm-version"]
    assert version.startswith("kvm-bundle-") and built.name.endswith(version.split("+")[-1])
    assert result.markers["kvm-amd-version"] == version

    report = json_report(result, "kvm-ok")
    assert result.reports["kvm-ok"].status == 0, result.reports["kvm-ok"].output
    checks = checks_of(report)
    assert checks["modules"]["details"]["kvm"]["origin"] == "bundle"
    assert checks["modules"]["details"]["kvm_amd"]["origin"] == "bundle"
    assert checks["selftest"]["status"] == "ok", checks["selftest"]
    assert f"kvm_amd is the bundle's build ({version})" in result.reports["kvm-ok-human"].output
    assert result.reports["kvm-ok-human"].output.splitlines()[-1] == "KVM acceleration can be used"

    # Without a udev rule in the guest /dev/kvm is root's alone: another user
    # is told so, and how to fix it.
    nobody = json_report(result, "nobody")
    assert result.reports["nobody"].status == 1
    access = checks_of(nobody)["access"]
    assert access["status"] == "fail"
    assert "usermod -aG kvm" in access["fix"]
    assert checks_of(nobody)["device"]["status"] == "warn"

    # Our udev rule alone (the distribution's rules hidden) gives /dev/kvm
    # to group kvm; a member of it may then use KVM.
    assert "65-kvm.rules:9 GROUP" in result.reports["udev"].output, result.reports["udev"].output
    assert result.markers["dev-kvm"] == "kvm 660"
    member = json_report(result, "member")
    assert result.reports["member"].status == 0, result.reports["member"].output
    assert checks_of(member)["device"]["status"] == "ok"
    assert checks_of(member)["access"]["status"] == "ok"

    assert result.reports["guest"].status == 0, result.explain()
    assert kvmharness.GUEST_MARKER in result.reports["guest"].output
