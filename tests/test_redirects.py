"""Redirects: the sans-IO rules in ``hyperclient.redirects``, then the session following them
against real servers on 127.0.0.1 (``servers.redirect_app`` under uvicorn, and httpbin)."""

from __future__ import annotations

import io
import json
import ssl
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any, cast

import pytest
from multidict import CIMultiDict
from yarl import URL

import hyperclient
from hyperclient.redirects import drops_body, location_of, redirect_url, same_origin
from servers import LiveServer, TestApp
from servers.httpbin_live import serve_httpbin
from servers.redirect_app import Hop, RedirectApp

# --- the rules, without a server ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "method", "dropped"),
    [
        (303, "POST", True),
        (303, "PUT", True),
        (303, "GET", True),
        (303, "HEAD", False),
        (301, "POST", True),
        (302, "POST", True),
        (301, "PUT", False),
        (302, "DELETE", False),
        (307, "POST", False),
        (308, "POST", False),
    ],
)
def test_which_redirects_turn_the_request_into_a_bodiless_get(
    status: int, method: str, dropped: bool
) -> None:
    assert drops_body(status, method) is dropped


@pytest.mark.parametrize(
    ("location", "expected"),
    [
        ("/other", "http://h:8/other"),
        ("sibling", "http://h:8/dir/sibling"),
        ("../up", "http://h:8/up"),
        ("?page=2", "http://h:8/dir/file?page=2"),
        ("//elsewhere/x", "http://elsewhere/x"),
        ("https://h:9/y", "https://h:9/y"),
        ("HTTP://H/Z", "http://h/Z"),
        ("/frag#part", "http://h:8/frag#part"),
        ("/empty-frag#", "http://h:8/empty-frag"),
    ],
)
def test_location_resolves_against_the_request_url(location: str, expected: str) -> None:
    assert redirect_url(URL("http://h:8/dir/file?q=1"), location) == URL(expected)


@pytest.mark.parametrize("location", ["ftp://h/x", "mailto:someone@h", "javascript:alert(1)"])
def test_non_http_location_is_refused(location: str) -> None:
    with pytest.raises(hyperclient.NonHttpUrlRedirectClientError):
        redirect_url(URL("http://h/"), location)


@pytest.mark.parametrize("location", ["http://[::1", "http://h:99999/", "http:///no-host"])
def test_unusable_location_is_an_invalid_url_redirect(location: str) -> None:
    with pytest.raises(hyperclient.InvalidUrlRedirectClientError) as info:
        redirect_url(URL("http://h/"), location)
    assert isinstance(info.value, hyperclient.RedirectClientError)
    assert isinstance(info.value, hyperclient.InvalidUrlClientError)


def test_requote_normalises_the_location_and_requote_false_keeps_its_bytes() -> None:
    base = URL("http://h/")
    assert redirect_url(base, "/a%7eb c", requote=True).raw_path == "/a~b%20c"
    assert redirect_url(base, "/a%7eb", requote=False).raw_path == "/a%7eb"


@pytest.mark.parametrize(
    ("first", "second", "same"),
    [
        ("http://h/a", "http://h:80/b?x", True),
        ("http://H/a", "http://h/b", True),
        ("http://h/", "https://h/", False),
        ("http://h/", "http://h:8080/", False),
        ("http://h/", "http://other/", False),
        ("https://h/", "https://h:443/", True),
    ],
)
def test_same_origin_compares_scheme_host_and_port(first: str, second: str, same: bool) -> None:
    assert same_origin(URL(first), URL(second)) is same


def test_only_redirect_statuses_have_a_location_to_follow() -> None:
    headers = CIMultiDict({"Location": "/x"})
    assert location_of(302, headers) == "/x"
    assert location_of(200, headers) is None
    assert location_of(300, headers) is None
    assert location_of(301, CIMultiDict({"URI": "/old-style"})) == "/old-style"
    assert location_of(307, CIMultiDict()) is None


# --- servers ------------------------------------------------------------------------------------


def _serve() -> LiveServer:
    # LiveServer only needs an ASGI callable; it is typed for the shared TestApp.
    return LiveServer(cast(TestApp, RedirectApp())).start()


@pytest.fixture(scope="module")
def server() -> Iterator[LiveServer]:
    live = _serve()
    yield live
    live.stop()


@pytest.fixture(scope="module")
def other() -> Iterator[LiveServer]:
    """A second server: another port, hence another origin."""
    live = _serve()
    yield live
    live.stop()


@pytest.fixture
async def session() -> AsyncIterator[hyperclient.ClientSession]:
    async with hyperclient.ClientSession() as client:
        yield client


def app(server: LiveServer) -> RedirectApp:
    return cast(RedirectApp, server.app)


def redirect(server: LiveServer, status: int, to: str | URL | None, **query: str) -> URL:
    params = dict(query)
    if to is not None:
        params["to"] = str(to)
    return server.make_url(f"/redirect/{status}").with_query(params)


def hops_for(server: LiveServer, marker: str) -> list[Hop]:
    return [hop for hop in app(server).log if marker in hop.path or marker in hop.query]


# --- following ----------------------------------------------------------------------------------


@pytest.mark.parametrize("status", [301, 302, 303, 307, 308])
async def test_each_redirect_status_is_followed_for_get(
    server: LiveServer, session: hyperclient.ClientSession, status: int
) -> None:
    target = server.make_url(f"/echo/followed-{status}")
    async with session.get(redirect(server, status, target)) as resp:
        assert resp.status == 200
        assert resp.url == target
        assert (await resp.json())["path"] == f"/echo/followed-{status}"
        assert [r.status for r in resp.history] == [status]
        assert resp.history[0].url == redirect(server, status, target)


async def test_history_lists_every_hop_earliest_first(
    server: LiveServer, session: hyperclient.ClientSession
) -> None:
    async with session.get(server.make_url("/chain/3?status=301")) as resp:
        assert resp.status == 200
        assert [r.url.path for r in resp.history] == ["/chain/3", "/chain/2", "/chain/1"]
        assert [r.status for r in resp.history] == [301, 301, 301]
        assert resp.url.path == "/chain/0"


async def test_allow_redirects_false_returns_the_redirect_itself(
    server: LiveServer, session: hyperclient.ClientSession
) -> None:
    url = redirect(server, 302, "/echo/not-followed")
    async with session.get(url, allow_redirects=False) as resp:
        assert resp.status == 302
        assert resp.history == ()
        assert resp.headers["Location"] == "/echo/not-followed"
    assert not app(server).hops("/echo/not-followed")


async def test_max_redirects_raises_when_the_nth_redirect_arrives(
    server: LiveServer, session: hyperclient.ClientSession
) -> None:
    with pytest.raises(hyperclient.TooManyRedirects) as info:
        await session.get(server.make_url("/chain/3?status=302"), max_redirects=3)
    assert [r.url.path for r in info.value.history] == ["/chain/3", "/chain/2", "/chain/1"]
    assert info.value.request_info.url.path == "/chain/3"
    assert all(r.closed for r in info.value.history)
    async with session.get(server.make_url("/chain/3?status=302"), max_redirects=4) as resp:
        assert resp.status == 200
        assert len(resp.history) == 3


async def test_a_redirect_loop_stops_at_ten_by_default(
    server: LiveServer, session: hyperclient.ClientSession
) -> None:
    with pytest.raises(hyperclient.TooManyRedirects) as info:
        await session.get(server.make_url("/loop"))
    assert len(info.value.history) == 10
    assert info.value.status == 302


async def test_redirect_without_location_is_the_final_response(
    server: LiveServer, session: hyperclient.ClientSession
) -> None:
    async with session.get(redirect(server, 302, None)) as resp:
        assert resp.status == 302
        assert resp.history == ()


async def test_head_does_not_follow_by_default_but_can(
    server: LiveServer, session: hyperclient.ClientSession
) -> None:
    url = redirect(server, 303, "/echo/head-target")
    async with session.head(url) as resp:
        assert resp.status == 303
    async with session.head(url, allow_redirects=True) as resp:
        assert resp.status == 200
    # RFC 9110 §15.4.4: a 303 answer to HEAD is followed with HEAD, not GET.
    assert [h.method for h in app(server).hops("/echo/head-target")] == ["HEAD"]


# --- methods and bodies -------------------------------------------------------------------------


@pytest.mark.parametrize("status", [301, 302, 303])
async def test_post_becomes_a_bodiless_get(
    server: LiveServer, session: hyperclient.ClientSession, status: int
) -> None:
    url = redirect(server, status, f"/echo/post-{status}")
    async with session.post(url, data=b"payload", headers={"Content-Type": "text/x"}) as resp:
        echo = await resp.json()
    assert echo["method"] == "GET"
    assert echo["body"] == ""
    names = {name for name, _ in echo["headers"]}
    assert not names & {"content-length", "content-type", "transfer-encoding"}


async def test_303_turns_put_into_get_but_301_keeps_put(
    server: LiveServer, session: hyperclient.ClientSession
) -> None:
    async with session.put(redirect(server, 303, "/echo/put-303"), data=b"x") as resp:
        assert (await resp.json())["method"] == "GET"
    async with session.put(redirect(server, 301, "/echo/put-301"), data=b"x") as resp:
        echo = await resp.json()
        assert (echo["method"], echo["body"]) == ("PUT", "x")


@pytest.mark.parametrize("status", [307, 308])
async def test_307_and_308_keep_method_and_body(
    server: LiveServer, session: hyperclient.ClientSession, status: int
) -> None:
    url = redirect(server, status, f"/echo/keep-{status}")
    async with session.post(url, data=b"same body", headers={"X-Kind": "k"}) as resp:
        echo = await resp.json()
    assert (echo["method"], echo["body"]) == ("POST", "same body")
    assert ["x-kind", "k"] in echo["headers"]
    assert ["content-length", "9"] in echo["headers"]


async def test_307_replays_a_seekable_file_body(
    server: LiveServer, session: hyperclient.ClientSession
) -> None:
    body = io.BytesIO(b"file contents")
    async with session.post(redirect(server, 307, "/echo/file"), data=body) as resp:
        echo = await resp.json()
    assert echo["body"] == "file contents"
    [first] = [hop for hop in app(server).hops("/redirect/307") if hop.body == b"file contents"]
    assert first.method == "POST"


class _SlowFirstRead(io.BufferedReader):
    """A slow disk: every read() (in the executor's thread) takes a while, the first longest."""

    reads = 0

    def read(self, size: int | None = -1) -> bytes:
        self.reads += 1
        time.sleep(0.3 if self.reads == 1 else 0.1)
        return super().read(size)


async def test_307_answered_before_the_body_was_read_replays_the_whole_file(
    server: LiveServer, session: hyperclient.ClientSession, tmp_path: Path
) -> None:
    # The 307 arrives while the first hop's read of the file is still running in its thread;
    # the second hop must not rewind and read the file underneath it.
    data = bytes(range(256)) * 4096 * 3  # 3 MiB: several pieces
    path = tmp_path / "body.bin"
    path.write_bytes(data)
    url = server.make_url("/early/307").with_query(to="/echo/early-307")
    with _SlowFirstRead(io.FileIO(path, "rb")) as file:
        async with session.post(url, data=file) as resp:
            echo = await resp.json()
    assert resp.history[0].status == 307
    assert echo["method"] == "POST"
    assert echo["body"].encode("latin-1") == data


async def test_307_with_an_already_sent_stream_body_is_a_clear_error(
    server: LiveServer, session: hyperclient.ClientSession
) -> None:
    async def stream() -> AsyncIterator[bytes]:
        yield b"once "
        yield b"only"

    with pytest.raises(hyperclient.RedirectClientError, match="request body again"):
        await session.post(redirect(server, 307, "/echo/stream-replay"), data=stream())
    assert not app(server).hops("/echo/stream-replay")


async def test_params_apply_to_the_first_hop_only(
    server: LiveServer, session: hyperclient.ClientSession
) -> None:
    url = redirect(server, 302, "/echo/params-target")
    async with session.get(url, params={"extra": "1"}) as resp:
        echo = await resp.json()
    assert echo["query"] == ""
    first = [hop for hop in app(server).hops("/redirect/302") if "params-target" in hop.query]
    assert first[-1].query.endswith("&extra=1")


# --- locations ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("location", "path", "query"),
    [
        ("/echo/abs-path", "/echo/abs-path", ""),
        ("relative-sibling", "/redirect/relative-sibling", ""),
        ("../echo/dotdot", "/echo/dotdot", ""),
        ("/echo/q?a=1&b=2", "/echo/q", "a=1&b=2"),
    ],
)
async def test_relative_locations_resolve_against_the_redirecting_url(
    server: LiveServer, session: hyperclient.ClientSession, location: str, path: str, query: str
) -> None:
    async with session.get(redirect(server, 302, location)) as resp:
        echo = await resp.json()
    assert (echo["path"], echo["query"]) == (path, query)


async def test_scheme_relative_location(server: LiveServer, other: LiveServer) -> None:
    location = f"//127.0.0.1:{other.port}/echo/scheme-relative"
    async with (
        hyperclient.ClientSession() as session,
        session.get(redirect(server, 302, location)) as resp,
    ):
        assert resp.url == other.make_url("/echo/scheme-relative")
        assert resp.status == 200


async def test_requote_redirect_url_false_sends_the_location_bytes_unchanged(
    server: LiveServer,
) -> None:
    location = "/echo/a%7eb"
    async with (
        hyperclient.ClientSession() as session,
        session.get(redirect(server, 302, location)) as resp,
    ):
        assert (await resp.json())["raw_path"] == "/echo/a~b"
    async with hyperclient.ClientSession(requote_redirect_url=False) as session:
        assert session.requote_redirect_url is False
        async with session.get(redirect(server, 302, location)) as resp:
            assert (await resp.json())["raw_path"] == "/echo/a%7eb"


@pytest.mark.parametrize("location", ["ftp://127.0.0.1/file", "mailto:me@example.com"])
async def test_redirect_to_a_non_http_scheme_raises(
    server: LiveServer, session: hyperclient.ClientSession, location: str
) -> None:
    with pytest.raises(hyperclient.NonHttpUrlRedirectClientError):
        await session.get(redirect(server, 302, location))


@pytest.mark.parametrize("location", ["http://[::1", "http:///no-host"])
async def test_redirect_to_an_unparsable_location_raises(
    server: LiveServer, session: hyperclient.ClientSession, location: str
) -> None:
    with pytest.raises(hyperclient.InvalidUrlRedirectClientError):
        await session.get(redirect(server, 302, location))


async def test_session_stays_usable_after_a_refused_redirect(
    server: LiveServer, session: hyperclient.ClientSession
) -> None:
    with pytest.raises(hyperclient.RedirectClientError):
        await session.get(redirect(server, 302, "ftp://h/"))
    async with session.get(server.make_url("/echo/after-refusal")) as resp:
        assert resp.status == 200


# --- the redirect response's connection ---------------------------------------------------------


async def test_small_redirect_body_is_read_and_its_connection_reused(
    server: LiveServer, session: hyperclient.ClientSession
) -> None:
    url = redirect(server, 302, "/echo/reuse-small", body="100", delay="0.05")
    async with session.get(url) as resp:
        echo = await resp.json()
        assert await resp.history[0].read() == b"r" * 100  # kept for the caller
    [hop] = [h for h in app(server).hops("/redirect/302") if "reuse-small" in h.query]
    assert echo["client_port"] == hop.client_port


async def test_large_redirect_body_closes_its_connection_instead(
    server: LiveServer, session: hyperclient.ClientSession
) -> None:
    url = redirect(server, 302, "/echo/large-body", body=str(4 * 1024 * 1024))
    async with session.get(url) as resp:
        echo = await resp.json()
    [hop] = [h for h in app(server).hops("/redirect/302") if "large-body" in h.query]
    assert echo["client_port"] != hop.client_port


async def test_chunked_redirect_body_does_not_break_the_next_hop(
    server: LiveServer, session: hyperclient.ClientSession
) -> None:
    url = redirect(server, 301, "/echo/chunked-body", body="10", chunked="1")
    async with session.get(url) as resp:
        assert (await resp.json())["path"] == "/echo/chunked-body"
    async with session.get(server.make_url("/echo/next")) as resp:
        assert resp.status == 200


# --- credentials across origins -----------------------------------------------------------------


CREDENTIALS = {
    "Authorization": "Bearer secret-token",
    "Cookie": "explicit=1",
    "Proxy-Authorization": "Basic cHJveHk6cHc=",
}


def _credential_headers(echo: dict[str, Any]) -> dict[str, str]:
    wanted = {name.lower() for name in CREDENTIALS}
    return {name: value for name, value in echo["headers"] if name in wanted}


async def test_credentials_follow_a_redirect_on_the_same_origin(
    server: LiveServer, session: hyperclient.ClientSession
) -> None:
    async with session.get(redirect(server, 302, "/echo/same"), headers=CREDENTIALS) as resp:
        sent = _credential_headers(await resp.json())
    assert sent == {k.lower(): v for k, v in CREDENTIALS.items()}


@pytest.mark.parametrize("change", ["port", "host"])
async def test_credentials_stay_behind_when_the_origin_changes(
    server: LiveServer, other: LiveServer, session: hyperclient.ClientSession, change: str
) -> None:
    target = (
        other.make_url("/echo/cross")
        if change == "port"
        else URL(f"http://localhost:{server.port}/echo/cross")
    )
    async with session.get(redirect(server, 307, target), headers=CREDENTIALS) as resp:
        assert resp.url == target
        assert _credential_headers(await resp.json()) == {}


async def test_basic_auth_is_dropped_on_another_origin_and_kept_on_the_same(
    server: LiveServer, other: LiveServer, session: hyperclient.ClientSession
) -> None:
    auth = hyperclient.BasicAuth("user", "pw")
    async with session.get(redirect(server, 302, "/echo/auth-same"), auth=auth) as resp:
        assert ["authorization", auth.encode()] in (await resp.json())["headers"]
    target = other.make_url("/echo/auth-cross")
    async with session.get(redirect(server, 302, target), auth=auth) as resp:
        assert "authorization" not in {name for name, _ in (await resp.json())["headers"]}


async def test_url_credentials_follow_a_same_origin_redirect_only(
    server: LiveServer, other: LiveServer, session: hyperclient.ClientSession
) -> None:
    expected = hyperclient.BasicAuth("u", "p").encode()
    url = redirect(server, 302, "/echo/url-creds").with_user("u").with_password("p")
    async with session.get(url) as resp:
        assert ["authorization", expected] in (await resp.json())["headers"]
    url = redirect(server, 302, other.make_url("/echo/url-creds-cross"))
    async with session.get(url.with_user("u").with_password("p")) as resp:
        assert "authorization" not in {name for name, _ in (await resp.json())["headers"]}


async def test_scheme_change_is_an_origin_change(
    server: LiveServer, https_server: LiveServer, ca_ssl_context: ssl.SSLContext
) -> None:
    target = https_server.make_url("/echo")
    async with (
        hyperclient.ClientSession() as session,
        session.get(redirect(server, 302, target), headers=CREDENTIALS, ssl=ca_ssl_context) as resp,
    ):
        assert resp.url.scheme == "https"
        echo = await resp.json()
    assert not [n for n, _ in echo["headers"] if n.lower() in ("authorization", "cookie")]


# --- httpbin ------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def httpbin_url() -> Iterator[URL]:
    with serve_httpbin() as url:
        yield url


async def test_httpbin_relative_and_absolute_redirect_chains(httpbin_url: URL) -> None:
    async with hyperclient.ClientSession() as session:
        for kind in ("relative-redirect", "absolute-redirect", "redirect"):
            async with session.get(httpbin_url / kind / "3") as resp:
                assert resp.status == 200
                assert resp.url == httpbin_url / "get"
                assert len(resp.history) == 3


async def test_httpbin_redirect_to_with_status_codes(httpbin_url: URL) -> None:
    async with hyperclient.ClientSession() as session:
        for code in (301, 302, 303, 307, 308):
            url = (httpbin_url / "redirect-to").with_query(url="/anything", status_code=code)
            async with session.post(url, data=b"body") as resp:
                data = json.loads(await resp.text())
                kept = code in (307, 308)
                assert data["method"] == ("POST" if kept else "GET")
                assert data["data"] == ("body" if kept else "")
