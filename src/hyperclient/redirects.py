"""Redirect rules (RFC 9110 §15.4): whether a response is followed, where the next hop goes,
with which method, and which of the request's headers may go along.

Plain synchronous code: URLs, status codes and strings in, values out. The session's hop loop
applies the answers; the rules are tested here without a server.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final

from yarl import URL

from . import hdrs
from .exceptions import InvalidUrlRedirectClientError, NonHttpUrlRedirectClientError

__all__ = (
    "BODY_HEADERS",
    "CREDENTIAL_HEADERS",
    "REDIRECT_STATUSES",
    "drops_body",
    "location_of",
    "redirect_url",
    "same_origin",
)

REDIRECT_STATUSES: Final = frozenset((301, 302, 303, 307, 308))

_HTTP_SCHEMES: Final = frozenset(("http", "https"))

# RFC 9110 §15.4: when a redirect turns the request into a GET, the header fields that
# described the old content no longer describe anything. Expect goes too: it announces a body.
BODY_HEADERS: Final = (
    hdrs.CONTENT_LENGTH,
    hdrs.CONTENT_TYPE,
    hdrs.CONTENT_ENCODING,
    hdrs.CONTENT_LANGUAGE,
    hdrs.CONTENT_LOCATION,
    hdrs.CONTENT_MD5,
    hdrs.DIGEST,
    hdrs.TRANSFER_ENCODING,
    hdrs.EXPECT,
)

# Credentials a caller gave for one origin; a redirect must not carry them to another
# (RFC 9110 §15.4: "a user agent MUST NOT ... leak credentials"; Proxy-Authorization is for
# the proxy the caller chose for the first URL and is re-derived from proxy_auth per hop).
CREDENTIAL_HEADERS: Final = (hdrs.AUTHORIZATION, hdrs.COOKIE, hdrs.PROXY_AUTHORIZATION)


def location_of(status: int, headers: Mapping[str, str]) -> str | None:
    """The Location to follow for a response with *status*, or None when it is no redirect.

    *headers* is the response's header mapping. ``URI`` is the RFC 2616-era alias some old
    servers still send instead of ``Location``.
    """
    if status not in REDIRECT_STATUSES:
        return None
    return headers.get(hdrs.LOCATION) or headers.get(hdrs.URI)


def drops_body(status: int, method: str) -> bool:
    """True when the next hop becomes a GET without a body.

    303 always does (except for HEAD, which stays HEAD: RFC 9110 §15.4.4). 301 and 302 do for
    POST only: the RFC allows it and every browser does it (§15.4.2, §15.4.3). 307 and 308
    keep method and body (§15.4.8, §15.4.9).
    """
    if status == 303:
        return method != hdrs.METH_HEAD
    return status in (301, 302) and method == hdrs.METH_POST


def redirect_url(base: URL, location: str, *, requote: bool = True) -> URL:
    """The absolute URL *location* points to, resolved against *base* (RFC 9110 §10.2.2).

    ``requote=False`` takes the Location's percent-encoding as it is, for servers that need
    their exact bytes back. InvalidUrlRedirectClientError when it is not a URL or has no host;
    NonHttpUrlRedirectClientError for a scheme other than http and https.
    """
    try:
        target = URL(location, encoded=not requote)
    except (ValueError, TypeError) as exc:
        raise InvalidUrlRedirectClientError(
            location, "Server attempted redirecting to a location that is not a URL"
        ) from exc
    scheme = target.scheme
    if scheme and scheme not in _HTTP_SCHEMES:
        raise NonHttpUrlRedirectClientError(location)
    if not scheme:
        # RFC 3986 §5.2.2: only a reference without a scheme is resolved against the base;
        # "http:///x" stays hostless and is refused below.
        try:
            target = base.join(target)
        except ValueError as exc:
            raise InvalidUrlRedirectClientError(location, "Cannot resolve redirect URL") from exc
    if not target.raw_host:
        raise InvalidUrlRedirectClientError(location, "Redirect URL has no host")
    if target.raw_fragment is not None and not target.raw_fragment:
        return target.with_fragment(None)
    return target


def same_origin(first: URL, second: URL) -> bool:
    """Same scheme, host and port (RFC 6454 §4), default ports filled in."""
    return (
        first.scheme == second.scheme
        and (first.raw_host or "").lower() == (second.raw_host or "").lower()
        and first.port == second.port
    )
