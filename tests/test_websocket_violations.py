"""What a misbehaving server gets: scripted raw servers that break RFC 6455 on purpose, answer
the handshake wrongly, or go silent (close handshake, heartbeat)."""

from __future__ import annotations

import asyncio
import time

import pytest

import hyperclient
from hyperclient import (
    ClientConnectionResetError,
    ClientSession,
    ClientWSTimeout,
    ServerTimeoutError,
    WSCloseCode,
    WSMessage,
    WSMsgType,
    WSServerHandshakeError,
)
from hyperclient.websocket import WebSocketError
from servers import RawConnection, RawServerFactory
from servers.raw import Handler
from servers.ws_raw import ClientFrame, close_frame, frame, handshake, read_frame, read_until_close

Frames = list[ClientFrame]


def violation(data: bytes, seen: Frames | None = None) -> Handler:
    """A server that completes the handshake, sends *data*, and records the client's frames."""

    async def handler(conn: RawConnection) -> None:
        await handshake(conn)
        await conn.send(data)
        frames = await read_until_close(conn)
        if seen is not None:
            seen.extend(frames)

    return handler


@pytest.mark.parametrize(
    ("data", "code"),
    [
        (frame(0x1, b"hi", mask=b"\x01\x02\x03\x04"), WSCloseCode.PROTOCOL_ERROR),
        (frame(0x1, b"\xc3\x28"), WSCloseCode.INVALID_TEXT),
        (frame(0x1, b"ok", rsv=4), WSCloseCode.PROTOCOL_ERROR),
        (frame(0x1, b"ok", rsv=1), WSCloseCode.PROTOCOL_ERROR),
        (frame(0x3, b"??"), WSCloseCode.PROTOCOL_ERROR),
        (frame(0xB, b""), WSCloseCode.PROTOCOL_ERROR),
        (frame(0x9, b"", fin=False), WSCloseCode.PROTOCOL_ERROR),
        (frame(0x9, b"p" * 126), WSCloseCode.PROTOCOL_ERROR),
        (frame(0x0, b"orphan"), WSCloseCode.PROTOCOL_ERROR),
        (frame(0x8, b"\x03\xed"), WSCloseCode.PROTOCOL_ERROR),  # 1005 may not be sent
        (frame(0x2, b"x" * 2000), WSCloseCode.MESSAGE_TOO_BIG),
    ],
    ids=[
        "masked",
        "bad-utf8",
        "rsv3",
        "rsv1-without-deflate",
        "unknown-opcode-3",
        "unknown-opcode-b",
        "fragmented-ping",
        "oversized-ping",
        "orphan-continuation",
        "bad-close-code",
        "too-big",
    ],
)
async def test_violation_fails_the_connection_with_its_code(
    session: ClientSession, raw_server: RawServerFactory, data: bytes, code: int
) -> None:
    seen: Frames = []
    server = await raw_server(violation(frame(0x1, b"first") + data, seen))
    ws = await session.ws_connect(server.url, max_msg_size=1000)
    assert await ws.receive() == WSMessage(WSMsgType.TEXT, "first", None)
    msg = await ws.receive()
    assert msg.type is WSMsgType.ERROR
    assert isinstance(msg.data, WebSocketError)
    assert msg.data.code == code
    assert ws.close_code == code
    assert ws.closed
    assert (await ws.receive()).type is WSMsgType.CLOSED
    await server.idle()
    # RFC 6455 §7.1.7: a Close with the reason's code, then the TCP connection ends.
    assert [(f.opcode, f.close_code) for f in seen] == [(0x8, code)]


async def test_messages_sent_with_the_101_are_not_lost(
    session: ClientSession, raw_server: RawServerFactory
) -> None:
    tail = frame(0x1, b"early") + frame(0x2, b"\x01\x02")

    async def handler(conn: RawConnection) -> None:
        await handshake(conn, tail=tail)
        await read_until_close(conn)

    server = await raw_server(handler)
    async with session.ws_connect(server.url) as ws:
        assert await ws.receive_str() == "early"
        assert await ws.receive_bytes() == b"\x01\x02"


async def test_every_client_frame_is_masked(
    session: ClientSession, raw_server: RawServerFactory
) -> None:
    seen: Frames = []

    async def handler(conn: RawConnection) -> None:
        await handshake(conn)
        seen.extend(await read_until_close(conn))

    server = await raw_server(handler)
    async with session.ws_connect(server.url, autoping=False) as ws:
        await ws.send_str("text")
        await ws.send_bytes(b"bytes" * 100)
        await ws.ping(b"p")
        await ws.pong(b"q")
    await server.idle()
    assert [(f.opcode, f.payload) for f in seen] == [
        (0x1, b"text"),
        (0x2, b"bytes" * 100),
        (0x9, b"p"),
        (0xA, b"q"),
        (0x8, b"\x03\xe8"),
    ]
    assert all(f.masked and f.fin and f.rsv == 0 for f in seen)


async def test_ping_is_answered_with_its_payload(
    session: ClientSession, raw_server: RawServerFactory
) -> None:
    answer: list[ClientFrame | None] = []

    async def handler(conn: RawConnection) -> None:
        await handshake(conn)
        await conn.send(frame(0x9, b"echo me"))
        answer.append(await read_frame(conn))
        await conn.send(frame(0x1, b"done"))
        await read_until_close(conn)

    server = await raw_server(handler)
    async with session.ws_connect(server.url) as ws:
        # Nobody is calling receive() while the ping arrives: the pong goes out anyway.
        await asyncio.wait_for(_until(lambda: bool(answer)), 5)
        assert await ws.receive_str() == "done"
    assert answer[0] is not None
    assert (answer[0].opcode, answer[0].payload) == (0xA, b"echo me")


async def _until(condition: object) -> None:
    while not condition():  # type: ignore[operator]
        await asyncio.sleep(0.01)


async def test_handshake_request_line_and_method(
    session: ClientSession, raw_server: RawServerFactory
) -> None:
    requests: list[bytes] = []

    async def handler(conn: RawConnection) -> None:
        request = await handshake(conn)
        requests.append(request.request_line)
        await read_until_close(conn)

    server = await raw_server(handler)
    async with session.ws_connect(server.make_url("/chat?room=1"), method="POST"):
        pass
    async with session.ws_connect(server.make_url("/chat")):
        pass
    assert requests == [b"POST /chat?room=1 HTTP/1.1", b"GET /chat HTTP/1.1"]


# --- the handshake ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"accept": "d3Jvbmc="}, "Invalid challenge response"),
        ({"upgrade": "h2c"}, "Invalid upgrade header"),
        ({"connection": "keep-alive"}, "Invalid connection header"),
        ({"headers": [("Sec-WebSocket-Protocol", "unoffered")]}, "subprotocol"),
        ({"headers": [("Sec-WebSocket-Extensions", "permessage-deflate")]}, "extension"),
    ],
    ids=["accept", "upgrade", "connection", "subprotocol", "extension"],
)
async def test_bad_101_answers_raise_handshake_error(
    session: ClientSession,
    raw_server: RawServerFactory,
    options: dict[str, object],
    message: str,
) -> None:
    async def handler(conn: RawConnection) -> None:
        await handshake(conn, **options)  # type: ignore[arg-type]
        await conn.wait_closed_by_peer()

    server = await raw_server(handler)
    with pytest.raises(WSServerHandshakeError) as info:
        await session.ws_connect(server.url)
    assert info.value.status == 101
    assert message in info.value.message
    await server.idle()  # the client closed the connection


async def test_bad_deflate_answer_raises_handshake_error(
    session: ClientSession, raw_server: RawServerFactory
) -> None:
    async def handler(conn: RawConnection) -> None:
        await handshake(conn, headers=[("Sec-WebSocket-Extensions", "permessage-deflate; x=1")])
        await conn.wait_closed_by_peer()

    server = await raw_server(handler)
    with pytest.raises(WSServerHandshakeError, match="Unknown permessage-deflate parameter"):
        await session.ws_connect(server.url, compress=15)


# --- closing ----------------------------------------------------------------------------------


async def test_close_waits_no_longer_than_ws_close(
    session: ClientSession, raw_server: RawServerFactory
) -> None:
    async def handler(conn: RawConnection) -> None:
        await handshake(conn)
        await conn.wait_closed_by_peer()  # never answers the Close

    server = await raw_server(handler)
    ws = await session.ws_connect(server.url, timeout=ClientWSTimeout(ws_close=0.2))
    started = time.monotonic()
    assert await ws.close() is True
    assert 0.15 < time.monotonic() - started < 3
    assert ws.close_code == WSCloseCode.ABNORMAL_CLOSURE
    assert isinstance(ws.exception(), asyncio.TimeoutError)


async def test_close_discards_messages_until_the_servers_close(
    session: ClientSession, raw_server: RawServerFactory
) -> None:
    async def handler(conn: RawConnection) -> None:
        await handshake(conn)
        got = await read_frame(conn)
        assert got is not None and got.opcode == 0x8
        await conn.send(frame(0x1, b"late") + close_frame(1000, b"ok"))
        await conn.wait_closed_by_peer()

    server = await raw_server(handler)
    ws = await session.ws_connect(server.url)
    assert await ws.close() is True
    assert ws.close_code == 1000
    assert (await ws.receive()).type is WSMsgType.CLOSED


async def test_without_autoclose_the_close_is_answered_by_the_caller(
    session: ClientSession, raw_server: RawServerFactory
) -> None:
    seen: Frames = []

    async def handler(conn: RawConnection) -> None:
        await handshake(conn)
        await conn.send(close_frame(4000, b"server done"))
        seen.extend(await read_until_close(conn))

    server = await raw_server(handler)
    ws = await session.ws_connect(server.url, autoclose=False)
    assert await ws.receive() == WSMessage(WSMsgType.CLOSE, 4000, "server done")
    assert not ws.closed
    assert ws.close_code == 4000
    await ws.send_str("a last word")  # still allowed before our Close (RFC 6455 §5.5.1)
    assert await ws.close(code=1000) is True
    await server.idle()
    assert [(f.opcode, f.payload) for f in seen] == [(0x1, b"a last word"), (0x8, b"\x03\xe8")]


async def test_empty_close_frame_is_answered_with_an_empty_close(
    session: ClientSession, raw_server: RawServerFactory
) -> None:
    seen: Frames = []

    async def handler(conn: RawConnection) -> None:
        await handshake(conn)
        await conn.send(close_frame(None))
        seen.extend(await read_until_close(conn))

    server = await raw_server(handler)
    ws = await session.ws_connect(server.url)
    assert await ws.receive() == WSMessage(WSMsgType.CLOSE, 0, "")
    await server.idle()
    assert [(f.opcode, f.payload) for f in seen] == [(0x8, b"")]


async def test_close_frame_sent_with_send_frame_then_the_servers_close(
    session: ClientSession, raw_server: RawServerFactory
) -> None:
    seen: Frames = []

    async def handler(conn: RawConnection) -> None:
        await handshake(conn)
        seen.extend(await read_until_close(conn))
        await conn.send(frame(0x1, b"after your close") + close_frame(1001, b""))
        await conn.wait_closed_by_peer()

    server = await raw_server(handler)
    ws = await session.ws_connect(server.url)
    await ws.send_frame(b"\x03\xe8", WSMsgType.CLOSE)
    assert not ws.closed
    with pytest.raises(ClientConnectionResetError):
        await ws.send_str("nothing may follow a Close")
    assert await ws.receive_str() == "after your close"
    assert await ws.receive() == WSMessage(WSMsgType.CLOSE, 1001, "")
    assert ws.closed
    assert (await ws.receive()).type is WSMsgType.CLOSED
    await server.idle()
    assert [(f.opcode, f.payload) for f in seen] == [(0x8, b"\x03\xe8")]


# --- heartbeat --------------------------------------------------------------------------------


async def test_heartbeat_without_pong_closes_with_abnormal_closure(
    session: ClientSession, raw_server: RawServerFactory
) -> None:
    pings: Frames = []

    async def handler(conn: RawConnection) -> None:
        await handshake(conn)
        while (got := await read_frame(conn)) is not None:
            pings.append(got)

    server = await raw_server(handler)
    ws = await session.ws_connect(server.url, heartbeat=0.1)
    started = time.monotonic()
    msg = await asyncio.wait_for(ws.receive(), 5)
    assert msg.type is WSMsgType.ERROR
    assert isinstance(msg.data, ServerTimeoutError)
    # One heartbeat period of silence, then half a period waiting for the pong.
    assert 0.12 < time.monotonic() - started < 2
    assert ws.close_code == WSCloseCode.ABNORMAL_CLOSURE
    assert ws.closed
    assert isinstance(ws.exception(), ServerTimeoutError)
    assert (await ws.receive()).type is WSMsgType.CLOSED
    await server.idle()
    assert [f.opcode for f in pings] == [0x9]


async def test_heartbeat_timeout_happens_without_a_receive_call(
    session: ClientSession, raw_server: RawServerFactory
) -> None:
    async def handler(conn: RawConnection) -> None:
        await handshake(conn)
        await conn.wait_closed_by_peer()

    server = await raw_server(handler)
    ws = await session.ws_connect(server.url, heartbeat=0.1)
    await asyncio.wait_for(_until(lambda: ws.closed), 5)
    assert ws.close_code == WSCloseCode.ABNORMAL_CLOSURE
    await server.idle()


async def test_any_received_data_counts_as_a_heartbeat_answer(
    session: ClientSession, raw_server: RawServerFactory
) -> None:
    async def handler(conn: RawConnection) -> None:
        await handshake(conn)
        # Data every 20 ms for 0.8 s, never a pong.
        for i in range(40):
            await conn.send(frame(0x1, str(i).encode()))
            await asyncio.sleep(0.02)
        await conn.send(close_frame(1000))
        await read_until_close(conn)

    server = await raw_server(handler)
    async with session.ws_connect(server.url, heartbeat=0.25) as ws:
        # Nobody reads until the end: the timer must still see the data arrive. 0.6 s is past
        # the 0.25 s ping plus the 0.125 s pong deadline.
        await asyncio.sleep(0.6)
        assert not ws.closed
        got = [msg.data async for msg in ws]
    assert got == [str(i) for i in range(40)]
    assert ws.close_code == 1000


async def test_heartbeat_pings_are_answered_by_pongs(
    session: ClientSession, raw_server: RawServerFactory
) -> None:
    pings: Frames = []

    async def handler(conn: RawConnection) -> None:
        await handshake(conn)
        while (got := await read_frame(conn)) is not None:
            if got.opcode == 0x9:
                pings.append(got)
                await conn.send(frame(0xA, got.payload))
            elif got.opcode == 0x8:
                await conn.send(close_frame(1000))
                return

    server = await raw_server(handler)
    async with session.ws_connect(server.url, heartbeat=0.05) as ws:
        with pytest.raises(asyncio.TimeoutError):
            await ws.receive(timeout=0.4)
        assert not ws.closed
    assert len(pings) >= 3
    assert ws.close_code == 1000


async def test_frames_and_close_sent_with_the_101_then_hang_up(
    session: ClientSession, raw_server: RawServerFactory
) -> None:
    async def handler(conn: RawConnection) -> None:
        await handshake(conn, tail=frame(0x1, b"last words") + close_frame(4000, b"bye"))

    server = await raw_server(handler)
    ws = await session.ws_connect(server.url)
    assert await ws.receive_str() == "last words"
    assert await ws.receive() == WSMessage(WSMsgType.CLOSE, 4000, "bye")
    assert ws.close_code == 4000


async def slow_after_response(
    req: hyperclient.ClientRequest, handle: hyperclient.ClientHandlerType
) -> hyperclient.ClientResponse:
    """A middleware that awaits after the response: the server gets time to send its frames
    and hang up before ws_connect takes the connection over."""
    resp = await handle(req)
    await asyncio.sleep(0.2)
    return resp


@pytest.mark.parametrize(
    ("goodbye", "close_code"),
    [(close_frame(4001, b"gone"), 4001), (b"", WSCloseCode.ABNORMAL_CLOSURE)],
    ids=["close-frame-then-hang-up", "hang-up-alone"],
)
async def test_what_arrives_before_the_websocket_takes_over_is_kept(
    raw_server: RawServerFactory, goodbye: bytes, close_code: int
) -> None:
    async def handler(conn: RawConnection) -> None:
        await handshake(conn, tail=frame(0x1, b"early bird") + goodbye)
        await conn.close()

    server = await raw_server(handler)
    async with (
        ClientSession(middlewares=(slow_after_response,)) as session,
        session.ws_connect(server.url) as ws,
    ):
        assert await ws.receive_str() == "early bird"
        if goodbye:
            assert await ws.receive() == WSMessage(WSMsgType.CLOSE, 4001, "gone")
        assert (await ws.receive()).type is WSMsgType.CLOSED
        assert ws.close_code == close_code


# --- flow control -----------------------------------------------------------------------------


async def test_unread_messages_push_back_on_the_server(
    session: ClientSession, raw_server: RawServerFactory
) -> None:
    chunk = frame(0x2, b"\x5a" * 65536)
    total = 512  # 32 MiB: more than the kernel's socket buffers hold
    sent: list[int] = []

    async def handler(conn: RawConnection) -> None:
        await handshake(conn)
        for _ in range(total):
            await conn.send(chunk)  # drain() blocks while the client does not read
            sent.append(1)
        await conn.send(close_frame(1000))
        await read_until_close(conn)

    server = await raw_server(handler)
    async with session.ws_connect(server.url, max_msg_size=0) as ws:
        await asyncio.sleep(0.5)  # not reading
        assert len(sent) < total // 2
        count = 0
        async for msg in ws:
            assert msg.data == b"\x5a" * 65536
            count += 1
    assert count == total
    assert ws.close_code == 1000
