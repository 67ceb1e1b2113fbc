"""The response body buffer (``ClientResponse.content``) with flow control.

The protocol is the producer (``feed_data``/``feed_eof``/``set_exception`` and the HTTP chunk
markers); the user's task is the single consumer. Bytes are kept as the chunks they arrived in,
in a deque, with ``_offset`` marking how much of the first chunk is already consumed: a read
that takes a whole chunk hands the same ``bytes`` object out without copying it, and ``read()``
joins once at the end.

Flow control: when more than ``2 * limit`` bytes are buffered the producer is told to
``pause_reading()``; once reads bring the buffer down to ``limit`` or less it is told to
``resume_reading()``. The reader calls each only on a transition.

Errors: after ``set_exception(exc)`` every read raises ``exc`` at once, even when data is still
buffered, because a body that failed half-way must not be mistaken for a complete one.
"""

from __future__ import annotations

import asyncio
import collections
from collections.abc import Awaitable, Callable
from types import TracebackType
from typing import Final, Generic, Protocol, TypeVar

from .timeouts import NO_DEADLINE

__all__ = ("EMPTY_PAYLOAD", "EmptyStreamReader", "FlowControl", "StreamReader", "Timer")

_T = TypeVar("_T")

DEFAULT_LIMIT: Final = 2**16


class FlowControl(Protocol):
    """What the reader needs from the producer to apply back-pressure on the transport."""

    def pause_reading(self) -> None: ...

    def resume_reading(self) -> None: ...


class Timer(Protocol):
    """Bounds the waits made inside it: ``timeouts.Deadline`` or ``NO_DEADLINE``."""

    def __enter__(self) -> object: ...

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> bool | None: ...


class _AsyncIterator(Generic[_T]):
    """Calls one read coroutine until it returns something empty."""

    __slots__ = ("_read",)

    def __init__(self, read: Callable[[], Awaitable[_T]]) -> None:
        self._read = read

    def __aiter__(self) -> _AsyncIterator[_T]:
        return self

    async def __anext__(self) -> _T:
        value = await self._read()
        if not value:
            raise StopAsyncIteration
        return value


class _ChunkIterator:
    """``iter_chunks()``: ``(b"", False)`` is readchunk's end-of-body marker."""

    __slots__ = ("_stream",)

    def __init__(self, stream: StreamReader) -> None:
        self._stream = stream

    def __aiter__(self) -> _ChunkIterator:
        return self

    async def __anext__(self) -> tuple[bytes, bool]:
        value = await self._stream.readchunk()
        if value == (b"", False):
            raise StopAsyncIteration
        return value


class StreamReader:
    """The body of one response, fed by the protocol and read by the user."""

    __slots__ = (
        "_buffer",
        "_chunk_splits",
        "_cursor",
        "_eof",
        "_eof_waiter",
        "_exception",
        "_high_water",
        "_last_split",
        "_loop",
        "_low_water",
        "_offset",
        "_paused",
        "_protocol",
        "_size",
        "_timer",
        "_waiter",
        "total_raw_bytes",
    )

    def __init__(
        self,
        protocol: FlowControl,
        limit: int,
        *,
        timer: Timer | None = None,
        loop: asyncio.AbstractEventLoop | None = None,
    ) -> None:
        self._protocol = protocol
        self._low_water = limit
        self._high_water = limit * 2
        self._timer: Timer = NO_DEADLINE if timer is None else timer
        self._loop = loop
        self._buffer: collections.deque[bytes] = collections.deque()
        self._offset = 0  # bytes of _buffer[0] already handed out
        self._size = 0  # bytes buffered and not yet handed out
        self._cursor = 0  # bytes handed out since the start of the body
        self._eof = False
        self._paused = False
        self._exception: BaseException | None = None
        self._waiter: asyncio.Future[None] | None = None
        self._eof_waiter: asyncio.Future[None] | None = None
        # End offsets (counted like _cursor) of HTTP chunks; None unless the body is chunked.
        self._chunk_splits: collections.deque[int] | None = None
        self._last_split = 0
        self.total_raw_bytes = 0

    def __repr__(self) -> str:
        info = [self.__class__.__name__, f"{self._size} bytes"]
        if self._eof:
            info.append("eof")
        if self._paused:
            info.append("paused")
        if self._exception is not None:
            info.append(f"e={self._exception!r}")
        return f"<{' '.join(info)}>"

    # ---- producer side ---------------------------------------------------------------------

    def feed_data(self, data: bytes) -> None:
        if not data:
            return
        self._buffer.append(data)
        self._size += len(data)
        waiter = self._waiter
        if waiter is not None:
            self._waiter = None
            if not waiter.done():
                waiter.set_result(None)
        if self._size > self._high_water and not self._paused:
            self._paused = True
            self._protocol.pause_reading()

    def feed_eof(self) -> None:
        self._eof = True
        if self._waiter is not None:
            self._wake()
        if self._eof_waiter is not None:
            self._wake_eof()
        # No more body bytes will come, so holding the transport paused protects nothing and
        # would stall the connection (the next response, or the close notice) in the pool.
        if self._paused:
            self._paused = False
            self._protocol.resume_reading()

    def set_exception(self, exc: BaseException) -> None:
        # Waiters are woken with a plain result and look at _exception themselves: a future
        # holding the exception would log "never retrieved" if its reader was cancelled.
        self._exception = exc
        self._wake()
        self._wake_eof()

    def begin_http_chunk_receiving(self) -> None:
        """Mark the body as chunked (RFC 9112 §7.1) before its first chunk arrives."""
        if self._chunk_splits is None:
            if self._cursor + self._size:
                raise RuntimeError("begin_http_chunk_receiving() after body data was fed")
            self._chunk_splits = collections.deque()

    def end_http_chunk_receiving(self) -> None:
        """Record that the bytes fed so far end an HTTP chunk."""
        splits = self._chunk_splits
        if splits is None:
            raise RuntimeError("end_http_chunk_receiving() without begin_http_chunk_receiving()")
        pos = self._cursor + self._size
        # A chunk may decompress to nothing; an empty "chunk" must not produce a marker.
        if pos == self._last_split:
            return
        self._last_split = pos
        splits.append(pos)
        # readchunk() may be waiting with an empty buffer to learn that its chunk ended.
        self._wake()

    # ---- state -----------------------------------------------------------------------------

    def exception(self) -> BaseException | None:
        return self._exception

    def is_eof(self) -> bool:
        """EOF was fed; data may still be buffered."""
        return self._eof

    def at_eof(self) -> bool:
        """EOF was fed and everything was read."""
        return self._eof and not self._buffer

    async def wait_eof(self) -> None:
        if self._exception is not None:
            raise self._exception
        if self._eof:
            return
        waiter = self._eof_waiter
        if waiter is None:
            waiter = self._eof_waiter = (self._loop or self._bind_loop()).create_future()
        # Shielded: several tasks may wait on the one future, and cancelling one of them
        # must not cancel it for the others.
        with self._timer:
            await asyncio.shield(waiter)
        if self._exception is not None:
            raise self._exception

    # ---- reading ---------------------------------------------------------------------------

    async def read(self, n: int = -1) -> bytes:
        """Up to *n* bytes as soon as any are there; everything up to EOF when *n* < 0."""
        if self._exception is not None:
            raise self._exception
        if n == 0:
            return b""
        if n < 0:
            if self._eof:
                return self._take(-1) if self._buffer else b""
            return await self._read_all()
        while not self._buffer:
            if self._eof:
                return b""
            await self._wait("read")
        return self._take(n)

    async def _read_all(self) -> bytes:
        # Data is moved out of the buffer as it arrives, so the buffer never passes the
        # high-water mark and the transport never stays paused while we wait for EOF.
        parts: list[bytes] = []
        while True:
            if self._buffer:
                parts.append(self._take(-1))
            if self._eof:
                return b"".join(parts)
            await self._wait("read")

    async def readany(self) -> bytes:
        """The next piece of data, as it arrived; ``b""`` at EOF."""
        if self._exception is not None:
            raise self._exception
        while not self._buffer:
            if self._eof:
                return b""
            await self._wait("readany")
        return self._take_chunk()

    async def readexactly(self, n: int) -> bytes:
        if n < 0:
            raise ValueError("readexactly size can not be less than zero")
        if self._exception is not None:
            raise self._exception
        parts: list[bytes] = []
        missing = n
        while missing:
            if self._buffer:
                data = self._take(missing)
                parts.append(data)
                missing -= len(data)
            elif self._eof:
                raise asyncio.IncompleteReadError(b"".join(parts), n)
            else:
                await self._wait("readexactly")
        return b"".join(parts)

    async def readline(self) -> bytes:
        return await self.readuntil(b"\n")

    async def readuntil(self, separator: bytes = b"\n") -> bytes:
        """Up to and including *separator*; what is left at EOF; ``ValueError`` past the
        high-water mark, so a server cannot make us buffer an endless line."""
        seplen = len(separator)
        if not seplen:
            raise ValueError("Separator should be at least one-byte string")
        if self._exception is not None:
            raise self._exception
        buffer = self._buffer
        if buffer:
            # Fast path: the whole line is in the first chunk (find() gives -1 otherwise).
            first = buffer[0]
            offset = self._offset
            end = first.find(separator, offset) + seplen
            if end >= seplen and end - offset <= self._high_water:
                if end == len(first):
                    buffer.popleft()
                    self._offset = 0
                    data = first[offset:] if offset else first
                else:
                    data = first[offset:end]
                    self._offset = end
                self._consumed(end - offset)
                return data
        parts: list[bytes] = []
        length = 0
        tail = b""  # last seplen-1 bytes taken, to find a separator split across chunks
        while True:
            while self._buffer:
                end = self._find(separator, tail)
                data = self._take(end - self._offset) if end >= 0 else self._take_chunk()
                length += len(data)
                if length > self._high_water:
                    raise ValueError("Chunk too big")
                parts.append(data)
                if end >= 0:
                    return b"".join(parts)
                if seplen > 1:
                    tail = (tail + data[1 - seplen :])[1 - seplen :]
            if self._eof:
                return b"".join(parts)
            await self._wait("readuntil")

    def _find(self, separator: bytes, tail: bytes) -> int:
        """Offset in ``_buffer[0]`` just past the first separator, or -1."""
        first = self._buffer[0]
        offset = self._offset
        if tail:
            probe = tail + first[offset : offset + len(separator) - 1]
            i = probe.find(separator)
            if i >= 0:
                return offset + i + len(separator) - len(tail)
        i = first.find(separator, offset)
        return i + len(separator) if i >= 0 else -1

    async def readchunk(self) -> tuple[bytes, bool]:
        """``(data, end_of_http_chunk)``; ``(b"", False)`` at EOF.

        The flag is true only when *data* ends an HTTP chunk of a chunked body. When the reader
        had already taken a chunk's bytes before its end was known, the end is reported on its
        own as ``(b"", True)``.
        """
        while True:
            if self._exception is not None:
                raise self._exception
            splits = self._chunk_splits
            while splits:
                pos = splits.popleft()
                # Ends already passed by read()/readline() are stale and dropped.
                if pos == self._cursor:
                    return b"", True
                if pos > self._cursor:
                    return self._take(pos - self._cursor), True
            if self._buffer:
                return self._take_chunk(), False
            if self._eof:
                return b"", False
            await self._wait("readchunk")

    def read_nowait(self, n: int = -1) -> bytes:
        """Buffered data (up to *n* bytes) without waiting; ``b""`` when nothing is buffered."""
        if self._exception is not None:
            raise self._exception
        if self._waiter is not None:
            raise RuntimeError(
                "read_nowait() called while another coroutine is waiting for incoming data"
            )
        if not self._buffer or n == 0:
            return b""
        return self._take(n)

    def unread_data(self, data: bytes) -> None:
        """Push *data* back in front of the buffer; no waiter is woken."""
        if not data:
            return
        if self._offset:
            self._buffer[0] = self._buffer[0][self._offset :]
            self._offset = 0
        self._buffer.appendleft(data)
        self._size += len(data)
        self._cursor -= len(data)

    # ---- iteration -------------------------------------------------------------------------

    def __aiter__(self) -> _AsyncIterator[bytes]:
        return _AsyncIterator(self.readline)

    def iter_chunked(self, n: int) -> _AsyncIterator[bytes]:
        """Pieces of at most *n* bytes."""

        async def read_piece() -> bytes:
            return await self.read(n)

        return _AsyncIterator(read_piece)

    def iter_any(self) -> _AsyncIterator[bytes]:
        return _AsyncIterator(self.readany)

    def iter_chunks(self) -> _ChunkIterator:
        return _ChunkIterator(self)

    # ---- internals -------------------------------------------------------------------------

    def _bind_loop(self) -> asyncio.AbstractEventLoop:
        loop = self._loop = asyncio.get_running_loop()
        return loop

    async def _wait(self, func_name: str) -> None:
        # A read can feed the buffer itself (consuming may resume the producer, which inflates
        # held-back input at once), so the state is checked again before sleeping.
        if self._exception is not None:
            raise self._exception
        if self._buffer or self._eof:
            return
        if self._waiter is not None:
            raise RuntimeError(
                f"{func_name}() called while another coroutine is already waiting for incoming data"
            )
        waiter = self._waiter = (self._loop or self._bind_loop()).create_future()
        try:
            timer = self._timer
            if timer is NO_DEADLINE:
                await waiter
            else:
                with timer:
                    await waiter
        finally:
            # A producer may already have cleared it (and another reader set a new one).
            if self._waiter is waiter:
                self._waiter = None
        if self._exception is not None:
            raise self._exception

    def _wake(self) -> None:
        waiter = self._waiter
        if waiter is not None:
            self._waiter = None
            if not waiter.done():
                waiter.set_result(None)

    def _wake_eof(self) -> None:
        waiter = self._eof_waiter
        if waiter is not None:
            self._eof_waiter = None
            if not waiter.done():
                waiter.set_result(None)

    def _take_chunk(self) -> bytes:
        """The rest of the first buffered chunk, uncopied when none of it was taken yet."""
        data = self._buffer.popleft()
        if self._offset:
            data = data[self._offset :]
            self._offset = 0
        self._consumed(len(data))
        return data

    def _take(self, n: int) -> bytes:
        """Up to *n* buffered bytes (all of them when *n* < 0); the buffer must not be empty."""
        buffer = self._buffer
        offset = self._offset
        if n < 0 or n >= self._size:
            if offset:
                buffer[0] = buffer[0][offset:]
                self._offset = 0
            data = buffer.popleft() if len(buffer) == 1 else b"".join(buffer)
            buffer.clear()
        else:
            first = buffer[0]
            end = offset + n
            if end < len(first):
                data = first[offset:end]
                self._offset = end
            elif end == len(first) and not offset:
                data = buffer.popleft()
            else:
                data = self._take_across(n)
        self._consumed(len(data))
        return data

    def _take_across(self, n: int) -> bytes:
        # n bytes that reach the end of the first chunk, and maybe into the following ones.
        buffer = self._buffer
        first = buffer.popleft()
        parts = [first[self._offset :]]
        missing = n - len(parts[0])
        self._offset = 0
        while missing:
            chunk = buffer[0]
            if len(chunk) > missing:
                parts.append(chunk[:missing])
                self._offset = missing
                break
            parts.append(buffer.popleft())
            missing -= len(chunk)
        return b"".join(parts)

    def _consumed(self, size: int) -> None:
        self._size -= size
        self._cursor += size
        if self._paused and self._size <= self._low_water:
            self._paused = False
            self._protocol.resume_reading()


class _NoFlowControl:
    __slots__ = ()

    def pause_reading(self) -> None:
        pass

    def resume_reading(self) -> None:
        pass


class EmptyStreamReader(StreamReader):
    """A body that is over before it began (HEAD, 204, 304): every read returns at once.

    One shared instance (``EMPTY_PAYLOAD``) serves every such response, so the producer-side
    methods do nothing.
    """

    __slots__ = ()

    def __init__(self) -> None:
        super().__init__(_NoFlowControl(), DEFAULT_LIMIT)
        self._eof = True

    def __repr__(self) -> str:
        return f"<{self.__class__.__name__}>"

    @property
    def total_raw_bytes(self) -> int:
        return 0

    @total_raw_bytes.setter
    def total_raw_bytes(self, value: int) -> None:
        pass

    def feed_data(self, data: bytes) -> None:
        pass

    def feed_eof(self) -> None:
        pass

    def set_exception(self, exc: BaseException) -> None:
        pass

    def begin_http_chunk_receiving(self) -> None:
        pass

    def end_http_chunk_receiving(self) -> None:
        pass

    def unread_data(self, data: bytes) -> None:
        pass


EMPTY_PAYLOAD: Final = EmptyStreamReader()
