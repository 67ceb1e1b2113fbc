"""The request-body base class, what every body shares, and the bodies already held in memory.

A :class:`Payload` knows its headers (Content-Type, maybe Content-Disposition), its exact size
when that is known before sending (``None`` sends the request chunked), and how to write itself
into a :class:`PayloadWriter`. Beside it: the piece size bodies are written in, the
Content-Disposition builder, and the in-memory payloads (bytes, str, StringIO, JSON), which are
sized and can be sent again. Payloads streamed from files and streams are in
``_payload_streams``; the registry that picks a class for ``data=`` is in ``payload``, the
public module to import all of these from.
"""

from __future__ import annotations

import abc
import io
import json
import mimetypes
from collections.abc import Callable, Iterable, Mapping
from typing import Any, ClassVar, Protocol, Union
from urllib.parse import quote

from multidict import CIMultiDict

from . import hdrs
from .helpers import TCHAR, parse_content_type

# Request bodies reach the transport in pieces of this size, each followed by a drain: never
# one huge write (DESIGN.md). 768 KiB, not 1 MiB: on uvloop, 16 MiB uploads over loopback take
# about a third less time in 768 KiB pieces than in 1 MiB ones (the raw benchmark client shows
# the same), and the default loop runs both sizes alike (benchmarks/RESULTS.md, 2026-11-21).
WRITE_PIECE = 768 * 1024

HeadersArg = Union[Mapping[str, str], Iterable[tuple[str, str]], None]
_BytesLike = (bytes, bytearray, memoryview)
# RFC 9110 §5.6.2 tchar: what a disposition type or parameter name may be made of.
# RFC 8187 §3.2.1 attr-char: left unescaped in an ext-value such as filename*.
_ATTR_SAFE = "!#$&+-.^_`|~"


class PayloadWriter(Protocol):
    """Where a payload streams its bytes; the HTTP/1.1 writer implements it (framing, drain)."""

    async def write(self, chunk: bytes | bytearray | memoryview) -> None: ...


def _is_token(text: str) -> bool:
    return bool(text) and TCHAR.issuperset(text)


def _quoted_string(value: str) -> str:
    # RFC 9110 §5.6.4: inside quotes only backslash and DQUOTE need a backslash.
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _form_data_quoted(value: str) -> str:
    # WHATWG HTML "multipart/form-data encoding" (which RFC 7578 §4.2 defers to in practice):
    # names and filenames escape only these three; other text goes out as raw UTF-8.
    return '"' + value.replace('"', "%22").replace("\r", "%0D").replace("\n", "%0A") + '"'


def content_disposition_header(
    disptype: str,
    quote_fields: bool = True,
    _charset: str = "utf-8",
    params: Mapping[str, str] | None = None,
) -> str:
    """Build a Content-Disposition value; it never contains CR or LF."""
    if not _is_token(disptype):
        raise ValueError(f"bad content disposition type {disptype!r}")
    pieces = [disptype]
    is_form = disptype.lower() == "form-data"
    for key, value in (params or {}).items():
        if not _is_token(key):
            raise ValueError(f"bad content disposition parameter name {key!r}")
        if not isinstance(value, str):
            raise TypeError(f"content disposition parameter {key!r} must be str, got {value!r}")
        if not quote_fields:
            if "\r" in value or "\n" in value:
                raise ValueError(f"newline in content disposition parameter {key!r}")
            pieces.append(f"{key}={_quoted_string(value)}")
        elif is_form:
            # RFC 7578 §4.2: filename* MUST NOT be used in multipart/form-data.
            pieces.append(f"{key}={_form_data_quoted(value)}")
        elif value.isascii() and value.isprintable():
            pieces.append(f"{key}={_quoted_string(value)}")
        else:
            # RFC 6266 §4.3 / RFC 8187: non-ASCII or control characters as an ext-value.
            encoded = quote(value, safe=_ATTR_SAFE, encoding=_charset)
            pieces.append(f"{key}*={_charset}''{encoded}")
    return "; ".join(pieces)


class Payload(abc.ABC):
    """A request body: headers, size, and a way to stream itself into a :class:`PayloadWriter`."""

    __slots__ = ("_encoding", "_filename", "_headers", "_size", "_value")

    _default_content_type: ClassVar[str] = "application/octet-stream"
    _value: object

    def __init__(
        self,
        value: object,
        headers: HeadersArg = None,
        content_type: str | None = None,
        filename: str | None = None,
        encoding: str | None = None,
    ) -> None:
        self._value = value
        self._encoding = encoding
        self._filename = filename
        self._size: int | None = None
        own: CIMultiDict[str] = CIMultiDict()
        if content_type is not None:
            own[hdrs.CONTENT_TYPE] = content_type
        elif filename is not None:
            guessed = mimetypes.guess_type(filename)[0]
            own[hdrs.CONTENT_TYPE] = guessed or self._default_content_type
        else:
            own[hdrs.CONTENT_TYPE] = self._default_content_type
        if headers:
            own.update(headers)
        self._headers = own

    @property
    def headers(self) -> CIMultiDict[str]:
        return self._headers

    @property
    def size(self) -> int | None:
        """Exact byte length if known before sending; ``None`` sends the body chunked."""
        return self._size

    @property
    def content_type(self) -> str:
        return self._headers.get(hdrs.CONTENT_TYPE, self._default_content_type)

    @property
    def encoding(self) -> str | None:
        return self._encoding

    @property
    def filename(self) -> str | None:
        return self._filename

    @property
    def consumed(self) -> bool:
        """True once written (or closed) when it cannot be written again."""
        return False

    def set_content_disposition(
        self, disptype: str, quote_fields: bool = True, _charset: str = "utf-8", **params: str
    ) -> None:
        self._headers[hdrs.CONTENT_DISPOSITION] = content_disposition_header(
            disptype, quote_fields=quote_fields, _charset=_charset, params=params
        )

    @abc.abstractmethod
    async def write(self, writer: PayloadWriter) -> None:
        """Stream the body into ``writer``; a reusable payload may be written again."""

    async def write_with_length(self, writer: PayloadWriter, content_length: int | None) -> None:
        """Write at most ``content_length`` bytes, for a Content-Length the caller fixed."""
        if content_length is None:
            await self.write(writer)
        else:
            await self.write(_LimitedWriter(writer, content_length))

    async def as_bytes(self, encoding: str = "utf-8", errors: str = "strict") -> bytes:
        sink = _Collector()
        await self.write(sink)
        return b"".join(sink.chunks)

    def decode(self, encoding: str = "utf-8", errors: str = "strict") -> str:
        return self._sync_bytes().decode(encoding, errors)

    def _sync_bytes(self) -> bytes:
        """The whole body without awaiting; streamed payloads cannot offer that."""
        raise TypeError(f"{type(self).__name__} is streamed; use `await payload.as_bytes()`")

    async def close(self) -> None:  # noqa: B027 - most payloads hold nothing to release
        """Release files and iterators; safe to call more than once."""


class _Collector:
    __slots__ = ("chunks",)

    def __init__(self) -> None:
        self.chunks: list[bytes] = []

    async def write(self, chunk: bytes | bytearray | memoryview) -> None:
        self.chunks.append(bytes(chunk))


class _LimitedWriter:
    __slots__ = ("_left", "_writer")

    def __init__(self, writer: PayloadWriter, limit: int) -> None:
        self._writer = writer
        self._left = limit

    async def write(self, chunk: bytes | bytearray | memoryview) -> None:
        if self._left <= 0:
            return
        view = memoryview(chunk).cast("B")
        if len(view) > self._left:
            view = view[: self._left]
        self._left -= len(view)
        await self._writer.write(view)


class BytesPayload(Payload):
    """bytes, bytearray or memoryview: sized, replayable, sent without copying."""

    __slots__ = ()

    _value: bytes | bytearray | memoryview

    def __init__(
        self,
        value: bytes | bytearray | memoryview,
        headers: HeadersArg = None,
        content_type: str | None = None,
        filename: str | None = None,
        encoding: str | None = None,
    ) -> None:
        if not isinstance(value, _BytesLike):
            raise TypeError(f"bytes, bytearray or memoryview expected, got {type(value)!r}")
        if isinstance(value, memoryview) and (value.ndim != 1 or value.itemsize != 1):
            value = value.cast("B") if value.c_contiguous else value.tobytes()
        super().__init__(value, headers, content_type, filename, encoding)
        self._size = len(value)

    @property
    def value(self) -> bytes | bytearray | memoryview:
        return self._value

    async def write(self, writer: PayloadWriter) -> None:
        # One call: the HTTP/1.1 writer cuts large bodies into transport-sized pieces itself.
        await writer.write(self._value)

    async def as_bytes(self, encoding: str = "utf-8", errors: str = "strict") -> bytes:
        return bytes(self._value)

    def _sync_bytes(self) -> bytes:
        return bytes(self._value)


def _text_encoding(content_type: str | None, encoding: str | None) -> tuple[str, str]:
    """The charset to encode text with, and the Content-Type announcing it."""
    if encoding is None:
        if content_type is None:
            return "utf-8", "text/plain; charset=utf-8"
        return parse_content_type(content_type)[1].get("charset") or "utf-8", content_type
    return encoding, content_type or f"text/plain; charset={encoding}"


class StringPayload(BytesPayload):
    """str, encoded up front with the charset of its Content-Type (default UTF-8)."""

    __slots__ = ()

    def __init__(
        self,
        value: str,
        headers: HeadersArg = None,
        content_type: str | None = None,
        filename: str | None = None,
        encoding: str | None = None,
    ) -> None:
        if not isinstance(value, str):
            raise TypeError(f"str expected, got {type(value)!r}")
        charset, content_type = _text_encoding(content_type, encoding)
        super().__init__(value.encode(charset), headers, content_type, filename, charset)


class StringIOPayload(StringPayload):
    """io.StringIO: the rest of its text, taken at once (it is already in memory)."""

    __slots__ = ()

    def __init__(
        self,
        value: io.StringIO,
        headers: HeadersArg = None,
        content_type: str | None = None,
        filename: str | None = None,
        encoding: str | None = None,
    ) -> None:
        super().__init__(value.read(), headers, content_type, filename, encoding)


class JsonPayload(BytesPayload):
    """Any JSON-serialisable object, serialised once with ``dumps``."""

    __slots__ = ()

    def __init__(
        self,
        value: object,
        encoding: str = "utf-8",
        content_type: str = "application/json",
        dumps: Callable[[Any], str] = json.dumps,
        *,
        headers: HeadersArg = None,
        filename: str | None = None,
    ) -> None:
        body = dumps(value).encode(encoding)
        super().__init__(body, headers, content_type, filename, encoding)
