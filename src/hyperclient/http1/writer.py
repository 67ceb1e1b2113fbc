"""Sans-IO HTTP/1.1 request serialization: the request head and chunked framing."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Final

from . import HttpVersion

__all__ = ("LAST_CHUNK", "check_token", "frame_chunk", "serialize_head")

LAST_CHUNK: Final = b"0\r\n\r\n"

# RFC 9110 §5.6.2: tchar. Anything else in a method or a field name could split the head.
_TCHAR: Final = frozenset(
    "!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
)


def check_token(value: str, what: str) -> None:
    """ValueError unless *value* is a non-empty RFC 9110 token."""
    if not value or not _TCHAR.issuperset(value):
        raise ValueError(f"{what} {value!r} is not a valid HTTP token")


def serialize_head(
    method: str, target: str, version: HttpVersion, headers: Iterable[tuple[str, str]]
) -> bytes:
    """The request line and header block, ready for one ``transport.write``.

    CR, LF and NUL anywhere in the method, target, names or values would let a caller's data
    inject header lines or a second request (RFC 9112 §2.2), so they are refused with ValueError
    before a byte is sent. The check runs on the joined text (three C-level scans) and only
    looks for the culprit when it fails.
    """
    lines = [f"{method} {target} HTTP/{version[0]}.{version[1]}"]
    lines += [f"{name}: {value}" for name, value in headers]
    text = "\r\n".join(lines)
    n_breaks = len(lines) - 1
    if text.count("\r") != n_breaks or text.count("\n") != n_breaks or "\x00" in text:
        _raise_for_bad_char(method, target, headers)
    return (text + "\r\n\r\n").encode("utf-8", "surrogateescape")


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
