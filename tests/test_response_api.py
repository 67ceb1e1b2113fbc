"""ClientResponse and its body stream against a real server (issue 2: "Responses").

Every documented attribute and method of ClientResponse, the header-derived properties
(content_type, charset, links, content_disposition, cookies), the body readers (read, text,
json), release/close, and every StreamReader method of SUPPLEMENT.md over a real chunked
response, plus flow control observed from the server side.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from typing import Any

import pytest
from multidict import CIMultiDict, CIMultiDictProxy, MultiDictProxy
from yarl import URL

import hyperclient
from servers import Canned, LiveServer, RawServerFactory, stream_piece
from servers.helpers import settled_value
from servers.raw import reply


def canned_url(server: LiveServer, body: bytes = b"", *headers: tuple[str, str]) -> URL:
    return server.canned(Canned(headers=list(headers), body=body))


async def client_port(session: hyperclient.ClientSession, server: LiveServer) -> int:
    async with session.get(server.make_url("/client")) as resp:
        port: int = (await resp.json())["port"]
        return port


# -- status line, URL, request info --------------------------------------------------------------


async def test_status_reason_ok_and_version(
    http_server: LiveServer, session: hyperclient.ClientSession
) -> None:
    async with session.get(http_server.make_url("/status/200")) as resp:
        assert resp.status == 200
        assert resp.reason == "OK"
        assert resp.ok is True
        assert resp.version == hyperclient.HttpVersion11
        assert resp.method == "GET"


@pytest.mark.parametrize(("status", "ok"), [(201, True), (304, True), (399, True), (400, False)])
async def test_ok_is_true_below_400(
    status: int, ok: bool, http_server: LiveServer, session: hyperclient.ClientSession
) -> None:
    url = http_server.make_url(f"/status/{status}")
    async with session.get(url, allow_redirects=False) as resp:
        assert resp.status == status
        assert resp.ok is ok


async def test_url_real_url_and_request_info(
    http_server: LiveServer, session: hyperclient.ClientSession
) -> None:
    url = http_server.make_url("/echo?x=1")
    async with session.get(url.with_fragment("frag"), headers={"X-Test": "yes"}) as resp:
        assert resp.url == url
        assert resp.real_url == url.with_fragment("frag")
        info = resp.request_info
        assert isinstance(info, hyperclient.RequestInfo)
        assert info.url == url
        assert info.real_url == url.with_fragment("frag")
        assert info.method == "GET"
        assert info.headers["X-Test"] == "yes"
        assert resp.history == ()
        assert len(resp.history) == 0


# -- headers -------------------------------------------------------------------------------------


async def test_headers_are_case_insensitive_and_raw_headers_keep_wire_case(
    http_server: LiveServer, session: hyperclient.ClientSession
) -> None:
    url = canned_url(http_server, b"", ("X-Custom-Case", "Value"), ("Set-Cookie", "a=1"))
    async with session.get(url) as resp:
        assert isinstance(resp.headers, CIMultiDictProxy)
        assert resp.headers["x-custom-case"] == "Value"
        assert resp.headers["X-CUSTOM-CASE"] == "Value"
        assert (b"X-Custom-Case", b"Value") in resp.raw_headers
        assert all(isinstance(k, bytes) and isinstance(v, bytes) for k, v in resp.raw_headers)


async def test_repeated_headers_are_all_kept(
    http_server: LiveServer, session: hyperclient.ClientSession
) -> None:
    url = canned_url(http_server, b"", ("Set-Cookie", "a=1"), ("Set-Cookie", "b=2"))
    async with session.get(url) as resp:
        assert resp.headers.getall("Set-Cookie") == ["a=1", "b=2"]


async def test_non_utf8_header_bytes_survive_in_raw_headers(
    raw_server: RawServerFactory, session: hyperclient.ClientSession
) -> None:
    response = b"HTTP/1.1 200 OK\r\nX-Raw: caf\xe9\r\nContent-Length: 0\r\n\r\n"
    server = await raw_server(reply(response))
    async with session.get(server.make_url("/")) as resp:
        assert (b"X-Raw", b"caf\xe9") in resp.raw_headers
        assert resp.headers["X-Raw"] == b"caf\xe9".decode("utf-8", "surrogateescape")


async def test_cookies_come_from_set_cookie(
    http_server: LiveServer, session: hyperclient.ClientSession
) -> None:
    url = canned_url(http_server, b"", ("Set-Cookie", "a=1; Path=/"), ("Set-Cookie", "b=two"))
    async with session.get(url) as resp:
        assert resp.cookies["a"].value == "1"
        assert resp.cookies["b"].value == "two"


@pytest.mark.parametrize(
    ("value", "content_type", "charset"),
    [
        ("text/html; charset=UTF-8", "text/html", "utf-8"),
        ("application/json", "application/json", None),
        ('text/plain; format=flowed; charset="iso-8859-1"', "text/plain", "iso-8859-1"),
        # Invalid per RFC 9110 §8.3.1: no "/" in the media type.
        ("invalid", "application/octet-stream", None),
        ("text plain", "application/octet-stream", None),
    ],
)
async def test_content_type_and_charset(
    value: str,
    content_type: str,
    charset: str | None,
    http_server: LiveServer,
    session: hyperclient.ClientSession,
) -> None:
    async with session.get(canned_url(http_server, b"", ("Content-Type", value))) as resp:
        assert resp.content_type == content_type
        assert (resp.charset and resp.charset.lower()) == charset
        assert resp.headers["Content-Type"] == value


async def test_missing_content_type_is_octet_stream(
    http_server: LiveServer, session: hyperclient.ClientSession
) -> None:
    async with session.get(canned_url(http_server, b"x")) as resp:
        assert "Content-Type" not in resp.headers
        assert resp.content_type == "application/octet-stream"
        assert resp.charset is None


async def test_links_are_parsed_from_the_link_header(
    http_server: LiveServer, session: hyperclient.ClientSession
) -> None:
    link = (
        '<https://example.com/page2>; rel="next", <https://example.com/page5>; rel=last, '
        '</relative>; rel="prev"; title="Back", <https://example.com/norel>'
    )
    url = canned_url(http_server, b"", ("Link", link))
    async with session.get(url) as resp:
        links = resp.links
    assert isinstance(links, MultiDictProxy)
    assert links["next"]["url"] == URL("https://example.com/page2")
    assert links["next"]["rel"] == "next"
    assert links["last"]["url"] == URL("https://example.com/page5")
    # A relative target is resolved against the response URL.
    assert links["prev"]["url"] == http_server.make_url("/relative")
    assert links["prev"]["title"] == "Back"
    assert links["https://example.com/norel"]["url"] == URL("https://example.com/norel")


async def test_links_are_empty_without_link_header(
    http_server: LiveServer, session: hyperclient.ClientSession
) -> None:
    async with session.get(canned_url(http_server)) as resp:
        assert len(resp.links) == 0


async def test_content_disposition_is_parsed(
    http_server: LiveServer, session: hyperclient.ClientSession
) -> None:
    value = "attachment; filename=\"fallback.txt\"; filename*=UTF-8''%e2%82%ac%20rates.txt"
    async with session.get(canned_url(http_server, b"", ("Content-Disposition", value))) as resp:
        disposition = resp.content_disposition
    assert isinstance(disposition, hyperclient.ContentDisposition)
    assert disposition.type == "attachment"
    # RFC 6266 §4.3: filename* wins over filename when both are present.
    assert disposition.filename == "€ rates.txt"
    assert "filename" in disposition.parameters


async def test_content_disposition_is_none_without_the_header(
    http_server: LiveServer, session: hyperclient.ClientSession
) -> None:
    async with session.get(canned_url(http_server)) as resp:
        assert resp.content_disposition is None


# -- read, text, json ----------------------------------------------------------------------------


async def test_read_returns_the_body_and_can_be_repeated(
    http_server: LiveServer, session: hyperclient.ClientSession
) -> None:
    async with session.get(http_server.make_url("/bytes/100000")) as resp:
        first = await resp.read()
        assert await resp.read() == first
        assert len(first) == 100_000


async def test_text_uses_the_declared_charset(
    http_server: LiveServer, session: hyperclient.ClientSession
) -> None:
    body = "Привет".encode("koi8-r")
    url = canned_url(http_server, body, ("Content-Type", "text/plain; charset=koi8-r"))
    async with session.get(url) as resp:
        assert resp.get_encoding() == "koi8-r"
        assert await resp.text() == "Привет"


async def test_text_encoding_argument_overrides_the_charset(
    http_server: LiveServer, session: hyperclient.ClientSession
) -> None:
    body = "Привет".encode("windows-1251")
    url = canned_url(http_server, body, ("Content-Type", "text/plain; charset=utf-8"))
    async with session.get(url) as resp:
        assert await resp.text(encoding="windows-1251") == "Привет"


async def test_text_raises_unicode_decode_error_on_bad_bytes(
    http_server: LiveServer, session: hyperclient.ClientSession
) -> None:
    url = canned_url(http_server, b"\xff\xfe\xfd", ("Content-Type", "text/plain; charset=utf-8"))
    async with session.get(url) as resp:
        with pytest.raises(UnicodeDecodeError):
            await resp.text()


async def test_json_parses_application_json(
    http_server: LiveServer, session: hyperclient.ClientSession
) -> None:
    async with session.get(http_server.make_url("/json")) as resp:
        assert await resp.json() == {"hello": "world", "numbers": [1, 2, 3]}


async def test_json_accepts_the_plus_json_extended_form(
    http_server: LiveServer, session: hyperclient.ClientSession
) -> None:
    url = canned_url(http_server, b'{"a": 1}', ("Content-Type", "application/vnd.custom+json"))
    async with session.get(url) as resp:
        assert await resp.json() == {"a": 1}


async def test_json_rejects_other_content_types(
    http_server: LiveServer, session: hyperclient.ClientSession
) -> None:
    url = canned_url(http_server, b'{"a": 1}', ("Content-Type", "text/html"))
    async with session.get(url) as resp:
        with pytest.raises(hyperclient.ContentTypeError) as info:
            await resp.json()
        assert isinstance(info.value, hyperclient.ClientResponseError)
        assert info.value.request_info.url == url
        # The check is a guard, not a failure of the response: the body is still readable.
        assert await resp.json(content_type=None) == {"a": 1}


async def test_json_with_explicit_content_type_is_strict(
    http_server: LiveServer, session: hyperclient.ClientSession
) -> None:
    url = canned_url(http_server, b"[1]", ("Content-Type", "custom/type"))
    async with session.get(url) as resp:
        assert await resp.json(content_type="custom/type") == [1]
    url = canned_url(http_server, b"[1]", ("Content-Type", "custom/xxx+type"))
    async with session.get(url) as resp:
        with pytest.raises(hyperclient.ContentTypeError):
            await resp.json(content_type="custom/type")


@pytest.mark.parametrize("body", [b"", b"  \r\n\t "])
async def test_json_of_empty_or_blank_body_is_none(
    body: bytes, http_server: LiveServer, session: hyperclient.ClientSession
) -> None:
    url = canned_url(http_server, body, ("Content-Type", "application/json"))
    async with session.get(url) as resp:
        assert await resp.json() is None


async def test_json_uses_loads_and_encoding(
    http_server: LiveServer, session: hyperclient.ClientSession
) -> None:
    body = json.dumps({"word": "Привет"}, ensure_ascii=False).encode("utf-16")
    url = canned_url(http_server, body, ("Content-Type", "application/json"))
    seen: list[str] = []

    def loads(text: str) -> Any:
        seen.append(text)
        return json.loads(text)

    async with session.get(url) as resp:
        assert await resp.json(encoding="utf-16", loads=loads) == {"word": "Привет"}
    assert seen == ['{"word": "Привет"}']


# -- raise_for_status, release, close, connection ------------------------------------------------


async def test_raise_for_status_does_nothing_below_400(
    http_server: LiveServer, session: hyperclient.ClientSession
) -> None:
    async with session.get(http_server.make_url("/status/204")) as resp:
        assert resp.raise_for_status() is None


async def test_raise_for_status_raises_client_response_error(
    http_server: LiveServer, session: hyperclient.ClientSession
) -> None:
    url = http_server.make_url("/status/500")
    async with session.get(url) as resp:
        with pytest.raises(hyperclient.ClientResponseError) as info:
            resp.raise_for_status()
    exc = info.value
    assert exc.status == 500
    assert exc.message == "Internal Server Error"
    assert exc.request_info == resp.request_info
    assert exc.headers is not None
    assert CIMultiDict(exc.headers)["Content-Type"].startswith("text/plain")
    assert exc.history == ()


async def test_response_holds_its_connection_until_the_body_is_read(
    http_server: LiveServer, session: hyperclient.ClientSession
) -> None:
    # Large enough that the body cannot all have arrived with the head (a body that has is
    # released to the pool as soon as its end arrives).
    async with session.get(http_server.make_url(f"/bytes/{8 << 20}")) as resp:
        connection = resp.connection
        assert isinstance(connection, hyperclient.Connection)
        assert connection.closed is False
        assert connection.transport is not None
        await resp.read()
        # Fully read: the connection went back to the pool.
        assert resp.connection is None or resp.connection.closed


async def test_fully_read_response_returns_connection_for_reuse(
    http_server: LiveServer, session: hyperclient.ClientSession
) -> None:
    async with session.get(http_server.make_url("/client")) as resp:
        first = (await resp.json())["port"]
    assert await client_port(session, http_server) == first


async def test_release_of_unread_response_closes_its_connection(
    http_server: LiveServer, session: hyperclient.ClientSession
) -> None:
    port = await client_port(session, http_server)
    resp = await session.get(http_server.make_url(f"/bytes/{8 * 1024 * 1024}"))
    resp.release()
    assert await client_port(session, http_server) != port


async def test_close_closes_the_connection(
    http_server: LiveServer, session: hyperclient.ClientSession
) -> None:
    port = await client_port(session, http_server)
    resp = await session.get(http_server.make_url("/bytes/10"))
    resp.close()
    assert await client_port(session, http_server) != port


async def test_reading_after_close_raises_client_error(
    http_server: LiveServer, session: hyperclient.ClientSession
) -> None:
    resp = await session.get(http_server.make_url(f"/bytes/{8 * 1024 * 1024}"))
    resp.close()
    with pytest.raises(hyperclient.ClientError):
        await resp.read()


async def test_async_with_releases_the_connection(
    http_server: LiveServer, session: hyperclient.ClientSession
) -> None:
    async with session.get(http_server.make_url("/bytes/10")) as resp:
        await resp.read()
    assert resp.connection is None or resp.connection.closed


# -- StreamReader over a real chunked response ---------------------------------------------------

PIECES = 6
PIECE_SIZE = 3000


def stream_url(server: LiveServer, n: int = PIECES, size: int = PIECE_SIZE) -> URL:
    return server.make_url(f"/stream?n={n}&size={size}")


def expected_stream(n: int = PIECES, size: int = PIECE_SIZE) -> bytes:
    return b"".join(stream_piece(i, size) for i in range(n))


async def test_content_is_a_stream_reader(
    http_server: LiveServer, session: hyperclient.ClientSession
) -> None:
    async with session.get(stream_url(http_server)) as resp:
        assert isinstance(resp.content, hyperclient.StreamReader)
        assert resp.headers["Transfer-Encoding"] == "chunked"
        assert resp.content.exception() is None


async def test_iter_chunks_marks_the_ends_of_http_chunks(
    http_server: LiveServer, session: hyperclient.ClientSession
) -> None:
    chunks: list[bytes] = []
    current = b""
    async with session.get(stream_url(http_server)) as resp:
        async for data, end_of_http_chunk in resp.content.iter_chunks():
            current += data
            if end_of_http_chunk and current:
                chunks.append(current)
                current = b""
    assert current == b""
    assert chunks == [stream_piece(i, PIECE_SIZE) for i in range(PIECES)]


async def test_readchunk_returns_empty_and_false_at_eof(
    http_server: LiveServer, session: hyperclient.ClientSession
) -> None:
    pieces: list[tuple[bytes, bool]] = []
    async with session.get(stream_url(http_server, n=2, size=10)) as resp:
        while True:
            data, end = await resp.content.readchunk()
            if not data and not end:
                break
            pieces.append((data, end))
    assert b"".join(d for d, _ in pieces) == expected_stream(2, 10)
    assert pieces[-1][1] is True


async def test_read_n_returns_at_most_n_bytes(
    http_server: LiveServer, session: hyperclient.ClientSession
) -> None:
    async with session.get(stream_url(http_server)) as resp:
        first = await resp.content.read(100)
        assert 0 < len(first) <= 100
        rest = await resp.content.read()
        assert first + rest == expected_stream()
        assert await resp.content.read() == b""
        assert resp.content.at_eof()


async def test_readany_returns_available_data_then_empty(
    http_server: LiveServer, session: hyperclient.ClientSession
) -> None:
    received = b""
    async with session.get(stream_url(http_server)) as resp:
        while data := await resp.content.readany():
            received += data
        assert await resp.content.readany() == b""
    assert received == expected_stream()


async def test_readexactly_spans_chunks_and_reports_a_short_tail(
    http_server: LiveServer, session: hyperclient.ClientSession
) -> None:
    async with session.get(stream_url(http_server)) as resp:
        assert await resp.content.readexactly(PIECE_SIZE + 10) == (
            stream_piece(0, PIECE_SIZE) + stream_piece(1, 10)
        )
        remaining = PIECES * PIECE_SIZE - PIECE_SIZE - 10
        with pytest.raises(asyncio.IncompleteReadError) as info:
            await resp.content.readexactly(remaining + 1)
    assert len(info.value.partial) == remaining


async def test_readline_and_async_iteration_yield_lines(
    http_server: LiveServer, session: hyperclient.ClientSession
) -> None:
    url = http_server.make_url("/slow?pieces=4")
    async with session.get(url) as resp:
        assert await resp.content.readline() == b"piece 0\n"
        lines = [line async for line in resp.content]
    assert lines == [b"piece 1\n", b"piece 2\n", b"piece 3\n"]


async def test_readline_returns_a_partial_last_line(
    http_server: LiveServer, session: hyperclient.ClientSession
) -> None:
    url = http_server.canned(Canned(pieces=[b"one\ntw", b"o\nthr", b"ee"]))
    async with session.get(url) as resp:
        lines = [await resp.content.readline() for _ in range(4)]
    assert lines == [b"one\n", b"two\n", b"three", b""]


async def test_readuntil_splits_on_any_separator(
    http_server: LiveServer, session: hyperclient.ClientSession
) -> None:
    url = http_server.canned(Canned(pieces=[b"a|b", b"c|", b"d"]))
    async with session.get(url) as resp:
        parts = [await resp.content.readuntil(b"|") for _ in range(3)]
    assert parts == [b"a|", b"bc|", b"d"]


async def test_iter_chunked_yields_pieces_of_at_most_n(
    http_server: LiveServer, session: hyperclient.ClientSession
) -> None:
    pieces: list[bytes] = []
    async with session.get(stream_url(http_server)) as resp:
        async for piece in resp.content.iter_chunked(1024):
            pieces.append(piece)
    assert all(0 < len(p) <= 1024 for p in pieces)
    assert b"".join(pieces) == expected_stream()


async def test_iter_any_yields_everything(
    http_server: LiveServer, session: hyperclient.ClientSession
) -> None:
    async with session.get(stream_url(http_server)) as resp:
        pieces = [piece async for piece in resp.content.iter_any()]
    assert all(pieces)
    assert b"".join(pieces) == expected_stream()


async def test_eof_helpers_and_read_nowait(
    http_server: LiveServer, session: hyperclient.ClientSession
) -> None:
    async with session.get(stream_url(http_server, n=3, size=50)) as resp:
        content = resp.content
        await content.wait_eof()
        assert content.is_eof()
        assert not content.at_eof()  # EOF seen, data still buffered
        assert content.read_nowait(10) == stream_piece(0, 10)
        assert content.read_nowait() == expected_stream(3, 50)[10:]
        assert content.at_eof()
        assert content.read_nowait() == b""


async def test_unread_data_pushes_bytes_back(
    http_server: LiveServer, session: hyperclient.ClientSession
) -> None:
    async with session.get(stream_url(http_server)) as resp:
        head = await resp.content.readexactly(5)
        resp.content.unread_data(head)
        assert await resp.content.read() == expected_stream()


async def test_stream_reads_fail_with_payload_error_on_truncated_chunked_body(
    raw_server: RawServerFactory, session: hyperclient.ClientSession
) -> None:
    async def handler(conn: Any) -> None:
        await conn.read_request()
        await conn.send(
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n10\r\nshort"
        )

    server = await raw_server(handler)
    async with session.get(server.make_url("/")) as resp:
        with pytest.raises(hyperclient.ClientPayloadError):
            async for _ in resp.content.iter_any():
                pass
        assert isinstance(resp.content.exception(), hyperclient.ClientPayloadError)


# -- flow control --------------------------------------------------------------------------------

FLOW_TOTAL = 64 * 1024 * 1024
# What the kernel buffers of a stalled loopback connection hold (a few MiB here) plus the
# client's read buffer stays far below this; a client that never pauses reading takes it all.
FLOW_BOUND = FLOW_TOTAL // 2


async def _assert_server_stalls_until_read(
    server: LiveServer, session: hyperclient.ClientSession, **kwargs: Any
) -> None:
    key = uuid.uuid4().hex
    async with session.get(server.make_url(f"/flow/{key}?total={FLOW_TOTAL}"), **kwargs) as resp:
        stalled = await settled_value(lambda: server.app.progress.get(key, 0))
        assert 0 < stalled < FLOW_BOUND
        received = 0
        async for chunk in resp.content.iter_chunked(1 << 20):
            received += len(chunk)
    assert received == FLOW_TOTAL


async def test_unread_body_stops_the_server_sending(
    http_server: LiveServer, session: hyperclient.ClientSession
) -> None:
    await _assert_server_stalls_until_read(http_server, session)


async def test_small_read_bufsize_on_session_still_delivers_everything(
    http_server: LiveServer,
) -> None:
    async with hyperclient.ClientSession(read_bufsize=4096) as session:
        await _assert_server_stalls_until_read(http_server, session)


async def test_read_bufsize_per_request_still_delivers_everything(
    http_server: LiveServer, session: hyperclient.ClientSession
) -> None:
    await _assert_server_stalls_until_read(http_server, session, read_bufsize=8192)
