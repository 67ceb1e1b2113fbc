"""Time against hostile servers (issue 6): nothing waits past its timeout, nothing waits forever.

A server that drips one byte at a time keeps every per-read timer happy, so only the total
timeout can end it, and it must. ``sock_read`` and ``sock_connect`` fire with their own classes
(SocketTimeoutError, ConnectionTimeoutError), both ServerTimeoutError and asyncio.TimeoutError.
A peer that goes silent or closes half-way ends the wait with the documented error, at once.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

import hyperclient
from hyperclient import ClientTimeout
from servers import RawConnection, RawServerFactory
from servers.hostile import drip, send_then_silent, silent
from servers.raw import Handler, http_response
from servers.ws_raw import close_frame, frame, handshake, read_until_close

DRIP = 0.01  # seconds between two bytes: far below any sock_read used here
TOTAL = 0.5
SLACK = 0.75  # how late a timeout may fire on a busy machine


@pytest.fixture
async def client() -> AsyncIterator[hyperclient.ClientSession]:
    # No session-wide timeout: each test sets exactly the one it is about.
    async with hyperclient.ClientSession(timeout=ClientTimeout()) as session:
        yield session


class Clock:
    def __init__(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._start = self._loop.time()

    @property
    def elapsed(self) -> float:
        return self._loop.time() - self._start


async def read_all(session: hyperclient.ClientSession, url: object, **kwargs: object) -> bytes:
    async with session.get(url, **kwargs) as resp:  # type: ignore[arg-type]
        body: bytes = await resp.read()
        return body


# -- drips ---------------------------------------------------------------------------------------

HEAD_DRIP = drip(b"HTTP/1.1 200 OK\r\n", interval=DRIP, repeat=b"X-Drip: a\r\n")
BODY_DRIP = drip(b"HTTP/1.1 200 OK\r\nContent-Length: 1000000\r\n\r\n", interval=DRIP, repeat=b"a")
CHUNK_DRIP = drip(
    b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n", interval=DRIP, repeat=b"1\r\na\r\n"
)
EXTENSION_DRIP = drip(
    b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5;", interval=DRIP, repeat=b"a"
)
UNTIL_CLOSE_DRIP = drip(b"HTTP/1.1 200 OK\r\n\r\n", interval=DRIP, repeat=b"a")
INTERIM_DRIP = drip(b"", interval=DRIP, repeat=b"HTTP/1.1 103 Early Hints\r\n\r\n")


@pytest.mark.parametrize(
    "handler",
    [HEAD_DRIP, BODY_DRIP, CHUNK_DRIP, EXTENSION_DRIP, UNTIL_CLOSE_DRIP, INTERIM_DRIP],
    ids=["head", "body", "chunks", "chunk-extension", "until-close", "interim-responses"],
)
async def test_one_byte_at_a_time_drip_cannot_outlive_the_total_timeout(
    handler: Handler, raw_server: RawServerFactory, client: hyperclient.ClientSession
) -> None:
    server = await raw_server(handler)
    clock = Clock()
    timeout = ClientTimeout(total=TOTAL, sock_read=TOTAL / 2)  # sock_read alone never fires
    with pytest.raises(asyncio.TimeoutError) as info:
        await read_all(client, server.make_url("/"), timeout=timeout)
    assert not isinstance(info.value, hyperclient.SocketTimeoutError)
    assert TOTAL * 0.9 <= clock.elapsed < TOTAL + SLACK


@pytest.mark.parametrize("how", ["read", "iter_chunked", "readline", "readany", "iter_chunks"])
async def test_drip_cannot_outlive_the_total_timeout_whichever_way_the_body_is_read(
    how: str, raw_server: RawServerFactory, client: hyperclient.ClientSession
) -> None:
    server = await raw_server(BODY_DRIP)
    clock = Clock()
    with pytest.raises(asyncio.TimeoutError):
        async with client.get(server.make_url("/"), timeout=ClientTimeout(total=TOTAL)) as resp:
            content = resp.content
            if how == "read":
                await content.read()
            elif how == "iter_chunked":
                async for _ in content.iter_chunked(1):
                    pass
            elif how == "readline":
                await content.readline()
            elif how == "readany":
                while await content.readany():
                    pass
            else:
                async for _ in content.iter_chunks():
                    pass
    assert clock.elapsed < TOTAL + SLACK


# -- sock_read and sock_connect ------------------------------------------------------------------


@pytest.mark.parametrize(
    "handler",
    [
        silent(),
        send_then_silent(b"HTTP/1.1 200 OK\r\nContent-Le"),
        send_then_silent(b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nhalf"),
        send_then_silent(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhe"),
        send_then_silent(b"HTTP/1.1 100 Continue\r\n\r\n"),
    ],
    ids=["before-the-head", "mid-head", "mid-body", "mid-chunk", "after-interim"],
)
async def test_sock_read_fires_with_its_own_class_when_the_peer_goes_silent(
    handler: Handler, raw_server: RawServerFactory, client: hyperclient.ClientSession
) -> None:
    server = await raw_server(handler)
    clock = Clock()
    with pytest.raises(hyperclient.SocketTimeoutError) as info:
        await read_all(client, server.make_url("/"), timeout=ClientTimeout(sock_read=0.3))
    assert isinstance(info.value, hyperclient.ServerTimeoutError)
    assert isinstance(info.value, asyncio.TimeoutError)
    assert not isinstance(info.value, hyperclient.ConnectionTimeoutError)
    assert 0.25 <= clock.elapsed < 0.3 + SLACK


async def test_sock_read_fires_when_the_peer_never_answers_expect_100_continue(
    raw_server: RawServerFactory, client: hyperclient.ClientSession
) -> None:
    async def read_head_only(conn: RawConnection) -> None:
        await conn.read_head()
        await conn.wait_closed_by_peer()

    server = await raw_server(read_head_only)
    timeout = ClientTimeout(sock_read=0.3, total=1)
    with pytest.raises(hyperclient.SocketTimeoutError):
        await client.post(server.make_url("/"), data=b"body", expect100=True, timeout=timeout)


async def test_sock_connect_fires_with_its_own_class(
    full_backlog: int, client: hyperclient.ClientSession
) -> None:
    clock = Clock()
    timeout = ClientTimeout(sock_connect=0.3, sock_read=5)
    with pytest.raises(hyperclient.ConnectionTimeoutError) as info:
        await client.get(f"http://127.0.0.1:{full_backlog}/", timeout=timeout)
    assert isinstance(info.value, hyperclient.ServerTimeoutError)
    assert not isinstance(info.value, hyperclient.SocketTimeoutError)
    assert clock.elapsed < 0.3 + SLACK


async def test_total_timeout_ends_a_silent_peer_without_any_other_timeout(
    raw_server: RawServerFactory, client: hyperclient.ClientSession
) -> None:
    server = await raw_server(silent())
    clock = Clock()
    with pytest.raises(asyncio.TimeoutError) as info:
        await read_all(client, server.make_url("/"), timeout=ClientTimeout(total=TOTAL))
    assert not isinstance(info.value, hyperclient.SocketTimeoutError)
    assert clock.elapsed < TOTAL + SLACK


# -- closing half-way ----------------------------------------------------------------------------


def send_then(data: bytes, ending: str) -> Handler:
    """Read the request, send *data*, then end: "close" (FIN), "reset" (RST) or "half-close"
    (shutdown of the server's sending side only, still reading)."""

    async def handler(conn: RawConnection) -> None:
        if await conn.read_request() is None:
            return
        if data:
            await conn.send(data)
        if ending == "reset":
            conn.reset()
        elif ending == "half-close":
            conn.writer.write_eof()
            await conn.wait_closed_by_peer()

    return handler


HEAD_CUTS = [b"", b"HTTP/1.1 200 OK\r\n", b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n"]
BODY_CUTS = [
    b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nhalf",
    b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n",
    b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhel",
    b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n",
]


@pytest.mark.parametrize("ending", ["close", "reset", "half-close"])
@pytest.mark.parametrize("data", HEAD_CUTS, ids=["nothing", "status-line", "mid-head"])
async def test_peer_closing_before_the_head_ends_is_a_connection_error_at_once(
    data: bytes, ending: str, raw_server: RawServerFactory, client: hyperclient.ClientSession
) -> None:
    server = await raw_server(send_then(data, ending))
    clock = Clock()
    with pytest.raises(hyperclient.ClientConnectionError):
        await read_all(client, server.make_url("/"))
    assert clock.elapsed < 1


@pytest.mark.parametrize("ending", ["close", "reset", "half-close"])
@pytest.mark.parametrize(
    "data", BODY_CUTS, ids=["length", "between-chunks", "mid-chunk", "before-trailers"]
)
async def test_peer_closing_in_the_body_is_a_payload_error_at_once(
    data: bytes, ending: str, raw_server: RawServerFactory, client: hyperclient.ClientSession
) -> None:
    server = await raw_server(send_then(data, ending))
    clock = Clock()
    with pytest.raises(hyperclient.ClientPayloadError):
        await read_all(client, server.make_url("/"))
    assert clock.elapsed < 1


async def test_peer_closing_while_the_request_body_is_sent_is_an_error_at_once(
    raw_server: RawServerFactory, client: hyperclient.ClientSession
) -> None:
    async def take_a_little_then_close(conn: RawConnection) -> None:
        await conn.read_head()
        await conn.read_some(0.05)

    server = await raw_server(take_a_little_then_close)
    clock = Clock()
    with pytest.raises(hyperclient.ClientConnectionError):
        async with client.post(server.make_url("/"), data=b"u" * (64 << 20)) as resp:
            await resp.read()
    assert clock.elapsed < 2


async def test_peer_that_answers_then_closes_mid_body_ends_a_streaming_reader(
    raw_server: RawServerFactory, client: hyperclient.ClientSession
) -> None:
    server = await raw_server(send_then(http_response(b"x" * 100)[:-50], "close"))
    async with client.get(server.make_url("/")) as resp:
        with pytest.raises(hyperclient.ClientPayloadError):
            async for _ in resp.content.iter_any():
                pass


# -- WebSocket -----------------------------------------------------------------------------------


async def test_websocket_receive_timeout_ends_a_silent_peer(
    raw_server: RawServerFactory, client: hyperclient.ClientSession
) -> None:
    async def handshake_then_silent_until_close(conn: RawConnection) -> None:
        await handshake(conn)
        await read_until_close(conn)
        await conn.send(close_frame())

    server = await raw_server(handshake_then_silent_until_close)
    async with client.ws_connect(server.url) as ws:
        clock = Clock()
        with pytest.raises(asyncio.TimeoutError):
            await ws.receive(timeout=0.3)
        assert clock.elapsed < 0.3 + SLACK


async def test_websocket_heartbeat_ends_a_silent_peer(
    raw_server: RawServerFactory, client: hyperclient.ClientSession
) -> None:
    async def handshake_then_silent(conn: RawConnection) -> None:
        await handshake(conn)
        await conn.wait_closed_by_peer()

    server = await raw_server(handshake_then_silent)
    async with client.ws_connect(server.url, heartbeat=0.2) as ws:
        clock = Clock()
        msg = await asyncio.wait_for(ws.receive(), 5)
        assert msg.type in (hyperclient.WSMsgType.ERROR, hyperclient.WSMsgType.CLOSED)
        assert clock.elapsed < 0.2 * 1.5 + SLACK


@pytest.mark.parametrize(
    "cut",
    [frame(0x2, b"x" * 300)[:100], frame(0x2, b"x" * 300)[:1], frame(0x8, b"\x03\xe8")[:3]],
    ids=["mid-payload", "mid-header", "mid-close-frame"],
)
@pytest.mark.parametrize("ending", ["close", "reset"])
async def test_websocket_peer_closing_mid_frame_ends_receive_at_once(
    cut: bytes, ending: str, raw_server: RawServerFactory, client: hyperclient.ClientSession
) -> None:
    async def handshake_then_cut(conn: RawConnection) -> None:
        await handshake(conn)
        await conn.send(cut)
        if ending == "reset":
            conn.reset()

    server = await raw_server(handshake_then_cut)
    async with client.ws_connect(server.url) as ws:
        clock = Clock()
        msg = await asyncio.wait_for(ws.receive(), 5)
        assert msg.type in (hyperclient.WSMsgType.CLOSED, hyperclient.WSMsgType.ERROR)
        assert clock.elapsed < 1


@pytest.mark.parametrize(
    "data",
    [b"", b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"],
    ids=["nothing", "half-a-head"],
)
async def test_websocket_peer_closing_during_the_handshake_is_an_error_at_once(
    data: bytes, raw_server: RawServerFactory, client: hyperclient.ClientSession
) -> None:
    server = await raw_server(send_then(data, "close"))
    clock = Clock()
    with pytest.raises(hyperclient.ClientError):
        await client.ws_connect(server.url)
    assert clock.elapsed < 1


@pytest.mark.parametrize(
    ("timeout", "error"),
    [
        (ClientTimeout(sock_read=0.3), hyperclient.SocketTimeoutError),
        (ClientTimeout(total=0.3), asyncio.TimeoutError),
    ],
    ids=["sock_read", "total"],
)
async def test_websocket_handshake_with_a_silent_peer_ends_at_the_session_timeout(
    timeout: ClientTimeout, error: type[Exception], raw_server: RawServerFactory
) -> None:
    server = await raw_server(silent())
    async with hyperclient.ClientSession(timeout=timeout) as session:
        clock = Clock()
        with pytest.raises(error):
            await session.ws_connect(server.url)
        assert clock.elapsed < 0.3 + SLACK
