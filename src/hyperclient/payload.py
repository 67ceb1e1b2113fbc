"""Request bodies: one :class:`Payload` class per kind of ``data=`` and the registry that picks it.

A payload knows its headers (Content-Type, maybe Content-Disposition), its exact size when that
is knowable up front (``None`` means the request goes out chunked), and how to stream itself
into a :class:`PayloadWriter` in pieces. Files are never read whole; blocking file reads run in
the loop's default executor.
"""

from __future__ import annotations

import abc
import asyncio
import codecs
import enum
import functools
import io
import json
import mimetypes
import os
import stat
import warnings
from collections.abc import AsyncIterable, AsyncIterator, Awaitable, Callable, Iterable, Mapping
from typing import Any, ClassVar, Protocol, TypeVar, Union, runtime_checkable
from urllib.parse import quote

from multidict import CIMultiDict

from . import hdrs
from .helpers import TCHAR, guess_filename, parse_content_type

__all__ = (
    "PAYLOAD_REGISTRY",
    "READ_SIZE",
    "AsyncIterablePayload",
    "BufferedReaderPayload",
    "BytesIOPayload",
    "BytesPayload",
    "IOBasePayload",
    "JsonPayload",
    "LookupError",
    "Order",
    "Payload",
    "PayloadRegistry",
    "PayloadWriter",
    "StreamReaderPayload",
    "StreamWrapperPayload",
    "StringIOPayload",
    "StringPayload",
    "TextIOPayload",
    "UnsupportedPayloadError",
    "content_disposition_header",
    "get_payload",
    "payload_type",
    "register_payload",
    "streamer",
)

# Pieces read from a file per executor hop: small enough to keep memory flat for huge uploads,
# large enough that the hop's overhead stays small next to the copy.
READ_SIZE = 2**16
# Request bodies reach the transport in pieces of this size, each followed by a drain: never
# one huge write (DESIGN.md). 768 KiB, not 1 MiB: on uvloop, 16 MiB uploads over loopback take
# about a third less time in 768 KiB pieces than in 1 MiB ones (the raw benchmark client shows
# the same), and the default loop runs both sizes alike (benchmarks/RESULTS.md, 2026-11-21).
WRITE_PIECE = 768 * 1024
# An in-memory BytesIO needs no executor hop, so its pieces only bound the copy per write.
_MEMORY_PIECE = WRITE_PIECE

HeadersArg = Union[Mapping[str, str], Iterable[tuple[str, str]], None]
_BytesLike = (bytes, bytearray, memoryview)
# RFC 9110 §5.6.2 tchar: what a disposition type or parameter name may be made of.
# RFC 8187 §3.2.1 attr-char: left unescaped in an ext-value such as filename*.
_ATTR_SAFE = "!#$&+-.^_`|~"


class PayloadWriter(Protocol):
    """Where a payload streams its bytes; the HTTP/1.1 writer implements it (framing, drain)."""

    async def write(self, chunk: bytes | bytearray | memoryview) -> None: ...


class UnsupportedPayloadError(TypeError):
    """No :class:`Payload` class is registered for the type of ``data``."""


# aiohttp code catches ``payload.LookupError``; the same class is also a TypeError here.
LookupError = UnsupportedPayloadError


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


class _State(enum.Enum):
    FRESH = "fresh"
    WRITTEN = "written"
    CLOSED = "closed"


class IOBasePayload(Payload):
    """A binary file object, streamed in :data:`READ_SIZE` pieces read in the executor.

    A seekable file is measured (so it gets a Content-Length) and rewinds to the position it
    started at when written again; a pipe or socket file can be written once.
    """

    __slots__ = ("_pending", "_start", "_state")

    _value: io.IOBase
    _piece_size: ClassVar[int] = READ_SIZE

    def __init__(
        self,
        value: io.IOBase,
        headers: HeadersArg = None,
        content_type: str | None = None,
        filename: str | None = None,
        encoding: str | None = None,
    ) -> None:
        if not callable(getattr(value, "read", None)):
            raise TypeError(f"a readable file object expected, got {type(value)!r}")
        if filename is None:
            filename = guess_filename(value)
        super().__init__(value, headers, content_type, filename, encoding)
        self._state = _State.FRESH
        self._pending: asyncio.Future[object] | None = None
        self._start, self._size = self._measure()

    def _measure(self) -> tuple[int | None, int | None]:
        """Start position (None if unseekable) and remaining byte count (None if unknown)."""
        value = self._value
        try:
            if not value.seekable():
                return None, None
            start = value.tell()
        except (OSError, ValueError):
            return None, None
        try:
            st = os.fstat(value.fileno())
        except (OSError, ValueError):
            pass
        else:
            if stat.S_ISREG(st.st_mode):
                return start, max(st.st_size - start, 0)
            return start, None
        end = value.seek(0, os.SEEK_END)
        value.seek(start)
        return start, max(end - start, 0)

    @property
    def consumed(self) -> bool:
        if self._state is _State.CLOSED:
            return True
        return self._state is _State.WRITTEN and self._start is None

    def _begin(self) -> None:
        if self._state is _State.CLOSED or self._value.closed:
            raise RuntimeError(f"{type(self).__name__} was closed and cannot be written again")
        if self._state is _State.WRITTEN:
            if self._start is None:
                raise RuntimeError(
                    "an unseekable file body can be sent only once (a redirect or retry "
                    "needs it again); pass bytes or a seekable file instead"
                )
            self._value.seek(self._start)
        self._state = _State.WRITTEN

    async def write(self, writer: PayloadWriter) -> None:
        # A cancelled earlier write (a hop answered before its body was sent) may have left a
        # read running in the executor: the file's position is ours only once it returned.
        await self._settle()
        self._begin()
        remaining = self._size
        while remaining is None or remaining > 0:
            want = self._piece_size if remaining is None else min(self._piece_size, remaining)
            chunk = await self._read_piece(want)
            if not chunk:
                break
            if remaining is not None:
                remaining -= len(chunk)
            await writer.write(chunk)
        if remaining:
            # The Content-Length already went out: sending fewer bytes would desynchronise the
            # connection, so the request must fail instead.
            raise RuntimeError(
                f"{self._describe()} ended {remaining} bytes short of its measured size"
            )

    async def _read_piece(self, size: int) -> bytes:
        return self._check_chunk(await self._read_in_thread(size))

    async def _read_in_thread(self, size: int) -> object:
        fut = asyncio.get_running_loop().run_in_executor(None, self._value.read, size)
        self._pending = fut
        # shield: a cancelled write leaves the thread reading; close() waits for it to finish
        # rather than closing the file underneath it.
        return await asyncio.shield(fut)

    def _describe(self) -> str:
        if self._filename:
            return f"file {self._filename!r}"
        return f"the {type(self._value).__name__} body"

    async def _settle(self) -> None:
        """Wait for the read still running in the executor, if any (without cancelling it:
        a thread cannot be stopped halfway through a read)."""
        pending = self._pending
        if pending is None:
            return
        if not pending.done():
            await asyncio.wait([pending])
        self._pending = None
        if not pending.cancelled():
            pending.exception()  # retrieved so asyncio does not log it as never retrieved

    def _check_chunk(self, chunk: object) -> bytes:
        if chunk is None:
            # A non-blocking raw stream with nothing available: not EOF, and not waitable here.
            raise TypeError(f"{self._describe()} is non-blocking; pass a blocking file")
        if not isinstance(chunk, _BytesLike):
            raise TypeError(f"{self._describe()} returned {type(chunk)!r}, not bytes")
        return bytes(chunk)

    def _sync_bytes(self) -> bytes:
        # Only a seekable file can be read here without spending it for the real write.
        if self._start is None or self._state is _State.CLOSED:
            raise TypeError(f"{type(self).__name__} cannot be read without consuming it")
        self._value.seek(self._start)
        try:
            return self._check_chunk(self._value.read(-1 if self._size is None else self._size))
        finally:
            self._value.seek(self._start)

    async def close(self) -> None:
        if self._state is _State.CLOSED:
            return
        self._state = _State.CLOSED
        await self._settle()
        self._value.close()


class BufferedReaderPayload(IOBasePayload):
    """A file opened with ``open(path, "rb")`` (io.BufferedReader / io.BufferedRandom)."""

    __slots__ = ()


class BytesIOPayload(IOBasePayload):
    """io.BytesIO: in memory, so it is read directly, with no executor hop."""

    __slots__ = ()

    _piece_size = _MEMORY_PIECE

    async def _read_piece(self, size: int) -> bytes:
        return self._check_chunk(self._value.read(size))


class TextIOPayload(IOBasePayload):
    """A text file: read as text in the executor and encoded; its byte size is unknown."""

    __slots__ = ("_charset",)

    def __init__(
        self,
        value: io.TextIOBase,
        headers: HeadersArg = None,
        content_type: str | None = None,
        filename: str | None = None,
        encoding: str | None = None,
    ) -> None:
        self._charset, content_type = _text_encoding(content_type, encoding)
        super().__init__(value, headers, content_type, filename, self._charset)

    def _measure(self) -> tuple[int | None, int | None]:
        # Newline translation and re-encoding make the byte count unknowable before reading.
        return super()._measure()[0], None

    async def write(self, writer: PayloadWriter) -> None:
        self._begin()
        # Incremental: a stateful codec (utf-16) must emit its BOM once, not once per piece.
        encoder = codecs.getincrementalencoder(self._charset)()
        while True:
            text = self._check_text(await self._read_in_thread(READ_SIZE))
            data = encoder.encode(text, final=not text)
            if data:
                await writer.write(data)
            if not text:
                return

    def _check_text(self, text: object) -> str:
        if not isinstance(text, str):
            raise TypeError(f"text file returned {type(text)!r}, not str")
        return text

    def _sync_bytes(self) -> bytes:
        if self._start is None or self._state is _State.CLOSED:
            raise TypeError("TextIOPayload cannot be read without consuming it")
        self._value.seek(self._start)
        try:
            return self._check_text(self._value.read(-1)).encode(self._charset)
        finally:
            self._value.seek(self._start)


class AsyncIterablePayload(Payload):
    """An async iterable (or async generator) of bytes: chunked, and sendable only once.

    ``as_bytes()`` keeps what it collected, after which the payload can be replayed.
    """

    __slots__ = ("_cache", "_iterator", "_state")

    _value: AsyncIterable[bytes]

    def __init__(
        self,
        value: AsyncIterable[bytes],
        headers: HeadersArg = None,
        content_type: str | None = None,
        filename: str | None = None,
        encoding: str | None = None,
    ) -> None:
        if not isinstance(value, AsyncIterable):
            raise TypeError(f"an async iterable expected, got {type(value)!r}")
        super().__init__(value, headers, content_type, filename, encoding)
        self._state = _State.FRESH
        self._iterator: AsyncIterator[bytes] | None = None
        self._cache: bytes | None = None

    @property
    def consumed(self) -> bool:
        return self._cache is None and self._state is not _State.FRESH

    async def write(self, writer: PayloadWriter) -> None:
        if self._cache is not None:
            if self._cache:
                await writer.write(self._cache)
            return
        if self._state is not _State.FRESH:
            raise RuntimeError(
                "an async iterable body can be sent only once (a redirect or retry needs it "
                "again); pass bytes or a seekable file instead"
            )
        self._state = _State.WRITTEN
        self._iterator = aiter(self._value)
        async for chunk in self._iterator:
            if not isinstance(chunk, _BytesLike):
                raise TypeError(f"async iterable body yielded {type(chunk)!r}, not bytes")
            if chunk:
                await writer.write(chunk)

    async def as_bytes(self, encoding: str = "utf-8", errors: str = "strict") -> bytes:
        if self._cache is None:
            self._cache = await super().as_bytes(encoding, errors)
        return self._cache

    def _sync_bytes(self) -> bytes:
        if self._cache is None:
            return super()._sync_bytes()
        return self._cache

    async def close(self) -> None:
        if self._state is _State.CLOSED:
            return
        self._state = _State.CLOSED
        iterator, self._iterator = self._iterator, None
        aclose = getattr(iterator, "aclose", None)
        if aclose is not None:
            # Runs the generator's finally blocks now rather than at garbage collection.
            await aclose()


@runtime_checkable
class _ChunkSource(Protocol):
    def iter_any(self) -> AsyncIterator[bytes]: ...


class StreamReaderPayload(AsyncIterablePayload):
    """A StreamReader (e.g. another response's ``content``) piped through as it arrives."""

    __slots__ = ()

    def __init__(
        self,
        value: _ChunkSource,
        headers: HeadersArg = None,
        content_type: str | None = None,
        filename: str | None = None,
        encoding: str | None = None,
    ) -> None:
        # iter_any, not plain iteration: iterating a StreamReader yields lines.
        super().__init__(value.iter_any(), headers, content_type, filename, encoding)


_StreamFn = Callable[..., Awaitable[None]]


class _StreamerCall:
    """What calling an ``@streamer`` function returns: awaits the function with the writer."""

    __slots__ = ("_args", "_fn", "_kwargs")

    def __init__(self, fn: _StreamFn, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
        self._fn = fn
        self._args = args
        self._kwargs = kwargs

    async def __call__(self, writer: PayloadWriter) -> None:
        await self._fn(writer, *self._args, **self._kwargs)


def streamer(fn: _StreamFn) -> Callable[..., _StreamerCall]:
    """Deprecated: ``@streamer async def send(writer, ...)``; pass an async generator instead."""
    warnings.warn(
        "@streamer is deprecated, use async generators instead", DeprecationWarning, stacklevel=2
    )

    @functools.wraps(fn)
    def bind(*args: Any, **kwargs: Any) -> _StreamerCall:
        return _StreamerCall(fn, args, kwargs)

    return bind


class StreamWrapperPayload(Payload):
    """The body of a deprecated ``@streamer`` function; each write calls the function again."""

    __slots__ = ()

    _value: _StreamerCall

    async def write(self, writer: PayloadWriter) -> None:
        await self._value(writer)


PayloadFactory = Callable[..., Payload]
_F = TypeVar("_F", bound=PayloadFactory)


class Order(str, enum.Enum):
    normal = "normal"
    try_first = "try_first"
    try_last = "try_last"


class PayloadRegistry:
    """Maps the type of ``data`` to the Payload class that sends it; first match wins."""

    __slots__ = ("_by_type", "_first", "_last", "_normal")

    def __init__(self) -> None:
        self._first: list[tuple[PayloadFactory, type | tuple[type, ...]]] = []
        self._normal: list[tuple[PayloadFactory, type | tuple[type, ...]]] = []
        self._last: list[tuple[PayloadFactory, type | tuple[type, ...]]] = []
        self._by_type: dict[type, PayloadFactory] = {}

    def register(
        self, factory: PayloadFactory, type: type | tuple[type, ...], *, order: Order = Order.normal
    ) -> None:
        if order is Order.try_first:
            self._first.append((factory, type))
        elif order is Order.normal:
            self._normal.append((factory, type))
        elif order is Order.try_last:
            self._last.append((factory, type))
        else:
            raise ValueError(f"unsupported order {order!r}")
        self._by_type.clear()

    def get(self, data: object, **kwargs: Any) -> Payload:
        factory = self._by_type.get(type(data))
        if factory is None:
            if isinstance(data, Payload):
                return data
            factory = self._lookup(data)
        return factory(data, **kwargs)

    def _lookup(self, data: object) -> PayloadFactory:
        for entries in (self._first, self._normal, self._last):
            for factory, types in entries:
                if isinstance(data, types):
                    self._by_type[type(data)] = factory
                    return factory
        raise UnsupportedPayloadError(
            f"cannot send {type(data).__name__!r} as a request body; use bytes, str, a file "
            "object, an async iterable of bytes, FormData or a Payload"
        )


PAYLOAD_REGISTRY = PayloadRegistry()


def get_payload(
    data: object,
    *,
    content_type: str | None = None,
    encoding: str | None = None,
    filename: str | None = None,
    headers: HeadersArg = None,
) -> Payload:
    """The Payload for ``data`` (a Payload is returned as is); TypeError if none fits."""
    return PAYLOAD_REGISTRY.get(
        data, content_type=content_type, encoding=encoding, filename=filename, headers=headers
    )


def register_payload(
    factory: PayloadFactory, type: type | tuple[type, ...], *, order: Order = Order.normal
) -> None:
    PAYLOAD_REGISTRY.register(factory, type, order=order)


class payload_type:
    """Class decorator: ``@payload_type(MyType)`` registers the decorated Payload class."""

    __slots__ = ("_order", "_types")

    def __init__(self, type: type | tuple[type, ...], *, order: Order = Order.normal) -> None:
        self._types = type
        self._order = order

    def __call__(self, factory: _F) -> _F:
        register_payload(factory, self._types, order=self._order)
        return factory


# Most specific first: StringIO is a TextIOBase, BytesIO and BufferedReader are IOBase, and a
# StreamReader is also async-iterable (by lines, which is why it must match before).
register_payload(BytesPayload, _BytesLike)
register_payload(StringPayload, str)
register_payload(StringIOPayload, io.StringIO)
register_payload(TextIOPayload, io.TextIOBase)
register_payload(BytesIOPayload, io.BytesIO)
register_payload(BufferedReaderPayload, (io.BufferedReader, io.BufferedRandom))
register_payload(IOBasePayload, io.IOBase)
register_payload(StreamReaderPayload, _ChunkSource)
register_payload(StreamWrapperPayload, _StreamerCall)
register_payload(AsyncIterablePayload, AsyncIterable, order=Order.try_last)
