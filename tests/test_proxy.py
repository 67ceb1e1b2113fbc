"""Proxies: absolute-form through http:// proxies, CONNECT tunnels for https targets, https://
proxies (TLS inside TLS), Proxy-Authorization, proxy errors, pool keys, and trust_env.

The proxies are real: proxy.py processes (tests/servers/forward_proxy.py). A scripted raw
server stands in for a proxy where a test pins the exact bytes a proxy receives.
"""

from __future__ import annotations

import base64
import socket
import ssl
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest
from yarl import URL

import hyperclient
from hyperclient.proxy import EnvProxies, prepare_proxy
from servers import LiveServer, RawConnection, RawServerFactory, http_response, reply_forever
from servers.forward_proxy import ForwardProxy
from servers.net_fixtures import PROXY_PASSWORD, PROXY_USER

PROXY_CREDENTIALS = hyperclient.BasicAuth(PROXY_USER, PROXY_PASSWORD)


def basic(login: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{login}:{password}".encode()).decode()


def closed_port() -> int:
    """A port on 127.0.0.1 that nothing listens on (it was free a moment ago)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
async def tls_session(ca_ssl_context: ssl.SSLContext) -> AsyncIterator[hyperclient.ClientSession]:
    """A session whose default ssl= trusts the test CA (origins and https:// proxies)."""
    connector = hyperclient.TCPConnector(ssl=ca_ssl_context)
    async with hyperclient.ClientSession(connector=connector) as client:
        yield client


BIG_SIZE = 4 << 20
BIG = f"/bytes/{BIG_SIZE}"  # a body long enough to keep its connection while the test looks


def peer_port(resp: hyperclient.ClientResponse) -> int:
    """The port of the peer of the response's socket (a proxy's, for a tunnel)."""
    assert resp.connection is not None and resp.connection.transport is not None
    return int(resp.connection.transport.get_extra_info("peername")[1])


def tls_layers(resp: hyperclient.ClientResponse) -> int:
    """How many TLS transports are stacked under the response (2: TLS inside TLS)."""
    assert resp.connection is not None
    transport: Any = resp.connection.transport
    layers = 0
    while transport is not None and transport.get_extra_info("ssl_object") is not None:
        layers += 1
        # asyncio's TLS transport keeps the one below in its SSL protocol.
        transport = transport._ssl_protocol._transport
    return layers


def seen_headers(server: LiveServer, path: str) -> dict[str, str]:
    request = server.app.seen(path)[-1]
    return {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in request.headers}


# -- http targets: absolute-form -------------------------------------------------------------------


async def test_http_target_through_an_http_proxy(
    forward_proxy: ForwardProxy, http_server: LiveServer, session: hyperclient.ClientSession
) -> None:
    async with session.get(http_server.make_url("/echo?via=proxy"), proxy=forward_proxy.url) as r:
        assert r.status == 200
        echoed = await r.json()
    assert echoed["path"] == "/echo"
    assert echoed["query_string"] == "via=proxy"


async def test_request_to_a_proxy_is_in_absolute_form_and_the_target_is_not_resolved(
    raw_server: RawServerFactory, session: hyperclient.ClientSession
) -> None:
    proxy = await raw_server(reply_forever(http_response(b"from proxy")))
    # .invalid never resolves (RFC 6761): only the proxy may look the name up.
    url = "http://origin.invalid:8080/path/x?q=1"
    async with session.get(url, proxy=str(proxy.url)) as resp:
        assert await resp.read() == b"from proxy"
    request = proxy.connections[0].requests[0]
    assert request.request_line == b"GET http://origin.invalid:8080/path/x?q=1 HTTP/1.1"
    assert request.header("host") == "origin.invalid:8080"


async def test_proxy_auth_is_sent_as_proxy_authorization_for_http_targets(
    raw_server: RawServerFactory, session: hyperclient.ClientSession
) -> None:
    proxy = await raw_server(reply_forever(http_response(b"ok")))
    auth = hyperclient.BasicAuth("user", "pass")
    async with session.get("http://origin.invalid/", proxy=proxy.url, proxy_auth=auth) as resp:
        await resp.read()
    request = proxy.connections[0].requests[0]
    assert request.header("proxy-authorization") == basic("user", "pass")
    assert request.header("authorization") is None


async def test_credentials_in_the_proxy_url_become_proxy_authorization(
    raw_server: RawServerFactory, session: hyperclient.ClientSession
) -> None:
    proxy = await raw_server(reply_forever(http_response(b"ok")))
    proxy_url = f"http://us%20er:p%40ss@127.0.0.1:{proxy.port}"  # percent-encoded user-info
    async with session.get("http://origin.invalid/", proxy=proxy_url) as resp:
        await resp.read()
    request = proxy.connections[0].requests[0]
    assert request.header("proxy-authorization") == basic("us er", "p@ss")
    assert b"p@ss" not in request.request_line


async def test_proxy_headers_reach_the_proxy_with_http_targets(
    raw_server: RawServerFactory, session: hyperclient.ClientSession
) -> None:
    proxy = await raw_server(reply_forever(http_response(b"ok")))
    async with session.get(
        "http://origin.invalid/", proxy=proxy.url, proxy_headers={"X-Proxy-Token": "t1"}
    ) as resp:
        await resp.read()
    assert proxy.connections[0].requests[0].header("x-proxy-token") == "t1"


async def test_a_reused_proxy_connection_carries_proxy_authorization_every_time(
    raw_server: RawServerFactory, session: hyperclient.ClientSession
) -> None:
    proxy = await raw_server(reply_forever(http_response(b"ok")))
    auth = hyperclient.BasicAuth("user", "pass")
    for path in ("/1", "/2"):
        async with session.get(f"http://origin.invalid{path}", proxy=proxy.url, proxy_auth=auth):
            pass
    assert len(proxy.connections) == 1
    requests = proxy.connections[0].requests
    assert [r.header("proxy-authorization") for r in requests] == [basic("user", "pass")] * 2


async def test_authenticating_proxy_answers_407_without_credentials_for_http_targets(
    auth_proxy: ForwardProxy, http_server: LiveServer, session: hyperclient.ClientSession
) -> None:
    # Not a tunnel: the 407 is the response to the request itself.
    async with session.get(http_server.make_url("/json"), proxy=auth_proxy.url) as resp:
        assert resp.status == 407


@pytest.mark.parametrize("where", ["proxy_auth", "url"])
async def test_authenticating_proxy_accepts_credentials_for_http_targets(
    where: str,
    auth_proxy: ForwardProxy,
    http_server: LiveServer,
    session: hyperclient.ClientSession,
) -> None:
    kwargs: dict[str, Any] = {"proxy": auth_proxy.url}
    if where == "url":
        kwargs["proxy"] = auth_proxy.url.with_user(PROXY_USER).with_password(PROXY_PASSWORD)
    else:
        kwargs["proxy_auth"] = PROXY_CREDENTIALS
    async with session.get(http_server.make_url("/json"), **kwargs) as resp:
        assert resp.status == 200
        assert (await resp.json())["hello"] == "world"


async def test_proxy_settings_without_a_proxy_are_ignored(
    http_server: LiveServer, session: hyperclient.ClientSession
) -> None:
    async with session.get(
        http_server.make_url("/echo"),
        proxy_auth=hyperclient.BasicAuth("user", "pass"),
        proxy_headers={"X-Proxy-Token": "t1"},
    ) as resp:
        names = [name for name, _ in (await resp.json())["headers"]]
    assert "proxy-authorization" not in names
    assert "x-proxy-token" not in names
    request = hyperclient.ClientRequest(
        "GET", URL("http://a.example/"), proxy_headers={"X-Proxy-Token": "t1"}
    )
    assert request.proxy_headers is None
    proxied = hyperclient.ClientRequest(
        "GET",
        URL("http://a.example/"),
        proxy=URL("http://proxy.example:3128"),
        proxy_headers={"X-Proxy-Token": "t1"},
    )
    assert proxied.proxy_headers is not None and proxied.proxy_headers["X-Proxy-Token"] == "t1"


# -- https targets: CONNECT ------------------------------------------------------------------------


async def test_https_target_through_an_http_proxy_tunnels_with_connect(
    forward_proxy: ForwardProxy, https_server: LiveServer, tls_session: hyperclient.ClientSession
) -> None:
    async with tls_session.get(https_server.make_url(BIG), proxy=forward_proxy.url) as resp:
        assert resp.status == 200
        assert peer_port(resp) == forward_proxy.port
        assert tls_layers(resp) == 1
        await resp.read()
    url = https_server.make_url("/echo")
    async with tls_session.get(url, proxy=forward_proxy.url) as resp:
        echoed = await resp.json()
    # Inside the tunnel the request is in origin-form, to the origin (RFC 9112 §3.2.1).
    assert echoed["raw_path"] == "/echo"
    assert [f"127.0.0.1:{https_server.port}"] == [v for k, v in echoed["headers"] if k == "host"]


async def test_connect_request_carries_authority_host_credentials_and_proxy_headers(
    raw_server: RawServerFactory, session: hyperclient.ClientSession
) -> None:
    async def refuse(conn: RawConnection) -> None:
        await conn.read_request(body=False)
        await conn.send(http_response(b"no", status="407 Proxy Authentication Required"))

    proxy = await raw_server(refuse)
    with pytest.raises(hyperclient.ClientHttpProxyError):
        await session.get(
            "https://origin.invalid/secret/path",
            proxy=proxy.url,
            proxy_auth=hyperclient.BasicAuth("user", "pass"),
            proxy_headers={"X-Proxy-Token": "t1"},
        )
    request = proxy.connections[0].requests[0]
    assert request.request_line == b"CONNECT origin.invalid:443 HTTP/1.1"
    assert request.header("host") == "origin.invalid:443"
    assert request.header("proxy-authorization") == basic("user", "pass")
    assert request.header("x-proxy-token") == "t1"
    assert b"/secret/path" not in proxy.received  # the path is for the origin only


async def test_connect_to_an_ipv6_origin_brackets_the_address(
    raw_server: RawServerFactory, session: hyperclient.ClientSession
) -> None:
    async def refuse(conn: RawConnection) -> None:
        await conn.read_request(body=False)
        await conn.send(http_response(status="403 Forbidden"))

    proxy = await raw_server(refuse)
    with pytest.raises(hyperclient.ClientHttpProxyError) as info:
        await session.get("https://[::1]:8443/", proxy=proxy.url)
    assert info.value.status == 403
    assert proxy.connections[0].requests[0].request_line == b"CONNECT [::1]:8443 HTTP/1.1"


async def test_proxy_authorization_and_proxy_headers_never_enter_the_tunnel(
    auth_proxy: ForwardProxy, https_server: LiveServer, tls_session: hyperclient.ClientSession
) -> None:
    async with tls_session.get(
        https_server.make_url("/echo"),
        proxy=auth_proxy.url,
        proxy_auth=PROXY_CREDENTIALS,
        proxy_headers={"X-Proxy-Token": "t1"},
    ) as resp:
        assert resp.status == 200
    headers = seen_headers(https_server, "/echo")
    assert "proxy-authorization" not in headers
    assert "x-proxy-token" not in headers


async def test_credentials_in_the_proxy_url_open_an_authenticated_tunnel(
    auth_proxy: ForwardProxy, https_server: LiveServer, tls_session: hyperclient.ClientSession
) -> None:
    proxy = auth_proxy.url.with_user(PROXY_USER).with_password(PROXY_PASSWORD)
    async with tls_session.get(https_server.make_url("/json"), proxy=proxy) as resp:
        assert resp.status == 200


async def test_connect_refused_with_407_is_a_client_http_proxy_error(
    auth_proxy: ForwardProxy, https_server: LiveServer, tls_session: hyperclient.ClientSession
) -> None:
    with pytest.raises(hyperclient.ClientHttpProxyError) as info:
        await tls_session.get(https_server.make_url("/json"), proxy=auth_proxy.url)
    exc = info.value
    assert exc.status == 407
    assert isinstance(exc, hyperclient.ClientResponseError)
    assert exc.request_info.method == "CONNECT"
    assert exc.headers is not None and "Proxy-Authenticate" in exc.headers


async def test_wrong_proxy_credentials_are_refused_and_not_kept_in_the_error(
    auth_proxy: ForwardProxy, https_server: LiveServer, tls_session: hyperclient.ClientSession
) -> None:
    wrong = hyperclient.BasicAuth(PROXY_USER, "wrong-password")
    with pytest.raises(hyperclient.ClientHttpProxyError) as info:
        await tls_session.get(
            https_server.make_url("/json"), proxy=auth_proxy.url, proxy_auth=wrong
        )
    assert info.value.status == 407
    assert "Proxy-Authorization" not in info.value.request_info.headers


async def test_connect_to_an_unreachable_origin_is_a_client_http_proxy_error(
    forward_proxy: ForwardProxy, tls_session: hyperclient.ClientSession
) -> None:
    url = f"https://127.0.0.1:{closed_port()}/"
    with pytest.raises(hyperclient.ClientHttpProxyError) as info:
        await tls_session.get(url, proxy=forward_proxy.url)
    assert info.value.status >= 400


async def test_proxy_closing_before_answering_connect_is_a_proxy_connection_error(
    raw_server: RawServerFactory, session: hyperclient.ClientSession
) -> None:
    async def hang_up(conn: RawConnection) -> None:
        await conn.read_request(body=False)

    proxy = await raw_server(hang_up)
    with pytest.raises(hyperclient.ClientProxyConnectionError):
        await session.get("https://origin.invalid/", proxy=proxy.url)


async def test_a_tunnel_is_never_reused_for_another_origin(
    forward_proxy: ForwardProxy,
    https_server: LiveServer,
    expired_server: LiveServer,
    tls_session: hyperclient.ClientSession,
) -> None:
    before_a = len(https_server.app.seen("/client"))
    before_b = len(expired_server.app.seen("/client"))
    for server, ssl_arg in ((https_server, True), (expired_server, False), (https_server, True)):
        async with tls_session.get(
            server.make_url("/client"), proxy=forward_proxy.url, ssl=ssl_arg
        ) as resp:
            assert resp.status == 200
    assert len(https_server.app.seen("/client")) - before_a == 2
    assert len(expired_server.app.seen("/client")) - before_b == 1


async def test_a_tunnel_is_reused_for_its_own_origin(
    forward_proxy: ForwardProxy, https_server: LiveServer, tls_session: hyperclient.ClientSession
) -> None:
    ports = []
    for _ in range(2):
        url = https_server.make_url("/client")
        async with tls_session.get(url, proxy=forward_proxy.url) as resp:
            ports.append((await resp.json())["port"])
    assert ports[0] == ports[1]  # the proxy's one upstream connection: one tunnel


# -- https:// proxies ------------------------------------------------------------------------------


async def test_http_target_through_an_https_proxy(
    tls_proxy: ForwardProxy, http_server: LiveServer, tls_session: hyperclient.ClientSession
) -> None:
    async with tls_session.get(http_server.make_url("/echo"), proxy=tls_proxy.url) as resp:
        assert resp.status == 200
        headers = (await resp.json())["headers"]
    assert [v for k, v in headers if k == "via"] == ["1.1 proxy.py v2.4.10"]


async def test_https_target_through_an_https_proxy_is_tls_inside_tls(
    tls_proxy: ForwardProxy, https_server: LiveServer, tls_session: hyperclient.ClientSession
) -> None:
    async with tls_session.get(https_server.make_url(BIG), proxy=tls_proxy.url) as resp:
        assert resp.status == 200
        assert peer_port(resp) == tls_proxy.port
        assert tls_layers(resp) == 2
        assert len(await resp.read()) == BIG_SIZE


async def test_https_proxy_certificate_is_verified(
    tls_proxy: ForwardProxy, http_server: LiveServer, session: hyperclient.ClientSession
) -> None:
    # The default ssl=True trusts the system's CAs, not the test CA that signed the proxy.
    with pytest.raises(hyperclient.ClientConnectorCertificateError):
        await session.get(http_server.make_url("/json"), proxy=tls_proxy.url)


# -- unreachable proxies and unsupported URLs ------------------------------------------------------


@pytest.mark.parametrize("target", ["http://origin.invalid/", "https://origin.invalid/"])
async def test_unreachable_proxy_is_a_client_proxy_connection_error(
    target: str, session: hyperclient.ClientSession
) -> None:
    proxy = f"http://127.0.0.1:{closed_port()}"
    with pytest.raises(hyperclient.ClientProxyConnectionError) as info:
        await session.get(target, proxy=proxy)
    assert isinstance(info.value, hyperclient.ClientConnectorError)
    assert isinstance(info.value.os_error, ConnectionRefusedError)


@pytest.mark.parametrize("scheme", ["socks4", "socks4a", "socks5", "socks5h"])
async def test_socks_proxy_url_is_a_value_error_naming_the_scheme(
    scheme: str, session: hyperclient.ClientSession
) -> None:
    with pytest.raises(ValueError, match=f"{scheme}://"):
        await session.get("http://origin.invalid/", proxy=f"{scheme}://127.0.0.1:1080")


async def test_other_proxy_schemes_are_a_value_error(session: hyperclient.ClientSession) -> None:
    with pytest.raises(ValueError, match="ftp"):
        await session.get("http://origin.invalid/", proxy="ftp://127.0.0.1:21")


async def test_proxy_auth_must_be_basic_auth(session: hyperclient.ClientSession) -> None:
    with pytest.raises(ValueError, match="BasicAuth"):
        await session.get(
            "http://origin.invalid/",
            proxy="http://127.0.0.1:3128",
            proxy_auth=("user", "pass"),  # type: ignore[arg-type]
        )


def test_prepared_proxy_is_its_origin_without_credentials() -> None:
    url, auth = prepare_proxy("http://u:p@proxy.example:3128/some/path", None)
    assert url == URL("http://proxy.example:3128")
    assert auth == hyperclient.BasicAuth("u", "p")
    explicit = hyperclient.BasicAuth("other", "secret")
    assert prepare_proxy("http://u:p@proxy.example:3128", explicit) == (
        URL("http://proxy.example:3128"),
        explicit,
    )


async def test_session_proxy_is_the_default_and_a_request_proxy_overrides_it(
    raw_server: RawServerFactory,
) -> None:
    session_proxy = await raw_server(reply_forever(http_response(b"session proxy")))
    request_proxy = await raw_server(reply_forever(http_response(b"request proxy")))
    auth = hyperclient.BasicAuth("user", "pass")
    async with hyperclient.ClientSession(proxy=session_proxy.url, proxy_auth=auth) as client:
        async with client.get("http://origin.invalid/") as resp:
            assert await resp.read() == b"session proxy"
        async with client.get("http://origin.invalid/", proxy=request_proxy.url) as resp:
            assert await resp.read() == b"request proxy"
    assert session_proxy.connections[0].requests[0].header("proxy-authorization") == basic(
        "user", "pass"
    )
    # The session's credentials belong to the session's proxy.
    assert request_proxy.connections[0].requests[0].header("proxy-authorization") is None


# -- trust_env: the environment's proxies ----------------------------------------------------------

_PROXY_VARIABLES = ("http_proxy", "https_proxy", "ws_proxy", "wss_proxy", "no_proxy")


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> pytest.MonkeyPatch:
    """No proxy variables from the outside, and an empty .netrc."""
    for name in _PROXY_VARIABLES:
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(name.upper(), raising=False)
    monkeypatch.delenv("REQUEST_METHOD", raising=False)
    netrc = tmp_path / "netrc"
    netrc.write_text("")
    monkeypatch.setenv("NETRC", str(netrc))
    return monkeypatch


async def test_trust_env_sends_http_requests_through_http_proxy(
    clean_env: pytest.MonkeyPatch, raw_server: RawServerFactory
) -> None:
    proxy = await raw_server(reply_forever(http_response(b"via env proxy")))
    clean_env.setenv("HTTP_PROXY", str(proxy.url))
    async with (
        hyperclient.ClientSession(trust_env=True) as client,
        client.get("http://origin.invalid/x") as resp,
    ):
        assert await resp.read() == b"via env proxy"
    assert proxy.connections[0].requests[0].request_line == b"GET http://origin.invalid/x HTTP/1.1"


async def test_without_trust_env_the_environment_is_ignored(
    clean_env: pytest.MonkeyPatch, http_server: LiveServer
) -> None:
    clean_env.setenv("HTTP_PROXY", f"http://127.0.0.1:{closed_port()}")
    async with (
        hyperclient.ClientSession() as client,
        client.get(http_server.make_url("/json")) as resp,
    ):
        assert resp.status == 200


async def test_trust_env_sends_https_requests_through_https_proxy_variable(
    clean_env: pytest.MonkeyPatch, raw_server: RawServerFactory
) -> None:
    async def refuse(conn: RawConnection) -> None:
        await conn.read_request(body=False)
        await conn.send(http_response(status="403 Forbidden"))

    proxy = await raw_server(refuse)
    clean_env.setenv("https_proxy", str(proxy.url))
    clean_env.setenv("HTTP_PROXY", f"http://127.0.0.1:{closed_port()}")  # not for https
    async with hyperclient.ClientSession(trust_env=True) as client:
        with pytest.raises(hyperclient.ClientHttpProxyError) as info:
            await client.get("https://origin.invalid/")
    assert info.value.status == 403
    assert proxy.connections[0].requests[0].request_line.startswith(b"CONNECT origin.invalid:443")


async def test_trust_env_picks_the_proxy_again_for_each_redirect_hop(
    clean_env: pytest.MonkeyPatch, raw_server: RawServerFactory, http_server: LiveServer
) -> None:
    # The environment decides per target: a redirect to a NO_PROXY host leaves the proxy.
    target = http_server.make_url("/json")
    redirect = http_response(status="302 Found", headers=[("Location", str(target))])
    proxy = await raw_server(reply_forever(redirect))
    clean_env.setenv("HTTP_PROXY", str(proxy.url))
    clean_env.setenv("NO_PROXY", "127.0.0.1")
    async with (
        hyperclient.ClientSession(trust_env=True) as client,
        client.get("http://origin.invalid/start") as resp,
    ):
        assert resp.status == 200
        assert resp.url == target
        assert [r.status for r in resp.history] == [302]
    requests = [r for c in proxy.connections for r in c.requests]
    assert [r.request_line for r in requests] == [b"GET http://origin.invalid/start HTTP/1.1"]


async def test_no_proxy_hosts_go_direct(
    clean_env: pytest.MonkeyPatch, http_server: LiveServer
) -> None:
    clean_env.setenv("HTTP_PROXY", f"http://127.0.0.1:{closed_port()}")
    clean_env.setenv("NO_PROXY", "example.com, 127.0.0.0/8")
    async with (
        hyperclient.ClientSession(trust_env=True) as client,
        client.get(http_server.make_url("/json")) as resp,
    ):
        assert resp.status == 200


@pytest.mark.parametrize("password", [PROXY_PASSWORD, "wrong"])
async def test_proxy_credentials_come_from_netrc(
    password: str,
    clean_env: pytest.MonkeyPatch,
    tmp_path: Path,
    auth_proxy: ForwardProxy,
    https_server: LiveServer,
    ca_ssl_context: ssl.SSLContext,
) -> None:
    netrc = tmp_path / "netrc"
    netrc.write_text(f"machine 127.0.0.1 login {PROXY_USER} password {password}\n")
    clean_env.setenv("HTTPS_PROXY", str(auth_proxy.url))
    connector = hyperclient.TCPConnector(ssl=ca_ssl_context)
    async with hyperclient.ClientSession(connector=connector, trust_env=True) as client:
        if password == PROXY_PASSWORD:
            async with client.get(https_server.make_url("/json")) as resp:
                assert resp.status == 200
        else:
            with pytest.raises(hyperclient.ClientHttpProxyError) as info:
                await client.get(https_server.make_url("/json"))
            assert info.value.status == 407


async def test_the_environment_is_read_once_per_session(
    clean_env: pytest.MonkeyPatch, raw_server: RawServerFactory, http_server: LiveServer
) -> None:
    proxy = await raw_server(reply_forever(http_response(b"proxied")))
    clean_env.setenv("HTTP_PROXY", str(proxy.url))
    async with hyperclient.ClientSession(trust_env=True) as client:
        async with client.get(http_server.make_url("/json")) as resp:
            assert await resp.read() == b"proxied"
        clean_env.delenv("HTTP_PROXY")
        async with client.get(http_server.make_url("/json")) as resp:
            assert await resp.read() == b"proxied"
    async with (
        hyperclient.ClientSession(trust_env=True) as client,
        client.get(http_server.make_url("/json")) as resp,
    ):
        assert resp.status == 200
        assert (await resp.json())["hello"] == "world"


async def test_an_explicit_proxy_wins_over_the_environment(
    clean_env: pytest.MonkeyPatch, raw_server: RawServerFactory
) -> None:
    env_proxy = await raw_server(reply_forever(http_response(b"env")))
    explicit = await raw_server(reply_forever(http_response(b"explicit")))
    clean_env.setenv("HTTP_PROXY", str(env_proxy.url))
    async with (
        hyperclient.ClientSession(trust_env=True) as client,
        client.get("http://origin.invalid/", proxy=explicit.url) as resp,
    ):
        assert await resp.read() == b"explicit"


async def test_a_socks_proxy_in_the_environment_is_a_value_error_not_a_direct_request(
    clean_env: pytest.MonkeyPatch, http_server: LiveServer
) -> None:
    clean_env.setenv("http_proxy", "socks5://127.0.0.1:1080")
    async with hyperclient.ClientSession(trust_env=True) as client:
        with pytest.raises(ValueError, match="socks5://"):
            await client.get(http_server.make_url("/json"))


# -- EnvProxies: variable names and NO_PROXY matching ----------------------------------------------


def env_proxies(**environ: str) -> EnvProxies:
    return EnvProxies(environ, netrc_lookup=lambda host: None)


def proxy_for(proxies: EnvProxies, url: str) -> URL | None:
    found = proxies.for_url(URL(url))
    return found[0] if found is not None else None


@pytest.mark.parametrize("name", ["HTTP_PROXY", "http_proxy", "Http_Proxy"])
def test_proxy_variables_match_in_any_case(name: str) -> None:
    proxies = env_proxies(**{name: "http://proxy.example:3128"})
    assert proxy_for(proxies, "http://a.example/") == URL("http://proxy.example:3128")
    assert proxy_for(proxies, "https://a.example/") is None


def test_lower_case_variable_wins() -> None:
    proxies = env_proxies(HTTP_PROXY="http://upper:1", http_proxy="http://lower:2")
    assert proxy_for(proxies, "http://a.example/") == URL("http://lower:2")


def test_upper_case_http_proxy_is_ignored_under_cgi() -> None:
    proxies = env_proxies(HTTP_PROXY="http://attacker:1", REQUEST_METHOD="GET")
    assert proxy_for(proxies, "http://a.example/") is None


def test_each_scheme_has_its_variable() -> None:
    proxies = env_proxies(
        HTTP_PROXY="http://h:1",
        HTTPS_PROXY="http://s:2",
        WS_PROXY="http://w:3",
        WSS_PROXY="http://x:4",
    )
    assert proxy_for(proxies, "http://a.example/") == URL("http://h:1")
    assert proxy_for(proxies, "https://a.example/") == URL("http://s:2")
    assert proxy_for(proxies, "ws://a.example/") == URL("http://w:3")
    assert proxy_for(proxies, "wss://a.example/") == URL("http://x:4")


def test_a_proxy_without_scheme_is_an_http_proxy() -> None:
    assert proxy_for(env_proxies(HTTP_PROXY="proxy.example:3128"), "http://a/") == URL(
        "http://proxy.example:3128"
    )


def test_environment_proxy_credentials_are_split_off() -> None:
    found = env_proxies(HTTP_PROXY="http://u:p@proxy.example:3128").for_url(URL("http://a/"))
    assert found == (URL("http://proxy.example:3128"), hyperclient.BasicAuth("u", "p"))


def test_netrc_supplies_credentials_only_when_the_url_has_none() -> None:
    lookup: Callable[[str], hyperclient.BasicAuth | None] = lambda host: (  # noqa: E731
        hyperclient.BasicAuth("netrc-user", "netrc-pass") if host == "proxy.example" else None
    )
    plain = EnvProxies({"HTTP_PROXY": "http://proxy.example:3128"}, lookup)
    assert plain.for_url(URL("http://a/")) == (
        URL("http://proxy.example:3128"),
        hyperclient.BasicAuth("netrc-user", "netrc-pass"),
    )
    own = EnvProxies({"HTTP_PROXY": "http://u:p@proxy.example:3128"}, lookup)
    found = own.for_url(URL("http://a/"))
    assert found is not None and found[1] == hyperclient.BasicAuth("u", "p")


@pytest.mark.parametrize(
    ("no_proxy", "url", "bypassed"),
    [
        ("*", "http://anything.example/", True),
        ("example.com", "http://example.com/", True),
        ("example.com", "http://www.example.com/", True),
        ("example.com", "http://notexample.com/", False),
        (".example.com", "http://www.example.com/", True),
        (".example.com", "http://example.com/", True),
        ("*.example.com", "http://a.b.example.com/", True),
        ("EXAMPLE.com", "http://Example.COM/", True),
        ("example.com:8080", "http://example.com:8080/", True),
        ("example.com:8080", "http://example.com/", False),
        ("10.1.2.3", "http://10.1.2.3/", True),
        ("10.1.2.3", "http://10.1.2.4/", False),
        ("10.0.0.0/8", "http://10.200.0.1/", True),
        ("10.0.0.0/8", "http://11.0.0.1/", False),
        ("::1", "http://[::1]:8080/", True),
        ("[::1]:8080", "http://[::1]:8080/", True),
        ("fd00::/8", "http://[fd12::1]/", True),
        ("a.example, b.example", "http://b.example/", True),
        ("a.example b.example", "http://b.example/", True),
        ("", "http://a.example/", False),
    ],
)
def test_no_proxy_matching(no_proxy: str, url: str, bypassed: bool) -> None:
    proxies = env_proxies(HTTP_PROXY="http://proxy.example:3128", NO_PROXY=no_proxy)
    assert (proxy_for(proxies, url) is None) is bypassed
