"""A fast raw WebSocket server for benchmarks (not used by the tests themselves).

    python tests/servers/ws_bench.py PORT        # serves on 127.0.0.1:PORT (uvloop if present)

The request path picks the scenario:

- ``/push?n=200000&size=64``: after the handshake, *n* text messages of *size* bytes, then a
  Close; the client measures how fast it receives them.
- ``/echo``: every message comes back unchanged (round-trip latency).
- ``/sink``: messages are read and dropped; the client's Close is answered (send rate).

Pushed frames are built once and written in large blocks, and echoed frames are batched per
read, so the server costs as little as a Python server can and the client is what gets
measured.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import sys
from urllib.parse import parse_qs, urlsplit

_GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"


def _frame(opcode: int, payload: bytes) -> bytes:
    size = len(payload)
    if size < 126:
        head = bytes((0x80 | opcode, size))
    elif size < 65536:
        head = bytes((0x80 | opcode, 126)) + size.to_bytes(2, "big")
    else:
        head = bytes((0x80 | opcode, 127)) + size.to_bytes(8, "big")
    return head + payload


def _unmask(payload: bytes, key: bytes) -> bytes:
    n = len(payload)
    stream = (key * (n // 4 + 1))[:n]
    return (int.from_bytes(payload, "little") ^ int.from_bytes(stream, "little")).to_bytes(
        n, "little"
    )


class BenchProtocol(asyncio.Protocol):
    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self.buffer = b""
        self.mode: str | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        if self.mode is None and not self._handshake():
            return
        self._frames()

    def _handshake(self) -> bool:
        end = self.buffer.find(b"\r\n\r\n")
        if end < 0:
            return False
        lines = self.buffer[:end].decode("latin-1").split("\r\n")
        self.buffer = self.buffer[end + 4 :]
        key = next(
            line.split(":", 1)[1].strip()
            for line in lines
            if line.lower().startswith("sec-websocket-key:")
        )
        accept = base64.b64encode(hashlib.sha1(key.encode() + _GUID).digest()).decode()
        assert self.transport is not None
        self.transport.write(
            b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
            b"Connection: Upgrade\r\nSec-WebSocket-Accept: " + accept.encode() + b"\r\n\r\n"
        )
        target = urlsplit(lines[0].split()[1])
        self.mode = target.path
        if self.mode == "/push":
            query = parse_qs(target.query)
            self._push(int(query.get("n", ["200000"])[0]), int(query.get("size", ["64"])[0]))
        return True

    def _push(self, count: int, size: int) -> None:
        assert self.transport is not None
        one = _frame(0x1, b"x" * size)
        block = one * 1000
        for _ in range(count // 1000):
            self.transport.write(block)
        self.transport.write(one * (count % 1000) + _frame(0x8, b"\x03\xe8"))

    def _frames(self) -> None:
        buf = self.buffer
        pos = 0
        out: list[bytes] = []
        transport = self.transport
        assert transport is not None
        while len(buf) - pos >= 6:
            first, size = buf[pos], buf[pos + 1] & 0x7F
            start = pos + 2
            if size == 126:
                size = int.from_bytes(buf[start : start + 2], "big")
                start += 2
            elif size == 127:
                size = int.from_bytes(buf[start : start + 8], "big")
                start += 8
            if start + 4 + size > len(buf):
                break
            body = buf[start + 4 : start + 4 + size]
            pos = start + 4 + size
            if first & 0x0F == 0x8:
                out.append(_frame(0x8, _unmask(body, buf[start : start + 4])[:2]))
                transport.write(b"".join(out))
                transport.close()
                return
            if self.mode == "/echo":
                out.append(_frame(first & 0x0F, _unmask(body, buf[start : start + 4])))
        if out:
            transport.write(b"".join(out))
        self.buffer = buf[pos:]


async def serve(port: int) -> None:
    loop = asyncio.get_running_loop()
    server = await loop.create_server(BenchProtocol, "127.0.0.1", port)
    async with server:
        await server.serve_forever()


if __name__ == "__main__":
    try:
        import uvloop

        uvloop.run(serve(int(sys.argv[1])))
    except ImportError:
        asyncio.run(serve(int(sys.argv[1])))
