"""Proxies: which one a request goes through, and the CONNECT tunnel through it.

- ``prepare_proxy``: checks an explicit ``proxy=`` URL and moves its credentials to
  ``proxy_auth``, so they travel in ``Proxy-Authorization`` and the pool key holds no password.
- ``EnvProxies``: the ``trust_env=True`` view of HTTP(S)_PROXY, WS(S)_PROXY and NO_PROXY (and
  .netrc for proxy credentials), read once and asked per request URL.
- ``open_tunnel``: the CONNECT exchange (RFC 9110 §9.3.6) on a connection to the proxy; the
  connector then starts TLS to the origin over it.
"""

from __future__ import annotations

import asyncio
import functools
import ipaddress
import os
from collections.abc import Callable, Mapping
from typing import Final, Union

from multidict import CIMultiDict, CIMultiDictProxy
from yarl import URL

from . import hdrs
from .auth import BasicAuth
from .exceptions import (
    ClientHttpProxyError,
    ClientProxyConnectionError,
    ConnectionKey,
)
from .helpers import is_ip_address
from .http1 import HttpVersion11
from .http1.parser import ResponseHead, ResponseParser
from .http1.writer import serialize_head
from .netrc import netrc_auth_for
from .request import RequestInfo

__all__ = ("EnvProxies", "ProxyInfo", "TunnelProtocol", "open_tunnel", "prepare_proxy")

ProxyInfo = tuple[URL, Union[BasicAuth, None]]

_SUPPORTED_SCHEMES: Final = frozenset(("http", "https"))
_ENV_SCHEMES: Final = ("http", "https", "ws", "wss")
_DEFAULT_PORTS: Final = {"http": 80, "https": 443}


# --- explicit proxies -------------------------------------------------------------------------


def prepare_proxy(proxy: str | URL, proxy_auth: BasicAuth | None) -> ProxyInfo:
    """The proxy's origin and the credentials to send it.

    ValueError for a scheme we cannot speak (socks4/socks5 need a SOCKS handshake, not HTTP),
    a URL without a host, or a ``proxy_auth`` that is not a BasicAuth. Credentials in the URL
    are used when ``proxy_auth`` is not given.
    """
    url = proxy if isinstance(proxy, URL) else URL(proxy)
    return _prepare(url, proxy_auth)


@functools.lru_cache(maxsize=64)
def _prepare(url: URL, proxy_auth: BasicAuth | None) -> ProxyInfo:
    # Cached: a session-wide proxy is prepared for every request with the same arguments.
    scheme = url.scheme
    if scheme not in _SUPPORTED_SCHEMES:
        if scheme.startswith("socks"):
            raise ValueError(
                f"{scheme}:// proxies are not supported (SOCKS is not HTTP); "
                "only http:// and https:// proxies are"
            )
        raise ValueError(
            f"Unsupported proxy scheme {scheme!r} in {url.with_user(None)}: "
            "only http:// and https:// proxies are supported"
        )
    if not url.raw_host:
        raise ValueError(f"Proxy URL {url.with_user(None)} has no host")
    if proxy_auth is not None and not isinstance(proxy_auth, BasicAuth):
        raise ValueError("proxy_auth must be None or a BasicAuth instance")
    if proxy_auth is None:
        proxy_auth = BasicAuth.from_url(url)
    # The origin alone: "http://p:3128" and "http://user:pw@p:3128/" are one pool key, and no
    # password sits in the key, in reprs or in error messages.
    return url.origin(), proxy_auth


# --- proxies from the environment ---------------------------------------------------------------


class _NoProxy:
    """NO_PROXY: host names (each also covering its subdomains), IP addresses, CIDR ranges,
    optional ``:port`` restrictions, and ``*`` for everything (the curl and requests syntax)."""

    __slots__ = ("_all", "_domains", "_networks")

    def __init__(self, value: str) -> None:
        self._all = False
        self._domains: list[tuple[str, int | None]] = []
        self._networks: list[tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, int | None]] = []
        for entry in value.replace(",", " ").split():
            self._add(entry.strip().lower())

    def _add(self, entry: str) -> None:
        if entry == "*":
            self._all = True
            return
        host, port = _split_host_port(entry)
        try:
            network = ipaddress.ip_network(host, strict=False)
        except ValueError:
            domain = host.lstrip("*").lstrip(".").rstrip(".")
            if domain:
                self._domains.append((domain, port))
            return
        self._networks.append((network, port))

    def matches(self, host: str, port: int | None) -> bool:
        if self._all:
            return True
        host = host.lower().rstrip(".")
        if is_ip_address(host):
            address = ipaddress.ip_address(host.strip("[]"))
            return any(
                address in net and (want is None or want == port) for net, want in self._networks
            )
        return any(
            (host == domain or host.endswith("." + domain)) and (want is None or want == port)
            for domain, want in self._domains
        )


def _split_host_port(entry: str) -> tuple[str, int | None]:
    if entry.startswith("["):
        host, _, rest = entry[1:].partition("]")
        port_text = rest[1:] if rest.startswith(":") else ""
    elif entry.count(":") == 1:
        host, _, port_text = entry.partition(":")
    else:
        return entry, None  # a name, an IPv4 address or CIDR, or a bare IPv6 address
    return host, int(port_text) if port_text.isdigit() else None


class EnvProxies:
    """The proxies the environment names, for sessions created with ``trust_env=True``.

    Built once per session (reading the environment and .netrc is not free, and a session's
    proxy must not change under it between requests). Variable names match in any case, and
    the lower-case spelling wins, as in curl and urllib. Under CGI (``REQUEST_METHOD`` set)
    the upper-case ``HTTP_PROXY`` is ignored: a client's ``Proxy:`` request header reaches a
    CGI program as that very variable (the "httpoxy" vulnerability, CVE-2016-5385).
    """

    __slots__ = ("_errors", "_no_proxy", "_proxies")

    def __init__(
        self,
        environ: Mapping[str, str],
        netrc_lookup: Callable[[str], BasicAuth | None] = netrc_auth_for,
    ) -> None:
        self._proxies: dict[str, ProxyInfo] = {}
        self._errors: dict[str, ValueError] = {}
        found = _proxy_variables(environ)
        for scheme in _ENV_SCHEMES:
            value = found.get(scheme)
            if value:
                self._add(scheme, value, netrc_lookup)
        self._no_proxy = _NoProxy(found.get("no", ""))

    @classmethod
    def from_environment(cls) -> EnvProxies:
        return cls(os.environ)

    def _add(
        self, scheme: str, value: str, netrc_lookup: Callable[[str], BasicAuth | None]
    ) -> None:
        if "://" not in value:
            value = "http://" + value  # "proxy.example:3128" means an HTTP proxy (as curl)
        try:
            url, auth = prepare_proxy(URL(value), None)
        except ValueError as exc:
            # Kept, not dropped: ignoring a configured proxy would send the traffic direct.
            self._errors[scheme] = ValueError(f"{scheme}_proxy from the environment: {exc}")
            return
        if auth is None and url.raw_host:
            auth = netrc_lookup(url.raw_host)
        self._proxies[scheme] = (url, auth)

    def for_url(self, url: URL) -> ProxyInfo | None:
        """The proxy (and its credentials) for a request to *url*, or None to go direct."""
        scheme = url.scheme
        info = self._proxies.get(scheme)
        if info is None:
            error = self._errors.get(scheme)
            if error is not None and not self._bypassed(url):
                raise error
            return None
        if self._bypassed(url):
            return None
        return info

    def _bypassed(self, url: URL) -> bool:
        return self._no_proxy.matches(url.raw_host or "", url.port)


def _proxy_variables(environ: Mapping[str, str]) -> dict[str, str]:
    """{"http": ..., "no": ...} from *_proxy variables in any case, lower case first."""
    found: dict[str, str] = {}
    exact: dict[str, str] = {}
    cgi = "REQUEST_METHOD" in environ
    for name, value in environ.items():
        lowered = name.lower()
        if not lowered.endswith("_proxy"):
            continue
        key = lowered[: -len("_proxy")]
        if cgi and name == "HTTP_PROXY":
            continue
        if name == lowered:
            exact[key] = value
        else:
            found.setdefault(key, value)
    found.update(exact)
    return found


# --- the CONNECT tunnel -----------------------------------------------------------------------


class TunnelProtocol(asyncio.Protocol):
    """Reads the proxy's answer to CONNECT; the connection then carries TLS to the origin.

    The answer is parsed as a response to a HEAD request: a 2xx answer to CONNECT has no body
    and any Content-Length in it must be ignored (RFC 9110 §9.3.6); the body of a refusal is
    not read (the connection is closed).
    """

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.transport: asyncio.Transport | None = None
        self.answer: asyncio.Future[ResponseHead] = loop.create_future()
        self.extra = False  # bytes after the answer's head (the origin cannot speak first)
        self._parser = ResponseParser(self)
        self._parser.expect_response(is_head_request=True)

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def connection_lost(self, exc: BaseException | None) -> None:
        if not self.answer.done():
            self.answer.set_exception(
                ConnectionResetError("The proxy closed the connection before answering CONNECT")
            )
        self.transport = None

    def data_received(self, data: bytes) -> None:
        if self.answer.done():
            self.extra = True
            return
        try:
            self._parser.feed_data(data)
        except Exception as exc:
            self.answer.set_exception(exc)
            return
        if self._parser.leftover_after_head:
            self.extra = True

    def eof_received(self) -> bool:
        return False

    # ParserSink: only the head matters.
    def on_head(self, head: ResponseHead, has_body: bool) -> None:
        if not self.answer.done():
            self.answer.set_result(head)

    def on_interim(self, head: ResponseHead) -> None:
        pass

    def on_body(self, data: bytes) -> None:
        pass

    def on_chunk_header(self) -> None:
        pass

    def on_chunk_complete(self) -> None:
        pass

    def on_message_complete(self) -> None:
        pass

    def on_unexpected_message(self) -> None:
        pass  # a CONNECT answer ends the proxy's part; what follows belongs to the tunnel


def connect_headers(
    url: URL, proxy_auth: BasicAuth | None, proxy_headers: Mapping[str, str] | None
) -> CIMultiDict[str]:
    """The CONNECT request's headers: the caller's proxy_headers, Host, Proxy-Authorization."""
    headers: CIMultiDict[str] = CIMultiDict(proxy_headers) if proxy_headers else CIMultiDict()
    headers[hdrs.HOST] = authority(url)
    if proxy_auth is not None:
        headers[hdrs.PROXY_AUTHORIZATION] = proxy_auth.encode()
    return headers


def authority(url: URL) -> str:
    """host:port with the port always present and IPv6 in brackets (RFC 9112 §3.2.3)."""
    host = url.raw_host or ""
    if ":" in host:
        host = f"[{host}]"
    return f"{host}:{url.port or _DEFAULT_PORTS.get(url.scheme, 443)}"


async def open_tunnel(
    protocol: TunnelProtocol,
    key: ConnectionKey,
    url: URL,
    proxy: URL,
    proxy_auth: BasicAuth | None,
    proxy_headers: Mapping[str, str] | None,
) -> None:
    """Ask the proxy on *protocol*'s connection for a tunnel to *url*'s host and port.

    ClientHttpProxyError when the proxy refuses (any non-2xx, e.g. 407), and
    ClientProxyConnectionError when it hangs up first; the connection is closed then.
    """
    transport = protocol.transport
    if transport is None:
        raise ClientProxyConnectionError(key, ConnectionResetError("Proxy connection lost"))
    headers = connect_headers(url, proxy_auth, proxy_headers)
    transport.write(serialize_head("CONNECT", authority(url), HttpVersion11, headers.items()))
    try:
        head = await protocol.answer
    except OSError as exc:
        transport.abort()
        raise ClientProxyConnectionError(key, exc) from exc
    except BaseException:
        transport.abort()
        raise
    if not 200 <= head.status < 300:
        transport.abort()
        # The credentials stay out of the error: it is often logged whole.
        headers.popall(hdrs.PROXY_AUTHORIZATION, None)
        info = RequestInfo(proxy, "CONNECT", CIMultiDictProxy(headers), proxy)
        raise ClientHttpProxyError(
            info, (), status=head.status, message=head.reason, headers=head.headers
        )
    if protocol.extra:
        # The origin speaks only after our ClientHello: earlier bytes are the proxy's mistake,
        # and TLS would read them as a corrupt handshake.
        transport.abort()
        raise ClientProxyConnectionError(
            key, ConnectionError("The proxy sent data after its CONNECT answer")
        )
