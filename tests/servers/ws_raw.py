"""Scripted WebSocket servers for what no real server does: protocol violations, a wrong
handshake answer, silence. Built on :class:`servers.raw.RawConnection`, with its own frame code
(written independently of the library's, so the two check each other).
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
from collections.abc import Sequence
from dataclasses import dataclass

from .raw import RawConnection, RawRequest

_GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"


def accept_for(key: str) -> str:
    return base64.b64encode(hashlib.sha1(key.encode() + _GUID).digest()).decode()


async def handshake(
    conn: RawConnection,
    *,
    headers: Sequence[tuple[str, str]] = (),
    accept: str | None = None,
    upgrade: str = "websocket",
    connection: str = "Upgrade",
    tail: bytes = b"",
) -> RawRequest:
    """Read the upgrade request and answer 101. *accept* replaces the correct
    Sec-WebSocket-Accept; *tail* is sent in the same write, right behind the head."""
    request = await conn.read_request(body=False)
    assert request is not None, "the client closed before its handshake"
    key = request.header("sec-websocket-key")
    assert key is not None
    lines = [
        "HTTP/1.1 101 Switching Protocols",
        f"Upgrade: {upgrade}",
        f"Connection: {connection}",
        f"Sec-WebSocket-Accept: {accept if accept is not None else accept_for(key)}",
        *(f"{name}: {value}" for name, value in headers),
    ]
    await conn.send(("\r\n".join(lines) + "\r\n\r\n").encode() + tail)
    return request


def frame(
    opcode: int,
    payload: bytes = b"",
    *,
    fin: bool = True,
    rsv: int = 0,
    mask: bytes | None = None,
    length: int | None = None,
) -> bytes:
    """A server frame, byte by byte as RFC 6455 §5.2 draws it. *rsv* is the 3 reserved bits
    (0..7); *mask* masks it (which a server must not do); *length* lies about the size."""
    first = (0x80 if fin else 0) | (rsv << 4) | opcode
    size = len(payload) if length is None else length
    mask_bit = 0x80 if mask is not None else 0
    if size < 126:
        head = bytes([first, mask_bit | size])
    elif size < 65536:
        head = bytes([first, mask_bit | 126]) + size.to_bytes(2, "big")
    else:
        head = bytes([first, mask_bit | 127]) + size.to_bytes(8, "big")
    if mask is not None:
        payload = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
        head += mask
    return head + payload


def close_frame(code: int | None = 1000, reason: bytes = b"") -> bytes:
    body = b"" if code is None else code.to_bytes(2, "big") + reason
    return frame(0x8, body)


@dataclass
class ClientFrame:
    fin: bool
    rsv: int
    opcode: int
    masked: bool
    payload: bytes

    @property
    def close_code(self) -> int | None:
        return int.from_bytes(self.payload[:2], "big") if len(self.payload) >= 2 else None


async def read_frame(conn: RawConnection, timeout: float = 5.0) -> ClientFrame | None:
    """The next frame from the client, unmasked; None if the client closed the connection."""
    try:
        head = await asyncio.wait_for(conn.reader.readexactly(2), timeout)
    except asyncio.IncompleteReadError:
        return None
    first, second = head
    size = second & 0x7F
    if size == 126:
        size = int.from_bytes(await conn.reader.readexactly(2), "big")
    elif size == 127:
        size = int.from_bytes(await conn.reader.readexactly(8), "big")
    masked = bool(second & 0x80)
    key = await conn.reader.readexactly(4) if masked else b"\x00" * 4
    body = await conn.reader.readexactly(size)
    payload = bytes(b ^ key[i % 4] for i, b in enumerate(body))
    return ClientFrame(bool(first & 0x80), (first >> 4) & 7, first & 0x0F, masked, payload)


async def read_until_close(conn: RawConnection, timeout: float = 5.0) -> list[ClientFrame]:
    """Every frame up to and including the client's Close (or until it hangs up)."""
    frames: list[ClientFrame] = []
    while True:
        got = await read_frame(conn, timeout)
        if got is None:
            return frames
        frames.append(got)
        if got.opcode == 0x8:
            return frames
