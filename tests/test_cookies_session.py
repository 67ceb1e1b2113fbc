"""Cookies through a session against real servers on 127.0.0.1: the jar filled by responses
(every hop of a redirect chain), session and per-request cookies merged into one Cookie line,
per-request cookies kept out of the jar and away from other origins, the IP-host rule and
``unsafe``, DummyCookieJar, ``quote_cookie``, Secure, and save/load after real traffic."""

from __future__ import annotations

import stat
from collections.abc import Iterator
from pathlib import Path
from typing import cast

import pytest
from yarl import URL

import hyperclient
from hyperclient.cookiejar import set_cookie_pairs
from servers import LiveServer, TestApp
from servers.httpbin_live import serve_httpbin
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


def last_hop(server: LiveServer, path: str) -> Hop:
    return cast(RedirectApp, server.app).hops(path)[-1]


def by_name(server: LiveServer, path: str) -> URL:
    """*path* on *server* addressed as ``localhost``: a host name, so the strict jar stores
    its cookies (it refuses cookies from IP-address hosts)."""
    return URL(f"http://localhost:{server.port}{path}", encoded=True)


def set_url(server: LiveServer, *cookies: str, host: str = "127.0.0.1") -> URL:
    base = URL(f"http://{host}:{server.port}/set")
    return base.with_query([("cookie", c) for c in cookies])


def unsafe_session() -> hyperclient.ClientSession:
    return hyperclient.ClientSession(cookie_jar=hyperclient.CookieJar(unsafe=True))


def test_set_cookie_lines_are_parsed_one_by_one_keeping_duplicate_names() -> None:
    pairs = set_cookie_pairs(["a=1; Path=/x", "bad cookie line \x00 ;;=", "a=2; Path=/", "b=3"])
    assert [(name, m.value, m["path"]) for name, m in pairs] == [
        ("a", "1", "/x"),
        ("a", "2", "/"),
        ("b", "3", ""),
    ]


# --- sending ------------------------------------------------------------------------------------


async def test_session_and_request_cookies_go_in_one_cookie_header(server: LiveServer) -> None:
    async with (
        hyperclient.ClientSession(cookies={"session": "s", "shared": "from-session"}) as session,
        session.get(
            server.make_url("/echo/merge"), cookies={"call": "c", "shared": "from-call"}
        ) as resp,
    ):
        assert resp.status == 200
    hop = last_hop(server, "/echo/merge")
    assert hop.cookies() == {"session": "s", "shared": "from-call", "call": "c"}


async def test_request_cookies_are_not_stored_in_the_jar(server: LiveServer) -> None:
    async with unsafe_session() as session:
        async with session.get(server.make_url("/echo/not-stored"), cookies={"once": "1"}):
            pass
        assert len(session.cookie_jar) == 0
        async with session.get(server.make_url("/echo/not-stored-2")):
            pass
    assert last_hop(server, "/echo/not-stored-2").cookies() == {}


async def test_request_cookies_follow_same_origin_redirects_only(
    server: LiveServer, other: LiveServer
) -> None:
    same = server.make_url("/redirect/302").with_query(to="/echo/cookie-same")
    cross = server.make_url("/redirect/302").with_query(to=str(other.make_url("/echo/cookie-x")))
    async with hyperclient.ClientSession(cookies={"shared": "jar"}) as session:
        async with session.get(same, cookies={"mine": "1"}):
            pass
        async with session.get(cross, cookies={"mine": "1"}):
            pass
    assert last_hop(server, "/echo/cookie-same").cookies() == {"shared": "jar", "mine": "1"}
    # The jar's shared cookie is the jar's to give; the call's cookie stays with its origin.
    assert last_hop(other, "/echo/cookie-x").cookies() == {"shared": "jar"}


async def test_cookie_deleted_by_a_redirect_is_not_sent_on_the_next_hop(
    server: LiveServer,
) -> None:
    url = server.make_url("/redirect/302").with_query(
        to="/echo/after-delete", cookie="gone=; Max-Age=0; Path=/"
    )
    async with unsafe_session() as session:
        async with session.get(set_url(server, "gone=1; Path=/", "kept=1; Path=/")):
            pass
        async with session.get(url) as resp:
            assert resp.status == 200
    assert last_hop(server, "/echo/after-delete").cookies() == {"kept": "1"}


async def test_cookie_path_applies_on_each_hop(server: LiveServer) -> None:
    url = server.make_url("/redirect/302").with_query(
        to="/echo/path-scope", cookie="scoped=1; Path=/redirect"
    )
    async with unsafe_session() as session, session.get(url):
        pass
    assert last_hop(server, "/echo/path-scope").cookies() == {}


# --- receiving ----------------------------------------------------------------------------------


async def test_every_hop_of_a_redirect_chain_fills_the_jar(server: LiveServer) -> None:
    async with unsafe_session() as session:
        async with session.get(server.make_url("/chain/3")) as resp:
            # The reference: resp.cookies holds only the last hop's Set-Cookie.
            assert set(resp.cookies) == {"hop0"}
            assert [set(r.cookies) for r in resp.history] == [{"hop3"}, {"hop2"}, {"hop1"}]
        stored = {m.key: m.value for m in session.cookie_jar}
    assert stored == {"hop3": "3", "hop2": "2", "hop1": "1", "hop0": "0"}
    # Each hop already sends what the earlier hops set.
    assert last_hop(server, "/chain/0").cookies() == {"hop3": "3", "hop2": "2", "hop1": "1"}


async def test_same_name_cookies_with_different_paths_are_both_kept(server: LiveServer) -> None:
    url = set_url(server, "dup=deep; Path=/echo/deep", "dup=root; Path=/")
    async with unsafe_session() as session:
        async with session.get(url) as resp:
            assert len(resp.cookies) == 1  # SimpleCookie keeps one per name...
        assert len(session.cookie_jar) == 2  # ...the jar keeps both (the reference's note)
        async with session.get(server.make_url("/echo/deep/x")):
            pass
        async with session.get(server.make_url("/echo/flat")):
            pass
    assert last_hop(server, "/echo/deep/x").cookies() == {"dup": "deep"}
    assert last_hop(server, "/echo/flat").cookies() == {"dup": "root"}


async def test_strict_jar_ignores_cookies_from_ip_hosts_but_keeps_named_hosts(
    server: LiveServer,
) -> None:
    async with hyperclient.ClientSession() as session:
        async with session.get(set_url(server, "ip=1")) as resp:
            assert resp.cookies["ip"].value == "1"  # visible on the response...
        assert len(session.cookie_jar) == 0  # ...but not stored
        async with session.get(set_url(server, "named=1", host="localhost")):
            pass
        assert [m.key for m in session.cookie_jar] == ["named"]
        async with session.get(by_name(server, "/echo/named")):
            pass
        async with session.get(server.make_url("/echo/by-ip")):
            pass
    assert last_hop(server, "/echo/named").cookies() == {"named": "1"}
    # A host-only cookie of "localhost" is not one of 127.0.0.1's.
    assert last_hop(server, "/echo/by-ip").cookies() == {}


async def test_unsafe_jar_stores_and_sends_ip_host_cookies(server: LiveServer) -> None:
    async with unsafe_session() as session:
        async with session.get(set_url(server, "ip=1")):
            pass
        async with session.get(server.make_url("/echo/unsafe")):
            pass
    assert last_hop(server, "/echo/unsafe").cookies() == {"ip": "1"}


async def test_dummy_jar_stores_nothing_and_sends_only_request_cookies(
    server: LiveServer,
) -> None:
    jar = hyperclient.DummyCookieJar()
    async with hyperclient.ClientSession(cookie_jar=jar, cookies={"ignored": "1"}) as session:
        async with session.get(set_url(server, "set=1", host="localhost")):
            pass
        assert len(session.cookie_jar) == 0
        async with session.get(by_name(server, "/echo/dummy"), cookies={"call": "1"}):
            pass
    assert last_hop(server, "/echo/dummy").cookies() == {"call": "1"}


async def test_secure_cookies_need_https_or_a_trusted_origin(server: LiveServer) -> None:
    for trusted, expected in (
        (None, {"plain": "1"}),
        (f"http://127.0.0.1:{server.port}", {"plain": "1", "sec": "1"}),
    ):
        jar = hyperclient.CookieJar(unsafe=True, treat_as_secure_origin=trusted)
        async with hyperclient.ClientSession(cookie_jar=jar) as session:
            async with session.get(set_url(server, "sec=1; Secure", "plain=1")):
                pass
            async with session.get(server.make_url("/echo/secure")):
                pass
        assert last_hop(server, "/echo/secure").cookies() == expected


# --- quoting ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("quote", "expected"),
    [(True, '"a\\054b"'), (False, "a,b")],
)
async def test_quote_cookie_decides_how_request_cookie_values_are_sent(
    server: LiveServer, quote: bool, expected: str
) -> None:
    jar = hyperclient.CookieJar(unsafe=True, quote_cookie=quote)
    async with hyperclient.ClientSession(cookie_jar=jar) as session:
        async with session.get(server.make_url("/echo/quote-empty"), cookies={"v": "a,b"}):
            pass
        # The same with something in the jar (the filtered-jar path).
        async with session.get(set_url(server, "other=1")):
            pass
        async with session.get(server.make_url("/echo/quote-full"), cookies={"v": "a,b"}):
            pass
    assert last_hop(server, "/echo/quote-empty").cookies() == {"v": expected}
    assert last_hop(server, "/echo/quote-full").cookies() == {"other": "1", "v": expected}


async def test_a_quoted_value_set_by_the_server_is_sent_back_as_it_came(
    server: LiveServer,
) -> None:
    async with hyperclient.ClientSession(
        cookie_jar=hyperclient.CookieJar(unsafe=True, quote_cookie=False)
    ) as session:
        async with session.get(set_url(server, 'q="quoted value"')):
            pass
        async with session.get(server.make_url("/echo/quoted")):
            pass
    assert last_hop(server, "/echo/quoted").cookies() == {"q": '"quoted value"'}


# --- persistence --------------------------------------------------------------------------------


async def test_jar_saved_after_real_traffic_loads_into_a_new_session(
    server: LiveServer, tmp_path: Path
) -> None:
    path = tmp_path / "cookies.json"
    async with unsafe_session() as session:
        async with session.get(set_url(server, "kept=1; Max-Age=3600; Path=/", "sess=2")):
            pass
        cast(hyperclient.CookieJar, session.cookie_jar).save(path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    jar = hyperclient.CookieJar(unsafe=True)
    jar.load(path)
    async with (
        hyperclient.ClientSession(cookie_jar=jar) as session,
        session.get(server.make_url("/echo/loaded")),
    ):
        pass
    assert last_hop(server, "/echo/loaded").cookies() == {"kept": "1", "sess": "2"}


# --- httpbin ------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def httpbin_url() -> Iterator[URL]:
    with serve_httpbin() as url:
        yield url


async def test_httpbin_cookies_set_redirect_then_read_back(httpbin_url: URL) -> None:
    base = httpbin_url.with_host("localhost")
    async with hyperclient.ClientSession(cookies={"cookies_are": "working"}) as session:
        async with session.get((base / "cookies" / "set").with_query(my_cookie="my_value")) as r:
            # httpbin answers with a redirect to /cookies, which echoes what it received.
            assert len(r.history) == 1
            assert (await r.json())["cookies"] == {
                "cookies_are": "working",
                "my_cookie": "my_value",
            }
        filtered = session.cookie_jar.filter_cookies(base)
        assert filtered["my_cookie"].value == "my_value"
        async with session.get((base / "cookies" / "delete").with_query(my_cookie="")) as r:
            assert (await r.json())["cookies"] == {"cookies_are": "working"}
