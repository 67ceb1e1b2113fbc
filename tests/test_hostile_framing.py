"""Response framing a hostile server could use to smuggle a second response (issue 6).

Every test answers a first request with hostile bytes, usually followed on the same write by a
complete second response (``SMUGGLED``) that nobody asked for. The first request must end in a
ClientResponseError (bad head), a ClientPayloadError (bad body framing) or the reading RFC 9112
prescribes; and the *next* request on the same session must get its own response: never the
smuggled one, never leftover body bytes. Where RFC 9112 says the connection must not carry
another message, the next request must also arrive on a new connection.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass

import pytest

import hyperclient
from servers import RawServer, RawServerFactory
from servers.hostile import (
    FRESH,
    REUSED,
    SMUGGLED,
    SMUGGLED_BODY,
    hostile_then_serve,
    serve,
)

ERRORS = (hyperclient.ClientResponseError, hyperclient.ClientPayloadError)


@dataclass
class Outcome:
    status: int | None = None
    body: bytes | None = None
    error: Exception | None = None


@pytest.fixture
async def client() -> AsyncIterator[hyperclient.ClientSession]:
    # A body framed wrongly could otherwise keep a test waiting for bytes that never come.
    async with hyperclient.ClientSession(timeout=hyperclient.ClientTimeout(total=5)) as session:
        yield session


async def fetch(session: hyperclient.ClientSession, server: RawServer, method: str) -> Outcome:
    try:
        async with session.request(method, server.make_url("/first")) as resp:
            return Outcome(resp.status, await resp.read())
    except ERRORS as exc:
        return Outcome(error=exc)


async def hostile_exchange(
    raw_server: RawServerFactory,
    session: hyperclient.ClientSession,
    hostile: bytes,
    *,
    method: str = "GET",
    close_after: bool = False,
    connection_must_close: bool = True,
) -> Outcome:
    """Send *hostile* as the answer to a first request, then check the next request.

    Returns the first request's outcome for the caller's own checks.
    """
    server = await raw_server(hostile_then_serve(hostile, close_after=close_after), serve())
    first = await fetch(session, server, method)
    async with session.get(server.make_url("/next")) as resp:
        assert resp.status == 200
        body = await resp.read()
    assert body != SMUGGLED_BODY, "a smuggled response reached the next request"
    assert body in (FRESH, REUSED), f"the next request got {body!r}"
    if connection_must_close:
        assert body == FRESH, "a connection with broken framing was reused"
        assert len(server.connections) == 2
    return first


def assert_refused_head(outcome: Outcome) -> None:
    assert isinstance(outcome.error, hyperclient.ClientResponseError), outcome
    assert outcome.error.status == 400


def assert_refused_body(outcome: Outcome) -> None:
    assert isinstance(outcome.error, hyperclient.ClientPayloadError), outcome


# -- Content-Length ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "lines",
    [
        b"Content-Length: 5\r\nContent-Length: 6",
        b"Content-Length: 6\r\nContent-Length: 5",
        b"Content-Length: 5, 50",
        b"Content-Length: 5\r\nX-Between: 1\r\nContent-Length: 43",
    ],
    ids=["smaller-first", "larger-first", "list", "apart"],
)
async def test_conflicting_content_lengths_are_refused_and_never_reach_the_next_request(
    lines: bytes, raw_server: RawServerFactory, client: hyperclient.ClientSession
) -> None:
    # RFC 9112 §6.3 (5): differing lengths are an unrecoverable framing error.
    hostile = b"HTTP/1.1 200 OK\r\n" + lines + b"\r\n\r\nhello" + SMUGGLED
    assert_refused_head(await hostile_exchange(raw_server, client, hostile))


@pytest.mark.parametrize(
    "lines",
    [b"Content-Length: 5\r\nContent-Length: 5", b"Content-Length: 5, 5"],
    ids=["two-fields", "list"],
)
async def test_repeated_identical_content_length_is_refused_or_read_once(
    lines: bytes, raw_server: RawServerFactory, client: hyperclient.ClientSession
) -> None:
    # RFC 9110 §8.6 lets a recipient accept identical repeated values as one; refusing is
    # also safe. Either way the bytes after the five are not the next response.
    hostile = b"HTTP/1.1 200 OK\r\n" + lines + b"\r\n\r\nhello" + SMUGGLED
    outcome = await hostile_exchange(raw_server, client, hostile)
    if outcome.error is None:
        assert outcome.body == b"hello"
    else:
        assert_refused_head(outcome)


@pytest.mark.parametrize(
    "value",
    [b"+5", b"-5", b"0x5", b"5 5", b"5.0", b"", b"99999999999999999999999", b"\x005"],
    ids=["plus", "minus", "hex", "two-numbers", "decimal", "empty", "overflow", "nul"],
)
async def test_content_length_that_is_not_a_decimal_number_is_refused(
    value: bytes, raw_server: RawServerFactory, client: hyperclient.ClientSession
) -> None:
    # RFC 9110 §8.6: Content-Length = 1*DIGIT.
    hostile = b"HTTP/1.1 200 OK\r\nContent-Length: " + value + b"\r\n\r\nhello" + SMUGGLED
    assert_refused_head(await hostile_exchange(raw_server, client, hostile))


async def test_whitespace_before_the_colon_is_refused(
    raw_server: RawServerFactory, client: hyperclient.ClientSession
) -> None:
    # RFC 9112 §5.1: "Content-Length : 5" is a classic smuggling disguise.
    hostile = b"HTTP/1.1 200 OK\r\nContent-Length : 5\r\n\r\nhello" + SMUGGLED
    assert_refused_head(await hostile_exchange(raw_server, client, hostile))


async def test_bytes_after_a_content_length_body_never_reach_the_next_request(
    raw_server: RawServerFactory, client: hyperclient.ClientSession
) -> None:
    hostile = b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello" + SMUGGLED
    outcome = await hostile_exchange(raw_server, client, hostile)
    assert (outcome.status, outcome.body) == (200, b"hello")


# -- Transfer-Encoding ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "lines",
    [
        b"Content-Length: 41\r\nTransfer-Encoding: chunked",
        b"Transfer-Encoding: chunked\r\nContent-Length: 3",
        b"Transfer-Encoding: identity\r\nContent-Length: 26",
    ],
    ids=["cl-then-te", "te-then-cl", "identity"],
)
async def test_content_length_with_transfer_encoding_is_refused_or_the_connection_dropped(
    lines: bytes, raw_server: RawServerFactory, client: hyperclient.ClientSession
) -> None:
    # RFC 9112 §6.3 (3): both fields "ought to be handled as an error"; a recipient that
    # reads by Transfer-Encoding anyway must close the connection afterwards (§6.1).
    hostile = b"HTTP/1.1 200 OK\r\n" + lines + b"\r\n\r\n5\r\nhello\r\n0\r\n\r\n" + SMUGGLED
    outcome = await hostile_exchange(raw_server, client, hostile)
    if outcome.error is None:
        assert outcome.body == b"hello"
    else:
        assert_refused_head(outcome)


@pytest.mark.parametrize(
    "value",
    [b"chunked, gzip", b"xchunked", b"gzip", b"chunkedx"],
    ids=["chunked-not-last", "xchunked", "gzip", "chunkedx"],
)
async def test_transfer_encoding_not_ending_in_chunked_is_read_until_close(
    value: bytes, raw_server: RawServerFactory, client: hyperclient.ClientSession
) -> None:
    # RFC 9112 §6.3 (4): in a response, a final coding other than chunked means the body ends
    # when the connection does; so what follows is body, not a response.
    rest = b"5\r\nhello\r\n0\r\n\r\n" + SMUGGLED
    hostile = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: " + value + b"\r\n\r\n" + rest
    outcome = await hostile_exchange(raw_server, client, hostile, close_after=True)
    if outcome.error is None:
        assert outcome.body == rest
    else:
        assert_refused_head(outcome)


@pytest.mark.parametrize(
    "value",
    [b"chunked, chunked", b"gzip\r\nTransfer-Encoding: chunked", b"CHUNKED", b"chunked "],
    ids=["twice", "two-fields", "upper-case", "trailing-space"],
)
async def test_transfer_encoding_ending_in_chunked_is_read_as_chunked_once(
    value: bytes, raw_server: RawServerFactory, client: hyperclient.ClientSession
) -> None:
    hostile = (
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: "
        + value
        + b"\r\n\r\n5\r\nhello\r\n0\r\n\r\n"
        + SMUGGLED
    )
    outcome = await hostile_exchange(raw_server, client, hostile)
    if outcome.error is None:
        assert outcome.body == b"hello"
    else:
        assert_refused_head(outcome)


async def test_transfer_encoding_chunked_with_a_trailing_tab_is_chunked_or_refused(
    raw_server: RawServerFactory,
) -> None:
    hostile = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\t\r\n\r\n5\r\nhello\r\n0\r\n\r\n"
    async with hyperclient.ClientSession(timeout=hyperclient.ClientTimeout(total=1)) as session:
        outcome = await hostile_exchange(raw_server, session, hostile)
    if outcome.error is None:
        assert outcome.body == b"hello"
    else:
        assert_refused_head(outcome)


async def test_transfer_encoding_on_an_http10_response_never_keeps_the_connection(
    raw_server: RawServerFactory, client: hyperclient.ClientSession
) -> None:
    # RFC 9112 §6.1: Transfer-Encoding in HTTP/1.0 means the framing is faulty; the connection
    # is closed after the message, even when it asks to be kept alive.
    hostile = (
        b"HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nTransfer-Encoding: chunked\r\n\r\n"
        b"5\r\nhello\r\n0\r\n\r\n"
    )
    outcome = await hostile_exchange(raw_server, client, hostile)
    assert outcome.error is not None or outcome.body == b"hello"


# -- chunked bodies ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "size",
    [b"zz", b"-5", b"0x5", b"+5", b" 5", b"5 5", b"", b"10000000000000005"],
    ids=["not-hex", "negative", "0x-prefix", "plus", "leading-space", "two", "empty", "overflow"],
)
async def test_invalid_chunk_size_is_a_payload_error(
    size: bytes, raw_server: RawServerFactory, client: hyperclient.ClientSession
) -> None:
    hostile = (
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
        + size
        + b"\r\nhello\r\n0\r\n\r\n"
        + SMUGGLED
    )
    assert_refused_body(await hostile_exchange(raw_server, client, hostile))


@pytest.mark.parametrize(
    "extension",
    [b";a=\x00", b";a\nb", b";a\rb", b';a="x\r\n"', b";\x7f", b";a=b c"],
    ids=["nul", "bare-lf", "bare-cr", "crlf-in-quotes", "del", "space-in-value"],
)
async def test_invalid_chunk_extension_is_a_payload_error(
    extension: bytes, raw_server: RawServerFactory, client: hyperclient.ClientSession
) -> None:
    hostile = (
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5"
        + extension
        + b"\r\nhello\r\n0\r\n\r\n"
        + SMUGGLED
    )
    assert_refused_body(await hostile_exchange(raw_server, client, hostile))


async def test_valid_chunk_extensions_are_ignored(
    raw_server: RawServerFactory, client: hyperclient.ClientSession
) -> None:
    # RFC 9112 §7.1.1: a recipient ignores extensions it does not understand.
    hostile = (
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
        b'5;name=value;quoted="a;b"\r\nhello\r\n0;last\r\n\r\n'
    )
    outcome = await hostile_exchange(raw_server, client, hostile, connection_must_close=False)
    assert outcome.body == b"hello"


@pytest.mark.parametrize(
    "body",
    [
        b"5\r\nhelloXX0\r\n\r\n",
        b"5\r\nhello\n0\r\n\r\n",
        b"5\nhello\r\n0\r\n\r\n",
        b"5\r\nhello\r\n0\n\n",
        b"5\r\nhello\r\n0\r\nbad trailer\r\n\r\n",
        b"5\r\nhello\r\n0\r\nX: a\rb\r\n\r\n",
    ],
    ids=[
        "data-overruns",
        "bare-lf-after-data",
        "bare-lf-after-size",
        "bare-lf-last",
        "trailer-without-colon",
        "bare-cr-in-trailer",
    ],
)
async def test_chunk_framing_not_delimited_by_crlf_is_a_payload_error(
    body: bytes, raw_server: RawServerFactory, client: hyperclient.ClientSession
) -> None:
    hostile = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n" + body + SMUGGLED
    assert_refused_body(await hostile_exchange(raw_server, client, hostile))


async def test_trailers_cannot_change_the_framing(
    raw_server: RawServerFactory, client: hyperclient.ClientSession
) -> None:
    # RFC 9110 §6.5.1: framing fields are not allowed in a trailer section; in any case the
    # body already ended at the last chunk.
    hostile = (
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
        b"5\r\nhello\r\n0\r\nContent-Length: 40\r\n\r\n" + SMUGGLED
    )
    outcome = await hostile_exchange(raw_server, client, hostile)
    assert outcome.body == b"hello" or outcome.error is not None


async def test_endless_chunk_extension_is_a_payload_error(
    raw_server: RawServerFactory, client: hyperclient.ClientSession
) -> None:
    # Chunk metadata is bounded like a head; otherwise it would be buffered without end.
    hostile = (
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5;"
        + b"a" * (3 << 20)
        + b"\r\nhello\r\n0\r\n\r\n"
    )
    assert_refused_body(await hostile_exchange(raw_server, client, hostile))


# -- header lines --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "head",
    [
        b"HTTP/1.1 200 OK\r\nX-A: a\r\n b\r\nContent-Length: 5",
        b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n 0",
        b"HTTP/1.1 200 OK\r\nX-A: a\r\n\tb\r\nContent-Length: 5",
        b"HTTP/1.1 200 OK\r\n X-A: a\r\nContent-Length: 5",
    ],
    ids=["space-fold", "folded-content-length", "tab-fold", "fold-after-status-line"],
)
async def test_obs_fold_in_a_header_is_a_response_error(
    head: bytes, raw_server: RawServerFactory, client: hyperclient.ClientSession
) -> None:
    # RFC 9112 §5.2: a user agent must reject obs-fold or replace it with SP; rejecting also
    # closes the door on a folded Content-Length meaning something else elsewhere.
    hostile = head + b"\r\n\r\nhello" + SMUGGLED
    assert_refused_head(await hostile_exchange(raw_server, client, hostile))


@pytest.mark.parametrize(
    "head",
    [
        b"HTTP/1.1 200 OK\r\nX-A: a\rContent-Length: 50\r\nContent-Length: 5",
        b"HTTP/1.1 200 OK\rContent-Length: 50\r\nContent-Length: 5",
        b"HTTP/1.1 200 O\rK\r\nContent-Length: 5",
        b"HTTP/1.1 200 OK\r\nX-\rA: a\r\nContent-Length: 5",
    ],
    ids=["in-value", "after-status-line", "in-reason", "in-name"],
)
async def test_bare_cr_in_the_head_is_a_response_error(
    head: bytes, raw_server: RawServerFactory, client: hyperclient.ClientSession
) -> None:
    # RFC 9112 §2.2: a bare CR must be refused or replaced with SP; a parser that took it as a
    # line end would see different header lines than one that does not.
    hostile = head + b"\r\n\r\nhello" + SMUGGLED
    assert_refused_head(await hostile_exchange(raw_server, client, hostile))


@pytest.mark.parametrize(
    "head",
    [
        b"HTTP/1.1 200 OK\nContent-Length: 5\n",
        b"HTTP/1.1 200 OK\r\nContent-Length: 5\nX-A: b\r\n",
    ],
    ids=["everywhere", "one-line"],
)
async def test_bare_lf_line_ends_are_refused(
    head: bytes, raw_server: RawServerFactory, client: hyperclient.ClientSession
) -> None:
    # RFC 9112 §2.2 permits accepting a bare LF; refusing is the reading that cannot differ
    # from another parser's.
    hostile = head + b"\r\nhello" + SMUGGLED
    assert_refused_head(await hostile_exchange(raw_server, client, hostile))


@pytest.mark.parametrize(
    "line",
    [b"X-A: a\x00b", b"X-\x00A: ab", b"X-A: a\x01b", b"X-A: a\x7fb", b"X-A: \x0bb"],
    ids=["nul-in-value", "nul-in-name", "ctl-in-value", "del-in-value", "vtab-in-value"],
)
async def test_nul_and_control_characters_in_header_lines_are_response_errors(
    line: bytes, raw_server: RawServerFactory, client: hyperclient.ClientSession
) -> None:
    # RFC 9110 §5.5: NUL and other CTLs are not field-value characters.
    hostile = b"HTTP/1.1 200 OK\r\n" + line + b"\r\nContent-Length: 5\r\n\r\nhello" + SMUGGLED
    assert_refused_head(await hostile_exchange(raw_server, client, hostile))


@pytest.mark.parametrize(
    "line",
    [b"X A: ab", b": ab", b"XAab", b"X-A\t: ab"],
    ids=["space-in-name", "empty-name", "no-colon", "tab-before-colon"],
)
async def test_header_line_that_is_not_a_field_is_a_response_error(
    line: bytes, raw_server: RawServerFactory, client: hyperclient.ClientSession
) -> None:
    hostile = b"HTTP/1.1 200 OK\r\n" + line + b"\r\nContent-Length: 5\r\n\r\nhello" + SMUGGLED
    assert_refused_head(await hostile_exchange(raw_server, client, hostile))


async def test_nul_in_the_status_line_is_refused_or_replaced(
    raw_server: RawServerFactory, client: hyperclient.ClientSession
) -> None:
    hostile = b"HTTP/1.1 200 O\x00K\r\nContent-Length: 5\r\n\r\nhello" + SMUGGLED
    server = await raw_server(hostile_then_serve(hostile), serve())
    outcome = await fetch(client, server, "GET")
    if outcome.error is None:
        async with client.get(server.make_url("/again")) as resp:
            assert "\x00" not in (resp.reason or "")
        raise AssertionError("a status line with NUL was accepted")
    assert_refused_head(outcome)


@pytest.mark.parametrize(
    "prefix",
    [b"\r\n", b"\n", b"HTTP/1.1 103 Early Hints\r\n\r\n\r\n"],
    ids=["crlf", "lf", "after-interim"],
)
async def test_empty_lines_before_the_status_line_are_skipped_or_refused(
    prefix: bytes, raw_server: RawServerFactory, client: hyperclient.ClientSession
) -> None:
    hostile = prefix + b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello"
    server = await raw_server(hostile_then_serve(hostile), serve())
    try:
        outcome = await fetch(client, server, "GET")
    except ValueError as exc:  # what escapes today, instead of a ClientError
        raise AssertionError(f"undocumented exception: {exc!r}") from exc
    if outcome.error is None:
        assert outcome.body == b"hello"
    else:
        assert_refused_head(outcome)


@pytest.mark.parametrize(
    "status_line",
    [b"HTTP/1.1 2000 OK", b"HTTP/1.1 20 OK", b"http/1.1 200 OK", b"HTTP/1.1\t200 OK"],
    ids=["four-digits", "two-digits", "lower-case-name", "tab"],
)
async def test_malformed_status_line_is_a_response_error(
    status_line: bytes, raw_server: RawServerFactory, client: hyperclient.ClientSession
) -> None:
    hostile = status_line + b"\r\nContent-Length: 5\r\n\r\nhello" + SMUGGLED
    assert_refused_head(await hostile_exchange(raw_server, client, hostile))


@pytest.mark.parametrize("status_line", [b"ICE/1.0 200", b"RTSP/1.0 200 OK"], ids=["ice", "rtsp"])
async def test_status_line_of_another_protocol_is_a_response_error(
    status_line: bytes, raw_server: RawServerFactory, client: hyperclient.ClientSession
) -> None:
    hostile = status_line + b"\r\nContent-Length: 5\r\n\r\nhello" + SMUGGLED
    try:
        outcome = await hostile_exchange(raw_server, client, hostile)
    except ValueError as exc:
        raise AssertionError(f"undocumented exception: {exc!r}") from exc
    assert_refused_head(outcome)


async def test_endless_header_line_is_a_response_error(
    raw_server: RawServerFactory, client: hyperclient.ClientSession
) -> None:
    hostile = b"HTTP/1.1 200 OK\r\nX-A: " + b"a" * (3 << 20) + b"\r\nContent-Length: 5\r\n\r\nhello"
    assert_refused_head(await hostile_exchange(raw_server, client, hostile))


# -- responses without a body --------------------------------------------------------------------


async def test_body_on_a_head_response_never_reaches_the_next_request(
    raw_server: RawServerFactory, client: hyperclient.ClientSession
) -> None:
    # RFC 9110 §9.3.2: a response to HEAD has no content, whatever its Content-Length says.
    hostile = b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello" + SMUGGLED
    outcome = await hostile_exchange(raw_server, client, hostile, method="HEAD")
    assert (outcome.status, outcome.body) == (200, b"")


@pytest.mark.parametrize("status", [b"204 No Content", b"304 Not Modified"])
@pytest.mark.parametrize(
    "framing",
    [
        b"Content-Length: 5\r\n\r\nhello",
        b"Transfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n",
    ],
    ids=["content-length", "chunked"],
)
async def test_body_on_204_and_304_never_reaches_the_next_request(
    status: bytes, framing: bytes, raw_server: RawServerFactory, client: hyperclient.ClientSession
) -> None:
    # RFC 9112 §6.3 (1): 204 and 304 end at their head.
    hostile = b"HTTP/1.1 " + status + b"\r\n" + framing + SMUGGLED
    outcome = await hostile_exchange(raw_server, client, hostile)
    assert outcome.body == b""
    assert outcome.status == int(status[:3])


async def test_response_after_a_204_in_the_same_write_never_reaches_the_next_request(
    raw_server: RawServerFactory, client: hyperclient.ClientSession
) -> None:
    hostile = b"HTTP/1.1 204 No Content\r\n\r\n" + SMUGGLED
    outcome = await hostile_exchange(raw_server, client, hostile)
    assert (outcome.status, outcome.body) == (204, b"")


async def test_interim_response_with_a_body_is_a_response_error(
    raw_server: RawServerFactory, client: hyperclient.ClientSession
) -> None:
    # RFC 9110 §15.2: 1xx responses end at their head; "hello" cannot start the next head.
    hostile = (
        b"HTTP/1.1 100 Continue\r\nContent-Length: 5\r\n\r\nhello"
        b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok" + SMUGGLED
    )
    assert_refused_head(await hostile_exchange(raw_server, client, hostile))


async def test_switching_protocols_to_a_plain_request_never_reaches_the_next_request(
    raw_server: RawServerFactory, client: hyperclient.ClientSession
) -> None:
    hostile = b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: foo\r\nConnection: Upgrade\r\n\r\n"
    outcome = await hostile_exchange(raw_server, client, hostile + SMUGGLED)
    assert outcome.error is not None or outcome.body == b""


async def test_endless_interim_responses_are_refused(
    raw_server: RawServerFactory, client: hyperclient.ClientSession
) -> None:
    # 1 MiB of "103 Early Hints" (over 50 000 of them) and then a real answer: a client should
    # give up long before, as it would on a head that large.
    hostile = b"HTTP/1.1 103 Early Hints\r\n\r\n" * 40_000 + b"HTTP/1.1 200 OK\r\n"
    hostile += b"Content-Length: 5\r\n\r\nhello"
    assert_refused_head(await hostile_exchange(raw_server, client, hostile))
