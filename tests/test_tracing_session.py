"""Tracing through a session against real servers on 127.0.0.1: every signal at its moment
(start, connection queued/created/reused, DNS, headers and chunks, redirect, end, exception),
``trace_request_ctx`` and the context factory, several configs, frozen configs, and no cost
at all for a session without trace configs."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator, Iterator
from types import SimpleNamespace
from typing import Any, cast

import pytest
from yarl import URL

import hyperclient
from hyperclient import tracing
from servers import LiveServer, TestApp
from servers.redirect_app import RedirectApp

SIGNALS = (
    "request_start",
    "request_headers_sent",
    "request_chunk_sent",
    "response_chunk_received",
    "request_redirect",
    "request_end",
    "request_exception",
    "connection_queued_start",
    "connection_queued_end",
    "connection_create_start",
    "connection_create_end",
    "connection_reuseconn",
    "dns_resolvehost_start",
    "dns_resolvehost_end",
    "dns_cache_hit",
    "dns_cache_miss",
)


class Recorder:
    """Listens to every signal of the configs it makes; ``events`` is (signal, params, ctx)."""

    def __init__(self) -> None:
        self.events: list[tuple[str, Any, Any]] = []
        self.reached: dict[str, asyncio.Event] = {name: asyncio.Event() for name in SIGNALS}

    def config(self, **kwargs: Any) -> hyperclient.TraceConfig:
        config = hyperclient.TraceConfig(**kwargs)
        for name in SIGNALS:
            getattr(config, f"on_{name}").append(self._handler(name))
        return config

    def _handler(self, name: str) -> Any:
        async def handler(session: Any, ctx: Any, params: Any) -> None:
            self.events.append((name, params, ctx))
            self.reached[name].set()

        return handler

    def names(self) -> list[str]:
        return [name for name, _, _ in self.events]

    def params(self, name: str) -> list[Any]:
        return [params for signal, params, _ in self.events if signal == name]

    def clear(self) -> None:
        self.events.clear()


@pytest.fixture(scope="module")
def server() -> Iterator[LiveServer]:
    live = LiveServer(cast(TestApp, RedirectApp())).start()
    yield live
    live.stop()


@pytest.fixture
def recorder() -> Recorder:
    return Recorder()


@pytest.fixture
async def traced(recorder: Recorder) -> AsyncIterator[hyperclient.ClientSession]:
    async with hyperclient.ClientSession(trace_configs=[recorder.config()]) as session:
        yield session


# --- one request, start to end ------------------------------------------------------------------


async def test_a_fresh_request_fires_start_create_headers_chunks_and_end_in_order(
    server: LiveServer, traced: hyperclient.ClientSession, recorder: Recorder
) -> None:
    url = server.make_url("/echo/first")
    async with traced.post(url, data=b"request body", params={"q": "1"}) as resp:
        body = await resp.read()
    assert recorder.names() == [
        "request_start",
        "connection_create_start",
        "connection_create_end",
        "request_headers_sent",
        "request_chunk_sent",
        "request_end",
        "response_chunk_received",
    ]
    start = recorder.params("request_start")[0]
    assert (start.method, start.url) == ("POST", url.with_query(q="1"))
    sent = recorder.params("request_headers_sent")[0]
    assert sent.url == url.with_query(q="1")
    assert sent.headers["Content-Length"] == "12"
    assert sent.headers["Host"] == f"127.0.0.1:{server.port}"
    assert recorder.params("request_chunk_sent")[0].chunk == b"request body"
    end = recorder.params("request_end")[0]
    assert (end.method, end.url, end.response) == ("POST", url.with_query(q="1"), resp)
    assert recorder.params("response_chunk_received")[0].chunk == body


async def test_a_second_request_reuses_the_connection(
    server: LiveServer, traced: hyperclient.ClientSession, recorder: Recorder
) -> None:
    for i in range(2):
        async with traced.get(server.make_url(f"/echo/reuse-{i}")) as resp:
            await resp.read()
    second = recorder.names()[recorder.names().index("request_end") + 2 :]
    assert second[:3] == ["request_start", "connection_reuseconn", "request_headers_sent"]
    assert "connection_create_start" not in second


async def test_a_streamed_body_fires_one_chunk_sent_per_piece(
    server: LiveServer, traced: hyperclient.ClientSession, recorder: Recorder
) -> None:
    async def pieces() -> AsyncIterator[bytes]:
        for piece in (b"alpha", b"beta", b"gamma"):
            yield piece

    async with traced.post(server.make_url("/echo/stream-up"), data=pieces()) as resp:
        assert (await resp.json())["body"] == "alphabetagamma"
    assert [p.chunk for p in recorder.params("request_chunk_sent")] == [b"alpha", b"beta", b"gamma"]
    names = recorder.names()
    assert names.index("request_headers_sent") < names.index("request_chunk_sent")


# --- redirects ----------------------------------------------------------------------------------


async def test_each_followed_redirect_fires_redirect_then_headers_sent_again(
    server: LiveServer, traced: hyperclient.ClientSession, recorder: Recorder
) -> None:
    async with traced.post(server.make_url("/chain/2?status=303"), data=b"x") as resp:
        assert resp.status == 200
    names = [n for n in recorder.names() if not n.startswith("connection")]
    assert names == [
        "request_start",
        "request_headers_sent",
        "request_chunk_sent",
        "request_redirect",
        "request_headers_sent",
        "request_redirect",
        "request_headers_sent",
        "request_end",
    ]
    first, second = recorder.params("request_redirect")
    assert (first.method, first.url.path, first.response.status) == ("POST", "/chain/2", 303)
    assert (second.method, second.url.path) == ("GET", "/chain/1")
    end = recorder.params("request_end")[0]
    assert (end.method, end.url.path, end.response) == ("GET", "/chain/0", resp)


async def test_an_unfollowed_redirect_fires_no_redirect_signal(
    server: LiveServer, traced: hyperclient.ClientSession, recorder: Recorder
) -> None:
    async with traced.get(server.make_url("/chain/1"), allow_redirects=False) as resp:
        assert resp.status == 302
    assert recorder.params("request_redirect") == []
    assert recorder.names()[-1] == "request_end"


# --- failures -----------------------------------------------------------------------------------


async def test_a_failed_request_fires_exception_instead_of_end(
    traced: hyperclient.ClientSession, recorder: Recorder
) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # bound but not listening: the connection is refused
        url = URL(f"http://127.0.0.1:{port}/refused")
        with pytest.raises(hyperclient.ClientConnectorError) as info:
            await traced.get(url)
    assert recorder.names() == ["request_start", "connection_create_start", "request_exception"]
    failure = recorder.params("request_exception")[0]
    assert (failure.method, failure.url, failure.exception) == ("GET", url, info.value)


async def test_a_too_many_redirects_error_is_traced_as_an_exception(
    server: LiveServer, traced: hyperclient.ClientSession, recorder: Recorder
) -> None:
    with pytest.raises(hyperclient.TooManyRedirects):
        await traced.get(server.make_url("/loop"), max_redirects=2)
    assert recorder.names().count("request_redirect") == 2
    assert recorder.names()[-1] == "request_exception"
    assert "request_end" not in recorder.names()


# --- the pool and DNS ---------------------------------------------------------------------------


async def test_a_request_waiting_for_a_slot_fires_queued_start_and_end(
    http_server: LiveServer, recorder: Recorder
) -> None:
    connector = hyperclient.TCPConnector(limit=1)
    app = cast(TestApp, http_server.app)
    async with hyperclient.ClientSession(
        connector=connector, trace_configs=[recorder.config()]
    ) as session:
        first = await session.get(http_server.make_url("/hold/traced-queue"))
        recorder.clear()
        second = asyncio.ensure_future(
            session.get(http_server.make_url("/echo"), trace_request_ctx="second")
        )
        await asyncio.wait_for(recorder.reached["connection_queued_start"].wait(), 10)
        assert "connection_queued_end" not in recorder.names()
        app.release("traced-queue")
        await first.read()
        async with await second as resp:
            assert resp.status == 200
    names = [name for name, _, ctx in recorder.events if ctx.trace_request_ctx == "second"]
    assert names[:4] == [
        "request_start",
        "connection_queued_start",
        "connection_queued_end",
        "connection_reuseconn",
    ]


async def test_a_host_name_fires_dns_miss_and_resolve_then_a_cache_hit(
    server: LiveServer, recorder: Recorder
) -> None:
    url = URL(f"http://localhost:{server.port}/echo/dns")
    connector = hyperclient.TCPConnector(force_close=True)  # every request needs a connection
    async with hyperclient.ClientSession(
        connector=connector, trace_configs=[recorder.config()]
    ) as session:
        async with session.get(url) as resp:
            assert resp.status == 200
        first = recorder.names()
        recorder.clear()
        async with session.get(url) as resp:
            assert resp.status == 200
        second = recorder.names()
    assert first[:6] == [
        "request_start",
        "connection_create_start",
        "dns_cache_miss",
        "dns_resolvehost_start",
        "dns_resolvehost_end",
        "connection_create_end",
    ]
    assert second[:4] == [
        "request_start",
        "connection_create_start",
        "dns_cache_hit",
        "connection_create_end",
    ]
    assert {p.host for p in recorder.params("dns_cache_hit")} == {"localhost"}


async def test_without_the_dns_cache_every_connection_resolves(
    server: LiveServer, recorder: Recorder
) -> None:
    url = URL(f"http://localhost:{server.port}/echo/no-cache")
    connector = hyperclient.TCPConnector(force_close=True, use_dns_cache=False)
    async with hyperclient.ClientSession(
        connector=connector, trace_configs=[recorder.config()]
    ) as session:
        for _ in range(2):
            async with session.get(url):
                pass
    names = recorder.names()
    assert names.count("dns_resolvehost_start") == 2
    assert names.count("dns_resolvehost_end") == 2
    assert "dns_cache_hit" not in names and "dns_cache_miss" not in names


async def test_headers_added_in_on_request_start_are_sent_on_every_call(
    server: LiveServer,
) -> None:
    # How trace propagation works (OpenTelemetry's instrumentation injects traceparent here):
    # the headers of request_start are the ones the request is built from. Repeated plain calls
    # to one URL must not reuse a request built before the handler ran.
    calls = 0

    async def inject(session: Any, ctx: Any, params: Any) -> None:
        nonlocal calls
        calls += 1
        params.headers["traceparent"] = f"call-{calls}"

    config = hyperclient.TraceConfig()
    config.on_request_start.append(inject)
    seen = []
    async with hyperclient.ClientSession(trace_configs=[config]) as session:
        for _ in range(3):
            async with session.get(server.make_url("/echo/propagate")) as resp:
                headers = dict((await resp.json())["headers"])
                seen.append(headers.get("traceparent"))
        assert "traceparent" not in session.headers  # the session's defaults stay untouched
    assert seen == ["call-1", "call-2", "call-3"]


# --- contexts and configs -----------------------------------------------------------------------


async def test_trace_request_ctx_reaches_the_default_context(
    server: LiveServer, traced: hyperclient.ClientSession, recorder: Recorder
) -> None:
    async with traced.get(server.make_url("/echo/ctx"), trace_request_ctx={"id": 7}):
        pass
    contexts = {id(ctx) for _, _, ctx in recorder.events}
    assert len(contexts) == 1  # one context shared by every signal of the request
    ctx = recorder.events[0][2]
    assert isinstance(ctx, SimpleNamespace)
    assert ctx.trace_request_ctx == {"id": 7}
    recorder.clear()
    async with traced.get(server.make_url("/echo/ctx-2")):
        pass
    assert recorder.events[0][2] is not ctx  # a fresh context per request
    assert recorder.events[0][2].trace_request_ctx is None


async def test_a_custom_context_factory_builds_each_requests_context(
    server: LiveServer, recorder: Recorder
) -> None:
    made: list[Any] = []

    class Context:
        def __init__(self, trace_request_ctx: Any = None) -> None:
            self.trace_request_ctx = trace_request_ctx
            made.append(self)

    config = recorder.config(trace_config_ctx_factory=Context)
    async with (
        hyperclient.ClientSession(trace_configs=[config]) as session,
        session.get(server.make_url("/echo/factory"), trace_request_ctx="req-1"),
    ):
        pass
    assert len(made) == 1
    assert made[0].trace_request_ctx == "req-1"
    assert all(ctx is made[0] for _, _, ctx in recorder.events)


async def test_several_configs_each_get_every_signal_with_their_own_context(
    server: LiveServer,
) -> None:
    one, two = Recorder(), Recorder()
    async with (
        hyperclient.ClientSession(trace_configs=[one.config(), two.config()]) as session,
        session.get(server.make_url("/echo/two-configs")) as resp,
    ):
        await resp.read()
    assert one.names() == two.names()
    assert "request_end" in one.names()
    assert one.events[0][2] is not two.events[0][2]


async def test_the_session_freezes_its_configs(recorder: Recorder) -> None:
    config = recorder.config()
    async with hyperclient.ClientSession(trace_configs=[config]):
        assert config.frozen
        with pytest.raises(RuntimeError):
            config.on_request_start.append(recorder._handler("request_start"))


async def test_a_session_without_trace_configs_builds_no_trace_objects(
    server: LiveServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    built: list[Any] = []
    real = tracing.Trace

    class CountingTrace(real):  # type: ignore[valid-type, misc]
        def __init__(self, *args: Any) -> None:
            built.append(args)
            super().__init__(*args)

    monkeypatch.setattr(tracing, "Trace", CountingTrace)
    async with hyperclient.ClientSession() as session:
        for _ in range(3):
            async with session.get(server.make_url("/chain/1")) as resp:
                await resp.read()
    assert built == []
    # A frozen config without handlers can never be heard: it costs nothing either.
    async with (
        hyperclient.ClientSession(trace_configs=[hyperclient.TraceConfig()]) as session,
        session.get(server.make_url("/echo/unheard")),
    ):
        pass
    assert built == []
    listened = hyperclient.TraceConfig()
    listened.on_request_end.append(_ignore)
    async with (
        hyperclient.ClientSession(trace_configs=[listened]) as session,
        session.get(server.make_url("/echo/counted")),
    ):
        pass
    assert len(built) == 1


async def _ignore(session: Any, ctx: Any, params: Any) -> None:
    pass


async def test_a_context_factory_without_handlers_still_runs_per_request(
    server: LiveServer,
) -> None:
    # The caller's own factory may count or log requests: it is called as with handlers.
    made: list[Any] = []

    def factory(trace_request_ctx: Any = None) -> Any:
        made.append(trace_request_ctx)
        return object()

    config = hyperclient.TraceConfig(trace_config_ctx_factory=factory)
    async with hyperclient.ClientSession(trace_configs=[config]) as session:
        for n in range(3):
            async with session.get(server.make_url("/echo/factory-only"), trace_request_ctx=n):
                pass
        async with session.get(server.make_url("/echo/factory-only")):
            pass
    assert made == [0, 1, 2, None]
