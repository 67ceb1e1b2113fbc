"""The ``ssl=`` argument: cached SSL contexts, certificate pinning, TLS error mapping."""

from __future__ import annotations

import functools
import hashlib
import ssl
import warnings
from typing import Final, Union

from .exceptions import (
    ClientConnectorCertificateError,
    ClientConnectorError,
    ClientConnectorSSLError,
    ConnectionKey,
    ServerFingerprintMismatch,
)

__all__ = ("Fingerprint", "SSLArg", "resolve_ssl_arg", "ssl_context_for", "tls_error")


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


def tls_error(key: ConnectionKey, exc: BaseException) -> ClientConnectorError | None:
    """Map a TLS failure to its documented class, or None if *exc* is not a TLS error."""
    if isinstance(exc, ssl.CertificateError):
        return ClientConnectorCertificateError(key, exc)
    if isinstance(exc, ssl.SSLError):
        return ClientConnectorSSLError(key, exc)
    return None
