"""Response framing and content codings (issue 2: "Responses", framing and decompression).

Where the body ends (Content-Length, chunked, end of connection, or no body at all), which
interim responses are skipped, when a connection may carry another request (RFC 9112 §9.3), and
automatic decompression, including what happens when the bytes are wrong.
"""

from __future__ import annotations

import asyncio
import zlib

import pytest

import hyperclient
from servers import (
    COMPRESSED_PAYLOAD,
    Canned,
    LiveServer,
    RawConnection,
    RawServerFactory,
    compress,
    pattern_bytes,
    stream_piece,
)
from servers.raw import http_response, reply, reply_forever

CODECS = ["gzip", "deflate", "deflate-raw", "br", "zstd"]


async def client_port(session: hyperclient.ClientSession, server: LiveServer) -> int:
    async with session.get(server.make_url("/client")) as resp:
        port: int = (await resp.json())["port"]
        return port


# -- where the body ends -------------------------------------------------------------------------


@pytest.mark.parametrize("size", [0, 1, 65535, 65536, 3 * 1024 * 1024 + 7])
async def test_content_length_body_is_read_exactly(
    size: int, http_server: LiveServer, session: hyperclient.ClientSession
) -> None:
    async with session.get(http_server.make_url(f"/bytes/{size}")) as resp:
        assert resp.headers["Content-Length"] == str(size)
        assert await resp.read() == pattern_bytes(size)


@pytest.mark.parametrize(("size", "piece"), [(0, 1), (10, 1), (1_000_000, 999), (5_000_000, 65536)])
async def test_chunked_body_is_reassembled(
    size: int, piece: int, http_server: LiveServer, session: hyperclient.ClientSession
) -> None:
    url = http_server.make_url(f"/bytes/{size}?chunked=1&piece={piece}")
    async with session.get(url) as resp:
        assert resp.headers["Transfer-Encoding"] == "chunked"
        assert await resp.read() == pattern_bytes(size)


async def test_body_without_length_is_read_until_the_server_closes(
    raw_server: RawServerFactory, session: hyperclient.ClientSession
) -> None:
    async def handler(conn: RawConnection) -> None:
        await conn.read_request()
        await conn.send(b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\n")
        for i in range(5):
            await conn.send(f"part {i};".encode())

    server = await raw_server(handler)
    async with session.get(server.make_url("/")) as resp:
        assert await resp.read() == b"part 0;part 1;part 2;part 3;part 4;"


async def test_read_until_eof_false_means_no_body_without_length(
    raw_server: RawServerFactory, session: hyperclient.ClientSession
) -> None:
    server = await raw_server(reply(b"HTTP/1.1 200 OK\r\n\r\nunframed data"))
    async with session.get(server.make_url("/"), read_until_eof=False) as resp:
        assert resp.status == 200
        assert await resp.read() == b""


async def test_http10_response_without_length_is_read_until_close(
    raw_server: RawServerFactory, session: hyperclient.ClientSession
) -> None:
    server = await raw_server(
        reply(b"HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\n\r\nold school")
    )
    async with session.get(server.make_url("/")) as resp:
        assert resp.version == hyperclient.HttpVersion10
        assert await resp.read() == b"old school"


async def test_head_response_has_no_body_and_keeps_the_connection(
    http_server: LiveServer, session: hyperclient.ClientSession
) -> None:
    port = await client_port(session, http_server)
    async with session.head(http_server.make_url("/bytes/5000")) as resp:
        # The Content-Length describes the GET representation; no body follows (RFC 9110 §9.3.2).
        assert resp.headers["Content-Length"] == "5000"
        assert await resp.read() == b""
    assert await client_port(session, http_server) == port


@pytest.mark.parametrize("status", ["204 No Content", "304 Not Modified"])
async def test_no_body_statuses_end_at_the_head_even_with_content_length(
    status: str, raw_server: RawServerFactory, session: hyperclient.ClientSession
) -> None:
    # RFC 9112 §6.3: 1xx, 204 and 304 responses end after the header section, whatever
    # Content-Length says; the next response on the connection must not be eaten as a body.
    headers = [("Content-Length", "11"), ("ETag", '"v1"')]
    first = http_response(status=status, headers=headers, length=False)
    server = await raw_server(reply(first, http_response(b"next!"), keep_open=True))
    async with session.get(server.make_url("/first")) as resp:
        assert resp.status == int(status[:3])
        assert await resp.read() == b""
    async with session.get(server.make_url("/second")) as resp:
        assert await resp.read() == b"next!"
    assert len(server.connections) == 1


async def test_204_from_uvicorn_has_no_body(
    http_server: LiveServer, session: hyperclient.ClientSession
) -> None:
    async with session.get(http_server.make_url("/status/204")) as resp:
        assert resp.status == 204
        assert await resp.read() == b""


@pytest.mark.parametrize(
    "interim",
    [
        b"HTTP/1.1 100 Continue\r\n\r\n",
        b"HTTP/1.1 103 Early Hints\r\nLink: </style.css>; rel=preload\r\n\r\n",
        b"HTTP/1.1 102 Processing\r\n\r\n"
        b"HTTP/1.1 103 Early Hints\r\nLink: </a>; rel=preload\r\n\r\n",
    ],
    ids=["100", "103", "102+103"],
)
async def test_interim_responses_are_skipped(
    interim: bytes, raw_server: RawServerFactory, session: hyperclient.ClientSession
) -> None:
    final = http_response(b"final", headers=[("X-Final", "yes")])
    server = await raw_server(reply(interim + final))
    async with session.get(server.make_url("/")) as resp:
        assert resp.status == 200
        assert resp.headers["X-Final"] == "yes"
        assert "Link" not in resp.headers
        assert await resp.read() == b"final"


# -- connection persistence (RFC 9112 §9.3) ------------------------------------------------------


async def test_request_after_connection_close_response_uses_a_new_connection(
    http_server: LiveServer, session: hyperclient.ClientSession
) -> None:
    port = await client_port(session, http_server)
    async with session.get(http_server.make_url("/close")) as resp:
        assert resp.headers["Connection"] == "close"
        assert await resp.read() == b"closing"
    assert await client_port(session, http_server) != port


async def test_connection_close_header_stops_reuse_even_if_the_socket_stays_open(
    raw_server: RawServerFactory, session: hyperclient.ClientSession
) -> None:
    server = await raw_server(
        reply_forever(http_response(b"ok", headers=[("Connection", "close")]))
    )
    for _ in range(2):
        async with session.get(server.make_url("/")) as resp:
            assert await resp.read() == b"ok"
    assert len(server.connections) == 2


async def test_http10_response_closes_the_connection_by_default(
    raw_server: RawServerFactory, session: hyperclient.ClientSession
) -> None:
    server = await raw_server(reply_forever(http_response(b"ok", version="HTTP/1.0")))
    for _ in range(2):
        async with session.get(server.make_url("/")) as resp:
            assert await resp.read() == b"ok"
    assert len(server.connections) == 2


async def test_http10_keep_alive_response_keeps_the_connection(
    raw_server: RawServerFactory, session: hyperclient.ClientSession
) -> None:
    response = http_response(b"ok", version="HTTP/1.0", headers=[("Connection", "keep-alive")])
    server = await raw_server(reply_forever(response))
    for _ in range(3):
        async with session.get(server.make_url("/")) as resp:
            assert await resp.read() == b"ok"
    assert len(server.connections) == 1


async def test_http11_response_keeps_the_connection(
    raw_server: RawServerFactory, session: hyperclient.ClientSession
) -> None:
    server = await raw_server(reply_forever(http_response(b"ok")))
    for _ in range(3):
        async with session.get(server.make_url("/")) as resp:
            assert await resp.read() == b"ok"
    assert len(server.connections) == 1


async def test_body_read_until_close_is_not_reused(
    raw_server: RawServerFactory, session: hyperclient.ClientSession
) -> None:
    server = await raw_server(reply(b"HTTP/1.1 200 OK\r\n\r\nuntil close"))
    for _ in range(2):
        async with session.get(server.make_url("/")) as resp:
            assert await resp.read() == b"until close"
    assert len(server.connections) == 2


# -- malformed framing ---------------------------------------------------------------------------


async def test_truncated_content_length_body_is_a_payload_error(
    raw_server: RawServerFactory, session: hyperclient.ClientSession
) -> None:
    server = await raw_server(reply(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nonly this"))
    async with session.get(server.make_url("/")) as resp:
        with pytest.raises(hyperclient.ClientPayloadError):
            await resp.read()


@pytest.mark.parametrize(
    "body",
    [
        b"zz\r\nhello\r\n0\r\n\r\n",  # chunk size is not hex
        b"5\r\nhelloXX0\r\n\r\n",  # no CRLF after the chunk data
        b"5\r\nhello\r\n",  # the connection ends before the last chunk
    ],
    ids=["bad-size", "missing-crlf", "no-last-chunk"],
)
async def test_malformed_chunked_body_is_a_payload_error(
    body: bytes, raw_server: RawServerFactory, session: hyperclient.ClientSession
) -> None:
    head = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
    server = await raw_server(reply(head + body))
    async with session.get(server.make_url("/")) as resp:
        with pytest.raises(hyperclient.ClientPayloadError):
            await resp.read()


@pytest.mark.parametrize(
    "head",
    [
        b"NOT-HTTP garbage\r\n\r\n",
        b"HTTP/1.1 abc Weird\r\nContent-Length: 0\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nBad Header Without Colon\r\nContent-Length: 0\r\n\r\n",
    ],
    ids=["status-line", "status-code", "header-line"],
)
async def test_malformed_response_head_is_a_client_response_error(
    head: bytes, raw_server: RawServerFactory, session: hyperclient.ClientSession
) -> None:
    server = await raw_server(reply(head))
    with pytest.raises(hyperclient.ClientResponseError):
        await session.get(server.make_url("/"))


# -- content codings -----------------------------------------------------------------------------


@pytest.mark.parametrize("codec", CODECS)
@pytest.mark.parametrize("chunked", [False, True], ids=["length", "chunked"])
async def test_compressed_body_is_decoded(
    codec: str, chunked: bool, http_server: LiveServer, session: hyperclient.ClientSession
) -> None:
    encoded, token = compress(codec, COMPRESSED_PAYLOAD)
    url = http_server.make_url(f"/compressed/{codec}?chunked={int(chunked)}")
    async with session.get(url) as resp:
        assert resp.headers["Content-Encoding"] == token
        assert await resp.read() == COMPRESSED_PAYLOAD
        assert resp.content.total_raw_bytes == len(encoded)


@pytest.mark.parametrize("codec", CODECS)
async def test_compressed_body_is_decoded_when_streamed(
    codec: str, http_server: LiveServer, session: hyperclient.ClientSession
) -> None:
    url = http_server.make_url(f"/compressed/{codec}?chunked=1")
    received = b""
    async with session.get(url) as resp:
        async for piece in resp.content.iter_chunked(4096):
            received += piece
    assert received == COMPRESSED_PAYLOAD


async def test_set_zlib_backend_accepts_the_zlib_module(
    http_server: LiveServer, session: hyperclient.ClientSession
) -> None:
    hyperclient.set_zlib_backend(zlib)
    async with session.get(http_server.make_url("/compressed/gzip")) as resp:
        assert await resp.read() == COMPRESSED_PAYLOAD


@pytest.mark.parametrize("token", ["gzip", "deflate", "br", "zstd"])
async def test_corrupt_compressed_body_is_a_payload_error(
    token: str, http_server: LiveServer, session: hyperclient.ClientSession
) -> None:
    url = http_server.canned(
        Canned(headers=[("Content-Encoding", token)], body=b"this is not compressed data" * 10)
    )
    async with session.get(url) as resp:
        with pytest.raises(hyperclient.ClientPayloadError):
            await resp.read()


@pytest.mark.parametrize("codec", CODECS)
async def test_truncated_compressed_stream_is_a_payload_error(
    codec: str, http_server: LiveServer, session: hyperclient.ClientSession
) -> None:
    # The transfer is complete (Content-Length matches) but the compressed stream stops halfway.
    encoded, token = compress(codec, COMPRESSED_PAYLOAD)
    url = http_server.canned(
        Canned(headers=[("Content-Encoding", token)], body=encoded[: len(encoded) // 2])
    )
    async with session.get(url) as resp:
        with pytest.raises(hyperclient.ClientPayloadError):
            await resp.read()


async def test_unknown_content_encoding_is_passed_through(
    http_server: LiveServer, session: hyperclient.ClientSession
) -> None:
    url = http_server.canned(Canned(headers=[("Content-Encoding", "x-custom")], body=b"as is"))
    async with session.get(url) as resp:
        assert await resp.read() == b"as is"


# -- the shared read buffer ----------------------------------------------------------------------


async def test_bodies_read_at_once_on_many_connections_do_not_mix(
    http_server: LiveServer, session: hyperclient.ClientSession
) -> None:
    # Every connection of the loop reads into one buffer (_protocol.py): bodies arriving side
    # by side, each read slowly enough for its socket to be paused and resumed, must come out
    # whole and each in its own order.
    async def pattern(size: int, chunked: bool) -> None:
        url = http_server.make_url(f"/bytes/{size}").with_query(chunked="1" if chunked else "0")
        async with session.get(url) as resp:
            parts = []
            async for piece in resp.content.iter_chunked(7_000):
                parts.append(piece)
                await asyncio.sleep(0)
            assert b"".join(parts) == pattern_bytes(size)

    async def letters(n: int, size: int) -> None:
        url = http_server.make_url("/stream").with_query(n=str(n), size=str(size))
        async with session.get(url) as resp:
            assert await resp.read() == b"".join(stream_piece(i, size) for i in range(n))

    async def inflated(codec: str) -> None:
        url = http_server.make_url(f"/compressed/{codec}").with_query(chunked="1")
        async with session.get(url) as resp:
            assert await resp.read() == COMPRESSED_PAYLOAD

    await asyncio.gather(
        pattern(3 * 1024 * 1024 + 11, chunked=False),
        pattern(2 * 1024 * 1024 + 5, chunked=True),
        letters(60, 40_000),
        letters(30, 100_000),
        inflated("gzip"),
        inflated("deflate"),
    )
