"""Request bodies read from a source as they are sent: file objects, async iterables,
StreamReaders and the deprecated ``@streamer`` functions.

Files are never read whole: blocking reads run in the loop's default executor, one piece at a
time. A seekable file is measured up front (so it gets a Content-Length) and can be sent again;
an unseekable file, an async iterable or a StreamReader can be sent only once (an async
iterable again once ``as_bytes()`` has kept its bytes). The base class and shared helpers are
in ``_payload_base``; import these classes from ``payload``.
"""

from __future__ import annotations

import asyncio
import codecs
import enum
import functools
import io
import os
import stat
import warnings
from collections.abc import AsyncIterable, AsyncIterator, Awaitable, Callable
from typing import Any, ClassVar, Protocol, runtime_checkable

from ._payload_base import (
    WRITE_PIECE,
    HeadersArg,
    Payload,
    PayloadWriter,
    _BytesLike,
    _text_encoding,
)
from .helpers import guess_filename

# Pieces read from a file per executor hop: small enough to keep memory flat for huge uploads,
# large enough that the hop's overhead stays small next to the copy.
READ_SIZE = 2**16
# An in-memory BytesIO needs no executor hop, so its pieces only bound the copy per write.
_MEMORY_PIECE = WRITE_PIECE


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
