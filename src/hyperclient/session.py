"""ClientSession and the module-level request(): merge options, then per hop run the middleware
chain around one send, then decide on a redirect."""

from __future__ import annotations

import asyncio
import dataclasses
import json as _json
import warnings
from collections.abc import Awaitable, Callable, Coroutine, Generator, Iterable, Sequence
from types import TracebackType
from typing import TYPE_CHECKING, Any, Final, Generic, TypeVar, cast

from multidict import CIMultiDict, getversion
from yarl import URL

from . import hdrs
from .abc import AbstractCookieJar
from .auth import BasicAuth
from .connector import BaseConnector, TCPConnector
from .cookiejar import CookieJar
from .exceptions import (
    ClientError,
    ClientOSError,
    InvalidUrlClientError,
)
from .helpers import TCHAR, caller_location, location_text, sentinel
from .hops import _Hops, _Plan
from .http1 import HttpVersion, HttpVersion11
from .middlewares import ClientMiddlewareType
from .proxy import EnvProxies, ProxyInfo, prepare_proxy
from .redirects import (
    same_origin,
)
from .request import ClientRequest
from .response import ClientResponse
from .timeouts import (
    DEFAULT_TIMEOUT,
    NO_DEADLINE,
    ClientTimeout,
    Deadline,
    DeadlineScheduler,
    deadline_at,
)
from .tls import resolve_ssl_arg

if TYPE_CHECKING:
    from .pool import Connection
    from .timeouts import _NoDeadline
    from .tracing import Trace, TraceConfig

__all__ = ("ClientSession", "request")

_HTTP_SCHEMES: Final = frozenset(("http", "https"))
# Redirect bodies up to this size are read so their connection can be reused.
_REDIRECT_BODY_LIMIT: Final = 64 * 1024


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
            if not isinstance(resp, ClientResponse) or resp._writer is not None:
                await resp.wait_for_close()  # a body still being written, or a WebSocket


@dataclasses.dataclass(frozen=True)
class _Options:
    """Per-request settings after session defaults are applied (one object, no repeated
    lookups on the hot path)."""

    read_bufsize: int
    auto_decompress: bool
    limits: tuple[int, int, int] | None


class _Prepared:
    """A plain call's plan and first request, made once by the general path. The request is
    never sent itself: each call sends a copy (``ClientRequest._copy_for``)."""

    __slots__ = ("headers_version", "plan", "request")

    def __init__(self, plan: _Plan, request: ClientRequest, headers_version: int) -> None:
        self.plan = plan
        self.request = request
        self.headers_version = headers_version


# multidict's own counter of a MultiDict's changes (CIMultiDict is one, whatever its stubs say).
_headers_version = cast("Callable[[CIMultiDict[str]], int]", getversion)


def _emptiness_test(jar: AbstractCookieJar) -> Callable[[], bool]:
    """Whether *jar* holds no cookie, asked before every request: CookieJar.is_empty() (it
    skips the expiry sweep when there is nothing to sweep), or ``not len(jar)`` for another
    jar."""
    is_empty = getattr(jar, "is_empty", None)
    return is_empty if callable(is_empty) else lambda: not len(jar)


# Plain calls prepared per session; when full, the cache starts over (URLs that never repeat).
_MAX_PREPARED: Final = 256


class ClientSession(_Hops):
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
            "_deadlines",
            "_default_options",
            "_default_proxy",
            "_default_proxy_auth",
            "_created_at",
            "_plain_send",
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
        self._created_at = caller_location()
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
        self._jar_is_empty = _emptiness_test(cookie_jar)
        if cookies:
            cookie_jar.update_cookies(cookies)
        self._default_auth = auth
        self._version = version
        self._json_serialize = json_serialize
        if timeout is sentinel or timeout is None:
            self._timeout = DEFAULT_TIMEOUT if timeout is sentinel else ClientTimeout()
        elif isinstance(timeout, ClientTimeout):
            self._timeout = timeout
        elif isinstance(timeout, (int, float)):
            self._timeout = ClientTimeout(total=float(timeout))  # a number means total
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
        self._plain_send = request_class.send is ClientRequest.send
        self._response_class = response_class
        self._ws_response_class = ws_response_class
        self._trace_configs = list(trace_configs or ())
        for config in self._trace_configs:
            config.freeze()
        # Frozen configs without a handler can never be heard: no Trace is made for them.
        self._traced_configs = [c for c in self._trace_configs if c._is_listened_to()]
        self._middlewares = tuple(middlewares)
        self._default_proxy = URL(proxy) if isinstance(proxy, str) else proxy
        self._default_proxy_auth = proxy_auth
        self._deadlines = DeadlineScheduler(loop)
        self._default_options = _Options(
            read_bufsize,
            auto_decompress,
            self._limits(max_line_size, max_field_size, max_headers),
        )
        # The plain-call lane (_request_plain) needs requests that depend on nothing but the
        # call and the session's settings.
        self._lane_open = (
            request_class is ClientRequest
            and not self._middlewares
            and not self._traced_configs
            and not trust_env
        )
        self._prepared: dict[tuple[str, str | URL, bool], _Prepared] = {}

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
            where = location_text(self._created_at)
            _warnings.warn(
                f"Unclosed client session {self!r} created at {where}",
                ResourceWarning,
                source=self,
            )

    # --- the verbs ----------------------------------------------------------------------------

    def request(self, method: str, url: str | URL, **kwargs: Any) -> _RequestContextManager[Any]:
        return self._call(method, url, kwargs.pop("allow_redirects", True), kwargs)

    def get(
        self, url: str | URL, *, allow_redirects: bool = True, **kwargs: Any
    ) -> _RequestContextManager[Any]:
        return self._call(hdrs.METH_GET, url, allow_redirects, kwargs)

    def options(
        self, url: str | URL, *, allow_redirects: bool = True, **kwargs: Any
    ) -> _RequestContextManager[Any]:
        return self._call(hdrs.METH_OPTIONS, url, allow_redirects, kwargs)

    def head(
        self, url: str | URL, *, allow_redirects: bool = False, **kwargs: Any
    ) -> _RequestContextManager[Any]:
        return self._call(hdrs.METH_HEAD, url, allow_redirects, kwargs)

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
        return self._call(hdrs.METH_DELETE, url, kwargs.pop("allow_redirects", True), kwargs)

    def _call(
        self, method: str, url: str | URL, allow_redirects: bool, kwargs: dict[str, Any]
    ) -> _RequestContextManager[Any]:
        """What a verb returns. A call with nothing but a URL (and allow_redirects) takes the
        plain-call lane (``_request_plain``)."""
        if kwargs:
            coro = self._request(method, url, allow_redirects=allow_redirects, **kwargs)
        else:
            coro = self._request_plain(method, url, allow_redirects)
        return _RequestContextManager(coro)

    def ws_connect(self, url: str | URL, **kwargs: Any) -> _RequestContextManager[Any]:
        """Open a WebSocket: await it, or use it with ``async with``."""
        from .websocket.client import ws_connect

        return _RequestContextManager(ws_connect(self, url, **kwargs))

    # --- one request, all hops ----------------------------------------------------------------

    async def _request(self, method: str, str_or_url: str | URL, **kwargs: Any) -> ClientResponse:
        created_at = caller_location()
        plan = self._make_plan(method, str_or_url, **kwargs)
        return await self._execute(plan, self._deadline_for(plan.timeout), created_at)

    async def _request_plain(
        self, method: str, str_or_url: str | URL, allow_redirects: bool
    ) -> ClientResponse:
        """A call that passes nothing but the URL: the commonest request, and the one whose
        plan and head depend only on the session. Those are built once by the general path
        (``_prepare``) and reused, so the call costs a copy of a ClientRequest instead of a
        merge of headers, a new request and its serialization.

        On an idle pooled connection the prepared head is written first of all: the server
        reads it while this call makes its timer, its request copy and its response. A caller
        that waits for each response before the next request gets it that much sooner."""
        prepared = self._prepared_for(method, str_or_url, allow_redirects)
        if prepared is None:
            created_at = caller_location()
            plan = self._make_plan(method, str_or_url, allow_redirects=allow_redirects)
            return await self._execute(plan, self._deadline_for(plan.timeout), created_at)
        plan = prepared.plan
        timer = self._deadline_for(plan.timeout)
        written = None if timer.expired else self._write_early(prepared.request)
        return await self._execute(plan, timer, caller_location(), prepared.request, written)

    def _make_plan(
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
    ) -> _Plan:
        """One call's options with the session's defaults applied."""
        if self._connector is None or self._connector.closed:
            raise RuntimeError("Session is closed")
        if data is not None and json is not None:
            raise ValueError("data and json parameters can not be used at the same time")
        if json is not None:
            data = self._json_serialize(json).encode("utf-8")
            headers = self._with_json_content_type(headers)
        if verify_ssl is not None or ssl_context is not None or fingerprint is not None:
            ssl = resolve_ssl_arg(ssl, verify_ssl, ssl_context, fingerprint)
        url = self._build_url(str_or_url)
        plan = _Plan(method, url, params, data, cookies, self._merge_headers(headers))
        plan.auth = self._auth_for(url, auth)
        plan.skip = (
            self._skip_auto_headers | frozenset(h.lower() for h in skip_auto_headers)
            if skip_auto_headers
            else self._skip_auto_headers
        )
        plan.allow_redirects = allow_redirects
        plan.max_redirects = max_redirects
        plan.compress = compress
        plan.chunked = chunked
        plan.expect100 = expect100
        plan.ssl = ssl
        plan.server_hostname = server_hostname
        plan.proxy_headers = proxy_headers
        if proxy is not None or self._default_proxy is not None or self._trust_env:
            self._choose_proxy(plan, url, proxy, proxy_auth)
        plan.timeout = self._request_timeout(timeout)
        options = self._options(
            read_bufsize, auto_decompress, max_line_size, max_field_size, max_headers
        )
        plan.response_params = (
            options.read_bufsize,
            plan.timeout.sock_read,
            options.auto_decompress,
            options.limits,
            read_until_eof,
        )
        plan.raise_for_status = (
            self._raise_for_status if raise_for_status is None else raise_for_status
        )
        plan.middlewares = self._middlewares if middlewares is None else tuple(middlewares)
        plan.traces = self._make_traces(trace_request_ctx) if self._traced_configs else []
        return plan

    def _deadline_for(self, timeout: ClientTimeout) -> Deadline | _NoDeadline:
        """The timer of one request's total timeout, started now."""
        when = deadline_at(self._loop, timeout.total, timeout.ceil_threshold)
        return Deadline(self._loop, when, self._deadlines) if when is not None else NO_DEADLINE

    async def _execute(
        self,
        plan: _Plan,
        timer: Deadline | _NoDeadline,
        created_at: tuple[str, int] | None,
        prepared: ClientRequest | None = None,
        written: Connection | None = None,
    ) -> ClientResponse:
        """Run *plan* under its total timeout (*timer*): the hops, the trace signals around
        them and raise_for_status. *prepared*: a request made earlier for the first hop (a copy
        is sent), already written on the connection *written* if that is given."""
        traces = plan.traces
        if traces:
            req_url = plan.url.extend_query(plan.params) if plan.params else plan.url
            for trace in traces:
                await trace.send_request_start(plan.method, req_url, plan.headers)
        try:
            with timer:
                resp = await self._run_hops(plan, timer, prepared, written)
            resp._created_at = created_at
            check = plan.raise_for_status
            if check:
                try:
                    await self._check_status(resp, check)
                except BaseException:
                    resp.close()
                    raise
        except BaseException as exc:
            timer.cancel()
            if traces:
                for trace in traces:
                    await trace.send_request_exception(plan.method, plan.url, plan.headers, exc)
            if isinstance(exc, OSError) and not isinstance(
                exc, (ClientError, asyncio.TimeoutError)
            ):
                raise ClientOSError(*exc.args) from exc
            raise
        if resp.content.is_eof():
            timer.cancel()
        if traces:
            for trace in traces:
                await trace.send_request_end(resp.method, resp.url, plan.headers, resp)
        return resp

    # --- the plain-call lane ------------------------------------------------------------------

    def _prepared_for(
        self, method: str, str_or_url: str | URL, allow_redirects: bool
    ) -> _Prepared | None:
        """The reusable plan and request for a plain call, or None when this call must take
        the general path: a session whose requests depend on more than the call (middlewares,
        traces, trust_env, its own request class), a cookie in the jar, or a closed session."""
        if not self._lane_open:
            return None
        connector = self._connector
        if connector is None or connector._closed or not self._jar_is_empty():
            return None
        if type(str_or_url) is not str and not isinstance(str_or_url, URL):
            return None  # the general path names what is wrong with it
        key = (method, str_or_url, allow_redirects)
        prepared = self._prepared.get(key)
        # session.headers may have changed since: its version says so.
        version = _headers_version(self._default_headers)
        if prepared is None or prepared.headers_version != version:
            prepared = self._prepare(method, str_or_url, allow_redirects, connector, version)
            if prepared is None:
                return None
            if len(self._prepared) >= _MAX_PREPARED:
                self._prepared.clear()
            self._prepared[key] = prepared
        return prepared

    def _prepare(
        self,
        method: str,
        str_or_url: str | URL,
        allow_redirects: bool,
        connector: BaseConnector,
        headers_version: int,
    ) -> _Prepared | None:
        plan = self._make_plan(method, str_or_url, allow_redirects=allow_redirects)
        request = self._make_request(plan, NO_DEADLINE, False)
        if request.has_body or request._expect100:
            # Per-request state (a 100-continue wait, from an Expect in session.headers): such
            # a session's plain calls take the general path, each preparing in vain. Rare
            # enough not to remember.
            return None
        request._encoded_head = request._encode_head(connector.force_close)
        request.request_info  # noqa: B018  # built once, shared by every copy
        return _Prepared(plan, request, headers_version)

    # The trust_env proxies, read from the environment on the session's first request.
    _env_proxies: EnvProxies | None = None

    def _choose_proxy(
        self, plan: _Plan, url: URL, proxy: str | URL | None, proxy_auth: BasicAuth | None
    ) -> None:
        """The call's proxy, else the session's, else (trust_env) the environment's."""
        if proxy is None and self._default_proxy is not None:
            proxy = self._default_proxy
            if proxy_auth is None:
                proxy_auth = self._default_proxy_auth
        if proxy is not None:
            plan.proxy, plan.proxy_auth = prepare_proxy(proxy, proxy_auth)
            return
        plan.env_proxy = True
        self._env_proxy_to(plan, url, proxy_auth)

    def _env_proxy_to(self, plan: _Plan, url: URL, proxy_auth: BasicAuth | None) -> None:
        found = self._env_proxy_for(url)
        if found is not None:
            plan.proxy = found[0]
            plan.proxy_auth = proxy_auth if proxy_auth is not None else found[1]
        else:
            plan.proxy = plan.proxy_auth = None

    def _env_proxy_for(self, url: URL) -> ProxyInfo | None:
        """The environment's proxy for *url* (None: go direct), read once per session."""
        env = self._env_proxies
        if env is None:
            env = self._env_proxies = EnvProxies.from_environment()
        return env.for_url(url)

    def _auth_for(self, url: URL, auth: BasicAuth | None) -> BasicAuth | None:
        """The Basic credentials the first hop carries: the call's, else the session's; None
        when the URL carries its own (``_make_request`` takes them out of the URL)."""
        if url.raw_user is not None or url.raw_password is not None:
            if auth is not None:
                raise ValueError("Cannot combine AUTH argument with credentials encoded in URL")
            return None
        if auth is None:
            return self._session_auth_for(url)
        return auth

    def _session_auth_for(self, url: URL) -> BasicAuth | None:
        # The reference: with base_url set, the session's auth goes only to base_url's origin.
        auth = self._default_auth
        if auth is None:
            return None
        base = self._base_url
        return auth if base is None or same_origin(url, base) else None

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
                if not TCHAR.issuperset(name) or not name:
                    # A colon or space in a name would let the caller's data split the header
                    # line (RFC 9110 §5.1: field names are tokens).
                    raise ValueError(f"Header name {name!r} is not a valid HTTP token")
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

    def _make_traces(self, trace_request_ctx: Any) -> list[Trace]:
        from .tracing import Trace

        return [
            Trace(self, config, config.trace_config_ctx(trace_request_ctx=trace_request_ctx))
            for config in self._traced_configs
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
