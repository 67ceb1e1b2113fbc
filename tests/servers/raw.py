"""A scripted asyncio server for protocol misbehaviour no real server would produce.

A test gives one handler per expected connection (the last one serves any further connections).
A handler gets a :class:`RawConnection`, reads requests with :meth:`RawConnection.read_request`
and writes whatever bytes the test needs: malformed heads, truncated bodies, an early close, a
reset, interim responses. Everything received is recorded, so a test can also assert that
*nothing* was sent.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import struct
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass

from yarl import URL

Handler = Callable[["RawConnection"], Awaitable[None]]

_IO_TIMEOUT = 10.0


@dataclass
class RawRequest:
    head: bytes
    body: bytes

    @property
    def request_line(self) -> bytes:
        return self.head.split(b"\r\n", 1)[0]

    def header(self, name: str) -> str | None:
        wanted = name.lower().encode()
        for line in self.head.split(b"\r\n")[1:]:
            key, _, value = line.partition(b":")
            if key.strip().lower() == wanted:
                return value.strip().decode("latin-1")
        return None


class RawConnection:
    """One accepted connection, with everything the client sent recorded in ``received``."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer
        self.received = bytearray()
        self.requests: list[RawRequest] = []

    @property
    def peer_port(self) -> int:
        return int(self.writer.get_extra_info("peername")[1])

    async def read_head(self) -> bytes:
        """The next request head, or b"" when the client closed first."""
        try:
            head = await asyncio.wait_for(self.reader.readuntil(b"\r\n\r\n"), _IO_TIMEOUT)
        except asyncio.IncompleteReadError as exc:
            self.received += exc.partial
            return b""
        self.received += head
        return head

    async def read_exactly(self, n: int) -> bytes:
        data = await asyncio.wait_for(self.reader.readexactly(n), _IO_TIMEOUT)
        self.received += data
        return data

    async def read_request(self, *, body: bool = True) -> RawRequest | None:
        """The next request (head, and its body when *body*); None when the client closed."""
        head = await self.read_head()
        if not head:
            return None
        request = RawRequest(head, b"")
        if body:
            request.body = await self._read_body(request)
        self.requests.append(request)
        return request

    async def _read_body(self, request: RawRequest) -> bytes:
        length = request.header("content-length")
        if length is not None:
            return await self.read_exactly(int(length))
        if (request.header("transfer-encoding") or "").lower() != "chunked":
            return b""
        data = bytearray()
        while True:
            size_line = await asyncio.wait_for(self.reader.readuntil(b"\r\n"), _IO_TIMEOUT)
            self.received += size_line
            size = int(size_line.split(b";")[0], 16)
            chunk = await self.read_exactly(size + 2)
            data += chunk[:-2]
            if size == 0:
                return bytes(data)

    async def read_some(self, timeout: float) -> bytes:
        """Whatever arrives within *timeout* seconds (b"" if nothing or EOF)."""
        try:
            data = await asyncio.wait_for(self.reader.read(65536), timeout)
        except asyncio.TimeoutError:
            return b""
        self.received += data
        return data

    async def wait_closed_by_peer(self) -> None:
        """Read (and record) until the client closes its side."""
        while True:
            data = await asyncio.wait_for(self.reader.read(65536), _IO_TIMEOUT)
            if not data:
                return
            self.received += data

    async def send(self, data: bytes) -> None:
        self.writer.write(data)
        await self.writer.drain()

    async def close(self) -> None:
        """A clean close (FIN)."""
        if not self.writer.is_closing():
            self.writer.close()
        with contextlib.suppress(OSError):
            await self.writer.wait_closed()

    def reset(self) -> None:
        """Close with a TCP RST instead of a FIN (SO_LINGER with a zero timeout)."""
        sock = self.writer.get_extra_info("socket")
        if sock is not None:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.writer.transport.abort()


class RawServer:
    """An ``asyncio.start_server`` on 127.0.0.1:0 that runs scripted handlers."""

    def __init__(self, handlers: Sequence[Handler]) -> None:
        if not handlers:
            raise ValueError("at least one handler")
        self._handlers = list(handlers)
        self.connections: list[RawConnection] = []
        self._tasks: set[asyncio.Task[None]] = set()
        self._server: asyncio.Server | None = None
        self.port = 0
        self.url = URL("http://127.0.0.1")

    async def start(self) -> RawServer:
        self._server = await asyncio.start_server(self._accept, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]
        self.url = URL.build(scheme="http", host="127.0.0.1", port=self.port)
        return self

    def make_url(self, path: str) -> URL:
        return URL(str(self.url) + path, encoded=True)

    @property
    def received(self) -> bytes:
        """Every byte received, over all connections, in accept order."""
        return b"".join(bytes(c.received) for c in self.connections)

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        conn = RawConnection(reader, writer)
        index = len(self.connections)
        self.connections.append(conn)
        handler = self._handlers[min(index, len(self._handlers) - 1)]
        try:
            await handler(conn)
        except (ConnectionError, asyncio.IncompleteReadError, asyncio.TimeoutError):
            pass
        finally:
            await conn.close()
            self._tasks.discard(task)

    async def idle(self) -> None:
        """Wait until every handler has finished (an event, not a sleep)."""
        if self._tasks:
            await asyncio.wait_for(
                asyncio.gather(*self._tasks, return_exceptions=True), _IO_TIMEOUT
            )

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
        for conn in self.connections:
            await conn.close()
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.gather(*tasks, return_exceptions=True)
        if self._server is not None:
            await self._server.wait_closed()


class RawServerFactory:
    """The ``raw_server`` fixture: ``await raw_server(handler, ...)`` starts one server."""

    def __init__(self) -> None:
        self._servers: list[RawServer] = []

    async def __call__(self, *handlers: Handler) -> RawServer:
        server = RawServer(handlers)
        self._servers.append(server)
        return await server.start()

    async def close(self) -> None:
        for server in self._servers:
            await server.close()


# -- ready-made scripts ---------------------------------------------------------------------


def reply(*responses: bytes, keep_open: bool = False) -> Handler:
    """Answer each request on the connection with the next of *responses*, then close (or, with
    *keep_open*, wait for the client to close)."""

    async def handler(conn: RawConnection) -> None:
        for response in responses:
            if await conn.read_request() is None:
                return
            await conn.send(response)
        if keep_open:
            await conn.wait_closed_by_peer()

    return handler


def reply_forever(response: bytes) -> Handler:
    """Answer every request on the connection with *response* until the client closes."""

    async def handler(conn: RawConnection) -> None:
        while await conn.read_request() is not None:
            await conn.send(response)

    return handler


def http_response(
    body: bytes = b"",
    *,
    status: str = "200 OK",
    headers: Sequence[tuple[str, str]] = (),
    version: str = "HTTP/1.1",
    length: bool = True,
) -> bytes:
    """A well-formed response; *length* adds a Content-Length matching *body*."""
    lines = [f"{version} {status}"]
    lines += [f"{k}: {v}" for k, v in headers]
    if length:
        lines.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body
