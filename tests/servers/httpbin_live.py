"""httpbin (when installed) under werkzeug's threaded server on 127.0.0.1, for tests whose
ready-made endpoints (/cookies, /redirect-to, /basic-auth ...) come from an independent
implementation."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from yarl import URL


@contextmanager
def serve_httpbin() -> Iterator[URL]:
    """Skips the calling test when httpbin or werkzeug cannot be imported."""
    httpbin = pytest.importorskip("httpbin")
    serving = pytest.importorskip("werkzeug.serving")
    server = serving.make_server("127.0.0.1", 0, httpbin.app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, name="httpbin", daemon=True)
    thread.start()
    try:
        yield URL.build(scheme="http", host="127.0.0.1", port=server.server_port)
    finally:
        server.shutdown()
        server.server_close()
        thread.join(10)
