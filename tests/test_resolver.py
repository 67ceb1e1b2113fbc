"""Name resolution: ThreadedResolver, AsyncResolver (aiodns, against a DNS server on
127.0.0.1), DefaultResolver, custom resolvers, and the connector's DNS cache (TTL, size bound,
one shared lookup per host, failures).

No lookup here leaves the machine: the system resolver is asked only for ``localhost`` (the
hosts file answers), and AsyncResolver asks the test's own DNS server.
"""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator
from types import SimpleNamespace
from typing import Any

import pytest

import hyperclient
from hyperclient.abc import AbstractResolver, ResolveResult
from hyperclient.resolver import AsyncResolver, DefaultResolver, DNSCache, ThreadedResolver
from servers import LiveServer
from servers.dns import DNSServer


def result(host: str, ip: str = "127.0.0.1", port: int = 0) -> ResolveResult:
    family = socket.AF_INET6 if ":" in ip else socket.AF_INET
    return ResolveResult(hostname=host, host=ip, port=port, family=family, proto=0, flags=0)


class RecordingResolver(AbstractResolver):
    """Answers every name with 127.0.0.1 (or fails for names in ``failing``), records each
    call, and can hold lookups until ``gate`` is set."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, int, int]] = []
        self.failing: set[str] = set()
        self.gate: asyncio.Event | None = None
        self.closed = False

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        self.calls.append((host, port, family))
        if self.gate is not None:
            await self.gate.wait()
        if host in self.failing:
            raise OSError(socket.EAI_NONAME, f"{host} does not exist")
        return [result(host, port=port)]

    async def close(self) -> None:
        self.closed = True


@pytest.fixture
def resolver() -> RecordingResolver:
    return RecordingResolver()


def async_resolver(dns: DNSServer, **options: Any) -> AsyncResolver:
    # lookups="b": DNS only, no hosts file; tries/timeout keep a failure quick.
    return AsyncResolver(
        nameservers=["127.0.0.1"], udp_port=dns.port, lookups="b", tries=1, timeout=2.0, **options
    )


@pytest.fixture
async def named_session(
    resolver: RecordingResolver,
) -> AsyncIterator[hyperclient.ClientSession]:
    """A session whose connector resolves through ``resolver``."""
    connector = hyperclient.TCPConnector(resolver=resolver)
    async with hyperclient.ClientSession(connector=connector) as client:
        yield client


def named_url(server: LiveServer, name: str, path: str = "/json") -> str:
    return f"http://{name}:{server.port}{path}"


# -- the resolvers ---------------------------------------------------------------------------------


async def test_threaded_resolver_resolves_localhost() -> None:
    resolver = ThreadedResolver()
    results = await resolver.resolve("localhost", 8080, family=socket.AF_INET)
    assert {"hostname": "localhost", "host": "127.0.0.1", "port": 8080} in [
        {k: r[k] for k in ("hostname", "host", "port")} for r in results
    ]
    assert all(r["family"] == socket.AF_INET for r in results)
    assert all(r["flags"] & socket.AI_NUMERICHOST for r in results)
    await resolver.close()


def test_default_resolver_is_the_threaded_resolver() -> None:
    assert DefaultResolver is ThreadedResolver
    assert hyperclient.DefaultResolver is ThreadedResolver


async def test_connector_uses_the_default_resolver(http_server: LiveServer) -> None:
    connector = hyperclient.TCPConnector()
    assert isinstance(connector._resolver, DefaultResolver)
    async with (
        hyperclient.ClientSession(connector=connector) as client,
        client.get(named_url(http_server, "localhost")) as resp,
    ):
        assert resp.status == 200


async def test_async_resolver_asks_the_given_nameserver(dns_server: DNSServer) -> None:
    resolver = async_resolver(dns_server)
    results = await resolver.resolve("svc.hyperclient.test", 443, family=socket.AF_INET)
    assert [(r["hostname"], r["host"], r["port"], r["family"]) for r in results] == [
        ("svc.hyperclient.test", "127.0.0.1", 443, socket.AF_INET)
    ]
    assert dns_server.questions[("svc.hyperclient.test", 1)] == 1
    await resolver.close()


async def test_async_resolver_returns_both_families_when_asked_for_any(
    dns_server: DNSServer,
) -> None:
    resolver = async_resolver(dns_server)
    results = await resolver.resolve("dual.hyperclient.test", 80, family=socket.AF_UNSPEC)
    assert sorted((r["family"], r["host"]) for r in results) == [
        (socket.AF_INET, "127.0.0.1"),
        (socket.AF_INET6, "::1"),
    ]
    await resolver.close()


async def test_async_resolver_unknown_name_is_an_os_error(dns_server: DNSServer) -> None:
    resolver = async_resolver(dns_server)
    with pytest.raises(OSError):
        await resolver.resolve("missing.hyperclient.test", 80)
    await resolver.close()


async def test_async_resolver_serves_a_session(
    dns_server: DNSServer, http_server: LiveServer
) -> None:
    connector = hyperclient.TCPConnector(resolver=async_resolver(dns_server))
    async with hyperclient.ClientSession(connector=connector) as client:
        async with client.get(named_url(http_server, "svc.hyperclient.test")) as resp:
            assert (await resp.json())["hello"] == "world"
        with pytest.raises(hyperclient.ClientConnectorDNSError):
            await client.get(named_url(http_server, "missing.hyperclient.test"))


async def test_async_resolver_with_default_options_resolves_localhost() -> None:
    resolver = AsyncResolver()
    results = await resolver.resolve("localhost", 80, family=socket.AF_INET)
    assert "127.0.0.1" in [r["host"] for r in results]
    await resolver.close()


async def test_custom_resolver_gets_host_port_and_family(
    http_server: LiveServer, resolver: RecordingResolver
) -> None:
    connector = hyperclient.TCPConnector(resolver=resolver, family=socket.AF_INET)
    async with (
        hyperclient.ClientSession(connector=connector) as client,
        client.get(named_url(http_server, "anything.example")) as resp,
    ):
        assert resp.status == 200
    assert resolver.calls == [("anything.example", http_server.port, socket.AF_INET)]


async def test_connector_closes_its_own_resolver_but_not_a_given_one(
    resolver: RecordingResolver, monkeypatch: pytest.MonkeyPatch
) -> None:
    await hyperclient.TCPConnector(resolver=resolver).close()
    assert not resolver.closed  # the caller may share it with other connectors
    closed: list[bool] = []

    async def close(self: ThreadedResolver) -> None:
        closed.append(True)

    monkeypatch.setattr(ThreadedResolver, "close", close)
    await hyperclient.TCPConnector().close()
    assert closed == [True]


async def test_ip_addresses_are_not_resolved(
    http_server: LiveServer, named_session: hyperclient.ClientSession, resolver: RecordingResolver
) -> None:
    async with named_session.get(http_server.make_url("/json")) as resp:
        assert resp.status == 200
    assert resolver.calls == []


# -- failures --------------------------------------------------------------------------------------


async def test_failed_lookup_is_a_connector_dns_error(
    http_server: LiveServer, named_session: hyperclient.ClientSession, resolver: RecordingResolver
) -> None:
    resolver.failing.add("gone.example")
    with pytest.raises(hyperclient.ClientConnectorDNSError) as info:
        await named_session.get(named_url(http_server, "gone.example"))
    exc = info.value
    assert isinstance(exc, hyperclient.ClientConnectorError)
    assert isinstance(exc, OSError)
    assert (exc.host, exc.port) == ("gone.example", http_server.port)
    assert isinstance(exc.os_error, OSError)


async def test_failed_lookups_are_not_cached(
    http_server: LiveServer, named_session: hyperclient.ClientSession, resolver: RecordingResolver
) -> None:
    resolver.failing.add("flaky.example")
    with pytest.raises(hyperclient.ClientConnectorDNSError):
        await named_session.get(named_url(http_server, "flaky.example"))
    resolver.failing.clear()
    async with named_session.get(named_url(http_server, "flaky.example")) as resp:
        assert resp.status == 200
    assert len(resolver.calls) == 2


# -- the cache -------------------------------------------------------------------------------------


async def test_lookups_are_cached_per_host_and_port(
    http_server: LiveServer, named_session: hyperclient.ClientSession, resolver: RecordingResolver
) -> None:
    for _ in range(3):
        async with named_session.get(named_url(http_server, "cached.example", "/close")) as resp:
            await resp.read()  # /close: every request needs a new connection
    assert resolver.calls == [("cached.example", http_server.port, 0)]
    connector = named_session.connector
    assert isinstance(connector, hyperclient.TCPConnector)
    assert connector.dns_cache is True
    assert list(connector.cached_hosts) == [("cached.example", http_server.port)]


async def test_clear_dns_cache_forgets_one_host_or_all(
    http_server: LiveServer, named_session: hyperclient.ClientSession, resolver: RecordingResolver
) -> None:
    connector = named_session.connector
    assert isinstance(connector, hyperclient.TCPConnector)
    for name in ("a.example", "b.example"):
        async with named_session.get(named_url(http_server, name, "/close")) as resp:
            await resp.read()
    connector.clear_dns_cache("a.example", http_server.port)
    assert list(connector.cached_hosts) == [("b.example", http_server.port)]
    with pytest.raises(ValueError):
        connector.clear_dns_cache("b.example")
    connector.clear_dns_cache()
    assert dict(connector.cached_hosts) == {}


async def test_use_dns_cache_false_resolves_every_time(
    http_server: LiveServer, resolver: RecordingResolver
) -> None:
    connector = hyperclient.TCPConnector(resolver=resolver, use_dns_cache=False)
    assert connector.dns_cache is False
    async with hyperclient.ClientSession(connector=connector) as client:
        for _ in range(2):
            async with client.get(named_url(http_server, "nocache.example", "/close")) as resp:
                await resp.read()
    assert len(resolver.calls) == 2
    assert dict(connector.cached_hosts) == {}


async def test_ttl_zero_expires_entries_at_once_and_none_keeps_them(
    resolver: RecordingResolver,
) -> None:
    expiring = DNSCache(resolver, ttl=0)
    for _ in range(2):
        await expiring.resolve("a.example", 80, 0)
    assert len(resolver.calls) == 2
    forever = DNSCache(resolver, ttl=None)
    for _ in range(2):
        await forever.resolve("b.example", 80, 0)
    assert len(resolver.calls) == 3


async def test_entries_expire_after_the_ttl(resolver: RecordingResolver) -> None:
    cache = DNSCache(resolver, ttl=0.05)
    await cache.resolve("a.example", 80, 0)
    await cache.resolve("a.example", 80, 0)
    assert len(resolver.calls) == 1
    await asyncio.sleep(0.06)  # the TTL is a duration: nothing to wait on but the clock
    await cache.resolve("a.example", 80, 0)
    assert len(resolver.calls) == 2


async def test_the_cache_is_bounded_and_evicts_the_least_recently_used(
    resolver: RecordingResolver,
) -> None:
    cache = DNSCache(resolver, ttl=None, max_size=2)
    await cache.resolve("a.example", 80, 0)
    await cache.resolve("b.example", 80, 0)
    await cache.resolve("a.example", 80, 0)  # a is now the most recently used
    await cache.resolve("c.example", 80, 0)  # evicts b
    assert sorted(host for host, _ in cache.hosts()) == ["a.example", "c.example"]
    calls = len(resolver.calls)
    await cache.resolve("a.example", 80, 0)
    assert len(resolver.calls) == calls
    await cache.resolve("b.example", 80, 0)
    assert len(resolver.calls) == calls + 1


async def test_concurrent_requests_for_one_host_share_one_lookup(
    http_server: LiveServer, named_session: hyperclient.ClientSession, resolver: RecordingResolver
) -> None:
    resolver.gate = asyncio.Event()

    async def fetch() -> int:
        async with named_session.get(named_url(http_server, "shared.example")) as resp:
            await resp.read()
            return resp.status

    tasks = [asyncio.create_task(fetch()) for _ in range(5)]
    while not resolver.calls:
        await asyncio.sleep(0)
    for _ in range(10):
        await asyncio.sleep(0)  # let every task reach the lookup
    resolver.gate.set()
    assert await asyncio.gather(*tasks) == [200] * 5
    assert len(resolver.calls) == 1


async def test_a_cancelled_caller_does_not_fail_the_others_sharing_its_lookup(
    resolver: RecordingResolver,
) -> None:
    cache = DNSCache(resolver, ttl=10)
    resolver.gate = asyncio.Event()
    first = asyncio.create_task(cache.resolve("a.example", 80, 0))
    second = asyncio.create_task(cache.resolve("a.example", 80, 0))
    while not resolver.calls:
        await asyncio.sleep(0)
    first.cancel()
    resolver.gate.set()
    assert [r["host"] for r in await second] == ["127.0.0.1"]
    assert first.cancelled()
    assert len(resolver.calls) == 1
    assert ("a.example", 80) in cache.hosts()


async def test_a_shared_failure_reaches_every_waiter(resolver: RecordingResolver) -> None:
    cache = DNSCache(resolver, ttl=10)
    resolver.gate = asyncio.Event()
    resolver.failing.add("gone.example")
    waiters = [asyncio.create_task(cache.resolve("gone.example", 80, 0)) for _ in range(3)]
    while not resolver.calls:
        await asyncio.sleep(0)
    resolver.gate.set()
    outcomes = await asyncio.gather(*waiters, return_exceptions=True)
    assert all(isinstance(o, OSError) for o in outcomes)
    assert len(resolver.calls) == 1


async def test_dns_trace_signals(http_server: LiveServer, resolver: RecordingResolver) -> None:
    seen: list[tuple[str, str]] = []
    config = hyperclient.TraceConfig()

    def recorder(name: str) -> Any:
        async def record(session: Any, ctx: SimpleNamespace, params: Any) -> None:
            seen.append((name, params.host))

        return record

    for name in ("dns_resolvehost_start", "dns_resolvehost_end", "dns_cache_hit", "dns_cache_miss"):
        getattr(config, f"on_{name}").append(recorder(name))
    connector = hyperclient.TCPConnector(resolver=resolver)
    async with hyperclient.ClientSession(connector=connector, trace_configs=[config]) as client:
        for _ in range(2):
            async with client.get(named_url(http_server, "traced.example", "/close")) as resp:
                await resp.read()
    assert seen == [
        ("dns_cache_miss", "traced.example"),
        ("dns_resolvehost_start", "traced.example"),
        ("dns_resolvehost_end", "traced.example"),
        ("dns_cache_hit", "traced.example"),
    ]
