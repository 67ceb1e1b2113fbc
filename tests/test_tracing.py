"""TraceConfig, its signals and params, and the per-request Trace that fires them."""

from __future__ import annotations

import dataclasses
from collections.abc import Awaitable, Callable
from types import SimpleNamespace
from typing import Any

import pytest
from multidict import CIMultiDict
from yarl import URL

from hyperclient.tracing import (
    Signal,
    Trace,
    TraceConfig,
    TraceConnectionCreateEndParams,
    TraceConnectionCreateStartParams,
    TraceConnectionQueuedEndParams,
    TraceConnectionQueuedStartParams,
    TraceConnectionReuseconnParams,
    TraceDnsCacheHitParams,
    TraceDnsCacheMissParams,
    TraceDnsResolveHostEndParams,
    TraceDnsResolveHostStartParams,
    TraceRequestChunkSentParams,
    TraceRequestEndParams,
    TraceRequestExceptionParams,
    TraceRequestHeadersSentParams,
    TraceRequestRedirectParams,
    TraceRequestStartParams,
    TraceResponseChunkReceivedParams,
    make_traces,
)

URL_ = URL("http://example.com/path")
HEADERS: CIMultiDict[str] = CIMultiDict({"Host": "example.com"})
RESPONSE = object()
EXC = ValueError("boom")

# signal name, Trace method, its arguments, params class, expected attribute values
CASES: list[tuple[str, str, tuple[Any, ...], Any, dict[str, Any]]] = [
    ("on_request_start", "send_request_start", ("GET", URL_, HEADERS),
     TraceRequestStartParams, {"method": "GET", "url": URL_, "headers": HEADERS}),
    ("on_request_headers_sent", "send_request_headers", ("GET", URL_, HEADERS),
     TraceRequestHeadersSentParams, {"method": "GET", "url": URL_, "headers": HEADERS}),
    ("on_request_chunk_sent", "send_request_chunk_sent", ("POST", URL_, b"abc"),
     TraceRequestChunkSentParams, {"method": "POST", "url": URL_, "chunk": b"abc"}),
    ("on_response_chunk_received", "send_response_chunk_received", ("GET", URL_, b"xyz"),
     TraceResponseChunkReceivedParams, {"method": "GET", "url": URL_, "chunk": b"xyz"}),
    ("on_request_redirect", "send_request_redirect", ("GET", URL_, HEADERS, RESPONSE),
     TraceRequestRedirectParams,
     {"method": "GET", "url": URL_, "headers": HEADERS, "response": RESPONSE}),
    ("on_request_end", "send_request_end", ("GET", URL_, HEADERS, RESPONSE),
     TraceRequestEndParams,
     {"method": "GET", "url": URL_, "headers": HEADERS, "response": RESPONSE}),
    ("on_request_exception", "send_request_exception", ("GET", URL_, HEADERS, EXC),
     TraceRequestExceptionParams,
     {"method": "GET", "url": URL_, "headers": HEADERS, "exception": EXC}),
    ("on_connection_queued_start", "send_connection_queued_start", (),
     TraceConnectionQueuedStartParams, {}),
    ("on_connection_queued_end", "send_connection_queued_end", (),
     TraceConnectionQueuedEndParams, {}),
    ("on_connection_create_start", "send_connection_create_start", (),
     TraceConnectionCreateStartParams, {}),
    ("on_connection_create_end", "send_connection_create_end", (),
     TraceConnectionCreateEndParams, {}),
    ("on_connection_reuseconn", "send_connection_reuseconn", (),
     TraceConnectionReuseconnParams, {}),
    ("on_dns_resolvehost_start", "send_dns_resolvehost_start", ("example.com",),
     TraceDnsResolveHostStartParams, {"host": "example.com"}),
    ("on_dns_resolvehost_end", "send_dns_resolvehost_end", ("example.com",),
     TraceDnsResolveHostEndParams, {"host": "example.com"}),
    ("on_dns_cache_hit", "send_dns_cache_hit", ("example.com",),
     TraceDnsCacheHitParams, {"host": "example.com"}),
    ("on_dns_cache_miss", "send_dns_cache_miss", ("example.com",),
     TraceDnsCacheMissParams, {"host": "example.com"}),
]  # fmt: skip

Handler = Callable[[Any, Any, Any], Awaitable[None]]


def recorder(log: list[tuple[str, Any, Any, Any]], tag: str) -> Handler:
    async def handler(session: Any, ctx: Any, params: Any) -> None:
        log.append((tag, session, ctx, params))

    return handler


def test_trace_config_has_all_sixteen_signals() -> None:
    config = TraceConfig()
    for name, *_ in CASES:
        assert isinstance(getattr(config, name), Signal)
    assert len(CASES) == 16


@pytest.mark.parametrize(("signal", "method", "args", "params_cls", "expected"), CASES)
async def test_each_send_calls_every_handler_in_order_with_its_params(
    signal: str, method: str, args: tuple[Any, ...], params_cls: Any, expected: dict[str, Any]
) -> None:
    log: list[tuple[str, Any, Any, Any]] = []
    config = TraceConfig()
    getattr(config, signal).append(recorder(log, "first"))
    getattr(config, signal).append(recorder(log, "second"))
    config.freeze()
    session, ctx = object(), SimpleNamespace()
    await getattr(Trace(session, config, ctx), method)(*args)

    assert [entry[0] for entry in log] == ["first", "second"]
    for _, got_session, got_ctx, params in log:
        assert got_session is session
        assert got_ctx is ctx
        assert type(params) is params_cls
        assert {f.name for f in dataclasses.fields(params_cls)} == set(expected)
        for attr, value in expected.items():
            assert getattr(params, attr) is value


@pytest.mark.parametrize(("signal", "method", "args", "params_cls", "expected"), CASES)
async def test_send_only_reaches_its_own_signal(
    signal: str, method: str, args: tuple[Any, ...], params_cls: Any, expected: dict[str, Any]
) -> None:
    log: list[tuple[str, Any, Any, Any]] = []
    config = TraceConfig()
    for other, *_ in CASES:
        getattr(config, other).append(recorder(log, other))
    await getattr(Trace(None, config, SimpleNamespace()), method)(*args)
    assert [entry[0] for entry in log] == [signal]


@pytest.mark.parametrize("params_cls", [case[3] for case in CASES])
def test_params_are_frozen_and_slotted(params_cls: Any) -> None:
    fields = dataclasses.fields(params_cls)
    params = params_cls(*[None] * len(fields))
    assert not hasattr(params, "__dict__")
    # Before 3.12 CPython raises TypeError here for slotted frozen dataclasses (a fixed bug).
    with pytest.raises((dataclasses.FrozenInstanceError, AttributeError, TypeError)):
        params.extra = 1
    for field in fields:
        with pytest.raises(dataclasses.FrozenInstanceError):
            setattr(params, field.name, 1)


async def test_send_with_no_handlers_does_nothing() -> None:
    trace = Trace(None, TraceConfig(), SimpleNamespace())
    for _, method, args, _, _ in CASES:
        await getattr(trace, method)(*args)


async def test_handler_exception_propagates_and_stops_later_handlers() -> None:
    log: list[tuple[str, Any, Any, Any]] = []

    async def failing(session: Any, ctx: Any, params: Any) -> None:
        raise RuntimeError("handler failed")

    config = TraceConfig()
    config.on_request_start.extend([failing, recorder(log, "later")])
    with pytest.raises(RuntimeError, match="handler failed"):
        await Trace(None, config, SimpleNamespace()).send_request_start("GET", URL_, HEADERS)
    assert log == []


def test_signal_is_list_like() -> None:
    async def a(session: Any, ctx: Any, params: Any) -> None: ...
    async def b(session: Any, ctx: Any, params: Any) -> None: ...
    async def c(session: Any, ctx: Any, params: Any) -> None: ...

    signal = TraceConfig().on_request_start
    signal.append(a)
    signal.extend([b])
    signal.insert(0, c)
    assert list(signal) == [c, a, b]
    assert len(signal) == 3
    assert signal[0] is c
    assert signal == [c, a, b]
    signal.remove(a)
    del signal[0]
    signal[0] = a
    assert list(signal) == [a]


def test_freeze_makes_every_signal_immutable() -> None:
    async def handler(session: Any, ctx: Any, params: Any) -> None: ...

    config = TraceConfig()
    config.on_request_end.append(handler)
    assert not config.frozen
    config.freeze()
    assert config.frozen
    for name, *_ in CASES:
        signal = getattr(config, name)
        assert signal.frozen
        with pytest.raises(RuntimeError):
            signal.append(handler)
        with pytest.raises(RuntimeError):
            signal.extend([handler])
        with pytest.raises(RuntimeError):
            signal.insert(0, handler)
    with pytest.raises(RuntimeError):
        config.on_request_end.remove(handler)
    with pytest.raises(RuntimeError):
        del config.on_request_end[0]
    with pytest.raises(RuntimeError):
        config.on_request_end[0] = handler
    assert list(config.on_request_end) == [handler]


def test_default_context_is_a_simple_namespace_with_trace_request_ctx() -> None:
    config = TraceConfig()
    ctx = config.trace_config_ctx()
    assert isinstance(ctx, SimpleNamespace)
    assert ctx.trace_request_ctx is None
    assert config.trace_config_ctx(trace_request_ctx={"foo": "bar"}).trace_request_ctx == {
        "foo": "bar"
    }
    assert config.trace_config_ctx() is not config.trace_config_ctx()


def test_custom_context_factory_receives_trace_request_ctx() -> None:
    class Ctx:
        def __init__(self, trace_request_ctx: Any) -> None:
            self.got = trace_request_ctx

    config = TraceConfig(trace_config_ctx_factory=Ctx)
    ctx = config.trace_config_ctx(trace_request_ctx=42)
    assert isinstance(ctx, Ctx)
    assert ctx.got == 42


async def test_several_configs_each_get_their_own_context() -> None:
    log: list[tuple[str, Any, Any, Any]] = []
    first, second = TraceConfig(), TraceConfig()
    first.on_request_start.append(recorder(log, "first"))
    second.on_request_start.append(recorder(log, "second"))
    session = object()
    traces = make_traces(session, [first, second], trace_request_ctx="req")
    for trace in traces:
        await trace.send_request_start("GET", URL_, HEADERS)
    assert [entry[0] for entry in log] == ["first", "second"]
    ctx_first, ctx_second = log[0][2], log[1][2]
    assert ctx_first is not ctx_second
    assert ctx_first.trace_request_ctx == ctx_second.trace_request_ctx == "req"


async def test_context_is_shared_across_signals_of_one_request() -> None:
    elapsed: list[Any] = []

    async def on_start(session: Any, ctx: Any, params: Any) -> None:
        ctx.start = 1.0

    async def on_end(session: Any, ctx: Any, params: Any) -> None:
        elapsed.append(2.0 - ctx.start)

    config = TraceConfig()
    config.on_request_start.append(on_start)
    config.on_request_end.append(on_end)
    (trace,) = make_traces(None, [config])
    await trace.send_request_start("GET", URL_, HEADERS)
    await trace.send_request_end("GET", URL_, HEADERS, RESPONSE)
    assert elapsed == [1.0]


def test_no_configs_means_no_traces() -> None:
    assert make_traces(object(), []) == []
