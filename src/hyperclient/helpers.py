"""Header-value parsers and small shared helpers (sans-IO: strings in, values out).

Covers ETag (RFC 9110 §8.8.3), Content-Type (RFC 9110 §8.3), Content-Disposition
(RFC 6266 with RFC 8187 extended values and RFC 2231 continuations) and Link
(RFC 8288). Every pattern is compiled once at import time: these run once per response.
"""

from __future__ import annotations

import enum
import functools
import ipaddress
import re
import sys
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType
from typing import Any, Final, Literal
from urllib.parse import unquote_to_bytes

from multidict import MultiDict, MultiDictProxy
from yarl import URL

__all__ = (
    "ETAG_ANY",
    "_SENTINEL",
    "ContentDisposition",
    "ETag",
    "content_type_is_json",
    "decode_ext_value",
    "guess_filename",
    "is_ip_address",
    "parse_content_disposition",
    "parse_content_type",
    "parse_etag",
    "parse_etag_list",
    "parse_links",
    "sentinel",
)


class _Sentinel(enum.Enum):
    """A single-member enum, so mypy can narrow ``x is sentinel`` away from the real type."""

    sentinel = enum.auto()

    def __repr__(self) -> str:
        return "sentinel"


sentinel: Final = _Sentinel.sentinel
_SENTINEL = Literal[_Sentinel.sentinel]


# RFC 9110 §5.6.2 tchar, §5.6.4 qdtext / quoted-pair. obs-text (%x80-FF) is widened to any
# non-ASCII code point because header values may reach us decoded as UTF-8, not Latin-1.
_TOKEN: Final = r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+"
_QUOTED: Final = (
    r'"((?:[\t \x21\x23-\x5b\x5d-\x7e\x80-\U0010ffff]|\\[\t \x21-\x7e\x80-\U0010ffff])*)"'
)
_QUOTED_PAIR_RE: Final = re.compile(r"\\(.)", re.DOTALL)
_OWS_END_RE: Final = re.compile(r"[ \t]*\Z")


def _unquote(inner: str) -> str:
    if "\\" not in inner:
        return inner
    return _QUOTED_PAIR_RE.sub(r"\1", inner)


def _parse_params(value: str, pos: int, param_re: re.Pattern[str]) -> list[tuple[str, str]] | None:
    """Parse ``*( OWS ";" OWS [ name "=" value ] )`` from ``pos`` to the end of ``value``.

    Names come back lower-cased (they are case-insensitive in every header handled here).
    Empty parameters are accepted: RFC 9110 §5.6.6 allows them and servers send ``type;``.
    ``None`` means the text is not a parameter list.
    """
    params: list[tuple[str, str]] = []
    end = len(value)
    while pos < end:
        m = param_re.match(value, pos)
        if m is None:
            return None if _OWS_END_RE.match(value, pos) is None else params
        pos = m.end()
        name, token, quoted = m.groups()
        if name is not None:
            params.append((name.lower(), token if token is not None else _unquote(quoted)))
    return params


# --------------------------------------------------------------------------- ETag

ETAG_ANY: Final = "*"

# RFC 9110 §8.8.3: entity-tag = [ weak ] opaque-tag; weak = %s"W/" (case-sensitive).
_ETAG_RE: Final = re.compile(r'[ \t]*(W/)?"([\x21\x23-\x7e\x80-\U0010ffff]*)"[ \t]*')


@dataclass(frozen=True, slots=True)
class ETag:
    """An entity tag: ``value`` without the quotes, ``is_weak`` for the ``W/`` prefix."""

    value: str
    is_weak: bool = False


def parse_etag(header: str) -> ETag | None:
    """Parse one ETag header value; ``None`` when it is not an RFC 9110 entity-tag."""
    m = _ETAG_RE.fullmatch(header)
    if m is None:
        return None
    return ETag(m.group(2), is_weak=m.group(1) is not None)


def parse_etag_list(header: str) -> list[ETag]:
    """Parse an If-Match / If-None-Match style list, skipping members that are not entity-tags.

    A field that is just ``*`` gives ``[ETag(ETAG_ANY)]`` (RFC 9110 §13.1.1: "any current
    representation"). Commas are legal inside an opaque-tag, so the list is scanned rather
    than split.
    """
    if header.strip(" \t") == ETAG_ANY:
        return [ETag(ETAG_ANY)]
    tags: list[ETag] = []
    pos = 0
    end = len(header)
    while True:
        pos = _skip_separators(header, pos)
        if pos >= end:
            return tags
        m = _ETAG_RE.match(header, pos)
        if m is not None and (m.end() == end or header[m.end()] == ","):
            tags.append(ETag(m.group(2), is_weak=m.group(1) is not None))
            pos = m.end()
        else:
            pos = _skip_bad_etag(header, pos)


def _skip_separators(text: str, pos: int) -> int:
    # RFC 9110 §5.6.1: recipients accept empty list elements ("a, , b").
    end = len(text)
    while pos < end and text[pos] in " \t,":
        pos += 1
    return pos


def _skip_bad_etag(header: str, pos: int) -> int:
    """Position of the comma ending a malformed member, honouring a quote it opens."""
    if header.startswith('W/"', pos):
        pos += 2
    if header.startswith('"', pos):
        close = header.find('"', pos + 1)
        if close != -1:
            pos = close + 1
    comma = header.find(",", pos)
    return len(header) if comma == -1 else comma


# --------------------------------------------------------------------------- Content-Type

_MIMETYPE_RE: Final = re.compile(rf"[ \t]*({_TOKEN}/{_TOKEN})")
# RFC 9110 §5.6.6 forbids whitespace around "=" in parameters.
_CT_PARAM_RE: Final = re.compile(rf"[ \t]*;[ \t]*(?:({_TOKEN})=(?:({_TOKEN})|{_QUOTED}))?")
_EMPTY_PARAMS: Final[MappingProxyType[str, str]] = MappingProxyType({})
_OCTET_STREAM: Final = ("application/octet-stream", _EMPTY_PARAMS)


def parse_content_type(value: str | None) -> tuple[str, MappingProxyType[str, str]]:
    """Split a Content-Type value into a lower-cased mimetype and its parameters.

    A missing header or any RFC 9110 §8.3 syntax error gives ``application/octet-stream``
    with no parameters, as ``ClientResponse.content_type`` documents. When a parameter
    repeats, its first value is kept.
    """
    if value is None:
        return _OCTET_STREAM
    return _parse_content_type_cached(value)


@functools.lru_cache(maxsize=64)
def _parse_content_type_cached(value: str) -> tuple[str, MappingProxyType[str, str]]:
    m = _MIMETYPE_RE.match(value)
    if m is None:
        return _OCTET_STREAM
    params = _parse_params(value, m.end(), _CT_PARAM_RE)
    if params is None:
        return _OCTET_STREAM
    mimetype = m.group(1).lower()
    if not params:
        return mimetype, _EMPTY_PARAMS
    merged: dict[str, str] = {}
    for name, param in params:
        merged.setdefault(name, param)
    return mimetype, MappingProxyType(merged)


def content_type_is_json(mimetype: str) -> bool:
    """``application/json`` or any structured ``+json`` subtype (RFC 6839 §3.1)."""
    mimetype = mimetype.partition(";")[0].strip(" \t").lower()
    if mimetype == "application/json":
        return True
    kind, slash, subtype = mimetype.partition("/")
    return bool(kind) and bool(slash) and len(subtype) > 5 and subtype.endswith("+json")


# --------------------------------------------------------------------------- Content-Disposition

_DISP_TYPE_RE: Final = re.compile(rf"[ \t]*({_TOKEN})")
# RFC 6266 §4.1 is written in RFC 2616's implied-LWS grammar, so whitespace around "=" is allowed.
_DISP_PARAM_RE: Final = re.compile(
    rf"[ \t]*;[ \t]*(?:({_TOKEN})[ \t]*=[ \t]*(?:({_TOKEN})|{_QUOTED}))?"
)
# RFC 8187 §3.2.1: ext-value = charset "'" [ language ] "'" value-chars
_EXT_VALUE_RE: Final = re.compile(r"([!#$%&+\-^_`{}~0-9A-Za-z]+)'([0-9A-Za-z\-]*)'(.*)", re.DOTALL)
_VALUE_CHARS_RE: Final = re.compile(r"(?:%[0-9A-Fa-f]{2}|[!#$&+\-.^_`|~0-9A-Za-z])*")
# RFC 2231 §3: name*0, name*1, ... (no leading zeros), "*" suffix when the segment is encoded.
_CONTINUATION_RE: Final = re.compile(r"(.+)\*(0|[1-9][0-9]{0,3})(\*?)")
# RFC 8187 §3.2 requires these two; us-ascii is what RFC 2231's own examples use.
# Other charsets are ignored rather than handed to Python's codec registry.
_EXT_CHARSETS: Final = {"utf-8": "utf-8", "iso-8859-1": "iso-8859-1", "us-ascii": "ascii"}


@dataclass(frozen=True, slots=True)
class ContentDisposition:
    """A parsed Content-Disposition header (``ClientResponse.content_disposition``)."""

    type: str | None
    parameters: Mapping[str, str]
    filename: str | None


_INVALID_DISPOSITION: Final = ContentDisposition(None, _EMPTY_PARAMS, None)


def parse_content_disposition(header: str | None) -> ContentDisposition | None:
    """Parse a Content-Disposition value; ``None`` when there is no header.

    Invalid syntax, including a repeated parameter (RFC 6266 §4.1), yields a
    ContentDisposition with ``type=None`` and no parameters rather than an exception.
    Extended (``name*``) values are decoded and kept under their ``name*`` key;
    continuations are joined under ``name`` or ``name*``; ``filename`` prefers
    ``filename*`` (RFC 6266 §4.3).
    """
    if header is None:
        return None
    m = _DISP_TYPE_RE.match(header)
    if m is None:
        return _INVALID_DISPOSITION
    raw = _parse_params(header, m.end(), _DISP_PARAM_RE)
    if raw is None:
        return _INVALID_DISPOSITION
    seen: set[str] = set()
    for name, _ in raw:
        if name in seen:
            return _INVALID_DISPOSITION
        seen.add(name)
    params = _decode_disposition_params(raw)
    filename = params["filename*"] if "filename*" in params else params.get("filename")
    return ContentDisposition(m.group(1).lower(), MappingProxyType(params), filename)


def _decode_disposition_params(raw: list[tuple[str, str]]) -> dict[str, str]:
    params: dict[str, str] = {}
    segments: dict[str, dict[int, tuple[bool, str]]] = {}
    for name, value in raw:
        cont = _CONTINUATION_RE.fullmatch(name)
        if cont is not None:
            segments.setdefault(cont.group(1), {})[int(cont.group(2))] = (
                bool(cont.group(3)),
                value,
            )
        elif name.endswith("*"):
            decoded = decode_ext_value(value)
            # RFC 6266 §4.3: an undecodable extended value is dropped so the plain one serves.
            if decoded is not None:
                params[name] = decoded
        else:
            params[name] = value
    for base, parts in segments.items():
        joined = _join_continuation(parts)
        if joined is not None:
            # An explicit parameter of the same name outranks a reassembled one.
            params.setdefault(base + "*" if parts[0][0] else base, joined)
    return params


def decode_ext_value(value: str) -> str | None:
    """Decode an RFC 8187 ext-value (``UTF-8'en'%e2%82%ac``); ``None`` if it is malformed."""
    m = _EXT_VALUE_RE.fullmatch(value)
    if m is None:
        return None
    codec = _EXT_CHARSETS.get(m.group(1).lower())
    raw = None if codec is None else _percent_decode(m.group(3))
    if codec is None or raw is None:
        return None
    try:
        return raw.decode(codec)
    except UnicodeDecodeError:
        return None


def _percent_decode(chars: str) -> bytes | None:
    if _VALUE_CHARS_RE.fullmatch(chars) is None:
        return None
    return unquote_to_bytes(chars)


def _join_continuation(parts: dict[int, tuple[bool, str]]) -> str | None:
    """Reassemble ``name*0 .. name*N`` (RFC 2231 §3-4); stops at the first missing index.

    Segments are joined as bytes before decoding because an encoder may split a
    multi-byte character across two segments.
    """
    if 0 not in parts:
        return None
    first_extended, first = parts[0]
    codec: str | None = "utf-8"
    if first_extended:
        m = _EXT_VALUE_RE.fullmatch(first)
        if m is None:
            return None
        codec, first = _EXT_CHARSETS.get(m.group(1).lower()), m.group(3)
    if codec is None:
        return None
    chunks: list[bytes] = []
    index = 0
    while index in parts:
        extended, text = parts[index] if index else (first_extended, first)
        try:
            chunk = _percent_decode(text) if extended else text.encode(codec)
        except UnicodeEncodeError:
            return None
        if chunk is None:
            return None
        chunks.append(chunk)
        index += 1
    try:
        return b"".join(chunks).decode(codec)
    except UnicodeDecodeError:
        return None


# --------------------------------------------------------------------------- Link

# RFC 8288 §3: link-value = "<" URI-Reference ">" *( OWS ";" OWS link-param ),
# link-param = token BWS [ "=" BWS ( token / quoted-string ) ]
# Unquoted values are read up to the next delimiter rather than as strict tokens: servers send
# "type=text/css", and dropping the whole link over it helps nobody.
_LINK_TARGET_RE: Final = re.compile(r"[ \t]*<([^<>\s]*)>")
_LINK_PARAM_RE: Final = re.compile(
    rf'[ \t]*;[ \t]*(?:({_TOKEN})(?:[ \t]*=[ \t]*(?:([^\s;,"]+)|{_QUOTED}))?)?'
)
_LINK_END_RE: Final = re.compile(r"[ \t]*(?:,|\Z)")


def parse_links(values: Iterable[str], base_url: URL) -> MultiDictProxy[MultiDictProxy[str | URL]]:
    """Parse Link header fields into ``ClientResponse.links``.

    Each link is keyed by its ``rel`` parameter, or by its target as written when it has
    none; its value holds every parameter (names lower-cased, values as sent) plus ``url``,
    the target resolved against ``base_url`` (RFC 8288 §3.1). Malformed links are skipped.
    """
    links: MultiDict[MultiDictProxy[str | URL]] = MultiDict()
    for value in values:
        pos = 0
        end = len(value)
        while True:
            pos = _skip_separators(value, pos)
            if pos >= end:
                break
            pos = _parse_one_link(value, pos, base_url, links)
    return MultiDictProxy(links)


def _parse_one_link(
    value: str, pos: int, base_url: URL, links: MultiDict[MultiDictProxy[str | URL]]
) -> int:
    """Add the link-value starting at ``pos`` to ``links``; return where the next one starts."""
    target = _LINK_TARGET_RE.match(value, pos)
    if target is None:
        return _skip_list_member(value, pos)
    pos = target.end()
    link: MultiDict[str | URL] = MultiDict()
    rel: str | None = None
    while (done := _LINK_END_RE.match(value, pos)) is None:
        m = _LINK_PARAM_RE.match(value, pos)
        if m is None:
            return _skip_list_member(value, pos)
        pos = m.end()
        name, token, quoted = m.groups()
        if name is None:
            continue
        name = name.lower()
        param = token if token is not None else "" if quoted is None else _unquote(quoted)
        if name == "rel":
            # RFC 8288 §3.3: occurrences of rel after the first MUST be ignored.
            if rel is not None:
                continue
            rel = param
        link.add(name, param)
    try:
        url = base_url.join(URL(target.group(1)))
    except ValueError:
        return done.end()
    link.add("url", url)
    links.add(target.group(1) if rel is None else rel, MultiDictProxy(link))
    return done.end()


def _skip_list_member(value: str, pos: int) -> int:
    """Position after the next comma that is outside ``<...>`` and quoted strings."""
    end = len(value)
    while pos < end:
        char = value[pos]
        if char == ",":
            return pos + 1
        if char == "<":
            close = value.find(">", pos + 1)
            pos = end if close == -1 else close + 1
        elif char == '"':
            pos += 1
            while pos < end and value[pos] != '"':
                pos += 2 if value[pos] == "\\" else 1
            pos += 1
        else:
            pos += 1
    return end


# --------------------------------------------------------------------------- misc


@functools.lru_cache(maxsize=256)
def is_ip_address(host: str) -> bool:
    """True for an IPv4 or IPv6 literal; IPv6 may be bracketed as in a URL (RFC 3986 §3.2.2).

    Cached because the cookie jar and proxy checks ask about the same few hosts per request.
    """
    if not host:
        return False
    if host[0] == "[" and host[-1] == "]":
        return _is_ipv6(host[1:-1])
    if ":" in host:
        return _is_ipv6(host)
    if not host[-1].isdigit():
        # Most hosts are names; this avoids ipaddress's exception path for them.
        return False
    try:
        ipaddress.IPv4Address(host)
    except ValueError:
        return False
    return True


def _is_ipv6(text: str) -> bool:
    try:
        ipaddress.IPv6Address(text)
    except ValueError:
        return False
    return True


def guess_filename(obj: object, default: str | None = None) -> str | None:
    """The base name of a file object's ``name``, skipping pseudo-names like ``<stdin>``."""
    name = getattr(obj, "name", None)
    if isinstance(name, str) and name and name[0] != "<" and name[-1] != ">":
        return Path(name).name or default
    return default


# RFC 9110 §5.6.2: tchar. Methods, field names and auth schemes are tokens; anything else could
# split a head or a header line.
TCHAR: Final = frozenset(
    "!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
)

_PACKAGE_DIR: Final = str(Path(__file__).parent)


def caller_location() -> tuple[str, int] | None:
    """File and line of the nearest caller outside this package (where a session, response or
    connector was created), for "unclosed" warnings. A few frames at most on the request path."""
    frame: Any = sys._getframe(1)
    while frame is not None and frame.f_code.co_filename.startswith(_PACKAGE_DIR):
        frame = frame.f_back
    if frame is None:
        return None
    return frame.f_code.co_filename, frame.f_lineno


def location_text(where: tuple[str, int] | None) -> str:
    return f"{where[0]}:{where[1]}" if where else "an unknown place"
