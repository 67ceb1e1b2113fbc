"""Connectors and the keep-alive pool (issue 2: "Connections").

Reuse is observed from the server side: every endpoint can report the client's port, so two
requests with the same port shared one TCP connection. ``/hold/<key>`` keeps a response open
until the test releases it, which orders events without sleeping.
"""

from __future__ import annotations

import asyncio
import socket
import uuid
from pathlib import Path

import pytest
from yarl import URL

import hyperclient
from servers import LiveServer, RawConnection, RawServerFactory
from servers.raw import Handler, http_response, reply_forever


async def client_port(session: hyperclient.ClientSession, url: str | URL) -> int:
    async with session.get(url) as resp:
        port: int = (await resp.json())["port"]
        return port


async def start_held(
    session: hyperclient.ClientSession, server: LiveServer
) -> tuple[str, hyperclient.ClientResponse]:
    """A response whose head has arrived and whose body the server holds back."""
    key = uuid.uuid4().hex
    resp = await session.get(server.make_url(f"/hold/{key}"))
    return key, resp


async def finish_held(server: LiveServer, key: str, resp: hyperclient.ClientResponse) -> int:
    """Release a held response, read it to the end, and return the port it came over."""
    server.app.release(key)
    body = await resp.read()
    return int(body[1:])


async def yield_to_loop(times: int = 10) -> None:
    for _ in range(times):
        await asyncio.sleep(0)


# -- connector attributes ------------------------------------------------------------------------


async def test_tcp_connector_defaults() -> None:
    connector = hyperclient.TCPConnector()
    try:
        assert isinstance(connector, hyperclient.BaseConnector)
        assert connector.limit == 100
        assert connector.limit_per_host == 0
        assert connector.force_close is False
        assert connector.closed is False
        assert connector.dns_cache is True
        assert connector.family == 0
    finally:
        await connector.close()
    assert connector.closed


async def test_tcp_connector_parameters_are_reflected() -> None:
    connector = hyperclient.TCPConnector(
        limit=7,
        limit_per_host=3,
        force_close=True,
        use_dns_cache=False,
        ttl_dns_cache=300,
        family=socket.AF_INET,
        keepalive_timeout=None,
    )
    try:
        assert connector.limit == 7
        assert connector.limit_per_host == 3
        assert connector.force_close is True
        assert connector.dns_cache is False
        assert connector.family == socket.AF_INET
    finally:
        await connector.close()


# -- keep-alive reuse ----------------------------------------------------------------------------


async def test_sequential_requests_reuse_one_connection(
    http_server: LiveServer, session: hyperclient.ClientSession
) -> None:
    url = http_server.make_url("/client")
    ports = {await client_port(session, url) for _ in range(5)}
    assert len(ports) == 1


async def test_tcp_connections_send_without_nagle(
    http_server: LiveServer, session: hyperclient.ClientSession
) -> None:
    # The server's address is an IP literal (address info with proto 0, for which asyncio
    # leaves Nagle on): small writes such as a body's last piece must not wait for an ACK.
    key, resp = await start_held(session, http_server)
    connection = resp.connection
    assert connection is not None and connection.transport is not None
    sock = connection.transport.get_extra_info("socket")
    assert sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY) != 0
    await finish_held(http_server, key, resp)


async def test_idle_connections_are_reused_newest_first(
    http_server: LiveServer, session: hyperclient.ClientSession
) -> None:
    # Two connections at once, released in a known order: the later-released one is reused.
    key_a, resp_a = await start_held(session, http_server)
    key_b, resp_b = await start_held(session, http_server)
    port_a = await finish_held(http_server, key_a, resp_a)
    port_b = await finish_held(http_server, key_b, resp_b)
    assert port_a != port_b
    assert await client_port(session, http_server.make_url("/client")) == port_b

    key_c, resp_c = await start_held(session, http_server)  # takes b, the newest idle
    key_d, resp_d = await start_held(session, http_server)  # takes a
    assert await finish_held(http_server, key_c, resp_c) == port_b
    assert await finish_held(http_server, key_d, resp_d) == port_a
    assert await client_port(session, http_server.make_url("/client")) == port_a


async def test_force_close_opens_a_connection_per_request(http_server: LiveServer) -> None:
    connector = hyperclient.TCPConnector(force_close=True)
    async with hyperclient.ClientSession(connector=connector) as session:
        url = http_server.make_url("/client")
        ports = [await client_port(session, url) for _ in range(3)]
    assert len(set(ports)) == 3


async def test_idle_connection_expires_after_keepalive_timeout(http_server: LiveServer) -> None:
    connector = hyperclient.TCPConnector(keepalive_timeout=0.2)
    async with hyperclient.ClientSession(connector=connector) as session:
        url = http_server.make_url("/client")
        first = await client_port(session, url)
        assert await client_port(session, url) == first
        # Expiry is a timer: there is no event to wait for but the clock.
        await asyncio.sleep(0.6)
        assert await client_port(session, url) != first


# -- limits --------------------------------------------------------------------------------------


async def test_limit_caps_simultaneous_connections(http_server: LiveServer) -> None:
    connector = hyperclient.TCPConnector(limit=2)
    async with hyperclient.ClientSession(connector=connector) as session:
        url = http_server.make_url("/client")
        ports = await asyncio.gather(*(client_port(session, url) for _ in range(12)))
    assert len(set(ports)) <= 2


async def test_limit_per_host_caps_each_endpoint(http_server: LiveServer) -> None:
    connector = hyperclient.TCPConnector(limit_per_host=1, family=socket.AF_INET)
    async with hyperclient.ClientSession(connector=connector) as session:
        by_ip = f"http://127.0.0.1:{http_server.port}/client"
        by_name = f"http://localhost:{http_server.port}/client"
        ports = await asyncio.gather(*(client_port(session, url) for url in [by_ip, by_name] * 6))
    assert len(set(ports[0::2])) == 1
    assert len(set(ports[1::2])) == 1
    assert ports[0] != ports[1]


async def test_limit_zero_means_no_limit(http_server: LiveServer) -> None:
    connector = hyperclient.TCPConnector(limit=0)
    assert connector.limit == 0
    key = uuid.uuid4().hex
    async with hyperclient.ClientSession(connector=connector) as session:
        # The server answers none of them until all 5 are in flight at once.
        url = http_server.make_url(f"/barrier/{key}?n=5")
        ports = await asyncio.gather(*(client_port(session, url) for _ in range(5)))
    assert len(set(ports)) == 5


async def test_waiters_for_a_connection_are_served_in_arrival_order(
    http_server: LiveServer,
) -> None:
    connector = hyperclient.TCPConnector(limit=1)
    order: list[str] = []

    async def request(name: str) -> None:
        async with session.get(http_server.make_url(f"/echo?waiter={name}")) as resp:
            await resp.read()
        order.append(name)

    async with hyperclient.ClientSession(connector=connector) as session:
        key, held = await start_held(session, http_server)
        tasks = []
        for name in "BCDE":
            tasks.append(asyncio.create_task(request(name)))
            await yield_to_loop()  # let it reach the pool and queue up
        assert order == []
        await finish_held(http_server, key, held)
        await asyncio.wait_for(asyncio.gather(*tasks), 10)
    assert order == list("BCDE")
    served = [r.query_string.decode() for r in http_server.app.requests if r.path == "/echo"]
    assert served[-4:] == [f"waiter={name}" for name in "BCDE"]


async def test_cancelled_waiter_does_not_leak_its_slot(http_server: LiveServer) -> None:
    connector = hyperclient.TCPConnector(limit=1)
    async with hyperclient.ClientSession(connector=connector) as session:
        key, held = await start_held(session, http_server)
        waiter = asyncio.create_task(session.get(http_server.make_url("/json")))
        await yield_to_loop()
        waiter.cancel()
        with pytest.raises(asyncio.CancelledError):
            await waiter
        await finish_held(http_server, key, held)
        async with session.get(http_server.make_url("/json")) as resp:
            assert resp.status == 200


# -- sharing and ownership -----------------------------------------------------------------------


async def test_connector_owner_false_leaves_the_connector_open(http_server: LiveServer) -> None:
    connector = hyperclient.TCPConnector()
    url = http_server.make_url("/client")
    try:
        async with hyperclient.ClientSession(connector=connector, connector_owner=False) as first:
            assert first.connector_owner is False
            port = await client_port(first, url)
        assert not connector.closed
        # The pool outlives the session: the next session gets the same connection.
        async with hyperclient.ClientSession(connector=connector, connector_owner=False) as second:
            assert await client_port(second, url) == port
    finally:
        await connector.close()


async def test_session_close_closes_an_owned_connector(http_server: LiveServer) -> None:
    connector = hyperclient.TCPConnector()
    async with hyperclient.ClientSession(connector=connector) as session:
        await client_port(session, http_server.make_url("/client"))
    assert connector.closed


async def test_closed_connection_object_is_not_reused(
    http_server: LiveServer, session: hyperclient.ClientSession
) -> None:
    url = http_server.make_url("/client")
    port = await client_port(session, url)
    resp = await session.get(url)
    connection = resp.connection
    assert connection is not None
    connection.close()
    assert connection.closed
    resp.close()
    assert await client_port(session, url) != port


# -- stale pooled connections --------------------------------------------------------------------


def answer_once_then_drop_the_next_request() -> Handler:
    """A server connection that answers one request, then reads the next and closes without a
    byte of response: what a server's idle timeout racing a new request looks like."""

    async def handler(conn: RawConnection) -> None:
        await conn.read_request()
        await conn.send(http_response(b"first"))
        await conn.read_request()

    return handler


@pytest.mark.parametrize("method", ["GET", "PUT", "DELETE", "HEAD", "OPTIONS"])
async def test_idempotent_request_is_retried_once_on_a_stale_connection(
    method: str, raw_server: RawServerFactory, session: hyperclient.ClientSession
) -> None:
    server = await raw_server(
        answer_once_then_drop_the_next_request(),
        reply_forever(http_response(b"fresh")),
    )
    async with session.get(server.make_url("/1")) as resp:
        assert await resp.read() == b"first"
    async with session.request(method, server.make_url("/2"), data=None) as resp:
        assert resp.status == 200
    assert len(server.connections) == 2
    assert len(server.connections[0].requests) == 2
    assert server.connections[1].requests[0].request_line.startswith(method.encode() + b" /2 ")


async def test_non_idempotent_request_is_not_retried(
    raw_server: RawServerFactory, session: hyperclient.ClientSession
) -> None:
    server = await raw_server(
        answer_once_then_drop_the_next_request(),
        reply_forever(http_response(b"fresh")),
    )
    async with session.get(server.make_url("/1")) as resp:
        await resp.read()
    with pytest.raises(hyperclient.ServerDisconnectedError):
        await session.post(server.make_url("/2"), data=b"once only")
    assert len(server.connections) == 1


async def test_retry_happens_only_once(
    raw_server: RawServerFactory, session: hyperclient.ClientSession
) -> None:
    async def drop_at_once(conn: RawConnection) -> None:
        await conn.read_request()

    server = await raw_server(answer_once_then_drop_the_next_request(), drop_at_once)
    async with session.get(server.make_url("/1")) as resp:
        await resp.read()
    with pytest.raises(hyperclient.ServerDisconnectedError):
        await session.get(server.make_url("/2"))
    assert len(server.connections) == 2


async def test_no_retry_once_response_bytes_arrived(
    raw_server: RawServerFactory, session: hyperclient.ClientSession
) -> None:
    async def half_an_answer(conn: RawConnection) -> None:
        await conn.read_request()
        await conn.send(http_response(b"first"))
        await conn.read_request()
        await conn.send(b"HTTP/1.1 200 OK\r\nContent-Le")

    server = await raw_server(half_an_answer, reply_forever(http_response(b"fresh")))
    async with session.get(server.make_url("/1")) as resp:
        await resp.read()
    with pytest.raises(hyperclient.ServerDisconnectedError):
        await session.get(server.make_url("/2"))
    assert len(server.connections) == 1


async def test_connection_closed_by_the_server_while_idle_is_not_reused(
    raw_server: RawServerFactory, session: hyperclient.ClientSession
) -> None:
    async def answer_and_close(conn: RawConnection) -> None:
        await conn.read_request()
        await conn.send(http_response(b"bye"))

    server = await raw_server(answer_and_close)
    async with session.get(server.make_url("/1")) as resp:
        assert await resp.read() == b"bye"
    await server.idle()  # the server has closed its end
    await yield_to_loop()  # the client's loop sees the FIN
    # A POST is never retried, so it only succeeds if the dead connection was skipped.
    async with session.post(server.make_url("/2"), data=b"x") as resp:
        assert await resp.read() == b"bye"
    assert len(server.connections) == 2


# -- Unix sockets --------------------------------------------------------------------------------


async def test_unix_connector_talks_to_a_unix_socket(unix_server: LiveServer) -> None:
    assert unix_server.uds is not None
    connector = hyperclient.UnixConnector(path=str(unix_server.uds))
    assert connector.path == str(unix_server.uds)
    assert isinstance(connector, hyperclient.BaseConnector)
    async with hyperclient.ClientSession(connector=connector) as session:
        for _ in range(2):
            async with session.post("http://localhost/echo", data=b"over uds") as resp:
                echo = await resp.json()
            assert echo["path"] == "/echo"
            assert echo["body"] == "over uds"
    assert len(unix_server.app.requests) >= 2


async def test_unix_connector_to_a_missing_socket_is_a_unix_connector_error(
    tmp_path: Path,
) -> None:
    path = str(tmp_path / "missing.sock")
    async with hyperclient.ClientSession(connector=hyperclient.UnixConnector(path)) as session:
        with pytest.raises(hyperclient.UnixClientConnectorError) as info:
            await session.get("http://localhost/")
    assert info.value.path == path
    assert isinstance(info.value, hyperclient.ClientConnectorError)


# -- DNS cache -----------------------------------------------------------------------------------


async def test_resolved_hosts_are_cached_and_can_be_cleared(http_server: LiveServer) -> None:
    # force_close: every request opens a connection, so every request consults the resolver.
    connector = hyperclient.TCPConnector(ttl_dns_cache=300, family=socket.AF_INET, force_close=True)
    async with hyperclient.ClientSession(connector=connector) as session:
        url = f"http://localhost:{http_server.port}/json"
        async with session.get(url) as resp:
            assert resp.status == 200
        assert ("localhost", http_server.port) in connector.cached_hosts
        connector.clear_dns_cache("localhost", http_server.port)
        assert ("localhost", http_server.port) not in connector.cached_hosts
        async with session.get(url) as resp:
            assert resp.status == 200
        assert len(connector.cached_hosts) >= 1
        connector.clear_dns_cache()
        assert len(connector.cached_hosts) == 0


async def test_dns_cache_can_be_disabled(http_server: LiveServer) -> None:
    connector = hyperclient.TCPConnector(use_dns_cache=False, family=socket.AF_INET)
    async with hyperclient.ClientSession(connector=connector) as session:
        async with session.get(f"http://localhost:{http_server.port}/json") as resp:
            assert resp.status == 200
        assert len(connector.cached_hosts) == 0
