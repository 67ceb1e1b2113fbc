"""The ASGI application every integration test talks to (served by uvicorn's h11 backend).

Plain ASGI, no framework: each endpoint is a small coroutine so the bytes a test depends on are
visible here. The app lives in the server thread's event loop; tests (in another thread) only
touch it through thread-safe operations: registering canned responses, reading counters and the
request log (dict/list assignments and appends are atomic under the GIL).
"""

from __future__ import annotations

import asyncio
import email.parser
import email.policy
import gzip
import hashlib
import itertools
import json
import zlib
from collections.abc import Awaitable, Callable, Iterable, MutableMapping, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, parse_qsl

import brotli  # type: ignore[import-untyped]
import zstandard

Message = MutableMapping[str, Any]
Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
Endpoint = Callable[["Request", Send], Awaitable[None]]
RawHeaders = list[tuple[bytes, bytes]]

#: The body that every /compressed/<codec> response decodes to.
COMPRESSED_PAYLOAD = b"hyperclient compressed body, " * 2000

#: A repeating pattern so /bytes/<n> bodies are cheap to build and to verify.
_PATTERN = bytes(range(256)) * 256


def pattern_bytes(n: int) -> bytes:
    """The first *n* bytes of the /bytes/<n> body."""
    whole, rest = divmod(n, len(_PATTERN))
    return _PATTERN * whole + _PATTERN[:rest]


def compress(codec: str, data: bytes) -> tuple[bytes, str]:
    """*data* encoded with *codec*, and the Content-Encoding token that names it."""
    if codec == "gzip":
        # mtime=0: the same input always gives the same bytes, so tests can compare them.
        return gzip.compress(data, mtime=0), "gzip"
    if codec == "deflate":
        return zlib.compress(data), "deflate"
    if codec == "deflate-raw":
        # Some servers send raw RFC 1951 data under "deflate"; clients accept both forms.
        obj = zlib.compressobj(wbits=-zlib.MAX_WBITS)
        return obj.compress(data) + obj.flush(), "deflate"
    if codec == "br":
        return brotli.compress(data), "br"
    if codec == "zstd":
        return zstandard.ZstdCompressor().compress(data), "zstd"
    raise ValueError(codec)


def decompress(encoding: str, data: bytes) -> bytes:
    """Undo a request body's Content-Encoding (used to verify ``compress=``)."""
    if encoding in ("gzip", "x-gzip"):
        return gzip.decompress(data)
    if encoding == "deflate":
        try:
            return zlib.decompress(data)
        except zlib.error:
            return zlib.decompress(data, -zlib.MAX_WBITS)
    if encoding == "br":
        return bytes(brotli.decompress(data))
    raise ValueError(encoding)


@dataclass
class Canned:
    """A response registered by a test: sent as is for every request to its path."""

    status: int = 200
    headers: Sequence[tuple[str, str]] = ()
    body: bytes = b""
    #: When given, the body is sent as these pieces without Content-Length (chunked on the wire).
    pieces: Sequence[bytes] | None = None


@dataclass
class SeenRequest:
    """What the server saw of one request (the log tests inspect)."""

    method: str
    path: str
    query_string: bytes
    headers: RawHeaders
    client_port: int | None


@dataclass
class Request:
    """One ASGI request, with helpers to read its body."""

    scope: Scope
    receive: Receive
    body_read: bool = False
    _body: bytearray = field(default_factory=bytearray)

    @property
    def path(self) -> str:
        return str(self.scope["path"])

    @property
    def query(self) -> dict[str, str]:
        return dict(parse_qsl(self.scope["query_string"].decode("latin-1")))

    @property
    def headers(self) -> RawHeaders:
        return list(self.scope["headers"])

    def header(self, name: bytes) -> bytes | None:
        for key, value in self.scope["headers"]:
            if key == name:
                return bytes(value)
        return None

    async def body(self) -> bytes:
        while not self.body_read:
            message = await self.receive()
            if message["type"] == "http.disconnect":
                break
            self._body += message.get("body", b"")
            self.body_read = not message.get("more_body", False)
        return bytes(self._body)

    async def pause(self, seconds: float) -> bool:
        """Wait *seconds*; False when the client went away meanwhile.

        Waiting on ``receive()`` (after the body is read it only ever yields http.disconnect)
        rather than sleeping means an abandoned slow response ends with its connection, so no
        server task outlives a test.
        """
        await self.body()
        try:
            message = await asyncio.wait_for(self.receive(), seconds)
        except asyncio.TimeoutError:
            return True
        return bool(message["type"] != "http.disconnect")


HeaderItems = Iterable[tuple[str | bytes, str | bytes]]


async def start(send: Send, status: int, headers: HeaderItems) -> None:
    raw = [(_b(k), _b(v)) for k, v in headers]
    await send({"type": "http.response.start", "status": status, "headers": raw})


async def body(send: Send, data: bytes, *, more: bool = False) -> None:
    await send({"type": "http.response.body", "body": data, "more_body": more})


async def respond(
    send: Send,
    status: int,
    data: bytes,
    headers: HeaderItems = (),
    *,
    content_type: str | None = "text/plain; charset=utf-8",
) -> None:
    all_headers = list(headers)
    if content_type is not None:
        all_headers.append(("content-type", content_type))
    all_headers.append(("content-length", str(len(data))))
    await start(send, status, all_headers)
    await body(send, data)


async def respond_json(send: Send, value: object, status: int = 200) -> None:
    await respond(send, status, json.dumps(value).encode(), content_type="application/json")


def _b(value: str | bytes) -> bytes:
    return value if isinstance(value, bytes) else value.encode("latin-1")


def _headers_json(headers: RawHeaders) -> list[list[str]]:
    return [[k.decode("latin-1"), v.decode("latin-1")] for k, v in headers]


class TestApp:
    """Routes by exact path, then by the first path segment (``/status/404`` → ``/status``)."""

    __test__ = False  # not a pytest test class

    def __init__(self) -> None:
        self.requests: list[SeenRequest] = []
        self.progress: dict[str, int] = {}
        self._canned: dict[str, Canned] = {}
        self._canned_ids = itertools.count()
        self._barriers: dict[str, tuple[list[int], asyncio.Event]] = {}
        self._holds: dict[str, asyncio.Event] = {}
        self.loop: asyncio.AbstractEventLoop | None = None
        self._routes: dict[str, Endpoint] = {
            "/echo": self.echo,
            "/upload": self.upload,
            "/status": self.status,
            "/bytes": self.bytes_,
            "/stream": self.stream,
            "/compressed": self.compressed,
            "/client": self.client,
            "/close": self.close,
            "/slow": self.slow,
            "/json": self.json_,
            "/flow": self.flow,
            "/barrier": self.barrier,
            "/hold": self.hold,
            "/canned": self.canned_endpoint,
            "/expect-reject": self.expect_reject,
        }

    def canned(self, response: Canned) -> str:
        """Register *response* and return the path that serves it."""
        path = f"/canned/{next(self._canned_ids)}"
        self._canned[path] = response
        return path

    def seen(self, path: str) -> list[SeenRequest]:
        return [r for r in self.requests if r.path == path]

    def release(self, key: str) -> None:
        """Let ``/hold/<key>`` finish its response (callable from any thread, before or after
        the request arrives)."""
        assert self.loop is not None, "the server has not handled a request yet"
        self.loop.call_soon_threadsafe(self._hold_event(key).set)

    def _hold_event(self, key: str) -> asyncio.Event:
        return self._holds.setdefault(key, asyncio.Event())

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        self.loop = asyncio.get_running_loop()
        client = scope.get("client")
        self.requests.append(
            SeenRequest(
                method=scope["method"],
                path=scope["path"],
                query_string=scope["query_string"],
                headers=list(scope["headers"]),
                client_port=client[1] if client else None,
            )
        )
        request = Request(scope, receive)
        path: str = scope["path"]
        endpoint = self._routes.get(path) or self._routes.get("/" + path.split("/")[1])
        if endpoint is None:
            await respond(send, 404, b"no such endpoint")
            return
        await endpoint(request, send)

    # -- introspection ----------------------------------------------------------------------

    async def echo(self, request: Request, send: Send) -> None:
        """Everything the server saw of the request, as JSON (the body as latin-1 text)."""
        data = await request.body()
        scope = request.scope
        client = scope.get("client")
        await respond_json(
            send,
            {
                "method": scope["method"],
                "path": scope["path"],
                "raw_path": scope["raw_path"].decode("latin-1"),
                "query_string": scope["query_string"].decode("latin-1"),
                "http_version": scope["http_version"],
                "headers": _headers_json(request.headers),
                "body": data.decode("latin-1"),
                "client_port": client[1] if client else None,
            },
        )

    async def upload(self, request: Request, send: Send) -> None:
        """Digest of the body (and its decoded forms) without echoing large bodies back."""
        data = await request.body()
        result: dict[str, Any] = {
            "method": request.scope["method"],
            "headers": _headers_json(request.headers),
            "length": len(data),
            "sha256": hashlib.sha256(data).hexdigest(),
        }
        encoding = request.header(b"content-encoding")
        if encoding:
            plain = decompress(encoding.decode("latin-1").strip().lower(), data)
            result["decoded_length"] = len(plain)
            result["decoded_sha256"] = hashlib.sha256(plain).hexdigest()
            data = plain
        content_type = (request.header(b"content-type") or b"").decode("latin-1")
        if content_type.startswith("application/x-www-form-urlencoded"):
            result["form"] = parse_qs(data.decode("latin-1"), keep_blank_values=True)
        elif content_type.startswith("multipart/form-data"):
            result["parts"] = _parse_multipart(content_type, data)
        await respond_json(send, result)

    async def client(self, request: Request, send: Send) -> None:
        """The client's (host, port): tells a test whether a connection was reused."""
        await request.body()
        host, port = request.scope.get("client") or (None, None)
        await respond_json(send, {"host": host, "port": port})

    # -- fixed responses --------------------------------------------------------------------

    async def status(self, request: Request, send: Send) -> None:
        await request.body()
        code = int(request.path.split("/")[2])
        if code in (204, 304) or code < 200:
            await start(send, code, [])
            await body(send, b"")
            return
        await respond(send, code, f"status {code}".encode())

    async def json_(self, request: Request, send: Send) -> None:
        await request.body()
        await respond_json(send, {"hello": "world", "numbers": [1, 2, 3]})

    async def close(self, request: Request, send: Send) -> None:
        """A response after which the server closes the connection (RFC 9112 §9.6)."""
        await request.body()
        await respond(send, 200, b"closing", [("connection", "close")])

    async def expect_reject(self, request: Request, send: Send) -> None:
        """A final response to an ``Expect: 100-continue`` request, without reading its body."""
        await respond(send, 417, b"no thanks", [("connection", "close")])

    async def canned_endpoint(self, request: Request, send: Send) -> None:
        await request.body()
        canned = self._canned.get(request.path)
        if canned is None:
            await respond(send, 404, b"no such canned response")
            return
        if canned.pieces is None:
            headers = [*canned.headers, ("content-length", str(len(canned.body)))]
            await start(send, canned.status, headers)
            await body(send, canned.body)
            return
        await start(send, canned.status, canned.headers)
        for piece in canned.pieces:
            await body(send, piece, more=True)
        await body(send, b"")

    # -- bodies -----------------------------------------------------------------------------

    async def bytes_(self, request: Request, send: Send) -> None:
        """``/bytes/<n>``: n pattern bytes; ``?chunked=1`` streams without Content-Length."""
        await request.body()
        size = int(request.path.split("/")[2])
        query = request.query
        piece = int(query.get("piece", 65536))
        headers: list[tuple[str, str]] = [("content-type", "application/octet-stream")]
        if query.get("chunked") != "1":
            headers.append(("content-length", str(size)))
        await start(send, 200, headers)
        data = pattern_bytes(size)
        for offset in range(0, size, piece):
            await body(send, data[offset : offset + piece], more=True)
        await body(send, b"")

    async def stream(self, request: Request, send: Send) -> None:
        """A chunked response: ``?n=<pieces>&size=<bytes>&delay=<s between pieces>``.

        Piece i is ``size`` copies of the letter ``"a" + i % 26`` so a test can tell pieces apart.
        Each ASGI send becomes exactly one HTTP chunk under h11.
        """
        query = request.query
        count = int(query.get("n", 5))
        size = int(query.get("size", 10))
        delay = float(query.get("delay", 0))
        await request.body()
        await start(send, 200, [("content-type", "text/plain; charset=utf-8")])
        for i in range(count):
            if delay and i and not await request.pause(delay):
                return
            await body(send, stream_piece(i, size), more=True)
        await body(send, b"")

    async def compressed(self, request: Request, send: Send) -> None:
        """``/compressed/<codec>``: COMPRESSED_PAYLOAD encoded; ``?chunked=1`` drops the length."""
        await request.body()
        data, token = compress(request.path.split("/")[2], COMPRESSED_PAYLOAD)
        headers = [("content-type", "text/plain; charset=utf-8"), ("content-encoding", token)]
        if request.query.get("chunked") == "1":
            await start(send, 200, headers)
            for offset in range(0, len(data), 1000):
                await body(send, data[offset : offset + 1000], more=True)
            await body(send, b"")
            return
        await respond(send, 200, data, headers, content_type=None)

    # -- timing -----------------------------------------------------------------------------

    async def slow(self, request: Request, send: Send) -> None:
        """``?head=<s>`` before the head, then ``?pieces=<n>`` body pieces ``?gap=<s>`` apart."""
        query = request.query
        if not await request.pause(float(query.get("head", 0))):
            return
        pieces = int(query.get("pieces", 1))
        gap = float(query.get("gap", 0))
        await start(send, 200, [("content-type", "text/plain; charset=utf-8")])
        for i in range(pieces):
            if i and not await request.pause(gap):
                return
            await body(send, f"piece {i}\n".encode(), more=True)
        await body(send, b"")

    async def flow(self, request: Request, send: Send) -> None:
        """``/flow/<key>?total=<n>``: streams n bytes, counting in ``progress[key]`` what was
        handed to uvicorn. uvicorn's send() blocks while the socket is not writable, so the
        counter stalls when the client stops reading (that is how flow control is observed).
        """
        key = request.path.split("/")[2]
        total = int(request.query.get("total", 1 << 26))
        piece = pattern_bytes(1 << 16)
        self.progress[key] = 0
        await request.body()
        await start(send, 200, [("content-length", str(total))])
        sent = 0
        while sent < total:
            chunk = piece[: total - sent]
            await body(send, chunk, more=True)
            sent += len(chunk)
            self.progress[key] = sent
        await body(send, b"")

    async def barrier(self, request: Request, send: Send) -> None:
        """``/barrier/<key>?n=<k>``: no response until k requests with this key are in flight,
        so a test can hold k connections open at once without sleeping.
        """
        key = request.path.split("/")[2]
        needed = int(request.query.get("n", 2))
        await request.body()
        ports, event = self._barriers.setdefault(key, ([], asyncio.Event()))
        client = request.scope.get("client")
        ports.append(client[1] if client else 0)
        if len(ports) >= needed:
            event.set()
        try:
            await asyncio.wait_for(event.wait(), 10)
        except asyncio.TimeoutError:
            await respond(send, 504, b"barrier not reached")
            return
        await respond_json(send, {"port": client[1] if client else None})

    async def hold(self, request: Request, send: Send) -> None:
        """``/hold/<key>``: the head and half the body now, the rest once the test calls
        ``release(key)``. The body is the client's port, so the test learns which connection
        carried it; its end decides when the client may pool the connection.
        """
        key = request.path.split("/")[2]
        await request.body()
        client = request.scope.get("client")
        data = str(client[1] if client else 0).encode()
        await start(send, 200, [("content-length", str(len(data) + 1))])
        await body(send, b"#", more=True)
        try:
            await asyncio.wait_for(self._hold_event(key).wait(), 10)
        except asyncio.TimeoutError:
            return
        await body(send, data)


def stream_piece(index: int, size: int) -> bytes:
    """The body of piece *index* of a /stream response."""
    return bytes([ord("a") + index % 26]) * size


def _parse_multipart(content_type: str, data: bytes) -> list[dict[str, Any]]:
    """The parts of a multipart/form-data body, via the stdlib MIME parser (RFC 7578)."""
    parser = email.parser.BytesParser(policy=email.policy.HTTP)
    message = parser.parsebytes(f"Content-Type: {content_type}\r\n\r\n".encode() + data)
    parts = []
    for part in message.iter_parts():
        payload = part.get_payload(decode=True)
        data = payload if isinstance(payload, bytes) else b""
        parts.append(
            {
                "name": part.get_param("name", header="content-disposition"),
                "filename": part.get_filename(),
                "content_type": part.get("content-type"),
                "content_transfer_encoding": part.get("content-transfer-encoding"),
                "data": data.decode("latin-1"),
            }
        )
    return parts
