"""Shared fixtures: real servers on 127.0.0.1 (and a Unix socket) for the integration tests.

- ``http_server``: the ASGI test app under uvicorn (h11 backend), one per test session.
- ``https_server`` with ``tls_ca`` / ``ca_ssl_context``: the same app over TLS, with a trustme CA.
- ``unix_server``: the same app on a Unix socket (``.uds`` is the path).
- ``raw_server``: a factory for scripted asyncio servers (protocol misbehaviour), per test.
- ``session``: a ``hyperclient.ClientSession`` closed at the end of the test.

Tests run on asyncio's own loop; the modules in ``BOTH_LOOPS`` (the WebSocket client, framing,
the pool, bodies, timeouts, cancellation and hostile servers) run on uvloop as well, since
uvloop's transports call the protocols differently (reads, writes, TLS) and it is the loop the
benchmarks use. With ``HYPERCLIENT_TEST_UVLOOP=all`` in the environment every module runs on
both.
"""

from __future__ import annotations

import asyncio
import os
import socket
import ssl
import tempfile
from collections.abc import AsyncIterator, Callable, Iterator, Mapping
from pathlib import Path

import pytest
import trustme

import hyperclient
from servers import LiveServer, RawServerFactory, TestApp

BOTH_LOOPS = frozenset(
    {
        "test_cancellation",
        "test_decompression_bombs",
        "test_framing",
        "test_hostile_framing",
        "test_hostile_pool",
        "test_hostile_time",
        "test_plain_calls",
        "test_pool",
        "test_request_bodies",
        "test_response_api",
        "test_streams",
        "test_timeouts_errors",
        "test_websocket_client",
        "test_websocket_deflate",
        "test_websocket_violations",
    }
)


def pytest_asyncio_loop_factories(
    config: pytest.Config, item: pytest.Item
) -> Mapping[str, Callable[[], asyncio.AbstractEventLoop]]:
    factories: dict[str, Callable[[], asyncio.AbstractEventLoop]] = {
        "asyncio": asyncio.new_event_loop
    }
    module = getattr(item, "module", None)
    everywhere = os.environ.get("HYPERCLIENT_TEST_UVLOOP") == "all"
    if module is not None and (everywhere or module.__name__ in BOTH_LOOPS):
        import uvloop

        factories["uvloop"] = uvloop.new_event_loop
    return factories


@pytest.fixture(scope="session")
def http_server() -> Iterator[LiveServer]:
    server = LiveServer(TestApp()).start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def tls_ca() -> trustme.CA:
    return trustme.CA()


@pytest.fixture(scope="session")
def https_server(
    tls_ca: trustme.CA, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[LiveServer]:
    directory = tmp_path_factory.mktemp("tls")
    cert = tls_ca.issue_cert("127.0.0.1", "localhost")
    certfile, keyfile = directory / "cert.pem", directory / "key.pem"
    for pem in cert.cert_chain_pems:
        pem.write_to_path(str(certfile), append=True)
    cert.private_key_pem.write_to_path(str(keyfile))
    server = LiveServer(TestApp(), ssl_certfile=certfile, ssl_keyfile=keyfile).start()
    yield server
    server.stop()


@pytest.fixture
def ca_ssl_context(tls_ca: trustme.CA) -> ssl.SSLContext:
    """A client context that verifies certificates against the test CA (and only it)."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.load_verify_locations(cadata=tls_ca.cert_pem.bytes().decode())
    return context


@pytest.fixture(scope="session")
def unix_server() -> Iterator[LiveServer]:
    # A short directory: AF_UNIX paths are limited to about 100 bytes.
    with tempfile.TemporaryDirectory(prefix="hc-") as directory:
        server = LiveServer(TestApp(), uds=Path(directory) / "http.sock").start()
        yield server
        server.stop()


@pytest.fixture
async def raw_server() -> AsyncIterator[RawServerFactory]:
    factory = RawServerFactory()
    yield factory
    await factory.close()


@pytest.fixture
async def session() -> AsyncIterator[hyperclient.ClientSession]:
    async with hyperclient.ClientSession() as client:
        yield client


@pytest.fixture
def full_backlog() -> Iterator[int]:
    """A port on 127.0.0.1 where connects hang in SYN-SENT: a listener that never accepts, with
    backlog 0, and its accept queue already filled (Linux then drops further SYNs)."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(0)
    port: int = listener.getsockname()[1]
    fillers = []
    for _ in range(3):
        filler = socket.socket()
        filler.setblocking(False)
        try:
            filler.connect(("127.0.0.1", port))
        except BlockingIOError:
            pass
        fillers.append(filler)
    yield port
    for filler in fillers:
        filler.close()
    listener.close()


# TLS variants, forward proxies (proxy.py) and a DNS server, for the connection tests.
pytest_plugins = ("servers.net_fixtures",)
