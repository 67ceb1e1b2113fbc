"""The documented client exception hierarchy.

Low-level errors (OSError, ssl errors, parser errors) are mapped to these classes once, at the
boundary where they happen (connector, protocol), and always chained with ``from``.
"""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, NamedTuple, Union

from yarl import URL

if TYPE_CHECKING:
    from multidict import CIMultiDictProxy, MultiDict

    from .request import RequestInfo
    from .response import ClientResponse

    _Headers = Union[CIMultiDictProxy[str], MultiDict[str], Sequence[tuple[str, str]]]

__all__ = (
    "ClientConnectionError",
    "ClientConnectionResetError",
    "ClientConnectorCertificateError",
    "ClientConnectorDNSError",
    "ClientConnectorError",
    "ClientConnectorSSLError",
    "ClientError",
    "ClientHttpProxyError",
    "ClientOSError",
    "ClientPayloadError",
    "ClientProxyConnectionError",
    "ClientResponseError",
    "ClientSSLError",
    "ConnectionKey",
    "ConnectionTimeoutError",
    "ContentTypeError",
    "InvalidURL",
    "InvalidUrlClientError",
    "InvalidUrlRedirectClientError",
    "NonHttpUrlClientError",
    "NonHttpUrlRedirectClientError",
    "RedirectClientError",
    "ServerConnectionError",
    "ServerDisconnectedError",
    "ServerFingerprintMismatch",
    "ServerTimeoutError",
    "SocketTimeoutError",
    "TooManyRedirects",
    "UnixClientConnectorError",
    "WSMessageTypeError",
    "WSServerHandshakeError",
)


class ConnectionKey(NamedTuple):
    """Identifies a pool of interchangeable connections.

    Two requests may share a connection only when every field is equal, so a tunnel through a
    proxy is never reused for another origin, and a connection verified with one SSL policy is
    never handed to a request that asked for another.
    """

    host: str
    port: int | None
    is_ssl: bool
    ssl: object
    proxy: URL | None
    proxy_auth: object
    proxy_headers_hash: int | None
    # The name the certificate was verified against: a connection checked for one name must
    # not serve a request that asked for another.
    server_hostname: str | None = None


class ClientError(Exception):
    """Base class for all client errors."""


# --- response errors -------------------------------------------------------------------------


class ClientResponseError(ClientError):
    """An error that happened after a response (or its head) arrived."""

    def __init__(
        self,
        request_info: RequestInfo,
        history: Sequence[ClientResponse] = (),
        *,
        code: int | None = None,
        status: int | None = None,
        message: str = "",
        headers: _Headers | None = None,
    ) -> None:
        self.request_info = request_info
        if status is None:
            status = code if code is not None else 0
        self.status = status
        self.message = message
        self.headers = headers
        self.history = tuple(history)
        super().__init__(request_info)
        self.args = (request_info, self.history)

    @property
    def code(self) -> int:
        """Deprecated alias of :attr:`status`."""
        return self.status

    def __str__(self) -> str:
        return f"{self.status}, message={self.message!r}, url={self.request_info.real_url!s}"

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.request_info!r}, status={self.status})"


class ContentTypeError(ClientResponseError):
    """The response's Content-Type is not what ``json()`` was asked to accept."""


class TooManyRedirects(ClientResponseError):
    """More redirects than ``max_redirects``."""


class ClientHttpProxyError(ClientResponseError):
    """The proxy answered a CONNECT (or a request) with an error status."""


class WSServerHandshakeError(ClientResponseError):
    """The server did not accept the WebSocket upgrade."""


class WSMessageTypeError(TypeError):
    """A WebSocket message of an unexpected type was received."""


class ClientPayloadError(ClientError):
    """The response body is truncated, wrongly framed or wrongly compressed."""


# --- URL errors ------------------------------------------------------------------------------


class InvalidURL(ClientError, ValueError):
    """A URL that cannot be requested, e.g. one without a host."""

    def __init__(self, url: Any, description: str | None = None) -> None:
        self._url = url
        self._description = description
        if description:
            super().__init__(url, description)
        else:
            super().__init__(url)

    @property
    def url(self) -> Any:
        return self._url

    @property
    def description(self) -> str | None:
        return self._description

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self}>"

    def __str__(self) -> str:
        if self._description:
            return f"{self._url} - {self._description}"
        return str(self._url)


class InvalidUrlClientError(InvalidURL):
    """A request URL that cannot be requested."""


class RedirectClientError(ClientError):
    """Base class for errors in following a redirect."""


class NonHttpUrlClientError(ClientError):
    """A URL whose scheme is not http or https (nor ws/wss where those apply)."""


class InvalidUrlRedirectClientError(InvalidUrlClientError, RedirectClientError):
    """A redirect Location that cannot be parsed or has no host."""


class NonHttpUrlRedirectClientError(NonHttpUrlClientError, RedirectClientError):
    """A redirect to a scheme other than http or https."""


# --- connection errors -----------------------------------------------------------------------


class ClientConnectionError(ClientError):
    """Base class for connection-level problems."""


class ClientConnectionResetError(ClientConnectionError, ConnectionResetError):
    """The connection was reset, e.g. while the request was being written."""


class ClientOSError(ClientConnectionError, OSError):
    """A connection error caused by an OSError."""


class ClientConnectorError(ClientOSError):
    """The connector could not establish a connection."""

    def __init__(self, connection_key: ConnectionKey, os_error: OSError) -> None:
        self._conn_key = connection_key
        self._os_error = os_error
        super().__init__(os_error.errno, os_error.strerror)
        self.args = (connection_key, os_error)

    @property
    def os_error(self) -> OSError:
        return self._os_error

    @property
    def host(self) -> str:
        return self._conn_key.host

    @property
    def port(self) -> int | None:
        return self._conn_key.port

    @property
    def ssl(self) -> object:
        return self._conn_key.ssl

    def __str__(self) -> str:
        ssl_text = self.ssl if self.ssl is not None else "default"
        reason = self._os_error.strerror or str(self._os_error) or type(self._os_error).__name__
        return f"Cannot connect to host {self.host}:{self.port} ssl:{ssl_text} [{reason}]"

    # OSError.__reduce__ would rebuild the exception from (errno, strerror).
    def __reduce__(self) -> tuple[Any, ...]:
        return type(self), self.args


class ClientConnectorDNSError(ClientConnectorError):
    """The host name could not be resolved."""


class ClientProxyConnectionError(ClientConnectorError):
    """The proxy could not be reached."""


class UnixClientConnectorError(ClientConnectorError):
    """The Unix socket could not be connected."""

    def __init__(self, path: str, connection_key: ConnectionKey, os_error: OSError) -> None:
        self._path = path
        super().__init__(connection_key, os_error)

    @property
    def path(self) -> str:
        return self._path

    def __str__(self) -> str:
        reason = self.os_error.strerror or str(self.os_error)
        return f"Cannot connect to unix socket {self.path} ssl:{self.ssl} [{reason}]"


class ClientSSLError(ClientConnectorError):
    """Base class for TLS failures while connecting."""


class ClientConnectorSSLError(ClientSSLError, ssl.SSLError):
    """A TLS failure that is not about the certificate."""


class ClientConnectorCertificateError(ClientSSLError, ssl.CertificateError):
    """The server's certificate did not verify."""

    def __init__(self, connection_key: ConnectionKey, certificate_error: Exception) -> None:
        self._conn_key = connection_key
        self._certificate_error = certificate_error
        self._os_error = certificate_error if isinstance(certificate_error, OSError) else OSError()
        Exception.__init__(self, connection_key, certificate_error)

    @property
    def certificate_error(self) -> Exception:
        return self._certificate_error

    def __str__(self) -> str:
        return (
            f"Cannot connect to host {self.host}:{self.port} ssl:{self.ssl} "
            f"[{type(self._certificate_error).__name__}: {self._certificate_error.args}]"
        )


class ServerConnectionError(ClientConnectionError):
    """Base class for errors on an established connection."""


class ServerDisconnectedError(ServerConnectionError):
    """The server closed the connection before the response was complete."""

    def __init__(self, message: object = None) -> None:
        if message is None:
            message = "Server disconnected"
        self.message = message
        super().__init__(message)


class ServerFingerprintMismatch(ServerConnectionError):
    """The server certificate's SHA-256 digest is not the pinned one."""

    def __init__(self, expected: bytes, got: bytes, host: str, port: int) -> None:
        self.expected = expected
        self.got = got
        self.host = host
        self.port = port
        super().__init__(expected, got, host, port)

    def __repr__(self) -> str:
        return (
            f"<{type(self).__name__} expected={self.expected!r} got={self.got!r} "
            f"host={self.host!r} port={self.port!r}>"
        )


class ServerTimeoutError(ServerConnectionError, asyncio.TimeoutError):
    """A read or connect timeout (``total`` raises plain asyncio.TimeoutError)."""


class ConnectionTimeoutError(ServerTimeoutError):
    """The ``connect`` or ``sock_connect`` timeout expired."""


class SocketTimeoutError(ServerTimeoutError):
    """The ``sock_read`` timeout expired."""
