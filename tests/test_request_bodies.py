"""Request bodies and their framing, as the server receives them (issue 2: "Requests").

The server (uvicorn, h11) reports the body's length and SHA-256, the framing headers, and for
forms the parsed fields, so each test compares what was meant with what arrived.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import zlib
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from yarl import URL

import hyperclient
from servers import LiveServer, RawConnection, RawServer, RawServerFactory, pattern_bytes
from servers.helpers import header
from servers.raw import http_response, reply


async def upload(
    session: hyperclient.ClientSession, server: LiveServer, **kwargs: Any
) -> dict[str, Any]:
    async with session.post(server.make_url("/upload"), **kwargs) as resp:
        assert resp.status == 200, await resp.text()
        result: dict[str, Any] = await resp.json()
        return result


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


# -- in-memory bodies ----------------------------------------------------------------------------


@pytest.mark.parametrize("wrap", [bytes, bytearray, memoryview])
async def test_binary_body_is_sent_with_content_length(
    wrap: Any, http_server: LiveServer, session: hyperclient.ClientSession
) -> None:
    data = pattern_bytes(100_000)
    result = await upload(session, http_server, data=wrap(data))
    assert result["length"] == len(data)
    assert result["sha256"] == sha256(data)
    assert header(result, "Content-Length") == str(len(data))
    assert header(result, "Transfer-Encoding") is None
    assert header(result, "Content-Type") == "application/octet-stream"


async def test_str_body_is_utf8_text_by_default(
    http_server: LiveServer, session: hyperclient.ClientSession
) -> None:
    text = "Привет, Мир!"
    result = await upload(session, http_server, data=text)
    assert result["sha256"] == sha256(text.encode("utf-8"))
    assert header(result, "Content-Type") == "text/plain; charset=utf-8"


async def test_str_body_is_encoded_with_the_content_type_charset(
    http_server: LiveServer, session: hyperclient.ClientSession
) -> None:
    # The reference (ClientRequest.update_body): a str is "encoded using charset from
    # Content-Type".
    text = "Привет, Мир!"
    headers = {"Content-Type": "text/plain; charset=windows-1251"}
    result = await upload(session, http_server, data=text, headers=headers)
    assert result["sha256"] == sha256(text.encode("windows-1251"))
    assert header(result, "Content-Type") == "text/plain; charset=windows-1251"


async def test_explicit_content_type_is_kept_for_bytes(
    http_server: LiveServer, session: hyperclient.ClientSession
) -> None:
    # The advanced guide's image/gif example.
    payload = b"GIF89a\x01\x00\x01\x00\x00\xff\x00,\x00\x00\x00\x00\x01\x00\x01\x00\x00\x02\x00;"
    headers = {"content-type": "image/gif"}
    result = await upload(session, http_server, data=payload, headers=headers)
    assert header(result, "Content-Type") == "image/gif"
    assert result["sha256"] == sha256(payload)


async def test_dict_body_is_form_urlencoded(
    http_server: LiveServer, session: hyperclient.ClientSession
) -> None:
    result = await upload(session, http_server, data={"key1": "value1", "key2": "a b&c"})
    assert header(result, "Content-Type") == "application/x-www-form-urlencoded"
    assert result["form"] == {"key1": ["value1"], "key2": ["a b&c"]}


async def test_list_of_pairs_body_is_form_urlencoded_with_repeats(
    http_server: LiveServer, session: hyperclient.ClientSession
) -> None:
    result = await upload(session, http_server, data=[("k", "1"), ("k", "2"), ("j", "3")])
    assert result["form"] == {"k": ["1", "2"], "j": ["3"]}


# -- FormData ------------------------------------------------------------------------------------


async def test_formdata_of_plain_fields_is_urlencoded(
    http_server: LiveServer, session: hyperclient.ClientSession
) -> None:
    form = hyperclient.FormData({"a": "1"})
    form.add_field("b", "x y")
    result = await upload(session, http_server, data=form)
    assert header(result, "Content-Type") == "application/x-www-form-urlencoded"
    assert result["form"] == {"a": ["1"], "b": ["x y"]}


async def test_formdata_with_a_file_is_multipart(
    http_server: LiveServer, session: hyperclient.ClientSession
) -> None:
    form = hyperclient.FormData()
    form.add_field("field", "value")
    form.add_field(
        "file",
        io.BytesIO(b"spreadsheet bytes"),
        filename="report.xls",
        content_type="application/vnd.ms-excel",
    )
    result = await upload(session, http_server, data=form)
    assert (header(result, "Content-Type") or "").startswith("multipart/form-data; boundary=")
    parts = {part["name"]: part for part in result["parts"]}
    assert parts["field"]["data"] == "value"
    assert parts["field"]["filename"] is None
    assert parts["file"]["filename"] == "report.xls"
    assert parts["file"]["content_type"] == "application/vnd.ms-excel"
    assert parts["file"]["data"] == "spreadsheet bytes"


async def test_formdata_bytes_field_uses_its_name_as_filename(
    http_server: LiveServer, session: hyperclient.ClientSession
) -> None:
    form = hyperclient.FormData()
    form.add_field("blob", b"\x00\x01binary")
    result = await upload(session, http_server, data=form)
    (part,) = result["parts"]
    assert part["filename"] == "blob"
    assert part["data"] == "\x00\x01binary"


async def test_formdata_content_transfer_encoding_is_applied(
    http_server: LiveServer, session: hyperclient.ClientSession
) -> None:
    form = hyperclient.FormData()
    form.add_field("f", b"encoded body", content_transfer_encoding="base64")
    result = await upload(session, http_server, data=form)
    (part,) = result["parts"]
    assert part["content_transfer_encoding"] == "base64"
    assert part["data"] == "encoded body"


async def test_dict_with_a_file_object_is_multipart(
    http_server: LiveServer, session: hyperclient.ClientSession, tmp_path: Path
) -> None:
    # The quickstart's "POST a Multipart-Encoded File": data={'file': open(...)}.
    path = tmp_path / "report.xls"
    path.write_bytes(b"file contents")
    with path.open("rb") as f:
        result = await upload(session, http_server, data={"file": f})
    (part,) = result["parts"]
    assert part["name"] == "file"
    assert part["filename"] == "report.xls"
    assert part["data"] == "file contents"


# -- streamed bodies -----------------------------------------------------------------------------


class RecordingReader(io.BufferedReader):
    """Records every read size, to tell a streamed upload from a read-it-all-first one."""

    def __init__(self, raw: io.RawIOBase) -> None:
        super().__init__(raw)
        self.sizes: list[int | None] = []

    def read(self, size: int | None = -1, /) -> bytes:
        self.sizes.append(size)
        return super().read(size)


async def test_file_object_is_streamed_not_read_whole(
    http_server: LiveServer, session: hyperclient.ClientSession, tmp_path: Path
) -> None:
    data = pattern_bytes(8 * 1024 * 1024)
    path = tmp_path / "massive-body"
    path.write_bytes(data)
    with RecordingReader(io.FileIO(path, "rb")) as f:
        result = await upload(session, http_server, data=f)
        sizes = f.sizes
    assert result["length"] == len(data)
    assert result["sha256"] == sha256(data)
    assert -1 not in sizes and None not in sizes
    assert all(size is not None and size < len(data) for size in sizes)


async def test_async_generator_body_is_sent_chunked(
    http_server: LiveServer, session: hyperclient.ClientSession
) -> None:
    pieces = [pattern_bytes(1000 * (i + 1)) for i in range(10)]

    async def generate() -> AsyncIterator[bytes]:
        for piece in pieces:
            yield piece

    result = await upload(session, http_server, data=generate())
    assert result["sha256"] == sha256(b"".join(pieces))
    assert header(result, "Transfer-Encoding") == "chunked"
    assert header(result, "Content-Length") is None


async def test_async_iterable_body_is_sent(
    http_server: LiveServer, session: hyperclient.ClientSession
) -> None:
    class Pieces:
        def __aiter__(self) -> AsyncIterator[bytes]:
            return self._generate()

        async def _generate(self) -> AsyncIterator[bytes]:
            for i in range(5):
                yield bytes([65 + i]) * 100

    result = await upload(session, http_server, data=Pieces())
    assert result["sha256"] == sha256(b"".join(bytes([65 + i]) * 100 for i in range(5)))


async def test_response_content_can_be_piped_into_a_request(
    http_server: LiveServer, session: hyperclient.ClientSession
) -> None:
    size = 3 * 1024 * 1024
    async with session.get(http_server.make_url(f"/bytes/{size}")) as source:
        result = await upload(session, http_server, data=source.content)
    assert result["length"] == size
    assert result["sha256"] == sha256(pattern_bytes(size))


# -- framing options: chunked, compress, expect100 -----------------------------------------------


async def test_chunked_true_sends_transfer_encoding_chunked(
    http_server: LiveServer, session: hyperclient.ClientSession
) -> None:
    data = pattern_bytes(200_000)
    result = await upload(session, http_server, data=data, chunked=True)
    assert header(result, "Transfer-Encoding") == "chunked"
    assert header(result, "Content-Length") is None
    assert result["sha256"] == sha256(data)


@pytest.mark.parametrize("framing", [{"Content-Length": "3"}, {"Transfer-Encoding": "chunked"}])
async def test_chunked_with_explicit_framing_header_is_a_value_error(
    framing: dict[str, str], http_server: LiveServer, session: hyperclient.ClientSession
) -> None:
    with pytest.raises(ValueError):
        await session.post(
            http_server.make_url("/upload"), data=b"abc", chunked=True, headers=framing
        )


@pytest.mark.parametrize(
    ("compress", "encoding"), [("deflate", "deflate"), ("gzip", "gzip"), (True, "deflate")]
)
async def test_compress_encodes_the_request_body(
    compress: str | bool,
    encoding: str,
    http_server: LiveServer,
    session: hyperclient.ClientSession,
) -> None:
    data = b"compress me " * 10_000
    result = await upload(session, http_server, data=data, compress=compress)
    assert header(result, "Content-Encoding") == encoding
    assert result["decoded_sha256"] == sha256(data)
    assert result["length"] < len(data)


async def test_compress_with_explicit_content_encoding_is_a_value_error(
    http_server: LiveServer, session: hyperclient.ClientSession
) -> None:
    with pytest.raises(ValueError):
        await session.post(
            http_server.make_url("/upload"),
            data=b"abc",
            compress="deflate",
            headers={"Content-Encoding": "gzip"},
        )


@pytest.mark.parametrize(
    ("encoding", "encode"), [("deflate", zlib.compress), ("gzip", gzip.compress)]
)
async def test_precompressed_body_with_content_encoding_is_sent_as_is(
    encoding: str,
    encode: Any,
    http_server: LiveServer,
    session: hyperclient.ClientSession,
) -> None:
    # The advanced guide's "Uploading pre-compressed data".
    data = b"already compressed " * 1000
    body = encode(data)
    headers = {"Content-Encoding": encoding}
    result = await upload(session, http_server, data=body, headers=headers)
    assert result["sha256"] == sha256(body)
    assert result["decoded_sha256"] == sha256(data)


async def test_expect100_sends_expect_header_and_body_after_continue(
    http_server: LiveServer, session: hyperclient.ClientSession
) -> None:
    # uvicorn answers 100 Continue only when the app starts reading the body.
    data = pattern_bytes(500_000)
    result = await upload(session, http_server, data=data, expect100=True)
    assert header(result, "Expect") == "100-continue"
    assert result["sha256"] == sha256(data)


async def test_expect100_withholds_body_until_100_continue(
    raw_server: RawServerFactory, session: hyperclient.ClientSession
) -> None:
    body = b"the body " * 100
    early: list[bytes] = []

    async def handler(conn: RawConnection) -> None:
        request = await conn.read_request(body=False)
        assert request is not None
        # Nothing of the body may arrive before the server says 100 Continue (RFC 9110 §10.1.1).
        early.append(await conn.read_some(0.3))
        await conn.send(b"HTTP/1.1 100 Continue\r\n\r\n")
        received = await conn.read_exactly(len(body))
        await conn.send(http_response(b"got " + str(len(received)).encode()))

    server = await raw_server(handler)
    async with session.post(server.make_url("/"), data=body, expect100=True) as resp:
        assert await resp.read() == f"got {len(body)}".encode()
    assert early == [b""]
    assert b"expect: 100-continue" in server.connections[0].received.lower()


async def test_expect100_handles_a_final_response_instead_of_continue(
    raw_server: RawServerFactory, session: hyperclient.ClientSession
) -> None:
    async def handler(conn: RawConnection) -> None:
        await conn.read_request(body=False)
        await conn.send(http_response(b"nope", status="417 Expectation Failed"))
        await conn.wait_closed_by_peer()

    server = await raw_server(handler)
    async with session.post(server.make_url("/"), data=b"x" * 1000, expect100=True) as resp:
        assert resp.status == 417
        assert await resp.read() == b"nope"


async def test_expect100_rejected_by_uvicorn_returns_the_final_response(
    http_server: LiveServer, session: hyperclient.ClientSession
) -> None:
    url = http_server.make_url("/expect-reject")
    async with session.post(url, data=b"x" * 100_000, expect100=True) as resp:
        assert resp.status == 417


# -- header and request-line injection -----------------------------------------------------------

CONTROL_CHARS = pytest.mark.parametrize("bad", ["\r", "\n", "\x00"], ids=["CR", "LF", "NUL"])


async def _assert_nothing_was_sent(server: RawServer, session: hyperclient.ClientSession) -> None:
    # A valid request afterwards proves the connection (if any was opened) carried nothing
    # before it: the raw server records every byte in arrival order.
    async with session.get(server.make_url("/after")) as resp:
        assert await resp.read() == b"ok"
    assert server.received.startswith(b"GET /after HTTP/1.1\r\n")


@CONTROL_CHARS
async def test_control_char_in_method_raises_before_sending(
    bad: str, raw_server: RawServerFactory, session: hyperclient.ClientSession
) -> None:
    server = await raw_server(reply(http_response(b"ok")))
    with pytest.raises(ValueError):
        await session.request(f"GET{bad}X", server.make_url("/"))
    await _assert_nothing_was_sent(server, session)


@CONTROL_CHARS
async def test_control_char_in_header_name_raises_before_sending(
    bad: str, raw_server: RawServerFactory, session: hyperclient.ClientSession
) -> None:
    server = await raw_server(reply(http_response(b"ok")))
    with pytest.raises(ValueError):
        await session.get(server.make_url("/"), headers={f"X-Bad{bad}Name": "v"})
    await _assert_nothing_was_sent(server, session)


@CONTROL_CHARS
async def test_control_char_in_header_value_raises_before_sending(
    bad: str, raw_server: RawServerFactory, session: hyperclient.ClientSession
) -> None:
    server = await raw_server(reply(http_response(b"ok")))
    with pytest.raises(ValueError):
        await session.get(server.make_url("/"), headers={"X-Bad": f"a{bad}Injected: yes"})
    await _assert_nothing_was_sent(server, session)


@CONTROL_CHARS
async def test_control_char_in_session_header_raises_before_sending(
    bad: str, raw_server: RawServerFactory
) -> None:
    server = await raw_server(reply(http_response(b"ok")))
    async with hyperclient.ClientSession(headers={"X-Bad": f"a{bad}b"}) as session:
        with pytest.raises(ValueError):
            await session.get(server.make_url("/"))
    async with hyperclient.ClientSession() as session:
        await _assert_nothing_was_sent(server, session)


@CONTROL_CHARS
@pytest.mark.parametrize("part", ["path", "query_string"])
async def test_control_char_in_encoded_url_raises_before_sending(
    bad: str, part: str, raw_server: RawServerFactory, session: hyperclient.ClientSession
) -> None:
    server = await raw_server(reply(http_response(b"ok")))
    path, query = (f"/x{bad}y", "q=1") if part == "path" else ("/a", f"q{bad}")
    url = URL.build(
        scheme="http",
        host="127.0.0.1",
        port=server.port,
        path=path,
        query_string=query,
        encoded=True,
    )
    with pytest.raises(ValueError):
        await session.get(url)
    await _assert_nothing_was_sent(server, session)


@CONTROL_CHARS
async def test_control_char_in_str_url_never_reaches_the_wire(
    bad: str, raw_server: RawServerFactory, session: hyperclient.ClientSession
) -> None:
    # A str URL goes through yarl, which drops CR/LF and percent-encodes NUL; refusing it with
    # ValueError is equally fine. What must never happen is the raw character in the request line.
    server = await raw_server(reply(http_response(b"ok")))
    try:
        async with session.get(str(server.url) + f"/a{bad}b") as resp:
            await resp.read()
    except ValueError:
        return
    request_line = server.connections[0].requests[0].request_line
    assert bad.encode() not in request_line


# -- ClientRequest, as a middleware sees it ------------------------------------------------------


async def test_client_request_exposes_its_documented_attributes(
    http_server: LiveServer, session: hyperclient.ClientSession
) -> None:
    seen: dict[str, Any] = {}

    async def inspect(
        request: hyperclient.ClientRequest, handler: hyperclient.ClientHandlerType
    ) -> hyperclient.ClientResponse:
        seen.update(
            method=request.method,
            url=request.url,
            original_url=request.original_url,
            is_ssl=request.is_ssl,
            version=request.version,
            compress=request.compress,
            proxy=request.proxy,
            server_hostname=request.server_hostname,
            ssl=request.ssl,
            session=request.session,
            response_class=request.response_class,
            header=request.headers.get("x-test"),
        )
        return await handler(request)

    url = http_server.make_url("/echo?q=1")
    async with session.post(
        url.with_fragment("part"), data=b"abc", headers={"X-Test": "yes"}, middlewares=(inspect,)
    ) as resp:
        assert resp.status == 200
    assert seen == {
        "method": "POST",
        "url": url,
        "original_url": url.with_fragment("part"),
        "is_ssl": False,
        "version": hyperclient.HttpVersion11,
        "compress": None,
        "proxy": None,
        "server_hostname": None,
        "ssl": True,
        "session": session,
        "response_class": hyperclient.ClientResponse,
        "header": "yes",
    }


async def test_request_without_data_has_an_empty_body(
    http_server: LiveServer, session: hyperclient.ClientSession
) -> None:
    bodies: list[object] = []

    async def inspect(
        request: hyperclient.ClientRequest, handler: hyperclient.ClientHandlerType
    ) -> hyperclient.ClientResponse:
        bodies.append(request.body)
        return await handler(request)

    async with session.get(http_server.make_url("/echo"), middlewares=(inspect,)) as resp:
        assert resp.status == 200
    assert bodies == [b""]


async def test_update_body_and_headers_in_a_middleware_reach_the_server(
    http_server: LiveServer, session: hyperclient.ClientSession
) -> None:
    async def rewrite(
        request: hyperclient.ClientRequest, handler: hyperclient.ClientHandlerType
    ) -> hyperclient.ClientResponse:
        await request.update_body(b"replaced body")
        request.headers["X-Middleware"] = "yes"
        return await handler(request)

    url = http_server.make_url("/echo")
    async with session.post(url, data=b"original", middlewares=(rewrite,)) as resp:
        echo = await resp.json()
    assert echo["body"] == "replaced body"
    # Content-Length follows the new body (the reference's update_body warning).
    assert header(echo, "Content-Length") == str(len(b"replaced body"))
    assert header(echo, "X-Middleware") == "yes"
