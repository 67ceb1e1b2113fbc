"""Sans-IO HTTP/1.1 request serialization: the request head and chunked framing."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Final

from ..helpers import TCHAR
from . import HttpVersion

__all__ = ("LAST_CHUNK", "check_token", "frame_chunk", "serialize_head")

LAST_CHUNK: Final = b"0\r\n\r\n"


def check_token(value: str, what: str) -> None:
    """ValueError unless *value* is a non-empty RFC 9110 token."""
    if not value or not TCHAR.issuperset(value):
        raise ValueError(f"{what} {value!r} is not a valid HTTP token")


def serialize_head(
    method: str, target: str, version: HttpVersion, headers: Iterable[tuple[str, str]]
) -> bytes:
    """The request line and header block, ready for one ``transport.write``.

    CR, LF and NUL anywhere in the method, target, names or values would let a caller's data
    inject header lines or a second request (RFC 9112 §2.2), so they are refused with ValueError
    before a byte is sent.

    Requests of one session mostly repeat the same header lines and differ in the request line,
    so the encoded, already checked header block is memoized by its (name, value) pairs.
    """
    items = tuple(headers)
    block = _BLOCKS.get(items)
    if block is None:
        block = _serialize_block(method, target, items)
        if len(_BLOCKS) >= _MAX_BLOCKS:
            _BLOCKS.clear()  # per-request values (Content-Length, auth nonces) churn: start over
        _BLOCKS[items] = block
    line = f"{method} {target} HTTP/{version[0]}.{version[1]}\r\n"
    if line.count("\r") != 1 or line.count("\n") != 1 or "\x00" in line:
        _raise_for_bad_char(method, target, items)
    return line.encode("utf-8", "surrogateescape") + block


def _serialize_block(method: str, target: str, items: tuple[tuple[str, str], ...]) -> bytes:
    text = "".join([f"{name}: {value}\r\n" for name, value in items])
    n_breaks = len(items)
    if text.count("\r") != n_breaks or text.count("\n") != n_breaks or "\x00" in text:
        _raise_for_bad_char(method, target, items)
    return (text + "\r\n").encode("utf-8", "surrogateescape")


_BLOCKS: dict[tuple[tuple[str, str], ...], bytes] = {}
_MAX_BLOCKS: Final = 256


def _raise_for_bad_char(method: str, target: str, headers: Iterable[tuple[str, str]]) -> None:
    def bad(s: str) -> bool:
        return "\r" in s or "\n" in s or "\x00" in s

    if bad(method):
        raise ValueError(f"Method {method!r} contains CR, LF or NUL")
    if bad(target):
        raise ValueError(f"URL {target!r} contains CR, LF or NUL")
    for name, value in headers:
        if bad(name):
            raise ValueError(f"Header name {name!r} contains CR, LF or NUL")
        if bad(value):
            raise ValueError(f"Header {name!r} value {value!r} contains CR, LF or NUL")
    raise AssertionError("unreachable")  # pragma: no cover


def frame_chunk(
    data: bytes | bytearray | memoryview,
) -> tuple[bytes, bytes | bytearray | memoryview, bytes]:
    """One chunk of a chunked body (RFC 9112 §7.1): size line, data, CRLF."""
    return f"{len(data):x}\r\n".encode("ascii"), data, b"\r\n"
