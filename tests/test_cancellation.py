"""Cancellation at every await point of a request (issue 6).

Cancelled while connecting (DNS, TCP, TLS), waiting for a pooled connection, sending the body,
waiting for the head, reading the body, or receiving on a WebSocket: the socket closes at once
(the server sees the close), file descriptors return to where they were (/proc/self/fd), no
task is left behind (asyncio.all_tasks), and the connector's counts are right (a cancelled
waiter never holds a slot). ``session.close()`` ends every request still in flight.
"""

from __future__ import annotations

import asyncio
import socket
import ssl
import sys
from collections.abc import AsyncIterator
from typing import Any

import pytest

import hyperclient
from hyperclient.abc import AbstractResolver, ResolveResult
from servers import RawConnection, RawServer, RawServerFactory
from servers.hostile import (
    client_tasks,
    first_connection,
    open_fds,
    pool_counts,
    received_request,
    send_then_silent,
    serve,
    settle,
    silent,
    socket_fds,
    wait_closed_by_peer,
)
from servers.ws_raw import close_frame, handshake, read_until_close

AT_ONCE = 1.0  # seconds within which the server must see the client's close
IDLE_POOL = {"active": 0, "in_use": 0, "waiters": 0, "idle": 0, "per_key": 0}


class Baseline:
    """Descriptors and tasks before a scenario, to compare with after it."""

    def __init__(self) -> None:
        self.fds = open_fds()
        self.sockets = socket_fds()
        self.tasks = client_tasks()

    async def check(self, *servers: RawServer, pool: hyperclient.BaseConnector | None) -> None:
        for server in servers:
            await server.idle()  # every server handler saw the client's close and ended
        await settle()
        # No socket of ours left open (socket identities, not fd numbers: a number freed by
        # something else and reused would hide a leak). The count may go down: a leftover of an
        # earlier test closing meanwhile is not ours to flag.
        assert not socket_fds() - self.sockets, f"sockets left open: {socket_fds() - self.sockets}"
        assert len(open_fds()) <= len(self.fds), f"fds: {sorted(open_fds() - self.fds)}"
        leftover = client_tasks(self.tasks, *(s._tasks for s in servers))
        assert not leftover, f"tasks left behind: {leftover}"
        if pool is not None:
            assert pool_counts(pool) == IDLE_POOL


@pytest.fixture
async def client() -> AsyncIterator[hyperclient.ClientSession]:
    async with hyperclient.ClientSession() as session:
        yield session


def connector_of(session: hyperclient.ClientSession) -> hyperclient.BaseConnector:
    connector = session.connector
    assert connector is not None
    return connector


async def closed_at_once(server: RawServer) -> None:
    """The server's handlers end (they read until the client closes) within AT_ONCE."""
    await asyncio.wait_for(server.idle(), AT_ONCE)


async def cancel(task: asyncio.Task[Any]) -> None:
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task


async def read_body(session: hyperclient.ClientSession, url: object, **kwargs: Any) -> bytes:
    async with session.request(kwargs.pop("method", "GET"), url, **kwargs) as resp:  # type: ignore[arg-type]
        body: bytes = await resp.read()
        return body


# -- the request -----------------------------------------------------------------------------


async def test_cancel_while_waiting_for_the_head_closes_the_socket_at_once(
    raw_server: RawServerFactory, client: hyperclient.ClientSession
) -> None:
    server = await raw_server(silent())
    baseline = Baseline()
    task = asyncio.create_task(read_body(client, server.make_url("/")))
    conn = await first_connection(server)
    await received_request(conn)
    await cancel(task)
    await closed_at_once(server)
    await baseline.check(server, pool=connector_of(client))


async def test_cancel_while_sending_the_body_closes_the_socket_at_once(
    raw_server: RawServerFactory, client: hyperclient.ClientSession
) -> None:
    head_read = asyncio.Event()
    cancelled = asyncio.Event()

    async def stop_reading_after_the_head(conn: RawConnection) -> None:
        await conn.read_head()
        head_read.set()
        await cancelled.wait()  # not reading: the client's writes back up
        await wait_closed_by_peer(conn, AT_ONCE * 5)

    server = await raw_server(stop_reading_after_the_head)
    baseline = Baseline()
    task = asyncio.create_task(
        read_body(client, server.make_url("/"), method="POST", data=b"u" * (64 << 20))
    )
    await asyncio.wait_for(head_read.wait(), 5)
    await asyncio.sleep(0.05)  # the upload fills the socket buffers and waits to drain
    await cancel(task)
    cancelled.set()
    await baseline.check(server, pool=connector_of(client))


async def test_cancel_while_streaming_an_upload_from_a_generator_leaves_nothing_behind(
    raw_server: RawServerFactory, client: hyperclient.ClientSession
) -> None:
    sent_one = asyncio.Event()

    async def endless() -> AsyncIterator[bytes]:
        while True:
            yield b"g" * 65536
            sent_one.set()

    server = await raw_server(silent())
    baseline = Baseline()
    task = asyncio.create_task(
        read_body(client, server.make_url("/"), method="POST", data=endless())
    )
    await asyncio.wait_for(sent_one.wait(), 5)
    await cancel(task)
    await baseline.check(server, pool=connector_of(client))


@pytest.mark.parametrize("how", ["read", "readexactly", "iter_chunked", "readline", "text"])
async def test_cancel_while_reading_the_body_closes_the_socket_at_once(
    how: str, raw_server: RawServerFactory, client: hyperclient.ClientSession
) -> None:
    server = await raw_server(send_then_silent(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nab"))
    baseline = Baseline()
    reading = asyncio.Event()

    async def read_some() -> None:
        async with client.get(server.make_url("/")) as resp:
            reading.set()
            if how == "read":
                await resp.read()
            elif how == "readexactly":
                await resp.content.readexactly(100)
            elif how == "iter_chunked":
                async for _ in resp.content.iter_chunked(10):
                    pass
            elif how == "readline":
                await resp.content.readline()
            else:
                await resp.text()

    task = asyncio.create_task(read_some())
    await asyncio.wait_for(reading.wait(), 5)
    await settle()
    await cancel(task)
    await closed_at_once(server)
    await baseline.check(server, pool=connector_of(client))


async def test_cancelled_reader_leaves_the_next_request_unharmed(
    raw_server: RawServerFactory, client: hyperclient.ClientSession
) -> None:
    server = await raw_server(
        send_then_silent(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nab"), serve()
    )
    task = asyncio.create_task(read_body(client, server.make_url("/1")))
    conn = await first_connection(server)
    await received_request(conn)
    await settle()
    await cancel(task)
    assert await read_body(client, server.make_url("/2")) == b"fresh"


async def test_total_timeout_mid_body_leaves_nothing_behind(
    raw_server: RawServerFactory, client: hyperclient.ClientSession
) -> None:
    # A timeout is a cancellation from inside; it must clean up the same way.
    server = await raw_server(send_then_silent(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nab"))
    baseline = Baseline()
    with pytest.raises(asyncio.TimeoutError):
        await read_body(client, server.make_url("/"), timeout=hyperclient.ClientTimeout(total=0.2))
    await closed_at_once(server)
    await baseline.check(server, pool=connector_of(client))


# -- the pool --------------------------------------------------------------------------------


async def hold_connection(session: hyperclient.ClientSession, server: RawServer) -> Any:
    """A response whose body never ends, keeping its connection (and slot) busy."""
    return await session.get(server.make_url("/held"))


HELD = send_then_silent(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nab")


@pytest.mark.parametrize(("limit", "per_host"), [(1, 0), (0, 1)], ids=["limit", "per-host"])
async def test_cancelled_pool_waiter_never_holds_a_slot(
    limit: int, per_host: int, raw_server: RawServerFactory
) -> None:
    server = await raw_server(HELD, serve())
    connector = hyperclient.TCPConnector(limit=limit, limit_per_host=per_host)
    async with hyperclient.ClientSession(connector=connector) as session:
        baseline = Baseline()
        held = await hold_connection(session, server)
        waiter = asyncio.create_task(read_body(session, server.make_url("/waits")))
        await settle()
        assert pool_counts(connector)["waiters"] == 1
        await cancel(waiter)
        assert pool_counts(connector)["waiters"] == 0
        assert pool_counts(connector)["active"] == 1
        held.close()
        await settle()
        assert pool_counts(connector) == IDLE_POOL
        # The slot is usable: a new request goes through at once.
        assert await asyncio.wait_for(read_body(session, server.make_url("/next")), 5) == b"fresh"
        await server.connections[1].close()
        await baseline.check(server, pool=None)


async def test_waiter_cancelled_right_after_being_woken_passes_its_slot_on(
    raw_server: RawServerFactory,
) -> None:
    server = await raw_server(HELD, serve())
    connector = hyperclient.TCPConnector(limit=1)
    async with hyperclient.ClientSession(connector=connector) as session:
        held = await hold_connection(session, server)
        first = asyncio.create_task(read_body(session, server.make_url("/first")))
        await settle()
        second = asyncio.create_task(read_body(session, server.make_url("/second")))
        await settle()
        assert pool_counts(connector)["waiters"] == 2
        held.close()  # wakes the first waiter with the slot...
        first.cancel()  # ...which is cancelled before it runs
        with pytest.raises(asyncio.CancelledError):
            await first
        assert await asyncio.wait_for(second, 5) == b"fresh"
        await settle()
        counts = pool_counts(connector)
        assert (counts["active"], counts["in_use"], counts["waiters"]) == (0, 0, 0)


async def test_many_cancelled_waiters_leave_the_counts_right(
    raw_server: RawServerFactory,
) -> None:
    server = await raw_server(HELD, serve())
    connector = hyperclient.TCPConnector(limit=1)
    async with hyperclient.ClientSession(connector=connector) as session:
        held = await hold_connection(session, server)
        tasks = [
            asyncio.create_task(read_body(session, server.make_url(f"/{i}"))) for i in range(20)
        ]
        await settle()
        for task in tasks[::2]:
            task.cancel()
        held.close()
        results = await asyncio.wait_for(asyncio.gather(*tasks, return_exceptions=True), 10)
        for task, result in zip(tasks, results, strict=True):
            if task.cancelled():
                continue
            assert result == b"fresh"
        await settle()
        counts = pool_counts(connector)
        assert (counts["active"], counts["in_use"], counts["waiters"]) == (0, 0, 0)


# -- connecting ------------------------------------------------------------------------------


async def test_cancel_while_connecting_closes_the_socket(
    full_backlog: int, client: hyperclient.ClientSession
) -> None:
    baseline = Baseline()
    task = asyncio.create_task(read_body(client, f"http://127.0.0.1:{full_backlog}/"))
    await asyncio.sleep(0.1)  # the SYN is out; nothing will answer it
    assert len(open_fds()) > len(baseline.fds), "no socket is being connected"
    await cancel(task)
    await baseline.check(pool=connector_of(client))


class HangingResolver(AbstractResolver):
    """A resolver whose lookups never finish (a DNS server that went silent)."""

    def __init__(self) -> None:
        self.started = asyncio.Event()

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        self.started.set()
        await asyncio.Event().wait()
        raise AssertionError("unreachable")

    async def close(self) -> None:
        pass


async def test_cancel_while_resolving_leaves_no_lookup_behind() -> None:
    resolver = HangingResolver()
    connector = hyperclient.TCPConnector(resolver=resolver)
    async with hyperclient.ClientSession(connector=connector) as session:
        baseline = Baseline()
        tasks = [asyncio.create_task(read_body(session, "http://hang.invalid/")) for _ in range(2)]
        await asyncio.wait_for(resolver.started.wait(), 5)
        for task in tasks:
            await cancel(task)
        await baseline.check(pool=connector)


async def test_cancel_during_the_tls_handshake_closes_the_socket_at_once(
    raw_server: RawServerFactory, client: hyperclient.ClientSession
) -> None:
    async def never_speaks_tls(conn: RawConnection) -> None:
        await conn.wait_closed_by_peer()

    server = await raw_server(never_speaks_tls)
    baseline = Baseline()
    url = f"https://127.0.0.1:{server.port}/"
    task = asyncio.create_task(read_body(client, url, ssl=ssl.create_default_context()))
    conn = await first_connection(server)
    while not conn.received:  # the ClientHello: the client now waits for the answer
        await asyncio.sleep(0.005)
    await cancel(task)
    await closed_at_once(server)
    await baseline.check(server, pool=connector_of(client))


# -- WebSocket -------------------------------------------------------------------------------


def ws_echo_close() -> Any:
    """Handshake, then answer the client's Close (the close handshake completes)."""

    async def handler(conn: RawConnection) -> None:
        await handshake(conn)
        await read_until_close(conn)
        await conn.send(close_frame())

    return handler


@pytest.mark.parametrize("heartbeat", [None, 5.0], ids=["plain", "heartbeat"])
async def test_cancel_while_receiving_on_a_websocket_closes_it_at_once(
    heartbeat: float | None, raw_server: RawServerFactory, client: hyperclient.ClientSession
) -> None:
    server = await raw_server(ws_echo_close())
    baseline = Baseline()
    receiving = asyncio.Event()

    async def receive_forever() -> None:
        async with client.ws_connect(server.url, heartbeat=heartbeat) as ws:
            receiving.set()
            await ws.receive()

    task = asyncio.create_task(receive_forever())
    await asyncio.wait_for(receiving.wait(), 5)
    await settle()
    await cancel(task)
    await closed_at_once(server)
    await baseline.check(server, pool=connector_of(client))


@pytest.mark.skipif(sys.version_info < (3, 11), reason="Task.cancelling() is Python 3.11+")
@pytest.mark.parametrize("how", ["cancel", "timeout"])
async def test_cancelled_websocket_task_closes_at_once_even_if_the_server_ignores_close(
    how: str, raw_server: RawServerFactory, client: hyperclient.ClientSession
) -> None:
    # Without the cancellation, close() would wait up to ws_close (10 s) for the server's
    # Close; a task being cancelled (or timed out) must not linger that long.
    async def handshake_then_ignore(conn: RawConnection) -> None:
        await handshake(conn)
        await conn.wait_closed_by_peer()

    server = await raw_server(handshake_then_ignore)
    baseline = Baseline()
    receiving = asyncio.Event()

    async def receive_forever() -> None:
        async with client.ws_connect(server.url) as ws:
            receiving.set()
            await ws.receive()

    loop = asyncio.get_running_loop()
    if how == "cancel":
        task = asyncio.create_task(receive_forever())
        await asyncio.wait_for(receiving.wait(), 5)
        start = loop.time()
        await cancel(task)
    else:
        start = loop.time()
        with pytest.raises(TimeoutError):
            async with asyncio.timeout(0.2):  # type: ignore[attr-defined, unused-ignore]
                await receive_forever()
        start += 0.2
    assert loop.time() - start < AT_ONCE
    await closed_at_once(server)
    await baseline.check(server, pool=connector_of(client))


async def test_cancelled_websocket_receive_leaves_the_websocket_usable_and_closable(
    raw_server: RawServerFactory, client: hyperclient.ClientSession
) -> None:
    server = await raw_server(ws_echo_close())
    baseline = Baseline()
    ws = await client.ws_connect(server.url)
    task = asyncio.create_task(ws.receive())
    await settle()
    await cancel(task)
    assert not ws.closed
    assert await asyncio.wait_for(ws.close(), AT_ONCE)
    await baseline.check(server, pool=connector_of(client))


async def test_cancel_during_the_websocket_handshake_closes_the_socket_at_once(
    raw_server: RawServerFactory, client: hyperclient.ClientSession
) -> None:
    server = await raw_server(silent())
    baseline = Baseline()
    task = asyncio.create_task(client.ws_connect(server.url))
    conn = await first_connection(server)
    await received_request(conn)
    await cancel(task)
    await closed_at_once(server)
    await baseline.check(server, pool=connector_of(client))


# -- session.close() -------------------------------------------------------------------------


async def test_session_close_ends_every_request_in_flight(raw_server: RawServerFactory) -> None:
    head_server = await raw_server(silent())
    body_server = await raw_server(
        send_then_silent(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nab")
    )
    ws_server = await raw_server(ws_echo_close())
    baseline = Baseline()
    # The WebSocket's connection no longer counts against the limit: two slots for three.
    session = hyperclient.ClientSession(connector=hyperclient.TCPConnector(limit=2))
    ws = await session.ws_connect(ws_server.url)
    requests = [
        asyncio.create_task(read_body(session, head_server.make_url("/head"))),
        asyncio.create_task(read_body(session, body_server.make_url("/body"))),
        asyncio.create_task(read_body(session, head_server.make_url("/pool-wait"))),
    ]
    receive = asyncio.create_task(ws.receive())
    await asyncio.sleep(0.1)
    assert not any(task.done() for task in [*requests, receive])
    assert pool_counts(connector_of(session))["waiters"] == 1
    await asyncio.wait_for(session.close(), AT_ONCE)
    _, pending = await asyncio.wait([*requests, receive], timeout=AT_ONCE)
    assert not pending, f"still running after session.close(): {pending}"
    for task in requests:
        assert isinstance(task.exception(), hyperclient.ClientError), repr(task.exception())
    assert receive.result().type in (hyperclient.WSMsgType.CLOSED, hyperclient.WSMsgType.CLOSING)
    await baseline.check(head_server, body_server, ws_server, pool=None)


async def test_session_close_ends_a_connect_in_progress(full_backlog: int) -> None:
    baseline = Baseline()
    session = hyperclient.ClientSession()
    task = asyncio.create_task(read_body(session, f"http://127.0.0.1:{full_backlog}/"))
    await asyncio.sleep(0.1)
    await asyncio.wait_for(session.close(), AT_ONCE)
    done, _ = await asyncio.wait([task], timeout=AT_ONCE)
    if not done:
        await cancel(task)
        raise AssertionError("the connect went on after session.close()")
    assert isinstance(task.exception(), hyperclient.ClientError)
    await baseline.check(pool=None)
