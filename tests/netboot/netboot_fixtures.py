# SPDX-License-Identifier: GPL-2.0-or-later
"""What the kvm-netboot tests share: the program with the source tree's
profiles, network namespaces with a bridge, and a running server.

Network tests use only namespaces they create: a bridge (and veths or taps
on it) inside a namespace that nothing else reaches."""
import os
import pathlib
import shutil
import signal
import subprocess
import tempfile
import time
import uuid

import pytest

from conftest import TOP, built_program, require_program, run

DATA_DIR = TOP / "netboot"
GOLDEN = pathlib.Path(__file__).resolve().parent / "golden"


def environment():
    """kvm-netboot's environment: the profiles of the source tree (and
    kvm-install's templates, for the answer files the tests render)."""
    return dict(os.environ, KVM_NETBOOT_DATA_DIR=str(DATA_DIR),
                KVM_INSTALL_DATA_DIR=str(TOP / "installer"))


def kvm_netboot(*args, **kwargs):
    return run([built_program("kvm-netboot"), *args], env=environment(), **kwargs)


def kvm_install(*args, **kwargs):
    return run([built_program("kvm-install"), *args], env=environment(), **kwargs)


def require_root():
    if os.geteuid() != 0:
        pytest.skip("network namespaces need root")
    require_program("ip")


class Netns:
    """A network namespace holding a bridge br0 at ADDRESS/24."""

    def __init__(self, address="10.77.0.1", ipv6=None):
        self.name = "kvmnb-" + uuid.uuid4().hex[:8]
        self.address = address
        self.processes = []
        subprocess.run(["ip", "netns", "add", self.name], check=True)
        self.ip("link", "set", "lo", "up")
        self.ip("link", "add", "br0", "type", "bridge")
        # The bridge forwards at once: no STP learning delay for the guests.
        self.ip("link", "set", "br0", "type", "bridge", "forward_delay", "0")
        self.ip("addr", "add", f"{address}/24", "dev", "br0")
        if ipv6:
            self.ip("addr", "add", ipv6, "dev", "br0", "nodad")
        self.ip("link", "set", "br0", "up")

    def ip(self, *args):
        subprocess.run(["ip", "-n", self.name, *args], check=True)

    def command(self, argv):
        return ["ip", "netns", "exec", self.name, *[str(a) for a in argv]]

    def run(self, argv, **kwargs):
        return run(self.command(argv), **kwargs)

    def spawn(self, argv, log, env=None):
        """Starts argv in the namespace, its output into the file LOG."""
        out = open(log, "w")
        proc = subprocess.Popen(self.command(argv), stdout=out, stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL, env=env)
        out.close()
        self.processes.append(proc)
        return proc

    def add_tap(self, name):
        self.ip("tuntap", "add", name, "mode", "tap")
        self.ip("link", "set", name, "master", "br0")
        self.ip("link", "set", name, "up")

    def add_peer(self, name, bridge="br0", address=None):
        """A second namespace joined to BRIDGE by a veth pair; returns its name."""
        peer = f"{self.name}-{name}"
        subprocess.run(["ip", "netns", "add", peer], check=True)
        self.ip("link", "add", "veth-" + name, "type", "veth", "peer", "name", "eth0",
                "netns", peer)
        self.ip("link", "set", "veth-" + name, "master", bridge)
        self.ip("link", "set", "veth-" + name, "up")
        subprocess.run(["ip", "-n", peer, "link", "set", "lo", "up"], check=True)
        subprocess.run(["ip", "-n", peer, "link", "set", "eth0", "up"], check=True)
        if address:
            subprocess.run(["ip", "-n", peer, "addr", "add", address, "dev", "eth0"], check=True)
        return peer

    def close(self):
        for proc in self.processes:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
        listed = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True).stdout
        for line in listed.splitlines():
            name = line.split()[0] if line.split() else ""
            if name.startswith(self.name):
                subprocess.run(["ip", "netns", "delete", name])


@pytest.fixture
def netns():
    require_root()
    ns = Netns()
    yield ns
    ns.close()


class Server:
    """kvm-netboot serve running in a namespace."""

    def __init__(self, ns, tree, log, *options):
        require_program("dnsmasq")
        self.log = pathlib.Path(log)
        self.proc = ns.spawn([built_program("kvm-netboot"), "serve", tree, "--interface", "br0",
                              *options], self.log, env=environment())
        deadline = time.monotonic() + 30
        while "TFTP root is" not in self.text():
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise AssertionError("kvm-netboot serve did not start:\n" + self.text())
            time.sleep(0.1)

    def text(self):
        return self.log.read_text(errors="replace") if self.log.exists() else ""

    def stop(self):
        """SIGTERM; returns the exit status."""
        self.proc.send_signal(signal.SIGTERM)
        return self.proc.wait(timeout=30)


def http_get(ns, url, method="GET"):
    """(status, body) of URL fetched from inside the namespace, by Python's
    http.client (no proxy, the path sent as it is)."""
    script = (
        "import http.client, sys, urllib.parse\n"
        "u = urllib.parse.urlsplit(sys.argv[1])\n"
        "c = http.client.HTTPConnection(u.hostname, u.port or 80, timeout=20)\n"
        "c.request(sys.argv[2], sys.argv[1][len(u.scheme) + 3 + len(u.netloc):])\n"
        "r = c.getresponse()\n"
        "sys.stdout.buffer.write(b'%d\\n' % r.status + r.read())\n")
    result = ns.run(["python3", "-c", script, url, method])
    assert result.returncode == 0, result.stderr
    status, _, body = result.stdout.partition("\n")
    return int(status), body


def tftp_get(ns, server, name):
    """The bytes of NAME fetched over TFTP from inside the namespace, or, as
    a str, the TFTP error message or that no answer came."""
    script = (
        "import socket, struct, sys\n"
        "s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)\n"
        "s.settimeout(5)\n"
        "s.sendto(b'\\0\\1' + sys.argv[2].encode() + b'\\0octet\\0', (sys.argv[1], 69))\n"
        "data = b''\n"
        "while True:\n"
        "    try:\n"
        "        pkt, peer = s.recvfrom(65536)\n"
        "    except TimeoutError:\n"
        "        sys.stdout.write('TIMEOUT no answer'); sys.exit(0)\n"
        "    op, num = struct.unpack('!HH', pkt[:4])\n"
        "    if op == 5:\n"
        "        sys.stdout.write('ERROR ' + pkt[4:].rstrip(b'\\0').decode()); sys.exit(0)\n"
        "    data += pkt[4:]\n"
        "    s.sendto(struct.pack('!HH', 4, num), peer)\n"
        "    if len(pkt) - 4 < 512: break\n"
        "sys.stdout.write('DATA ' + data.hex())\n")
    result = ns.run(["python3", "-c", script, server, name])
    assert result.returncode == 0, result.stderr
    kind, _, rest = result.stdout.partition(" ")
    return bytes.fromhex(rest) if kind == "DATA" else rest


def served_dir(prefix):
    """A folder dnsmasq can read after dropping to nobody (pytest's are
    private to root); the caller removes it."""
    path = pathlib.Path(tempfile.mkdtemp(prefix=prefix, dir="/var/tmp"))
    path.chmod(0o755)
    return path


def make_tree(tmp_path, *init_options):
    tree = tmp_path / "tree"
    result = kvm_netboot("init", tree, *init_options)
    assert result.returncode == 0, result.stderr
    return tree


def copy_if_missing(source, dest):
    if not dest.exists():
        shutil.copyfile(source, dest)
