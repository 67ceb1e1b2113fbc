"""Decompression bombs and truncated compressed bodies (issue 6).

A server can send a megabyte that inflates to a gibibyte. Memory must stay bounded by what the
caller reads: a small read of a gzip, deflate, br or zstd bomb inflates only about that much
(measured with tracemalloc around the read), also across a redirect, and a permessage-deflate
WebSocket message stops at max_msg_size. A compressed body cut short is an error, never a short
success.
"""

from __future__ import annotations

import asyncio
import functools
import tracemalloc
import zlib
from collections.abc import AsyncIterator, Awaitable, Callable

import pytest
from yarl import URL

import hyperclient
from servers import RawConnection, RawServerFactory
from servers.hostile import serve
from servers.hostile_bombs import (
    BOMBS,
    GIB,
    br_compress,
    gzip_bomb,
    websocket_deflate_bomb,
    zstd_compress,
)
from servers.raw import Handler, http_response
from servers.ws_raw import frame, handshake, read_until_close

#: Peak traced memory allowed for a 1 KiB read of a 1 GiB bomb: the stream's buffer (twice
#: read_bufsize), one decoder step, the compressed bytes received, and the test's own noise.
#: Measured: 0.4-0.8 MiB (it was 124 MiB for gzip and 1 GiB for zstd before the fix).
BOUND = 2 << 20


async def traced_peak(action: Callable[[], Awaitable[object]]) -> int:
    """Peak of Python memory allocated while *action* runs (and a moment after it, so that
    work the client keeps doing in the background counts too)."""
    tracemalloc.start()
    try:
        base = tracemalloc.get_traced_memory()[0]
        await action()
        return tracemalloc.get_traced_memory()[1] - base
    finally:
        tracemalloc.stop()


def send_bomb(encoding: str, body: bytes, *, status: str = "200 OK", extra: str = "") -> Handler:
    """Answer with *body* in one write, as an attacker would, then wait for the client."""

    async def handler(conn: RawConnection) -> None:
        if await conn.read_request() is None:
            return
        head = (
            f"HTTP/1.1 {status}\r\nContent-Encoding: {encoding}\r\n{extra}"
            f"Content-Length: {len(body)}\r\n\r\n"
        )
        conn.writer.write(head.encode())
        conn.writer.write(body)
        await conn.wait_closed_by_peer()

    return handler


async def small_read(session: hyperclient.ClientSession, url: URL) -> None:
    async with session.get(url) as resp:
        assert resp.status == 200
        assert await resp.content.read(1024) == bytes(1024)
        await asyncio.sleep(0.05)  # anything still inflating in the background shows now


def answer_and_close(response: bytes) -> Handler:
    async def handler(conn: RawConnection) -> None:
        if await conn.read_request() is not None:
            await conn.send(response)

    return handler


@pytest.mark.parametrize("encoding", list(BOMBS))
async def test_small_read_of_a_bomb_inflates_only_about_that_much(
    encoding: str, raw_server: RawServerFactory
) -> None:
    server = await raw_server(send_bomb(encoding, BOMBS[encoding]()))
    async with hyperclient.ClientSession() as session:
        peak = await traced_peak(lambda: small_read(session, server.make_url("/bomb")))
    assert peak < BOUND, f"{encoding}: a 1 KiB read took {peak / 2**20:.1f} MiB"


async def test_small_read_of_a_bomb_after_a_redirect_inflates_only_about_that_much(
    raw_server: RawServerFactory,
) -> None:
    redirect = http_response(
        status="302 Found", headers=[("Location", "/bomb"), ("Connection", "close")]
    )
    server = await raw_server(answer_and_close(redirect), send_bomb("gzip", gzip_bomb()))
    async with hyperclient.ClientSession() as session:
        peak = await traced_peak(lambda: small_read(session, server.make_url("/start")))
    assert peak < BOUND, f"a 1 KiB read after a redirect took {peak / 2**20:.1f} MiB"


async def test_bomb_in_a_redirect_body_is_not_inflated(raw_server: RawServerFactory) -> None:
    small_bomb = gzip_bomb(64 << 20)[: 60 << 10]  # 60 KiB of a gzip member: ~58 MiB of zeros
    server = await raw_server(
        send_bomb("gzip", small_bomb, status="302 Found", extra="Location: /next\r\n"), serve()
    )

    async def follow() -> None:
        async with session.get(server.make_url("/start")) as resp:
            assert await resp.read() == b"fresh"

    async with hyperclient.ClientSession() as session:
        peak = await traced_peak(follow)
    assert peak < BOUND, f"following one redirect took {peak / 2**20:.1f} MiB"


# -- WebSocket permessage-deflate --------------------------------------------------------------


def ws_bomb_server(payload_frames: list[bytes]) -> Handler:
    async def handler(conn: RawConnection) -> None:
        await handshake(conn, headers=[("Sec-WebSocket-Extensions", "permessage-deflate")])
        conn.writer.write(b"".join(payload_frames))
        await read_until_close(conn)

    return handler


@pytest.mark.parametrize("fragments", [1, 64], ids=["one-frame", "fragmented"])
async def test_websocket_deflate_bomb_stops_at_max_msg_size(
    fragments: int, raw_server: RawServerFactory
) -> None:
    # 1 MiB on the wire, under the default 4 MiB max_msg_size, inflating to 1 GiB.
    payload = websocket_deflate_bomb(GIB)
    size = -(-len(payload) // fragments)
    pieces = [payload[i : i + size] for i in range(0, len(payload), size)]
    frames = [
        frame(0x2 if i == 0 else 0x0, piece, fin=i == len(pieces) - 1, rsv=4 if i == 0 else 0)
        for i, piece in enumerate(pieces)
    ]
    server = await raw_server(ws_bomb_server(frames))

    async def receive_one() -> None:
        async with session.ws_connect(server.url, compress=15) as ws:
            msg = await ws.receive()
            assert msg.type is hyperclient.WSMsgType.ERROR
            assert ws.close_code == hyperclient.WSCloseCode.MESSAGE_TOO_BIG

    async with hyperclient.ClientSession() as session:
        peak = await traced_peak(receive_one)
    # The frame as received (1 MiB, twice while pieces are joined, once more with the
    # sync-flush tail) and max_msg_size (4 MiB) of output, which zlib builds in blocks and
    # then joins: about 12 MiB, where the bomb is 1 GiB.
    assert peak < 16 << 20, f"the bomb took {peak / 2**20:.1f} MiB"


async def test_websocket_deflate_bomb_with_a_small_limit_stops_at_that_limit(
    raw_server: RawServerFactory,
) -> None:
    payload = websocket_deflate_bomb(64 << 20)
    server = await raw_server(ws_bomb_server([frame(0x2, payload, rsv=4)]))

    async def receive_one() -> None:
        async with session.ws_connect(server.url, compress=15, max_msg_size=256 << 10) as ws:
            msg = await ws.receive()
            assert msg.type is hyperclient.WSMsgType.ERROR

    async with hyperclient.ClientSession() as session:
        peak = await traced_peak(receive_one)
    assert peak < 2 << 20, f"the bomb took {peak / 2**20:.1f} MiB"


# -- truncated compressed bodies -----------------------------------------------------------------

PLAIN = b"".join(b"line %d of a compressible body\n" % i for i in range(20_000))


@functools.cache
def compressed(encoding: str) -> bytes:
    if encoding == "gzip":
        compressor = zlib.compressobj(6, zlib.DEFLATED, 31)
        return compressor.compress(PLAIN) + compressor.flush()
    if encoding == "deflate":
        return zlib.compress(PLAIN)
    if encoding == "br":
        return br_compress(PLAIN)
    return zstd_compress(PLAIN)


def truncated_response(encoding: str, framing: str, cut: int) -> bytes:
    body = compressed(encoding)[:-cut]
    head = f"HTTP/1.1 200 OK\r\nContent-Encoding: {encoding}\r\n"
    if framing == "content-length":
        return f"{head}Content-Length: {len(body)}\r\n\r\n".encode() + body
    if framing == "chunked":
        size = f"{len(body):x}\r\n".encode()
        return f"{head}Transfer-Encoding: chunked\r\n\r\n".encode() + size + body + b"\r\n0\r\n\r\n"
    return f"{head}Connection: close\r\n\r\n".encode() + body  # ends when the server closes


@pytest.fixture
async def client() -> AsyncIterator[hyperclient.ClientSession]:
    async with hyperclient.ClientSession(timeout=hyperclient.ClientTimeout(total=5)) as session:
        yield session


@pytest.mark.parametrize("cut", [1, 4, 1000], ids=["last-byte", "checksum", "much"])
@pytest.mark.parametrize("framing", ["content-length", "chunked", "until-close"])
@pytest.mark.parametrize("encoding", list(BOMBS))
async def test_truncated_compressed_body_is_a_payload_error(
    encoding: str,
    framing: str,
    cut: int,
    raw_server: RawServerFactory,
    client: hyperclient.ClientSession,
) -> None:
    server = await raw_server(answer_and_close(truncated_response(encoding, framing, cut)))
    async with client.get(server.make_url("/")) as resp:
        with pytest.raises(hyperclient.ClientPayloadError):
            await resp.read()


@pytest.mark.parametrize("encoding", list(BOMBS))
async def test_truncated_compressed_body_read_in_pieces_fails_at_the_end(
    encoding: str, raw_server: RawServerFactory, client: hyperclient.ClientSession
) -> None:
    server = await raw_server(answer_and_close(truncated_response(encoding, "chunked", 4)))
    received = bytearray()
    async with client.get(server.make_url("/")) as resp:
        with pytest.raises(hyperclient.ClientPayloadError):
            async for piece in resp.content.iter_chunked(4096):
                received += piece
    assert PLAIN.startswith(bytes(received))
    assert len(received) < len(PLAIN)
