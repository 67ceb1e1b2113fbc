"""Client middlewares against real servers on 127.0.0.1: session and per-request chains,
onion order, one run per redirect hop, retries, nested requests through ``request.session``
and ``update_body()``."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from typing import cast

import pytest

import hyperclient
from hyperclient import ClientHandlerType, ClientMiddlewareType, ClientRequest, ClientResponse
from servers import LiveServer, TestApp
from servers.redirect_app import Hop, RedirectApp


def _serve() -> LiveServer:
    return LiveServer(cast(TestApp, RedirectApp())).start()


@pytest.fixture(scope="module")
def server() -> Iterator[LiveServer]:
    live = _serve()
    yield live
    live.stop()


@pytest.fixture(scope="module")
def other() -> Iterator[LiveServer]:
    live = _serve()
    yield live
    live.stop()


def hops(server: LiveServer, path: str) -> list[Hop]:
    return cast(RedirectApp, server.app).hops(path)


def tagging(name: str, log: list[str] | None = None) -> ClientMiddlewareType:
    """A middleware that adds ``X-Tag: <name>`` and records entering and leaving."""

    async def middleware(request: ClientRequest, handler: ClientHandlerType) -> ClientResponse:
        if log is not None:
            log.append(f"{name} in")
        request.headers.add("X-Tag", name)
        response = await handler(request)
        if log is not None:
            log.append(f"{name} out")
        return response

    return middleware


def tags(hop: Hop) -> list[str]:
    return [value for key, value in hop.headers if key == "x-tag"]


async def test_session_middlewares_run_for_every_request(server: LiveServer) -> None:
    async with hyperclient.ClientSession(middlewares=(tagging("s"),)) as session:
        for i in range(2):
            async with session.get(server.make_url(f"/echo/session-mw-{i}")) as resp:
                assert resp.status == 200
    assert [tags(h) for h in hops(server, "/echo/session-mw-")] == [["s"], ["s"]]


async def test_request_middlewares_replace_the_sessions_and_empty_disables(
    server: LiveServer,
) -> None:
    async with hyperclient.ClientSession(middlewares=(tagging("s"),)) as session:
        for path, middlewares in (
            ("/echo/replace-default", None),
            ("/echo/replace-own", (tagging("r"),)),
            ("/echo/replace-none", ()),
        ):
            async with session.get(server.make_url(path), middlewares=middlewares):
                pass
        assert session.middlewares == (session.middlewares[0],)
    assert tags(hops(server, "/echo/replace-default")[-1]) == ["s"]
    assert tags(hops(server, "/echo/replace-own")[-1]) == ["r"]
    assert tags(hops(server, "/echo/replace-none")[-1]) == []


async def test_middlewares_nest_like_an_onion(server: LiveServer) -> None:
    log: list[str] = []
    chain = (tagging("m1", log), tagging("m2", log), tagging("m3", log))
    async with (
        hyperclient.ClientSession(middlewares=chain) as session,
        session.get(server.make_url("/echo/onion")),
    ):
        pass
    assert log == ["m1 in", "m2 in", "m3 in", "m3 out", "m2 out", "m1 out"]
    assert tags(hops(server, "/echo/onion")[-1]) == ["m1", "m2", "m3"]


async def test_the_chain_runs_once_per_redirect_hop(server: LiveServer) -> None:
    seen: list[tuple[str, int]] = []

    async def recorder(request: ClientRequest, handler: ClientHandlerType) -> ClientResponse:
        response = await handler(request)
        seen.append((request.url.path, response.status))
        return response

    async with (
        hyperclient.ClientSession(middlewares=(recorder, tagging("t"))) as session,
        session.get(server.make_url("/chain/2?status=307")) as resp,
    ):
        assert resp.status == 200
    assert seen == [("/chain/2", 307), ("/chain/1", 307), ("/chain/0", 200)]
    # Each hop got the tag once: one run per hop, not accumulated across hops.
    assert [tags(h) for h in hops(server, "/chain/")[-3:]] == [["t"], ["t"], ["t"]]


async def test_headers_a_middleware_adds_for_one_origin_do_not_follow_a_redirect(
    server: LiveServer, other: LiveServer
) -> None:
    async def api_key(request: ClientRequest, handler: ClientHandlerType) -> ClientResponse:
        if request.url.port == server.port:
            request.headers["X-Api-Key"] = "only-for-server"
        return await handler(request)

    url = server.make_url("/redirect/302").with_query(to=str(other.make_url("/echo/mw-cross")))
    async with (
        hyperclient.ClientSession(middlewares=(api_key,)) as session,
        session.get(url) as resp,
    ):
        assert resp.status == 200
    assert hops(server, "/redirect/302")[-1].header("x-api-key") == "only-for-server"
    assert hops(other, "/echo/mw-cross")[-1].header("x-api-key") is None


async def test_a_middleware_may_call_the_handler_again_to_retry(server: LiveServer) -> None:
    url = server.make_url("/basic").with_query(user="u", password="p")
    calls: list[int] = []

    async def answer_challenge(
        request: ClientRequest, handler: ClientHandlerType
    ) -> ClientResponse:
        response = await handler(request)
        calls.append(response.status)
        if response.status == 401:
            response.release()
            request.headers["Authorization"] = hyperclient.BasicAuth("u", "p").encode()
            response = await handler(request)
            calls.append(response.status)
        return response

    async with (
        hyperclient.ClientSession(middlewares=(answer_challenge,)) as session,
        session.post(url, data=b"replayed") as resp,
    ):
        assert resp.status == 200
        assert await resp.json() == {"authenticated": True}
    assert calls == [401, 200]
    assert [h.body for h in hops(server, "/basic")[-2:]] == [b"replayed", b"replayed"]


async def test_a_middleware_may_make_requests_through_request_session(
    server: LiveServer,
) -> None:
    entered = 0

    async def token(request: ClientRequest, handler: ClientHandlerType) -> ClientResponse:
        nonlocal entered
        entered += 1
        # middlewares=() keeps this inner request from running this middleware again.
        async with request.session.get(
            server.make_url("/echo/token-source"), middlewares=()
        ) as resp:
            request.headers["X-Token"] = str((await resp.json())["client_port"])
        return await handler(request)

    async with (
        hyperclient.ClientSession(middlewares=(token,)) as session,
        session.get(server.make_url("/echo/with-token")) as resp,
    ):
        assert resp.status == 200
    assert entered == 1
    assert hops(server, "/echo/with-token")[-1].header("x-token") is not None
    assert hops(server, "/echo/token-source")[-1].header("x-token") is None


async def test_update_body_from_a_middleware_reframes_the_request(server: LiveServer) -> None:
    async def rewrite(request: ClientRequest, handler: ClientHandlerType) -> ClientResponse:
        if request.method == "POST":
            await request.update_body(b'{"modified": true}')
            request.headers["Content-Type"] = "application/json"
        return await handler(request)

    async with (
        hyperclient.ClientSession(middlewares=(rewrite,)) as session,
        session.post(server.make_url("/echo/update-body"), data=b"original") as resp,
    ):
        echo = await resp.json()
    assert echo["body"] == '{"modified": true}'
    hop = hops(server, "/echo/update-body")[-1]
    assert hop.header("content-length") == str(len(b'{"modified": true}'))
    assert hop.header("content-type") == "application/json"


async def test_update_body_with_a_stream_is_sent_chunked(server: LiveServer) -> None:
    async def pieces() -> AsyncIterator[bytes]:
        yield b"one,"
        yield b"two"

    async def stream(request: ClientRequest, handler: ClientHandlerType) -> ClientResponse:
        await request.update_body(pieces())
        return await handler(request)

    async with (
        hyperclient.ClientSession(middlewares=(stream,)) as session,
        session.post(server.make_url("/echo/update-stream"), data=b"x") as resp,
    ):
        assert (await resp.json())["body"] == "one,two"
    hop = hops(server, "/echo/update-stream")[-1]
    assert hop.header("transfer-encoding") == "chunked"
    assert hop.header("content-length") is None


async def test_an_error_in_a_middleware_reaches_the_caller_and_leaks_nothing(
    server: LiveServer,
) -> None:
    async def broken(request: ClientRequest, handler: ClientHandlerType) -> ClientResponse:
        response = await handler(request)
        response.release()
        raise RuntimeError("middleware failed")

    async with hyperclient.ClientSession(middlewares=(broken,)) as session:
        with pytest.raises(RuntimeError, match="middleware failed"):
            await session.get(server.make_url("/echo/mw-error"))
        async with session.get(server.make_url("/echo/after-error"), middlewares=()) as resp:
            assert resp.status == 200


async def test_middlewares_run_concurrently_without_sharing_state(server: LiveServer) -> None:
    async def per_request(request: ClientRequest, handler: ClientHandlerType) -> ClientResponse:
        request.headers["X-Path"] = request.url.path
        await asyncio.sleep(0)
        return await handler(request)

    async with hyperclient.ClientSession(middlewares=(per_request,)) as session:

        async def one(i: int) -> str:
            async with session.get(server.make_url(f"/echo/conc-{i}")) as resp:
                return str((await resp.json())["path"])

        paths = await asyncio.gather(*(one(i) for i in range(8)))
    assert paths == [f"/echo/conc-{i}" for i in range(8)]
    for i in range(8):
        assert hops(server, f"/echo/conc-{i}")[-1].header("x-path") == f"/echo/conc-{i}"
