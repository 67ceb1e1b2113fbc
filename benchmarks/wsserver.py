"""The WebSocket server of the benchmarks: as little work per message as Python allows.

    python benchmarks/wsserver.py PORT        # serves on 127.0.0.1:PORT (uvloop if present)

run.sh starts it pinned to the server CPU, next to nginx. The request path picks the scenario:

- ``/push?n=200000&size=64``: right after the handshake, *n* text messages of *size* bytes,
  then a Close (1000); the client measures how fast it receives them.
- ``/echo``: every message comes back unchanged (round trips).

Every path answers a Ping with a Pong (RFC 6455 §5.5.2).
- ``/sink?n=200000``: messages are counted and dropped. The client's Close is answered with
  1000 when exactly *n* data messages came before it, 4000 otherwise, so a client cannot look
  fast by losing messages.

Pushed frames are built once and written in large blocks; runs of identical frames (the
benchmark clients send nothing else) are skipped by one regular-expression match in C instead
of a Python step per frame; echoed frames are batched per read. The client's cost is what gets
measured, and bench.py records this process's CPU time to show it.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import re
import sys
from urllib.parse import parse_qs, urlsplit

_GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
_OP_CLOSE = 0x8
_OP_PING = 0x9
_OP_PONG = 0xA
_CLOSE_OK = b"\x03\xe8"  # 1000
_CLOSE_COUNT_MISMATCH = b"\x0f\xa0"  # 4000, an application code (RFC 6455 §7.4.2)
_RUNS: dict[bytes, re.Pattern[bytes]] = {}


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


def _run_of(head: bytes) -> re.Pattern[bytes]:
    """A pattern matching consecutive small masked frames that all start with *head* (its
    two bytes fix the opcode and length; the key and payload are any 4 + length bytes)."""
    pattern = _RUNS.get(head)
    if pattern is None:
        body = 4 + (head[1] & 0x7F)
        pattern = _RUNS[head] = re.compile(b"(?:" + re.escape(head) + b".{%d})*" % body, re.DOTALL)
    return pattern


class BenchProtocol(asyncio.Protocol):
    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self.buffer = b""
        self.mode: str | None = None
        self.expected = -1
        self.count = 0

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        self.buffer = self.buffer + data if self.buffer else data
        if self.mode is None and not self._handshake():
            return
        if self.mode == "/sink":
            self._skip_runs()
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
        query = parse_qs(target.query)
        if self.mode == "/push":
            self._push(int(query.get("n", ["200000"])[0]), int(query.get("size", ["64"])[0]))
        elif self.mode == "/sink":
            self.expected = int(query.get("n", ["-1"])[0])
        return True

    def _push(self, count: int, size: int) -> None:
        assert self.transport is not None
        one = _frame(0x1, b"x" * size)
        block = one * 1000
        for _ in range(count // 1000):
            self.transport.write(block)
        self.transport.write(one * (count % 1000) + _frame(_OP_CLOSE, _CLOSE_OK))

    def _skip_runs(self) -> None:
        """Count, without a Python step per frame, the whole frames at the front of the buffer
        that look like the first one (small, masked, FIN, same opcode and length)."""
        buf = self.buffer
        if len(buf) < 2 or not 0x80 <= buf[1] < 0x80 + 126 or buf[0] & 0x0F >= _OP_CLOSE:
            return
        head = buf[:2]
        run = _run_of(head).match(buf)
        end = run.end() if run is not None else 0
        if end:
            self.count += end // (6 + (head[1] & 0x7F))
            self.buffer = buf[end:]

    def _frames(self) -> None:
        buf = self.buffer
        pos = 0
        out: list[bytes] = []
        transport = self.transport
        assert transport is not None
        echo = self.mode == "/echo"
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
            opcode = first & 0x0F
            if opcode == _OP_CLOSE:
                out.append(_frame(_OP_CLOSE, self._close_answer(body, buf[start : start + 4])))
                transport.write(b"".join(out))
                transport.close()
                return
            if opcode < _OP_CLOSE:
                self.count += 1
                if echo:
                    out.append(_frame(opcode, _unmask(body, buf[start : start + 4])))
            elif opcode == _OP_PING:
                out.append(_frame(_OP_PONG, _unmask(body, buf[start : start + 4])))
        if out:
            transport.write(b"".join(out))
        self.buffer = buf[pos:]

    def _close_answer(self, body: bytes, key: bytes) -> bytes:
        if self.expected >= 0:
            return _CLOSE_OK if self.count == self.expected else _CLOSE_COUNT_MISMATCH
        return _unmask(body, key)[:2]


async def serve(port: int) -> None:
    loop = asyncio.get_running_loop()
    server = await loop.create_server(BenchProtocol, "127.0.0.1", port)
    async with server:
        await server.serve_forever()


def main() -> None:
    port = int(sys.argv[1])
    try:
        import uvloop
    except ImportError:
        asyncio.run(serve(port))
    else:
        uvloop.run(serve(port))


if __name__ == "__main__":
    try:
        main()
    except KeyboardInterrupt:
        pass
