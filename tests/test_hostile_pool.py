"""Pool hygiene and stale connections against hostile servers (issue 6).

Nothing a server does on one exchange may reach the next request that reuses the connection:
bytes sent on an idle pooled connection, a response nobody asked for, the rest of a body the
caller did not read, an answer that said the connection ends (Connection: close, HTTP/1.0), or
the unsent rest of a request body. And a request meeting a connection the server already closed
is retried once on a new one, if it is idempotent and its body can be sent again; a POST is
never sent twice.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
from yarl import URL

import hyperclient
from servers import RawConnection, RawServerFactory
from servers.hostile import (
    FRESH,
    REUSED,
    SMUGGLED,
    SMUGGLED_BODY,
    hostile_then_serve,
    serve,
    settle,
)
from servers.raw import Handler, http_response


@pytest.fixture
async def client() -> AsyncIterator[hyperclient.ClientSession]:
    async with hyperclient.ClientSession(timeout=hyperclient.ClientTimeout(total=5)) as session:
        yield session


async def get_body(session: hyperclient.ClientSession, url: URL) -> bytes:
    async with session.get(url) as resp:
        assert resp.status == 200
        body: bytes = await resp.read()
        return body


# -- bytes on an idle connection -----------------------------------------------------------------


@pytest.mark.parametrize(
    "unsolicited",
    [SMUGGLED, b"garbage", b"\r\n", b"HTTP/1.1 200 OK\r\nContent-Le"],
    ids=["a-response", "garbage", "crlf", "half-a-head"],
)
async def test_bytes_sent_on_an_idle_pooled_connection_never_reach_the_next_request(
    unsolicited: bytes, raw_server: RawServerFactory, client: hyperclient.ClientSession
) -> None:
    pushed = asyncio.Event()
    closed_by_client = asyncio.Event()

    async def answer_then_push_when_idle(conn: RawConnection) -> None:
        await conn.read_request()
        await conn.send(http_response(b"first"))
        await pushed.wait()
        await conn.send(unsolicited)
        # Keep serving, so a connection that was wrongly kept would answer REUSED.
        while await conn.read_request() is not None:
            await conn.send(http_response(REUSED))
        closed_by_client.set()

    server = await raw_server(answer_then_push_when_idle, serve())
    assert await get_body(client, server.make_url("/1")) == b"first"
    await settle()
    connector = client.connector
    assert connector is not None
    assert sum(len(v) for v in connector._idle.values()) == 1, "the connection is not pooled"
    pushed.set()
    await asyncio.wait_for(closed_by_client.wait(), 2)
    assert await get_body(client, server.make_url("/2")) == FRESH
    assert len(server.connections) == 2


async def test_empty_line_after_a_response_in_the_same_read_is_harmless(
    raw_server: RawServerFactory, client: hyperclient.ClientSession
) -> None:
    # RFC 9112 §2.2 lets a recipient skip empty lines before a message; nothing of them can
    # reach the next response, so the connection may stay.
    server = await raw_server(hostile_then_serve(http_response(b"first") + b"\r\n"), serve())
    assert await get_body(client, server.make_url("/1")) == b"first"
    assert await get_body(client, server.make_url("/2")) in (FRESH, REUSED)


@pytest.mark.parametrize(
    "tail",
    [b"HTTP/1.1 404 Not Found\r\nX-Swallow: ", b"HTTP/1.1 200 OK\r\nContent-Le"],
    ids=["swallowing-head", "half-a-head"],
)
async def test_partial_head_after_a_response_in_the_same_read_never_reaches_the_next_request(
    tail: bytes, raw_server: RawServerFactory, client: hyperclient.ClientSession
) -> None:
    server = await raw_server(hostile_then_serve(http_response(b"first") + tail), serve())
    assert await get_body(client, server.make_url("/1")) == b"first"
    assert await get_body(client, server.make_url("/2")) == FRESH
    assert len(server.connections) == 2


@pytest.mark.parametrize(
    "second",
    [SMUGGLED, http_response(b"first")],
    ids=["another-response", "the-same-again"],
)
async def test_response_the_client_did_not_ask_for_never_reaches_the_next_request(
    second: bytes, raw_server: RawServerFactory, client: hyperclient.ClientSession
) -> None:
    server = await raw_server(hostile_then_serve(http_response(b"first") + second), serve())
    assert await get_body(client, server.make_url("/1")) == b"first"
    body = await get_body(client, server.make_url("/2"))
    assert body == FRESH
    assert body != SMUGGLED_BODY


# -- a body left half-read -----------------------------------------------------------------------

BIG = 4 << 20


def big_body_then_serve(framing: str) -> bytes:
    body = b"x" * BIG
    if framing == "content-length":
        return http_response(body)
    if framing == "chunked":
        piece = b"x" * 65536
        chunk = b"10000\r\n" + piece + b"\r\n"
        return (
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
            + chunk * (BIG // 65536)
            + b"0\r\n\r\n"
        )
    return http_response(body, length=False)  # until close (the server keeps it open)


@pytest.mark.parametrize("framing", ["content-length", "chunked", "until-close"])
@pytest.mark.parametrize("how", ["leave-context", "release", "close", "exception"])
async def test_half_read_body_never_reaches_the_next_request(
    framing: str, how: str, raw_server: RawServerFactory, client: hyperclient.ClientSession
) -> None:
    server = await raw_server(hostile_then_serve(big_body_then_serve(framing)), serve())
    resp = await client.get(server.make_url("/big"))
    assert await resp.content.readexactly(10) == b"x" * 10
    if how == "release":
        resp.release()
    elif how == "close":
        resp.close()
    elif how == "exception":
        with pytest.raises(RuntimeError):
            async with resp:
                raise RuntimeError("the caller gave up")
    else:
        async with resp:
            pass
    assert await get_body(client, server.make_url("/2")) == FRESH
    assert len(server.connections) == 2


async def test_unread_body_already_received_whole_may_be_reused_cleanly(
    raw_server: RawServerFactory, client: hyperclient.ClientSession
) -> None:
    # The message ended on the wire, so nothing of it is left to reach the next request.
    server = await raw_server(hostile_then_serve(http_response(b"small")), serve())
    async with client.get(server.make_url("/1")) as resp:
        await resp.content.wait_eof()
    assert await get_body(client, server.make_url("/2")) in (FRESH, REUSED)


async def test_request_body_cut_short_by_an_early_answer_never_reaches_the_next_request(
    raw_server: RawServerFactory, client: hyperclient.ClientSession
) -> None:
    # The server answers 413 after the head and reads no more: the unsent rest of the upload
    # would be read by the server as the next request if the connection were reused.
    async def refuse_upload(conn: RawConnection) -> None:
        await conn.read_request(body=False)
        await conn.send(http_response(b"too big", status="413 Content Too Large"))
        while await conn.read_request() is not None:
            await conn.send(http_response(REUSED))

    server = await raw_server(refuse_upload, serve())
    try:
        async with client.post(server.make_url("/upload"), data=b"y" * (32 << 20)) as resp:
            assert resp.status == 413
            await resp.read()
    except hyperclient.ClientConnectionError:
        pass  # the write may also fail once the server stops reading and closes
    assert await get_body(client, server.make_url("/2")) == FRESH


# -- answers that end the connection -------------------------------------------------------------


@pytest.mark.parametrize(
    "head",
    [
        b"HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 5\r\n\r\nhello",
        b"HTTP/1.1 200 OK\r\nConnection: CLOSE\r\nContent-Length: 5\r\n\r\nhello",
        b"HTTP/1.1 200 OK\r\nConnection: keep-alive, close\r\nContent-Length: 5\r\n\r\nhello",
        b"HTTP/1.1 200 OK\r\nConnection: keep-alive\r\nConnection: close\r\n"
        b"Content-Length: 5\r\n\r\nhello",
        b"HTTP/1.1 200 OK\r\nConnection: close\r\nTransfer-Encoding: chunked\r\n\r\n"
        b"5\r\nhello\r\n0\r\n\r\n",
    ],
    ids=["close", "upper-case", "in-a-list", "second-field", "chunked"],
)
async def test_connection_close_answer_is_never_reused(
    head: bytes, raw_server: RawServerFactory, client: hyperclient.ClientSession
) -> None:
    # RFC 9112 §9.6: after "close" the connection carries no further request. The server here
    # keeps it open and would answer REUSED.
    server = await raw_server(hostile_then_serve(head), serve())
    assert await get_body(client, server.make_url("/1")) == b"hello"
    assert await get_body(client, server.make_url("/2")) == FRESH
    assert len(server.connections) == 2


@pytest.mark.parametrize(
    "head",
    [
        b"HTTP/1.0 200 OK\r\nContent-Length: 5\r\n\r\nhello",
        b"HTTP/1.0 200 OK\r\nConnection: close\r\nContent-Length: 5\r\n\r\nhello",
        b"HTTP/1.0 200 OK\r\nKeep-Alive: timeout=5\r\nContent-Length: 5\r\n\r\nhello",
    ],
    ids=["plain", "close", "keep-alive-parameters-only"],
)
async def test_http10_answer_without_keep_alive_is_never_reused(
    head: bytes, raw_server: RawServerFactory, client: hyperclient.ClientSession
) -> None:
    # RFC 9112 §9.3: an HTTP/1.0 connection persists only with "Connection: keep-alive".
    server = await raw_server(hostile_then_serve(head + SMUGGLED), serve())
    assert await get_body(client, server.make_url("/1")) == b"hello"
    assert await get_body(client, server.make_url("/2")) == FRESH
    assert len(server.connections) == 2


async def test_http10_keep_alive_answer_is_reused_without_leftovers(
    raw_server: RawServerFactory, client: hyperclient.ClientSession
) -> None:
    head = b"HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: 5\r\n\r\nhello"
    server = await raw_server(hostile_then_serve(head), serve())
    assert await get_body(client, server.make_url("/1")) == b"hello"
    assert await get_body(client, server.make_url("/2")) == REUSED


# -- stale connections ---------------------------------------------------------------------------


def answer_once_then(ending: str) -> Handler:
    """A connection that answers one request, then meets the next one with *ending*: "close"
    (FIN, no answer: a server's idle timer racing the request) or "reset" (RST)."""

    async def handler(conn: RawConnection) -> None:
        await conn.read_request()
        await conn.send(http_response(b"first"))
        await conn.read_request(body=False)
        if ending == "reset":
            conn.reset()

    return handler


@pytest.mark.parametrize("ending", ["close", "reset"])
async def test_idempotent_request_on_a_stale_connection_is_retried_once_on_a_new_one(
    ending: str, raw_server: RawServerFactory, client: hyperclient.ClientSession
) -> None:
    server = await raw_server(answer_once_then(ending), serve())
    assert await get_body(client, server.make_url("/1")) == b"first"
    assert await get_body(client, server.make_url("/2")) == FRESH
    assert len(server.connections) == 2
    assert [r.request_line for r in server.connections[1].requests] == [b"GET /2 HTTP/1.1"]


async def test_retry_uses_a_new_connection_not_another_pooled_one(
    raw_server: RawServerFactory,
) -> None:
    # Two pooled connections, both dead: the retry must not land on the second one.
    gate = asyncio.Event()

    async def answer_when_both_arrived_then_drop(conn: RawConnection) -> None:
        await conn.read_request()
        if len(server.connections) >= 2:
            gate.set()
        await asyncio.wait_for(gate.wait(), 5)
        await conn.send(http_response(b"first"))
        await conn.read_request(body=False)

    server = await raw_server(
        answer_when_both_arrived_then_drop, answer_when_both_arrived_then_drop, serve()
    )
    async with hyperclient.ClientSession() as session:
        first = await asyncio.gather(
            get_body(session, server.make_url("/a")), get_body(session, server.make_url("/b"))
        )
        assert list(first) == [b"first", b"first"]
        assert await get_body(session, server.make_url("/c")) == FRESH
    assert len(server.connections) == 3


@pytest.mark.parametrize("method", ["POST", "PATCH"])
@pytest.mark.parametrize("size", [10, 8 << 20], ids=["small", "large"])
async def test_non_idempotent_request_is_never_replayed_after_any_of_it_was_written(
    method: str, size: int, raw_server: RawServerFactory, client: hyperclient.ClientSession
) -> None:
    async def answer_once_then_drop_mid_body(conn: RawConnection) -> None:
        await conn.read_request()
        await conn.send(http_response(b"first"))
        await conn.read_head()
        await conn.read_some(0.05)  # a piece of the body, then the server is gone

    server = await raw_server(answer_once_then_drop_mid_body, serve())
    assert await get_body(client, server.make_url("/1")) == b"first"
    with pytest.raises(hyperclient.ClientConnectionError):
        async with client.request(method, server.make_url("/2"), data=b"z" * size) as resp:
            await resp.read()
    await server.idle()
    sent = server.received.count(method.encode() + b" /2 ")
    assert sent == 1, f"the {method} was sent {sent} times"
    assert len(server.connections) == 1


async def test_idempotent_request_with_a_streamed_body_is_not_replayed(
    raw_server: RawServerFactory, client: hyperclient.ClientSession
) -> None:
    # A body read from an iterator cannot be sent a second time, so the retry is not allowed.
    async def parts() -> AsyncIterator[bytes]:
        yield b"part one, "
        yield b"part two"

    server = await raw_server(answer_once_then("close"), serve())
    assert await get_body(client, server.make_url("/1")) == b"first"
    with pytest.raises(hyperclient.ClientConnectionError):
        async with client.put(server.make_url("/2"), data=parts()) as resp:
            await resp.read()
    await server.idle()
    assert server.received.count(b"PUT /2 ") == 1
