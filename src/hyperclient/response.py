"""ClientResponse: status, headers, body readers, release and close."""

from __future__ import annotations

import asyncio
import codecs
import json as _json
import warnings
from collections.abc import Callable
from http.cookies import CookieError, SimpleCookie
from types import MappingProxyType, TracebackType
from typing import TYPE_CHECKING, Any

from multidict import CIMultiDict, CIMultiDictProxy, MultiDictProxy
from yarl import URL

from . import hdrs
from .exceptions import ClientResponseError, ContentTypeError
from .helpers import (
    ContentDisposition,
    content_type_is_json,
    location_text,
    parse_content_disposition,
    parse_content_type,
    parse_links,
)
from .http1 import HttpVersion
from .http1.parser import BadHttpMessage
from .streams import EMPTY_PAYLOAD, StreamReader
from .timeouts import NO_DEADLINE

if TYPE_CHECKING:
    from .connector import Connection
    from .http1.parser import ResponseHead
    from .request import RequestInfo
    from .session import ClientSession
    from .timeouts import Deadline, _NoDeadline
    from .tracing import Trace

__all__ = ("ClientResponse",)


def _default_charset(resp: ClientResponse, body: bytes) -> str:
    return "utf-8"


class ClientResponse:
    """The response to one request; ``async with`` releases it."""

    __slots__ = (
        "__dict__",
        "__weakref__",
        "_body",
        "_connection",
        "_content_type",
        "_continue",
        "_cookies",
        "_created_at",
        "_head",
        "_head_waiter",
        "_history",
        "_loop",
        "_released",
        "_request_info",
        "_session",
        "_timer",
        "_traces",
        "_writer",
        "content",
        "method",
        "reason",
        "status",
        "url",
        "version",
    )

    def __init__(
        self,
        method: str,
        url: URL,
        *,
        writer: asyncio.Task[None] | None = None,
        continue100: asyncio.Future[None] | None = None,
        timer: Deadline | _NoDeadline | None = None,
        request_info: RequestInfo,
        traces: list[Trace] | None = None,
        loop: asyncio.AbstractEventLoop | None = None,
        session: ClientSession | None = None,
    ) -> None:
        self.method = method
        self.url = url.with_fragment(None) if url.raw_fragment else url
        self._request_info = request_info
        self._writer = writer
        self._continue = continue100
        self._timer = timer if timer is not None else NO_DEADLINE
        self._traces = traces or []
        self._loop = loop
        self._session = session
        self._history: tuple[ClientResponse, ...] = ()
        self._connection: Connection | None = None
        self._head_waiter: asyncio.Future[tuple[ResponseHead, StreamReader]] | None = None
        self._body: bytes | None = None
        self._released = False
        self._cookies: SimpleCookie | None = None
        self._content_type: tuple[str, MappingProxyType[str, str]] | None = None
        self._created_at: tuple[str, int] | None = None
        self.version: HttpVersion | None = None
        self.status: int = None  # type: ignore[assignment]  # set by start()
        self.reason: str | None = None
        self._head: ResponseHead | None = None
        self.content: StreamReader = EMPTY_PAYLOAD

    # --- receiving ----------------------------------------------------------------------------

    async def start(self, connection: Connection) -> ClientResponse:
        """Wait for the response head on *connection*."""
        self._connection = connection
        waiter = self._head_waiter
        assert waiter is not None, "start() needs a request sent with ClientRequest.send()"
        try:
            # The session waits inside the request's total timer (its Deadline) already.
            head, stream = await waiter
        except BadHttpMessage as exc:
            connection.close()
            raise ClientResponseError(
                self.request_info, self._history, status=400, message=exc.message
            ) from exc
        except BaseException:
            connection.close()
            raise
        finally:
            self._head_waiter = None
        self.version = head.version
        self.status = head.status
        self.reason = head.reason
        self._head = head
        self.content = stream
        if stream.is_eof() and (connection.protocol is None or connection.protocol.on_done is None):
            # The whole message is already in (no body, or a small one): the connection went
            # back to the pool as soon as it ended.
            self._connection = None
            self._released = True
            self._timer.cancel()
        return self

    @property
    def headers(self) -> CIMultiDictProxy[str]:
        """Case-insensitive response headers (decoded on first access)."""
        head = self._head
        return head.headers if head is not None else _NO_HEADERS

    @property
    def raw_headers(self) -> tuple[tuple[bytes, bytes], ...]:
        """The header fields as (name, value) bytes, in the server's own case."""
        head = self._head
        return head.raw_headers if head is not None else ()

    def _has_header(self, lowercase_name: bytes) -> bool:
        head = self._head
        return head is not None and lowercase_name in head.lowered

    @property
    def connection(self) -> Connection | None:
        connection = self._connection
        if connection is not None and connection.protocol is None:
            self._connection = None
            return None
        return connection

    @property
    def history(self) -> tuple[ClientResponse, ...]:
        return self._history

    @property
    def request_info(self) -> RequestInfo:
        return self._request_info

    @property
    def real_url(self) -> URL:
        return self.request_info.real_url

    @property
    def host(self) -> str:
        return self.url.raw_host or ""

    @property
    def ok(self) -> bool:
        return self.status < 400

    @property
    def closed(self) -> bool:
        return self.connection is None

    # --- header views -------------------------------------------------------------------------

    def _parsed_content_type(self) -> tuple[str, MappingProxyType[str, str]]:
        parsed = self._content_type
        if parsed is None:
            raw = (
                self.headers.get(hdrs.CONTENT_TYPE)
                if self._has_header(b"\r\ncontent-type:")
                else None
            )
            parsed = self._content_type = parse_content_type(raw)
        return parsed

    @property
    def content_type(self) -> str:
        return self._parsed_content_type()[0]

    @property
    def charset(self) -> str | None:
        return self._parsed_content_type()[1].get("charset")

    @property
    def content_length(self) -> int | None:
        value = self.headers.get(hdrs.CONTENT_LENGTH)
        return int(value) if value is not None else None

    @property
    def content_disposition(self) -> ContentDisposition | None:
        raw = self.headers.get(hdrs.CONTENT_DISPOSITION)
        return parse_content_disposition(raw) if raw is not None else None

    @property
    def links(self) -> MultiDictProxy[MultiDictProxy[str | URL]]:
        return parse_links(self.headers.getall(hdrs.LINK, ()), self.url)

    @property
    def cookies(self) -> SimpleCookie:
        cookies = self._cookies
        if cookies is None:
            cookies = self._cookies = SimpleCookie()
            for value in self.headers.getall(hdrs.SET_COOKIE, ()):
                try:
                    cookies.load(value)
                except CookieError:
                    continue  # one malformed Set-Cookie must not hide the others
        return cookies

    @cookies.setter
    def cookies(self, value: SimpleCookie) -> None:
        self._cookies = value

    # --- body ---------------------------------------------------------------------------------

    async def read(self) -> bytes:
        """The whole body (cached: later calls return the same bytes)."""
        if self._body is None:
            try:
                self._body = await self.content.read()
                if self._traces:
                    for trace in self._traces:
                        await trace.send_response_chunk_received(self.method, self.url, self._body)
            except BaseException:
                self.close()
                raise
            self._release_after_body()
        return self._body

    def get_encoding(self) -> str:
        charset = self.charset
        if charset:
            try:
                codecs.lookup(charset)
                return charset
            except LookupError:
                pass
        mimetype = self.content_type
        if content_type_is_json(mimetype):
            return "utf-8"  # RFC 8259 §8.1
        resolver: Callable[[ClientResponse, bytes], str] = (
            self._session._resolve_charset if self._session is not None else _default_charset
        )
        return resolver(self, self._body if self._body is not None else b"")

    async def text(self, encoding: str | None = None, errors: str = "strict") -> str:
        body = await self.read()
        if encoding is None:
            encoding = self.get_encoding()
        return body.decode(encoding, errors=errors)

    async def json(
        self,
        *,
        encoding: str | None = None,
        loads: Callable[[str], Any] = _json.loads,
        content_type: str | None = "application/json",
    ) -> Any:
        body = await self.read()
        if content_type:
            mimetype = self.content_type
            expected = content_type == "application/json"
            if not (content_type_is_json(mimetype) if expected else content_type in mimetype):
                raise ContentTypeError(
                    self.request_info,
                    self._history,
                    status=self.status,
                    message=f"Attempt to decode JSON with unexpected mimetype: {mimetype}",
                    headers=self.headers,
                )
        if not body.strip():
            return None
        if encoding is None:
            encoding = self.get_encoding()
        return loads(body.decode(encoding))

    # --- release and close --------------------------------------------------------------------

    def _release_after_body(self) -> None:
        # The protocol has already returned the connection when the message ended; this only
        # forgets it (and closes it if the body ended some other way).
        connection = self._connection
        self._connection = None
        self._released = True
        self._timer.cancel()
        protocol = connection.protocol if connection is not None else None
        if protocol is not None and protocol.on_done is not None:
            connection.close()  # type: ignore[union-attr]
        if self._writer is not None:
            self._cleanup_writer()

    def release(self) -> Any:
        """Give the connection back if the body is complete; close it otherwise."""
        if not self._released:
            self._released = True
            self._timer.cancel()
            connection = self._connection
            self._connection = None
            if connection is not None and connection.protocol is not None:
                protocol = connection.protocol
                if protocol.on_done is not None:
                    # The body is not fully received: the rest would reach the next request.
                    protocol.on_done = None
                    connection.close()
            self._cleanup_writer()
        return _NOOP

    def close(self) -> None:
        """Close the connection, whatever state the body is in."""
        self._released = True
        self._timer.cancel()
        connection = self._connection
        self._connection = None
        if connection is not None:
            protocol = connection.protocol
            if protocol is not None:
                protocol.on_done = None
            connection.close()
        self._cleanup_writer()

    def _cleanup_writer(self) -> None:
        writer = self._writer
        if writer is not None:
            self._writer = None
            if not writer.done():
                writer.cancel()

    async def wait_for_close(self) -> None:
        writer = self._writer
        if writer is not None:
            try:
                await writer
            finally:
                self._writer = None
        self.release()

    def raise_for_status(self) -> None:
        if self.status >= 400:
            self.release()
            raise ClientResponseError(
                self.request_info,
                self._history,
                status=self.status,
                message=self.reason or "",
                headers=self.headers,
            )

    async def __aenter__(self) -> ClientResponse:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.release()

    def __repr__(self) -> str:
        return f"<{type(self).__name__}({self.url}) [{self.status} {self.reason}]>"

    def __del__(self, _warnings: Any = warnings) -> None:
        connection = getattr(self, "_connection", None)
        if connection is None or connection.protocol is None:
            return
        connection.close()
        where = location_text(self._created_at)
        _warnings.warn(
            f"Unclosed response {self!r} (created at {where})", ResourceWarning, source=self
        )


_NO_HEADERS: CIMultiDictProxy[str] = CIMultiDictProxy(CIMultiDict())


class _NoopAwaitable:
    """``release()`` is sync but was once a coroutine: ``await resp.release()`` keeps working."""

    __slots__ = ()

    def __await__(self) -> Any:
        return iter(())


_NOOP = _NoopAwaitable()
