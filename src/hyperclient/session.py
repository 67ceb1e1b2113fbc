"""ClientSession and the module-level request(): merge options, then per hop run the middleware
chain around one send, then decide on a redirect."""

from __future__ import annotations

import asyncio
import dataclasses
import json as _json
import sys
import warnings
from collections.abc import Awaitable, Callable, Coroutine, Generator, Iterable, Sequence
from types import TracebackType
from typing import TYPE_CHECKING, Any, Final, Generic, TypeVar

from multidict import CIMultiDict
from yarl import URL

from . import hdrs
from .abc import AbstractCookieJar
from .auth import BasicAuth, strip_auth_from_url
from .connector import BaseConnector, Connection, TCPConnector
from .cookiejar import CookieJar
from .exceptions import (
    ClientConnectionResetError,
    ClientError,
    ClientOSError,
    InvalidUrlClientError,
    InvalidUrlRedirectClientError,
    NonHttpUrlClientError,
    NonHttpUrlRedirectClientError,
    ServerDisconnectedError,
    TooManyRedirects,
)
from .helpers import sentinel
from .http1 import HttpVersion, HttpVersion11
from .middlewares import ClientMiddlewareType, build_chain
from .request import IDEMPOTENT_METHODS, ClientRequest
from .response import ClientResponse, _location
from .timeouts import DEFAULT_TIMEOUT, NO_DEADLINE, ClientTimeout, Deadline, deadline_at
from .tls import resolve_ssl_arg

if TYPE_CHECKING:
    from .tracing import Trace, TraceConfig

__all__ = ("ClientSession", "request")

_HTTP_SCHEMES: Final = frozenset(("http", "https"))
_WS_SCHEMES: Final = frozenset(("ws", "wss"))
_REDIRECTS: Final = frozenset((301, 302, 303, 307, 308))
_PACKAGE_DIR: Final = __file__.rpartition("/")[0]


_R = TypeVar("_R", bound=ClientResponse)


class _RequestContextManager(Generic[_R]):
    """What ``session.get()`` returns: await it, or use it with ``async with``."""

    __slots__ = ("_coro", "_resp")

    def __init__(self, coro: Coroutine[Any, Any, _R]) -> None:
        self._coro = coro
        self._resp: _R | None = None

    def __await__(self) -> Generator[Any, None, _R]:
        return self._coro.__await__()

    def send(self, value: Any) -> Any:
        return self._coro.send(value)

    def throw(self, *args: Any) -> Any:
        return self._coro.throw(*args)

    def close(self) -> None:
        self._coro.close()

    async def __aenter__(self) -> _R:
        self._resp = await self._coro
        return self._resp

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        resp = self._resp
        if resp is not None:
            resp.release()
            await resp.wait_for_close()


@dataclasses.dataclass(frozen=True)
class _Options:
    """Per-request settings after session defaults are applied (one object, no repeated
    lookups on the hot path)."""

    read_bufsize: int
    auto_decompress: bool
    limits: tuple[int, int, int] | None


def _caller_location() -> tuple[str, int] | None:
    frame = sys._getframe(1)
    while frame is not None and frame.f_code.co_filename.startswith(_PACKAGE_DIR):
        frame = frame.f_back  # type: ignore[assignment]
    if frame is None:
        return None
    return frame.f_code.co_filename, frame.f_lineno


class ClientSession:
    """A pool of connections, default settings and a cookie jar, shared by many requests."""

    ATTRS = frozenset(
        [
            "_base_url",
            "_source_traceback",
            "_connector",
            "_loop",
            "_cookie_jar",
            "_connector_owner",
            "_default_auth",
            "_version",
            "_json_serialize",
            "_requote_redirect_url",
            "_timeout",
            "_raise_for_status",
            "_auto_decompress",
            "_trust_env",
            "_default_headers",
            "_skip_auto_headers",
            "_request_class",
            "_response_class",
            "_ws_response_class",
            "_trace_configs",
            "_read_bufsize",
            "_max_line_size",
            "_max_field_size",
            "_max_headers",
            "_resolve_charset",
            "_middlewares",
        ]
    )

    def __init__(
        self,
        base_url: str | URL | None = None,
        *,
        connector: BaseConnector | None = None,
        loop: asyncio.AbstractEventLoop | None = None,
        cookies: Any = None,
        headers: Any = None,
        proxy: str | URL | None = None,
        proxy_auth: BasicAuth | None = None,
        skip_auto_headers: Iterable[str] | None = None,
        auth: BasicAuth | None = None,
        json_serialize: Callable[[Any], str] = _json.dumps,
        request_class: type[ClientRequest] = ClientRequest,
        response_class: type[ClientResponse] = ClientResponse,
        ws_response_class: Any = None,
        version: HttpVersion = HttpVersion11,
        cookie_jar: AbstractCookieJar | None = None,
        connector_owner: bool = True,
        raise_for_status: bool | Callable[[ClientResponse], Awaitable[None]] = False,
        timeout: Any = sentinel,
        auto_decompress: bool = True,
        trust_env: bool = False,
        requote_redirect_url: bool = True,
        trace_configs: list[TraceConfig] | None = None,
        middlewares: Sequence[ClientMiddlewareType] = (),
        read_bufsize: int = 2**16,
        max_line_size: int = 8190,
        max_field_size: int = 8190,
        max_headers: int = 128,
        fallback_charset_resolver: Callable[[ClientResponse, bytes], str] = (lambda r, b: "utf-8"),
        ssl_shutdown_timeout: object = sentinel,
    ) -> None:
        self._created_at = _caller_location()
        if loop is None and connector is not None:
            loop = getattr(connector, "_loop_arg", None)
        if loop is None:
            try:
                loop = asyncio.get_running_loop()
            except RuntimeError:
                loop = asyncio.get_event_loop_policy().get_event_loop()
        self._loop = loop
        if base_url is None or isinstance(base_url, URL):
            self._base_url: URL | None = base_url
        else:
            self._base_url = URL(base_url)
        if self._base_url is not None:
            if not self._base_url.absolute:
                raise ValueError("base_url must be an absolute URL")
            if self._base_url.path and not self._base_url.path.endswith("/"):
                raise ValueError("base_url must have a path ending with '/'")
        if connector is None:
            connector = (
                TCPConnector(ssl_shutdown_timeout=ssl_shutdown_timeout)
                if ssl_shutdown_timeout is not sentinel
                else TCPConnector()
            )
        self._connector: BaseConnector | None = connector
        self._connector_owner = connector_owner
        if cookie_jar is None:
            cookie_jar = CookieJar()
        self._cookie_jar = cookie_jar
        if cookies:
            cookie_jar.update_cookies(cookies)
        self._default_auth = auth
        self._version = version
        self._json_serialize = json_serialize
        if timeout is sentinel or timeout is None:
            self._timeout = DEFAULT_TIMEOUT if timeout is sentinel else ClientTimeout()
        elif isinstance(timeout, ClientTimeout):
            self._timeout = timeout
        else:
            raise ValueError(
                f"timeout parameter cannot be of type {type(timeout).__name__}; use ClientTimeout"
            )
        self._raise_for_status = raise_for_status
        self._auto_decompress = auto_decompress
        self._trust_env = trust_env
        self._requote_redirect_url = requote_redirect_url
        self._read_bufsize = read_bufsize
        self._max_line_size = max_line_size
        self._max_field_size = max_field_size
        self._max_headers = max_headers
        self._resolve_charset = fallback_charset_resolver
        self._default_headers: CIMultiDict[str] = CIMultiDict(headers) if headers else CIMultiDict()
        self._skip_auto_headers: frozenset[str] = (
            frozenset(h.lower() for h in skip_auto_headers) if skip_auto_headers else frozenset()
        )
        self._request_class = request_class
        self._response_class = response_class
        self._ws_response_class = ws_response_class
        self._trace_configs = list(trace_configs or ())
        for config in self._trace_configs:
            config.freeze()
        self._middlewares = tuple(middlewares)
        self._default_proxy = URL(proxy) if isinstance(proxy, str) else proxy
        self._default_proxy_auth = proxy_auth
        self._default_options = _Options(
            read_bufsize,
            auto_decompress,
            self._limits(max_line_size, max_field_size, max_headers),
        )

    @staticmethod
    def _limits(line: int, field: int, count: int) -> tuple[int, int, int] | None:
        if (line, field, count) == (8190, 8190, 128):
            return None  # the parser's defaults: nothing to set per request
        return (line, field, count)

    def __init_subclass__(cls) -> None:
        warnings.warn(
            f"Inheritance class {cls.__name__} from ClientSession is discouraged",
            DeprecationWarning,
            stacklevel=2,
        )

    def __setattr__(self, name: str, val: Any) -> None:
        if name not in self.ATTRS and not name.startswith("_"):
            warnings.warn(
                f"Setting custom ClientSession.{name} attribute is discouraged",
                DeprecationWarning,
                stacklevel=2,
            )
        super().__setattr__(name, val)

    def __del__(self, _warnings: Any = warnings) -> None:
        if not self.closed:
            where = _location(self._created_at)
            _warnings.warn(
                f"Unclosed client session {self!r} created at {where}",
                ResourceWarning,
                source=self,
            )

    # --- the verbs ----------------------------------------------------------------------------

    def request(self, method: str, url: str | URL, **kwargs: Any) -> _RequestContextManager[Any]:
        return _RequestContextManager(self._request(method, url, **kwargs))

    def get(
        self, url: str | URL, *, allow_redirects: bool = True, **kwargs: Any
    ) -> _RequestContextManager[Any]:
        return _RequestContextManager(
            self._request(hdrs.METH_GET, url, allow_redirects=allow_redirects, **kwargs)
        )

    def options(
        self, url: str | URL, *, allow_redirects: bool = True, **kwargs: Any
    ) -> _RequestContextManager[Any]:
        return _RequestContextManager(
            self._request(hdrs.METH_OPTIONS, url, allow_redirects=allow_redirects, **kwargs)
        )

    def head(
        self, url: str | URL, *, allow_redirects: bool = False, **kwargs: Any
    ) -> _RequestContextManager[Any]:
        return _RequestContextManager(
            self._request(hdrs.METH_HEAD, url, allow_redirects=allow_redirects, **kwargs)
        )

    def post(
        self, url: str | URL, *, data: Any = None, **kwargs: Any
    ) -> _RequestContextManager[Any]:
        return _RequestContextManager(self._request(hdrs.METH_POST, url, data=data, **kwargs))

    def put(
        self, url: str | URL, *, data: Any = None, **kwargs: Any
    ) -> _RequestContextManager[Any]:
        return _RequestContextManager(self._request(hdrs.METH_PUT, url, data=data, **kwargs))

    def patch(
        self, url: str | URL, *, data: Any = None, **kwargs: Any
    ) -> _RequestContextManager[Any]:
        return _RequestContextManager(self._request(hdrs.METH_PATCH, url, data=data, **kwargs))

    def delete(self, url: str | URL, **kwargs: Any) -> _RequestContextManager[Any]:
        return _RequestContextManager(self._request(hdrs.METH_DELETE, url, **kwargs))

    def ws_connect(self, url: str | URL, **kwargs: Any) -> _RequestContextManager[Any]:
        """Open a WebSocket: await it, or use it with ``async with``."""
        from .websocket.client import ws_connect

        return _RequestContextManager(ws_connect(self, url, **kwargs))

    # --- one request, all hops ----------------------------------------------------------------

    async def _request(
        self,
        method: str,
        str_or_url: str | URL,
        *,
        params: Any = None,
        data: Any = None,
        json: Any = None,
        cookies: Any = None,
        headers: Any = None,
        skip_auto_headers: Iterable[str] | None = None,
        auth: BasicAuth | None = None,
        allow_redirects: bool = True,
        max_redirects: int = 10,
        compress: str | bool | None = None,
        chunked: bool | None = None,
        expect100: bool = False,
        raise_for_status: Any = None,
        read_until_eof: bool = True,
        proxy: str | URL | None = None,
        proxy_auth: BasicAuth | None = None,
        timeout: Any = sentinel,
        verify_ssl: bool | None = None,
        fingerprint: bytes | None = None,
        ssl_context: Any = None,
        ssl: Any = True,
        server_hostname: str | None = None,
        proxy_headers: Any = None,
        trace_request_ctx: Any = None,
        read_bufsize: int | None = None,
        auto_decompress: bool | None = None,
        max_line_size: int | None = None,
        max_field_size: int | None = None,
        max_headers: int | None = None,
        middlewares: Sequence[ClientMiddlewareType] | None = None,
    ) -> ClientResponse:
        if self.closed:
            raise RuntimeError("Session is closed")
        created_at = _caller_location()
        if data is not None and json is not None:
            raise ValueError("data and json parameters can not be used at the same time")
        if json is not None:
            data = self._json_serialize(json).encode("utf-8")
            headers = self._with_json_content_type(headers)
        if verify_ssl is not None or ssl_context is not None or fingerprint is not None:
            ssl = resolve_ssl_arg(ssl, verify_ssl, ssl_context, fingerprint)
        url = self._build_url(str_or_url)
        if auth is not None and (url.user or url.password):
            raise ValueError("Cannot combine AUTH argument with credentials encoded in URL")
        if (
            auth is None
            and self._default_auth is not None
            and not (url.user or url.password)
            and (self._base_url is None or url.origin() == self._base_url.origin())
        ):
            # The session's auth goes only to base_url's origin when base_url is set.
            auth = self._default_auth
        real_timeout = self._request_timeout(timeout)
        loop = self._loop
        when = deadline_at(loop, real_timeout.total, real_timeout.ceil_threshold)
        timer = Deadline(loop, when) if when is not None else NO_DEADLINE
        options = self._options(
            read_bufsize, auto_decompress, max_line_size, max_field_size, max_headers
        )
        traces = self._make_traces(trace_request_ctx) if self._trace_configs else []
        merged_headers = self._merge_headers(headers)
        if proxy is None:
            proxy_url = self._default_proxy
            if proxy_auth is None:
                proxy_auth = self._default_proxy_auth
        else:
            proxy_url = URL(proxy) if isinstance(proxy, str) else proxy
        if traces:
            for trace in traces:
                await trace.send_request_start(method, url, merged_headers)
        try:
            with timer:
                resp = await self._follow(
                    method,
                    url,
                    params,
                    data,
                    cookies,
                    merged_headers,
                    skip_auto_headers,
                    auth,
                    allow_redirects,
                    max_redirects,
                    compress,
                    chunked,
                    expect100,
                    read_until_eof,
                    proxy_url,
                    proxy_auth,
                    real_timeout,
                    ssl,
                    server_hostname,
                    proxy_headers,
                    options,
                    timer,
                    traces,
                    self._middlewares if middlewares is None else tuple(middlewares),
                )
            resp._created_at = created_at
            try:
                await self._check_status(resp, raise_for_status)
            except BaseException:
                resp.close()
                raise
        except BaseException as exc:
            timer.cancel()
            if traces:
                for trace in traces:
                    await trace.send_request_exception(method, url, merged_headers, exc)
            if isinstance(exc, OSError) and not isinstance(
                exc, (ClientError, asyncio.TimeoutError)
            ):
                raise ClientOSError(*exc.args) from exc
            raise
        if resp.content.is_eof():
            timer.cancel()
        if traces:
            for trace in traces:
                await trace.send_request_end(method, url, merged_headers, resp)
        return resp

    async def _follow(
        self,
        method: str,
        url: URL,
        params: Any,
        data: Any,
        cookies: Any,
        headers: CIMultiDict[str],
        skip_auto_headers: Iterable[str] | None,
        auth: BasicAuth | None,
        allow_redirects: bool,
        max_redirects: int,
        compress: Any,
        chunked: bool | None,
        expect100: bool,
        read_until_eof: bool,
        proxy: URL | None,
        proxy_auth: BasicAuth | None,
        timeout: ClientTimeout,
        ssl: Any,
        server_hostname: str | None,
        proxy_headers: Any,
        options: _Options,
        timer: Any,
        traces: list[Trace],
        middlewares: tuple[ClientMiddlewareType, ...],
    ) -> ClientResponse:
        history: list[ClientResponse] = []
        skip = (
            self._skip_auto_headers | frozenset(h.lower() for h in skip_auto_headers)
            if skip_auto_headers
            else self._skip_auto_headers
        )
        request_cookies = cookies
        req: ClientRequest | None = None
        try:
            while True:
                if url.scheme not in _HTTP_SCHEMES:
                    raise NonHttpUrlClientError(url)
                if not url.raw_host:
                    raise InvalidUrlClientError(url)
                url, url_auth = (
                    strip_auth_from_url(url) if (url.user or url.password) else (url, None)
                )
                hop_headers = headers.copy() if history else headers
                all_cookies = self._cookies_for(url, request_cookies)
                req = self._request_class(
                    method,
                    url,
                    params=params,
                    headers=hop_headers,
                    skip_auto_headers=skip,
                    data=data,
                    cookies=all_cookies,
                    auth=auth or url_auth,
                    version=self._version,
                    compress=compress,
                    chunked=chunked,
                    expect100=expect100,
                    loop=self._loop,
                    response_class=self._response_class,
                    proxy=proxy,
                    proxy_auth=proxy_auth,
                    timer=timer,
                    session=self,
                    ssl=ssl,
                    server_hostname=server_hostname,
                    proxy_headers=proxy_headers,
                    traces=traces,
                    trust_env=self._trust_env,
                )
                req._response_params = (
                    options.read_bufsize,
                    timeout.sock_read,
                    options.auto_decompress,
                    options.limits,
                    read_until_eof,
                )
                if middlewares:
                    resp = await build_chain(self._send_once_factory(timeout, traces), middlewares)(
                        req
                    )
                else:
                    resp = await self._send_once(req, timeout, traces)
                resp._history = tuple(history)
                if resp.status in _REDIRECTS and allow_redirects:
                    location = resp.headers.get(hdrs.LOCATION) or resp.headers.get(hdrs.URI)
                    if location is None:
                        return resp
                    if traces:
                        for trace in traces:
                            await trace.send_request_redirect(method, url, headers, resp)
                    history.append(resp)
                    if len(history) >= max_redirects:
                        resp.release()
                        raise TooManyRedirects(
                            resp.request_info,
                            tuple(history),
                            status=resp.status,
                            message=resp.reason or "",
                        )
                    new_url = self._redirect_url(url, location)
                    resp.release()
                    if (resp.status == 303 and method != hdrs.METH_HEAD) or (
                        resp.status in (301, 302) and method == hdrs.METH_POST
                    ):
                        method = hdrs.METH_GET
                        data = None
                        await req.close_body()
                        headers = headers.copy()
                        headers.popall(hdrs.CONTENT_LENGTH, None)
                        headers.popall(hdrs.CONTENT_TYPE, None)
                        headers.popall(hdrs.TRANSFER_ENCODING, None)
                    elif data is not None and req._body is not None:
                        data = req._body  # 307/308 keep method and body (RFC 9110 §15.4.8)
                    if url.origin() != new_url.origin():
                        # Credentials never follow a redirect to another origin.
                        auth = None
                        request_cookies = None
                        headers = headers.copy()
                        headers.popall(hdrs.AUTHORIZATION, None)
                        headers.popall(hdrs.COOKIE, None)
                        headers.popall(hdrs.PROXY_AUTHORIZATION, None)
                    headers.popall(hdrs.HOST, None) if hdrs.HOST in headers and history else None
                    url = new_url
                    params = None
                    continue
                return resp
        finally:
            # Files and iterators behind the body are released once no hop needs them.
            if req is not None:
                await req.close_body()

    def _redirect_url(self, url: URL, location: str) -> URL:
        try:
            target = URL(location, encoded=not self._requote_redirect_url)
        except ValueError as exc:
            raise InvalidUrlRedirectClientError(
                location, "Server attempted redirecting to an invalid URL"
            ) from exc
        scheme = target.scheme
        if scheme and scheme not in _HTTP_SCHEMES:
            raise NonHttpUrlRedirectClientError(target)
        if not target.absolute:
            target = url.join(target)
        if not target.raw_host:
            raise InvalidUrlRedirectClientError(location, "Redirect URL has no host")
        return (
            target.with_fragment(None)
            if target.raw_fragment is not None and not target.fragment
            else target
        )

    def _send_once_factory(
        self, timeout: ClientTimeout, traces: list[Trace]
    ) -> Callable[[ClientRequest], Awaitable[ClientResponse]]:
        async def handler(req: ClientRequest) -> ClientResponse:
            return await self._send_once(req, timeout, traces)

        return handler

    async def _send_once(
        self, req: ClientRequest, timeout: ClientTimeout, traces: list[Trace]
    ) -> ClientResponse:
        """Send on a pooled or new connection; retry once on a new one if a reused connection
        turns out to be dead before any byte of the response (the server closed it while it sat
        in the pool: RFC 9112 §9.3.1 allows retrying idempotent requests then)."""
        connector = self._connector
        if connector is None:
            raise RuntimeError("Session is closed")
        conn = await connector.connect(req, traces, timeout)
        protocol = conn.protocol
        reused = protocol is not None and protocol.uses > 0
        try:
            return await self._exchange(req, conn)
        except (ServerDisconnectedError, ClientConnectionResetError, ClientOSError):
            if not (
                reused
                and req.method in IDEMPOTENT_METHODS
                and protocol is not None
                and not protocol.got_bytes
                and req._body_bytes is not None
            ):
                raise
        conn = await connector.connect(req, traces, timeout, fresh=True)
        return await self._exchange(req, conn)

    async def _exchange(self, req: ClientRequest, conn: Connection) -> ClientResponse:
        try:
            resp = await req.send(conn)
        except BaseException:
            conn.close()
            raise
        await resp.start(conn)
        jar = self._cookie_jar
        if resp._has_header(b"set-cookie"):
            jar.update_cookies(resp.cookies, resp.url)
        return resp

    async def _check_status(self, resp: ClientResponse, override: Any) -> None:
        check = self._raise_for_status if override is None else override
        if check is True:
            resp.raise_for_status()
        elif check:
            await check(resp)

    # --- option merging -----------------------------------------------------------------------

    def _build_url(self, str_or_url: str | URL) -> URL:
        try:
            url = URL(str_or_url) if isinstance(str_or_url, str) else str_or_url
        except (ValueError, TypeError) as exc:
            raise InvalidUrlClientError(str_or_url) from exc
        if not isinstance(url, URL):
            raise InvalidUrlClientError(str_or_url)
        base = self._base_url
        if base is not None and not url.absolute:
            return base.join(url)
        return url

    def _merge_headers(self, headers: Any) -> CIMultiDict[str]:
        merged: CIMultiDict[str] = self._default_headers.copy()
        if headers:
            if isinstance(headers, (dict, CIMultiDict)) or hasattr(headers, "items"):
                items = headers.items()
            else:
                items = headers
            added: set[str] = set()
            for name, value in items:
                # A request header replaces the session's; repeated request headers add up.
                key = name.lower()
                if key in added:
                    merged.add(name, value)
                else:
                    merged[name] = value
                    added.add(key)
        return merged

    @staticmethod
    def _with_json_content_type(headers: Any) -> Any:
        if headers is None:
            return {hdrs.CONTENT_TYPE: "application/json"}
        merged: CIMultiDict[str] = CIMultiDict(headers)
        if hdrs.CONTENT_TYPE not in merged:
            merged[hdrs.CONTENT_TYPE] = "application/json"
        return merged

    def _request_timeout(self, timeout: Any) -> ClientTimeout:
        if timeout is sentinel:
            return self._timeout
        if timeout is None:
            return ClientTimeout()
        if isinstance(timeout, ClientTimeout):
            return timeout
        return ClientTimeout(total=float(timeout))

    def _options(
        self,
        read_bufsize: int | None,
        auto_decompress: bool | None,
        max_line_size: int | None,
        max_field_size: int | None,
        max_headers: int | None,
    ) -> _Options:
        if (
            read_bufsize is None
            and auto_decompress is None
            and max_line_size is None
            and max_field_size is None
            and max_headers is None
        ):
            return self._default_options
        return _Options(
            self._read_bufsize if read_bufsize is None else read_bufsize,
            self._auto_decompress if auto_decompress is None else auto_decompress,
            self._limits(
                self._max_line_size if max_line_size is None else max_line_size,
                self._max_field_size if max_field_size is None else max_field_size,
                self._max_headers if max_headers is None else max_headers,
            ),
        )

    def _cookies_for(self, url: URL, request_cookies: Any) -> Any:
        jar = self._cookie_jar
        if not len(jar):
            return request_cookies
        filtered = jar.filter_cookies(url)
        if request_cookies:
            # Per-request cookies win over the jar's and are never stored in it.
            for name, value in (
                request_cookies.items() if hasattr(request_cookies, "items") else request_cookies
            ):
                filtered[name] = value
        return filtered if len(filtered) else None

    def _make_traces(self, trace_request_ctx: Any) -> list[Trace]:
        from .tracing import Trace

        return [
            Trace(self, config, config.trace_config_ctx(trace_request_ctx=trace_request_ctx))
            for config in self._trace_configs
        ]

    # --- life cycle ---------------------------------------------------------------------------

    async def close(self) -> None:
        """Close the connector (if owned); returns when every socket is closed."""
        connector = self._connector
        if connector is not None:
            self._connector = None
            if self._connector_owner:
                await connector.close()

    def detach(self) -> None:
        """Forget the connector without closing it; the session counts as closed."""
        self._connector = None

    @property
    def closed(self) -> bool:
        return self._connector is None or self._connector.closed

    async def __aenter__(self) -> ClientSession:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    # --- read-only attributes -----------------------------------------------------------------

    @property
    def connector(self) -> BaseConnector | None:
        return self._connector

    @property
    def cookie_jar(self) -> AbstractCookieJar:
        return self._cookie_jar

    @property
    def version(self) -> HttpVersion:
        return self._version

    @property
    def requote_redirect_url(self) -> bool:
        return self._requote_redirect_url

    @requote_redirect_url.setter
    def requote_redirect_url(self, val: bool) -> None:
        warnings.warn(
            "session.requote_redirect_url modification is deprecated",
            DeprecationWarning,
            stacklevel=2,
        )
        self._requote_redirect_url = val

    @property
    def loop(self) -> asyncio.AbstractEventLoop:
        warnings.warn("session.loop is deprecated", DeprecationWarning, stacklevel=2)
        return self._loop

    @property
    def timeout(self) -> ClientTimeout:
        return self._timeout

    @property
    def headers(self) -> CIMultiDict[str]:
        return self._default_headers

    @property
    def skip_auto_headers(self) -> frozenset[str]:
        return self._skip_auto_headers

    @property
    def auth(self) -> BasicAuth | None:
        return self._default_auth

    @property
    def json_serialize(self) -> Callable[[Any], str]:
        return self._json_serialize

    @property
    def connector_owner(self) -> bool:
        return self._connector_owner

    @property
    def raise_for_status(self) -> bool | Callable[[ClientResponse], Awaitable[None]]:
        return self._raise_for_status

    @property
    def auto_decompress(self) -> bool:
        return self._auto_decompress

    @property
    def trust_env(self) -> bool:
        return self._trust_env

    @property
    def trace_configs(self) -> list[TraceConfig]:
        return self._trace_configs

    @property
    def middlewares(self) -> tuple[ClientMiddlewareType, ...]:
        return self._middlewares

    @property
    def base_url(self) -> URL | None:
        return self._base_url


class _SessionRequestContextManager:
    """``hyperclient.request()``: a request that owns (and closes) its own session."""

    __slots__ = ("_coro", "_resp", "_session")

    def __init__(self, coro: Coroutine[Any, Any, ClientResponse], session: ClientSession) -> None:
        self._coro = coro
        self._resp: ClientResponse | None = None
        self._session = session

    async def __aenter__(self) -> ClientResponse:
        try:
            self._resp = await self._coro
        except BaseException:
            await self._session.close()
            raise
        return self._resp

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        assert self._resp is not None
        self._resp.release()
        await self._session.close()

    def __await__(self) -> Generator[Any, None, ClientResponse]:
        raise TypeError("hyperclient.request() is an async context manager: use 'async with'")


def request(
    method: str,
    url: str | URL,
    *,
    version: HttpVersion = HttpVersion11,
    connector: BaseConnector | None = None,
    loop: asyncio.AbstractEventLoop | None = None,
    **kwargs: Any,
) -> _SessionRequestContextManager:
    """One request with a session of its own, closed on leaving ``async with``."""
    connector_owner = False
    if connector is None:
        connector_owner = True
        connector = TCPConnector(force_close=True)
    session = ClientSession(
        loop=loop, version=version, connector=connector, connector_owner=connector_owner
    )
    return _SessionRequestContextManager(session._request(method, url, **kwargs), session)
