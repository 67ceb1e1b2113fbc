"""The ``ssl=`` argument: cached SSL contexts, certificate pinning, TLS error mapping."""

from __future__ import annotations

import asyncio
import functools
import hashlib
import ssl
import sys
import warnings
from typing import Final, Protocol, Union

from .exceptions import (
    ClientConnectorCertificateError,
    ClientConnectorError,
    ClientConnectorSSLError,
    ConnectionKey,
    ServerFingerprintMismatch,
)
from .helpers import sentinel

__all__ = (
    "CLEANUP_CLOSED_NEEDED",
    "ClosingTLSReaper",
    "Fingerprint",
    "SSLArg",
    "connect_error",
    "resolve_ssl_arg",
    "shutdown_timeout_arg",
    "ssl_context_for",
    "tls_error",
)


class Fingerprint:
    """Pins the server certificate by the SHA-256 digest of its DER form."""

    __slots__ = ("_fingerprint",)

    def __init__(self, fingerprint: bytes) -> None:
        if len(fingerprint) != 32:
            if len(fingerprint) in (16, 20):
                raise ValueError("md5 and sha1 are insecure and not supported; use sha256")
            raise ValueError("fingerprint has invalid length (a SHA-256 digest is 32 bytes)")
        self._fingerprint = bytes(fingerprint)

    @property
    def fingerprint(self) -> bytes:
        return self._fingerprint

    def check(self, der_cert: bytes | None, host: str, port: int) -> None:
        got = hashlib.sha256(der_cert or b"").digest()
        if got != self._fingerprint:
            raise ServerFingerprintMismatch(self._fingerprint, got, host, port)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Fingerprint) and other._fingerprint == self._fingerprint

    def __hash__(self) -> int:
        return hash(self._fingerprint)

    def __repr__(self) -> str:
        return f"<Fingerprint {self._fingerprint.hex()}>"


SSLArg = Union[bool, ssl.SSLContext, Fingerprint]


@functools.cache
def _verified_context() -> ssl.SSLContext:
    return ssl.create_default_context()


@functools.cache
def _unverified_context() -> ssl.SSLContext:
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    return ctx


def ssl_context_for(arg: SSLArg) -> ssl.SSLContext:
    """The SSLContext for an ``ssl=`` value; the default ones are built once per process,
    because building one loads the whole CA store (milliseconds)."""
    if isinstance(arg, ssl.SSLContext):
        return arg
    if arg is False or isinstance(arg, Fingerprint):
        # A pinned certificate is checked by digest, not by the CA chain.
        return _unverified_context()
    return _verified_context()


_DEPRECATED: Final = "{} is deprecated, use ssl={}"


def resolve_ssl_arg(
    ssl_arg: SSLArg | None,
    verify_ssl: bool | None = None,
    ssl_context: ssl.SSLContext | None = None,
    fingerprint: bytes | None = None,
) -> SSLArg:
    """Fold the deprecated verify_ssl / ssl_context / fingerprint forms into ``ssl=``."""
    if ssl_arg is None:
        ssl_arg = True
    if verify_ssl is not None:
        warnings.warn(_DEPRECATED.format("verify_ssl", "False"), DeprecationWarning, stacklevel=3)
        if not verify_ssl:
            if ssl_arg is not True:
                raise ValueError("verify_ssl, ssl_context, fingerprint and ssl are exclusive")
            ssl_arg = False
    if ssl_context is not None:
        warnings.warn(_DEPRECATED.format("ssl_context", "ctx"), DeprecationWarning, stacklevel=3)
        if ssl_arg is not True:
            raise ValueError("verify_ssl, ssl_context, fingerprint and ssl are exclusive")
        ssl_arg = ssl_context
    if fingerprint is not None:
        warnings.warn(
            _DEPRECATED.format("fingerprint", "Fingerprint(digest)"),
            DeprecationWarning,
            stacklevel=3,
        )
        if ssl_arg is not True:
            raise ValueError("verify_ssl, ssl_context, fingerprint and ssl are exclusive")
        ssl_arg = Fingerprint(fingerprint)
    if not isinstance(ssl_arg, (bool, ssl.SSLContext, Fingerprint)):
        raise TypeError(f"ssl should be SSLContext, Fingerprint or bool, got {ssl_arg!r}")
    return ssl_arg


def connect_error(
    key: ConnectionKey, exc: BaseException, error: type[ClientConnectorError]
) -> BaseException:
    """The documented error for a failed connect or TLS handshake (or *exc* itself)."""
    mapped = tls_error(key, exc)
    if mapped is not None:
        return mapped
    if isinstance(exc, OSError) and not isinstance(exc, asyncio.TimeoutError):
        return error(key, exc)
    return exc


def shutdown_timeout_arg(value: object) -> float:
    if value is sentinel:
        return 0.0
    warnings.warn(
        "ssl_shutdown_timeout is deprecated and will be removed", DeprecationWarning, stacklevel=3
    )
    timeout = float(value)  # type: ignore[arg-type]
    if timeout and sys.version_info < (3, 11):
        warnings.warn(
            "ssl_shutdown_timeout > 0 needs Python 3.11+; TLS connections are aborted on close",
            RuntimeWarning,
            stacklevel=3,
        )
        return 0.0
    return timeout


def tls_error(key: ConnectionKey, exc: BaseException) -> ClientConnectorError | None:
    """Map a TLS failure to its documented class, or None if *exc* is not a TLS error."""
    if isinstance(exc, ssl.CertificateError):
        return ClientConnectorCertificateError(key, exc)
    if isinstance(exc, ssl.SSLError):
        return ClientConnectorSSLError(key, exc)
    return None


# CPython 3.12.7 and 3.13.1 stopped leaking SSL transports whose peer never completes the
# close_notify exchange; before them, enable_cleanup_closed=True has the connector end them.
_PYTHON: Final = sys.version_info[:3]
CLEANUP_CLOSED_NEEDED: Final = _PYTHON < (3, 12, 7) or (3, 13, 0) <= _PYTHON < (3, 13, 1)


class _TLSConnection(Protocol):
    @property
    def transport(self) -> asyncio.Transport | None: ...
    @property
    def closed(self) -> asyncio.Future[None]: ...


class ClosingTLSReaper:
    """Aborts TLS transports that were asked to close but are still open a period later.

    Some servers never answer our close_notify; the transport then waits on them. Every
    ``period`` seconds (while any TLS connection is open) a transport seen closing at the
    previous tick is aborted: the socket goes between one and two periods after close().
    """

    period: float = 2.0

    __slots__ = ("_handle", "_loop", "_open", "_suspects")

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop
        self._open: set[_TLSConnection] = set()
        self._suspects: set[_TLSConnection] = set()
        self._handle: asyncio.TimerHandle | None = None

    def track(self, connection: _TLSConnection) -> None:
        self._open.add(connection)
        connection.closed.add_done_callback(lambda _: self._forget(connection))
        if self._handle is None:
            self._handle = self._loop.call_later(self.period, self._tick)

    def _forget(self, connection: _TLSConnection) -> None:
        self._open.discard(connection)
        self._suspects.discard(connection)

    def _tick(self) -> None:
        self._handle = None
        suspects: set[_TLSConnection] = set()
        for connection in list(self._open):
            transport = connection.transport
            if transport is None or not transport.is_closing():
                continue
            if connection in self._suspects:
                transport.abort()
            else:
                suspects.add(connection)
        self._suspects = suspects
        if self._open:
            self._handle = self._loop.call_later(self.period, self._tick)

    def close(self) -> None:
        if self._handle is not None:
            self._handle.cancel()
            self._handle = None
        self._open.clear()
        self._suspects.clear()
