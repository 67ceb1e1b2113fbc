"""ClientRequest: one outgoing request (URL, headers, body) and how it goes on the wire."""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any, NamedTuple

from multidict import CIMultiDict, CIMultiDictProxy
from yarl import URL

from . import hdrs, payload
from .auth import BasicAuth
from .compression import get_encoder, supported_encodings
from .exceptions import ConnectionKey
from .formdata import FormData
from .http1 import HttpVersion, HttpVersion10, HttpVersion11
from .http1.writer import LAST_CHUNK, check_token, frame_chunk, serialize_head
from .timeouts import NO_DEADLINE
from .tls import SSLArg

if TYPE_CHECKING:
    from ._protocol import ResponseProtocol
    from .connector import Connection
    from .response import ClientResponse
    from .session import ClientSession
    from .timeouts import Deadline, _NoDeadline
    from .tracing import Trace

__all__ = ("ClientRequest", "RequestInfo")

_SSL_SCHEMES = frozenset(("https", "wss"))
# RFC 9110 §9.2.2; a stale pooled connection may be retried only for these.
IDEMPOTENT_METHODS = frozenset(("GET", "HEAD", "OPTIONS", "TRACE", "PUT", "DELETE"))
# Methods whose requests carry no body by convention: no "Content-Length: 0" for them.
_NO_BODY_METHODS = frozenset(("GET", "HEAD", "OPTIONS", "TRACE", "CONNECT"))
_WRITE_PIECE = payload.WRITE_PIECE
_USER_AGENT = "hyperclient/0.1 (Python asyncio)"
_KNOWN_METHODS = frozenset(
    ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "TRACE", "CONNECT")
)
_NO_SKIP: frozenset[str] = frozenset()
_NO_TRACES: list[Trace] = []  # shared and never mutated: requests without tracing


class RequestInfo(NamedTuple):
    """What a response (or an error) remembers of its request."""

    url: URL
    method: str
    headers: CIMultiDictProxy[str]
    real_url: URL


class ClientRequest:
    """An HTTP request about to be sent; middlewares may inspect and change it."""

    __slots__ = (
        "__dict__",
        "_auth",
        "_body",
        "_body_bytes",
        "_close_body_after_write",
        "_connection_key",
        "_continue",
        "_encoded_head",
        "_expect100",
        "_loop",
        "_request_info",
        "_response_params",
        "_session",
        "_skip_auto_headers",
        "_timer",
        "_traces",
        "_writer",
        "chunked",
        "compress",
        "headers",
        "is_ssl",
        "method",
        "original_url",
        "proxy",
        "proxy_auth",
        "proxy_headers",
        "response_class",
        "server_hostname",
        "ssl",
        "url",
        "version",
    )

    DEFAULT_HEADERS: Mapping[str, str] = {
        hdrs.ACCEPT: "*/*",
        hdrs.ACCEPT_ENCODING: supported_encodings(),
    }

    def __init__(
        self,
        method: str,
        url: URL,
        *,
        params: Any = None,
        headers: Any = None,
        skip_auto_headers: Iterable[str] | None = None,
        data: Any = None,
        cookies: Any = None,
        auth: BasicAuth | None = None,
        version: HttpVersion = HttpVersion11,
        compress: str | bool | None = None,
        chunked: bool | None = None,
        expect100: bool = False,
        loop: asyncio.AbstractEventLoop | None = None,
        response_class: type[ClientResponse] | None = None,
        proxy: URL | None = None,
        proxy_auth: BasicAuth | None = None,
        timer: Deadline | _NoDeadline | None = None,
        session: ClientSession | None = None,
        ssl: SSLArg = True,
        proxy_headers: Any = None,
        traces: list[Trace] | None = None,
        trust_env: bool = False,
        server_hostname: str | None = None,
    ) -> None:
        if method not in _KNOWN_METHODS:
            check_token(method, "Method")
        if params:
            url = url.extend_query(params)
        self.original_url = url
        self.url = url.with_fragment(None) if url.raw_fragment else url
        self.method = method.upper()
        self.version = version
        self.is_ssl = url.scheme in _SSL_SCHEMES
        self.ssl = ssl
        self.server_hostname = server_hostname
        self.proxy = proxy
        # Proxy settings mean nothing without a proxy; kept out of the pool key then.
        self.proxy_auth = proxy_auth if proxy is not None else None
        self.proxy_headers = (
            CIMultiDict(proxy_headers) if proxy_headers and proxy is not None else None
        )
        if response_class is None:
            from .response import ClientResponse

            response_class = ClientResponse
        self.response_class = response_class
        self._session = session
        self._loop = loop
        self._timer = timer if timer is not None else NO_DEADLINE
        self._traces = traces if traces else _NO_TRACES
        self._writer: asyncio.Task[None] | None = None
        self._continue: asyncio.Future[None] | None = None
        self._request_info: RequestInfo | None = None
        self._response_params: Any = None
        self._body: payload.Payload | None = None
        self._body_bytes: bytes | None = b""
        self._close_body_after_write = False
        self._encoded_head: bytes | None = None
        # Lower-cased: istr compares case-sensitively outside a CIMultiDict.
        if isinstance(skip_auto_headers, frozenset):
            self._skip_auto_headers: frozenset[str] = (
                skip_auto_headers  # lower-cased by the session
            )
        elif skip_auto_headers:
            self._skip_auto_headers = frozenset(h.lower() for h in skip_auto_headers)
        else:
            self._skip_auto_headers = _NO_SKIP
        self.headers = self._build_headers(headers)
        if cookies:
            self._update_cookies(cookies)
        if auth is None and url.raw_user is not None:
            auth = BasicAuth.from_url(url)
        self._auth = auth
        if auth is not None:
            self.headers[hdrs.AUTHORIZATION] = auth.encode()
        if proxy is not None and not self.needs_tunnel:
            self._add_proxy_headers(proxy_auth)
        self.compress = self._check_compress(compress) if compress else None
        self.chunked = self._check_chunked(chunked) if chunked else chunked
        self._expect100 = expect100 or (
            hdrs.EXPECT in self.headers and self.headers[hdrs.EXPECT].lower() == "100-continue"
        )
        if data is not None:
            self._set_body(data)
        self._frame_body()
        if self._expect100 and hdrs.EXPECT not in self.headers:
            self.headers[hdrs.EXPECT] = "100-continue"
        self._connection_key = ConnectionKey(
            url.raw_host or "",
            url.port,
            self.is_ssl,
            ssl,
            proxy,
            self.proxy_auth,
            hash(tuple(self.proxy_headers.items())) if self.proxy_headers else None,
            server_hostname,
        )

    # --- headers ------------------------------------------------------------------------------

    def _build_headers(self, headers: Any) -> CIMultiDict[str]:
        if isinstance(headers, CIMultiDict):
            result = headers  # the session hands over a fresh merged copy: no second copy
        elif headers:
            result = CIMultiDict(headers)
        else:
            result = CIMultiDict()
        skip = self._skip_auto_headers
        if hdrs.HOST not in result and "host" not in skip:
            # yarl caches this per URL: the authority, without a default port (RFC 9110 §7.2).
            result[hdrs.HOST] = self.url.host_port_subcomponent or ""
        for name, value in self.DEFAULT_HEADERS.items():
            if name not in result and (not skip or name.lower() not in skip):
                result[name] = value
        if hdrs.USER_AGENT not in result and "user-agent" not in skip:
            result[hdrs.USER_AGENT] = _USER_AGENT
        return result

    def _add_proxy_headers(self, proxy_auth: BasicAuth | None) -> None:
        # An absolute-form request goes to the proxy itself (RFC 9112 §3.2.2), so the proxy's
        # headers ride on it; https targets send them on the CONNECT instead, never inside the
        # tunnel. In the head of every request, because a pooled proxy connection may serve it.
        if self.proxy_headers:
            for name, value in self.proxy_headers.items():
                if name not in self.headers:
                    self.headers.add(name, value)
        if proxy_auth is not None:
            self.headers[hdrs.PROXY_AUTHORIZATION] = proxy_auth.encode()

    def _update_cookies(self, cookies: Any) -> None:
        from http.cookies import BaseCookie, Morsel, SimpleCookie

        jar: SimpleCookie = SimpleCookie()
        existing = self.headers.get(hdrs.COOKIE)
        if existing:
            jar.load(existing)
        items = cookies.items() if isinstance(cookies, Mapping) else cookies
        for name, value in items:
            if isinstance(value, Morsel):
                morsel: Morsel[str] = Morsel()
                morsel.set(value.key, value.value, value.coded_value)
                jar[name] = morsel
            elif isinstance(value, BaseCookie):
                for m in value.values():
                    jar[m.key] = m
            else:
                jar[name] = value
        self.headers[hdrs.COOKIE] = jar.output(header="", sep=";").strip()

    # --- body ---------------------------------------------------------------------------------

    def _check_compress(self, compress: str | bool | None) -> str | None:
        if not compress:
            return None
        if hdrs.CONTENT_ENCODING in self.headers:
            raise ValueError("compress can not be set if Content-Encoding header is set")
        encoding = "deflate" if compress is True else str(compress)
        get_encoder(encoding)  # ValueError for an encoding we cannot produce
        return encoding

    def _check_chunked(self, chunked: bool | None) -> bool | None:
        if chunked:
            if hdrs.CONTENT_LENGTH in self.headers:
                raise ValueError("chunked can not be set if Content-Length header is set")
            if hdrs.TRANSFER_ENCODING in self.headers:
                raise ValueError("chunked can not be set if Transfer-Encoding header is set")
        return chunked

    def _set_body(self, data: Any) -> None:
        if isinstance(data, (bytes, bytearray, memoryview)) and not self.compress:
            body = bytes(data)
            self._body_bytes = body
            self._body = payload.BytesPayload(body)
            if hdrs.CONTENT_TYPE not in self.headers and "content-type" not in (
                self._skip_auto_headers
            ):
                self.headers[hdrs.CONTENT_TYPE] = "application/octet-stream"
            return
        if isinstance(data, FormData):
            body_payload = data()
        elif isinstance(data, payload.Payload):
            body_payload = data
        elif isinstance(data, (dict, list, tuple)) or hasattr(data, "getall"):
            body_payload = FormData(data)()
        elif isinstance(data, str):
            # The caller's Content-Type names the charset to encode with.
            body_payload = payload.get_payload(
                data, content_type=self.headers.get(hdrs.CONTENT_TYPE)
            )
        else:
            body_payload = payload.get_payload(data)
        self._body = body_payload
        self._body_bytes = None
        if isinstance(body_payload, payload.BytesPayload) and not self.compress:
            self._body_bytes = bytes(body_payload.value)
        for name, value in body_payload.headers.items():
            if name not in self.headers and name.lower() not in self._skip_auto_headers:
                self.headers[name] = value

    def _frame_body(self) -> None:
        """Content-Length or Transfer-Encoding: chunked (RFC 9112 §6), and Content-Encoding."""
        headers = self.headers
        body = self._body
        if self.compress:
            headers[hdrs.CONTENT_ENCODING] = self.compress
            self.chunked = True
        if body is None:
            if hdrs.CONTENT_LENGTH not in headers and self.method not in _NO_BODY_METHODS:
                headers[hdrs.CONTENT_LENGTH] = "0"
            return
        if self.chunked:
            if self.version < HttpVersion11:
                raise ValueError("chunked transfer encoding needs HTTP/1.1")
            headers.popall(hdrs.CONTENT_LENGTH, None)
            if "chunked" not in headers.get(hdrs.TRANSFER_ENCODING, "").lower():
                headers[hdrs.TRANSFER_ENCODING] = "chunked"
            return
        if hdrs.TRANSFER_ENCODING in headers:
            if "chunked" in headers[hdrs.TRANSFER_ENCODING].lower():
                self.chunked = True
            return
        size = body.size
        if size is not None:
            if hdrs.CONTENT_LENGTH not in headers:
                headers[hdrs.CONTENT_LENGTH] = str(size)
        elif hdrs.CONTENT_LENGTH not in headers:
            if self.version < HttpVersion11:
                # HTTP/1.0 has no chunked coding: the body ends when we close (RFC 1945 §7.2.2).
                return
            self.chunked = True
            headers[hdrs.TRANSFER_ENCODING] = "chunked"

    @property
    def body(self) -> payload.Payload | bytes:
        return self._body if self._body is not None else b""

    @body.setter
    def body(self, value: Any) -> None:
        self._body = None
        self._body_bytes = b""
        if value is not None and value != b"":
            self._set_body(value)

    async def update_body(self, body: Any) -> None:
        """Replace the body, closing the old payload, and re-frame the request."""
        old = self._body
        self._body = None
        self._body_bytes = b""
        if old is not None:
            await old.close()
        self.headers.popall(hdrs.CONTENT_LENGTH, None)
        if self.chunked is None or not self.compress:
            self.headers.popall(hdrs.TRANSFER_ENCODING, None)
            self.chunked = None if not self.compress else True
        if body is not None:
            self._set_body(body)
        self._frame_body()

    # --- other public surface ----------------------------------------------------------------

    @property
    def session(self) -> ClientSession:
        if self._session is None:
            raise RuntimeError("This request was not made by a session")
        return self._session

    @property
    def loop(self) -> asyncio.AbstractEventLoop:
        return self._loop or asyncio.get_running_loop()

    @property
    def connection_key(self) -> ConnectionKey:
        return self._connection_key

    @property
    def host(self) -> str:
        return self.url.raw_host or ""

    @property
    def port(self) -> int | None:
        return self.url.port

    @property
    def auth(self) -> BasicAuth | None:
        return self._auth

    @property
    def request_info(self) -> RequestInfo:
        info = self._request_info
        if info is None:
            info = self._request_info = RequestInfo(
                self.url, self.method, CIMultiDictProxy(self.headers), self.original_url
            )
        return info

    @property
    def needs_tunnel(self) -> bool:
        """Through a proxy, whether this request needs a CONNECT tunnel to its origin: TLS to
        the origin, or an Upgrade (a WebSocket must reach the origin itself, RFC 6455 §4.1)."""
        return self.is_ssl or hdrs.UPGRADE in self.headers

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.method} {self.url}>"

    # --- sending ------------------------------------------------------------------------------

    async def send(self, conn: Connection) -> ClientResponse:
        """Write the request on *conn* and return the response object (head not read yet)."""
        response = self._send_now(conn)
        if self._traces:
            for trace in self._traces:
                await trace.send_request_headers(self.method, self.url, self.headers)
            if self._body_bytes and self._writer is None:
                for trace in self._traces:
                    await trace.send_request_chunk_sent(self.method, self.url, self._body_bytes)
        return response

    def _encode_head(self, force_close: bool) -> bytes:
        headers = self.headers
        if hdrs.CONNECTION not in headers:
            # HTTP/1.0 closes after each response unless asked (RFC 9112 §9.3); a connector
            # that never reuses connections says so, so the server closes promptly.
            if self.version == HttpVersion10:
                headers[hdrs.CONNECTION] = "keep-alive"
            elif force_close:
                headers[hdrs.CONNECTION] = "close"
        return serialize_head(self.method, self._target(), self.version, headers.items())

    def _copy_for(self, timer: Deadline | _NoDeadline) -> ClientRequest:
        """A copy that sends this request once more under *timer*, its head already encoded.
        For the session's prepared requests: no body, and headers nobody changes, so the copy
        shares them."""
        new = object.__new__(ClientRequest)
        new.method = self.method
        new.url = self.url
        new.original_url = self.original_url
        new.version = self.version
        new.headers = self.headers
        new.is_ssl = self.is_ssl
        new.ssl = self.ssl
        new.server_hostname = self.server_hostname
        new.proxy = self.proxy
        new.proxy_auth = self.proxy_auth
        new.proxy_headers = self.proxy_headers
        new.response_class = self.response_class
        new.compress = self.compress
        new.chunked = self.chunked
        new._session = self._session
        new._loop = self._loop
        new._timer = timer
        new._traces = self._traces
        new._writer = None
        new._continue = None
        new._request_info = self._request_info
        new._response_params = self._response_params
        new._body = None
        new._body_bytes = self._body_bytes
        new._close_body_after_write = False
        new._encoded_head = self._encoded_head
        new._skip_auto_headers = self._skip_auto_headers
        new._auth = self._auth
        new._expect100 = False
        new._connection_key = self._connection_key
        return new

    def _send_now(self, conn: Connection, written: bool = False) -> ClientResponse:
        """The synchronous part of send(): everything but the trace signals, so the session's
        common path needs no coroutine here. *written*: the head (and there is no body) went
        out already (the session's ``_write_early``); this makes the response for it."""
        protocol = conn.protocol
        if protocol is None:
            raise RuntimeError("The connection was already released")
        # The bytes go out first; the protocol gets ready for the answer after (no callback of
        # the loop can run in between).
        sent_whole = True
        if not written:
            head = self._encoded_head
            if head is None:
                head = self._encode_head(conn._connector.force_close)
            body_bytes = self._body_bytes
            if (
                body_bytes is not None
                and not self.chunked
                and not self._expect100
                and len(body_bytes) <= _WRITE_PIECE
            ):
                # Head and small body in one write: one syscall, one TCP segment when it fits.
                protocol.write(head + body_bytes if body_bytes else head)
            else:
                protocol.write(head)
                sent_whole = False
        params = self._response_params or _DEFAULT_RESPONSE_PARAMS
        waiter = protocol.begin(self.method == "HEAD", params, self._timer)
        protocol.on_done = conn._message_done
        if sent_whole:
            protocol.request_sent()
        else:
            if self._expect100:
                self._continue = protocol.expect_continue()
            protocol.writing = True
            self._writer = self.loop.create_task(self._write_body(protocol))
        response = self.response_class(
            self.method,
            self.original_url,
            writer=self._writer,
            continue100=self._continue,
            timer=self._timer,
            request_info=self.request_info,
            traces=self._traces,
            loop=self._loop,
            session=self._session,
        )
        response._head_waiter = waiter
        return response

    async def close_body(self) -> None:
        """Release the body's file or iterator once no hop will send it again; a body still
        being written is closed by its writer when it finishes."""
        self._close_body_after_write = True
        body = self._body
        if body is not None and (self._writer is None or self._writer.done()):
            await body.close()

    @property
    def has_body(self) -> bool:
        return self._body is not None

    def _target(self) -> str:
        if self.method == "CONNECT":
            return f"{self.url.raw_host}:{self.url.port}"
        if self.proxy is not None and not self.needs_tunnel:
            return str(self.url)  # absolute-form through a forward proxy (RFC 9112 §3.2.2)
        return self.url.raw_path_qs

    async def _write_body(self, protocol: ResponseProtocol) -> None:
        """Stream the body; runs beside the wait for the response head."""
        try:
            with self._timer:
                if self._continue is not None:
                    # asyncio.wait, not await: our own cancellation must not cancel the future,
                    # so a cancelled future means "a final response came instead of 100". Then
                    # the body is never sent (RFC 9110 §10.1.1) and the connection is done.
                    await asyncio.wait((self._continue,))
                    if self._continue.cancelled():
                        protocol.should_close = True
                        return
                writer = _BodyWriter(protocol, self)
                if self._body_bytes is not None:
                    await writer.write(self._body_bytes)
                elif self._body is not None:
                    await self._body.write(writer)
                await writer.finish()
            protocol.request_sent()
        except asyncio.CancelledError:
            protocol.close()
            raise
        except OSError:
            # Includes ClientConnectionResetError/ClientOSError: connection_lost reports the
            # failure to whoever waits for the response.
            protocol.close()
        except Exception as exc:
            # The caller's body failed (a generator raised, a file vanished): that error is
            # the request's outcome.
            protocol._fail_head(exc)
            protocol.close()
        finally:
            protocol.writing = False
            if self._close_body_after_write and self._body is not None:
                await self._body.close()


class _BodyWriter:
    """The PayloadWriter a payload writes into: compression, chunked framing, drain."""

    __slots__ = ("_chunked", "_encoder", "_protocol", "_request")

    def __init__(self, protocol: ResponseProtocol, request: ClientRequest) -> None:
        self._protocol = protocol
        self._request = request
        self._chunked = bool(request.chunked)
        self._encoder = get_encoder(request.compress) if request.compress else None

    async def write(self, chunk: bytes | bytearray | memoryview) -> None:
        if not chunk:
            return
        if self._encoder is not None:
            chunk = self._encoder.compress(bytes(chunk))
            if not chunk:
                return
        request = self._request
        if request._traces:
            for trace in request._traces:
                await trace.send_request_chunk_sent(request.method, request.url, bytes(chunk))
        view = memoryview(chunk)
        for start in range(0, len(view), _WRITE_PIECE):
            await self._write_piece(view[start : start + _WRITE_PIECE])

    async def _write_piece(self, piece: memoryview) -> None:
        protocol = self._protocol
        if self._chunked:
            size_line, data, crlf = frame_chunk(piece)
            protocol.write(size_line)
            protocol.write(data)
            protocol.write(crlf)
        else:
            protocol.write(piece)
        await protocol.drain()

    async def finish(self) -> None:
        protocol = self._protocol
        if self._encoder is not None:
            tail = self._encoder.flush()
            if tail:
                self._encoder = None
                await self.write(tail)
        if self._chunked:
            protocol.write(LAST_CHUNK)
        await protocol.drain()


# read_bufsize, sock_read, auto_decompress, parser limits, read_until_eof
_DEFAULT_RESPONSE_PARAMS: tuple[int, float | None, bool, None, bool] = (
    2**16,
    None,
    True,
    None,
    True,
)
