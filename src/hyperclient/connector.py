"""Connectors: the keep-alive pool, connection limits, and opening new connections.

Pool rules: idle connections are reused newest first (the newest is the least likely to have
been closed by the server's idle timer), expire after ``keepalive_timeout``, and are checked for
a server-side close before reuse. Limits count connections in use *and* being opened; waiters
are served in arrival order. Every change to the counts happens synchronously before an
``await``, so a cancelled waiter or connect never leaks a slot.
"""

from __future__ import annotations

import asyncio
import socket
import sys
import traceback
import warnings
from collections import deque
from collections.abc import Callable, Sequence
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, Final

import aiohappyeyeballs

from ._protocol import ResponseProtocol
from .abc import AbstractResolver, ResolveResult
from .exceptions import (
    ClientConnectionError,
    ClientConnectorDNSError,
    ClientConnectorError,
    ConnectionKey,
    ConnectionTimeoutError,
    UnixClientConnectorError,
)
from .helpers import is_ip_address, sentinel
from .resolver import DefaultResolver
from .timeouts import ClientTimeout, Deadline, deadline_at
from .tls import Fingerprint, SSLArg, resolve_ssl_arg, ssl_context_for, tls_error

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


class Connection:
    """One connection lent by a connector to one request."""

    __slots__ = ("__weakref__", "_connector", "_key", "_loop", "_protocol")

    def __init__(
        self,
        connector: BaseConnector,
        key: ConnectionKey,
        protocol: ResponseProtocol,
        loop: asyncio.AbstractEventLoop,
    ) -> None:
        self._connector = connector
        self._key = key
        self._protocol: ResponseProtocol | None = protocol
        self._loop = loop

    def __repr__(self) -> str:
        return f"Connection<{self._key}>"

    @property
    def loop(self) -> asyncio.AbstractEventLoop:
        warnings.warn("connection.loop is deprecated", DeprecationWarning, stacklevel=2)
        return self._loop

    @property
    def transport(self) -> asyncio.Transport | None:
        return self._protocol.transport if self._protocol is not None else None

    @property
    def protocol(self) -> ResponseProtocol | None:
        return self._protocol

    @property
    def closed(self) -> bool:
        return self._protocol is None or self._protocol.transport is None

    def release(self) -> None:
        """Give the connection back to the pool (closed instead if it cannot be reused)."""
        protocol = self._protocol
        if protocol is not None:
            self._protocol = None
            self._connector._release(self._key, protocol, not protocol.is_reusable())

    def close(self) -> None:
        """Close the socket and free the connector's slot."""
        protocol = self._protocol
        if protocol is not None:
            self._protocol = None
            self._connector._release(self._key, protocol, True)

    def detach(self) -> None:
        """Stop counting the connection against the limits without closing it (upgrades)."""
        protocol = self._protocol
        if protocol is not None:
            self._protocol = None
            self._connector._detach(self._key, protocol)

    def _message_done(self, reusable: bool) -> None:
        # The protocol saw the end of the response (or the socket's end).
        if reusable:
            self.release()
        else:
            self.close()


class BaseConnector:
    """The pool and its limits; subclasses open the connections (``_create_connection``)."""

    def __init__(
        self,
        *,
        keepalive_timeout: object = sentinel,
        force_close: bool = False,
        limit: int = 100,
        limit_per_host: int = 0,
        enable_cleanup_closed: bool = False,
        loop: asyncio.AbstractEventLoop | None = None,
        timeout_ceil_threshold: float = 5,
    ) -> None:
        if force_close:
            if keepalive_timeout is not None and keepalive_timeout is not sentinel:
                raise ValueError("keepalive_timeout cannot be set if force_close is True")
            keepalive: float | None = None
        else:
            keepalive = 15.0 if keepalive_timeout is sentinel else keepalive_timeout  # type: ignore[assignment]
        if loop is None:
            try:
                loop = asyncio.get_running_loop()
            except RuntimeError:
                loop = None
        self._loop_arg = loop
        self._keepalive_timeout = keepalive
        self._force_close = force_close
        self._limit = limit
        self._limit_per_host = limit_per_host
        self._enable_cleanup_closed = enable_cleanup_closed
        self._timeout_ceil_threshold = timeout_ceil_threshold
        self._closed = False
        self._idle: dict[ConnectionKey, list[tuple[ResponseProtocol, float]]] = {}
        self._active = 0
        self._active_per_key: dict[ConnectionKey, int] = {}
        self._in_use: set[ResponseProtocol] = set()
        self._waiters: deque[tuple[ConnectionKey, asyncio.Future[None]]] = deque()
        self._cleanup_handle: asyncio.TimerHandle | None = None
        self._opening: set[asyncio.Future[Any]] = set()
        self._source_traceback = (
            traceback.extract_stack(sys._getframe(1))
            if loop is not None and loop.get_debug()
            else None
        )
        self._created_at = _caller_location()

    # --- public surface -----------------------------------------------------------------------

    @property
    def closed(self) -> bool:
        return self._closed

    @property
    def force_close(self) -> bool:
        return self._force_close

    @property
    def limit(self) -> int:
        return self._limit

    @property
    def limit_per_host(self) -> int:
        return self._limit_per_host

    def __del__(self, _warnings: Any = warnings) -> None:
        if self._closed or not (self._idle or self._in_use):
            return
        _warnings.warn(
            f"Unclosed connector {self!r} created at {self._created_at}",
            ResourceWarning,
            source=self,
        )

    async def __aenter__(self) -> BaseConnector:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def close(self) -> None:
        """Close every connection, idle or in use, and return when all sockets are closed."""
        if self._closed:
            return
        self._closed = True
        if self._cleanup_handle is not None:
            self._cleanup_handle.cancel()
            self._cleanup_handle = None
        protocols = [p for entries in self._idle.values() for p, _ in entries]
        protocols.extend(self._in_use)
        self._idle.clear()
        self._in_use.clear()
        for fut in self._opening:
            fut.cancel()
        for _, waiter in self._waiters:
            if not waiter.done():
                waiter.set_exception(ClientConnectionError("Connector is closed"))
        self._waiters.clear()
        for protocol in protocols:
            # abort(): a TLS close_notify exchange could wait on the peer (ssl_shutdown_timeout=0
            # semantics), and in-use sockets may hold unsent data nobody wants any more.
            protocol.abort()
        pending = [p.closed for p in protocols if not p.closed.done()]
        if pending:
            await asyncio.wait(pending)

    async def connect(
        self,
        req: ClientRequest,
        traces: Sequence[Trace] = (),
        timeout: ClientTimeout = _NO_TIMEOUT,
        *,
        fresh: bool = False,
    ) -> Connection:
        """A connection for *req*: an idle one from the pool (unless *fresh*), or a new one."""
        if self._closed:
            raise ClientConnectionError("Connector is closed")
        key = req.connection_key
        loop = asyncio.get_running_loop()
        if self._has_slot(key):
            self._take_slot(key)
            protocol = None if fresh else self._pop_idle(key, loop)
            if protocol is not None:
                self._in_use.add(protocol)
                if traces:
                    for trace in traces:
                        await trace.send_connection_reuseconn()
                return Connection(self, key, protocol, loop)
            return await self._open(req, key, traces, timeout, loop, waited=False)
        return await self._open(req, key, traces, timeout, loop, waited=True)

    def _acquire_idle(self, req: ClientRequest) -> Connection | None:
        """The pool-hit case of connect(), without a coroutine: an idle connection for *req*
        if one is free and a slot is available, else None (then connect() does the rest)."""
        if self._closed:
            return None
        key = req.connection_key
        if not self._idle.get(key) or not self._has_slot(key):
            return None
        loop = asyncio.get_running_loop()
        protocol = self._pop_idle(key, loop)
        if protocol is None:
            return None
        self._take_slot(key)
        self._in_use.add(protocol)
        return Connection(self, key, protocol, loop)

    # --- slots and waiters ----------------------------------------------------------------------

    def _has_slot(self, key: ConnectionKey) -> bool:
        if self._limit and self._active >= self._limit:
            return False
        if self._limit_per_host and self._active_per_key.get(key, 0) >= self._limit_per_host:
            return False
        return not self._waiters

    def _take_slot(self, key: ConnectionKey) -> None:
        self._active += 1
        if self._limit_per_host:
            self._active_per_key[key] = self._active_per_key.get(key, 0) + 1

    def _free_slot(self, key: ConnectionKey) -> None:
        self._active -= 1
        if self._limit_per_host:
            left = self._active_per_key[key] - 1
            if left:
                self._active_per_key[key] = left
            else:
                del self._active_per_key[key]
        if self._waiters:
            self._wake_waiters()

    def _wake_waiters(self) -> None:
        # Hand freed slots to waiters in arrival order; a waiter whose host is at its own limit
        # is passed over (it would block others for no reason) and keeps its place.
        waiters = self._waiters
        skipped: list[tuple[ConnectionKey, asyncio.Future[None]]] = []
        while waiters and not (self._limit and self._active >= self._limit):
            key, waiter = waiters.popleft()
            if waiter.done():
                continue
            if self._limit_per_host and self._active_per_key.get(key, 0) >= self._limit_per_host:
                skipped.append((key, waiter))
                continue
            self._take_slot(key)
            waiter.set_result(None)
        waiters.extendleft(reversed(skipped))

    async def _wait_for_slot(self, key: ConnectionKey, traces: Sequence[Trace]) -> None:
        waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        entry = (key, waiter)
        self._waiters.append(entry)
        if traces:
            for trace in traces:
                await trace.send_connection_queued_start()
        try:
            await waiter
        except BaseException:
            if waiter.done() and not waiter.cancelled() and waiter.exception() is None:
                # Woken with a slot, then cancelled before using it: pass the slot on.
                self._free_slot(key)
            else:
                try:
                    self._waiters.remove(entry)
                except ValueError:
                    pass
            raise
        if traces:
            for trace in traces:
                await trace.send_connection_queued_end()

    # --- the idle pool ------------------------------------------------------------------------

    def _pop_idle(
        self, key: ConnectionKey, loop: asyncio.AbstractEventLoop
    ) -> ResponseProtocol | None:
        entries = self._idle.get(key)
        if not entries:
            return None
        keepalive = self._keepalive_timeout
        now = loop.time()
        while entries:
            protocol, released_at = entries.pop()
            if protocol.is_reusable() and (keepalive is None or now - released_at <= keepalive):
                if not entries:
                    del self._idle[key]
                return protocol
            protocol.close()
        del self._idle[key]
        return None

    def _release(self, key: ConnectionKey, protocol: ResponseProtocol, should_close: bool) -> None:
        self._in_use.discard(protocol)
        if self._closed:
            protocol.abort()
            return
        protocol.on_done = None
        if should_close or self._force_close or not protocol.is_reusable():
            protocol.close()
        else:
            loop = protocol._loop
            self._idle.setdefault(key, []).append((protocol, loop.time()))
            if self._cleanup_handle is None and self._keepalive_timeout:
                self._schedule_cleanup(loop)
        self._free_slot(key)

    def _detach(self, key: ConnectionKey, protocol: ResponseProtocol) -> None:
        self._in_use.discard(protocol)
        self._free_slot(key)

    def _schedule_cleanup(self, loop: asyncio.AbstractEventLoop) -> None:
        keepalive = self._keepalive_timeout
        assert keepalive
        when = deadline_at(loop, keepalive, self._timeout_ceil_threshold)
        assert when is not None
        self._cleanup_handle = loop.call_at(when, self._cleanup, loop)

    def _cleanup(self, loop: asyncio.AbstractEventLoop) -> None:
        # Close connections idle past keepalive_timeout, so sockets do not linger until the
        # next request for their host happens to look at them.
        self._cleanup_handle = None
        keepalive = self._keepalive_timeout
        if self._closed or not keepalive:
            return
        now = loop.time()
        for key in list(self._idle):
            alive = []
            for protocol, released_at in self._idle[key]:
                if protocol.is_reusable() and now - released_at < keepalive:
                    alive.append((protocol, released_at))
                else:
                    protocol.close()
            if alive:
                self._idle[key] = alive
            else:
                del self._idle[key]
        if self._idle:
            self._schedule_cleanup(loop)

    # --- opening ------------------------------------------------------------------------------

    async def _open(
        self,
        req: ClientRequest,
        key: ConnectionKey,
        traces: Sequence[Trace],
        timeout: ClientTimeout,
        loop: asyncio.AbstractEventLoop,
        waited: bool,
    ) -> Connection:
        when = deadline_at(loop, timeout.connect, timeout.ceil_threshold)
        deadline = Deadline(loop, when) if when is not None else None
        has_slot = not waited
        try:
            try:
                if deadline is not None:
                    with deadline:
                        protocol = await self._slot_then_connect(req, key, traces, timeout, waited)
                else:
                    protocol = await self._slot_then_connect(req, key, traces, timeout, waited)
                has_slot = True
            finally:
                if deadline is not None:
                    deadline.cancel()
        except asyncio.TimeoutError as exc:
            if has_slot:
                self._free_slot(key)
            if deadline is not None and deadline.expired:
                raise ConnectionTimeoutError(
                    f"Connection timeout to host {req.url.host}:{req.url.port}"
                ) from exc
            raise
        except BaseException:
            if has_slot:
                self._free_slot(key)
            raise
        if self._closed:
            protocol.abort()
            self._free_slot(key)
            raise ClientConnectionError("Connector is closed")
        self._in_use.add(protocol)
        return Connection(self, key, protocol, loop)

    async def _slot_then_connect(
        self,
        req: ClientRequest,
        key: ConnectionKey,
        traces: Sequence[Trace],
        timeout: ClientTimeout,
        waited: bool,
    ) -> ResponseProtocol:
        if waited:
            await self._wait_for_slot(key, traces)
            try:
                protocol = self._pop_idle(key, asyncio.get_running_loop())
                if protocol is not None:
                    if traces:
                        for trace in traces:
                            await trace.send_connection_reuseconn()
                    return protocol
            except BaseException:
                self._free_slot(key)
                raise
        try:
            if traces:
                for trace in traces:
                    await trace.send_connection_create_start()
            protocol = await self._create_connection(req, traces, timeout)
            if traces:
                for trace in traces:
                    await trace.send_connection_create_end()
        except BaseException:
            if waited:
                self._free_slot(key)
            raise
        return protocol

    async def _create_connection(
        self, req: ClientRequest, traces: Sequence[Trace], timeout: ClientTimeout
    ) -> ResponseProtocol:
        raise NotImplementedError


class TCPConnector(BaseConnector):
    """Connections over TCP, with TLS for https, through the resolver and happy eyeballs."""

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
        if ssl_shutdown_timeout is not sentinel:
            warnings.warn("ssl_shutdown_timeout is deprecated", DeprecationWarning, stacklevel=2)
        self._ssl = resolve_ssl_arg(ssl, None if verify_ssl else False, ssl_context, fingerprint)
        self._resolver: AbstractResolver = resolver if resolver is not None else DefaultResolver()
        self._use_dns_cache = use_dns_cache
        self._ttl_dns_cache = ttl_dns_cache
        self._cached: dict[tuple[str, int], tuple[list[ResolveResult], float | None]] = {}
        self._resolving: dict[tuple[str, int], asyncio.Future[list[ResolveResult]]] = {}
        self._family = family
        self._local_addr_infos = (
            aiohappyeyeballs.addr_to_addr_infos(local_addr) if local_addr else None
        )
        self._happy_eyeballs_delay = happy_eyeballs_delay
        self._interleave = interleave
        self._socket_factory = socket_factory
        self._factory = self._make_protocol

    @property
    def family(self) -> int:
        return self._family

    @property
    def dns_cache(self) -> bool:
        return self._use_dns_cache

    @property
    def cached_hosts(self) -> MappingProxyType[tuple[str, int], list[ResolveResult]]:
        return MappingProxyType({k: v[0] for k, v in self._cached.items()})

    def clear_dns_cache(self, host: str | None = None, port: int | None = None) -> None:
        if host is not None and port is not None:
            self._cached.pop((host, port), None)
        elif host is not None or port is not None:
            raise ValueError("either both host and port or none of them are allowed")
        else:
            self._cached.clear()

    @property
    def ssl(self) -> SSLArg:
        return self._ssl

    async def close(self) -> None:
        for fut in self._resolving.values():
            fut.cancel()
        await super().close()
        if self._resolver is not None:
            await self._resolver.close()

    def _make_protocol(self) -> ResponseProtocol:
        return ResponseProtocol(asyncio.get_running_loop())

    # --- resolving ----------------------------------------------------------------------------

    async def _resolve_host(
        self, host: str, port: int, traces: Sequence[Trace]
    ) -> list[ResolveResult]:
        if is_ip_address(host):
            family = socket.AF_INET6 if ":" in host else socket.AF_INET
            return [
                ResolveResult(
                    hostname=host,
                    host=host,
                    port=port,
                    family=family,
                    proto=0,
                    flags=socket.AI_NUMERICHOST,
                )
            ]
        if not self._use_dns_cache:
            return await self._lookup(host, port, traces)
        key = (host, port)
        loop = asyncio.get_running_loop()
        cached = self._cached.get(key)
        if cached is not None:
            results, expires = cached
            if expires is None or loop.time() < expires:
                if traces:
                    for trace in traces:
                        await trace.send_dns_cache_hit(host)
                return results
            del self._cached[key]
        if traces:
            for trace in traces:
                await trace.send_dns_cache_miss(host)
        pending = self._resolving.get(key)
        if pending is not None:
            # Concurrent requests for one host share one lookup.
            return await asyncio.shield(pending)
        fut: asyncio.Future[list[ResolveResult]] = loop.create_future()
        self._resolving[key] = fut
        try:
            results = await self._lookup(host, port, traces)
        except BaseException as exc:
            if not fut.done():
                if isinstance(exc, Exception):
                    fut.set_exception(exc)
                else:
                    fut.cancel()
            fut.exception() if not fut.cancelled() else None  # mark retrieved
            raise
        else:
            ttl = self._ttl_dns_cache
            self._cached[key] = (results, loop.time() + ttl if ttl else None)
            fut.set_result(results)
            return results
        finally:
            self._resolving.pop(key, None)

    async def _lookup(self, host: str, port: int, traces: Sequence[Trace]) -> list[ResolveResult]:
        if traces:
            for trace in traces:
                await trace.send_dns_resolvehost_start(host)
        results = await self._resolver.resolve(
            host, port, family=socket.AddressFamily(self._family)
        )
        if traces:
            for trace in traces:
                await trace.send_dns_resolvehost_end(host)
        return results

    # --- connecting ---------------------------------------------------------------------------

    async def _create_connection(
        self, req: ClientRequest, traces: Sequence[Trace], timeout: ClientTimeout
    ) -> ResponseProtocol:
        key = req.connection_key
        url = req.url
        host = url.raw_host or ""
        port = url.port or (443 if req.is_ssl else 80)
        try:
            results = await self._resolve_host(host.rstrip(".") or host, port, traces)
        except OSError as exc:
            if isinstance(exc, ConnectionError):
                raise
            raise ClientConnectorDNSError(key, exc) from exc
        addr_infos = [_addr_info(r) for r in results]
        loop = asyncio.get_running_loop()
        when = deadline_at(loop, timeout.sock_connect, timeout.ceil_threshold)
        deadline = Deadline(loop, when) if when is not None else None
        try:
            if deadline is not None:
                with deadline:
                    return await self._connect_socket(req, key, addr_infos, host)
            return await self._connect_socket(req, key, addr_infos, host)
        except asyncio.TimeoutError as exc:
            if deadline is not None and deadline.expired:
                raise ConnectionTimeoutError(f"Connection timeout to host {host}:{port}") from exc
            raise
        finally:
            if deadline is not None:
                deadline.cancel()

    async def _connect_socket(
        self, req: ClientRequest, key: ConnectionKey, addr_infos: list[AddrInfoType], host: str
    ) -> ResponseProtocol:
        loop = asyncio.get_running_loop()
        try:
            sock = await aiohappyeyeballs.start_connection(
                addr_infos,
                local_addr_infos=self._local_addr_infos,
                happy_eyeballs_delay=self._happy_eyeballs_delay,
                interleave=self._interleave,
                loop=loop,
                socket_factory=self._socket_factory,
            )
        except OSError as exc:
            if exc.errno is None and isinstance(exc, asyncio.TimeoutError):
                raise
            raise ClientConnectorError(key, exc) from exc
        sslcontext = None
        server_hostname = None
        ssl_arg = req.ssl if req.ssl is not True else self._ssl
        if req.is_ssl:
            sslcontext = ssl_context_for(ssl_arg)
            server_hostname = req.server_hostname or host.rstrip(".")
        try:
            _, protocol = await loop.create_connection(
                self._factory,
                sock=sock,
                ssl=sslcontext,
                server_hostname=server_hostname,
            )
        except BaseException as exc:
            sock.close()
            mapped = tls_error(key, exc)
            if mapped is not None:
                raise mapped from exc
            if isinstance(exc, OSError) and not isinstance(exc, asyncio.TimeoutError):
                raise ClientConnectorError(key, exc) from exc
            raise
        if isinstance(ssl_arg, Fingerprint) and req.is_ssl:
            transport = protocol.transport
            ssl_obj = transport.get_extra_info("ssl_object") if transport is not None else None
            der = ssl_obj.getpeercert(binary_form=True) if ssl_obj is not None else None
            try:
                ssl_arg.check(der, host, int(req.url.port or 443))
            except BaseException:
                protocol.abort()
                raise
        return protocol


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


def _caller_location() -> str:
    """file:line of the first caller outside this package, for "unclosed" warnings."""
    frame = sys._getframe(1)
    package_dir = __file__.rpartition("/")[0]
    while frame is not None and frame.f_code.co_filename.startswith(package_dir):
        frame = frame.f_back  # type: ignore[assignment]
    if frame is None:
        return "<unknown>"
    return f"{frame.f_code.co_filename}:{frame.f_lineno}"
