"""Basic authentication through a session against real servers on 127.0.0.1: ``auth=`` per
request and on the session (base_url's origin only), credentials in the URL, the conflicts
that are errors, and .netrc credentials under ``trust_env=True``."""

from __future__ import annotations

import base64
import netrc
from collections.abc import Iterator
from pathlib import Path
from typing import Any, cast

import pytest
from yarl import URL

import hyperclient
from servers import LiveServer, TestApp
from servers.httpbin_live import serve_httpbin
from servers.redirect_app import RedirectApp


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


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """trust_env reads the environment: start each test from a known one (no proxies, a home
    without a .netrc)."""
    for name in ("http_proxy", "https_proxy", "all_proxy", "no_proxy", "NETRC"):
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(name.upper(), raising=False)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))


def authorization(server: LiveServer, path: str) -> str | None:
    return cast(RedirectApp, server.app).hops(path)[-1].header("authorization")


def basic(login: str, password: str, encoding: str = "latin1") -> str:
    return "Basic " + base64.b64encode(f"{login}:{password}".encode(encoding)).decode()


# --- auth= ----------------------------------------------------------------------------------------


async def test_request_auth_is_sent_as_basic_credentials(server: LiveServer) -> None:
    url = server.make_url("/basic").with_query(user="user", password="pw")
    async with hyperclient.ClientSession() as session:
        async with session.get(url, auth=hyperclient.BasicAuth("user", "pw")) as resp:
            assert resp.status == 200
        async with session.get(url, auth=hyperclient.BasicAuth("user", "wrong")) as resp:
            assert resp.status == 401
        async with session.get(url) as resp:
            assert resp.status == 401


async def test_basic_auth_encodes_latin1_by_default_and_as_asked(server: LiveServer) -> None:
    async with hyperclient.ClientSession() as session:
        async with session.get(
            server.make_url("/echo/latin1"), auth=hyperclient.BasicAuth("usér", "pässword")
        ):
            pass
        async with session.get(
            server.make_url("/echo/utf8"),
            auth=hyperclient.BasicAuth("usér", "pässword", encoding="utf-8"),
        ):
            pass
    assert authorization(server, "/echo/latin1") == basic("usér", "pässword", "latin1")
    assert authorization(server, "/echo/utf8") == basic("usér", "pässword", "utf-8")


async def test_session_auth_goes_to_every_request_without_base_url(
    server: LiveServer, other: LiveServer
) -> None:
    auth = hyperclient.BasicAuth("session", "pw")
    async with hyperclient.ClientSession(auth=auth) as session:
        async with session.get(server.make_url("/echo/session-auth")):
            pass
        async with session.get(other.make_url("/echo/session-auth")):
            pass
        async with session.get(
            server.make_url("/echo/override"), auth=hyperclient.BasicAuth("call", "x")
        ):
            pass
    assert authorization(server, "/echo/session-auth") == basic("session", "pw")
    assert authorization(other, "/echo/session-auth") == basic("session", "pw")
    assert authorization(server, "/echo/override") == basic("call", "x")


async def test_session_auth_goes_only_to_base_url_origin(
    server: LiveServer, other: LiveServer
) -> None:
    auth = hyperclient.BasicAuth("session", "pw")
    async with hyperclient.ClientSession(base_url=server.url, auth=auth) as session:
        async with session.get("/echo/base-relative"):
            pass
        async with session.get(other.make_url("/echo/base-other")):
            pass
    assert authorization(server, "/echo/base-relative") == basic("session", "pw")
    assert authorization(other, "/echo/base-other") is None


async def test_session_auth_comes_back_on_a_redirect_into_base_url_origin(
    server: LiveServer, other: LiveServer
) -> None:
    auth = hyperclient.BasicAuth("session", "pw")
    back = other.make_url("/redirect/302").with_query(to=str(server.make_url("/echo/back-home")))
    async with (
        hyperclient.ClientSession(base_url=server.url, auth=auth) as session,
        session.get(back) as resp,
    ):
        assert resp.status == 200
    assert cast(RedirectApp, other.app).hops("/redirect/302")[-1].header("authorization") is None
    assert authorization(server, "/echo/back-home") == basic("session", "pw")


# --- credentials in the URL -----------------------------------------------------------------------


async def test_url_credentials_become_basic_auth_and_leave_the_url(server: LiveServer) -> None:
    url = server.make_url("/echo/url-creds").with_user("us er").with_password("p@ss:word")
    async with hyperclient.ClientSession() as session, session.get(url) as resp:
        assert resp.status == 200
        assert resp.url.user is None
        echo = await resp.json()
    assert authorization(server, "/echo/url-creds") == basic("us er", "p@ss:word")
    assert ["host", f"127.0.0.1:{server.port}"] in echo["headers"]


async def test_auth_together_with_url_credentials_is_a_value_error(server: LiveServer) -> None:
    url = server.make_url("/echo/both").with_user("u").with_password("p")
    async with hyperclient.ClientSession() as session:
        with pytest.raises(ValueError, match="credentials encoded in URL"):
            await session.get(url, auth=hyperclient.BasicAuth("other", "x"))
    assert not cast(RedirectApp, server.app).hops("/echo/both")


async def test_auth_together_with_an_authorization_header_is_a_value_error(
    server: LiveServer,
) -> None:
    async with hyperclient.ClientSession() as session:
        with pytest.raises(ValueError, match="AUTHORIZATION header"):
            await session.get(
                server.make_url("/echo/hdr"),
                auth=hyperclient.BasicAuth("u", "p"),
                headers={"Authorization": "Bearer t"},
            )
        async with session.get(
            server.make_url("/echo/hdr-only"), headers={"Authorization": "Bearer t"}
        ):
            pass
    assert authorization(server, "/echo/hdr-only") == "Bearer t"


# --- .netrc under trust_env ---------------------------------------------------------------------


def write_netrc(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    path.chmod(0o600)
    return path


async def test_trust_env_takes_credentials_from_the_netrc_variable_file(
    server: LiveServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    rc = write_netrc(tmp_path / "rc", "machine 127.0.0.1 login alice password s3cret\n")
    monkeypatch.setenv("NETRC", str(rc))
    for trust_env, path in ((True, "/echo/netrc-env"), (False, "/echo/netrc-off")):
        async with (
            hyperclient.ClientSession(trust_env=trust_env) as session,
            session.get(server.make_url(path)),
        ):
            pass
    assert authorization(server, "/echo/netrc-env") == basic("alice", "s3cret")
    assert authorization(server, "/echo/netrc-off") is None


async def test_trust_env_reads_the_netrc_in_home(server: LiveServer, tmp_path: Path) -> None:
    write_netrc(tmp_path / "home" / ".netrc", "default login anon password guest\n")
    async with (
        hyperclient.ClientSession(trust_env=True) as session,
        session.get(server.make_url("/echo/netrc-home")),
    ):
        pass
    assert authorization(server, "/echo/netrc-home") == basic("anon", "guest")


async def test_explicit_auth_and_authorization_header_win_over_netrc(
    server: LiveServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    rc = write_netrc(tmp_path / "rc", "default login anon password guest\n")
    monkeypatch.setenv("NETRC", str(rc))
    async with hyperclient.ClientSession(trust_env=True) as session:
        async with session.get(
            server.make_url("/echo/netrc-explicit"), auth=hyperclient.BasicAuth("me", "pw")
        ):
            pass
        async with session.get(
            server.make_url("/echo/netrc-header"), headers={"Authorization": "Bearer t"}
        ):
            pass
    assert authorization(server, "/echo/netrc-explicit") == basic("me", "pw")
    assert authorization(server, "/echo/netrc-header") == "Bearer t"


async def test_netrc_credentials_are_per_host_across_a_redirect(
    server: LiveServer, other: LiveServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    rc = write_netrc(tmp_path / "rc", "machine localhost login local password pw\n")
    monkeypatch.setenv("NETRC", str(rc))
    target = URL(f"http://localhost:{other.port}/echo/netrc-hop")
    url = server.make_url("/redirect/302").with_query(to=str(target))
    async with hyperclient.ClientSession(trust_env=True) as session, session.get(url) as resp:
        assert resp.status == 200
    assert cast(RedirectApp, server.app).hops("/redirect/302")[-1].header("authorization") is None
    assert authorization(other, "/echo/netrc-hop") == basic("local", "pw")


async def test_netrc_file_is_parsed_once_not_per_request(
    server: LiveServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    rc = write_netrc(tmp_path / "rc", "machine 127.0.0.1 login alice password s3cret\n")
    monkeypatch.setenv("NETRC", str(rc))
    parses: list[Any] = []
    real = netrc.netrc

    def counting(file: str | None = None) -> netrc.netrc:
        parses.append(file)
        return real(file)

    monkeypatch.setattr(netrc, "netrc", counting)
    async with hyperclient.ClientSession(trust_env=True) as session:
        for i in range(5):
            async with session.get(server.make_url(f"/echo/netrc-cache-{i}")):
                pass
    assert parses == [str(rc)]
    assert authorization(server, "/echo/netrc-cache-4") == basic("alice", "s3cret")


# --- httpbin ------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def httpbin_url() -> Iterator[URL]:
    with serve_httpbin() as url:
        yield url


async def test_httpbin_basic_auth(httpbin_url: URL) -> None:
    url = httpbin_url / "basic-auth" / "user" / "passwd"
    async with hyperclient.ClientSession() as session:
        async with session.get(url, auth=hyperclient.BasicAuth("user", "passwd")) as resp:
            assert resp.status == 200
            assert await resp.json() == {"authenticated": True, "user": "user"}
        async with session.get(url.with_user("user").with_password("passwd")) as resp:
            assert resp.status == 200
        async with session.get(url, auth=hyperclient.BasicAuth("user", "nope")) as resp:
            assert resp.status == 401
