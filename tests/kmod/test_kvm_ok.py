# SPDX-License-Identifier: GPL-2.0-or-later
"""kvm-ok on this machine, which has no VT-x or AMD-V: it must say that KVM
cannot be used, why, and how to fix each thing."""
import json
import pathlib
import re

import pytest

from conftest import run


def cpu_has_extension():
    flags = re.search(r"^flags\s*:(.*)$", pathlib.Path("/proc/cpuinfo").read_text(), re.M)
    return bool(flags) and bool({"vmx", "svm"} & set(flags.group(1).split()))


@pytest.fixture(scope="module")
def host_without_extension():
    if cpu_has_extension():
        pytest.skip("this machine's CPU has VT-x or AMD-V; the not-usable verdict cannot be seen")


def test_help_and_version(kvm_ok):
    result = run([kvm_ok, "--help"])
    assert result.returncode == 0
    assert result.stdout.startswith("Usage: kvm-ok")
    assert "--selftest" in result.stdout
    result = run([kvm_ok, "--version"])
    assert result.returncode == 0
    assert re.fullmatch(r"kvm-ok \d+\.\d+\.\d+\n", result.stdout)


def test_usage_errors_exit_2(kvm_ok):
    result = run([kvm_ok, "--output=xml"])
    assert result.returncode == 2
    assert result.stderr.startswith("kvm-ok: --output takes human or json")
    result = run([kvm_ok, "extra"])
    assert result.returncode == 2
    assert "kvm-ok: takes no arguments" in result.stderr


def test_this_host_is_not_usable_and_says_why(kvm_ok, host_without_extension):
    result = run([kvm_ok])
    assert result.returncode == 1, result.stdout + result.stderr
    lines = result.stdout.splitlines()
    assert lines[-1] == "KVM acceleration can NOT be used"
    cpu = next(line for line in lines if line.startswith("cpu "))
    assert " fail " in cpu
    assert "without AMD-V (svm)" in cpu or "neither VT-x (vmx) nor AMD-V (svm)" in cpu \
        or "without VT-x (vmx)" in cpu
    # The line after a failure says how to fix it.
    assert lines[lines.index(cpu) + 1].strip().startswith("fix: ")


def test_json_report(kvm_ok, host_without_extension):
    result = run([kvm_ok, "--output=json"])
    assert result.returncode == 1
    report = json.loads(result.stdout)
    assert report["usable"] is False
    assert report["verdict"] == "not-usable"
    assert report["exit-status"] == 1
    checks = {c["name"]: c for c in report["checks"]}
    assert list(checks)[:5] == ["cpu", "firmware", "modules", "device", "access"]
    assert {"nested", "vhost-net", "tun", "iommu"} <= set(checks)
    assert checks["cpu"]["status"] == "fail" and checks["cpu"]["essential"]
    assert checks["cpu"]["details"]["svm"] is False and checks["cpu"]["details"]["vmx"] is False
    for check in report["checks"]:
        assert check["status"] in ("ok", "warn", "fail", "unknown", "skipped")
        assert check["summary"]
        if check["status"] in ("fail", "warn"):
            assert check.get("fix"), f"{check['name']} fails without saying how to fix it"
    # The human report says the same.
    human = run([kvm_ok]).stdout
    for check in report["checks"]:
        assert check["summary"] in human


def test_quiet_prints_nothing(kvm_ok, host_without_extension):
    result = run([kvm_ok, "--quiet"])
    assert result.returncode == 1
    assert result.stdout == ""


def test_selftest_runs_or_is_skipped(kvm_ok, host_without_extension):
    """With --selftest the verdict stays 'not usable'; the self-test itself
    runs only where /dev/kvm can be opened."""
    report = json.loads(run([kvm_ok, "--selftest", "--output=json"]).stdout)
    checks = {c["name"]: c for c in report["checks"]}
    assert "selftest" in checks
    if checks["access"]["status"] != "ok":
        assert checks["selftest"]["status"] == "skipped"
    assert report["exit-status"] == 1
