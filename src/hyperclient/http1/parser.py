"""Sans-IO HTTP/1.1 response parsing on top of llhttp (through httptools).

llhttp does the framing (Content-Length, chunked, read-until-close, no body for 1xx/204/304) and
rejects the ambiguous framings that enable response smuggling (RFC 9112 §6.3: Content-Length
together with Transfer-Encoding, repeated conflicting Content-Length, bad chunk sizes, bare CR).
This module adds what llhttp leaves to its user: the response head as values, the size limits
(max_line_size, max_field_size, max_headers), interim 1xx responses, and HEAD responses, whose
Content-Length describes a body that is never sent (RFC 9110 §9.3.2).
"""

from __future__ import annotations

import enum
from typing import Final, Protocol

import httptools
from multidict import CIMultiDict, CIMultiDictProxy

from . import HttpVersion, HttpVersion10, HttpVersion11

__all__ = ("BadHttpMessage", "ParserSink", "ResponseHead", "ResponseParser")

_VERSIONS: Final = {"1.1": HttpVersion11, "1.0": HttpVersion10}


class BadHttpMessage(Exception):
    """The response head is malformed or too large; maps to ClientResponseError(status=400)."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class ResponseHead:
    """The status line and header fields of one response."""

    __slots__ = (
        "chunked",
        "content_encoding",
        "content_length",
        "headers",
        "raw_headers",
        "reason",
        "status",
        "upgrade",
        "version",
    )

    def __init__(
        self,
        version: HttpVersion,
        status: int,
        reason: str,
        headers: CIMultiDictProxy[str],
        raw_headers: tuple[tuple[bytes, bytes], ...],
        chunked: bool,
        content_length: int | None,
        content_encoding: str | None,
        upgrade: bool,
    ) -> None:
        self.version = version
        self.status = status
        self.reason = reason
        self.headers = headers
        self.raw_headers = raw_headers
        self.chunked = chunked
        self.content_length = content_length
        self.content_encoding = content_encoding
        self.upgrade = upgrade


class ParserSink(Protocol):
    """What the parser reports to; implemented by the connection's protocol."""

    def on_head(self, head: ResponseHead) -> None: ...
    def on_interim(self, head: ResponseHead) -> None: ...
    def on_body(self, data: bytes) -> None: ...
    def on_chunk_end(self) -> None: ...
    def on_message_complete(self) -> None: ...


class _Stop(Exception):
    """Raised inside a callback to stop llhttp at the end of a HEAD response's head."""


class Framing(enum.Enum):
    """How the body of the response being parsed ends."""

    NONE = enum.auto()  # no body: HEAD, 1xx, 204, 304
    LENGTH = enum.auto()
    CHUNKED = enum.auto()
    UNTIL_EOF = enum.auto()


class ResponseParser:
    """Feeds bytes to llhttp and reports heads, body pieces and message ends to a sink.

    One instance serves one connection across keep-alive responses. ``expect_response()`` is
    called before each request's response is parsed, saying whether it answers a HEAD.
    """

    __slots__ = (
        "_head_bytes",
        "_head_limit",
        "_head_tail",
        "_headers",
        "_in_head",
        "_is_head_request",
        "_max_field_size",
        "_max_headers",
        "_max_line_size",
        "_parser",
        "_read_until_eof",
        "_reason",
        "_sink",
        "_stopped",
        "framing",
        "leftover_after_head",
        "on_body",
        "on_message_complete",
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
        # httptools buffers a header line until it is complete, so an endless line would grow
        # without bound before the per-field check runs: cap the whole head instead.
        self._head_limit = max_line_size + max_headers * (max_field_size + 4) + 4
        # Bound methods of the sink go straight to llhttp: no extra Python frame per body piece.
        self.on_body = sink.on_body
        self.on_message_complete = self._on_message_complete
        self._headers: list[tuple[bytes, bytes]] = []
        self._reason = b""
        self._in_head = True
        self._head_bytes = 0
        self._head_tail = b""
        self._is_head_request = False
        self._read_until_eof = True
        self._stopped = False
        self.framing = Framing.NONE
        self.should_close = False
        self.leftover_after_head = False
        self.upgraded_tail: bytes | None = None
        self._parser = httptools.HttpResponseParser(self)

    def set_limits(self, max_line_size: int, max_field_size: int, max_headers: int) -> None:
        self._max_line_size = max_line_size
        self._max_field_size = max_field_size
        self._max_headers = max_headers
        self._head_limit = max_line_size + max_headers * (max_field_size + 4) + 4

    def expect_response(self, is_head_request: bool, read_until_eof: bool = True) -> None:
        self._is_head_request = is_head_request
        self._read_until_eof = read_until_eof
        self.should_close = False
        self.leftover_after_head = False

    def feed_data(self, data: bytes) -> None:
        """Parse *data*; raises BadHttpMessage for a malformed or oversized head, and
        httptools.HttpParserError for malformed framing after the head."""
        if self._in_head:
            if self._head_bytes > self._head_limit:
                raise BadHttpMessage(f"Response head is larger than {self._head_limit} bytes")
            self._head_bytes += len(data)
            if self._is_head_request or not self._read_until_eof:
                self._feed_until_head_end(data)
                return
        try:
            self._parser.feed_data(data)
        except httptools.HttpParserCallbackError as exc:
            cause = exc.__context__
            if isinstance(cause, BadHttpMessage):
                raise cause from None
            if cause is not None:
                raise cause from exc
            raise
        except httptools.HttpParserUpgrade as exc:
            # The bytes after a 101 head belong to the new protocol (RFC 9110 §15.2.2).
            self.upgraded_tail = data[exc.args[0] :]
        except httptools.HttpParserError as exc:
            if self._in_head:
                raise BadHttpMessage(_describe(exc)) from exc
            raise

    def _feed_until_head_end(self, data: bytes) -> None:
        # A response whose body we will not read (HEAD; no framing with read_until_eof=False):
        # stop llhttp at the end of the head. Whatever follows the blank line is not ours and
        # makes the connection unusable (it cannot be the next response: none was asked for).
        window = self._head_tail + data
        self._stopped = False
        try:
            self._parser.feed_data(data)
        except httptools.HttpParserCallbackError as exc:
            if not isinstance(exc.__context__, _Stop):
                cause = exc.__context__
                if isinstance(cause, BadHttpMessage):
                    raise cause from None
                if cause is not None:
                    raise cause from None
                raise
            end = window.find(b"\r\n\r\n")
            self.leftover_after_head = end < 0 or end + 4 != len(window)
            self.should_close = self.should_close or self.leftover_after_head
            self._parser = httptools.HttpResponseParser(self)
            self._in_head = True
            self._sink.on_message_complete()
        except httptools.HttpParserError as exc:
            raise BadHttpMessage(_describe(exc)) from exc
        except httptools.HttpParserUpgrade as exc:
            self.upgraded_tail = data[exc.args[0] :]
        else:
            if not self._stopped:
                self._head_tail = window[-3:]

    # --- llhttp callbacks ---------------------------------------------------------------------

    def on_message_begin(self) -> None:
        self._in_head = True
        self._headers = []
        self._reason = b""

    def on_status(self, status: bytes) -> None:
        self._reason += status
        if len(self._reason) > self._max_line_size:
            raise BadHttpMessage(
                f"Got more than {self._max_line_size} bytes when reading the status line"
            )

    def on_header(self, name: bytes, value: bytes) -> None:
        headers = self._headers
        if len(name) + len(value) > self._max_field_size:
            raise BadHttpMessage(
                f"Got more than {self._max_field_size} bytes when reading header {name[:64]!r}"
            )
        if len(headers) >= self._max_headers:
            raise BadHttpMessage(f"Too many headers: more than {self._max_headers}")
        headers.append((name, value))

    def on_headers_complete(self) -> None:
        parser = self._parser
        status = parser.get_status_code()
        raw = tuple(self._headers)
        headers = CIMultiDict(
            [
                (n.decode("utf-8", "surrogateescape"), v.decode("utf-8", "surrogateescape"))
                for n, v in raw
            ]
        )
        version = _VERSIONS.get(parser.get_http_version())
        if version is None:
            major, _, minor = parser.get_http_version().partition(".")
            version = HttpVersion(int(major), int(minor))
        chunked = False
        te = headers.get("Transfer-Encoding")
        if te is not None:
            chunked = te.rpartition(",")[2].strip().lower() == "chunked"
        cl_text = headers.get("Content-Length")
        content_length = int(cl_text) if cl_text is not None else None
        ce = headers.get("Content-Encoding")
        head = ResponseHead(
            version,
            status,
            self._reason.decode("utf-8", "surrogateescape"),
            CIMultiDictProxy(headers),
            raw,
            chunked,
            content_length,
            ce.strip().lower() if ce else None,
            status == 101 or parser.should_upgrade(),
        )
        self._in_head = False
        self._head_bytes = 0
        self._head_tail = b""
        if 100 <= status < 200 and status != 101:
            self.framing = Framing.NONE
            self._sink.on_interim(head)
            return
        if self._is_head_request or status in (204, 304) or status == 101:
            self.framing = Framing.NONE
        elif chunked:
            self.framing = Framing.CHUNKED
        elif content_length is not None:
            self.framing = Framing.LENGTH
        elif self._read_until_eof:
            self.framing = Framing.UNTIL_EOF
        else:
            # No framing and the caller declined to read until close: no body, and the
            # connection cannot carry another response.
            self.framing = Framing.NONE
            self.should_close = True
        self._sink.on_head(head)
        if self.framing is Framing.NONE and (self._is_head_request or not self._read_until_eof):
            self.should_close = self.should_close or not parser.should_keep_alive()
            self._stopped = True
            raise _Stop

    def on_chunk_complete(self) -> None:
        self._sink.on_chunk_end()

    def _on_message_complete(self) -> None:
        if self.framing is Framing.NONE and self._in_head is False and self._is_interim():
            self._in_head = True
            return
        self._in_head = True
        self.should_close = (
            self.framing is Framing.UNTIL_EOF
            or self.leftover_after_head
            or not self._parser.should_keep_alive()
        )
        self._sink.on_message_complete()

    def _is_interim(self) -> bool:
        status: int = self._parser.get_status_code()
        return 100 <= status < 200 and status != 101

    def reset(self) -> None:
        """Start afresh (after an interim-response quirk or an upgrade)."""
        self._parser = httptools.HttpResponseParser(self)
        self._in_head = True
        self._head_bytes = 0
        self._head_tail = b""


def _describe(exc: Exception) -> str:
    text = str(exc) or type(exc).__name__
    return f"Invalid response: {text}"
