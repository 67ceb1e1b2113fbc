"""The floor: a bare asyncio.Protocol HTTP/1.1 client with the least work Python can do.

Request heads are built once per URL; a response is framed by finding the end of its head and
reading Content-Length (or, for the tiny chunked answer of /upload, waiting for the last chunk).
No header objects, no URL objects, no timeouts: whatever a real client spends on top of this is
its own overhead.
"""

from __future__ import annotations

import asyncio
from typing import Final, cast
from urllib.parse import urlsplit

_END_OF_HEAD: Final = b"\r\n\r\n"
_LAST_CHUNK: Final = b"0\r\n\r\n"
_UPLOAD_PIECE: Final = 768 << 10  # as hyperclient's WRITE_PIECE: see _payload_base.py


class _RawProtocol(asyncio.Protocol):
    __slots__ = (
        "_body",
        "_body_left",
        "_chunked",
        "_drained",
        "_head",
        "_keep_body",
        "_loop",
        "_received",
        "_status",
        "_transport",
        "_waiter",
    )

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop
        self._transport: asyncio.Transport | None = None
        self._waiter: asyncio.Future[bytes] | None = None
        self._drained: asyncio.Future[None] | None = None
        self._head = bytearray()
        self._body = bytearray()
        self._body_left = -1  # -1 while the head is still arriving
        self._chunked = False
        self._keep_body = True
        self._received = 0
        self._status = 0

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's transports do not subclass asyncio.Transport, hence a cast, not isinstance.
        self._transport = cast(asyncio.Transport, transport)

    def connection_lost(self, exc: Exception | None) -> None:
        error = ConnectionError("connection lost")
        for fut in (self._waiter, self._drained):
            if fut is not None and not fut.done():
                fut.set_exception(error)

    def pause_writing(self) -> None:
        self._drained = self._loop.create_future()

    def resume_writing(self) -> None:
        if self._drained is not None and not self._drained.done():
            self._drained.set_result(None)
        self._drained = None

    def data_received(self, data: bytes) -> None:
        if self._body_left < 0:
            if self._head:
                self._head += data
                data = bytes(self._head)
                self._head.clear()
            end = data.find(_END_OF_HEAD)
            if end < 0:
                self._head += data
                return
            self._start_body(data[:end].lower())
            data = data[end + 4 :]
        self._feed_body(data)

    def _start_body(self, head: bytes) -> None:
        self._status = int(head[9:12])  # "http/1.1 200 ..."
        start = head.find(b"\r\ncontent-length:")
        if start >= 0:
            start += 17
            stop = head.find(b"\r\n", start)
            self._body_left = int(head[start : stop if stop >= 0 else len(head)])
            self._chunked = False
        else:
            self._body_left = 1  # until the last chunk is seen
            self._chunked = True

    def _feed_body(self, data: bytes) -> None:
        if self._chunked:
            self._body += data
            if self._body.endswith(_LAST_CHUNK):
                self._finish()
            return
        take = len(data) if len(data) <= self._body_left else self._body_left
        self._body_left -= take
        self._received += take
        if self._keep_body:
            self._body += data[:take] if take < len(data) else data
        if self._body_left == 0:
            self._finish()

    def _finish(self) -> None:
        body = bytes(self._body) if self._keep_body else b""
        del self._body[:]
        self._body_left = -1
        if self._waiter is not None and not self._waiter.done():
            self._waiter.set_result(body)

    async def exchange(self, head: bytes, body: bytes = b"", *, keep_body: bool = True) -> bytes:
        assert self._transport is not None
        self._waiter = self._loop.create_future()
        self._keep_body = keep_body
        self._received = 0
        if not body:
            self._transport.write(head)
        else:
            await self._send_body(head, body)
        return await self._waiter

    async def _send_body(self, head: bytes, body: bytes) -> None:
        # Pieces of 768 KiB with flow control: one huge write() is far slower on the default
        # loop (DESIGN.md, "Performance habits").
        assert self._transport is not None
        self._transport.write(head)
        view = memoryview(body)
        for offset in range(0, len(body), _UPLOAD_PIECE):
            self._transport.write(view[offset : offset + _UPLOAD_PIECE])
            if self._drained is not None:
                await self._drained

    @property
    def received(self) -> int:
        return self._received

    @property
    def status(self) -> int:
        return self._status

    def close(self) -> None:
        if self._transport is not None:
            self._transport.close()


class RawClient:
    """A LIFO pool of raw connections to one host, with pre-built request heads per URL."""

    __slots__ = ("_heads", "_host", "_idle", "_loop", "_port", "_protocols")

    def __init__(self, base_url: str) -> None:
        parts = urlsplit(base_url)
        self._host = parts.hostname or "127.0.0.1"
        self._port = parts.port or 80
        self._loop = asyncio.get_running_loop()
        self._idle: list[_RawProtocol] = []
        self._protocols: list[_RawProtocol] = []
        self._heads: dict[tuple[str, str, int], bytes] = {}

    def _head(self, method: str, url: str, length: int = -1) -> bytes:
        key = (method, url, length)
        head = self._heads.get(key)
        if head is None:
            target = urlsplit(url).path or "/"
            lines = [f"{method} {target} HTTP/1.1", f"Host: {self._host}:{self._port}"]
            if length >= 0:
                lines.append(f"Content-Length: {length}")
            head = ("\r\n".join(lines) + "\r\n\r\n").encode("ascii")
            self._heads[key] = head
        return head

    async def _acquire(self) -> _RawProtocol:
        if self._idle:
            return self._idle.pop()
        _, protocol = await self._loop.create_connection(
            lambda: _RawProtocol(self._loop), self._host, self._port
        )
        self._protocols.append(protocol)
        return protocol

    async def get(self, url: str) -> bytes:
        protocol = await self._acquire()
        body = await protocol.exchange(self._head("GET", url))
        self._idle.append(protocol)
        return body

    async def download(self, url: str, chunk_size: int) -> int:
        # The protocol counts body bytes as they arrive; chunk_size has no meaning at this level.
        protocol = await self._acquire()
        await protocol.exchange(self._head("GET", url), keep_body=False)
        self._idle.append(protocol)
        return protocol.received

    async def upload(self, url: str, body: bytes) -> int:
        protocol = await self._acquire()
        await protocol.exchange(self._head("POST", url, len(body)), body)
        self._idle.append(protocol)
        return protocol.status

    async def close(self) -> None:
        for protocol in self._protocols:
            protocol.close()
        self._protocols.clear()
        self._idle.clear()
        # One loop iteration lets the transports run connection_lost before the loop closes.
        await asyncio.sleep(0)
