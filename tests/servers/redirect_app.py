"""An ASGI app for the session-feature tests: redirects, Set-Cookie, Basic auth checks.

Every request is logged (method, path, query, headers, body, client port), so a test can see
what each hop of a redirect chain carried. Endpoints take their instructions from the query
string, so one app serves every test:

- ``/redirect/<status>?to=<location>``: a redirect with that Location (sent verbatim: the value
  is taken from the raw query string, so a test can send bytes yarl would requote);
  ``&body=<n>`` adds an n-byte body (``&chunked=1`` without Content-Length), its second half
  ``&delay=<s>`` after the first;
  ``&cookie=<Set-Cookie value>`` (repeatable) sets cookies; no ``to`` means no Location.
- ``/chain/<n>?status=<code>``: redirects to ``/chain/<n-1>`` until 0, which echoes; every
  hop sets the cookie ``hop<n>=<n>``.
- ``/loop``: redirects to itself, forever.
- ``/set?cookie=<Set-Cookie value>`` (repeatable): 200 with those Set-Cookie lines.
- ``/basic?user=<u>&password=<p>``: 200 when the Basic credentials match, else 401.
- anything else: echo (JSON of what the server saw).
"""

from __future__ import annotations

import asyncio
import base64
import json
from collections.abc import Awaitable, Callable, MutableMapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl, unquote

Message = MutableMapping[str, Any]
Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]


@dataclass
class Hop:
    """What the server saw of one request."""

    method: str
    path: str
    raw_path: str
    query: str
    headers: list[tuple[str, str]]
    body: bytes
    client_port: int | None

    def header(self, name: str) -> str | None:
        values = [v for k, v in self.headers if k == name.lower()]
        assert len(values) <= 1, f"{name} sent {len(values)} times"
        return values[0] if values else None

    def cookies(self) -> dict[str, str]:
        """The Cookie header as a dict (no unquoting: tests check the exact bytes)."""
        line = self.header("cookie")
        if not line:
            return {}
        pairs = (item.strip().partition("=") for item in line.split(";"))
        return {name: value for name, _, value in pairs}


class RedirectApp:
    __test__ = False

    def __init__(self) -> None:
        self.log: list[Hop] = []

    def hops(self, prefix: str) -> list[Hop]:
        """The logged requests whose path starts with *prefix*, oldest first."""
        return [hop for hop in self.log if hop.path.startswith(prefix)]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        if scope["path"].startswith("/early/"):
            # /early/<status>?to=<location>: the redirect goes out before the request body is
            # read, as servers answer requests they can judge by the head alone.
            location = _raw_param(scope["query_string"].decode("latin-1"), "to") or "/"
            status = int(scope["path"].split("/")[2])
            await _respond(send, status, b"", [("location", location), ("connection", "close")])
            return
        body = await _read_body(receive)
        client = scope.get("client")
        hop = Hop(
            scope["method"],
            scope["path"],
            scope["raw_path"].decode("latin-1"),
            scope["query_string"].decode("latin-1"),
            [(k.decode("latin-1"), v.decode("latin-1")) for k, v in scope["headers"]],
            body,
            client[1] if client else None,
        )
        self.log.append(hop)
        query = parse_qsl(hop.query, keep_blank_values=True)
        first, _, rest = hop.path.lstrip("/").partition("/")
        if first == "redirect" and rest.isdigit():
            await self._redirect(send, int(rest), hop.query, query)
        elif first == "chain" and rest.isdigit():
            await self._chain(send, int(rest), dict(query), hop)
        elif first == "loop":
            await _respond(send, 302, b"", [("location", hop.path)])
        elif first == "set":
            await _respond(
                send, 200, b"set", [("set-cookie", v) for k, v in query if k == "cookie"]
            )
        elif first == "basic":
            await self._basic(send, dict(query), hop)
        else:
            await _respond_json(send, _echo(hop))

    async def _redirect(
        self, send: Send, status: int, raw_query: str, query: list[tuple[str, str]]
    ) -> None:
        headers = [("set-cookie", v) for k, v in query if k == "cookie"]
        location = _raw_param(raw_query, "to")
        if location is not None:
            headers.append(("location", location))
        options = dict(query)
        size = int(options.get("body", 0))
        data = b"r" * size
        delay = float(options.get("delay", 0))
        if options.get("chunked") != "1":
            headers.append(("content-length", str(size)))
        await send({"type": "http.response.start", "status": status, "headers": _b(headers)})
        half = size // 2
        await send({"type": "http.response.body", "body": data[:half], "more_body": True})
        if delay:
            # The rest arrives after the head was parsed: the client must read it or close.
            await asyncio.sleep(delay)
        await send({"type": "http.response.body", "body": data[half:]})

    async def _chain(self, send: Send, n: int, query: dict[str, str], hop: Hop) -> None:
        cookie = [("set-cookie", f"hop{n}={n}; Path=/")]
        if n <= 0:
            await _respond_json(send, _echo(hop), cookie)
            return
        status = int(query.get("status", 302))
        location = f"/chain/{n - 1}?status={status}"
        await _respond(send, status, b"", [*cookie, ("location", location)])

    async def _basic(self, send: Send, query: dict[str, str], hop: Hop) -> None:
        expected = f"{query.get('user', '')}:{query.get('password', '')}".encode()
        token = "Basic " + base64.b64encode(expected).decode()
        if hop.header("authorization") == token:
            await _respond_json(send, {"authenticated": True})
        else:
            await _respond(send, 401, b"no", [("www-authenticate", 'Basic realm="test"')])


def _raw_param(raw_query: str, name: str) -> str | None:
    """A query parameter percent-decoded once, keeping '+' (a Location may contain it)."""
    for item in raw_query.split("&"):
        key, eq, value = item.partition("=")
        if key == name and eq:
            return unquote(value)
    return None


def _echo(hop: Hop) -> dict[str, Any]:
    return {
        "method": hop.method,
        "path": hop.path,
        "raw_path": hop.raw_path,
        "query": hop.query,
        "headers": hop.headers,
        "body": hop.body.decode("latin-1"),
        "client_port": hop.client_port,
    }


async def _read_body(receive: Receive) -> bytes:
    data = bytearray()
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            break
        data += message.get("body", b"")
        if not message.get("more_body", False):
            break
    return bytes(data)


def _b(headers: list[tuple[str, str]]) -> list[tuple[bytes, bytes]]:
    return [(k.encode("latin-1"), v.encode("latin-1")) for k, v in headers]


async def _respond(
    send: Send, status: int, data: bytes, headers: list[tuple[str, str]] | None = None
) -> None:
    raw = [*(headers or []), ("content-length", str(len(data)))]
    await send({"type": "http.response.start", "status": status, "headers": _b(raw)})
    await send({"type": "http.response.body", "body": data})


async def _respond_json(
    send: Send, value: object, headers: list[tuple[str, str]] | None = None
) -> None:
    raw = [*(headers or []), ("content-type", "application/json")]
    await _respond(send, 200, json.dumps(value).encode(), raw)
