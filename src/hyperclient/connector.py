"""Connectors that open connections: TCPConnector (DNS, happy eyeballs, TLS, proxies) and
UnixConnector. The pool they share (BaseConnector, Connection) is in pool.py; this module is
the documented home of all of them (``hyperclient.connector.TCPConnector`` and friends)."""

from __future__ import annotations

import asyncio
import socket
import warnings
from collections.abc import Callable, Sequence
from ssl import SSLContext
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, Final, TypeVar

import aiohappyeyeballs
from yarl import URL

from ._protocol import ResponseProtocol
from .abc import AbstractResolver, ResolveResult
from .exceptions import (
    ClientConnectionError,
    ClientConnectorDNSError,
    ClientConnectorError,
    ClientProxyConnectionError,
    ConnectionKey,
    ConnectionTimeoutError,
    UnixClientConnectorError,
)
from .helpers import is_ip_address, sentinel
from .pool import BaseConnector, Connection
from .proxy import TunnelProtocol, open_tunnel, prepare_proxy
from .resolver import DefaultResolver, DNSCache, lookup
from .timeouts import ClientTimeout, Deadline, deadline_at
from .tls import (
    CLEANUP_CLOSED_NEEDED,
    ClosingTLSReaper,
    Fingerprint,
    SSLArg,
    connect_error,
    resolve_ssl_arg,
    shutdown_timeout_arg,
    ssl_context_for,
)

if TYPE_CHECKING:
    from .request import ClientRequest
    from .tracing import Trace

__all__ = (
    "AddrInfoType",
    "BaseConnector",
    "Connection",
    "SocketFactoryType",
    "TCPConnector",
    "UnixConnector",
)

AddrInfoType = aiohappyeyeballs.AddrInfoType
SocketFactoryType = aiohappyeyeballs.SocketFactoryType

_NO_TIMEOUT: Final = ClientTimeout()
_P = TypeVar("_P", bound=asyncio.BaseProtocol)


class TCPConnector(BaseConnector):
    """Connections over TCP, with TLS for https, through the resolver and happy eyeballs, and
    through an HTTP(S) proxy when the request names one."""

    def __init__(
        self,
        *,
        ssl: SSLArg = True,
        verify_ssl: bool = True,
        fingerprint: bytes | None = None,
        use_dns_cache: bool = True,
        ttl_dns_cache: float | None = 10,
        family: int = 0,
        ssl_context: Any = None,
        local_addr: tuple[str, int] | None = None,
        resolver: AbstractResolver | None = None,
        keepalive_timeout: object = sentinel,
        force_close: bool = False,
        limit: int = 100,
        limit_per_host: int = 0,
        enable_cleanup_closed: bool = False,
        timeout_ceil_threshold: float = 5,
        happy_eyeballs_delay: float | None = 0.25,
        interleave: int | None = None,
        loop: asyncio.AbstractEventLoop | None = None,
        socket_factory: SocketFactoryType | None = None,
        ssl_shutdown_timeout: object = sentinel,
    ) -> None:
        super().__init__(
            keepalive_timeout=keepalive_timeout,
            force_close=force_close,
            limit=limit,
            limit_per_host=limit_per_host,
            enable_cleanup_closed=enable_cleanup_closed,
            loop=loop,
            timeout_ceil_threshold=timeout_ceil_threshold,
        )
        self._ssl_shutdown_timeout = shutdown_timeout_arg(ssl_shutdown_timeout)
        self._ssl = resolve_ssl_arg(ssl, None if verify_ssl else False, ssl_context, fingerprint)
        self._resolver_owner = resolver is None
        self._resolver: AbstractResolver = resolver if resolver is not None else DefaultResolver()
        self._use_dns_cache = use_dns_cache
        self._dns = DNSCache(self._resolver, ttl_dns_cache)
        self._family = family
        self._local_addr_infos = (
            aiohappyeyeballs.addr_to_addr_infos(local_addr) if local_addr else None
        )
        self._happy_eyeballs_delay = happy_eyeballs_delay
        self._interleave = interleave
        self._socket_factory = socket_factory
        self._reaper: ClosingTLSReaper | None = None
        self._opened: set[ResponseProtocol] = set()  # until each one's socket is closed
        self._factory = self._make_protocol

    @property
    def family(self) -> int:
        return self._family

    @property
    def dns_cache(self) -> bool:
        return self._use_dns_cache

    @property
    def cached_hosts(self) -> MappingProxyType[tuple[str, int], list[ResolveResult]]:
        return self._dns.hosts()

    def clear_dns_cache(self, host: str | None = None, port: int | None = None) -> None:
        self._dns.clear(host, port)

    @property
    def ssl(self) -> SSLArg:
        return self._ssl

    async def close(self) -> None:
        if self._closed:
            return
        if self._ssl_shutdown_timeout:
            await self._shut_down_tls(self._ssl_shutdown_timeout)
        self._dns.close()
        if self._reaper is not None:
            self._reaper.close()
        await super().close()
        await self._abort_closing()
        if self._resolver_owner:
            await self._resolver.close()

    async def _shut_down_tls(self, grace: float) -> None:
        # ssl_shutdown_timeout > 0: send close_notify and give peers *grace* seconds to answer
        # before the rest of close() aborts whatever is left (RFC 8446 §6.1 closure alerts).
        # The pool's connections and those already closing; an upgraded (WebSocket) one
        # belongs to its response.
        pooled = [p for entries in self._idle.values() for p, _ in entries]
        pooled.extend(self._in_use)
        pooled.extend(p for p in self._opened if p.transport and p.transport.is_closing())
        waiting = []
        for protocol in pooled:
            transport = protocol.transport
            if transport is not None and transport.get_extra_info("ssl_object") is not None:
                protocol.close()
                waiting.append(protocol.closed)
        if waiting:
            await asyncio.wait(waiting, timeout=grace)

    async def _abort_closing(self) -> None:
        # Connections the pool already let go of (released unusable, expired) may still be in
        # their TLS close_notify exchange, which can take a round trip or wait on a silent
        # peer; close() promises that every socket is closed when it returns. Connections that
        # are not closing were detached (upgraded to WebSocket): their owner closes them.
        closing = [p for p in self._opened if p.transport is not None and p.transport.is_closing()]
        for protocol in closing:
            protocol.abort()
        waiting = [p.closed for p in closing if not p.closed.done()]
        if waiting:
            await asyncio.wait(waiting)

    def _track(self, protocol: ResponseProtocol) -> ResponseProtocol:
        opened = self._opened
        opened.add(protocol)
        protocol.closed.add_done_callback(lambda _: opened.discard(protocol))
        return protocol

    def _make_protocol(self) -> ResponseProtocol:
        return ResponseProtocol(asyncio.get_running_loop())

    # --- resolving ----------------------------------------------------------------------------

    async def _resolve_host(
        self, host: str, port: int, traces: Sequence[Trace] = ()
    ) -> list[ResolveResult]:
        if is_ip_address(host):
            family = socket.AF_INET6 if ":" in host else socket.AF_INET
            return [
                ResolveResult(
                    hostname=host,
                    host=host.strip("[]"),
                    port=port,
                    family=family,
                    proto=0,
                    flags=socket.AI_NUMERICHOST,
                )
            ]
        if not self._use_dns_cache:
            return await lookup(self._resolver, host, port, self._family, traces)
        return await self._dns.resolve(host, port, self._family, traces)

    async def _addr_infos(
        self, host: str, port: int, key: ConnectionKey, traces: Sequence[Trace]
    ) -> list[AddrInfoType]:
        try:
            results = await self._resolve_host(host.rstrip(".") or host, port, traces)
        except OSError as exc:
            if isinstance(exc, ConnectionError):
                raise
            raise ClientConnectorDNSError(key, exc) from exc
        return [_addr_info(r) for r in results]

    # --- connecting ---------------------------------------------------------------------------

    async def _create_connection(
        self, req: ClientRequest, traces: Sequence[Trace], timeout: ClientTimeout
    ) -> ResponseProtocol:
        proxy = req.proxy
        if proxy is None:
            url = req.url
            port = url.port or (443 if req.is_ssl else 80)
        else:
            url = proxy
            port = url.port or (443 if url.scheme == "https" else 80)
        host = url.raw_host or ""
        key = req.connection_key
        addr_infos = await self._addr_infos(host, port, key, traces)
        loop = asyncio.get_running_loop()
        when = deadline_at(loop, timeout.sock_connect, timeout.ceil_threshold)
        deadline = Deadline(loop, when) if when is not None else None
        try:
            if deadline is not None:
                with deadline:
                    return self._track(await self._connect(req, key, addr_infos, proxy))
            return self._track(await self._connect(req, key, addr_infos, proxy))
        except asyncio.TimeoutError as exc:
            if deadline is not None and deadline.expired:
                raise ConnectionTimeoutError(f"Connection timeout to host {host}:{port}") from exc
            raise
        finally:
            if deadline is not None:
                deadline.cancel()

    async def _connect(
        self,
        req: ClientRequest,
        key: ConnectionKey,
        addr_infos: list[AddrInfoType],
        proxy: URL | None,
    ) -> ResponseProtocol:
        if proxy is not None:
            return await self._connect_via_proxy(req, key, addr_infos, proxy)
        sock = await self._open_socket(key, addr_infos, ClientConnectorError)
        if not req.is_ssl:
            return (await self._wrap(sock, key, self._factory, ClientConnectorError))[1]
        ssl_arg = self._ssl_for(req)
        _, protocol = await self._wrap(
            sock,
            key,
            self._factory,
            ClientConnectorError,
            ssl_context_for(ssl_arg),
            req.server_hostname or req.host.rstrip("."),
        )
        self._after_tls(protocol, ssl_arg, req)
        return protocol

    async def _connect_via_proxy(
        self, req: ClientRequest, key: ConnectionKey, addr_infos: list[AddrInfoType], proxy: URL
    ) -> ResponseProtocol:
        """An http:// proxy takes absolute-form requests for http targets on this connection;
        https targets get a CONNECT tunnel with TLS to the origin inside it. An https:// proxy
        is the same behind TLS to the proxy (so TLS inside TLS for https targets)."""
        proxy_auth = req.proxy_auth
        if proxy.raw_user is not None:  # a ClientRequest made by hand, not by the session
            proxy, proxy_auth = prepare_proxy(proxy, proxy_auth)
        ssl_arg = self._ssl_for(req)
        proxy_tls = ssl_context_for(ssl_arg) if proxy.scheme == "https" else None
        proxy_host = (proxy.raw_host or "").rstrip(".") if proxy_tls is not None else None
        sock = await self._open_socket(key, addr_infos, ClientProxyConnectionError)
        error = ClientProxyConnectionError
        if not req.needs_tunnel:
            _, protocol = await self._wrap(sock, key, self._factory, error, proxy_tls, proxy_host)
            if proxy_tls is not None:
                self._after_tls(protocol, None, req)
            return protocol
        loop = asyncio.get_running_loop()
        transport, tunnel = await self._wrap(
            sock, key, lambda: TunnelProtocol(loop), error, proxy_tls, proxy_host
        )
        await open_tunnel(tunnel, key, req.url, proxy, proxy_auth, req.proxy_headers)
        if req.is_ssl:
            return await self._start_tls(transport, req, key, ssl_arg)
        # A plain tunnel (an Upgrade to ws://): the origin speaks on it directly.
        protocol = self._factory()
        transport.set_protocol(protocol)
        protocol.connection_made(transport)
        # Its key is the same as for absolute-form requests through this proxy, which must never
        # land on a tunnel to one origin: keep it out of the pool.
        protocol.should_close = True
        return protocol

    def _ssl_for(self, req: ClientRequest) -> SSLArg:
        return req.ssl if req.ssl is not True else self._ssl

    async def _open_socket(
        self,
        key: ConnectionKey,
        addr_infos: list[AddrInfoType],
        error: type[ClientConnectorError],
    ) -> socket.socket:
        try:
            sock = await aiohappyeyeballs.start_connection(
                addr_infos,
                local_addr_infos=self._local_addr_infos,
                happy_eyeballs_delay=self._happy_eyeballs_delay,
                interleave=self._interleave,
                loop=asyncio.get_running_loop(),
                socket_factory=self._socket_factory,
            )
        except OSError as exc:
            if exc.errno is None and isinstance(exc, asyncio.TimeoutError):
                raise
            raise error(key, exc) from exc
        # No Nagle: a request's pieces go out as they are written. asyncio turns it off only
        # for sockets whose proto field says TCP, and ours often say 0 (an IP literal's address
        # info, a resolver that leaves it out): with Nagle on, the last partial segment of a
        # body waits for the server's ACK of the data before it.
        if sock.family in (socket.AF_INET, socket.AF_INET6):
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return sock

    async def _wrap(
        self,
        sock: socket.socket,
        key: ConnectionKey,
        factory: Callable[[], _P],
        error: type[ClientConnectorError],
        sslcontext: SSLContext | None = None,
        server_hostname: str | None = None,
    ) -> tuple[asyncio.Transport, _P]:
        """The connected socket as a transport (after the TLS handshake, with *sslcontext*)."""
        loop = asyncio.get_running_loop()
        try:
            return await loop.create_connection(
                factory, sock=sock, ssl=sslcontext, server_hostname=server_hostname
            )
        except BaseException as exc:
            sock.close()
            raise connect_error(key, exc, error) from exc

    async def _start_tls(
        self, transport: asyncio.Transport, req: ClientRequest, key: ConnectionKey, ssl_arg: SSLArg
    ) -> ResponseProtocol:
        """TLS to the origin over an open tunnel (which may itself run over TLS to the proxy)."""
        loop = asyncio.get_running_loop()
        protocol = self._factory()
        try:
            tls_transport = await loop.start_tls(
                transport,
                protocol,
                ssl_context_for(ssl_arg),
                server_hostname=req.server_hostname or req.host.rstrip("."),
            )
        except BaseException as exc:
            transport.abort()
            if isinstance(exc, TypeError):  # asyncio before 3.11 has no TLS over a TLS transport
                raise ClientConnectionError(
                    "An https:// proxy to an https:// origin needs Python 3.11 or later"
                ) from exc
            raise connect_error(key, exc, ClientConnectorError) from exc
        if tls_transport is None:
            transport.abort()
            raise ClientConnectorError(key, ConnectionResetError("Tunnel closed during TLS setup"))
        # start_tls leaves connection_made to the caller.
        protocol.connection_made(tls_transport)
        self._after_tls(protocol, ssl_arg, req)
        return protocol

    def _after_tls(
        self, protocol: ResponseProtocol, ssl_arg: SSLArg | None, req: ClientRequest
    ) -> None:
        transport = protocol.transport
        if isinstance(ssl_arg, Fingerprint):
            ssl_obj = transport.get_extra_info("ssl_object") if transport is not None else None
            der = ssl_obj.getpeercert(binary_form=True) if ssl_obj is not None else None
            try:
                ssl_arg.check(der, req.host, int(req.url.port or 443))
            except BaseException:
                protocol.abort()
                raise
        if self._enable_cleanup_closed and CLEANUP_CLOSED_NEEDED:
            reaper = self._reaper
            if reaper is None:
                reaper = self._reaper = ClosingTLSReaper(asyncio.get_running_loop())
            reaper.track(protocol)


def _addr_info(r: ResolveResult) -> AddrInfoType:
    if r["family"] == socket.AF_INET6:
        return (socket.AF_INET6, socket.SOCK_STREAM, r["proto"], "", (r["host"], r["port"], 0, 0))
    return (r["family"], socket.SOCK_STREAM, r["proto"], "", (r["host"], r["port"]))


class UnixConnector(BaseConnector):
    """Connections over a Unix domain socket; the URL's host only fills the Host header."""

    def __init__(
        self,
        path: str,
        *,
        conn_timeout: float | None = None,
        force_close: bool = False,
        keepalive_timeout: object = sentinel,
        limit: int = 100,
        limit_per_host: int = 0,
        loop: asyncio.AbstractEventLoop | None = None,
    ) -> None:
        if conn_timeout is not None:
            warnings.warn(
                "conn_timeout is deprecated, use ClientTimeout(connect=...)",
                DeprecationWarning,
                stacklevel=2,
            )
        if keepalive_timeout is sentinel and not force_close:
            keepalive_timeout = 30.0  # the reference's default for Unix sockets
        super().__init__(
            force_close=force_close,
            keepalive_timeout=keepalive_timeout,
            limit=limit,
            limit_per_host=limit_per_host,
            loop=loop,
        )
        self._path = path

    @property
    def path(self) -> str:
        return self._path

    async def _create_connection(
        self, req: ClientRequest, traces: Sequence[Trace], timeout: ClientTimeout
    ) -> ResponseProtocol:
        loop = asyncio.get_running_loop()
        when = deadline_at(loop, timeout.sock_connect, timeout.ceil_threshold)
        deadline = Deadline(loop, when) if when is not None else None
        factory: Callable[[], ResponseProtocol] = lambda: ResponseProtocol(loop)  # noqa: E731
        try:
            if deadline is not None:
                with deadline:
                    _, protocol = await loop.create_unix_connection(factory, self._path)
            else:
                _, protocol = await loop.create_unix_connection(factory, self._path)
        except asyncio.TimeoutError as exc:
            if deadline is not None and deadline.expired:
                raise ConnectionTimeoutError(f"Connection timeout to {self._path}") from exc
            raise
        except OSError as exc:
            raise UnixClientConnectorError(self._path, req.connection_key, exc) from exc
        finally:
            if deadline is not None:
                deadline.cancel()
        return protocol
