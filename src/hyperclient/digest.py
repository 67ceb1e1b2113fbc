"""HTTP Digest access authentication (RFC 7616) as a client middleware.

Two layers:

- a sans-IO core: :func:`parse_www_authenticate` (RFC 9110 §11 challenge syntax),
  :class:`DigestChallenge` (one usable ``Digest`` challenge), :func:`select_challenge` and
  :func:`digest_authorization` (the ``Authorization: Digest ...`` value);
- :class:`DigestAuthMiddleware`, which keeps the challenges per protection space and answers
  ``401`` responses around the middleware ``handler``.
"""

from __future__ import annotations

import hashlib
import secrets
import string
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, NamedTuple
from urllib.parse import quote

from yarl import URL

from . import hdrs
from .payload import BytesPayload

if TYPE_CHECKING:
    from .middlewares import ClientHandlerType
    from .request import ClientRequest
    from .response import ClientResponse

__all__ = (
    "AuthChallenge",
    "DigestAuthMiddleware",
    "DigestChallenge",
    "digest_authorization",
    "parse_www_authenticate",
    "select_challenge",
)

# --- challenge syntax (RFC 9110 §11.2 / §5.6) ------------------------------------------------

_TCHAR = frozenset("!#$%&'*+-.^_`|~" + string.ascii_letters + string.digits)
_TOKEN68_CHAR = frozenset("-._~+/" + string.ascii_letters + string.digits)
_WS = " \t"


class AuthChallenge(NamedTuple):
    """One challenge of a ``WWW-Authenticate`` value: scheme plus auth-params or a token68."""

    scheme: str
    params: dict[str, str]
    token68: str | None


class _Scanner:
    __slots__ = ("pos", "text")

    def __init__(self, text: str) -> None:
        self.text = text
        self.pos = 0

    def peek(self) -> str:
        return self.text[self.pos] if self.pos < len(self.text) else ""

    def at_end(self) -> bool:
        return self.pos >= len(self.text)

    def skip(self, chars: str) -> None:
        while self.pos < len(self.text) and self.text[self.pos] in chars:
            self.pos += 1

    def run(self, allowed: frozenset[str]) -> str:
        start = self.pos
        while self.pos < len(self.text) and self.text[self.pos] in allowed:
            self.pos += 1
        return self.text[start : self.pos]

    def quoted(self) -> str:
        # quoted-string = DQUOTE *( qdtext / quoted-pair ) DQUOTE; quoted-pair = "\" char.
        self.pos += 1
        out: list[str] = []
        while self.pos < len(self.text):
            char = self.text[self.pos]
            self.pos += 1
            if char == '"':
                return "".join(out)
            if char == "\\":
                if self.pos >= len(self.text):
                    break
                char = self.text[self.pos]
                self.pos += 1
            out.append(char)
        raise ValueError("unterminated quoted-string in WWW-Authenticate")

    def token68(self) -> str | None:
        """A token68 credential if the rest of this list element is exactly one."""
        start = self.pos
        value = self.run(_TOKEN68_CHAR)
        if value:
            value += self.run(frozenset("="))
            self.skip(_WS)
            if self.peek() in ("", ","):
                return value
        self.pos = start
        return None


def parse_www_authenticate(value: str) -> list[AuthChallenge]:
    """Every challenge in one header value; ValueError when the value is malformed.

    Commas separate both challenges and their parameters (RFC 9110 §11.6.1), so a name that
    is not followed by ``=`` starts the next challenge.
    """
    scanner = _Scanner(value)
    challenges: list[AuthChallenge] = []
    while True:
        scanner.skip(_WS + ",")
        if scanner.at_end():
            return challenges
        scheme = scanner.run(_TCHAR)
        if not scheme or scanner.peek() not in ("", ",", " ", "\t"):
            raise ValueError(f"invalid auth-scheme at offset {scanner.pos} of {value!r}")
        scanner.skip(_WS)
        token68 = scanner.token68()
        params = {} if token68 is not None else _auth_params(scanner)
        challenges.append(AuthChallenge(scheme, params, token68))


def _auth_params(scanner: _Scanner) -> dict[str, str]:
    params: dict[str, str] = {}
    while True:
        mark = scanner.pos
        name = scanner.run(_TCHAR)
        if not name:
            return params
        scanner.skip(_WS)
        if scanner.peek() != "=":
            scanner.pos = mark  # the next challenge's scheme
            return params
        scanner.pos += 1
        scanner.skip(_WS)
        if scanner.peek() == '"':
            param = scanner.quoted()
        else:
            param = scanner.run(_TCHAR)
            if not param:
                raise ValueError(f"missing value for auth-param {name!r}")
        # RFC 9110 §11.2: each name occurs once per challenge; keep the first if repeated.
        params.setdefault(name.lower(), param)
        scanner.skip(_WS)
        if scanner.peek() == ",":
            scanner.skip(_WS + ",")
        elif not scanner.at_end():
            raise ValueError(f"unexpected {scanner.peek()!r} after auth-param {name!r}")


# --- algorithms (RFC 7616 §3.3, §6.1) ----------------------------------------------------------


def _have(name: str) -> bool:
    try:
        hashlib.new(name)
    except ValueError:
        return False
    return True


# Canonical base name -> (hashlib name, preference). Larger preference is stronger. "SHA-512"
# is not in the RFC 7616 registry, but servers such as httpbin offer it and aiohttp answers it.
_HASHES: dict[str, tuple[str, int]] = {
    "MD5": ("md5", 1),
    "SHA-256": ("sha256", 2),
    "SHA-512": ("sha512", 3),
}
if _have("sha512_256"):
    _HASHES["SHA-512-256"] = ("sha512_256", 3)

HAVE_SHA512_256 = "SHA-512-256" in _HASHES
_QOPS = ("auth", "auth-int")


def _lookup_algorithm(name: str) -> tuple[str, bool] | None:
    """(canonical base, is -sess) for an algorithm token, None when we cannot compute it."""
    upper = name.upper()
    sess = upper.endswith("-SESS")
    base = upper[: -len("-SESS")] if sess else upper
    return (base, sess) if base in _HASHES else None


def _hasher(base: str) -> Callable[[bytes], str]:
    hash_name = _HASHES[base][0]

    def digest(data: bytes) -> str:
        return hashlib.new(hash_name, data).hexdigest()

    return digest


@dataclass(frozen=True)
class DigestChallenge:
    """A ``Digest`` challenge we can answer (RFC 7616 §3.3)."""

    __slots__ = (
        "algorithm",
        "base",
        "charset",
        "domain",
        "nonce",
        "opaque",
        "qop",
        "realm",
        "sess",
        "stale",
        "userhash",
    )

    realm: str
    nonce: str
    #: The server's spelling, echoed back as sent; None when the challenge omitted it (MD5).
    algorithm: str | None
    base: str
    sess: bool
    #: Offered qop values we support, in the server's order; empty for the RFC 2069 form.
    qop: tuple[str, ...]
    opaque: str | None
    domain: tuple[str, ...]
    stale: bool
    userhash: bool
    charset: str | None

    @classmethod
    def from_params(cls, params: dict[str, str]) -> DigestChallenge | None:
        """The challenge from its auth-params, or None when it lacks a nonce or needs an
        algorithm or qop we do not implement."""
        nonce = params.get("nonce")
        algorithm = params.get("algorithm")
        found = _lookup_algorithm(algorithm or "MD5")
        if nonce is None or found is None:
            return None
        base, sess = found
        raw_qop = params.get("qop")
        offered = [item.strip(_WS).lower() for item in (raw_qop or "").split(",")]
        qop = tuple(item for item in offered if item in _QOPS)
        if raw_qop is not None and not qop:
            return None
        if sess and not qop:
            # The -sess A1 needs a cnonce, which RFC 2617 §3.2.2 forbids without qop.
            return None
        return cls(
            realm=params.get("realm", ""),
            nonce=nonce,
            algorithm=algorithm,
            base=base,
            sess=sess,
            qop=qop,
            opaque=params.get("opaque"),
            domain=tuple(params.get("domain", "").split()),
            stale=params.get("stale", "").lower() == "true",
            userhash=params.get("userhash", "").lower() == "true",
            charset=params.get("charset"),
        )

    @property
    def strength(self) -> int:
        return _HASHES[self.base][1]

    def hexdigest(self, data: bytes) -> str:
        return _hasher(self.base)(data)


def select_challenge(header_values: Iterable[str]) -> DigestChallenge | None:
    """The strongest Digest challenge we support among all WWW-Authenticate header lines.

    Ties keep the server's order, which RFC 7616 §3.7 makes its order of preference. A line
    that does not parse is skipped rather than failing the others.
    """
    best: DigestChallenge | None = None
    for value in header_values:
        try:
            parsed = parse_www_authenticate(value)
        except ValueError:
            continue
        for item in parsed:
            if item.scheme.lower() != "digest":
                continue
            challenge = DigestChallenge.from_params(item.params)
            if challenge is not None and (best is None or challenge.strength > best.strength):
                best = challenge
    return best


# --- the Authorization value (RFC 7616 §3.4) ---------------------------------------------------

# RFC 8187 §3.2.1 attr-char: everything else is percent-encoded in an ext-value.
_ATTR_SAFE = "!#$&+-.^_`|~"


def _quote(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _fits_quoted_string(value: str) -> bool:
    # qdtext excludes controls; non-ASCII goes through username* (RFC 7616 §3.4.4).
    return all(" " <= char <= "~" or char == "\t" for char in value)


def _username_param(challenge: DigestChallenge, username: str) -> str:
    if challenge.userhash:
        hashed = challenge.hexdigest(f"{username}:{challenge.realm}".encode())
        return f"username={_quote(hashed)}"
    if _fits_quoted_string(username):
        return f"username={_quote(username)}"
    return "username*=UTF-8''" + quote(username.encode(), safe=_ATTR_SAFE)


def digest_response(
    challenge: DigestChallenge,
    *,
    username: str,
    password: str,
    method: str,
    uri: str,
    qop: str | None,
    nc: int,
    cnonce: str,
    body: bytes = b"",
) -> str:
    """The ``response`` directive: KD(H(A1), ...) of RFC 7616 §3.4.1-3.4.3."""
    h = challenge.hexdigest
    ha1 = h(f"{username}:{challenge.realm}:{password}".encode())
    if challenge.sess:
        ha1 = h(f"{ha1}:{challenge.nonce}:{cnonce}".encode())
    a2 = f"{method}:{uri}"
    if qop == "auth-int":
        a2 += ":" + h(body)
    if qop is None:
        return h(f"{ha1}:{challenge.nonce}:{h(a2.encode())}".encode())
    return h(f"{ha1}:{challenge.nonce}:{nc:08x}:{cnonce}:{qop}:{h(a2.encode())}".encode())


def digest_authorization(
    challenge: DigestChallenge,
    *,
    username: str,
    password: str,
    method: str,
    uri: str,
    qop: str | None,
    nc: int = 1,
    cnonce: str = "",
    body: bytes = b"",
) -> str:
    """The full ``Authorization`` header value answering *challenge*.

    *uri* is the request target (path and query); *body* is only hashed for ``auth-int``.
    """
    if (qop is None) != (not challenge.qop) or (qop is not None and qop not in challenge.qop):
        raise ValueError(f"qop {qop!r} was not offered (offered: {challenge.qop})")
    if qop is not None and not cnonce:
        raise ValueError("a cnonce is required when qop is used")
    if not 0 < nc <= 0xFFFFFFFF:
        raise ValueError("nonce count must fit 8 hex digits")
    response = digest_response(
        challenge,
        username=username,
        password=password,
        method=method,
        uri=uri,
        qop=qop,
        nc=nc,
        cnonce=cnonce,
        body=body,
    )
    parts = [
        _username_param(challenge, username),
        f"realm={_quote(challenge.realm)}",
        f"uri={_quote(uri)}",
    ]
    if challenge.algorithm is not None:
        parts.append(f"algorithm={challenge.algorithm}")
    parts.append(f"nonce={_quote(challenge.nonce)}")
    if qop is not None:
        parts += [f"nc={nc:08x}", f"cnonce={_quote(cnonce)}", f"qop={qop}"]
    parts.append(f"response={_quote(response)}")
    if challenge.opaque is not None:
        parts.append(f"opaque={_quote(challenge.opaque)}")
    if challenge.userhash:
        parts.append("userhash=true")
    return "Digest " + ", ".join(parts)


def choose_qop(challenge: DigestChallenge, *, body_known: bool, body_empty: bool) -> str | None:
    """auth-int when the server offers it and there is a body we can hash without consuming a
    stream; plain auth otherwise (the form every server accepts); auth-int if it is all we have.
    """
    if not challenge.qop:
        return None
    if "auth-int" in challenge.qop and (
        "auth" not in challenge.qop or (body_known and not body_empty)
    ):
        return "auth-int"
    return "auth"


# --- protection spaces and the middleware ------------------------------------------------------


class _Space:
    """One challenge we hold for an origin and the paths it covers (RFC 7616 §3.3 domain)."""

    __slots__ = ("challenge", "cnonce", "confirmed", "nc", "origin", "paths")

    def __init__(self, origin: URL, request_url: URL, challenge: DigestChallenge) -> None:
        self.origin = origin
        self.paths = _domain_paths(origin, request_url, challenge.domain)
        self.challenge = challenge
        self.nc = 0
        self.cnonce = ""
        self.confirmed = False

    def renew(self, request_url: URL, challenge: DigestChallenge) -> None:
        if challenge.nonce != self.challenge.nonce:
            # The nonce count is per nonce (RFC 7616 §3.4): a new nonce starts again at 1.
            self.nc = 0
            self.cnonce = ""
        self.paths = _domain_paths(self.origin, request_url, challenge.domain)
        self.challenge = challenge

    def covers(self, url: URL) -> int:
        """Length of the longest matching domain prefix, or -1 when *url* is outside."""
        path = url.raw_path or "/"
        return max((len(prefix) for prefix in self.paths if path.startswith(prefix)), default=-1)

    def next_use(self) -> tuple[int, str]:
        self.nc += 1
        if self.nc > 0xFFFFFFFF:
            # nc has 8 hex digits; after 2**32 uses the server sees a repeat, rejects it as a
            # replay and sends a fresh nonce, which starts the count again.
            self.nc = 1
        # With -sess, H(A1) is fixed by the first cnonce (RFC 2617 §3.2.2.2). Reusing it for
        # the nonce's lifetime keeps servers that cache the session key and servers that
        # recompute it per request in agreement; the nonce count still prevents replays.
        if not self.cnonce or not self.challenge.sess:
            self.cnonce = secrets.token_hex(16)
        return self.nc, self.cnonce


def _domain_paths(origin: URL, request_url: URL, domain: tuple[str, ...]) -> tuple[str, ...]:
    if not domain:
        return ("/",)  # RFC 7616 §3.3: no domain means the whole origin.
    paths: list[str] = []
    for item in domain:
        try:
            absolute = request_url.join(URL(item))
        except ValueError:
            continue
        # Entries on other origins are dropped: credentials stay with the challenging origin.
        if absolute.origin() == origin:
            paths.append(absolute.raw_path or "/")
    return tuple(paths) or (request_url.raw_path or "/",)


async def _body_for_auth_int(request: ClientRequest) -> bytes:
    body = request.body
    if isinstance(body, (bytes, bytearray)):
        return bytes(body)
    if isinstance(body, BytesPayload):
        return bytes(body.value)
    data = await body.as_bytes()
    if body.consumed:
        # Hashing drained a one-shot stream; send the collected bytes instead.
        await request.update_body(data)
    return data


def _in_memory_body(request: ClientRequest) -> bytes | None:
    body = request.body
    if isinstance(body, (bytes, bytearray)):
        return bytes(body)
    if isinstance(body, BytesPayload):
        return bytes(body.value)
    return None


class DigestAuthMiddleware:
    """HTTP Digest authentication (RFC 7616) as a client middleware.

    Answers a ``401`` carrying a ``Digest`` challenge by sending the request once more with
    ``Authorization: Digest ...``. With ``preemptive=True`` a challenge that led to success is
    reused up front for later requests in the same protection space (RFC 7616 §3.6). The
    header is only ever sent to the origin that issued the challenge.
    """

    __slots__ = ("_login", "_password", "_preemptive", "_spaces")

    def __init__(self, login: str, password: str, *, preemptive: bool = True) -> None:
        if login is None:
            raise ValueError("None is not allowed as login value")
        if password is None:
            raise ValueError("None is not allowed as password value")
        self._login = login
        self._password = password
        self._preemptive = preemptive
        self._spaces: dict[tuple[URL, str], _Space] = {}

    def __repr__(self) -> str:
        # Keeps the password out of logs and tracebacks.
        return (
            f"DigestAuthMiddleware(login={self._login!r}, password='***', "
            f"preemptive={self._preemptive!r})"
        )

    async def __call__(self, request: ClientRequest, handler: ClientHandlerType) -> ClientResponse:
        space = self._preemptive_space(request.url) if self._preemptive else None
        _drop_digest_header(request)
        sent_nonce: str | None = None
        if space is not None:
            await self._authorize(request, space)
            sent_nonce = space.challenge.nonce
        response = await handler(request)
        if response.status != 401:
            return response
        challenge = select_challenge(response.headers.getall(hdrs.WWW_AUTHENTICATE, ()))
        if challenge is None:
            return response
        if sent_nonce == challenge.nonce and not challenge.stale:
            # The server rejected credentials for a nonce it still accepts: a wrong password.
            self._store(request.url, challenge).confirmed = False
            return response
        space = self._store(request.url, challenge)
        response.release()
        await self._authorize(request, space)
        response = await handler(request)
        space.confirmed = response.status != 401
        return response

    def _preemptive_space(self, url: URL) -> _Space | None:
        origin = url.origin()
        best: _Space | None = None
        best_len = -1
        for space in self._spaces.values():
            if space.origin != origin or not space.confirmed:
                continue
            matched = space.covers(url)
            if matched >= best_len and matched >= 0:
                best, best_len = space, matched
        return best

    def _store(self, url: URL, challenge: DigestChallenge) -> _Space:
        key = (url.origin(), challenge.realm)
        space = self._spaces.pop(key, None)
        if space is None:
            space = _Space(key[0], url, challenge)
        else:
            space.renew(url, challenge)
        self._spaces[key] = space  # re-inserted last: the newest wins ties in lookups
        return space

    async def _authorize(self, request: ClientRequest, space: _Space) -> None:
        challenge = space.challenge
        known = _in_memory_body(request)
        # Hashing a compressed request would need the encoded bytes, which only exist later.
        qop = choose_qop(
            challenge,
            body_known=known is not None and not request.compress,
            body_empty=not known,
        )
        body = b""
        if qop == "auth-int":
            body = known if known is not None else await _body_for_auth_int(request)
        nc, cnonce = space.next_use() if qop is not None else (1, "")
        request.headers[hdrs.AUTHORIZATION] = digest_authorization(
            challenge,
            username=self._login,
            password=self._password,
            method=request.method,
            uri=request.url.raw_path_qs,
            qop=qop,
            nc=nc,
            cnonce=cnonce,
            body=body,
        )


def _drop_digest_header(request: ClientRequest) -> None:
    """Remove a Digest Authorization this middleware may have added on an earlier attempt.

    The header is recomputed for every send, so one left over could only be stale, or meant
    for another origin after the request was re-targeted.
    """
    current = request.headers.get(hdrs.AUTHORIZATION, "")
    if current[:7].lower() == "digest ":
        del request.headers[hdrs.AUTHORIZATION]
