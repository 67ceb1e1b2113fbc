"""atheris (libFuzzer) harness for the HTTP/1.1 response parser; see fuzz/README.md.

Each input: one flag byte (bit 0: the response answers a HEAD; bits 1-3: how many cuts), the
cuts, then the response bytes. The oracle is the test suite's: only BadHttpMessage and
httptools.HttpParserError may come out, the reading must not depend on the cuts, and it must
match h11's whenever h11 accepts the input too.
"""

from __future__ import annotations

import sys

import _common
import atheris

with atheris.instrument_imports(include=["hyperclient"]):
    from servers.hostile_fuzz import check_response_bytes


def one_input(data: bytes) -> None:
    head_request, cuts, payload = _common.unpack(data)
    check_response_bytes(payload, cuts, head_request=bool(head_request))


if __name__ == "__main__":
    atheris.Setup(sys.argv, one_input)
    atheris.Fuzz()
