"""atheris (libFuzzer) harness for the WebSocket frame reader; see fuzz/README.md.

Each input: one flag byte (bits 1-3: how many cuts), the cuts, then the bytes a server sent
after the handshake. The oracle is the test suite's: only WebSocketError may come out, the
reading must not depend on the cuts, and it must match the ``websockets`` frame parser's
whenever that one reads the input to its end. Bit 0 of the flag byte negotiates
permessage-deflate, which checks the first two properties only.
"""

from __future__ import annotations

import sys

import _common
import atheris

with atheris.instrument_imports(include=["hyperclient"]):
    from servers.hostile_fuzz import check_ws_bytes, parse_ws_ours

MAX_SIZE = 1024


def one_input(data: bytes) -> None:
    deflate, cuts, payload = _common.unpack(data)
    if deflate:
        reading = parse_ws_ours(payload, cuts, max_size=MAX_SIZE, deflate=True)
        assert reading == parse_ws_ours(payload, max_size=MAX_SIZE, deflate=True)
    else:
        check_ws_bytes(payload, cuts, max_size=MAX_SIZE)


if __name__ == "__main__":
    atheris.Setup(sys.argv, one_input)
    atheris.Fuzz()
