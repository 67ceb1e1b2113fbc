"""What the atheris harnesses share: the oracles live with the tests (tests/servers/
hostile_fuzz.py), and an input's first bytes choose how it is cut into pieces."""

from __future__ import annotations

import sys
from pathlib import Path

TESTS = Path(__file__).resolve().parent.parent / "tests"
if str(TESTS) not in sys.path:
    sys.path.insert(0, str(TESTS))


def unpack(data: bytes) -> tuple[int, list[int], bytes]:
    """(flags, cut offsets, payload): byte 0 holds the flags (bit 0) and how many cuts
    (bits 1-3); each cut is the next two bytes, big-endian."""
    if not data:
        return 0, [], b""
    flags = data[0]
    count = (flags >> 1) & 7
    cuts = [int.from_bytes(data[1 + 2 * i : 3 + 2 * i], "big") for i in range(count)]
    return flags & 1, cuts, data[1 + 2 * count :]
