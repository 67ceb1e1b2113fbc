"""Cookie storage and matching (RFC 6265): CookieJar and DummyCookieJar.

Plain synchronous code: Morsels and URLs in, Morsels out. Time comes from an injectable clock
so expiry is testable without sleeping.
"""

from __future__ import annotations

import asyncio
import calendar
import contextlib
import heapq
import itertools
import json
import operator
import os
import re
import tempfile
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from http.cookies import BaseCookie, CookieError, Morsel, SimpleCookie
from typing import Any, Union

from yarl import URL

from .abc import AbstractCookieJar, ClearCookiePredicate, LooseCookies
from .helpers import is_ip_address

__all__ = ("CookieJar", "DummyCookieJar", "parse_cookie_date", "set_cookie_pairs")

SecureOrigins = Union[str, URL, Iterable[Union[str, URL]], None]
StrOrPath = Union[str, "os.PathLike[str]"]

_FILE_FORMAT = "hyperclient-cookiejar"
_FILE_VERSION = 1
_SECURE_SCHEMES = frozenset({"https", "wss"})
# Far enough to mean "never" yet small enough that adding it to a timestamp stays finite.
_MAX_DELTA = 2.0**53
_QUOTER: SimpleCookie = SimpleCookie()
_UNSAFE_VALUE_CHARS = re.compile(r"[\x00-\x08\x0a-\x1f\x7f]")
_MAX_AGE = re.compile(r"-?[0-9]+")


# --------------------------------------------------------------------------- dates (§5.1.1)

_DATE_DELIMITERS = re.compile(r"[\x09\x20-\x2f\x3b-\x40\x5b-\x60\x7b-\x7e]+")
_TIME_TOKEN = re.compile(r"([0-9]{1,2}):([0-9]{1,2}):([0-9]{1,2})(?:[^0-9].*)?", re.DOTALL)
_DAY_TOKEN = re.compile(r"([0-9]{1,2})(?:[^0-9].*)?", re.DOTALL)
_MONTH_TOKEN = re.compile(r"(jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec).*", re.I | re.S)
_YEAR_TOKEN = re.compile(r"([0-9]{2,4})(?:[^0-9].*)?", re.DOTALL)
_MONTHS = ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec")


def parse_cookie_date(text: str) -> float | None:
    """A cookie-date (RFC 6265 §5.1.1) as a UTC timestamp, or None when it is not one.

    The algorithm is deliberately lenient: servers send every date format ever invented, and
    the RFC's token scan accepts all of them as long as a time, day, month and year appear.
    """
    hms: tuple[int, int, int] | None = None
    day = month = year = None
    for token in _DATE_DELIMITERS.split(text):
        if not token:
            continue
        if hms is None and (m := _TIME_TOKEN.fullmatch(token)):
            hms = (int(m[1]), int(m[2]), int(m[3]))
        elif day is None and (m := _DAY_TOKEN.fullmatch(token)):
            day = int(m[1])
        elif month is None and (m := _MONTH_TOKEN.fullmatch(token)):
            month = _MONTHS.index(m[1].lower()) + 1
        elif year is None and (m := _YEAR_TOKEN.fullmatch(token)):
            year = int(m[1])
    if hms is None or day is None or month is None or year is None:
        return None
    # §5.1.1 step 3 and 4: two-digit years.
    if 70 <= year <= 99:
        year += 1900
    elif year <= 69:
        year += 2000
    hour, minute, second = hms
    if year < 1601 or hour > 23 or minute > 59 or second > 59:
        return None
    if not 1 <= day <= calendar.monthrange(year, month)[1]:
        return None
    return float(calendar.timegm((year, month, day, hour, minute, second, 0, 0, 0)))


# --------------------------------------------------------------------------- Set-Cookie


def set_cookie_pairs(lines: Iterable[str]) -> list[tuple[str, Morsel[str]]]:
    """(name, Morsel) for each cookie of each Set-Cookie line, duplicates of a name included.

    A SimpleCookie keeps one cookie per name, but cookies of one name with different Path or
    Domain are different cookies (RFC 6265 §5.3 step 11), so each line is parsed on its own.
    A malformed line is skipped without costing the others (§5.2: ignore, do not fail).
    """
    pairs: list[tuple[str, Morsel[str]]] = []
    for line in lines:
        parsed: SimpleCookie = SimpleCookie()
        try:
            parsed.load(line)
        except CookieError:
            continue
        pairs.extend(parsed.items())
    return pairs


# --------------------------------------------------------------------------- matching


def _domain_match(host: str, domain: str) -> bool:
    """RFC 6265 §5.1.3; an IP address only matches itself."""
    if host == domain:
        return True
    return host.endswith(domain) and host[-len(domain) - 1] == "." and not is_ip_address(host)


def _path_match(request_path: str, cookie_path: str) -> bool:
    """RFC 6265 §5.1.4 path-match."""
    if not request_path.startswith(cookie_path):
        return False
    return (
        len(request_path) == len(cookie_path)
        or cookie_path[-1] == "/"
        or request_path[len(cookie_path)] == "/"
    )


def _default_path(request_path: str) -> str:
    """RFC 6265 §5.1.4 default-path: the request path up to, not including, its last slash."""
    if not request_path or request_path[0] != "/":
        return "/"
    last = request_path.rfind("/")
    return "/" if last == 0 else request_path[:last]


def _canonical_domain(domain: str) -> str | None:
    """Lower-case, and punycode for IDNs (RFC 6265 §5.1.2), or None when not encodable."""
    domain = domain.lower()
    if domain.isascii():
        return domain
    try:
        return domain.encode("idna").decode("ascii")
    except UnicodeError:
        return None


def _origin_key(url: URL) -> tuple[str, str, int | None] | None:
    if not url.absolute or not url.raw_host:
        return None
    return (url.scheme.lower(), url.raw_host.lower(), url.port)


def _secure_origins(value: SecureOrigins) -> frozenset[tuple[str, str, int | None]]:
    if value is None:
        return frozenset()
    items: Iterable[str | URL] = [value] if isinstance(value, (str, URL)) else value
    origins = set()
    for item in items:
        key = _origin_key(URL(item) if isinstance(item, str) else item)
        if key is None:
            raise ValueError(f"treat_as_secure_origin needs absolute URLs, got {item!r}")
        origins.add(key)
    return frozenset(origins)


# --------------------------------------------------------------------------- storage


class _Cookie:
    """One stored cookie: its identity (§5.3 step 11: name, domain, path) and metadata."""

    __slots__ = (
        "created",
        "domain",
        "expires",
        "host_only",
        "morsel",
        "name",
        "path",
        "secure",
        "send_morsel",
        "send_order",
    )

    def __init__(
        self,
        morsel: Morsel[str],
        domain: str,
        path: str,
        host_only: bool,
        expires: float | None,
        created: int,
    ) -> None:
        morsel["domain"] = domain
        morsel["path"] = path
        self.morsel = morsel
        self.name = morsel.key
        self.domain = domain
        self.path = path
        self.host_only = host_only
        self.expires = expires
        self.created = created
        # §5.4 step 2: longer paths first, then older cookies first.
        self.send_order = (-len(path), created)
        self.secure = bool(morsel["secure"])
        # Built once: the Cookie header carries only name=value, never the attributes.
        self.send_morsel: Morsel[str] = Morsel()
        self.send_morsel.set(morsel.key, morsel.value, morsel.coded_value)


_SEND_ORDER = operator.attrgetter("send_order")
_Buckets = dict[str, dict[tuple[str, str], _Cookie]]


def _loose_items(cookies: LooseCookies) -> Iterator[tuple[str, Any]]:
    pairs: Iterable[tuple[str, Any]] = cookies.items() if isinstance(cookies, Mapping) else cookies
    for name, value in pairs:
        if isinstance(value, BaseCookie):
            yield from value.items()
        else:
            yield name, value


class CookieJar(AbstractCookieJar):
    """Stores cookies from responses and picks the ones to send, following RFC 6265.

    ``unsafe=True`` accepts cookies from IP-address hosts. ``quote_cookie=False`` sends values
    given as ``str`` as they are instead of RFC 2109-quoting them; a Morsel keeps the encoded
    value it came with either way, so a server gets back exactly what it set. Secure cookies go
    only to https/wss URLs and to the origins in ``treat_as_secure_origin``. ``clock`` returns
    the current Unix time (``time.time`` by default) and exists for tests and simulations.
    """

    def __init__(
        self,
        *,
        unsafe: bool = False,
        quote_cookie: bool = True,
        treat_as_secure_origin: SecureOrigins = None,
        loop: asyncio.AbstractEventLoop | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._unsafe = unsafe
        self._quote_cookie = quote_cookie
        self._secure_origins = _secure_origins(treat_as_secure_origin)
        self._clock = clock
        self._cookies: _Buckets = {}
        # (expires, tiebreak, cookie); entries whose cookie was replaced or removed stay until
        # popped or until the heap is rebuilt, which keeps updates O(log n).
        self._heap: list[tuple[float, int, _Cookie]] = []
        self._heap_limit = 64
        self._counter = itertools.count()

    @property
    def quote_cookie(self) -> bool:
        return self._quote_cookie

    @property
    def unsafe(self) -> bool:
        return self._unsafe

    # --- reading ----------------------------------------------------------------------------

    def __len__(self) -> int:
        self._expire()
        return sum(len(bucket) for bucket in self._cookies.values())

    def __iter__(self) -> Iterator[Morsel[str]]:
        self._expire()
        return iter([c.morsel for bucket in self._cookies.values() for c in bucket.values()])

    def is_empty(self) -> bool:
        if not self._cookies:
            return True  # nothing to expire either (asked before every request)
        self._expire()
        return not self._cookies

    def filter_cookies(self, request_url: URL) -> BaseCookie[str]:
        """The cookies to send to *request_url* (§5.4), most specific path first."""
        result: BaseCookie[str] = SimpleCookie() if self._quote_cookie else BaseCookie()
        if not self._cookies:
            return result
        self._expire()
        if not isinstance(request_url, URL):
            request_url = URL(request_url)
        secure_ok = request_url.scheme in _SECURE_SCHEMES or (
            bool(self._secure_origins) and _origin_key(request_url) in self._secure_origins
        )
        path = request_url.raw_path or "/"
        found: list[_Cookie] = []
        for domain, exact in self._candidate_domains((request_url.raw_host or "").lower()):
            bucket = self._cookies.get(domain)
            if bucket:
                for cookie in bucket.values():
                    if (
                        (exact or not cookie.host_only)
                        and (secure_ok or not cookie.secure)
                        and _path_match(path, cookie.path)
                    ):
                        found.append(cookie)
        # A BaseCookie holds one value per name, so the first (most specific) cookie of a
        # name is the one sent.
        if len(found) > 1:
            found.sort(key=_SEND_ORDER)
        for cookie in found:
            if cookie.name not in result:
                result[cookie.name] = cookie.send_morsel
        return result

    def _candidate_domains(self, host: str) -> Iterator[tuple[str, bool]]:
        """Bucket keys that may hold cookies for *host*, with whether each is the host itself."""
        yield "", True  # shared cookies, stored without a response URL
        if not host:
            return
        if is_ip_address(host):
            if self._unsafe:
                yield host, True
            return
        yield host, True
        dot = host.find(".")
        while dot != -1:
            parent = host[dot + 1 :]
            if parent:  # a fully qualified "example.com." ends in an empty label
                yield parent, False
            dot = host.find(".", dot + 1)

    # --- writing ----------------------------------------------------------------------------

    def update_cookies(self, cookies: LooseCookies, response_url: URL | None = None) -> None:
        """Store cookies set by a response from *response_url* (None: shared cookies)."""
        if response_url is None:
            response_url = URL()
        elif not isinstance(response_url, URL):
            response_url = URL(response_url)
        host = (response_url.raw_host or "").lower()
        # The reference's "Cookie Safety": IP-address hosts may not set cookies unless unsafe.
        if host and not self._unsafe and is_ip_address(host):
            return
        now = self._clock()
        request_path = response_url.raw_path
        for name, value in _loose_items(cookies):
            self._store(self._to_morsel(name, value), host, request_path, now)

    def _to_morsel(self, name: str, value: Any) -> Morsel[str]:
        morsel: Morsel[str] = Morsel()
        if isinstance(value, Morsel):
            morsel.update(value)
            morsel.set(name, value.value, value.coded_value)
        else:
            text = str(value)
            coded = _QUOTER.value_encode(text)[1] if self._quote_cookie else text
            morsel.set(name, text, coded)
        # CR/LF in a value sent as-is would split the Cookie header.
        if _UNSAFE_VALUE_CHARS.search(morsel.coded_value):
            raise ValueError(f"Cookie {name!r} has a control character in its value")
        return morsel

    def _store(self, morsel: Morsel[str], host: str, request_path: str, now: float) -> None:
        placed = self._cookie_domain(morsel["domain"], host)
        if placed is None:
            return
        domain, host_only = placed
        path = morsel["path"]
        # §5.2.4: a Path attribute that does not start with "/" means the default path.
        if not path or path[0] != "/":
            path = _default_path(request_path)
        bucket = self._cookies.setdefault(domain, {})
        key = (path, morsel.key)
        old = bucket.pop(key, None)
        expires = self._expiry(morsel, now)
        if expires is not None and expires <= now:
            # §5.3: an already-expired cookie replaces the old one and is evicted at once,
            # which is how servers delete cookies.
            if not bucket:
                del self._cookies[domain]
            return
        # §5.3 step 11.3: a replacement keeps the creation time of the cookie it replaces.
        created = old.created if old is not None else next(self._counter)
        cookie = _Cookie(morsel, domain, path, host_only, expires, created)
        bucket[key] = cookie
        if expires is not None:
            self._push_expiry(cookie)

    def _cookie_domain(self, attribute: str, host: str) -> tuple[str, bool] | None:
        """(domain, host_only) per §5.3 steps 4-6, or None when the cookie must be ignored."""
        domain = attribute or ""
        if domain.endswith("."):
            # A trailing dot never domain-matches a canonical host; treat the cookie as
            # host-only rather than widen it.
            domain = ""
        elif domain.startswith("."):
            domain = domain[1:]  # §5.2.3
        if domain:
            canonical = _canonical_domain(domain)
            if canonical is None:
                return None
            domain = canonical
        if not host:
            return domain, False
        if not domain:
            return host, True
        if "." not in domain:
            # Stand-in for the public-suffix check (§5.3 step 5): a single label such as
            # "com" may not set cookies for all its subdomains, only for itself.
            return (host, True) if domain == host else None
        if not _domain_match(host, domain):
            return None
        return domain, False

    @staticmethod
    def _expiry(morsel: Morsel[str], now: float) -> float | None:
        """Absolute expiry time; Max-Age wins over Expires (§5.3 step 3); None: session cookie."""
        max_age = str(morsel["max-age"]).strip()
        # §5.2.2: only "-"? DIGIT+ is a Max-Age; anything else leaves the attribute unset.
        if max_age and _MAX_AGE.fullmatch(max_age):
            delta = float(max_age)  # float(), unlike int(), has no digit-count limit
            return now + min(delta, _MAX_DELTA) if delta > 0 else -_MAX_DELTA
        expires: Any = morsel["expires"]
        if isinstance(expires, (int, float)) and not isinstance(expires, bool):
            # Morsel's own convention: a number means seconds from now.
            return now + min(float(expires), _MAX_DELTA)
        if isinstance(expires, str) and expires:
            return parse_cookie_date(expires)
        return None

    # --- expiry -----------------------------------------------------------------------------

    def _push_expiry(self, cookie: _Cookie) -> None:
        assert cookie.expires is not None
        heapq.heappush(self._heap, (cookie.expires, next(self._counter), cookie))
        if len(self._heap) > self._heap_limit:
            # A server refreshing one long-lived cookie on every response would otherwise
            # grow the heap by one stale entry per response.
            self._rebuild_heap()

    def _rebuild_heap(self) -> None:
        self._heap = [
            (c.expires, next(self._counter), c)
            for bucket in self._cookies.values()
            for c in bucket.values()
            if c.expires is not None
        ]
        heapq.heapify(self._heap)
        self._heap_limit = max(64, 2 * len(self._heap))

    def _expire(self) -> None:
        heap = self._heap
        if not heap:
            return
        now = self._clock()
        while heap and heap[0][0] <= now:
            cookie = heapq.heappop(heap)[2]
            bucket = self._cookies.get(cookie.domain)
            key = (cookie.path, cookie.name)
            if bucket is not None and bucket.get(key) is cookie:
                del bucket[key]
                if not bucket:
                    del self._cookies[cookie.domain]

    # --- removal ----------------------------------------------------------------------------

    def clear(self, predicate: ClearCookiePredicate | None = None) -> None:
        if predicate is None:
            self._cookies.clear()
            self._heap.clear()
            return
        self._remove_where(lambda cookie: predicate(cookie.morsel))

    def clear_domain(self, domain: str) -> None:
        """Remove the cookies of *domain* and of its subdomains."""
        target = _canonical_domain(domain.lstrip(".")) or ""
        self._remove_where(lambda cookie: _domain_match(cookie.domain, target))

    def _remove_where(self, condition: Callable[[_Cookie], bool]) -> None:
        self._expire()
        for domain, bucket in list(self._cookies.items()):
            for key, cookie in list(bucket.items()):
                if condition(cookie):
                    del bucket[key]
            if not bucket:
                del self._cookies[domain]

    # --- persistence ------------------------------------------------------------------------

    def save(self, file_path: StrOrPath) -> None:
        """Write the cookies as JSON, readable by the owner only, replacing the file atomically."""
        self._expire()
        cookies = sorted(
            (c for bucket in self._cookies.values() for c in bucket.values()),
            key=lambda c: c.created,
        )
        document = {
            "format": _FILE_FORMAT,
            "version": _FILE_VERSION,
            "cookies": [_cookie_to_json(c) for c in cookies],
        }
        _write_private(os.fspath(file_path), json.dumps(document, indent=1).encode("utf-8"))

    def load(self, file_path: StrOrPath) -> None:
        """Replace the jar's cookies with those saved in *file_path*.

        OSError when the file cannot be read; ValueError, with the jar unchanged, when it is
        not a cookie file written by :meth:`save`.
        """
        with open(file_path, "rb") as file:
            raw = file.read()
        counter = itertools.count()
        buckets: _Buckets = {}
        try:
            document = json.loads(raw)
            for record in _records(document):
                cookie = _cookie_from_json(record, next(counter))
                buckets.setdefault(cookie.domain, {})[cookie.path, cookie.name] = cookie
        except (ValueError, TypeError, KeyError, CookieError) as exc:
            raise ValueError(f"{os.fspath(file_path)!r} is not a valid cookie file: {exc}") from exc
        self._cookies = buckets
        self._counter = counter
        self._rebuild_heap()
        self._expire()


def _cookie_to_json(cookie: _Cookie) -> dict[str, Any]:
    attributes = {
        name: value if isinstance(value, (str, bool, int, float)) else str(value)
        for name, value in cookie.morsel.items()
        if value and name not in ("domain", "path")
    }
    return {
        "name": cookie.name,
        "value": cookie.morsel.value,
        "coded_value": cookie.morsel.coded_value,
        "domain": cookie.domain,
        "path": cookie.path,
        "host_only": cookie.host_only,
        "expires": cookie.expires,
        "attributes": attributes,
    }


def _records(document: Any) -> list[Any]:
    if not isinstance(document, dict) or document.get("format") != _FILE_FORMAT:
        raise ValueError("missing the cookie file format marker")
    if document.get("version") != _FILE_VERSION:
        raise ValueError(f"unsupported version {document.get('version')!r}")
    records = document.get("cookies")
    if not isinstance(records, list):
        raise ValueError('"cookies" is not a list')
    return records


def _field(record: dict[str, Any], name: str, kind: type | tuple[type, ...]) -> Any:
    value = record[name]
    if not isinstance(value, kind) or (isinstance(value, bool) and kind is not bool):
        raise ValueError(f"field {name!r} has the wrong type")
    return value


def _cookie_from_json(record: Any, created: int) -> _Cookie:
    if not isinstance(record, dict):
        raise ValueError("a cookie record is not an object")
    path = _field(record, "path", str)
    if not path.startswith("/"):
        raise ValueError("a cookie path must start with '/'")
    expires = record["expires"]
    if expires is not None and (isinstance(expires, bool) or not isinstance(expires, (int, float))):
        raise ValueError("field 'expires' has the wrong type")
    attributes = _field(record, "attributes", dict)
    if not all(isinstance(v, (str, bool, int, float)) for v in attributes.values()):
        raise ValueError("a cookie attribute has the wrong type")
    morsel: Morsel[str] = Morsel()
    morsel.update(attributes)
    coded = _field(record, "coded_value", str)
    if _UNSAFE_VALUE_CHARS.search(coded):
        raise ValueError("a cookie value holds a control character")
    morsel.set(_field(record, "name", str), _field(record, "value", str), coded)
    return _Cookie(
        morsel,
        _field(record, "domain", str).lower(),
        path,
        _field(record, "host_only", bool),
        None if expires is None else float(expires),
        created,
    )


def _write_private(path: str, data: bytes) -> None:
    """Write via a 0o600 temporary file and rename, so no reader sees a partial file and the
    cookies are never readable by other users, not even for a moment."""
    directory = os.path.dirname(os.path.abspath(path))
    # mkstemp opens with os.open(O_CREAT | O_EXCL, 0o600) under an unguessable name.
    fd, tmp_path = tempfile.mkstemp(prefix=".cookies-", suffix=".tmp", dir=directory)
    try:
        with os.fdopen(fd, "wb") as file:
            file.write(data)
            file.flush()
            os.fsync(file.fileno())
        os.replace(tmp_path, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp_path)
        raise


class DummyCookieJar(AbstractCookieJar):
    """A jar that stores nothing and sends nothing."""

    def __init__(self, *, loop: asyncio.AbstractEventLoop | None = None) -> None:
        pass

    @property
    def quote_cookie(self) -> bool:
        return True

    def __len__(self) -> int:
        return 0

    def __iter__(self) -> Iterator[Morsel[str]]:
        return iter(())

    def clear(self, predicate: ClearCookiePredicate | None = None) -> None:
        pass

    def clear_domain(self, domain: str) -> None:
        pass

    def update_cookies(self, cookies: LooseCookies, response_url: URL | None = None) -> None:
        pass

    def filter_cookies(self, request_url: URL) -> BaseCookie[str]:
        return SimpleCookie()
