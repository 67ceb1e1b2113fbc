"""ClientWebSocketResponse: one client WebSocket over an upgraded HTTP/1.1 connection.

The connection's protocol hands every received piece to :meth:`_on_data`, which parses it at
once: data messages queue up for :meth:`receive`, pings are answered, a server's Close is
answered (autoclose), and a violation fails the connection (RFC 6455 §7.1.7), whether or not
anyone is calling :meth:`receive`. Frames to send are collected and written once per loop
iteration (or every 64 KiB), so a burst of small messages costs a few system calls, not one
each.
"""

from __future__ import annotations

import asyncio
import enum
import json
from collections import deque
from collections.abc import Callable
from types import TracebackType
from typing import TYPE_CHECKING, Any, Final

from ..exceptions import ClientConnectionResetError, ServerTimeoutError, WSMessageTypeError
from .deflate import Deflater, Inflater
from .frames import (
    OP_BINARY,
    OP_CLOSE,
    OP_PING,
    OP_PONG,
    OP_TEXT,
    FrameReader,
    FrameWriter,
    WebSocketError,
    close_payload,
    is_sendable_close_code,
)
from .models import WSCloseCode, WSMessage, WSMsgType

if TYPE_CHECKING:
    from .._protocol import ResponseProtocol
    from ..response import ClientResponse
    from ..timeouts import ClientWSTimeout
    from .deflate import DeflateParams

__all__ = ("ClientWebSocketResponse",)

_TEXT = WSMsgType.TEXT
_BINARY = WSMsgType.BINARY
_CLOSE = WSMsgType.CLOSE
_ERROR = WSMsgType.ERROR
_ITER_END: Final = frozenset((WSMsgType.CLOSE, WSMsgType.CLOSING, WSMsgType.CLOSED))
CLOSED_MESSAGE: Final = WSMessage(WSMsgType.CLOSED, None, None)
CLOSING_MESSAGE: Final = WSMessage(WSMsgType.CLOSING, None, None)


class _State(enum.Enum):
    """Where the close handshake (RFC 6455 §7) stands."""

    OPEN = enum.auto()
    CLOSE_SENT = enum.auto()  # our Close went out through send_frame(); close() not called
    CLOSE_RECEIVED = enum.auto()  # the server's Close came; autoclose is off, ours not sent
    CLOSING = enum.auto()  # close() sent our Close and waits for the server's
    CLOSED = enum.auto()  # both Closes exchanged, or the connection failed or ended


_OPEN = _State.OPEN
_CLOSE_SENT = _State.CLOSE_SENT
_CLOSE_RECEIVED = _State.CLOSE_RECEIVED
_CLOSING = _State.CLOSING
_CLOSED = _State.CLOSED

_FLUSH_AT: Final = 2**16  # buffered outgoing bytes that are written without waiting
_PAUSE_AT: Final = 2**18  # received bytes queued unread before the socket stops being read


class ClientWebSocketResponse:
    """A client WebSocket (create it with ``ClientSession.ws_connect``)."""

    __slots__ = (
        "__weakref__",
        "_autoclose",
        "_autoping",
        "_close_code",
        "_close_waiter",
        "_closing_notice",
        "_compress",
        "_deflate",
        "_direct",
        "_exception",
        "_flush_handle",
        "_heartbeat",
        "_heartbeat_handle",
        "_last_data",
        "_loop",
        "_messages",
        "_out",
        "_out_size",
        "_ping_at",
        "_protocol",
        "_queued",
        "_reader",
        "_reading_paused",
        "_response",
        "_state",
        "_subprotocol",
        "_timeout",
        "_waiter",
        "_writer",
    )

    # False in subclasses that override receive(), so ``async for`` goes through theirs.
    _plain_receive = True

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        cls._plain_receive = cls.receive is ClientWebSocketResponse.receive

    def __init__(
        self,
        *,
        response: ClientResponse,
        protocol: ResponseProtocol,
        subprotocol: str | None,
        timeout: ClientWSTimeout,
        autoclose: bool,
        autoping: bool,
        heartbeat: float | None,
        max_msg_size: int,
        deflate: DeflateParams | None,
        compress: int,
        loop: asyncio.AbstractEventLoop,
    ) -> None:
        self._loop = loop
        self._response = response
        self._protocol = protocol
        self._subprotocol = subprotocol
        self._timeout = timeout
        self._autoclose = autoclose
        self._autoping = autoping
        self._heartbeat = heartbeat or None
        self._deflate = deflate
        deflater = Deflater(deflate, compress) if deflate is not None else None
        self._compress = deflater.window_bits if deflater is not None else 0
        self._messages: deque[WSMessage] = deque()
        self._reader = FrameReader(
            self._messages.append,
            self._on_control,
            max_msg_size=max_msg_size,
            inflater=Inflater() if deflate is not None else None,
        )
        self._writer = FrameWriter(deflater)
        self._waiter: asyncio.Future[None] | None = None
        self._close_waiter: asyncio.Future[None] | None = None
        self._state = _OPEN
        self._closing_notice = False  # a waiting receive() must return CLOSING
        self._close_code: int | None = None
        self._exception: BaseException | None = None
        self._out: list[bytes] = []
        self._out_size = 0
        self._direct = True  # the next frame may be written at once (see _send)
        self._flush_handle: asyncio.Handle | None = None
        self._queued = 0
        self._reading_paused = False
        self._heartbeat_handle: asyncio.TimerHandle | None = None
        self._last_data = 0.0
        self._ping_at = 0.0

    def _start(self, received: bytes) -> None:
        """Begin: *received* is what arrived right behind the 101 head."""
        if self._heartbeat is not None:
            self._last_data = self._loop.time()
            self._heartbeat_handle = self._loop.call_at(
                self._last_data + self._heartbeat, self._on_heartbeat
            )
        if received:
            self._on_data(received)

    # --- public state ---------------------------------------------------------------------------

    @property
    def closed(self) -> bool:
        """True once close() was called or the connection ended (a server's Close, answered
        by autoclose, ends it)."""
        return self._state is _CLOSED or self._state is _CLOSING

    @property
    def close_code(self) -> int | None:
        return self._close_code

    @property
    def protocol(self) -> str | None:
        return self._subprotocol

    @property
    def compress(self) -> int:
        """The window bits our messages are compressed with; 0 when not negotiated."""
        return self._compress

    @property
    def client_notakeover(self) -> bool:
        return self._deflate is not None and self._deflate.client_no_context_takeover

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        transport = self._protocol.transport
        if transport is None:
            return default
        return transport.get_extra_info(name, default)

    def exception(self) -> BaseException | None:
        return self._exception

    # --- sending --------------------------------------------------------------------------------

    async def ping(self, message: bytes | str = b"") -> None:
        if self._send(OP_PING, _control_payload(message), None):
            await self._protocol.drain()

    async def pong(self, message: bytes | str = b"") -> None:
        if self._send(OP_PONG, _control_payload(message), None):
            await self._protocol.drain()

    async def send_str(self, data: str, compress: int | None = None) -> None:
        if not isinstance(data, str):
            raise TypeError(f"data argument must be str ({type(data)!r})")
        if self._send(OP_TEXT, data.encode("utf-8"), compress):
            await self._protocol.drain()

    async def send_bytes(
        self, data: bytes | bytearray | memoryview, compress: int | None = None
    ) -> None:
        if not isinstance(data, (bytes, bytearray, memoryview)):
            raise TypeError(f"data argument must be byte-ish ({type(data)!r})")
        if self._send(OP_BINARY, bytes(data), compress):
            await self._protocol.drain()

    async def send_json(
        self,
        data: Any,
        compress: int | None = None,
        *,
        dumps: Callable[[Any], str] = json.dumps,
    ) -> None:
        await self.send_str(dumps(data), compress=compress)

    async def send_frame(
        self, message: bytes, opcode: WSMsgType | int, compress: int | None = None
    ) -> None:
        """Send *message* as one frame of *opcode*, as is (the caller vouches for its form)."""
        opcode = int(opcode)
        if opcode not in (OP_TEXT, OP_BINARY, OP_CLOSE, OP_PING, OP_PONG):
            raise ValueError(f"Cannot send a frame with opcode {opcode:#x}")
        payload = bytes(message)
        if opcode >= OP_CLOSE:
            payload = _control_payload(payload)
        if opcode == OP_CLOSE:
            state = self._state
            self._send_close(payload)
            if state is _CLOSE_RECEIVED:
                self._close_now()  # both Closes exchanged
            else:
                self._state = _CLOSE_SENT
            return
        if self._send(opcode, payload, compress):
            await self._protocol.drain()

    def _send(self, opcode: int, payload: bytes, compress: int | None) -> bool:
        """Queue one frame; True when the caller must wait for the transport to drain."""
        state = self._state
        if state is not _OPEN and state is not _CLOSE_RECEIVED:
            # RFC 6455 §5.5.1: nothing may follow our Close.
            raise ClientConnectionResetError("Cannot write to closing transport")
        frame = self._writer.frame(opcode, payload, compress)
        out = self._out
        if not out:
            if self._direct:
                # The first frame since the loop last ran goes out at once (a request-reply
                # exchange pays no extra loop iteration); the burst that may follow it in the
                # same iteration is collected and written together.
                self._direct = False
                transport = self._protocol.transport
                if transport is not None and not transport.is_closing():
                    transport.write(frame)
                return self._protocol._paused_writing
            if self._flush_handle is None:
                self._flush_handle = self._loop.call_soon(self._flush_soon)
        out.append(frame)
        size = self._out_size = self._out_size + len(frame)
        if size < _FLUSH_AT:
            return False
        self._flush()
        return self._protocol._paused_writing

    def _flush_soon(self) -> None:
        self._flush_handle = None
        self._direct = True
        self._flush()

    def _flush(self) -> None:
        out = self._out
        if not out:
            return
        data = out[0] if len(out) == 1 else b"".join(out)
        out.clear()
        self._out_size = 0
        transport = self._protocol.transport
        if transport is not None and not transport.is_closing():
            transport.write(data)

    # --- receiving ------------------------------------------------------------------------------

    async def receive(self, timeout: float | None = None) -> WSMessage:
        messages = self._messages
        if not messages:
            # The wait is written out here rather than in a coroutine of its own: a
            # request-reply exchange waits in every receive(), and a second coroutine per
            # message is a measurable share of what Python spends on a round trip.
            if self._waiter is not None:
                raise RuntimeError("Concurrent call to receive() is not allowed")
            timeout = timeout or self._timeout.ws_receive
            timer = self._loop.call_later(timeout, self._receive_timed_out) if timeout else None
            try:
                while not messages:
                    state = self._state
                    if self._closing_notice or (state is not _OPEN and state is not _CLOSE_SENT):
                        return await self._no_message()
                    # The reader caught up: let the socket be read again.
                    self._queued = 0
                    if self._reading_paused:
                        self._reading_paused = False
                        self._protocol.resume_reading()
                    self._direct = True
                    waiter = self._waiter = self._loop.create_future()
                    try:
                        await waiter
                    finally:
                        self._waiter = None
            finally:
                if timer is not None:
                    timer.cancel()
        msg = messages.popleft()
        kind = msg[0]
        if kind is _TEXT or kind is _BINARY:
            return msg
        return await self._special(msg)

    async def receive_str(self, *, timeout: float | None = None) -> str:
        msg = await self.receive(timeout)
        if msg.type is not WSMsgType.TEXT:
            raise WSMessageTypeError(
                f"Received message {msg.type}:{msg.data!r} is not WSMsgType.TEXT"
            )
        return msg.data  # type: ignore[no-any-return]

    async def receive_bytes(self, *, timeout: float | None = None) -> bytes:
        msg = await self.receive(timeout)
        if msg.type is not WSMsgType.BINARY:
            raise WSMessageTypeError(
                f"Received message {msg.type}:{msg.data!r} is not WSMsgType.BINARY"
            )
        return msg.data  # type: ignore[no-any-return]

    async def receive_json(
        self, *, loads: Callable[[str], Any] = json.loads, timeout: float | None = None
    ) -> Any:
        return loads(await self.receive_str(timeout=timeout))

    def __aiter__(self) -> ClientWebSocketResponse:
        return self

    async def __anext__(self) -> WSMessage:
        messages = self._messages
        if messages and self._plain_receive:
            msg = messages.popleft()
            kind = msg[0]
            if kind is _TEXT or kind is _BINARY:
                return msg
            msg = await self._special(msg)
        else:
            msg = await self.receive()
        if msg.type in _ITER_END:
            raise StopAsyncIteration
        return msg

    async def _special(self, msg: WSMessage) -> WSMessage:
        kind = msg.type
        if kind is _ERROR or (kind is _CLOSE and self._state is _CLOSED):
            # The connection is being shut down: report it once the socket is really closed.
            await self._wait_closed()
        return msg

    async def _no_message(self) -> WSMessage:
        """What receive() returns when no message is queued and none can come."""
        if self._closing_notice:
            self._closing_notice = False
            return CLOSING_MESSAGE
        if self._state is _CLOSE_RECEIVED:
            await self.close()
        else:
            await self._wait_closed()
        return CLOSED_MESSAGE

    def _receive_timed_out(self) -> None:
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_exception(asyncio.TimeoutError())

    def _wake(self) -> None:
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    # --- the connection's events ----------------------------------------------------------------

    def _on_data(self, data: bytes) -> None:
        self._direct = True
        if self._heartbeat is not None:
            self._last_data = self._loop.time()
        messages = self._messages
        try:
            self._reader.feed(data)
        except WebSocketError as exc:
            self._fail(exc)
            return
        if not messages:
            return
        if self._state is _CLOSING:
            # close() is waiting for the server's Close: data that comes first is dropped.
            messages.clear()
            return
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)
        # Nobody is reading: stop taking more from the socket until they catch up, so a fast
        # server cannot fill our memory (the kernel's buffers push back on it instead).
        queued = self._queued = self._queued + len(data)
        if queued > _PAUSE_AT and not self._reading_paused:
            self._reading_paused = True
            self._protocol.pause_reading()

    def _on_control(self, msg: WSMessage) -> None:
        kind = msg.type
        if kind is WSMsgType.PING:
            if not self._autoping:
                self._messages.append(msg)
            elif self._state is _OPEN:
                self._send(OP_PONG, msg.data, None)  # RFC 6455 §5.5.2: as soon as practical
        elif kind is WSMsgType.PONG:
            if not self._autoping:
                self._messages.append(msg)
        else:
            self._on_close_frame(msg)

    def _on_close_frame(self, msg: WSMessage) -> None:
        self._close_code = msg.data
        state = self._state
        if state is _CLOSING:
            # Our close() sent its Close first; this is the answer it waits for.
            waiter = self._close_waiter
            if waiter is not None and not waiter.done():
                waiter.set_result(None)
            return
        if state is _CLOSED:
            return
        self._messages.append(msg)
        if state is _OPEN and not self._autoclose:
            self._state = _CLOSE_RECEIVED  # the caller answers with close()
            return
        if state is _OPEN:
            # Answer with the same code (RFC 6455 §5.5.1), then close the TCP connection.
            code = msg.data if is_sendable_close_code(msg.data) else 0
            self._send_close(close_payload(code, b""))
        self._close_now()

    def _on_lost(self, exc: BaseException | None) -> None:
        self._state = _CLOSED
        self._out.clear()
        self._stop_heartbeat()
        if self._close_code is None:
            # The TCP connection ended without a Close frame (RFC 6455 §7.1.5).
            self._close_code = WSCloseCode.ABNORMAL_CLOSURE
            if exc is not None and self._exception is None:
                self._exception = exc
        waiter = self._close_waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)
        self._wake()

    def _fail(self, exc: WebSocketError) -> None:
        """_Fail the WebSocket Connection_ (RFC 6455 §7.1.7): send a Close with the reason's
        code if we still may, close the TCP connection and read nothing more."""
        self._reader.closed = True
        self._close_code = exc.code
        self._messages.append(WSMessage(_ERROR, exc, None))
        if self._state is _OPEN or self._state is _CLOSE_RECEIVED:
            self._send_close(close_payload(exc.code, b""))
        self._close_now()
        waiter = self._close_waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)
        self._wake()

    # --- heartbeat ------------------------------------------------------------------------------

    def _on_heartbeat(self) -> None:
        # One timer per quiet period: received data only moves _last_data, and the timer, on
        # waking, sleeps again if the connection was not quiet for the whole period.
        self._heartbeat_handle = None
        heartbeat = self._heartbeat
        if heartbeat is None or self._state is not _OPEN:
            return
        loop = self._loop
        now = loop.time()
        due = self._last_data + heartbeat
        if due > now:
            self._heartbeat_handle = loop.call_at(due, self._on_heartbeat)  # data came meanwhile
            return
        if self._reading_paused:
            # The silence is ours: we stopped reading because nobody consumes the messages.
            self._heartbeat_handle = loop.call_at(now + heartbeat, self._on_heartbeat)
            return
        self._ping_at = now
        self._send(OP_PING, b"", None)
        self._flush()
        self._heartbeat_handle = loop.call_at(now + heartbeat / 2, self._on_pong_deadline)

    def _on_pong_deadline(self) -> None:
        self._heartbeat_handle = None
        heartbeat = self._heartbeat
        if heartbeat is None or self._state is not _OPEN:
            return
        # Any data counts as a sign of life, not only the pong. ">=": uvloop's clock is libuv's,
        # in milliseconds and read once per loop iteration, so a pong that comes back within
        # the millisecond has the ping's time; data before the ping is older than
        # _ping_at - heartbeat, or there would have been no ping.
        if self._last_data >= self._ping_at or self._reading_paused:
            self._heartbeat_handle = self._loop.call_at(
                self._last_data + heartbeat, self._on_heartbeat
            )
            return
        exc = ServerTimeoutError(f"No PONG received after {heartbeat / 2} seconds")
        self._exception = exc
        self._close_code = WSCloseCode.ABNORMAL_CLOSURE
        self._state = _CLOSED
        self._messages.append(WSMessage(_ERROR, exc, None))
        self._protocol.abort()
        self._wake()

    def _stop_heartbeat(self) -> None:
        handle = self._heartbeat_handle
        if handle is not None:
            self._heartbeat_handle = None
            handle.cancel()

    # --- closing --------------------------------------------------------------------------------

    async def close(self, *, code: int = WSCloseCode.OK, message: bytes | str = b"") -> bool:
        """Send a Close, wait (up to ``ws_close``) for the server's, then close the socket.
        False when the WebSocket was already closed."""
        if isinstance(message, str):
            message = message.encode("utf-8")
        payload = close_payload(code, message)
        state = self._state
        if state is _CLOSED or state is _CLOSING:
            return False
        if self._waiter is not None:
            # Another task is in receive(): it returns CLOSING.
            self._closing_notice = True
            self._wake()
        self._stop_heartbeat()
        self._messages.clear()
        if self._reading_paused:
            self._reading_paused = False
            self._protocol.resume_reading()
        if state is _OPEN or state is _CLOSE_RECEIVED:
            self._send_close(payload)
        if state is not _CLOSE_RECEIVED and _cancelling():
            # The task is being cancelled (the body of ``async with`` was, or a timeout around
            # it fired): its owner wants the socket gone now, not after up to ws_close seconds
            # of waiting for the server's Close. Our Close is already in the kernel's buffer.
            self._state = _CLOSED
            self._stop_heartbeat()
            self._protocol.abort()
            await self._wait_closed()
            return True
        if state is not _CLOSE_RECEIVED and self._protocol.transport is not None:
            self._state = _CLOSING
            try:
                await self._wait_close_frame()
            finally:
                self._messages.clear()
        self._close_now()
        await self._wait_closed()
        return True

    async def _wait_close_frame(self) -> None:
        waiter = self._close_waiter = self._loop.create_future()
        try:
            await asyncio.wait_for(waiter, self._timeout.ws_close)
        except asyncio.TimeoutError as exc:
            self._close_code = WSCloseCode.ABNORMAL_CLOSURE
            self._exception = exc
            self._protocol.abort()
        except asyncio.CancelledError:
            self._close_code = WSCloseCode.ABNORMAL_CLOSURE
            self._protocol.abort()
            raise
        finally:
            self._close_waiter = None

    def _send_close(self, payload: bytes) -> None:
        """Write our Close now; the caller moves the state on (nothing may follow it)."""
        self._send(OP_CLOSE, payload, None)
        self._flush()

    def _close_now(self) -> None:
        self._state = _CLOSED
        self._stop_heartbeat()
        self._shutdown()

    def _shutdown(self) -> None:
        """Write what is queued, then close the socket (a TCP FIN after the last byte)."""
        self._flush()
        transport = self._protocol.transport
        if transport is not None and not transport.is_closing():
            transport.close()

    async def _wait_closed(self) -> None:
        closed = self._protocol.closed
        if closed.done():
            return
        try:
            await asyncio.wait_for(asyncio.shield(closed), self._timeout.ws_close)
        except asyncio.TimeoutError:
            # The peer does not take our last bytes (or the TLS close): drop the connection.
            self._protocol.abort()
            await closed

    # --- context manager, and the session's request context manager ----------------------------

    async def __aenter__(self) -> ClientWebSocketResponse:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    def release(self) -> None:
        """Nothing to give back to the pool: the connection left it at the upgrade."""

    async def wait_for_close(self) -> None:
        # ``async with session.ws_connect(...)`` ends here: close the WebSocket properly.
        await self.close()

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self._response.url} [{self._state.name}]>"


def _cancelling() -> bool:
    """Whether the current task has a cancellation in progress (Task.cancelling(), Python
    3.11+; on 3.10 this cannot be told and the close handshake is always awaited)."""
    task = asyncio.current_task()
    cancelling = getattr(task, "cancelling", None)
    return cancelling is not None and cancelling() > 0


def _control_payload(message: bytes | str) -> bytes:
    payload = message.encode("utf-8") if isinstance(message, str) else bytes(message)
    if len(payload) > 125:
        raise ValueError("A control frame's payload is limited to 125 bytes (RFC 6455 §5.5)")
    return payload
