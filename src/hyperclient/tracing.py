"""Client tracing: TraceConfig, its signals and params, and the per-request Trace.

A session built with ``trace_configs`` creates one :class:`Trace` per config for each request;
a session without them creates none, so the request path only ever tests an empty list.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable, Iterator, MutableSequence
from dataclasses import dataclass
from types import SimpleNamespace
from typing import Any, Generic, TypeVar, overload

from multidict import CIMultiDict
from yarl import URL

__all__ = (
    "Signal",
    "Trace",
    "TraceConfig",
    "TraceConnectionCreateEndParams",
    "TraceConnectionCreateStartParams",
    "TraceConnectionQueuedEndParams",
    "TraceConnectionQueuedStartParams",
    "TraceConnectionReuseconnParams",
    "TraceDnsCacheHitParams",
    "TraceDnsCacheMissParams",
    "TraceDnsResolveHostEndParams",
    "TraceDnsResolveHostStartParams",
    "TraceRequestChunkSentParams",
    "TraceRequestEndParams",
    "TraceRequestExceptionParams",
    "TraceRequestHeadersSentParams",
    "TraceRequestRedirectParams",
    "TraceRequestStartParams",
    "TraceResponseChunkReceivedParams",
)

_P = TypeVar("_P")
_T = TypeVar("_T")

# The session is typed loosely: tracing.py must not import session.py (session imports us).
TraceHandler = Callable[[Any, Any, _P], Awaitable[None]]


class Signal(MutableSequence[_T]):
    """A list of handlers that becomes read-only once frozen.

    Freezing protects a session's configs from edits while requests are using them.
    """

    __slots__ = ("_frozen", "_items")

    def __init__(self, items: Iterable[_T] = ()) -> None:
        self._items: list[_T] = list(items)
        self._frozen = False

    @property
    def frozen(self) -> bool:
        return self._frozen

    def freeze(self) -> None:
        self._frozen = True

    def _check_mutable(self) -> None:
        if self._frozen:
            raise RuntimeError("Cannot modify a frozen signal")

    @overload
    def __getitem__(self, index: int) -> _T: ...
    @overload
    def __getitem__(self, index: slice) -> MutableSequence[_T]: ...
    def __getitem__(self, index: int | slice) -> _T | MutableSequence[_T]:
        return self._items[index]

    @overload
    def __setitem__(self, index: int, value: _T) -> None: ...
    @overload
    def __setitem__(self, index: slice, value: Iterable[_T]) -> None: ...
    def __setitem__(self, index: int | slice, value: Any) -> None:
        self._check_mutable()
        self._items[index] = value

    def __delitem__(self, index: int | slice) -> None:
        self._check_mutable()
        del self._items[index]

    def __len__(self) -> int:
        return len(self._items)

    def __iter__(self) -> Iterator[_T]:
        return iter(self._items)

    def insert(self, index: int, value: _T) -> None:
        self._check_mutable()
        self._items.insert(index, value)

    def __eq__(self, other: object) -> bool:
        return list(self) == other

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"<Signal frozen={self._frozen} {self._items!r}>"


class _TraceSignal(Signal[TraceHandler[_P]], Generic[_P]):
    __slots__ = ()

    async def send(self, session: Any, trace_config_ctx: Any, params: _P) -> None:
        """Await each handler in order; an exception from one stops the rest and propagates."""
        for handler in self._items:
            await handler(session, trace_config_ctx, params)


# --------------------------------------------------------------------------- params


@dataclass(frozen=True, slots=True)
class TraceRequestStartParams:
    method: str
    url: URL
    headers: CIMultiDict[str]


@dataclass(frozen=True, slots=True)
class TraceRequestHeadersSentParams:
    method: str
    url: URL
    headers: CIMultiDict[str]


@dataclass(frozen=True, slots=True)
class TraceRequestChunkSentParams:
    method: str
    url: URL
    chunk: bytes


@dataclass(frozen=True, slots=True)
class TraceResponseChunkReceivedParams:
    method: str
    url: URL
    chunk: bytes


@dataclass(frozen=True, slots=True)
class TraceRequestRedirectParams:
    method: str
    url: URL
    headers: CIMultiDict[str]
    response: Any  # ClientResponse; Any keeps tracing.py free of an import cycle


@dataclass(frozen=True, slots=True)
class TraceRequestEndParams:
    method: str
    url: URL
    headers: CIMultiDict[str]
    response: Any  # ClientResponse


@dataclass(frozen=True, slots=True)
class TraceRequestExceptionParams:
    method: str
    url: URL
    headers: CIMultiDict[str]
    exception: BaseException


@dataclass(frozen=True, slots=True)
class TraceConnectionQueuedStartParams:
    pass


@dataclass(frozen=True, slots=True)
class TraceConnectionQueuedEndParams:
    pass


@dataclass(frozen=True, slots=True)
class TraceConnectionCreateStartParams:
    pass


@dataclass(frozen=True, slots=True)
class TraceConnectionCreateEndParams:
    pass


@dataclass(frozen=True, slots=True)
class TraceConnectionReuseconnParams:
    pass


@dataclass(frozen=True, slots=True)
class TraceDnsResolveHostStartParams:
    host: str


@dataclass(frozen=True, slots=True)
class TraceDnsResolveHostEndParams:
    host: str


@dataclass(frozen=True, slots=True)
class TraceDnsCacheHitParams:
    host: str


@dataclass(frozen=True, slots=True)
class TraceDnsCacheMissParams:
    host: str


# The argument-less params carry no data, so one shared instance of each serves every request.
_QUEUED_START = TraceConnectionQueuedStartParams()
_QUEUED_END = TraceConnectionQueuedEndParams()
_CREATE_START = TraceConnectionCreateStartParams()
_CREATE_END = TraceConnectionCreateEndParams()
_REUSECONN = TraceConnectionReuseconnParams()


# --------------------------------------------------------------------------- config


class TraceConfig:
    """The handlers to call at each step of a request, and the factory of their context."""

    def __init__(self, trace_config_ctx_factory: Callable[..., Any] = SimpleNamespace) -> None:
        self._trace_config_ctx_factory = trace_config_ctx_factory
        self.on_request_start: _TraceSignal[TraceRequestStartParams] = _TraceSignal()
        self.on_request_headers_sent: _TraceSignal[TraceRequestHeadersSentParams] = _TraceSignal()
        self.on_request_chunk_sent: _TraceSignal[TraceRequestChunkSentParams] = _TraceSignal()
        self.on_response_chunk_received: _TraceSignal[TraceResponseChunkReceivedParams] = (
            _TraceSignal()
        )
        self.on_request_redirect: _TraceSignal[TraceRequestRedirectParams] = _TraceSignal()
        self.on_request_end: _TraceSignal[TraceRequestEndParams] = _TraceSignal()
        self.on_request_exception: _TraceSignal[TraceRequestExceptionParams] = _TraceSignal()
        self.on_connection_queued_start: _TraceSignal[TraceConnectionQueuedStartParams] = (
            _TraceSignal()
        )
        self.on_connection_queued_end: _TraceSignal[TraceConnectionQueuedEndParams] = _TraceSignal()
        self.on_connection_create_start: _TraceSignal[TraceConnectionCreateStartParams] = (
            _TraceSignal()
        )
        self.on_connection_create_end: _TraceSignal[TraceConnectionCreateEndParams] = _TraceSignal()
        self.on_connection_reuseconn: _TraceSignal[TraceConnectionReuseconnParams] = _TraceSignal()
        self.on_dns_resolvehost_start: _TraceSignal[TraceDnsResolveHostStartParams] = _TraceSignal()
        self.on_dns_resolvehost_end: _TraceSignal[TraceDnsResolveHostEndParams] = _TraceSignal()
        self.on_dns_cache_hit: _TraceSignal[TraceDnsCacheHitParams] = _TraceSignal()
        self.on_dns_cache_miss: _TraceSignal[TraceDnsCacheMissParams] = _TraceSignal()

    def _signals(self) -> tuple[Signal[Any], ...]:
        return (
            self.on_request_start,
            self.on_request_headers_sent,
            self.on_request_chunk_sent,
            self.on_response_chunk_received,
            self.on_request_redirect,
            self.on_request_end,
            self.on_request_exception,
            self.on_connection_queued_start,
            self.on_connection_queued_end,
            self.on_connection_create_start,
            self.on_connection_create_end,
            self.on_connection_reuseconn,
            self.on_dns_resolvehost_start,
            self.on_dns_resolvehost_end,
            self.on_dns_cache_hit,
            self.on_dns_cache_miss,
        )

    def _is_listened_to(self) -> bool:
        """Whether a request could be observed through this config: a handler on some signal,
        or a context factory of the caller's own (which may do something when called)."""
        return (
            any(self._signals())
            or self._trace_config_ctx_factory is not SimpleNamespace
            or type(self).trace_config_ctx is not TraceConfig.trace_config_ctx
        )

    def trace_config_ctx(self, trace_request_ctx: Any = None) -> Any:
        """A fresh context for one request, shared by this config's handlers for that request."""
        return self._trace_config_ctx_factory(trace_request_ctx=trace_request_ctx)

    def freeze(self) -> None:
        for signal in self._signals():
            signal.freeze()

    @property
    def frozen(self) -> bool:
        return self.on_request_start.frozen


# --------------------------------------------------------------------------- per request


class Trace:
    """One config's handlers bound to one request's session and context.

    Each ``send_*`` skips building its params when the signal has no handlers, so a config
    that only listens to a few signals costs nothing on the others.
    """

    __slots__ = ("_config", "_ctx", "_session")

    def __init__(self, session: Any, trace_config: TraceConfig, trace_config_ctx: Any) -> None:
        self._session = session
        self._config = trace_config
        self._ctx = trace_config_ctx

    async def send_request_start(self, method: str, url: URL, headers: CIMultiDict[str]) -> None:
        signal = self._config.on_request_start
        if signal:
            await signal.send(
                self._session, self._ctx, TraceRequestStartParams(method, url, headers)
            )

    async def send_request_headers(self, method: str, url: URL, headers: CIMultiDict[str]) -> None:
        signal = self._config.on_request_headers_sent
        if signal:
            params = TraceRequestHeadersSentParams(method, url, headers)
            await signal.send(self._session, self._ctx, params)

    async def send_request_chunk_sent(self, method: str, url: URL, chunk: bytes) -> None:
        signal = self._config.on_request_chunk_sent
        if signal:
            params = TraceRequestChunkSentParams(method, url, chunk)
            await signal.send(self._session, self._ctx, params)

    async def send_response_chunk_received(self, method: str, url: URL, chunk: bytes) -> None:
        signal = self._config.on_response_chunk_received
        if signal:
            params = TraceResponseChunkReceivedParams(method, url, chunk)
            await signal.send(self._session, self._ctx, params)

    async def send_request_redirect(
        self, method: str, url: URL, headers: CIMultiDict[str], response: Any
    ) -> None:
        signal = self._config.on_request_redirect
        if signal:
            params = TraceRequestRedirectParams(method, url, headers, response)
            await signal.send(self._session, self._ctx, params)

    async def send_request_end(
        self, method: str, url: URL, headers: CIMultiDict[str], response: Any
    ) -> None:
        signal = self._config.on_request_end
        if signal:
            params = TraceRequestEndParams(method, url, headers, response)
            await signal.send(self._session, self._ctx, params)

    async def send_request_exception(
        self, method: str, url: URL, headers: CIMultiDict[str], exception: BaseException
    ) -> None:
        signal = self._config.on_request_exception
        if signal:
            params = TraceRequestExceptionParams(method, url, headers, exception)
            await signal.send(self._session, self._ctx, params)

    async def send_connection_queued_start(self) -> None:
        await self._config.on_connection_queued_start.send(self._session, self._ctx, _QUEUED_START)

    async def send_connection_queued_end(self) -> None:
        await self._config.on_connection_queued_end.send(self._session, self._ctx, _QUEUED_END)

    async def send_connection_create_start(self) -> None:
        await self._config.on_connection_create_start.send(self._session, self._ctx, _CREATE_START)

    async def send_connection_create_end(self) -> None:
        await self._config.on_connection_create_end.send(self._session, self._ctx, _CREATE_END)

    async def send_connection_reuseconn(self) -> None:
        await self._config.on_connection_reuseconn.send(self._session, self._ctx, _REUSECONN)

    async def send_dns_resolvehost_start(self, host: str) -> None:
        signal = self._config.on_dns_resolvehost_start
        if signal:
            await signal.send(self._session, self._ctx, TraceDnsResolveHostStartParams(host))

    async def send_dns_resolvehost_end(self, host: str) -> None:
        signal = self._config.on_dns_resolvehost_end
        if signal:
            await signal.send(self._session, self._ctx, TraceDnsResolveHostEndParams(host))

    async def send_dns_cache_hit(self, host: str) -> None:
        signal = self._config.on_dns_cache_hit
        if signal:
            await signal.send(self._session, self._ctx, TraceDnsCacheHitParams(host))

    async def send_dns_cache_miss(self, host: str) -> None:
        signal = self._config.on_dns_cache_miss
        if signal:
            await signal.send(self._session, self._ctx, TraceDnsCacheMissParams(host))


def make_traces(
    session: Any, trace_configs: Iterable[TraceConfig], trace_request_ctx: Any = None
) -> list[Trace]:
    """The traces for one request: one per config, each with a fresh context."""
    return [
        Trace(session, config, config.trace_config_ctx(trace_request_ctx=trace_request_ctx))
        for config in trace_configs
    ]
