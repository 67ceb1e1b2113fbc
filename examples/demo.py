"""hyperclient in thirty seconds: a GET, a JSON POST and a streamed download with a progress bar.

Run with ``make demo``. The demo starts its own HTTP server (uvicorn, on 127.0.0.1 and a free
port, in a background thread), so it needs no network access.
"""

from __future__ import annotations

import asyncio
import json
import socket
import sys
import threading
import time
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

import uvicorn

import hyperclient

DOWNLOAD_SIZE = 20 * 1024 * 1024
PIECE = bytes(range(256)) * 256  # 64 KiB

Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]


# -- the local server ---------------------------------------------------------------------------


async def app(scope: MutableMapping[str, Any], receive: Receive, send: Send) -> None:
    """A three-endpoint ASGI app: ``/hello``, ``/echo`` (JSON) and ``/download``."""
    if scope["type"] != "http":
        return
    body = b""
    more = True
    while more:
        message = await receive()
        body += message.get("body", b"")
        more = message.get("more_body", False)
    if scope["path"] == "/download":
        await _send_download(send)
        return
    if scope["path"] == "/echo":
        payload = {"you_sent": json.loads(body or b"null"), "method": scope["method"]}
        data, content_type = json.dumps(payload).encode(), b"application/json"
    else:
        data, content_type = b"Hello from a local server!\n", b"text/plain; charset=utf-8"
    headers = [(b"content-type", content_type), (b"content-length", str(len(data)).encode())]
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    await send({"type": "http.response.body", "body": data})


async def _send_download(send: Send) -> None:
    headers = [
        (b"content-type", b"application/octet-stream"),
        (b"content-length", str(DOWNLOAD_SIZE).encode()),
    ]
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    for _ in range(DOWNLOAD_SIZE // len(PIECE)):
        await send({"type": "http.response.body", "body": PIECE, "more_body": True})
    await send({"type": "http.response.body", "body": b""})


class LocalServer:
    """uvicorn in a daemon thread, bound to a free port chosen by the kernel."""

    def __init__(self) -> None:
        self._sock = socket.socket()
        self._sock.bind(("127.0.0.1", 0))
        self.port: int = self._sock.getsockname()[1]
        config = uvicorn.Config(app, log_level="warning", lifespan="off", log_config=None)
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        asyncio.run(self._server.serve(sockets=[self._sock]))

    def __enter__(self) -> LocalServer:
        self._thread.start()
        deadline = time.monotonic() + 10
        while not self._server.started:
            if time.monotonic() > deadline or not self._thread.is_alive():
                raise RuntimeError("the demo server did not start")
            time.sleep(0.01)
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._server.should_exit = True
        self._thread.join(10)


# -- the client ---------------------------------------------------------------------------------


def progress_bar(done: int, total: int, started: float, width: int = 30) -> str:
    filled = width * done // total
    elapsed = max(time.perf_counter() - started, 1e-9)
    rate = done / elapsed / 1e6
    bar = "#" * filled + "-" * (width - filled)
    return f"\r  [{bar}] {done / 2**20:5.1f}/{total / 2**20:.0f} MiB  {rate:7.1f} MB/s"


async def main(base: str) -> None:
    async with hyperclient.ClientSession(base_url=base) as session:
        print("1. GET /hello")
        async with session.get("hello") as resp:
            print(f"   {resp.status} {resp.reason}, HTTP/{resp.version.major}.{resp.version.minor}")
            for name in ("Content-Type", "Content-Length"):
                print(f"   {name}: {resp.headers.get(name)}")
            print(f"   body: {(await resp.text()).strip()!r}")

        print("\n2. POST /echo with json=")
        async with session.post("echo", json={"fruit": "apple", "count": 3}) as resp:
            print(f"   {resp.status}, the server saw: {await resp.json()}")

        print(f"\n3. streamed GET /download ({DOWNLOAD_SIZE / 2**20:.0f} MiB)")
        async with session.get("download") as resp:
            total = int(resp.headers.get("Content-Length", DOWNLOAD_SIZE))
            done, started, drawn = 0, time.perf_counter(), 0.0
            async for chunk in resp.content.iter_chunked(256 * 1024):
                done += len(chunk)
                # Redraw at most 20 times a second: the terminal is slower than the socket.
                if time.perf_counter() - drawn > 0.05 or done == total:
                    drawn = time.perf_counter()
                    sys.stdout.write(progress_bar(done, total, started))
                    sys.stdout.flush()
            print(f"\n   received {done:,} bytes")


if __name__ == "__main__":
    with LocalServer() as server:
        print(
            f"hyperclient {hyperclient.__version__} demo, server at http://127.0.0.1:{server.port}/\n"
        )
        asyncio.run(main(f"http://127.0.0.1:{server.port}/"))
