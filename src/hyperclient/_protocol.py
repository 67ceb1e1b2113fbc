"""The asyncio protocol of one HTTP/1.1 connection.

It lives as long as its socket, across keep-alive requests. Transport bytes go to the sans-IO
parser; the parser's events fill the current response's StreamReader. It also runs the
``sock_read`` timer, write flow control (drain), and read flow control (the StreamReader asks
it to pause and resume the socket).

It is a :class:`asyncio.BufferedProtocol`: the transport reads into a buffer that every
connection of the thread shares, 64 KiB at most per read. asyncio would otherwise ``recv`` up to
256 KiB into a fresh bytes object per read (uvloop copies its own buffer into one), and once a
download outpaces the reader every read is that large: the read, the body piece llhttp copies
out of it and the slices handed to the caller no longer fit in the core's cache, and each read
costs several times more per byte. Body bytes go from the shared buffer straight to llhttp,
which copies the pieces it reports; everything else (heads, and a WebSocket's bytes after
``take_over``) is copied out first. Nothing keeps a view of the buffer once
``buffer_updated`` returns.
"""

from __future__ import annotations

import asyncio
import enum
import threading
from collections import deque
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Final

from .compression import DecompressionError, get_decoder
from .exceptions import (
    ClientConnectionResetError,
    ClientOSError,
    ClientPayloadError,
    ServerDisconnectedError,
    SocketTimeoutError,
)
from .http1.parser import Framing, ResponseHead, ResponseParser
from .streams import EMPTY_PAYLOAD, StreamReader
from .timeouts import NO_DEADLINE

if TYPE_CHECKING:
    from .compression import Decoder
    from .timeouts import Deadline, _NoDeadline

__all__ = ("ConnState", "ResponseProtocol")


class ConnState(enum.Enum):
    IDLE = enum.auto()  # no request in flight: fresh, or parked in the pool
    AWAIT_HEAD = enum.auto()  # a request went out; its response head has not arrived
    BODY = enum.auto()  # the head arrived; the body is arriving
    UPGRADED = enum.auto()  # 101 Switching Protocols: the bytes belong to another protocol
    CLOSED = enum.auto()


_IDLE = ConnState.IDLE
_AWAIT_HEAD = ConnState.AWAIT_HEAD
_BODY = ConnState.BODY
_UPGRADED = ConnState.UPGRADED
_CLOSED = ConnState.CLOSED


# At most this much per read (see the module's docstring); below glibc's mmap threshold too.
READ_SIZE: Final = 2**16

_per_thread = threading.local()


def _read_buffer() -> memoryview:
    """The read buffer of this thread's connections (one event loop runs them one at a time)."""
    view: memoryview | None = getattr(_per_thread, "read_buffer", None)
    if view is None:
        view = _per_thread.read_buffer = memoryview(bytearray(READ_SIZE))
    return view


class ResponseProtocol(asyncio.BufferedProtocol):
    """One connection: feeds responses to their StreamReaders, and tells its owner when a
    response is complete (``on_done(reusable)``)."""

    __slots__ = (
        "_auto_decompress",
        "_complete_pending",
        "_compressed",
        "_continue_waiter",
        "_decoder",
        "_drain_waiter",
        "_exc",
        "_head",
        "_head_waiter",
        "_inflating",
        "_last_read",
        "_loop",
        "_lost_before_take_over",
        "_next_stream",
        "_paused_reading",
        "_paused_writing",
        "_read_buffer",
        "_read_bufsize",
        "_read_timeout",
        "_read_timer",
        "_stream",
        "_stream_full",
        "_timer",
        "_upgrade_buffer",
        "_upgrade_on_data",
        "_upgrade_on_lost",
        "closed",
        "got_bytes",
        "on_done",
        "parser",
        "should_close",
        "state",
        "transport",
        "uses",
        "writing",
    )

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop
        self._read_buffer = _read_buffer()
        self.transport: asyncio.Transport | None = None
        self.parser = ResponseParser(self)
        self.state = _IDLE
        self._head_waiter: asyncio.Future[tuple[ResponseHead, StreamReader]] | None = None
        self._continue_waiter: asyncio.Future[None] | None = None
        self._stream: StreamReader | None = None
        # The body's reader, made in begin() while the server works, so the response's
        # arrival does not wait for it.
        self._next_stream: StreamReader | None = None
        self._head: ResponseHead | None = None
        self._decoder: Decoder | None = None
        # Compressed body bytes held back while the reader's buffer is full.
        self._compressed: deque[bytes] = deque()
        self._inflating = False
        self._complete_pending = False
        self._stream_full = False
        self._exc: BaseException | None = None
        self._paused_reading = False
        self._paused_writing = False
        self._drain_waiter: asyncio.Future[None] | None = None
        self._read_timeout: float | None = None
        self._read_timer: asyncio.TimerHandle | None = None
        self._last_read = 0.0
        self._read_bufsize = 2**16
        self._auto_decompress = True
        self._timer: Deadline | _NoDeadline = NO_DEADLINE
        self.on_done: Callable[[bool], None] | None = None
        self.closed: asyncio.Future[None] = loop.create_future()
        self.got_bytes = False  # any byte of the current response arrived
        self.should_close = False  # must not be reused (set by the request side too)
        self.writing = False  # a request body is still being written
        self.uses = 0  # requests begun on this connection
        self._upgrade_buffer: list[bytes] = []
        self._upgrade_on_data: Callable[[bytes], None] | None = None
        self._upgrade_on_lost: Callable[[BaseException | None], None] | None = None
        self._lost_before_take_over: tuple[BaseException | None] | None = None

    # --- asyncio.Protocol -------------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def connection_lost(self, exc: BaseException | None) -> None:
        state = self.state
        if state is _UPGRADED:
            if self._upgrade_on_lost is None:
                # Lost before anyone took the connection over (ws_connect was still checking
                # the handshake): take_over() hands over what arrived, then reports this end.
                # Until then the connection stays with its owner.
                self._lost_before_take_over = (exc,)
                self._cancel_read_timer()
                self.transport = None
                if not self.closed.done():
                    self.closed.set_result(None)
                return
            self._upgrade_on_lost(exc)
        self.state = _CLOSED
        self._cancel_read_timer()
        if self._exc is None:
            self._exc = exc
        if state is _AWAIT_HEAD:
            self._fail_head(self._disconnected_error(exc))
        elif state is _BODY:
            head = self._head
            if exc is None and head is not None and head.framing() is Framing.UNTIL_EOF:
                # The close is the end of this body (RFC 9112 §6.3 (8)).
                if self._inflating:
                    self._complete_pending = True
                else:
                    self._finish_body()
            else:
                self._fail_body(exc)
        waiter = self._drain_waiter
        if waiter is not None and not waiter.done():
            self._drain_waiter = None
            waiter.set_exception(ClientConnectionResetError("Connection lost"))
        if self._continue_waiter is not None and not self._continue_waiter.done():
            self._continue_waiter.cancel()
        done = self.on_done
        if done is not None:
            self.on_done = None
            done(False)
        if not self.closed.done():
            self.closed.set_result(None)
        self.transport = None

    def eof_received(self) -> bool:
        # A half-closed peer can send nothing more: an idle connection is dead for the pool,
        # and a body that ends at EOF has ended. Returning False closes our side too.
        self.should_close = True
        return False

    def get_buffer(self, sizehint: int) -> memoryview:
        return self._read_buffer

    def buffer_updated(self, nbytes: int) -> None:
        state = self.state
        if state is _BODY:
            # llhttp copies out the body pieces it reports and keeps nothing else.
            self._feed(self._read_buffer[:nbytes])
        elif state is _AWAIT_HEAD:
            self._feed(self._read_buffer[:nbytes].tobytes())
        elif state is _UPGRADED and self._upgrade_on_data is not None:
            self._upgrade_on_data(self._read_buffer[:nbytes].tobytes())  # a WebSocket's bytes
        else:
            self.data_received(self._read_buffer[:nbytes].tobytes())

    def data_received(self, data: bytes) -> None:
        state = self.state
        if state is _UPGRADED:
            on_data = self._upgrade_on_data
            if on_data is not None:
                on_data(data)
            else:
                self._upgrade_buffer.append(data)
            return
        if state is _IDLE or state is _CLOSED:
            # Bytes nobody asked for (RFC 9112 §9.3.2: no pipelining here): a pooled connection
            # that carries them could hand them to the next request as its response.
            self.should_close = True
            if self.transport is not None:
                self.transport.close()
            return
        self._feed(data)

    def _feed(self, data: bytes | memoryview) -> None:
        self.got_bytes = True
        if self._read_timer is not None:
            self._last_read = self._loop.time()
        try:
            self.parser.feed_data(data)
        except Exception as exc:
            # BadHttpMessage, llhttp framing errors, DecompressionError, or a bug of ours: in
            # every case this connection's byte stream can no longer be trusted.
            self._protocol_error(exc)

    def pause_writing(self) -> None:
        self._paused_writing = True

    def resume_writing(self) -> None:
        self._paused_writing = False
        waiter = self._drain_waiter
        if waiter is not None:
            self._drain_waiter = None
            if not waiter.done():
                waiter.set_result(None)

    # --- read flow control (called by the StreamReader) ----------------------------------------

    def pause_reading(self) -> None:
        self._stream_full = True
        if not self._paused_reading and self.transport is not None:
            self._paused_reading = True
            self.transport.pause_reading()
            # The silence that follows is ours, not the server's.
            self._cancel_read_timer()

    def resume_reading(self) -> None:
        self._stream_full = False
        if self._inflating:
            self._inflate()
            if self._stream_full:
                return  # the reader's buffer filled up again from what was held back
        if self._paused_reading and self.transport is not None:
            self._paused_reading = False
            self.transport.resume_reading()
            if self.state is _BODY:
                self._start_read_timer()

    # --- the request side ---------------------------------------------------------------------

    def begin(
        self, is_head: bool, params: tuple[Any, ...], timer: Deadline | _NoDeadline
    ) -> asyncio.Future[tuple[ResponseHead, StreamReader]]:
        """Get ready for the response to the request just written. *params*:
        (read_bufsize, sock_read, auto_decompress, parser limits or None, read_until_eof)."""
        self.state = _AWAIT_HEAD
        self.uses += 1
        self.got_bytes = False
        bufsize, self._read_timeout, self._auto_decompress, limits, until_eof = params
        self._read_bufsize = bufsize
        self._timer = timer
        parser = self.parser
        if limits is not None:
            parser.set_limits(*limits)
        parser.expect_response(is_head, until_eof)
        loop = self._loop
        self._next_stream = None if is_head else StreamReader(self, bufsize, timer=timer, loop=loop)
        waiter = self._head_waiter = loop.create_future()
        return waiter

    def request_sent(self) -> None:
        """The whole request went out: from now on, the server's silence counts."""
        if self._read_timeout and self.state is not _CLOSED:
            self._start_read_timer()

    def expect_continue(self) -> asyncio.Future[None]:
        waiter = self._continue_waiter = self._loop.create_future()
        # The head is out and the server owes us an answer (100 or final): its silence counts.
        if self._read_timeout:
            self._start_read_timer()
        return waiter

    async def drain(self) -> None:
        if self.transport is None or self.transport.is_closing():
            raise ClientConnectionResetError("Cannot write to closing transport")
        if self._paused_writing:
            waiter = self._drain_waiter
            if waiter is None:
                waiter = self._drain_waiter = self._loop.create_future()
            await waiter

    def write(self, data: bytes | bytearray | memoryview) -> None:
        transport = self.transport
        if transport is None or transport.is_closing():
            raise ClientConnectionResetError("Cannot write to closing transport")
        transport.write(data)

    def close(self) -> None:
        self.should_close = True
        transport = self.transport
        if transport is not None and not transport.is_closing():
            transport.close()

    def abort(self) -> None:
        self.should_close = True
        if self.transport is not None:
            self.transport.abort()

    def is_reusable(self) -> bool:
        transport = self.transport
        return (
            self.state is _IDLE
            and not self.should_close
            and transport is not None
            and not transport.is_closing()
        )

    # --- parser sink --------------------------------------------------------------------------

    def on_interim(self, head: ResponseHead) -> None:
        # 100 Continue releases a waiting body (RFC 9110 §10.1.1); 103 and the rest are skipped.
        if head.status == 100:
            waiter = self._continue_waiter
            if waiter is not None and not waiter.done():
                # Now it is our turn to send the body: the server's silence is expected until
                # request_sent() starts the timer again.
                self._cancel_read_timer()
                waiter.set_result(None)

    def on_head(self, head: ResponseHead, has_body: bool) -> None:
        if self.state is not _AWAIT_HEAD:
            # A second response in one read, or one after ours ended: never hand it on.
            self.close()
            return
        waiter = self._head_waiter
        self._head_waiter = None
        self._head = head
        self._decoder = None
        self._compressed.clear()
        self._inflating = self._complete_pending = self._stream_full = False
        stream = self._next_stream
        self._next_stream = None
        if not has_body:
            stream = EMPTY_PAYLOAD
        else:
            assert stream is not None  # begin() made it: only a HEAD's has none, and no body
            if self._auto_decompress and b"\r\ncontent-encoding:" in head.lowered:
                encoding = head.headers.get("Content-Encoding", "").strip().lower()
                self._decoder = get_decoder(encoding) if encoding else None
        self._stream = stream
        self.state = _UPGRADED if head.status == 101 else _BODY
        if self._continue_waiter is not None and not self._continue_waiter.done():
            # A final answer instead of 100: the body must not be sent (RFC 9110 §10.1.1).
            self._continue_waiter.cancel()
        if waiter is None or waiter.done():
            # Nobody is waiting any more (cancelled): the connection cannot be trusted.
            self.should_close = True
            return
        waiter.set_result((head, stream))

    def on_body(self, data: bytes) -> None:
        stream = self._stream
        if stream is None:
            return
        stream.total_raw_bytes += len(data)
        self.parser.meta_bytes = 0  # body progress: the chunk metadata so far was not excessive
        if self._decoder is None:
            stream.feed_data(data)
            return
        self._compressed.append(data)
        if not self._inflating:
            self._inflate()

    def _inflate(self) -> None:
        """Decompress held-back input in bounded pieces while the reader has room.

        Memory follows what the caller reads, not what a bomb expands to: when the reader's
        buffer is full, inflating stops (the socket is paused too), and resume_reading() goes
        on from here. The decoder gets new input only once it has used up the last.
        """
        decoder, stream = self._decoder, self._stream
        if decoder is None or stream is None:
            return
        limit = self._read_bufsize or 2**16
        compressed = self._compressed
        while True:
            while not decoder.needs_input:
                if self._stream_full:
                    self._inflating = True
                    return
                out = decoder.decompress(b"", limit)
                if out:
                    stream.feed_data(out)
            if not compressed:
                break
            if self._stream_full:
                self._inflating = True
                return
            out = decoder.decompress(compressed.popleft(), limit)
            if out:
                stream.feed_data(out)
        self._inflating = False
        if self._complete_pending:
            self._complete_pending = False
            self._finish_body()

    def on_unexpected_message(self) -> None:
        # Bytes of a response nobody asked for (RFC 9112 §9.3.2: no pipelining here): this
        # connection must not carry another request, whatever state the parser is in.
        self.close()

    def on_chunk_header(self) -> None:
        stream = self._stream
        if stream is not None:
            stream.begin_http_chunk_receiving()

    def on_chunk_complete(self) -> None:
        stream = self._stream
        if stream is not None:
            self.parser.meta_bytes = 0
            stream.end_http_chunk_receiving()

    def on_message_complete(self) -> None:
        if self.state is not _BODY:
            return
        if self._inflating:
            self._complete_pending = True  # ends once the held-back input is inflated
            return
        self._finish_body()

    def take_over(
        self,
        on_data: Callable[[bytes], None],
        on_lost: Callable[[BaseException | None], None],
    ) -> bytes:
        """After a 101 response, hand the connection's bytes to another protocol (WebSocket).

        Returns what already arrived after the 101 head; from now on *on_data* gets every
        received piece and *on_lost* the connection's end. The caller owns the transport.
        """
        if self.state is not _UPGRADED:
            raise RuntimeError("take_over() needs a 101 Switching Protocols response")
        self._cancel_read_timer()
        self._upgrade_on_data = on_data
        self._upgrade_on_lost = on_lost
        tail = self.parser.upgraded_tail or b""
        self.parser.upgraded_tail = None
        pending = b"".join([tail, *self._upgrade_buffer])
        self._upgrade_buffer.clear()
        lost = self._lost_before_take_over
        if lost is not None:
            # After the caller has handled *pending*: the connection ended already.
            self._lost_before_take_over = None
            self.state = _CLOSED
            self._loop.call_soon(on_lost, lost[0])
        return pending

    # --- endings ------------------------------------------------------------------------------

    def _finish_body(self) -> None:
        stream = self._stream
        decoder = self._decoder
        self._stream = None
        self._decoder = None
        if self._read_timer is not None:
            self._cancel_read_timer()
        if stream is not None and stream is not EMPTY_PAYLOAD:
            if decoder is not None:
                try:
                    tail = decoder.flush()
                except DecompressionError as exc:
                    self.should_close = True
                    stream.set_exception(_payload_error("Can not decode content-encoding", exc))
                    self._done(False)
                    return
                if tail:
                    stream.feed_data(tail)
            stream.feed_eof()
        self._head = None
        reusable = not (self.parser.should_close or self.should_close or self.writing)
        if self.state is not _CLOSED:
            self.state = _IDLE
        self._done(reusable)

    def _done(self, reusable: bool) -> None:
        done = self.on_done
        if done is not None:
            self.on_done = None
            done(reusable)
        elif not reusable:
            self.close()

    def _protocol_error(self, exc: Exception) -> None:
        self.should_close = True
        state = self.state
        if state is _AWAIT_HEAD:
            self._fail_head(exc)
        elif state is _BODY:
            if isinstance(exc, DecompressionError):
                err = _payload_error("Can not decode content-encoding", exc)
            else:
                err = _payload_error("Response payload is malformed", exc)
            stream = self._stream
            self._stream = None
            if stream is not None:
                stream.set_exception(err)
        self.state = _IDLE if state is not _CLOSED else _CLOSED
        if self.transport is not None:
            self.transport.close()
        self._done(False)

    def _fail_head(self, exc: BaseException) -> None:
        waiter = self._head_waiter
        self._head_waiter = None
        self._next_stream = None  # no body will come: drop the reader begin() made for it
        if waiter is not None and not waiter.done():
            waiter.set_exception(exc)

    def _fail_body(self, exc: BaseException | None) -> None:
        stream = self._stream
        self._stream = None
        if stream is None:
            return
        reason = f": {exc!r}" if exc is not None else ""
        err = _payload_error(f"Response payload is not completed{reason}", exc)
        stream.set_exception(err)

    def _disconnected_error(self, exc: BaseException | None) -> Exception:
        if isinstance(exc, ConnectionResetError):
            err: Exception = ClientConnectionResetError(*exc.args)
        elif isinstance(exc, OSError):
            err = ClientOSError(*exc.args)
        else:
            err = ServerDisconnectedError()
        if exc is not None:
            err.__cause__ = exc
        return err

    # --- sock_read ----------------------------------------------------------------------------

    def _start_read_timer(self) -> None:
        timeout = self._read_timeout
        if not timeout or self._paused_reading:
            return
        loop = self._loop
        self._last_read = loop.time()
        if self._read_timer is None:
            self._read_timer = loop.call_at(self._last_read + timeout, self._on_read_timer)

    def _cancel_read_timer(self) -> None:
        timer = self._read_timer
        if timer is not None:
            self._read_timer = None
            timer.cancel()

    def _on_read_timer(self) -> None:
        # One timer per silence, not one per data_received: on wake-up, if data came in the
        # meantime, sleep again until the new deadline.
        self._read_timer = None
        timeout = self._read_timeout
        if not timeout or self.state not in (_AWAIT_HEAD, _BODY):
            return
        deadline = self._last_read + timeout
        if deadline > self._loop.time():
            self._read_timer = self._loop.call_at(deadline, self._on_read_timer)
            return
        err = SocketTimeoutError(f"Timeout on reading data from socket after {timeout}s")
        self.should_close = True
        if self.state is _AWAIT_HEAD:
            self._fail_head(err)
        else:
            stream = self._stream
            self._stream = None
            if stream is not None:
                stream.set_exception(err)
        if self.transport is not None:
            self.transport.close()


def _payload_error(message: str, cause: BaseException | None) -> ClientPayloadError:
    err = ClientPayloadError(message)
    err.__cause__ = cause
    return err
