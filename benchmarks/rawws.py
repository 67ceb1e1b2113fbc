"""The WebSocket floor: a bare asyncio.Protocol client doing the least work per message.

The opening handshake only checks for a 101. The socket is read into one reused 64 KiB buffer
(asyncio's own reads allocate 256 KiB per read, which glibc maps and unmaps each time: tens of
microseconds on a virtual machine); frames are parsed straight out of each read (no message
objects, no queue), text payloads are decoded (the one thing a client must do with them), and
frames to send are masked (RFC 6455 §5.3) and written in 64 KiB batches. Received messages
are counted inside the protocol, so receiving has no await per message; echo awaits one
future per round trip, the least an exchange can cost.
Whatever a real client spends above this is its own overhead.
"""

from __future__ import annotations

import asyncio
import base64
import os
import struct
from typing import Final
from urllib.parse import urlsplit

_OP_TEXT: Final = 0x1
_OP_CLOSE: Final = 0x8
_BATCH: Final = 1 << 16
_KEYS: Final = 1024
_unpack_keys = struct.Struct(f"<{_KEYS}I").unpack
_head_small = struct.Struct("<BBI").pack


class _Masker:
    """Client frames with a fresh random key each, keys fetched from the OS in blocks."""

    __slots__ = ("_keys", "_pos", "_repeat")

    def __init__(self) -> None:
        self._keys: tuple[int, ...] = ()
        self._pos = _KEYS
        self._repeat: dict[int, int] = {}

    def frame(self, opcode: int, payload: bytes) -> bytes:
        n = len(payload)
        if n >= 126:
            raise ValueError("the raw client sends small frames only")
        if self._pos == _KEYS:
            self._keys, self._pos = _unpack_keys(os.urandom(4 * _KEYS)), 0
        key = self._keys[self._pos]
        self._pos += 1
        words = (n + 3) >> 2
        repeat = self._repeat.get(words)
        if repeat is None:
            repeat = self._repeat[words] = int.from_bytes(b"\x01\x00\x00\x00" * words, "little")
        masked = (int.from_bytes(payload, "little") ^ key * repeat).to_bytes(words * 4, "little")
        return _head_small(0x80 | opcode, 0x80 | n, key) + masked[:n]


class _RawWsProtocol(asyncio.BufferedProtocol):
    __slots__ = (
        "_buffer",
        "_handshaken",
        "_loop",
        "_paused",
        "_reply",
        "_resumed",
        "_view",
        "close_code",
        "closed",
        "done",
        "messages",
        "text_chars",
        "transport",
    )

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        # Kept rather than asked for: asyncio.get_running_loop() costs a getpid() system call.
        self._loop = loop
        self.transport: asyncio.Transport | None = None
        self._buffer = b""
        self._view = memoryview(bytearray(_BATCH))
        self._handshaken = loop.create_future()
        self.done = loop.create_future()  # the server's Close arrived
        self.closed = loop.create_future()
        self._reply: asyncio.Future[str] | None = None
        self._paused = False
        self._resumed: asyncio.Future[None] | None = None
        self.messages = 0
        self.text_chars = 0
        self.close_code = 0

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def connection_lost(self, exc: Exception | None) -> None:
        for fut in (self._handshaken, self.done, self.closed):
            if not fut.done():
                fut.set_result(None)

    def pause_writing(self) -> None:
        self._paused = True

    def resume_writing(self) -> None:
        self._paused = False
        if self._resumed is not None and not self._resumed.done():
            self._resumed.set_result(None)

    async def drain(self) -> None:
        if self._paused:
            self._resumed = self._loop.create_future()
            await self._resumed

    def get_buffer(self, sizehint: int) -> memoryview:
        return self._view

    def buffer_updated(self, nbytes: int) -> None:
        data = self._view[:nbytes].tobytes()
        if self._buffer:
            data = self._buffer + data
        if not self._handshaken.done():
            end = data.find(b"\r\n\r\n")
            if end < 0:
                self._buffer = data
                return
            if not data.startswith(b"HTTP/1.1 101"):
                raise RuntimeError(f"handshake refused: {data[:40]!r}")
            self._handshaken.set_result(None)
            data = data[end + 4 :]
        self._buffer = data[self._frames(data) :]

    def _frames(self, buf: bytes) -> int:
        pos, end = 0, len(buf)
        while end - pos >= 2:
            b0, n = buf[pos], buf[pos + 1]
            start = pos + 2
            if n == 126:
                start = pos + 4
                if start > end:
                    break
                n = int.from_bytes(buf[pos + 2 : start], "big")
            elif n == 127:
                start = pos + 10
                if start > end:
                    break
                n = int.from_bytes(buf[pos + 2 : start], "big")
            stop = start + n
            if stop > end:
                break
            pos = stop
            if b0 == 0x80 | _OP_CLOSE:
                self.close_code = int.from_bytes(buf[start : start + 2], "big")
                if not self.done.done():
                    self.done.set_result(None)
                return end
            text = buf[start:stop].decode()
            self.messages += 1
            self.text_chars += len(text)
            reply = self._reply
            if reply is not None:
                self._reply = None
                reply.set_result(text)
        return pos

    async def handshake(self, host: str, target: str) -> None:
        key = base64.b64encode(os.urandom(16)).decode()
        assert self.transport is not None
        self.transport.write(
            f"GET {target} HTTP/1.1\r\nHost: {host}\r\nUpgrade: websocket\r\n"
            f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
            "Sec-WebSocket-Version: 13\r\n\r\n".encode("ascii")
        )
        await self._handshaken

    def expect_reply(self) -> asyncio.Future[str]:
        reply = self._reply = self._loop.create_future()
        return reply


class RawWsClient:
    """The three WebSocket operations of clients.py on the bare protocol."""

    def __init__(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._masker = _Masker()

    async def _open(self, url: str) -> _RawWsProtocol:
        parts = urlsplit(url)
        host, port = parts.hostname or "127.0.0.1", parts.port or 80
        _, protocol = await self._loop.create_connection(
            lambda: _RawWsProtocol(self._loop), host, port
        )
        target = parts.path + (f"?{parts.query}" if parts.query else "")
        await protocol.handshake(f"{host}:{port}", target)
        return protocol

    async def _close(self, protocol: _RawWsProtocol) -> int:
        assert protocol.transport is not None
        protocol.transport.write(self._masker.frame(_OP_CLOSE, b"\x03\xe8"))
        await protocol.done
        protocol.transport.close()
        await protocol.closed
        return protocol.close_code

    async def ws_receive_all(self, url: str) -> int:
        protocol = await self._open(url)
        await protocol.done
        assert protocol.transport is not None
        protocol.transport.close()
        await protocol.closed
        return protocol.text_chars

    async def ws_echo(self, url: str, message: str, count: int) -> int:
        protocol = await self._open(url)
        transport = protocol.transport
        assert transport is not None
        frame = self._masker.frame
        payload = message.encode()
        for _ in range(count):
            reply = protocol.expect_reply()
            transport.write(frame(_OP_TEXT, payload))
            if await reply != message:
                raise RuntimeError("the echo differs from what was sent")
        await self._close(protocol)
        return count

    async def ws_send_all(self, url: str, message: str, count: int) -> int:
        protocol = await self._open(url)
        transport = protocol.transport
        assert transport is not None
        frame = self._masker.frame
        out: list[bytes] = []
        size = 0
        for _ in range(count):
            # The text is encoded per message, as a client's send_str must.
            data = frame(_OP_TEXT, message.encode())
            out.append(data)
            size += len(data)
            if size >= _BATCH:
                transport.write(b"".join(out))
                out.clear()
                size = 0
                await protocol.drain()
        transport.write(b"".join(out))
        return await self._close(protocol)

    async def close(self) -> None:
        await asyncio.sleep(0)
