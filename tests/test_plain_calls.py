"""Calls that pass nothing but a URL (``session.get(url)``) reuse a plan and request head the
session prepared on the first such call. Whatever the session shares between those calls must
still follow every change a caller or a server makes: these tests change the session, the jar
and the server's answers between repeated plain calls and check what the server received.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator
from typing import cast

import pytest
from yarl import URL

import hyperclient
from hyperclient.timeouts import Deadline
from servers import LiveServer, RawServerFactory, TestApp
from servers.helpers import header
from servers.raw import http_response, reply_forever
from servers.redirect_app import RedirectApp


@pytest.fixture(scope="module")
def redirects() -> Iterator[LiveServer]:
    live = LiveServer(cast(TestApp, RedirectApp())).start()
    yield live
    live.stop()


def redirect_log(server: LiveServer, marker: str) -> list[tuple[str, str]]:
    app = cast(RedirectApp, server.app)
    return [(hop.method, hop.path) for hop in app.log if marker in hop.path or marker in hop.query]


async def test_a_change_to_session_headers_reaches_the_next_plain_call(
    http_server: LiveServer,
) -> None:
    url = http_server.make_url("/echo/headers-change")
    async with hyperclient.ClientSession(headers={"X-Tag": "one"}) as session:
        async with session.get(url) as resp:
            assert header(await resp.json(), "X-Tag") == "one"
        session.headers["X-Tag"] = "two"
        async with session.get(url) as resp:
            assert header(await resp.json(), "X-Tag") == "two"
        del session.headers["X-Tag"]
        async with session.get(url) as resp:
            assert header(await resp.json(), "X-Tag") is None


async def test_a_cookie_stored_by_one_plain_call_is_sent_by_the_next(
    redirects: LiveServer,
) -> None:
    target = redirects.make_url("/echo/plain-cookie")
    jar = hyperclient.CookieJar(unsafe=True)  # the server is an IP address
    async with hyperclient.ClientSession(cookie_jar=jar) as session:
        async with session.get(target) as resp:
            assert "cookie" not in dict((await resp.json())["headers"])
        async with session.get(redirects.make_url("/set").with_query(cookie="k=v; Path=/")):
            pass
        async with session.get(target) as resp:
            assert dict((await resp.json())["headers"])["cookie"] == "k=v"
        session.cookie_jar.clear()
        async with session.get(target) as resp:
            assert "cookie" not in dict((await resp.json())["headers"])


async def test_a_redirect_that_changes_the_method_leaves_the_next_plain_call_alone(
    redirects: LiveServer,
) -> None:
    # A 303 turns DELETE into GET for the next hop only: the prepared DELETE must stay DELETE.
    target = f"/echo/after-303-{uuid.uuid4().hex}"
    url = redirects.make_url("/redirect/303").with_query(to=target)
    async with hyperclient.ClientSession() as session:
        for _ in range(3):
            async with session.delete(url) as resp:
                assert resp.status == 200
                assert resp.method == "GET"
                assert [r.method for r in resp.history] == ["DELETE"]
    one_call = [("DELETE", "/redirect/303"), ("GET", target)]
    assert redirect_log(redirects, target) == one_call * 3


async def test_allow_redirects_is_part_of_what_a_plain_call_reuses(
    redirects: LiveServer,
) -> None:
    url = redirects.make_url("/redirect/302").with_query(to="/echo/allow-flag")
    async with hyperclient.ClientSession() as session:
        async with session.get(url, allow_redirects=False) as resp:
            assert resp.status == 302
        async with session.get(url) as resp:
            assert resp.status == 200
        async with session.head(url) as resp:  # head() does not follow by default
            assert resp.status == 302
        async with session.get(url, allow_redirects=False) as resp:
            assert resp.status == 302


async def test_concurrent_plain_calls_each_get_their_own_response(
    http_server: LiveServer,
) -> None:
    url = http_server.make_url("/echo/concurrent-plain")
    async with hyperclient.ClientSession() as session:

        async def one() -> tuple[hyperclient.ClientResponse, str]:
            async with session.get(url) as resp:
                return resp, (await resp.json())["path"]

        results = await asyncio.gather(*(one() for _ in range(20)))
    assert {path for _, path in results} == {"/echo/concurrent-plain"}
    assert len({id(resp) for resp, _ in results}) == 20
    assert all(resp.request_info.url == url for resp, _ in results)


async def test_each_plain_call_has_its_own_total_timeout(http_server: LiveServer) -> None:
    slow = http_server.make_url("/slow").with_query(head="1")
    timeout = hyperclient.ClientTimeout(total=0.3)
    async with hyperclient.ClientSession(timeout=timeout) as session:
        for _ in range(2):
            with pytest.raises(asyncio.TimeoutError):
                async with session.get(slow):
                    pass
        # A quick call after two timed-out ones is not cut short by their timers.
        async with session.get(http_server.make_url("/status/200")) as resp:
            await asyncio.sleep(0.4)
            assert await resp.read() == b"status 200"


async def test_an_expired_total_timeout_sends_nothing_on_a_pooled_connection(
    raw_server: RawServerFactory,
) -> None:
    # A plain call writes its head as soon as it has an idle connection, but only once its total
    # timer is running: a timeout that has already run out must leave the server untouched.
    server = await raw_server(reply_forever(http_response(b"ok")))
    url = server.make_url("/once")
    expired = hyperclient.ClientTimeout(total=-1)
    async with hyperclient.ClientSession(timeout=expired) as session:
        async with session.get(url, timeout=hyperclient.ClientTimeout(total=5)) as resp:
            assert await resp.read() == b"ok"  # and its connection waits in the pool
        with pytest.raises(asyncio.TimeoutError):
            await session.get(url)
    await server.idle()
    assert [r.request_line for c in server.connections for r in c.requests] == [
        b"GET /once HTTP/1.1"
    ]


async def test_a_force_close_connector_says_so_in_plain_calls(http_server: LiveServer) -> None:
    url = http_server.make_url("/echo/force-close-plain")
    connector = hyperclient.TCPConnector(force_close=True)
    async with hyperclient.ClientSession(connector=connector) as session:
        for _ in range(2):
            async with session.get(url) as resp:
                assert header(await resp.json(), "Connection") == "close"


async def test_plain_calls_after_close_raise(http_server: LiveServer) -> None:
    url = http_server.make_url("/status/200")
    session = hyperclient.ClientSession()
    async with session.get(url):
        pass
    await session.close()
    with pytest.raises(RuntimeError, match="Session is closed"):
        await session.get(url)


async def test_bad_urls_in_plain_calls_raise_as_in_other_calls() -> None:
    async with hyperclient.ClientSession() as session:
        for _ in range(2):  # the failure is not remembered as a prepared request
            with pytest.raises(hyperclient.NonHttpUrlClientError):
                await session.get("ftp://127.0.0.1/")
            with pytest.raises(hyperclient.InvalidUrlClientError):
                await session.get("http:///nohost")
            with pytest.raises(hyperclient.InvalidUrlClientError):
                await session.get(cast(str, 42))


async def test_many_distinct_urls_stay_correct(http_server: LiveServer) -> None:
    # More URLs than the session keeps prepared: each still reaches its own path.
    async with hyperclient.ClientSession() as session:
        for i in range(300):
            async with session.get(http_server.make_url(f"/echo/many-{i}")) as resp:
                assert (await resp.json())["path"] == f"/echo/many-{i}"
        async with session.get(http_server.make_url("/echo/many-0")) as resp:
            assert (await resp.json())["path"] == "/echo/many-0"


async def test_plain_calls_with_string_and_url_reach_the_same_place(
    http_server: LiveServer,
) -> None:
    url = http_server.make_url("/echo/str-or-url")
    async with hyperclient.ClientSession() as session:
        for target in (str(url), url, URL(str(url)), str(url)):
            async with session.get(target) as resp:
                assert (await resp.json())["path"] == "/echo/str-or-url"


async def test_a_copy_of_a_prepared_request_carries_every_attribute() -> None:
    # ClientRequest._copy_for lists the attributes one by one: one added to the class and not
    # to the copy would be missing (AttributeError) from every plain call's request.
    original = hyperclient.ClientRequest(
        "GET", URL("http://user:pw@127.0.0.1:8080/path?q=1"), headers={"X-One": "1"}
    )
    original._encoded_head = b"GET /path?q=1 HTTP/1.1\r\n\r\n"
    timer = Deadline(asyncio.get_running_loop(), None)
    copy = original._copy_for(timer)
    assert copy._timer is timer
    for name in hyperclient.ClientRequest.__slots__:
        if name in ("__dict__", "_timer"):
            continue
        assert getattr(copy, name) == getattr(original, name), name
