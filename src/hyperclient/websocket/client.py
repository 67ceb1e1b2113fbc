"""ClientSession.ws_connect: the opening handshake and the ClientWebSocketResponse it yields."""

from __future__ import annotations

import dataclasses
import warnings
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any, Final

from yarl import URL

from .._protocol import ConnState
from ..exceptions import ServerDisconnectedError, WSServerHandshakeError
from ..helpers import sentinel
from ..timeouts import ClientWSTimeout
from .handshake import HandshakeFailure, check_response, new_key, request_headers
from .response import ClientWebSocketResponse

if TYPE_CHECKING:
    from ..response import ClientResponse
    from ..session import ClientSession

__all__ = ("DEFAULT_WS_TIMEOUT", "ws_connect")

DEFAULT_WS_TIMEOUT: Final = ClientWSTimeout(ws_receive=None, ws_close=10.0)
_HTTP_FOR_WS: Final = {"ws": "http", "wss": "https"}


async def ws_connect(
    session: ClientSession,
    url: str | URL,
    *,
    method: str = "GET",
    protocols: Iterable[str] = (),
    timeout: Any = sentinel,
    receive_timeout: float | None = None,
    autoclose: bool = True,
    autoping: bool = True,
    heartbeat: float | None = None,
    auth: Any = None,
    origin: str | None = None,
    params: Any = None,
    headers: Any = None,
    proxy: str | URL | None = None,
    proxy_auth: Any = None,
    ssl: Any = True,
    verify_ssl: bool | None = None,
    fingerprint: bytes | None = None,
    ssl_context: Any = None,
    server_hostname: str | None = None,
    proxy_headers: Any = None,
    compress: int = 0,
    max_msg_size: int = 4 * 1024 * 1024,
) -> ClientWebSocketResponse:
    ws_timeout = _ws_timeout(timeout, receive_timeout)
    compress = _window_bits(compress)
    protocols = tuple(protocols)
    key = new_key()
    if proxy is None and session.trust_env:
        # WS_PROXY / WSS_PROXY are chosen by the ws:// URL, before it becomes http:// below.
        found = session._env_proxy_for(URL(url) if isinstance(url, str) else url)
        if found is not None:
            proxy, proxy_auth = found[0], proxy_auth if proxy_auth is not None else found[1]
    resp = await session._request(
        method,
        _http_url(session, url),
        params=params,
        headers=request_headers(headers, key, protocols, origin, compress),
        auth=auth,
        proxy=proxy,
        proxy_auth=proxy_auth,
        ssl=ssl,
        verify_ssl=verify_ssl,
        fingerprint=fingerprint,
        ssl_context=ssl_context,
        server_hostname=server_hostname,
        proxy_headers=proxy_headers,
    )
    try:
        if resp.status != 101:
            raise _handshake_error(resp, "Invalid response status")
        try:
            subprotocol, deflate = check_response(resp.headers, key, protocols, compress)
        except HandshakeFailure as exc:
            raise _handshake_error(resp, str(exc)) from exc
    except BaseException:
        resp.close()
        raise
    cls = session._ws_response_class or ClientWebSocketResponse
    return _take_over(
        resp,
        cls,
        subprotocol=subprotocol,
        timeout=ws_timeout,
        autoclose=autoclose,
        autoping=autoping,
        heartbeat=heartbeat,
        max_msg_size=max_msg_size,
        deflate=deflate,
        compress=compress,
        loop=session._loop,
    )


def _take_over(
    resp: ClientResponse, cls: type[ClientWebSocketResponse], **options: Any
) -> ClientWebSocketResponse:
    """Move the connection out of the pool and into a WebSocket."""
    connection = resp.connection
    protocol = connection.protocol if connection is not None else None
    if connection is None or protocol is None or protocol.state is not ConnState.UPGRADED:
        resp.close()
        raise ServerDisconnectedError("Connection closed right after the WebSocket handshake")
    # Detach first: the response's release() must neither pool nor close this connection.
    connection.detach()
    protocol.on_done = None
    resp.release()
    try:
        ws = cls(response=resp, protocol=protocol, **options)
    except BaseException:
        protocol.close()
        raise
    received = protocol.take_over(ws._on_data, ws._on_lost)
    ws._start(received)
    return ws


def _ws_timeout(timeout: Any, receive_timeout: float | None) -> ClientWSTimeout:
    if timeout is sentinel:
        result = DEFAULT_WS_TIMEOUT
    elif timeout is None:
        result = ClientWSTimeout()
    elif isinstance(timeout, ClientWSTimeout):
        result = timeout
    else:
        # The pre-ClientWSTimeout meaning of a number here: the close timeout.
        warnings.warn(
            "a float timeout for ws_connect is deprecated, "
            "use timeout=ClientWSTimeout(ws_close=...)",
            DeprecationWarning,
            stacklevel=3,
        )
        result = ClientWSTimeout(ws_close=float(timeout))
    if receive_timeout is not None:
        warnings.warn(
            "receive_timeout is deprecated, use timeout=ClientWSTimeout(ws_receive=...)",
            DeprecationWarning,
            stacklevel=3,
        )
        result = dataclasses.replace(result, ws_receive=receive_timeout)
    return result


def _window_bits(compress: int | bool) -> int:
    if compress is True:
        return 15
    if not compress:
        return 0
    if not 9 <= compress <= 15:
        # zlib cannot compress raw deflate with an 8-bit window; RFC 7692 allows 8..15.
        raise ValueError("compress must be 0 (off) or window bits between 9 and 15")
    return int(compress)


def _http_url(session: ClientSession, url: str | URL) -> URL:
    """The handshake is an HTTP request: ws:// is requested as http://, wss:// as https://
    (RFC 6455 §3)."""
    built = session._build_url(url)
    scheme = _HTTP_FOR_WS.get(built.scheme)
    return built.with_scheme(scheme) if scheme is not None else built


def _handshake_error(resp: ClientResponse, message: str) -> WSServerHandshakeError:
    return WSServerHandshakeError(
        resp.request_info,
        resp.history,
        message=message,
        status=resp.status,
        headers=resp.headers,
    )
