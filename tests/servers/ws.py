"""The ``websockets`` library's server (an independent RFC 6455 implementation) for the
WebSocket integration tests.

:class:`WSServer` runs in the test's own event loop on 127.0.0.1, port 0. One handler serves
every connection and picks its behaviour from the request path, so a test names the scenario in
its URL (``/echo``, ``/close/4001/bye``, ``/fragments``, ...). What the server saw (subprotocols,
close codes, received messages, request headers) is recorded in :attr:`WSServer.seen`.
"""

from __future__ import annotations

import asyncio
import contextlib
import ssl as ssl_module
from collections.abc import Sequence
from dataclasses import dataclass, field
from http import HTTPStatus
from typing import Any

from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.datastructures import Headers
from websockets.exceptions import ConnectionClosed
from websockets.extensions.base import ServerExtensionFactory
from websockets.http11 import Request, Response
from yarl import URL


@dataclass
class Seen:
    """What the server observed, over all connections."""

    paths: list[str] = field(default_factory=list)
    headers: list[Headers] = field(default_factory=list)
    subprotocols: list[str | None] = field(default_factory=list)
    extensions: list[list[str]] = field(default_factory=list)
    messages: list[str | bytes] = field(default_factory=list)
    close_codes: list[int | None] = field(default_factory=list)
    close_reasons: list[str | None] = field(default_factory=list)
    closed: asyncio.Event = field(default_factory=asyncio.Event)


class WSServer:
    """``await WSServer(...).start()``, then ``url(path)``; ``await close()`` at the end."""

    def __init__(
        self,
        *,
        subprotocols: Sequence[str] | None = None,
        compression: str | None = "deflate",
        extensions: Sequence[ServerExtensionFactory] | None = None,
        ssl: ssl_module.SSLContext | None = None,
        max_size: int | None = 2**24,
    ) -> None:
        self._options: dict[str, Any] = {
            "subprotocols": list(subprotocols) if subprotocols else None,
            "compression": compression,
            "extensions": list(extensions) if extensions else None,
            "ssl": ssl,
            "max_size": max_size,
            "ping_interval": None,  # the tests decide when pings happen
            "close_timeout": 2,
            "process_request": self._process_request,
        }
        self._scheme = "wss" if ssl is not None else "ws"
        self._server: Server | None = None
        self.seen = Seen()
        self.port = 0

    async def start(self) -> WSServer:
        self._server = await serve(self._handler, "127.0.0.1", 0, **self._options)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    def url(self, path: str = "/echo") -> URL:
        return URL(f"{self._scheme}://127.0.0.1:{self.port}{path}", encoded=True)

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
            await asyncio.wait_for(self._server.wait_closed(), 10)

    # --- the scenarios ----------------------------------------------------------------------

    def _process_request(self, conn: ServerConnection, request: Request) -> Response | None:
        self.seen.headers.append(request.headers)
        if request.path.startswith("/reject"):
            # A plain HTTP answer instead of the upgrade.
            response = conn.respond(HTTPStatus.FORBIDDEN, "no websocket for you\n")
            response.headers["X-Reject-Reason"] = "test"
            return response
        return None

    async def _handler(self, ws: ServerConnection) -> None:
        assert ws.request is not None
        path = ws.request.path
        seen = self.seen
        seen.paths.append(path)
        seen.subprotocols.append(ws.subprotocol)
        extensions = ws.response.headers.get_all("Sec-WebSocket-Extensions") if ws.response else []
        seen.extensions.append(list(extensions))
        try:
            await self._scenario(ws, path)
        except ConnectionClosed:
            pass
        finally:
            seen.close_codes.append(ws.close_code)
            seen.close_reasons.append(ws.close_reason)
            seen.closed.set()

    async def _scenario(self, ws: ServerConnection, path: str) -> None:
        parts = path.split("?", 1)[0].strip("/").split("/")
        name = parts[0]
        if name == "echo":
            async for message in ws:
                self.seen.messages.append(message)
                await ws.send(message)
        elif name == "close":
            # /close/<code>/<reason>: the server starts the close handshake at once.
            code = int(parts[1]) if len(parts) > 1 else 1000
            reason = parts[2] if len(parts) > 2 else ""
            await ws.send("bye")
            await ws.close(code, reason)
        elif name == "close-after-message":
            message = await ws.recv()
            self.seen.messages.append(message)
            await ws.close(1000, "got it")
        elif name == "fragments":
            # One text and one binary message, each sent as several frames.
            await ws.send(["Hel", "lo, ", "wörld"])
            await ws.send([b"\x00\x01", b"\x02", b"\x03\x04"])
            await ws.wait_closed()
        elif name == "ping":
            # The server pings; the test checks that the pong came back.
            pong = await ws.ping(b"are you there")
            await asyncio.wait_for(pong, 5)
            await ws.send("pong received")
            await ws.wait_closed()
        elif name == "push":
            count = int(parts[1])
            for i in range(count):
                await ws.send(f"message {i}")
            await ws.wait_closed()
        elif name == "big":
            await ws.send(b"\xaa" * int(parts[1]))
            await ws.wait_closed()
        elif name == "silent":
            await ws.wait_closed()
        elif name == "drop":
            # End the TCP connection without a Close frame.
            await ws.send("dropping")
            ws.transport.abort()
        else:
            await ws.close(1008, f"unknown scenario {name}")


@contextlib.asynccontextmanager
async def running(**options: Any) -> Any:
    server = await WSServer(**options).start()
    try:
        yield server
    finally:
        await server.close()
