"""An ASGI server side of HTTP Digest authentication (RFC 7616), for the client middleware tests.

Written independently of ``hyperclient.digest`` (its own header parsing and hashing) so the
two cannot share a mistake. Each test registers a :class:`DigestConfig` and gets a URL prefix;
every request under that prefix must carry valid Digest credentials. The config records what
the server saw (``log``) and keeps its nonces, so tests can assert on round trips, nonce
counts and which headers arrived.
"""

from __future__ import annotations

import hashlib
import hmac
import itertools
import json
import re
import secrets
from collections.abc import Awaitable, Callable, MutableMapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, unquote

Message = MutableMapping[str, Any]
Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]

_HASHES = {"MD5": "md5", "SHA-256": "sha256", "SHA-512-256": "sha512_256", "SHA-512": "sha512"}

# name = token / quoted-string, tolerant of spaces around "=" (RFC 9110 BWS).
_PARAM = re.compile(r'([A-Za-z0-9_*-]+)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^\s,"]+))')


def server_hash(algorithm: str, data: bytes) -> str:
    base = algorithm.upper().removesuffix("-SESS")
    return hashlib.new(_HASHES[base], data).hexdigest()


def parse_authorization(value: str) -> dict[str, str] | None:
    scheme, _, rest = value.partition(" ")
    if scheme.lower() != "digest":
        return None
    params: dict[str, str] = {}
    for name, quoted, token in _PARAM.findall(rest):
        params[name.lower()] = re.sub(r"\\(.)", r"\1", quoted) if quoted else token
    return params


@dataclass
class Seen:
    method: str
    target: str
    authorization: str | None
    status: int


@dataclass
class _Nonce:
    algorithm: str
    opaque: str
    last_nc: int = 0
    uses: int = 0


@dataclass
class DigestConfig:
    """How one protected area challenges and verifies."""

    #: One Digest challenge per algorithm, in this order (the server's preference).
    algorithms: tuple[str, ...] = ("MD5",)
    #: qop values offered; None sends the RFC 2069 form without qop.
    qop: tuple[str, ...] | None = ("auth",)
    users: dict[str, str] = field(default_factory=lambda: {"user": "passwd"})
    #: Paths relative to the prefix, sent as the challenge's domain (RFC 7616 §3.3).
    domain: tuple[str, ...] = ()
    userhash: bool = False
    #: A nonce answers stale=true after this many successful uses.
    stale_after: int | None = None
    #: Put each challenge on its own WWW-Authenticate line instead of one comma list.
    separate_lines: bool = False
    #: Raw challenges sent ahead of the Digest ones (other schemes, to exercise parsing).
    extra_challenges: tuple[str, ...] = ()
    #: Send algorithm= in the challenge (omitting it means MD5, as in RFC 2617).
    send_algorithm: bool = True
    #: Paths (relative to the prefix) served without authentication.
    public: tuple[str, ...] = ()
    prefix: str = ""
    realm: str = ""
    log: list[Seen] = field(default_factory=list)
    nonces: dict[str, _Nonce] = field(default_factory=dict)

    def statuses(self) -> list[int]:
        return [seen.status for seen in self.log]

    def challenge_headers(self, stale: bool) -> list[tuple[bytes, bytes]]:
        challenges = list(self.extra_challenges)
        for algorithm in self.algorithms:
            nonce = secrets.token_urlsafe(24)
            self.nonces[nonce] = _Nonce(algorithm, secrets.token_hex(8))
            parts = [f'realm="{self.realm}"']
            if self.qop is not None:
                parts.append(f'qop="{", ".join(self.qop)}"')
            if self.send_algorithm:
                parts.append(f"algorithm={algorithm}")
            parts += [f'nonce="{nonce}"', f'opaque="{self.nonces[nonce].opaque}"']
            if self.domain:
                parts.append(f'domain="{" ".join(self.prefix + d for d in self.domain)}"')
            if stale:
                parts.append("stale=true")
            if self.userhash:
                parts.append("userhash=true")
            parts.append("charset=UTF-8")
            challenges.append("Digest " + ", ".join(parts))
        if self.separate_lines:
            return [(b"www-authenticate", c.encode()) for c in challenges]
        return [(b"www-authenticate", ", ".join(challenges).encode())]

    def verify(self, method: str, target: str, body: bytes, header: str | None) -> str | None:
        """Returns "ok", "stale" (valid digest, expired nonce) or None (reject)."""
        params = parse_authorization(header or "")
        if params is None:
            return None
        state = self.nonces.get(params.get("nonce", ""))
        if state is None or params.get("realm") != self.realm or params.get("uri") != target:
            return None
        if params.get("opaque") != state.opaque:
            return None
        if params.get("algorithm", "MD5").upper() != state.algorithm.upper():
            return None
        user = self._user(params, state)
        if user is None:
            return None
        expected = self._expected(params, state, user, method, target, body)
        if expected is None or not hmac.compare_digest(expected, params.get("response", "")):
            return None
        if self.stale_after is not None and state.uses >= self.stale_after:
            return "stale"
        state.uses += 1
        if self.qop is not None:
            state.last_nc = int(params["nc"], 16)
        return "ok"

    def _user(self, params: dict[str, str], state: _Nonce) -> str | None:
        if params.get("userhash") == "true":
            wanted = params.get("username", "")
            for name in self.users:
                digest = server_hash(state.algorithm, f"{name}:{self.realm}".encode())
                if digest == wanted:
                    return name
            return None
        if "username*" in params:
            charset, _, encoded = params["username*"].partition("''")
            return unquote(encoded, encoding=charset) if charset.upper() == "UTF-8" else None
        name = params.get("username", "")
        return name if name in self.users else None

    def _expected(
        self,
        params: dict[str, str],
        state: _Nonce,
        user: str,
        method: str,
        target: str,
        body: bytes,
    ) -> str | None:
        if user not in self.users:
            return None
        alg = state.algorithm

        def h(text: str) -> str:
            return server_hash(alg, text.encode())

        nonce = params["nonce"]
        a1 = h(f"{user}:{self.realm}:{self.users[user]}")
        qop = params.get("qop")
        if self.qop is None:
            if qop is not None:
                return None
            return h(f"{a1}:{nonce}:{h(f'{method}:{target}')}")
        if qop not in self.qop or "cnonce" not in params:
            return None
        nc_text = params.get("nc", "")
        if not re.fullmatch(r"[0-9a-f]{8}", nc_text) or int(nc_text, 16) <= state.last_nc:
            return None  # RFC 7616 §3.4: a repeated nonce count is a replay
        cnonce = params["cnonce"]
        if alg.upper().endswith("-SESS"):
            a1 = h(f"{a1}:{nonce}:{cnonce}")
        a2 = f"{method}:{target}"
        if qop == "auth-int":
            a2 += ":" + server_hash(alg, body)
        return h(f"{a1}:{nonce}:{nc_text}:{cnonce}:{qop}:{h(a2)}")


class DigestApp:
    """Routes ``/d/<n>/...`` to the n-th registered config; records every request."""

    def __init__(self) -> None:
        self._configs: dict[str, DigestConfig] = {}
        self._ids = itertools.count(1)
        #: (method, target, Authorization or None) for every request, in arrival order.
        self.requests: list[tuple[str, str, str | None]] = []

    def protect(self, config: DigestConfig) -> str:
        """Register *config*; returns its path prefix (ending in "/")."""
        key = str(next(self._ids))
        config.prefix = f"/d/{key}/"
        config.realm = config.realm or f"area-{key}@127.0.0.1"
        self._configs[key] = config
        return config.prefix

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        body = await _read_body(receive)
        target = scope["raw_path"].decode("ascii")
        if scope["query_string"]:
            target += "?" + scope["query_string"].decode("ascii")
        authorization = _header(scope, b"authorization")
        self.requests.append((scope["method"], target, authorization))
        parts = scope["path"].split("/")
        config = self._configs.get(parts[2]) if len(parts) > 3 and parts[1] == "d" else None
        if config is None:
            await _respond(send, 404, [], b"not protected here")
            return
        await self._serve(config, scope, target, body, authorization, send)

    async def _serve(
        self,
        config: DigestConfig,
        scope: Scope,
        target: str,
        body: bytes,
        authorization: str | None,
        send: Send,
    ) -> None:
        method = scope["method"]
        relative = scope["path"][len(config.prefix) :]
        outcome = (
            "ok"
            if relative in config.public
            else config.verify(method, target, body, authorization)
        )
        if outcome != "ok":
            config.log.append(Seen(method, target, authorization, 401))
            headers = config.challenge_headers(stale=outcome == "stale")
            await _respond(send, 401, headers, b"authentication required")
            return
        query = dict(parse_qsl(scope["query_string"].decode("ascii")))
        if "redirect" in query:
            config.log.append(Seen(method, target, authorization, 302))
            await _respond(send, 302, [(b"location", query["redirect"].encode())], b"")
            return
        config.log.append(Seen(method, target, authorization, 200))
        params = parse_authorization(authorization or "") or {}
        payload = {"path": scope["path"], "qop": params.get("qop"), "nc": params.get("nc")}
        payload["body"] = body.decode("latin-1")
        headers = [(b"content-type", b"application/json")]
        await _respond(send, 200, headers, json.dumps(payload).encode())


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope["headers"]:
        if key == name:
            return bytes(value).decode("latin-1")
    return None


async def _read_body(receive: Receive) -> bytes:
    chunks: list[bytes] = []
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            break
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            break
    return b"".join(chunks)


async def _respond(
    send: Send, status: int, headers: list[tuple[bytes, bytes]], body: bytes
) -> None:
    headers = [*headers, (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})
