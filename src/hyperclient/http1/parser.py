"""Sans-IO HTTP/1.1 response parsing on top of llhttp (through httptools).

llhttp does the validation and the framing (Content-Length, chunked, read-until-close, no body
for 1xx/204/304) and rejects the malformed heads and ambiguous framings that enable response
smuggling (RFC 9112 §6.3: Content-Length with Transfer-Encoding, conflicting Content-Length, bad
chunk sizes, bare CR or LF, obs-fold, NUL). This module adds what llhttp leaves to its user: the
response head as values, the size limits (max_line_size, max_field_size, max_headers), interim
1xx responses, and responses whose body is not read (HEAD, RFC 9110 §9.3.2).

Speed: no Python callback runs per header. Because llhttp accepted the head, it is exactly the
bytes up to the first CRLFCRLF, with CRLF line ends and no folding, so it is split in one pass,
and only when someone asks for the headers.
"""

from __future__ import annotations

import enum
from typing import Final, Protocol

import httptools
from multidict import CIMultiDict, CIMultiDictProxy

from . import HttpVersion, HttpVersion10, HttpVersion11

__all__ = ("BadHttpMessage", "Framing", "ParserSink", "ResponseHead", "ResponseParser")

_CRLF: Final = b"\r\n"
_END_OF_HEAD: Final = b"\r\n\r\n"


class BadHttpMessage(Exception):
    """The response head is malformed or too large; maps to ClientResponseError(status=400)."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class Framing(enum.Enum):
    """How a response body ends (RFC 9112 §6.3)."""

    NONE = enum.auto()  # no body: HEAD, 1xx, 204, 304, or not read (read_until_eof=False)
    LENGTH = enum.auto()
    CHUNKED = enum.auto()
    UNTIL_EOF = enum.auto()


class ResponseHead:
    """The status line and header fields of one response; headers are decoded on first use."""

    __slots__ = ("_block", "_headers", "_raw", "lowered", "reason", "status", "version")

    def __init__(self, version: HttpVersion, status: int, reason: str, block: bytes) -> None:
        self.version = version
        self.status = status
        self.reason = reason
        self._block = block  # the header lines after the status line, CRLF-separated
        # The block in lower case after a CRLF, so that ``b"\r\nname:" in head.lowered`` finds
        # any header, the first one too (has_header() does that; hot paths test it inline).
        self.lowered = b"\r\n" + block.lower()
        self._headers: CIMultiDictProxy[str] | None = None
        self._raw: tuple[tuple[bytes, bytes], ...] | None = None

    @property
    def headers(self) -> CIMultiDictProxy[str]:
        headers = self._headers
        if headers is None:
            result: CIMultiDict[str] = CIMultiDict()
            if self._block:
                add = result.add
                for line in self._block.decode("utf-8", "surrogateescape").split("\r\n"):
                    name, _, value = line.partition(":")
                    add(name, value.strip(" \t"))  # OWS around the value (RFC 9110 §5.5)
            headers = self._headers = CIMultiDictProxy(result)
        return headers

    @property
    def raw_headers(self) -> tuple[tuple[bytes, bytes], ...]:
        raw = self._raw
        if raw is None:
            pairs = []
            if self._block:
                for line in self._block.split(_CRLF):
                    name, _, value = line.partition(b":")
                    pairs.append((name, value.strip(b" \t")))
            raw = self._raw = tuple(pairs)
        return raw

    def has_header(self, needle: bytes) -> bool:
        """Whether a header is present, without decoding the head. *needle* is the lower-case
        name between CRLF and colon, e.g. ``b"\\r\\ncontent-type:"``."""
        return needle in self.lowered

    def framing(self) -> Framing:
        if self.status < 200 or self.status in (204, 304):
            return Framing.NONE
        te = self.headers.get("Transfer-Encoding")
        if te is not None and te.rpartition(",")[2].strip().lower() == "chunked":
            return Framing.CHUNKED
        if "Content-Length" in self.headers:
            return Framing.LENGTH
        return Framing.UNTIL_EOF


class ParserSink(Protocol):
    """What the parser reports to; implemented by the connection's protocol."""

    def on_head(self, head: ResponseHead, has_body: bool) -> None: ...
    def on_interim(self, head: ResponseHead) -> None: ...
    def on_body(self, data: bytes) -> None: ...
    def on_chunk_header(self) -> None: ...
    def on_chunk_complete(self) -> None: ...
    def on_message_complete(self) -> None: ...
    def on_unexpected_message(self) -> None: ...


class _Stop(Exception):
    """Raised inside a callback to stop llhttp at the end of a head whose body is not read."""


class ResponseParser:
    """Feeds bytes to llhttp and reports heads, body pieces and message ends to a sink.

    One instance serves one connection across keep-alive responses. ``expect_response()`` is
    called before each response, saying whether it answers a HEAD and whether an unframed body
    should be read until the connection closes.
    """

    __slots__ = (
        "_buf",
        "_expecting",
        "_head_limit",
        "_in_head",
        "_interim",
        "_max_field_size",
        "_max_headers",
        "_max_line_size",
        "_no_body_read",
        "_parser",
        "_read_until_eof_off",
        "_scan_from",
        "_sink",
        "_small_block",
        "has_body",
        "leftover_after_head",
        "meta_bytes",
        "on_body",
        "on_chunk_complete",
        "on_chunk_header",
        "should_close",
        "upgraded_tail",
    )

    def __init__(
        self,
        sink: ParserSink,
        max_line_size: int = 8190,
        max_field_size: int = 8190,
        max_headers: int = 128,
    ) -> None:
        self._sink = sink
        self._max_line_size = max_line_size
        self._max_field_size = max_field_size
        self._max_headers = max_headers
        self._head_limit = _head_limit(max_line_size, max_field_size, max_headers)
        self._small_block = _small_block(max_field_size, max_headers)
        # Bound methods of the sink go straight to llhttp: no extra Python frame per piece.
        self.on_body = sink.on_body
        self.on_chunk_header = sink.on_chunk_header
        self.on_chunk_complete = sink.on_chunk_complete
        self._buf = b""  # the bytes of the head(s) being received
        self._scan_from = 0  # where the current head starts in _buf (after interim heads)
        self._in_head = True
        self._expecting = False
        self._interim = 0
        # Bytes fed since the last body byte or the head: chunk-size lines, extensions and
        # trailers. The sink sets it to 0 whenever body bytes arrive.
        self.meta_bytes = 0
        self._no_body_read = False
        self._read_until_eof_off = False
        self.has_body = False
        self.should_close = False
        self.leftover_after_head = False
        self.upgraded_tail: bytes | None = None
        self._parser = httptools.HttpResponseParser(self)

    def set_limits(self, max_line_size: int, max_field_size: int, max_headers: int) -> None:
        self._max_line_size = max_line_size
        self._max_field_size = max_field_size
        self._max_headers = max_headers
        self._head_limit = _head_limit(max_line_size, max_field_size, max_headers)
        self._small_block = _small_block(max_field_size, max_headers)

    def expect_response(self, is_head_request: bool, read_until_eof: bool = True) -> None:
        self._no_body_read = is_head_request
        self._read_until_eof_off = not read_until_eof
        self.should_close = False
        self.leftover_after_head = False
        self._expecting = True
        self._interim = 0

    def feed_data(self, data: bytes | memoryview) -> None:
        """Parse *data*. Raises BadHttpMessage for a malformed or oversized head, and
        httptools.HttpParserError for malformed framing after the head. A memoryview is only
        read during the call (the protocol's shared read buffer), so a head keeps a copy."""
        if self._in_head:
            if not isinstance(data, bytes):
                data = bytes(data)
            buf = self._buf = self._buf + data if self._buf else data
            if len(buf) - self._scan_from > self._head_limit + len(data):
                raise BadHttpMessage(f"Response head is larger than {self._head_limit} bytes")
            if self._no_body_read or self._read_until_eof_off:
                self._feed_stoppable(data)
                return
        else:
            # Chunk-size lines, extensions and trailers are not body: bound them like a head
            # (httptools would otherwise buffer an endless trailer line).
            if self.meta_bytes > self._head_limit:
                raise BadHttpMessage("Chunk metadata or trailers exceed the head size limit")
            self.meta_bytes += len(data)
        try:
            self._parser.feed_data(data)
        except httptools.HttpParserCallbackError as exc:
            raise _unwrap(exc) from None
        except httptools.HttpParserUpgrade as exc:
            # The bytes after a 101 head belong to the new protocol (RFC 9110 §15.2.2).
            self.upgraded_tail = bytes(data[exc.args[0] :])
        except httptools.HttpParserError as exc:
            if self._in_head:
                raise BadHttpMessage(f"Invalid response: {exc}") from exc
            raise

    def _feed_stoppable(self, data: bytes) -> None:
        # A response whose body we will not read: stop llhttp at the end of its head. Whatever
        # follows the blank line is not ours and makes the connection unusable (it cannot be the
        # next response: none was asked for).
        try:
            self._parser.feed_data(data)
        except httptools.HttpParserCallbackError as exc:
            if not isinstance(exc.__context__, _Stop):
                raise _unwrap(exc) from None
            self._parser = httptools.HttpResponseParser(self)
            self._in_head = True
            self._expecting = False
            self._sink.on_message_complete()
        except httptools.HttpParserUpgrade as exc:
            self.upgraded_tail = data[exc.args[0] :]
        except httptools.HttpParserError as exc:
            raise BadHttpMessage(f"Invalid response: {exc}") from exc

    # --- llhttp callbacks ---------------------------------------------------------------------

    def on_headers_complete(self) -> None:
        buf = self._buf
        start = self._scan_from
        while buf.startswith(_CRLF, start):
            start += 2  # RFC 9112 §2.2: empty lines before the status line are skipped (llhttp too)
        end = buf.find(_END_OF_HEAD, start)
        line_end = buf.find(_CRLF, start)
        if end < 0 or line_end < 0:
            raise BadHttpMessage("Response head is not CRLF-delimited")
        if line_end - start > self._max_line_size:
            raise BadHttpMessage(
                f"Got more than {self._max_line_size} bytes when reading the status line"
            )
        block = buf[line_end + 2 : end]
        if len(block) >= self._small_block:  # a shorter block cannot break either limit
            self._check_fields(block)
        status: int = self._parser.get_status_code()
        if buf.startswith(b"HTTP/1.1 ", start):
            version = HttpVersion11
        else:
            version = _version_of(buf[start : start + 9])
        reason_bytes = buf[start + 13 : line_end]
        if b"\x00" in reason_bytes:
            # RFC 9112 §4: HTAB, SP, VCHAR and obs-text only (llhttp lets NUL through).
            raise BadHttpMessage("Invalid character in the reason phrase")
        head = ResponseHead(version, status, reason_bytes.decode("utf-8", "surrogateescape"), block)
        has_te = b"\r\ntransfer-encoding:" in head.lowered
        if has_te:
            _check_transfer_encoding(block)
        if version is HttpVersion10 and has_te:
            # RFC 9112 §6.1: Transfer-Encoding in HTTP/1.0 means faulty framing; whatever the
            # Connection header says, the connection ends with this message.
            self.should_close = True
        if 100 <= status < 200 and status != 101:
            # An interim response (RFC 9110 §15.2): the final head follows right after it. Its
            # bytes are dropped so the head limit measures the next head alone, and their
            # number is capped: an endless stream of them must not keep the request waiting.
            self._interim += 1
            if self._interim > _MAX_INTERIM:
                raise BadHttpMessage(f"More than {_MAX_INTERIM} interim (1xx) responses")
            self._buf = buf[end + 4 :]
            self._scan_from = 0
            self._sink.on_interim(head)
            return
        self._buf = b""
        self._scan_from = 0
        self._in_head = False
        self.meta_bytes = 0
        no_body = self._no_body_read or status in (204, 304) or status == 101
        if not no_body and self._read_until_eof_off:
            # No framing and the caller declined to read until close: no body, and the
            # connection cannot carry another response.
            no_body = not (has_te or head.has_header(b"\r\ncontent-length:"))
            if no_body:
                self.should_close = True
        self.has_body = not no_body
        self._sink.on_head(head, not no_body)
        if no_body and (self._no_body_read or self._read_until_eof_off):
            self.should_close = self.should_close or not self._parser.should_keep_alive()
            rest = len(buf) - (end + 4)
            if rest:
                self.leftover_after_head = self.should_close = True
            raise _Stop

    def on_message_begin(self) -> None:
        if not self._expecting:
            # A message after the one we asked for, in the same read: nobody asked for it, and
            # llhttp would keep its partial head in its state for the next request's response.
            self._sink.on_unexpected_message()

    def on_message_complete(self) -> None:
        if self._in_head:
            return  # the end of an interim response
        self._in_head = True
        self._expecting = False
        self.should_close = self.should_close or not self._parser.should_keep_alive()
        self._sink.on_message_complete()

    def _check_fields(self, block: bytes) -> None:
        if block.count(_CRLF) + 1 > self._max_headers:
            raise BadHttpMessage(f"Too many headers: more than {self._max_headers}")
        if len(block) > self._max_field_size:
            for line in block.split(_CRLF):
                if len(line) - 1 > self._max_field_size:
                    name = line.partition(b":")[0][:64]
                    raise BadHttpMessage(
                        f"Got more than {self._max_field_size} bytes when reading header {name!r}"
                    )


_MAX_INTERIM: Final = 32


def _version_of(prefix: bytes) -> HttpVersion:
    """The version from the first 9 bytes of a status line (llhttp also accepts RTSP/ and ICE/
    status lines, which are not HTTP responses)."""
    if prefix == b"HTTP/1.1 ":
        return HttpVersion11
    if prefix == b"HTTP/1.0 ":
        return HttpVersion10
    if (
        len(prefix) == 9
        and prefix.startswith(b"HTTP/")
        and prefix[5:6].isdigit()
        and prefix[6:7] == b"."
        and prefix[7:8].isdigit()
    ):
        return HttpVersion(int(prefix[5:6]), int(prefix[7:8]))
    raise BadHttpMessage(f"Not an HTTP/1.x status line: {prefix!r}")


def _check_transfer_encoding(block: bytes) -> None:
    # llhttp recognises "chunked" only without surrounding whitespace other than SP, and reads
    # until close otherwise; another parser would read chunks. A framing two parsers disagree
    # on is how responses get smuggled, so such a head is refused (RFC 9112 §6.3, last item).
    for line in block.split(_CRLF):
        name, _, value = line.partition(b":")
        if name.lower() != b"transfer-encoding":
            continue
        last = value.rpartition(b",")[2]
        if last.strip(b" \t").lower() == b"chunked" and last.strip(b" ").lower() != b"chunked":
            raise BadHttpMessage(f"Ambiguous Transfer-Encoding {value!r}")


def _head_limit(max_line_size: int, max_field_size: int, max_headers: int) -> int:
    # httptools buffers a header line until it is complete, so an endless line would grow
    # without bound before the per-field check runs: cap the whole head instead.
    return max_line_size + max_headers * (max_field_size + 2) + 4


def _small_block(max_field_size: int, max_headers: int) -> int:
    """The header block length below which it can hold neither more than *max_headers* lines
    (each takes at least 4 bytes, "n:" and CRLF) nor a line over *max_field_size*."""
    return min(4 * max_headers + 2, max_field_size + 2)


def _unwrap(exc: httptools.HttpParserCallbackError) -> Exception:
    cause = exc.__context__
    if isinstance(cause, Exception) and not isinstance(cause, _Stop):
        return cause
    return BadHttpMessage(f"Invalid response: {exc}")
