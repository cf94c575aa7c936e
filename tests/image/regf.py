# SPDX-License-Identifier: GPL-2.0-or-later
"""An empty Windows registry hive (regf), written from the format's
description (libyal's "Windows NT Registry File (REGF) format"): a 4 KiB
base block with its XOR checksum, then one 4 KiB hive bin holding the root
key (nk), the security descriptor (sk) it points at, and a free cell over
the rest.  hivexregedit --merge fills it."""
import struct

BLOCK = 4096
HBIN_HEADER = 32
NO_CELL = 0xFFFFFFFF
# KEY_HIVE_ENTRY | KEY_NO_DELETE | KEY_COMP_NAME (an ASCII name)
ROOT_FLAGS = 0x0004 | 0x0008 | 0x0020
# Self-relative, no owner, group or ACLs: hivex only counts references.
SECURITY_DESCRIPTOR = struct.pack("<BBHIIII", 1, 0, 0x8000, 0, 0, 0, 0)


def _cell(payload):
    """A used cell: negative size (header included), 8-byte aligned."""
    size = (4 + len(payload) + 7) & ~7
    return struct.pack("<i", -size) + payload + bytes(size - 4 - len(payload))


def _checksum(base):
    value = 0
    for (word,) in struct.iter_unpack("<I", base[:508]):
        value ^= word
    return {0: 1, 0xFFFFFFFF: 0xFFFFFFFE}.get(value, value)


def empty_hive(root_name="ROOT"):
    """The bytes of a hive with nothing but its root key."""
    name = root_name.encode("ascii")
    nk_offset = HBIN_HEADER
    nk_size = (4 + 0x4C + len(name) + 7) & ~7
    sk_offset = nk_offset + nk_size
    nk = struct.pack("<2sHQIIIIIIIIIIIIIIIHH", b"nk", ROOT_FLAGS, 0, 0, 0,
                     0, 0, NO_CELL, NO_CELL, 0, NO_CELL, sk_offset, NO_CELL,
                     0, 0, 0, 0, 0, len(name), 0) + name
    sk = struct.pack("<2sHIIII", b"sk", 0, sk_offset, sk_offset, 1,
                     len(SECURITY_DESCRIPTOR)) + SECURITY_DESCRIPTOR
    cells = _cell(nk) + _cell(sk)
    assert len(_cell(nk)) == nk_size
    free = BLOCK - HBIN_HEADER - len(cells)
    hbin = struct.pack("<4sIIQQI", b"hbin", 0, BLOCK, 0, 0, 0) + cells + \
        struct.pack("<i", free) + bytes(free - 4)

    base = bytearray(BLOCK)
    struct.pack_into("<4sIIQIIIIIII", base, 0, b"regf", 1, 1, 0, 1, 3, 0, 1,
                     nk_offset, BLOCK, 1)
    struct.pack_into("<I", base, 508, _checksum(base))
    return bytes(base) + hbin
