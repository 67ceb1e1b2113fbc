"""One request's hops: build the ClientRequest for each hop, send it through the middleware
chain on a pooled or new connection, store cookies, and follow redirects (the rules themselves
are in redirects.py). ClientSession inherits this part; session.py keeps the options, the verbs
and the life cycle."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from http.cookies import BaseCookie
from typing import TYPE_CHECKING, Any, Final, cast

from multidict import CIMultiDict
from yarl import URL

from . import hdrs
from .abc import AbstractCookieJar
from .auth import BasicAuth, strip_auth_from_url
from .cookiejar import set_cookie_pairs
from .exceptions import (
    ClientConnectionResetError,
    ClientError,
    ClientOSError,
    InvalidUrlClientError,
    NonHttpUrlClientError,
    RedirectClientError,
    ServerDisconnectedError,
    TooManyRedirects,
)
from .middlewares import ClientHandlerType, ClientMiddlewareType, build_chain
from .netrc import netrc_auth_for
from .redirects import (
    BODY_HEADERS,
    CREDENTIAL_HEADERS,
    REDIRECT_STATUSES,
    drops_body,
    location_of,
    redirect_url,
    same_origin,
)
from .request import IDEMPOTENT_METHODS, ClientRequest
from .response import ClientResponse
from .timeouts import DEFAULT_TIMEOUT, ClientTimeout, Deadline

if TYPE_CHECKING:
    from .connector import BaseConnector
    from .http1 import HttpVersion
    from .pool import Connection
    from .session import ClientSession
    from .timeouts import _NoDeadline
    from .tracing import Trace

__all__ = ("_Hops", "_Plan")

_HTTP_SCHEMES: Final = frozenset(("http", "https"))
# Redirect bodies up to this size are read so their connection can be reused.
_REDIRECT_BODY_LIMIT: Final = 64 * 1024


class _Plan:
    """What one request call asked for, and how it changes from hop to hop."""

    __slots__ = (
        "allow_redirects",
        "auth",
        "chunked",
        "compress",
        "cookies",
        "data",
        "env_proxy",
        "expect100",
        "headers",
        "max_redirects",
        "method",
        "middlewares",
        "params",
        "proxy",
        "proxy_auth",
        "proxy_headers",
        "raise_for_status",
        "response_params",
        "server_hostname",
        "skip",
        "ssl",
        "timeout",
        "traces",
        "url",
    )

    def __init__(
        self,
        method: str,
        url: URL,
        params: Any,
        data: Any,
        cookies: Any,
        headers: CIMultiDict[str],
    ) -> None:
        self.method = method
        self.url = url
        self.params = params
        self.data = data
        self.cookies = cookies
        self.headers = headers
        self.auth: BasicAuth | None = None
        self.skip: frozenset[str] = frozenset()
        self.allow_redirects = True
        self.max_redirects = 10
        self.compress: Any = None
        self.chunked: bool | None = None
        self.expect100 = False
        self.env_proxy = False  # the proxy (or none) came from the environment: re-pick per hop
        self.ssl: Any = True
        self.server_hostname: str | None = None
        self.proxy_headers: Any = None
        self.proxy: URL | None = None
        self.proxy_auth: BasicAuth | None = None
        self.timeout = DEFAULT_TIMEOUT
        self.response_params: Any = None
        self.middlewares: tuple[ClientMiddlewareType, ...] = ()
        self.raise_for_status: Any = False
        self.traces: list[Trace] = []

    def copy(self) -> _Plan:
        new = object.__new__(_Plan)
        for name in _Plan.__slots__:
            setattr(new, name, getattr(self, name))
        return new


class _Hops:
    """The hop machinery of ClientSession (a mixin: it uses the session's attributes)."""

    # What this part uses of the session: set by ClientSession.__init__, or its methods.
    _connector: BaseConnector | None
    _cookie_jar: AbstractCookieJar
    _jar_is_empty: Callable[[], bool]
    _request_class: type[ClientRequest]
    _response_class: type[ClientResponse]
    _version: HttpVersion
    _loop: asyncio.AbstractEventLoop
    _trust_env: bool
    _plain_send: bool
    _requote_redirect_url: bool
    _base_url: URL | None
    _default_auth: BasicAuth | None
    _session_auth_for: Callable[[URL], BasicAuth | None]
    _env_proxy_to: Callable[[_Plan, URL, BasicAuth | None], None]

    async def _run_hops(
        self,
        plan: _Plan,
        timer: Deadline | _NoDeadline,
        prepared: ClientRequest | None,
        written: Connection | None = None,
    ) -> ClientResponse:
        """Send, and follow redirects: each hop runs the middleware chain once. *prepared*: a
        request for the first hop made earlier from this plan (a copy of it is sent), already
        written on the connection *written* if that is given (plans without middlewares)."""
        history: list[ClientResponse] = []
        req: ClientRequest | None = None
        try:
            while True:
                if prepared is not None:
                    req = prepared._copy_for(timer)
                    prepared = None
                else:
                    req = self._make_request(plan, timer, bool(history))
                if plan.middlewares:
                    handler = build_chain(self._send_once_factory(plan), plan.middlewares)
                    resp = await handler(req)
                else:
                    resp = await self._send_once(req, plan.timeout, plan.traces, written)
                    written = None
                if history:
                    resp._history = tuple(history)
                if not (plan.allow_redirects and resp.status in REDIRECT_STATUSES):
                    return resp
                if not history:
                    plan = plan.copy()  # the caller's plan (shared by plain calls) stays as it is
                if not await self._prepare_redirect(plan, req, resp, history):
                    return resp
        finally:
            # Files and iterators behind the body are released once no hop needs them.
            if req is not None and req._body is not None:
                await req.close_body()

    def _make_request(
        self, plan: _Plan, timer: Deadline | _NoDeadline, redirected: bool
    ) -> ClientRequest:
        url = plan.url
        if url.scheme not in _HTTP_SCHEMES:
            raise NonHttpUrlClientError(url)
        if not url.raw_host:
            raise InvalidUrlClientError(url)
        headers = plan.headers
        auth = plan.auth
        if url.raw_user is not None or url.raw_password is not None:
            url, url_auth = strip_auth_from_url(url)
            if url_auth is not None:
                auth = url_auth  # a redirect's Location may carry credentials of its own
        if auth is not None:
            if not redirected and hdrs.AUTHORIZATION in headers:
                raise ValueError(
                    "Cannot combine AUTHORIZATION header with AUTH argument or credentials "
                    "encoded in URL"
                )
        elif self._trust_env and hdrs.AUTHORIZATION not in headers:
            auth = self._netrc_auth(url)
        cookies = plan.cookies
        jar = self._cookie_jar
        if not self._jar_is_empty() or (cookies and not jar.quote_cookie):
            cookies = self._cookies_for(url, cookies)
        if redirected or cookies or plan.middlewares:
            # The request writes Cookie (and more) into the headers it is given, and a
            # middleware may add headers meant for this hop's origin only: the next hop must
            # start from the caller's headers, not from this hop's.
            headers = headers.copy()
        req = self._request_class(
            plan.method,
            url,
            params=plan.params,
            headers=headers,
            skip_auto_headers=plan.skip,
            data=plan.data,
            cookies=cookies,
            auth=auth,
            version=self._version,
            compress=plan.compress,
            chunked=plan.chunked,
            expect100=plan.expect100,
            loop=self._loop,
            response_class=self._response_class,
            proxy=plan.proxy,
            proxy_auth=plan.proxy_auth,
            timer=timer,
            session=cast("ClientSession", self),
            ssl=plan.ssl,
            server_hostname=plan.server_hostname,
            proxy_headers=plan.proxy_headers,
            traces=plan.traces,
            trust_env=self._trust_env,
        )
        req._response_params = plan.response_params
        return req

    async def _prepare_redirect(
        self,
        plan: _Plan,
        req: ClientRequest,
        resp: ClientResponse,
        history: list[ClientResponse],
    ) -> bool:
        """Update *plan* for the hop after *resp*; False if there is nowhere to go."""
        location = location_of(resp.status, resp.headers)
        if location is None:
            return False  # a 3xx without Location is the final answer
        if plan.traces:
            for trace in plan.traces:
                await trace.send_request_redirect(req.method, req.url, plan.headers, resp)
        history.append(resp)
        await self._finish_redirect_body(resp)
        # SUPPLEMENT.md: max_redirects=N fails when the N-th redirect arrives.
        if len(history) >= plan.max_redirects:
            raise TooManyRedirects(
                history[0].request_info,
                tuple(history),
                status=resp.status,
                message=resp.reason or "",
            )
        new_url = redirect_url(resp.url, location, requote=self._requote_redirect_url)
        headers = plan.headers = plan.headers.copy()
        headers.popall(hdrs.HOST, None)
        if drops_body(resp.status, plan.method):
            plan.method = hdrs.METH_GET
            plan.data = None
            plan.compress = plan.chunked = None
            plan.expect100 = False
            await req.close_body()
            for name in BODY_HEADERS:
                headers.popall(name, None)
        elif req._body is not None:
            plan.data = self._replayable_body(req, resp)
        self._carry_credentials(plan, new_url)
        if plan.env_proxy:
            # HTTP_PROXY / HTTPS_PROXY / NO_PROXY decide per target: a redirect to another
            # scheme or host may need another proxy, or none.
            self._env_proxy_to(plan, new_url, None)
        plan.url = new_url
        plan.params = None  # the reference: params apply to the first hop only
        return True

    async def _finish_redirect_body(self, resp: ClientResponse) -> None:
        """Read a small redirect body to its end so its connection goes back to the pool;
        close the connection instead when the body is large or of unknown length, since
        reading it only to save a connection costs more than a new one."""
        if not resp.content.is_eof():
            length = resp.content_length
            # Content-Length counts encoded bytes: a small compressed body may inflate to
            # anything, so only an unencoded one is read (and kept for history[i].read()).
            if (
                length is not None
                and length <= _REDIRECT_BODY_LIMIT
                and not resp._has_header(b"\r\ncontent-encoding:")
            ):
                try:
                    await resp.read()  # kept: history[i].read() still gives the body
                except ClientError:
                    return  # read() closed the connection; the redirect itself is intact
        resp.release()

    @staticmethod
    def _replayable_body(req: ClientRequest, resp: ClientResponse) -> Any:
        """The body for a 307/308 hop (RFC 9110 §15.4.8: same method, same content)."""
        body = req._body
        if body is not None and body.consumed:
            raise RedirectClientError(
                f"Cannot follow the {resp.status} redirect to {resp.headers.get(hdrs.LOCATION)}: "
                f"it needs the request body again, and the {type(body).__name__} was already "
                "sent; pass bytes or a seekable file to allow it"
            )
        return body

    def _carry_credentials(self, plan: _Plan, new_url: URL) -> None:
        """Keep the credentials for a hop to the same origin; drop them for another origin
        (RFC 9110 §15.4: a redirect must not leak them). The jar still adds the cookies it
        holds for the new origin, and base_url's origin gets the session's auth back."""
        old_url = plan.url
        if same_origin(old_url, new_url):
            if plan.auth is None and old_url.raw_user is not None:
                plan.auth = BasicAuth.from_url(old_url)
            return
        plan.cookies = None
        headers = plan.headers
        for name in CREDENTIAL_HEADERS:
            headers.popall(name, None)
        base = self._base_url
        plan.auth = self._default_auth if base is not None and same_origin(new_url, base) else None

    def _send_once_factory(self, plan: _Plan) -> ClientHandlerType:
        timeout, traces = plan.timeout, plan.traces

        async def handler(req: ClientRequest) -> ClientResponse:
            return await self._send_once(req, timeout, traces)

        return handler

    def _write_early(self, req: ClientRequest) -> Connection | None:
        """Take an idle pooled connection for *req*, a prepared request without a body, and
        write its head on it now; None if no idle connection is free. _send_once then makes
        the response on it without writing again (``written``)."""
        connector = self._connector
        conn = connector._acquire_idle(req) if connector is not None else None
        if conn is None:
            return None
        protocol, head = conn._protocol, req._encoded_head
        assert protocol is not None and head is not None
        try:
            protocol.write(head)
        except BaseException:
            conn.close()
            raise
        return conn

    async def _send_once(
        self,
        req: ClientRequest,
        timeout: ClientTimeout,
        traces: list[Trace],
        written: Connection | None = None,
    ) -> ClientResponse:
        """Send on a pooled or new connection and wait for the head; retry once on a new
        connection if a reused one turns out to be dead before any byte of the response (the
        server closed it while it sat in the pool: RFC 9112 §9.3.1 allows retrying idempotent
        requests then). *written*: the connection _write_early already wrote *req* on."""
        connector = self._connector
        if connector is None:
            raise RuntimeError("Session is closed")
        conn = written
        if conn is None:
            conn = None if traces else connector._acquire_idle(req)
            if conn is None:
                conn = await connector.connect(req, traces, timeout)
        # Only the plain-call lane writes early, and it is closed to request classes of their
        # own and to traced sessions: a written request is always a plain one.
        plain = self._plain_send and not req._traces
        for attempt in (0, 1):
            protocol = conn.protocol
            reused = protocol is not None and protocol.uses > 0
            try:
                try:
                    # A request class that overrides send() gets it called; ours needs no await.
                    resp = (
                        req._send_now(conn, written is not None) if plain else await req.send(conn)
                    )
                except BaseException:
                    conn.close()
                    raise
                await resp.start(conn)
            except (ServerDisconnectedError, ClientConnectionResetError, ClientOSError):
                if attempt or not (
                    reused
                    and req.method in IDEMPOTENT_METHODS
                    and protocol is not None
                    and not protocol.got_bytes
                    and req._body_bytes is not None
                ):
                    raise
                conn = await connector.connect(req, traces, timeout, fresh=True)
                written = None
                continue
            if resp._has_header(b"\r\nset-cookie:"):
                self._store_cookies(resp)
            return resp
        raise AssertionError("unreachable")  # pragma: no cover

    def _store_cookies(self, resp: ClientResponse) -> None:
        # Line by line, not resp.cookies: that keeps one cookie per name (the reference's note).
        pairs = set_cookie_pairs(resp.headers.getall(hdrs.SET_COOKIE, ()))
        if pairs:
            self._cookie_jar.update_cookies(pairs, resp.url)

    async def _check_status(self, resp: ClientResponse, check: Any) -> None:
        if check is True:
            resp.raise_for_status()
        else:
            await check(resp)

    def _cookies_for(self, url: URL, request_cookies: Any) -> Any:
        """The jar's cookies for *url* with the call's own on top (they win on a name clash and
        are never stored). The jar's filter_cookies result follows its quote_cookie setting, so
        a plain value assigned into it is quoted, or not, the same way as the jar's own."""
        filtered = self._cookie_jar.filter_cookies(url)
        if request_cookies:
            pairs = (
                request_cookies.items() if hasattr(request_cookies, "items") else request_cookies
            )
            for name, value in pairs:
                if isinstance(value, BaseCookie):
                    for morsel in value.values():
                        filtered[morsel.key] = morsel
                else:
                    filtered[name] = value
        return filtered if len(filtered) else None

    def _netrc_auth(self, url: URL) -> BasicAuth | None:
        """trust_env: the .netrc entry for the host (netrc.py keeps the parsed file until it
        changes, so this is a stat, not a read, per request)."""
        host = url.host
        return netrc_auth_for(host) if host else None
