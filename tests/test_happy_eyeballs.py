"""Connecting to hosts with several addresses (RFC 8305 through aiohappyeyeballs):
happy_eyeballs_delay, interleave, dead addresses, family, local_addr and socket_factory.

A "dead" address refuses at once (nothing listens there); a "black hole" takes the SYN and
never answers (a listener whose accept queue is full), so only racing gets past it.
"""

from __future__ import annotations

import asyncio
import json
import socket
from collections.abc import AsyncIterator
from typing import Any

import pytest

import hyperclient
from hyperclient.abc import AbstractResolver, ResolveResult
from hyperclient.resolver import AsyncResolver
from servers import LiveServer, http_response
from servers.dns import DNSServer

NAME = "multi.hyperclient.test"


class ListResolver(AbstractResolver):
    """Answers every name with the given (ip, port) pairs, in order; records the families."""

    def __init__(self, *addresses: tuple[str, int]) -> None:
        self.addresses = addresses
        self.families: list[int] = []

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        self.families.append(family)
        return [
            ResolveResult(
                hostname=host,
                host=ip,
                port=ip_port,
                family=socket.AF_INET6 if ":" in ip else socket.AF_INET,
                proto=socket.IPPROTO_TCP,
                flags=socket.AI_NUMERICHOST,
            )
            for ip, ip_port in self.addresses
        ]

    async def close(self) -> None:
        pass


def free_port(host: str = "127.0.0.1") -> int:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


@pytest.fixture
async def ipv6_server() -> AsyncIterator[int]:
    """An HTTP server on [::1] that answers every request with "v6"."""

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while await reader.readuntil(b"\r\n\r\n"):
                writer.write(http_response(b"v6"))
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()

    server = await asyncio.start_server(serve, "::1", 0)
    yield server.sockets[0].getsockname()[1]
    server.close()
    await server.wait_closed()


async def get_text(connector: hyperclient.TCPConnector, url: str, **kwargs: Any) -> str:
    async with (
        hyperclient.ClientSession(connector=connector) as client,
        client.get(url, **kwargs) as resp,
    ):
        return await resp.text()


# -- several addresses, some dead ------------------------------------------------------------------


async def test_a_dead_ipv6_address_falls_back_to_ipv4(http_server: LiveServer) -> None:
    resolver = ListResolver(("::1", free_port("::1")), ("127.0.0.1", http_server.port))
    connector = hyperclient.TCPConnector(resolver=resolver)
    text = await get_text(connector, f"http://{NAME}/client")
    assert json.loads(text)["host"] == "127.0.0.1"


async def test_a_dead_ipv4_address_falls_back_to_ipv6(ipv6_server: int) -> None:
    resolver = ListResolver(("127.0.0.1", free_port()), ("::1", ipv6_server))
    connector = hyperclient.TCPConnector(resolver=resolver)
    assert await get_text(connector, f"http://{NAME}/") == "v6"


async def test_a_name_with_ipv6_and_ipv4_addresses_from_dns(
    dns_server: DNSServer, http_server: LiveServer
) -> None:
    # dual.hyperclient.test is ::1 and 127.0.0.1; the server listens on 127.0.0.1 only.
    resolver = AsyncResolver(
        nameservers=["127.0.0.1"], udp_port=dns_server.port, lookups="b", tries=3, timeout=5.0
    )
    connector = hyperclient.TCPConnector(resolver=resolver)
    text = await get_text(connector, f"http://dual.hyperclient.test:{http_server.port}/json")
    assert "world" in text
    assert dns_server.questions[("dual.hyperclient.test", 28)] == 1  # AAAA was asked too


async def test_every_address_dead_is_a_connector_error() -> None:
    resolver = ListResolver(("::1", free_port("::1")), ("127.0.0.1", free_port()))
    connector = hyperclient.TCPConnector(resolver=resolver)
    with pytest.raises(hyperclient.ClientConnectorError) as info:
        await get_text(connector, f"http://{NAME}/")
    assert not isinstance(info.value, hyperclient.ClientConnectorDNSError)
    assert info.value.host == NAME


# -- happy_eyeballs_delay and interleave -----------------------------------------------------------


async def test_happy_eyeballs_delay_races_past_an_address_that_never_answers(
    full_backlog: int, http_server: LiveServer
) -> None:
    resolver = ListResolver(("127.0.0.1", full_backlog), ("127.0.0.1", http_server.port))
    connector = hyperclient.TCPConnector(resolver=resolver, happy_eyeballs_delay=0.05)
    # Tried one after the other, the first attempt alone would outlast sock_connect.
    timeout = hyperclient.ClientTimeout(sock_connect=3)
    assert "world" in await get_text(connector, f"http://{NAME}/json", timeout=timeout)


async def test_without_happy_eyeballs_addresses_are_tried_one_at_a_time(
    full_backlog: int, http_server: LiveServer
) -> None:
    resolver = ListResolver(("127.0.0.1", full_backlog), ("127.0.0.1", http_server.port))
    connector = hyperclient.TCPConnector(resolver=resolver, happy_eyeballs_delay=None)
    timeout = hyperclient.ClientTimeout(sock_connect=0.3)
    with pytest.raises(hyperclient.ConnectionTimeoutError):
        await get_text(connector, f"http://{NAME}/json", timeout=timeout)


class RecordingFactory:
    """A socket_factory that records the addresses it was asked to connect to."""

    def __init__(self) -> None:
        self.addresses: list[tuple[Any, ...]] = []
        self.sockets: list[socket.socket] = []

    def __call__(self, addr_info: hyperclient.AddrInfoType) -> socket.socket:
        family, type_, proto, _, address = addr_info
        self.addresses.append(address)
        sock = socket.socket(family, type_, proto)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)
        self.sockets.append(sock)
        return sock


@pytest.mark.parametrize(
    ("delay", "interleave", "order"),
    [
        (None, None, ["::1 a", "::1 b", "v4"]),  # no racing: the resolver's order
        (None, 1, ["::1 a", "v4", "::1 b"]),  # families alternate (RFC 8305 §4)
        (0.25, None, ["::1 a", "v4", "::1 b"]),  # racing interleaves by default
        (0.25, 2, ["::1 a", "::1 b", "v4"]),  # two of the first family first
    ],
)
async def test_interleave_orders_the_attempts_by_family(
    delay: float | None, interleave: int | None, order: list[str]
) -> None:
    ports = {"::1 a": free_port("::1"), "::1 b": free_port("::1"), "v4": free_port()}
    resolver = ListResolver(
        ("::1", ports["::1 a"]), ("::1", ports["::1 b"]), ("127.0.0.1", ports["v4"])
    )
    factory = RecordingFactory()
    connector = hyperclient.TCPConnector(
        resolver=resolver,
        happy_eyeballs_delay=delay,
        interleave=interleave,
        socket_factory=factory,
    )
    with pytest.raises(hyperclient.ClientConnectorError):
        await get_text(connector, f"http://{NAME}/")
    names = {port: name for name, port in ports.items()}
    assert [names[address[1]] for address in factory.addresses] == order
    for sock in factory.sockets:
        assert sock.fileno() == -1  # closed after its failed attempt


async def test_socket_factory_makes_the_connection_socket(http_server: LiveServer) -> None:
    factory = RecordingFactory()
    connector = hyperclient.TCPConnector(socket_factory=factory)
    async with (
        hyperclient.ClientSession(connector=connector) as client,
        client.get(http_server.make_url(f"/bytes/{4 << 20}")) as resp,
    ):
        assert resp.connection is not None and resp.connection.transport is not None
        sock = resp.connection.transport.get_extra_info("socket")
        assert sock.getsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE) == 1
        assert sock.fileno() == factory.sockets[0].fileno()
        await resp.read()
    assert factory.addresses == [("127.0.0.1", http_server.port)]


# -- family and local_addr -------------------------------------------------------------------------


@pytest.mark.parametrize("family", [socket.AF_INET, socket.AF_INET6, 0])
async def test_family_is_passed_to_the_resolver(family: int, http_server: LiveServer) -> None:
    resolver = ListResolver(("127.0.0.1", http_server.port))
    connector = hyperclient.TCPConnector(resolver=resolver, family=family)
    assert connector.family == family
    await get_text(connector, f"http://{NAME}/json")
    assert resolver.families == [family]


async def test_family_inet_connects_over_ipv4(http_server: LiveServer) -> None:
    connector = hyperclient.TCPConnector(family=socket.AF_INET)
    text = await get_text(connector, f"http://localhost:{http_server.port}/client")
    assert json.loads(text)["host"] == "127.0.0.1"


async def test_local_addr_binds_the_source_address(http_server: LiveServer) -> None:
    connector = hyperclient.TCPConnector(local_addr=("127.0.0.2", 0))
    text = await get_text(connector, http_server.make_url("/client").human_repr())
    assert json.loads(text)["host"] == "127.0.0.2"


async def test_local_addr_that_cannot_be_bound_is_a_connector_error(
    http_server: LiveServer,
) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        connector = hyperclient.TCPConnector(local_addr=taken.getsockname())
        with pytest.raises(hyperclient.ClientConnectorError):
            await get_text(connector, http_server.make_url("/json").human_repr())
