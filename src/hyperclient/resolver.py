"""Name resolution: ThreadedResolver (getaddrinfo in the executor) and AsyncResolver (aiodns).

The DNS cache itself lives in the connector (TCPConnector.cached_hosts), which knows the TTL and
shares one lookup between concurrent requests for the same host.
"""

from __future__ import annotations

import asyncio
import socket
from typing import Any

from .abc import AbstractResolver, ResolveResult

__all__ = ("AsyncResolver", "DefaultResolver", "ThreadedResolver")

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
