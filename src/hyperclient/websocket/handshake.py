"""The opening handshake's pure parts (RFC 6455 §4.1): the request headers and the checks a
client must make on the server's answer."""

from __future__ import annotations

import base64
import hashlib
import os
from collections.abc import Iterable, Mapping
from typing import Any, Final

from multidict import CIMultiDict

from .. import hdrs
from .deflate import DeflateParams, NegotiationError, negotiate, offer

__all__ = ("HandshakeFailure", "accept_value", "check_response", "new_key", "request_headers")

_GUID: Final = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"  # RFC 6455 §1.3


class HandshakeFailure(Exception):
    """The server's answer does not complete the handshake; the message says why."""


def new_key() -> str:
    """A Sec-WebSocket-Key: 16 random bytes, base64-encoded (RFC 6455 §4.1, item 7)."""
    return base64.b64encode(os.urandom(16)).decode("ascii")


def accept_value(key: str) -> str:
    """The Sec-WebSocket-Accept a server must answer *key* with (RFC 6455 §4.2.2)."""
    return base64.b64encode(hashlib.sha1(key.encode("ascii") + _GUID).digest()).decode("ascii")


def request_headers(
    headers: Any,
    key: str,
    protocols: Iterable[str],
    origin: str | None,
    compress: int,
) -> CIMultiDict[str]:
    """The caller's headers plus the handshake's own. Upgrade, Connection and the version are
    defaults the caller may override; the key, protocols and extension offer are ours."""
    merged: CIMultiDict[str] = CIMultiDict(headers) if headers else CIMultiDict()
    merged.setdefault(hdrs.UPGRADE, "websocket")
    merged.setdefault(hdrs.CONNECTION, "Upgrade")
    merged.setdefault(hdrs.SEC_WEBSOCKET_VERSION, "13")
    merged[hdrs.SEC_WEBSOCKET_KEY] = key
    protocols = tuple(protocols)
    if protocols:
        merged[hdrs.SEC_WEBSOCKET_PROTOCOL] = ",".join(protocols)
    if origin is not None:
        merged[hdrs.ORIGIN] = origin
    if compress:
        merged[hdrs.SEC_WEBSOCKET_EXTENSIONS] = offer(compress)
    return merged


def check_response(
    headers: Mapping[str, str],
    key: str,
    protocols: Iterable[str],
    compress: int,
) -> tuple[str | None, DeflateParams | None]:
    """Check a 101 answer (RFC 6455 §4.1, the client's items 2-6): returns the subprotocol
    and the permessage-deflate parameters the server chose, or raises HandshakeFailure."""
    if headers.get(hdrs.UPGRADE, "").strip().lower() != "websocket":
        raise HandshakeFailure("Invalid upgrade header")
    tokens = {token.strip().lower() for token in headers.get(hdrs.CONNECTION, "").split(",")}
    if "upgrade" not in tokens:
        raise HandshakeFailure("Invalid connection header")
    if headers.get(hdrs.SEC_WEBSOCKET_ACCEPT, "").strip() != accept_value(key):
        raise HandshakeFailure("Invalid challenge response")
    chosen = headers.get(hdrs.SEC_WEBSOCKET_PROTOCOL)
    protocol: str | None = None
    if chosen is not None:
        protocol = chosen.strip()
        if protocol not in tuple(protocols):
            raise HandshakeFailure(f"Server chose a subprotocol we did not offer: {protocol!r}")
    getall = getattr(headers, "getall", None)
    values = getall(hdrs.SEC_WEBSOCKET_EXTENSIONS, ()) if getall is not None else ()
    if not values:
        return protocol, None
    if not compress:
        raise HandshakeFailure("Server chose an extension we did not offer")
    try:
        return protocol, negotiate(values)
    except NegotiationError as exc:
        raise HandshakeFailure(str(exc)) from exc
