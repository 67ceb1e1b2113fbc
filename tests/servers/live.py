"""Run the test app under uvicorn (h11 backend) in a background thread with its own event loop.

The h11 backend is chosen on purpose: our response parser is built on llhttp (httptools), so a
server written against an independent HTTP/1.1 implementation catches framing mistakes that a
same-parser server would mirror.
"""

from __future__ import annotations

import asyncio
import socket
import threading
from pathlib import Path

import uvicorn
from yarl import URL

from .app import Canned, TestApp

_START_TIMEOUT = 10.0
_STOP_TIMEOUT = 10.0


class LiveServer:
    """A uvicorn server on 127.0.0.1 (or a Unix socket) in its own thread.

    ``url`` is the base URL (``http://127.0.0.1:PORT``, or ``https://...`` with TLS; for a Unix
    socket the host is ``localhost`` and only the path matters).
    """

    def __init__(
        self,
        app: TestApp,
        *,
        uds: Path | None = None,
        ssl_certfile: Path | None = None,
        ssl_keyfile: Path | None = None,
    ) -> None:
        self.app = app
        self.uds = uds
        if uds is not None:
            self._sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            self._sock.bind(str(uds))
            self.host, self.port = "localhost", 80
        else:
            self._sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            self._sock.bind(("127.0.0.1", 0))
            self.host, self.port = self._sock.getsockname()
        scheme = "https" if ssl_certfile else "http"
        self.url = URL.build(scheme=scheme, host=self.host, port=self.port)
        config = uvicorn.Config(
            app,
            http="h11",
            lifespan="off",
            loop="asyncio",
            log_config=None,
            log_level="warning",
            access_log=False,
            server_header=False,
            date_header=False,
            ssl_certfile=str(ssl_certfile) if ssl_certfile else None,
            ssl_keyfile=str(ssl_keyfile) if ssl_keyfile else None,
            timeout_graceful_shutdown=2,
        )
        self._server = uvicorn.Server(config)
        self._ready = threading.Event()
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name=f"uvicorn-{self.url}", daemon=True)

    def make_url(self, path: str) -> URL:
        """An absolute URL for *path* (which may carry a query string), already encoded."""
        return URL(str(self.url) + path, encoded=True)

    def canned(self, response: Canned) -> URL:
        """Register a fixed response and return its URL."""
        return self.make_url(self.app.canned(response))

    def start(self) -> LiveServer:
        self._thread.start()
        if not self._ready.wait(_START_TIMEOUT):
            raise RuntimeError(f"uvicorn did not start within {_START_TIMEOUT}s")
        if self._error is not None:
            raise RuntimeError("uvicorn failed to start") from self._error
        return self

    def stop(self) -> None:
        self._server.should_exit = True
        self._thread.join(_STOP_TIMEOUT)
        if self._thread.is_alive():
            raise RuntimeError(f"uvicorn did not stop within {_STOP_TIMEOUT}s")
        # uvicorn closes the sockets it was given; this only matters if it never started.
        self._sock.close()
        if self.uds is not None:
            self.uds.unlink(missing_ok=True)

    def _run(self) -> None:
        try:
            asyncio.run(self._serve())
        except BaseException as exc:
            self._error = exc
        finally:
            self._ready.set()

    async def _serve(self) -> None:
        task = asyncio.create_task(self._server.serve(sockets=[self._sock]))
        # uvicorn exposes readiness only as a flag; poll it inside the server's own loop.
        while not self._server.started and not task.done():
            await asyncio.sleep(0.005)
        self._ready.set()
        await task
