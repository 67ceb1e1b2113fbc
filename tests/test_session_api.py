"""ClientSession and the basic API against a real server (issue 2: "ClientSession and the basic
API"): construction and attributes, the request methods, URL building, headers, options that
apply to every request, and ``hyperclient.request()``.
"""

from __future__ import annotations

import json
from typing import Any, ClassVar

import pytest
from multidict import CIMultiDict, MultiDict
from yarl import URL

import hyperclient
from servers import COMPRESSED_PAYLOAD, Canned, LiveServer, RawServerFactory, compress
from servers.helpers import header, header_values, run_in_fresh_loop
from servers.raw import http_response, reply

# -- construction, attributes, life cycle --------------------------------------------------------


async def test_session_attributes_have_documented_defaults() -> None:
    async with hyperclient.ClientSession() as session:
        assert session.closed is False
        assert isinstance(session.connector, hyperclient.BaseConnector)
        assert session.connector_owner is True
        assert session.timeout == hyperclient.ClientTimeout(total=300, sock_connect=30)
        assert session.raise_for_status is False
        assert session.auto_decompress is True
        assert session.trust_env is False
        assert session.json_serialize is json.dumps
        assert session.auth is None
        assert session.requote_redirect_url is True
        assert isinstance(session.skip_auto_headers, frozenset)
        assert len(session.headers) == 0
        assert session.cookie_jar is not None


async def test_session_stores_parameters_of_later_features() -> None:
    jar = hyperclient.DummyCookieJar()
    auth = hyperclient.BasicAuth("user", "pass")
    trace = hyperclient.TraceConfig()

    async def middleware(
        request: hyperclient.ClientRequest, handler: hyperclient.ClientHandlerType
    ) -> hyperclient.ClientResponse:
        return await handler(request)

    async with hyperclient.ClientSession(
        cookie_jar=jar,
        auth=auth,
        trace_configs=[trace],
        trust_env=True,
        middlewares=(middleware,),
        ws_response_class=hyperclient.ClientWebSocketResponse,
        headers={"X-Default": "1"},
        skip_auto_headers=["User-Agent"],
    ) as session:
        assert session.cookie_jar is jar
        assert session.auth == auth
        assert list(session.trace_configs) == [trace]
        assert session.trust_env is True
        assert session.headers["x-default"] == "1"
        assert {name.lower() for name in session.skip_auto_headers} == {"user-agent"}


async def test_async_with_closes_session_and_its_connector() -> None:
    async with hyperclient.ClientSession() as session:
        connector = session.connector
        assert connector is not None
    assert session.closed
    assert connector.closed


async def test_close_marks_session_closed() -> None:
    session = hyperclient.ClientSession()
    await session.close()
    assert session.closed
    await session.close()  # idempotent


async def test_request_on_closed_session_raises_runtime_error(http_server: LiveServer) -> None:
    session = hyperclient.ClientSession()
    await session.close()
    with pytest.raises(RuntimeError):
        await session.get(http_server.make_url("/json"))


async def test_detach_closes_session_but_not_connector(http_server: LiveServer) -> None:
    connector = hyperclient.TCPConnector()
    session = hyperclient.ClientSession(connector=connector)
    session.detach()
    assert session.closed
    assert not connector.closed
    async with (
        hyperclient.ClientSession(connector=connector) as other,
        other.get(http_server.make_url("/json")) as resp,
    ):
        assert resp.status == 200
    assert connector.closed


# -- the request methods -------------------------------------------------------------------------


async def test_awaited_request_returns_response_usable_with_async_with(
    http_server: LiveServer, session: hyperclient.ClientSession
) -> None:
    resp = await session.get(http_server.make_url("/json"))
    async with resp:
        assert resp.status == 200
        assert await resp.json() == {"hello": "world", "numbers": [1, 2, 3]}


@pytest.mark.parametrize("method", ["get", "post", "put", "patch", "delete", "options"])
async def test_method_helper_sends_its_method(
    method: str, http_server: LiveServer, session: hyperclient.ClientSession
) -> None:
    async with getattr(session, method)(http_server.make_url("/echo")) as resp:
        assert (await resp.json())["method"] == method.upper()


async def test_head_helper_sends_head(
    http_server: LiveServer, session: hyperclient.ClientSession
) -> None:
    async with session.head(http_server.make_url("/echo?head-helper")) as resp:
        assert resp.status == 200
        assert resp.method == "HEAD"
        assert await resp.read() == b""
    seen = [r for r in http_server.app.requests if r.query_string == b"head-helper"]
    assert [r.method for r in seen] == ["HEAD"]


async def test_request_sends_any_method_token(
    http_server: LiveServer, session: hyperclient.ClientSession
) -> None:
    async with session.request("PROPFIND", http_server.make_url("/echo")) as resp:
        assert (await resp.json())["method"] == "PROPFIND"


async def test_post_put_patch_send_data(
    http_server: LiveServer, session: hyperclient.ClientSession
) -> None:
    for call in (session.post, session.put, session.patch):
        async with call(http_server.make_url("/echo"), data=b"payload") as resp:
            assert (await resp.json())["body"] == "payload"


# -- URLs: base_url, params, encoding ------------------------------------------------------------


@pytest.mark.parametrize(
    ("base", "relative", "expected_path"),
    [
        # The reference's examples (RFC 3986 §5.2 reference resolution).
        ("/foo/", "bar", "/foo/bar"),
        ("/foo/", "/bar", "/bar"),
        ("/foo/", "", "/foo/"),
        ("/foo/", "bar/baz?x=1", "/foo/bar/baz"),
        ("/", "bar", "/bar"),
    ],
)
async def test_base_url_is_joined_per_rfc3986(
    base: str, relative: str, expected_path: str, http_server: LiveServer
) -> None:
    # Unknown paths get a 404, which does not matter: the request log tells which path arrived.
    async with (
        hyperclient.ClientSession(base_url=http_server.make_url(base)) as session,
        session.get(relative) as resp,
    ):
        assert resp.url.path == expected_path
        assert resp.url.host == "127.0.0.1"
    assert http_server.app.requests[-1].path == expected_path


async def test_base_url_accepts_str_and_url(http_server: LiveServer) -> None:
    for base in (str(http_server.url) + "/", http_server.url):
        async with (
            hyperclient.ClientSession(base_url=base) as session,
            session.get("json") as resp,
        ):
            assert resp.status == 200


async def test_absolute_url_overrides_base_url(
    http_server: LiveServer, raw_server: RawServerFactory
) -> None:
    other = await raw_server(reply(http_response(b"from raw")))
    async with (
        hyperclient.ClientSession(base_url=http_server.make_url("/api/")) as session,
        session.get(other.make_url("/elsewhere")) as resp,
    ):
        assert await resp.read() == b"from raw"
        assert resp.url == other.make_url("/elsewhere")


@pytest.mark.parametrize(
    ("params", "query"),
    [
        ({"key1": "value1", "key2": "value2"}, "key1=value1&key2=value2"),
        (MultiDict([("key", "value1"), ("key", "value2")]), "key=value1&key=value2"),
        ([("key", "value1"), ("key", "value2")], "key=value1&key=value2"),
        ((("a", "1"), ("b", "2")), "a=1&b=2"),
        ({"q": "a b&c"}, "q=a+b%26c"),
        # A str is sent verbatim: "+" stays "+" (it would be %2B if encoded).
        ("key=value+1", "key=value+1"),
    ],
)
async def test_params_forms_build_the_query_string(
    params: Any, query: str, http_server: LiveServer, session: hyperclient.ClientSession
) -> None:
    async with session.get(http_server.make_url("/echo"), params=params) as resp:
        echo = await resp.json()
    assert echo["query_string"] == query
    assert resp.url.raw_query_string == query


async def test_url_is_canonicalized_before_sending(
    http_server: LiveServer, session: hyperclient.ClientSession
) -> None:
    # The quickstart's example: percent-escapes of unreserved characters are decoded, non-ASCII
    # path characters are UTF-8 percent-encoded.
    url = str(http_server.url) + "/echo/путь%30?a=%31"
    async with session.get(url) as resp:
        echo = await resp.json()
    assert echo["raw_path"] == "/echo/%D0%BF%D1%83%D1%82%D1%8C0"
    assert echo["query_string"] == "a=1"


async def test_encoded_url_is_sent_verbatim(
    http_server: LiveServer, session: hyperclient.ClientSession
) -> None:
    url = URL(str(http_server.url) + "/echo/%D0%BF%D1%83%D1%82%D1%8C%30?a=%31", encoded=True)
    async with session.get(url) as resp:
        echo = await resp.json()
    assert echo["raw_path"] == "/echo/%D0%BF%D1%83%D1%82%D1%8C%30"
    assert echo["query_string"] == "a=%31"


async def test_fragment_is_not_sent(
    http_server: LiveServer, session: hyperclient.ClientSession
) -> None:
    async with session.get(str(http_server.make_url("/echo")) + "#section") as resp:
        echo = await resp.json()
        assert resp.url.fragment == ""
        assert resp.real_url.fragment == "section"
    assert echo["raw_path"] == "/echo"


# -- headers -------------------------------------------------------------------------------------


async def test_session_headers_are_merged_with_request_headers(http_server: LiveServer) -> None:
    async with (
        hyperclient.ClientSession(headers={"X-A": "session", "X-B": "session"}) as session,
        session.get(http_server.make_url("/echo"), headers={"x-b": "request"}) as resp,
    ):
        echo = await resp.json()
    assert header(echo, "X-A") == "session"
    assert header(echo, "X-B") == "request"


async def test_session_headers_accept_pairs_and_multidicts(http_server: LiveServer) -> None:
    pairs = [("X-Pair", "1")]
    async with hyperclient.ClientSession(headers=pairs) as session:
        multi = CIMultiDict([("X-Multi", "1"), ("X-Multi", "2")])
        async with session.get(http_server.make_url("/echo"), headers=multi) as resp:
            echo = await resp.json()
    assert header(echo, "X-Pair") == "1"
    assert header_values(echo, "X-Multi") == ["1", "2"]


async def test_auto_headers_are_sent(
    http_server: LiveServer, session: hyperclient.ClientSession
) -> None:
    async with session.get(http_server.make_url("/echo")) as resp:
        echo = await resp.json()
    assert header(echo, "Host") == f"127.0.0.1:{http_server.port}"
    assert header(echo, "User-Agent")
    assert header(echo, "Accept") == "*/*"
    codings = {c.strip() for c in (header(echo, "Accept-Encoding") or "").split(",")}
    # brotli and zstandard are installed in the test environment, so all four are offered.
    assert {"gzip", "deflate", "br", "zstd"} <= codings


async def test_get_without_body_sends_no_framing_headers(
    http_server: LiveServer, session: hyperclient.ClientSession
) -> None:
    async with session.get(http_server.make_url("/echo")) as resp:
        echo = await resp.json()
    assert header(echo, "Content-Length") is None
    assert header(echo, "Transfer-Encoding") is None
    assert header(echo, "Content-Type") is None


async def test_post_without_body_sends_content_length_zero(
    http_server: LiveServer, session: hyperclient.ClientSession
) -> None:
    # RFC 9110 §8.6: a method that defines content gets Content-Length even when it is empty.
    async with session.post(http_server.make_url("/echo")) as resp:
        echo = await resp.json()
    assert header(echo, "Content-Length") == "0"


async def test_explicit_headers_replace_auto_headers(
    http_server: LiveServer, session: hyperclient.ClientSession
) -> None:
    headers = {"User-Agent": "custom/1.0", "Accept": "text/html", "Host": "example.test"}
    async with session.get(http_server.make_url("/echo"), headers=headers) as resp:
        echo = await resp.json()
    assert header(echo, "User-Agent") == "custom/1.0"
    assert header(echo, "Accept") == "text/html"
    assert header(echo, "Host") == "example.test"


async def test_skip_auto_headers_on_session(http_server: LiveServer) -> None:
    skip = ["User-Agent", "Accept-Encoding", "accept"]
    async with (
        hyperclient.ClientSession(skip_auto_headers=skip) as session,
        session.post(http_server.make_url("/echo"), data=b"x") as resp,
    ):
        echo = await resp.json()
    assert header(echo, "User-Agent") is None
    assert header(echo, "Accept-Encoding") is None
    assert header(echo, "Accept") is None
    assert header(echo, "Content-Length") == "1"


async def test_skip_auto_headers_per_request(
    http_server: LiveServer, session: hyperclient.ClientSession
) -> None:
    async with session.post(
        http_server.make_url("/echo"), data=b"x", skip_auto_headers=["Content-Type"]
    ) as resp:
        echo = await resp.json()
    assert header(echo, "Content-Type") is None
    assert header(echo, "User-Agent")


async def test_content_length_cannot_be_skipped(
    http_server: LiveServer, session: hyperclient.ClientSession
) -> None:
    async with session.post(
        http_server.make_url("/echo"), data=b"abc", skip_auto_headers=["Content-Length"]
    ) as resp:
        echo = await resp.json()
    assert header(echo, "Content-Length") == "3"
    assert echo["body"] == "abc"


# -- version, json, serializers ------------------------------------------------------------------


async def test_session_version_http10_is_sent(http_server: LiveServer) -> None:
    async with (
        hyperclient.ClientSession(version=hyperclient.HttpVersion10) as session,
        session.get(http_server.make_url("/echo")) as resp,
    ):
        assert (await resp.json())["http_version"] == "1.0"


async def test_default_version_is_http11(
    http_server: LiveServer, session: hyperclient.ClientSession
) -> None:
    async with session.get(http_server.make_url("/echo")) as resp:
        assert (await resp.json())["http_version"] == "1.1"
        assert resp.version == hyperclient.HttpVersion11


async def test_json_body_is_serialized_with_json_content_type(
    http_server: LiveServer, session: hyperclient.ClientSession
) -> None:
    async with session.post(http_server.make_url("/echo"), json={"test": "object"}) as resp:
        echo = await resp.json()
    assert json.loads(echo["body"]) == {"test": "object"}
    assert header(echo, "Content-Type") == "application/json"
    assert header(echo, "Content-Length") == str(len(echo["body"]))


async def test_json_serialize_is_used_for_json_bodies(http_server: LiveServer) -> None:
    calls: list[object] = []

    def dumps(value: object) -> str:
        calls.append(value)
        return "CUSTOM" + json.dumps(value)

    async with (
        hyperclient.ClientSession(json_serialize=dumps) as session,
        session.post(http_server.make_url("/echo"), json=[1, 2]) as resp,
    ):
        echo = await resp.json()
    assert calls == [[1, 2]]
    assert echo["body"] == "CUSTOM[1, 2]"


async def test_json_keeps_an_explicit_content_type(
    http_server: LiveServer, session: hyperclient.ClientSession
) -> None:
    headers = {"Content-Type": "application/vnd.api+json"}
    async with session.post(http_server.make_url("/echo"), json={}, headers=headers) as resp:
        echo = await resp.json()
    assert header(echo, "Content-Type") == "application/vnd.api+json"


async def test_data_and_json_together_raise_value_error_before_sending(
    raw_server: RawServerFactory, session: hyperclient.ClientSession
) -> None:
    server = await raw_server(reply(http_response(b"ok")))
    with pytest.raises(ValueError):
        await session.post(server.make_url("/"), data=b"x", json={"a": 1})
    async with session.get(server.make_url("/after")) as resp:
        assert resp.status == 200
    assert server.received.startswith(b"GET /after ")


# -- raise_for_status ----------------------------------------------------------------------------


async def test_raise_for_status_true_on_session_raises_for_4xx(http_server: LiveServer) -> None:
    url = http_server.make_url("/status/404")
    async with hyperclient.ClientSession(raise_for_status=True) as session:
        with pytest.raises(hyperclient.ClientResponseError) as info:
            await session.get(url)
        async with session.get(http_server.make_url("/status/200")) as resp:
            assert resp.status == 200
    exc = info.value
    assert exc.status == 404
    assert exc.message == "Not Found"
    assert exc.request_info.url == url
    assert exc.request_info.method == "GET"
    assert exc.history == ()


async def test_raise_for_status_true_raises_in_async_with_form(http_server: LiveServer) -> None:
    async with hyperclient.ClientSession(raise_for_status=True) as session:
        with pytest.raises(hyperclient.ClientResponseError) as info:
            async with session.get(http_server.make_url("/status/500")):
                pytest.fail("the body of async with must not run")
    assert info.value.status == 500


async def test_raise_for_status_false_per_request_overrides_session(
    http_server: LiveServer,
) -> None:
    # The reference's example.
    async with hyperclient.ClientSession(raise_for_status=True) as session:
        resp = await session.get(http_server.make_url("/status/404"), raise_for_status=False)
        async with resp:
            assert resp.status == 404


async def test_raise_for_status_true_per_request_overrides_session(
    http_server: LiveServer, session: hyperclient.ClientSession
) -> None:
    with pytest.raises(hyperclient.ClientResponseError):
        await session.get(http_server.make_url("/status/400"), raise_for_status=True)
    async with session.get(http_server.make_url("/status/400")) as resp:
        assert resp.status == 400


async def test_raise_for_status_callable_on_session_checks_every_response(
    http_server: LiveServer,
) -> None:
    checked: list[int] = []

    async def custom_check(response: hyperclient.ClientResponse) -> None:
        checked.append(response.status)
        if response.status not in {201, 202}:
            raise RuntimeError("expected either 201 or 202")
        if "201" not in await response.text():
            raise RuntimeError("unexpected body")

    async with hyperclient.ClientSession(raise_for_status=custom_check) as session:
        async with session.get(http_server.make_url("/status/201")) as resp:
            assert await resp.text() == "status 201"
        with pytest.raises(RuntimeError, match="201 or 202"):
            await session.get(http_server.make_url("/status/200"))
    assert checked == [201, 200]


async def test_raise_for_status_callable_per_request(
    http_server: LiveServer, session: hyperclient.ClientSession
) -> None:
    seen: list[int] = []

    async def check(response: hyperclient.ClientResponse) -> None:
        seen.append(response.status)

    async with session.get(http_server.make_url("/status/503"), raise_for_status=check) as resp:
        assert resp.status == 503
    assert seen == [503]


async def test_raise_for_status_per_request_false_disables_session_callable(
    http_server: LiveServer,
) -> None:
    async def always_fail(response: hyperclient.ClientResponse) -> None:
        raise RuntimeError("should not be called")

    async with hyperclient.ClientSession(raise_for_status=always_fail) as session:
        url = http_server.make_url("/status/200")
        async with session.get(url, raise_for_status=False) as resp:
            assert resp.status == 200


# -- response head limits ------------------------------------------------------------------------


def _long_reason() -> bytes:
    return http_response(b"ok", status="200 " + "R" * 9000)


def _long_header() -> bytes:
    return http_response(b"ok", headers=[("X-Long", "v" * 9000)])


def _many_headers() -> bytes:
    return http_response(b"ok", headers=[(f"X-H{i}", "v") for i in range(140)])


@pytest.mark.parametrize("response", [_long_reason(), _long_header(), _many_headers()])
async def test_response_head_over_default_limits_is_rejected(
    response: bytes, raw_server: RawServerFactory, session: hyperclient.ClientSession
) -> None:
    # The reference does not name the class; like the system it describes, a head the parser
    # refuses is a ClientResponseError with status 400 ("Got more than N bytes when reading").
    server = await raw_server(reply(response))
    with pytest.raises(hyperclient.ClientResponseError) as info:
        await session.get(server.make_url("/"))
    assert info.value.status == 400


@pytest.mark.parametrize(
    ("response", "limits"),
    [
        (_long_reason(), {"max_line_size": 10000}),
        (_long_header(), {"max_field_size": 10000}),
        (_many_headers(), {"max_headers": 200}),
    ],
)
async def test_raised_head_limits_on_session_accept_larger_heads(
    response: bytes, limits: dict[str, Any], raw_server: RawServerFactory
) -> None:
    server = await raw_server(reply(response))
    async with (
        hyperclient.ClientSession(**limits) as session,
        session.get(server.make_url("/")) as resp,
    ):
        assert await resp.read() == b"ok"


@pytest.mark.parametrize(
    ("response", "limits"),
    [
        (_long_reason(), {"max_line_size": 10000}),
        (_long_header(), {"max_field_size": 10000}),
        (_many_headers(), {"max_headers": 200}),
    ],
)
async def test_raised_head_limits_per_request_accept_larger_heads(
    response: bytes,
    limits: dict[str, Any],
    raw_server: RawServerFactory,
    session: hyperclient.ClientSession,
) -> None:
    server = await raw_server(reply(response))
    async with session.get(server.make_url("/"), **limits) as resp:
        assert await resp.read() == b"ok"


@pytest.mark.parametrize(
    ("response", "limits"),
    [
        (http_response(b"ok", headers=[("X-Long", "v" * 200)]), {"max_field_size": 100}),
        (http_response(b"ok", headers=[("X-H", "v")] * 20), {"max_headers": 10}),
    ],
)
async def test_lowered_head_limits_per_request_reject_smaller_heads(
    response: bytes,
    limits: dict[str, Any],
    raw_server: RawServerFactory,
    session: hyperclient.ClientSession,
) -> None:
    server = await raw_server(reply(response))
    with pytest.raises(hyperclient.ClientResponseError) as info:
        await session.get(server.make_url("/"), **limits)
    assert info.value.status == 400


@pytest.mark.parametrize(
    ("head", "limits"),
    [
        # Eleven of the shortest lines a head can hold ("a:"), one over max_headers=10.
        (b"HTTP/1.1 200 OK\r\n" + b"\r\n".join([b"a:"] * 11), {"max_headers": 10}),
        # One line exactly one byte over max_field_size=100 (as counted by the parser).
        (b"HTTP/1.1 200 OK\r\na:" + b"v" * 100, {"max_field_size": 100}),
    ],
    ids=["one-header-too-many", "one-byte-too-long"],
)
async def test_the_smallest_head_over_a_limit_is_rejected(
    head: bytes,
    limits: dict[str, Any],
    raw_server: RawServerFactory,
    session: hyperclient.ClientSession,
) -> None:
    # Short heads skip the limit checks (they cannot break them); these sit on that boundary.
    server = await raw_server(reply(head + b"\r\n\r\nok"))  # body until the close
    with pytest.raises(hyperclient.ClientResponseError) as info:
        await session.get(server.make_url("/"), **limits)
    assert info.value.status == 400


# -- charset fallback, decompression, custom classes ---------------------------------------------


async def test_fallback_charset_resolver_decodes_text_without_charset(
    http_server: LiveServer,
) -> None:
    text = "Привет, мир"
    url = http_server.canned(
        Canned(headers=[("Content-Type", "text/plain")], body=text.encode("cp1251"))
    )
    calls: list[tuple[hyperclient.ClientResponse, bytes]] = []

    def resolver(response: hyperclient.ClientResponse, body: bytes) -> str:
        calls.append((response, body))
        return "cp1251"

    async with (
        hyperclient.ClientSession(fallback_charset_resolver=resolver) as session,
        session.get(url) as resp,
    ):
        assert await resp.text() == text
    assert len(calls) == 1
    assert calls[0][0] is resp
    assert calls[0][1] == text.encode("cp1251")


async def test_fallback_charset_resolver_handles_unknown_charsets(
    http_server: LiveServer,
) -> None:
    url = http_server.canned(
        Canned(headers=[("Content-Type", "text/plain; charset=no-such-codec")], body=b"caf\xe9")
    )
    async with (
        hyperclient.ClientSession(fallback_charset_resolver=lambda r, b: "latin-1") as s,
        s.get(url) as resp,
    ):
        assert resp.get_encoding() == "latin-1"
        assert await resp.text() == "café"


async def test_default_fallback_charset_is_utf8(
    http_server: LiveServer, session: hyperclient.ClientSession
) -> None:
    url = http_server.canned(
        Canned(headers=[("Content-Type", "text/plain")], body="héllo".encode())
    )
    async with session.get(url) as resp:
        assert await resp.text() == "héllo"


async def test_auto_decompress_false_on_session_returns_encoded_body(
    http_server: LiveServer,
) -> None:
    encoded, _ = compress("gzip", COMPRESSED_PAYLOAD)
    async with hyperclient.ClientSession(auto_decompress=False) as session:
        async with session.get(http_server.make_url("/compressed/gzip")) as resp:
            assert resp.headers["Content-Encoding"] == "gzip"
            assert await resp.read() == encoded
        url = http_server.make_url("/compressed/gzip")
        async with session.get(url, auto_decompress=True) as resp:
            assert await resp.read() == COMPRESSED_PAYLOAD


async def test_auto_decompress_false_per_request(
    http_server: LiveServer, session: hyperclient.ClientSession
) -> None:
    encoded, _ = compress("deflate", COMPRESSED_PAYLOAD)
    url = http_server.make_url("/compressed/deflate")
    async with session.get(url, auto_decompress=False) as resp:
        assert await resp.read() == encoded
    async with session.get(url) as resp:
        assert await resp.read() == COMPRESSED_PAYLOAD


class RecordingRequest(hyperclient.ClientRequest):
    created: ClassVar[list[hyperclient.ClientRequest]] = []

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        RecordingRequest.created.append(self)


class ShoutingResponse(hyperclient.ClientResponse):
    async def shout(self) -> str:
        return (await self.text()).upper()


async def test_request_class_and_response_class_are_used(http_server: LiveServer) -> None:
    RecordingRequest.created.clear()
    async with (
        hyperclient.ClientSession(
            request_class=RecordingRequest, response_class=ShoutingResponse
        ) as session,
        session.get(http_server.make_url("/status/200")) as resp,
    ):
        assert isinstance(resp, ShoutingResponse)
        assert await resp.shout() == "STATUS 200"
    assert len(RecordingRequest.created) == 1
    assert RecordingRequest.created[0].url == http_server.make_url("/status/200")


# -- hyperclient.request() -----------------------------------------------------------------------


async def test_module_request_is_an_async_context_manager(http_server: LiveServer) -> None:
    async with hyperclient.request("GET", http_server.make_url("/json")) as resp:
        assert resp.status == 200
        assert await resp.json() == {"hello": "world", "numbers": [1, 2, 3]}


async def test_module_request_accepts_request_options(http_server: LiveServer) -> None:
    async with hyperclient.request(
        "POST",
        http_server.make_url("/echo"),
        params={"q": "1"},
        json={"a": 1},
        headers={"X-Test": "yes"},
        version=hyperclient.HttpVersion10,
    ) as resp:
        echo = await resp.json()
    assert echo["query_string"] == "q=1"
    assert json.loads(echo["body"]) == {"a": 1}
    assert header(echo, "X-Test") == "yes"
    assert echo["http_version"] == "1.0"


def test_module_request_closes_its_session_and_connector(http_server: LiveServer) -> None:
    async def main() -> None:
        async with hyperclient.request("GET", http_server.make_url("/bytes/1000")) as resp:
            assert len(await resp.read()) == 1000

    assert run_in_fresh_loop(main) == []


def test_module_request_closes_everything_when_body_is_not_read(
    http_server: LiveServer,
) -> None:
    async def main() -> None:
        async with hyperclient.request("GET", http_server.make_url("/bytes/1000000")) as resp:
            assert resp.status == 200

    assert run_in_fresh_loop(main) == []
