# SPDX-License-Identifier: GPL-2.0-or-later
"""kvm-netboot serve in a network namespace: real dnsmasq for proxy-DHCP
and TFTP, the HTTP server, and the safety users rely on: no lease handed
out unless --dhcp-range, nothing served on any other interface, TFTP and
HTTP confined to the tree and read-only, callbacks, and a clean stop."""
import os
import re
import shutil
import signal
import subprocess
import time

import pytest

from conftest import require_program
from netboot_fixtures import (Netns, Server, http_get, kvm_netboot, netns, require_root, served_dir,
                              tftp_get)

MAC = "52:54:00:4e:42:07"
HOST_ID = "01-52-54-00-4e-42-07"
SERVER = "10.77.0.1"


@pytest.fixture
def tree():
    path = served_dir("kvmnb-serve-")
    tree = path / "tree"
    src = path / "src"
    src.mkdir()
    (src / "vmlinuz").write_bytes(b"kernel\n" * 1000)
    (src / "initrd").write_bytes(b"initrd\n" * 1000)
    answers = path / "answers"
    answers.write_text("MARKER=x\nCALLBACK=@CALLBACK_URL@\n")
    for argv in (["init", tree],
                 ["add", "linux", "--from", src, "--name", "test", "--tree", tree],
                 ["host", "add", MAC, "--profile", "test", "--answers", answers, "--tree", tree]):
        result = kvm_netboot(*argv)
        assert result.returncode == 0, result.stderr
    (path / "secret").write_text("outside the tree\n")
    os.symlink(path / "secret", tree / "boot" / "escape")
    yield tree
    shutil.rmtree(path)


@pytest.fixture
def serving(netns, tree, tmp_path):
    server = Server(netns, tree, tmp_path / "serve.log")
    yield netns, tree, server
    if server.proc.poll() is None:
        assert server.stop() == 0, server.text()


def test_http_serves_the_tree_read_only(serving):
    ns, tree, server = serving
    status, body = http_get(ns, f"http://{SERVER}/profiles/test/vmlinuz")
    assert (status, body) == (200, "kernel\n" * 1000)
    for method in ("PUT", "DELETE", "POST"):
        status, _ = http_get(ns, f"http://{SERVER}/boot.ipxe", method)
        assert status == 405, method
    assert (tree / "boot" / "boot.ipxe").read_text().startswith("#!ipxe")


@pytest.mark.parametrize("path", [
    "/../kvm-netboot.json",
    "/profiles/../../kvm-netboot.json",
    "/%2e%2e/kvm-netboot.json",
    "/profiles/%2E%2E/%2E%2E/hosts/" + HOST_ID + ".answers",
    "/escape",
    "/..%2fkvm-netboot.json",
])
def test_http_refuses_paths_outside_the_tree(serving, path):
    ns, _, server = serving
    status, body = http_get(ns, f"http://{SERVER}{path}")
    assert status == 403, (path, body)
    assert "outside the tree" in body
    assert "MARKER" not in body and "outside the tree\n" == body


@pytest.mark.parametrize("path", ["/", "/profiles/", "/profiles/test", "/hosts/"])
def test_http_lists_no_folder(serving, path):
    ns, _, _ = serving
    status, body = http_get(ns, f"http://{SERVER}{path}")
    assert status == 404
    assert "vmlinuz" not in body and HOST_ID not in body


def test_tftp_serves_the_loaders(serving):
    ns, tree, _ = serving
    assert tftp_get(ns, SERVER, "boot.ipxe") == (tree / "boot" / "boot.ipxe").read_bytes()


@pytest.mark.parametrize("name", ["../kvm-netboot.json", "profiles/../../kvm-netboot.json",
                                  "../hosts/" + HOST_ID + ".answers", "/etc/passwd"])
def test_tftp_refuses_paths_outside_the_tree(serving, name):
    ns, _, _ = serving
    got = tftp_get(ns, SERVER, name)
    assert isinstance(got, str), f"{name} was served: {got[:80]!r}"


def test_answers_are_served_until_the_callback(serving):
    ns, tree, server = serving
    status, body = http_get(ns, f"http://{SERVER}/answers/{HOST_ID}")
    assert status == 200
    assert body == f"MARKER=x\nCALLBACK=http://{SERVER}/callback/{HOST_ID}\n"
    assert http_get(ns, f"http://{SERVER}/answers/{HOST_ID}/meta-data") == \
        (200, f"instance-id: {HOST_ID}\n")
    assert http_get(ns, f"http://{SERVER}/answers/01-52-54-00-00-00-01")[0] == 404
    assert http_get(ns, f"http://{SERVER}/callback/01-52-54-00-00-00-01")[0] == 404

    status, _ = http_get(ns, f"http://{SERVER}/callback/{HOST_ID}", "POST")
    assert status == 200
    assert http_get(ns, f"http://{SERVER}/answers/{HOST_ID}")[0] == 404
    status, body = http_get(ns, f"http://{SERVER}/hosts/{HOST_ID}.ipxe")
    assert status == 200 and "booting the local disk\nexit" in body
    assert "LOCALBOOT 0" in (tree / "boot" / "pxelinux.cfg" / HOST_ID).read_text()
    assert f"host {HOST_ID} installed test" in server.text()
    assert f"http {SERVER} POST /callback/{HOST_ID} 200" in server.text()


def dhclient(peer, tmp_path, name, timeout=8):
    """Asks for a lease from namespace PEER for TIMEOUT seconds; returns the
    lease or None."""
    require_program("dhclient")
    conf = tmp_path / f"{name}.conf"
    conf.write_text(f"timeout {timeout};\nretry 1;\n")
    lease = tmp_path / f"{name}.leases"
    pid_file = tmp_path / f"{name}.pid"
    subprocess.run(["ip", "netns", "exec", peer, "dhclient", "-1", "-cf", conf, "-lf", lease,
                    "-pf", pid_file, "-sf", "/bin/true", "eth0"],
                   capture_output=True, timeout=60)
    # With a lease, dhclient stays behind as a daemon to renew it.
    if pid_file.exists():
        try:
            os.kill(int(pid_file.read_text()), signal.SIGTERM)
        except (ProcessLookupError, ValueError):
            pass
    text = lease.read_text() if lease.exists() else ""
    return text if "fixed-address" in text else None


def test_proxy_dhcp_hands_out_no_address(serving, tmp_path):
    ns, _, server = serving
    peer = ns.add_peer("client")
    assert dhclient(peer, tmp_path, "proxy") is None, "kvm-netboot handed out a lease"
    assert "proxy on subnet 10.77.0.0" in server.text()


def test_dhcp_range_hands_out_addresses(netns, tree, tmp_path):
    server = Server(netns, tree, tmp_path / "serve.log", "--dhcp-range",
                    "10.77.0.50,10.77.0.60")
    try:
        peer = netns.add_peer("client")
        lease = dhclient(peer, tmp_path, "full", timeout=30)
        address = re.search(r"fixed-address 10\.77\.0\.(\d+);", lease or "")
        # dnsmasq picks from the range by a hash of the client's MAC.
        assert address and 50 <= int(address.group(1)) <= 60, (lease, server.text())
    finally:
        assert server.stop() == 0


def test_nothing_is_served_on_other_interfaces(tree, tmp_path):
    """A namespace with two bridges: serving br0 with --dhcp-range, a
    client on br1 gets no lease, no TFTP and no HTTP from the address on
    br1."""
    require_root()
    ns = Netns()
    try:
        ns.ip("link", "add", "br1", "type", "bridge")
        ns.ip("addr", "add", "10.78.0.1/24", "dev", "br1")
        ns.ip("link", "set", "br1", "up")
        server = Server(ns, tree, tmp_path / "serve.log", "--dhcp-range",
                        "10.77.0.50,10.77.0.60")
        peer = ns.add_peer("other", bridge="br1", address="10.78.0.9/24")
        assert dhclient(peer, tmp_path, "other") is None
        other = Netns.__new__(Netns)
        other.name = peer
        assert isinstance(tftp_get(other, "10.78.0.1", "boot.ipxe"), str)
        result = other.run(["python3", "-c",
                            "import socket; socket.create_connection(('10.78.0.1', 80), 5)"])
        assert result.returncode != 0 and "refused" in result.stderr.lower(), result.stderr
        assert server.stop() == 0
    finally:
        ns.close()


def children_of(pid):
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as f:
                    fields = f.read().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == pid:
                found.append(int(entry))
    return found


def serve_pid(server):
    # ip netns exec executes serve in its own process.
    return server.proc.pid


def test_sigterm_stops_serve_and_dnsmasq(netns, tree, tmp_path):
    server = Server(netns, tree, tmp_path / "serve.log")
    dnsmasq = children_of(serve_pid(server))
    assert len(dnsmasq) == 1, dnsmasq
    assert server.stop() == 0, server.text()
    assert not os.path.exists(f"/proc/{dnsmasq[0]}"), "dnsmasq was left running"
    assert "signal 15: stopping" in server.text()


def test_serve_names_a_missing_interface(tree):
    result = kvm_netboot("serve", tree, "--interface", "nosuch0")
    assert result.returncode == 1
    assert result.stderr == "kvm-netboot: nosuch0: no such network interface\n"
