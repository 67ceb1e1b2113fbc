"""HTTP Basic credentials (RFC 7617): BasicAuth and taking them out of a URL."""

from __future__ import annotations

import base64
import binascii
from typing import NamedTuple

from yarl import URL

__all__ = ("BasicAuth", "strip_auth_from_url")


class _BasicAuthFields(NamedTuple):
    login: str
    password: str
    encoding: str


class BasicAuth(_BasicAuthFields):
    """Login, password and the charset used to turn them into bytes.

    A tuple ``(login, password, encoding)``, so it compares, hashes and unpacks as one.
    """

    __slots__ = ()

    def __new__(cls, login: str, password: str = "", encoding: str = "latin1") -> BasicAuth:
        if login is None:
            raise ValueError("None is not allowed as login value")
        if password is None:
            raise ValueError("None is not allowed as password value")
        # RFC 7617 §2: the user-id ends at the first colon, so a colon in it cannot round-trip.
        if ":" in login:
            raise ValueError('A ":" is not allowed in login (RFC 7617 section 2)')
        return super().__new__(cls, login, password, encoding)

    def __repr__(self) -> str:
        # Keeps the password out of logs and tracebacks that print the object.
        return f"BasicAuth(login={self.login!r}, password='***', encoding={self.encoding!r})"

    @classmethod
    def decode(cls, auth_header: str, encoding: str = "latin1") -> BasicAuth:
        """Parse an ``Authorization: Basic <token68>`` value; ValueError when malformed."""
        scheme, _, token = auth_header.strip(" \t").partition(" ")
        if scheme.lower() != "basic":
            raise ValueError(f"Unknown authorization method {scheme!r}")
        token = token.strip(" ")
        if not token:
            raise ValueError("Missing Basic credentials")
        try:
            raw = base64.b64decode(token.encode("ascii"), validate=True)
        except (binascii.Error, UnicodeEncodeError) as exc:
            raise ValueError("Invalid base64 encoding in Basic credentials") from exc
        try:
            decoded = raw.decode(encoding)
        except UnicodeDecodeError as exc:
            raise ValueError(f"Basic credentials are not valid {encoding}") from exc
        login, colon, password = decoded.partition(":")
        if not colon:
            raise ValueError("Basic credentials lack the ':' separator")
        return cls(login, password, encoding)

    @classmethod
    def from_url(cls, url: URL, *, encoding: str = "latin1") -> BasicAuth | None:
        """Credentials from the URL's user-info (percent-decoded), or None if it has none."""
        if not isinstance(url, URL):
            raise TypeError(f"url should be yarl.URL, got {type(url).__name__}")
        if url.user is None and url.password is None:
            return None
        return cls(url.user or "", url.password or "", encoding)

    def encode(self) -> str:
        """The ``Authorization`` header value: ``Basic`` and base64 of ``login:password``."""
        creds = f"{self.login}:{self.password}".encode(self.encoding)
        return "Basic " + base64.b64encode(creds).decode("ascii")


def strip_auth_from_url(url: URL) -> tuple[URL, BasicAuth | None]:
    """Split user-info off a URL so credentials go in a header, never on the request line."""
    auth = BasicAuth.from_url(url)
    if auth is None:
        return url, None
    return url.with_user(None), auth
