"""Property-based fuzzing of the HTTP/1.1 response parser (issue 6).

Random, structured and mutated responses, cut into random pieces, fed to
``hyperclient.http1.parser.ResponseParser`` (with a sink like the connection's protocol):

- only the documented exceptions come out (BadHttpMessage, httptools.HttpParserError);
- the reading does not depend on how the bytes were cut;
- whenever h11 also accepts the input, both read the same status, reason, version, headers,
  interim responses and body.

The short run here is part of the test command; ``HYPOTHESIS_PROFILE=fuzz-long`` runs the same
properties with many more examples (fuzz/README.md).
"""

from __future__ import annotations

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from servers.hostile_fuzz import FUZZ, check_response_bytes, parse_h11, parse_ours

CUTS = st.lists(st.integers(min_value=0, max_value=1 << 16), max_size=6)

# -- building blocks ---------------------------------------------------------------------------

TOKEN = st.text(
    alphabet="abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-!#$%&'*+.^_`|~",
    min_size=1,
    max_size=12,
)
VALUE_TEXT = st.binary(max_size=20).map(
    lambda b: bytes(c for c in b if c == 9 or 32 <= c <= 126 or c >= 128)
)
INTERESTING_VALUES = st.sampled_from(
    [
        b"0",
        b"5",
        b"005",
        b"-1",
        b"+5",
        b"5, 5",
        b"chunked",
        b"gzip, chunked",
        b"chunked, gzip",
        b"close",
        b"keep-alive",
        b"identity",
        b"\tchunked",
        b"chunked ",
        b"",
        b" ",
        b"9" * 25,
    ]
)
NAMES = st.one_of(
    st.sampled_from(
        [
            b"Content-Length",
            b"Transfer-Encoding",
            b"Connection",
            b"content-length",
            b"TRANSFER-ENCODING",
            b"Keep-Alive",
            b"Upgrade",
            b"X-Any",
        ]
    ),
    TOKEN.map(str.encode),
)
LINE_END = st.sampled_from([b"\r\n"] * 12 + [b"\n", b"\r", b"\r\r\n", b"\n\r"])
STATUS = st.one_of(
    st.sampled_from([100, 101, 103, 200, 204, 206, 301, 304, 400, 404, 500, 999]),
    st.integers(min_value=0, max_value=1000),
)
VERSION = st.sampled_from(
    [b"HTTP/1.1", b"HTTP/1.0", b"HTTP/1.1", b"HTTP/2.0", b"HTTP/1.9", b"HTTP/1"]
)


@st.composite
def heads(draw: st.DrawFn) -> bytes:
    status = draw(STATUS)
    line = draw(VERSION) + b" " + str(status).encode()
    if draw(st.booleans()):
        line += b" " + draw(VALUE_TEXT)
    lines = [line]
    for _ in range(draw(st.integers(min_value=0, max_value=5))):
        name = draw(NAMES)
        value = draw(st.one_of(INTERESTING_VALUES, VALUE_TEXT))
        sep = draw(st.sampled_from([b": ", b":", b":\t", b" : ", b": "]))
        lines.append(name + sep + value)
    ends = [draw(LINE_END) for _ in lines]
    return b"".join(text + end for text, end in zip(lines, ends, strict=True)) + draw(LINE_END)


@st.composite
def bodies(draw: st.DrawFn) -> bytes:
    kind = draw(st.sampled_from(["raw", "chunked", "bad-chunked"]))
    payload = draw(st.binary(max_size=40))
    if kind == "raw":
        return payload
    parts = []
    pos = 0
    while pos < len(payload):
        size = draw(st.integers(min_value=1, max_value=max(1, len(payload) - pos)))
        ext = draw(st.sampled_from([b"", b";a=b", b";x", b' ;q="v"']))
        parts.append(b"%x" % size + ext + b"\r\n" + payload[pos : pos + size] + b"\r\n")
        pos += size
    parts.append(b"0\r\n")
    if draw(st.booleans()):
        parts.append(b"X-Trailer: t\r\n")
    parts.append(b"\r\n")
    data = b"".join(parts)
    if kind == "bad-chunked" and data:
        i = draw(st.integers(min_value=0, max_value=len(data) - 1))
        data = (
            data[:i]
            + draw(st.sampled_from([b"\n", b"\r", b"\x00", b"z", b" ", b";"]))
            + data[i + 1 :]
        )
    return data


@st.composite
def responses(draw: st.DrawFn) -> bytes:
    interim = b""
    if draw(st.integers(min_value=0, max_value=4)) == 0:
        interim = b"HTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\n"
    return interim + draw(heads()) + draw(bodies()) + draw(st.binary(max_size=8))


MUTATIONS = st.sampled_from(
    [
        b"\r",
        b"\n",
        b"\r\n",
        b"\x00",
        b" ",
        b"\t",
        b":",
        b";",
        b",",
        b"0",
        b"9",
        b"f",
        b"-",
        b"\x80",
        b"\x7f",
    ]
)


@st.composite
def mutated(draw: st.DrawFn) -> bytes:
    data = bytearray(draw(responses()))
    for _ in range(draw(st.integers(min_value=1, max_value=4))):
        if not data:
            break
        i = draw(st.integers(min_value=0, max_value=len(data) - 1))
        action = draw(st.sampled_from(["insert", "replace", "delete", "duplicate"]))
        if action == "insert":
            data[i:i] = draw(MUTATIONS)
        elif action == "replace":
            data[i : i + 1] = draw(MUTATIONS)
        elif action == "delete":
            del data[i]
        else:
            data[i:i] = data[max(0, i - 8) : i]
    return bytes(data)


RANDOM = st.binary(max_size=200).map(lambda b: b"HTTP/1.1 " + b)


# -- properties --------------------------------------------------------------------------------


@FUZZ
@given(data=RANDOM, cuts=CUTS, head_request=st.booleans())
def test_random_bytes_give_only_documented_errors(
    data: bytes, cuts: list[int], head_request: bool
) -> None:
    check_response_bytes(data, cuts, head_request=head_request)


@FUZZ
@given(data=responses(), cuts=CUTS, head_request=st.booleans())
@example(data=b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello", cuts=[], head_request=False)
@example(data=b"HTTP/1.1 200 OK\r\n\r\nuntil close", cuts=[3], head_request=False)
@example(
    data=b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5;a=b\r\nhello\r\n0\r\n\r\n",
    cuts=[40, 45],
    head_request=False,
)
def test_structured_responses_are_read_like_h11_reads_them(
    data: bytes, cuts: list[int], head_request: bool
) -> None:
    check_response_bytes(data, cuts, head_request=head_request)


@FUZZ
@given(data=mutated(), cuts=CUTS, head_request=st.booleans())
def test_mutated_responses_give_only_documented_errors_and_agree_with_h11(
    data: bytes, cuts: list[int], head_request: bool
) -> None:
    check_response_bytes(data, cuts, head_request=head_request)


# -- the oracle itself -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "data",
    [
        b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello",
        b"HTTP/1.1 204 No Content\r\nX-A: 1\r\n\r\n",
        b"HTTP/1.1 103 Early Hints\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n",
        b"HTTP/1.0 200 OK\r\n\r\nuntil the end",
    ],
)
def test_the_two_parsers_agree_on_plain_responses(data: bytes) -> None:
    ours = parse_ours(data)
    assert ours is not None
    assert ours == parse_h11(data)


def test_the_oracle_sees_a_disagreement() -> None:
    # h11 accepts a bare-LF head that llhttp refuses: no comparison, but each side is read.
    data = b"HTTP/1.1 200 OK\nContent-Length: 2\n\nok"
    assert parse_ours(data) is None
    assert parse_h11(data) is not None
