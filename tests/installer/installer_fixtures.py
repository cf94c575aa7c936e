# SPDX-License-Identifier: GPL-2.0-or-later
"""What the kvm-install tests share: the program, run with the templates
of this checkout (or of the installed tree under test)."""
import os

import pytest

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
