"""The connection pool shared by every connector: keep-alive reuse, limits, and waiters.

Pool rules: idle connections are reused newest first (the newest is the least likely to have
been closed by the server's idle timer), expire after ``keepalive_timeout``, and are checked for
a server-side close before reuse. Limits count connections in use *and* being opened; waiters
are served in arrival order. Every change to the counts happens synchronously before an
``await``, so a cancelled waiter or connect never leaks a slot.
"""

from __future__ import annotations

import asyncio
import sys
import traceback
import warnings
from collections import deque
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Final

from ._protocol import ResponseProtocol
from .exceptions import ClientConnectionError, ConnectionKey, ConnectionTimeoutError
from .helpers import caller_location, location_text, sentinel
from .timeouts import ClientTimeout, Deadline, deadline_at

if TYPE_CHECKING:
    from .request import ClientRequest
    from .tracing import Trace

__all__ = ("BaseConnector", "Connection")

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
            self._connector._release(self._key, protocol, False)

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
        # The protocol saw the end of the response (or the socket's end): release() or close().
        protocol = self._protocol
        if protocol is not None:
            self._protocol = None
            self._connector._release(self._key, protocol, not reusable)


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
        # Connections handed to another protocol (WebSocket) still end with the connector.
        self._detached: set[ResponseProtocol] = set()
        self._waiters: deque[tuple[ConnectionKey, asyncio.Future[None]]] = deque()
        self._cleanup_handle: asyncio.TimerHandle | None = None
        self._opening: set[asyncio.Future[Any]] = set()
        self._source_traceback = (
            traceback.extract_stack(sys._getframe(1))
            if loop is not None and loop.get_debug()
            else None
        )
        self._created_at = location_text(caller_location())

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
        protocols.extend(self._detached)
        self._idle.clear()
        self._in_use.clear()
        self._detached.clear()
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
        key = req._connection_key
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
        if not protocol.closed.done():
            self._detached.add(protocol)
            protocol.closed.add_done_callback(lambda _: self._detached.discard(protocol))
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
        # close() cancels connects in progress; the caller then gets a ClientConnectionError.
        task = asyncio.current_task(loop)
        if task is not None:
            self._opening.add(task)
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
        except asyncio.CancelledError:
            if has_slot:
                self._free_slot(key)
            if self._closed and task is not None and _cancelled_only_by_us(task):
                raise ClientConnectionError("Connector is closed") from None
            raise
        except BaseException:
            if has_slot:
                self._free_slot(key)
            raise
        finally:
            if task is not None:
                self._opening.discard(task)
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


def _cancelled_only_by_us(task: asyncio.Task[Any]) -> bool:
    """Take back close()'s cancel; False if someone else cancelled the task too."""
    if sys.version_info >= (3, 11):
        return task.uncancel() == 0
    return True
