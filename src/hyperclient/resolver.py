"""Name resolution: ThreadedResolver (getaddrinfo in the executor), AsyncResolver (aiodns), and
the connector's DNS cache (TTL, a size bound, one lookup shared by concurrent requests).
"""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Sequence
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

from .abc import AbstractResolver, ResolveResult

if TYPE_CHECKING:
    from .tracing import Trace

__all__ = ("AsyncResolver", "DNSCache", "DefaultResolver", "ThreadedResolver")

_NUMERIC_FLAGS = socket.AI_NUMERICHOST | socket.AI_NUMERICSERV


class ThreadedResolver(AbstractResolver):
    """``loop.getaddrinfo`` in the default executor: the system resolver, hosts file and all."""

    def __init__(self, loop: asyncio.AbstractEventLoop | None = None) -> None:
        self._loop = loop

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        loop = self._loop or asyncio.get_running_loop()
        infos = await loop.getaddrinfo(
            host, port, type=socket.SOCK_STREAM, family=family, flags=socket.AI_ADDRCONFIG
        )
        results: list[ResolveResult] = []
        for fam, _, proto, _, address in infos:
            if fam == socket.AF_INET6:
                if len(address) < 3:
                    continue  # IPv6 not supported by this Python build
                if address[3]:
                    # A link-local address needs its zone: ask for the numeric form with it.
                    resolved, _port = socket.getnameinfo(address, _NUMERIC_FLAGS)
                    port_ = int(_port)
                else:
                    resolved, port_ = str(address[0]), int(address[1])
            else:
                resolved, port_ = str(address[0]), int(address[1])
            results.append(
                ResolveResult(
                    hostname=host,
                    host=str(resolved),
                    port=int(port_),
                    family=fam,
                    proto=proto,
                    flags=_NUMERIC_FLAGS,
                )
            )
        if not results:
            raise OSError(socket.EAI_NONAME, f"Could not resolve host {host!r}")
        return results

    async def close(self) -> None:
        pass


class AsyncResolver(AbstractResolver):
    """Resolution through c-ares (the ``aiodns`` extra), without the thread pool."""

    def __init__(
        self,
        nameservers: list[str] | None = None,
        *,
        loop: asyncio.AbstractEventLoop | None = None,
        **kwargs: Any,
    ) -> None:
        try:
            import aiodns
        except ImportError as exc:  # pragma: no cover - exercised only without the extra
            raise RuntimeError(
                "AsyncResolver needs the aiodns package (hyperclient[aiodns])"
            ) from exc
        if nameservers is not None:
            kwargs["nameservers"] = nameservers
        self._resolver = aiodns.DNSResolver(loop=loop, **kwargs)

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        import aiodns

        try:
            resp = await self._resolver.getaddrinfo(
                host, port=port, type=socket.SOCK_STREAM, family=family, flags=socket.AI_ADDRCONFIG
            )
        except aiodns.error.DNSError as exc:
            msg = exc.args[1] if len(exc.args) >= 2 else "DNS lookup failed"
            raise OSError(socket.EAI_NONAME, msg) from exc
        results: list[ResolveResult] = []
        for node in resp.nodes:
            address: tuple[Any, ...] = node.addr
            resolved = address[0].decode("ascii") if isinstance(address[0], bytes) else address[0]
            results.append(
                ResolveResult(
                    hostname=host,
                    host=resolved,
                    port=int(address[1]),
                    family=node.family,
                    proto=node.protocol,
                    flags=_NUMERIC_FLAGS,
                )
            )
        if not results:
            raise OSError(socket.EAI_NONAME, f"Could not resolve host {host!r}")
        return results

    async def close(self) -> None:
        close = getattr(self._resolver, "close", None)
        if close is not None:
            result = close()
            if asyncio.iscoroutine(result):
                await result
        else:  # aiodns < 3.3
            self._resolver.cancel()


DefaultResolver = ThreadedResolver


_CacheKey = tuple[str, int]


class DNSCache:
    """Resolved addresses per (host, port), kept for ``ttl`` seconds (None: until evicted).

    Bounded: past ``max_size`` entries the least recently used one goes, so a client that
    talks to many hosts (a crawler) does not grow without limit. Concurrent requests for a host
    that is not cached share one lookup; it runs as its own task, so a cancelled first caller
    does not fail the others, and its result is cached even if every caller gave up.
    """

    __slots__ = ("_entries", "_max_size", "_resolver", "_resolving", "_ttl", "_waiting")

    def __init__(self, resolver: AbstractResolver, ttl: float | None, max_size: int = 1024) -> None:
        self._resolver = resolver
        self._ttl = ttl
        self._max_size = max_size
        self._entries: dict[_CacheKey, tuple[list[ResolveResult], float | None]] = {}
        self._resolving: dict[_CacheKey, asyncio.Task[list[ResolveResult]]] = {}
        self._waiting: dict[_CacheKey, int] = {}  # callers waiting on each shared lookup

    def hosts(self) -> MappingProxyType[_CacheKey, list[ResolveResult]]:
        return MappingProxyType({key: entry[0] for key, entry in self._entries.items()})

    def clear(self, host: str | None = None, port: int | None = None) -> None:
        if host is not None and port is not None:
            self._entries.pop((host, port), None)
        elif host is not None or port is not None:
            raise ValueError("either both host and port or none of them are allowed")
        else:
            self._entries.clear()

    def close(self) -> None:
        for task in self._resolving.values():
            task.cancel()
        self._resolving.clear()

    async def resolve(
        self, host: str, port: int, family: int, traces: Sequence[Trace] = ()
    ) -> list[ResolveResult]:
        key = (host, port)
        loop = asyncio.get_running_loop()
        entry = self._entries.pop(key, None)
        if entry is not None:
            results, expires = entry
            if expires is None or loop.time() < expires:
                self._entries[key] = entry  # re-inserted last: the most recently used
                if traces:
                    for trace in traces:
                        await trace.send_dns_cache_hit(host)
                return results
        if traces:
            for trace in traces:
                await trace.send_dns_cache_miss(host)
        task = self._resolving.get(key)
        if task is None:
            task = loop.create_task(self._lookup(key, family, traces))
            self._resolving[key] = task
            task.add_done_callback(_retrieve)
        # shield: one caller's cancellation must not cancel the lookup the others wait for;
        # the last one's does, so a lookup nobody waits for does not live on.
        self._waiting[key] = self._waiting.get(key, 0) + 1
        try:
            return await asyncio.shield(task)
        except asyncio.CancelledError:
            if self._waiting.get(key) == 1 and not task.done():
                task.cancel()
            raise
        finally:
            left = self._waiting[key] - 1
            if left:
                self._waiting[key] = left
            else:
                del self._waiting[key]

    async def _lookup(
        self, key: _CacheKey, family: int, traces: Sequence[Trace]
    ) -> list[ResolveResult]:
        try:
            results = await lookup(self._resolver, key[0], key[1], family, traces)
        finally:
            self._resolving.pop(key, None)
        ttl = self._ttl
        expires = asyncio.get_running_loop().time() + ttl if ttl is not None else None
        entries = self._entries
        entries[key] = (results, expires)
        if len(entries) > self._max_size:
            del entries[next(iter(entries))]
        return results


def _retrieve(task: asyncio.Task[list[ResolveResult]]) -> None:
    # A lookup whose callers were all cancelled still ends; its error is nobody's to log.
    if not task.cancelled():
        task.exception()


async def lookup(
    resolver: AbstractResolver, host: str, port: int, family: int, traces: Sequence[Trace] = ()
) -> list[ResolveResult]:
    """One query to *resolver*, between the dns_resolvehost trace signals."""
    if traces:
        for trace in traces:
            await trace.send_dns_resolvehost_start(host)
    results = await resolver.resolve(host, port, family=socket.AddressFamily(family))
    if traces:
        for trace in traces:
            await trace.send_dns_resolvehost_end(host)
    return results
