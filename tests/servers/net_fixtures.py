"""Fixtures for the TLS, proxy and resolver tests (loaded by conftest.py as a plugin).

- ``forward_proxy``, ``auth_proxy`` (Basic ``proxyuser:proxypass``), ``tls_proxy`` (an https://
  proxy whose certificate the test CA signed): proxy.py processes, one per test session.
- ``expired_server``, ``self_signed_server``, ``mtls_server`` (client certificate required),
  ``mtls12_server`` (the same, TLS 1.2 only): uvicorn with the test app.
- ``client_cert_context``: a client context trusting the test CA and presenting a certificate
  the test CA issued.
- ``dns_server``: a DNS server on 127.0.0.1 with a few names (see ``DNS_RECORDS``).
"""

from __future__ import annotations

import datetime
import ssl
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
import trustme

from .dns import DNSServer
from .forward_proxy import ForwardProxy
from .live import LiveServer
from .tls_servers import self_signed_cert, server_context, tls_live_server, write_cert

PROXY_USER, PROXY_PASSWORD = "proxyuser", "proxypass"

DNS_RECORDS = {
    "svc.hyperclient.test": ["127.0.0.1"],
    "dual.hyperclient.test": ["::1", "127.0.0.1"],
}


@pytest.fixture(scope="session")
def tls_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("tls-variants")


@pytest.fixture(scope="session")
def forward_proxy() -> Iterator[ForwardProxy]:
    proxy = ForwardProxy().start()
    yield proxy
    proxy.stop()


@pytest.fixture(scope="session")
def auth_proxy() -> Iterator[ForwardProxy]:
    proxy = ForwardProxy(basic_auth=f"{PROXY_USER}:{PROXY_PASSWORD}").start()
    yield proxy
    proxy.stop()


@pytest.fixture(scope="session")
def tls_proxy(tls_ca: trustme.CA, tls_dir: Path) -> Iterator[ForwardProxy]:
    certfile, keyfile = write_cert(tls_ca.issue_cert("127.0.0.1", "localhost"), tls_dir, "proxy")
    proxy = ForwardProxy(certfile=certfile, keyfile=keyfile).start()
    yield proxy
    proxy.stop()


@pytest.fixture(scope="session")
def expired_server(tls_ca: trustme.CA, tls_dir: Path) -> Iterator[LiveServer]:
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = tls_ca.issue_cert(
        "127.0.0.1",
        "localhost",
        not_before=now - datetime.timedelta(days=30),
        not_after=now - datetime.timedelta(days=1),
    )
    certfile, keyfile = write_cert(cert, tls_dir, "expired")
    server = tls_live_server(server_context(certfile, keyfile), certfile, keyfile)
    yield server
    server.stop()


@pytest.fixture(scope="session")
def self_signed_server(tls_dir: Path) -> Iterator[LiveServer]:
    certfile, keyfile = self_signed_cert(tls_dir)
    server = tls_live_server(server_context(certfile, keyfile), certfile, keyfile)
    yield server
    server.stop()


def _mtls_context(
    ca: trustme.CA, directory: Path, tls12: bool
) -> tuple[ssl.SSLContext, Path, Path]:
    name = "mtls12" if tls12 else "mtls"
    certfile, keyfile = write_cert(ca.issue_cert("127.0.0.1", "localhost"), directory, name)
    context = server_context(certfile, keyfile)
    context.verify_mode = ssl.CERT_REQUIRED
    context.load_verify_locations(cadata=ca.cert_pem.bytes().decode())
    if tls12:
        # Under TLS 1.2 the server checks the client certificate inside the handshake; under
        # TLS 1.3 only after it (RFC 8446 §4.4.2), when the client already sent its request.
        context.maximum_version = ssl.TLSVersion.TLSv1_2
    return context, certfile, keyfile


@pytest.fixture(scope="session")
def mtls_server(tls_ca: trustme.CA, tls_dir: Path) -> Iterator[LiveServer]:
    server = tls_live_server(*_mtls_context(tls_ca, tls_dir, tls12=False))
    yield server
    server.stop()


@pytest.fixture(scope="session")
def mtls12_server(tls_ca: trustme.CA, tls_dir: Path) -> Iterator[LiveServer]:
    server = tls_live_server(*_mtls_context(tls_ca, tls_dir, tls12=True))
    yield server
    server.stop()


@pytest.fixture
def client_cert_context(tls_ca: trustme.CA, ca_ssl_context: ssl.SSLContext) -> ssl.SSLContext:
    client_cert = tls_ca.issue_cert("client@hyperclient.test")
    client_cert.configure_cert(ca_ssl_context)
    return ca_ssl_context


@pytest.fixture
async def dns_server() -> AsyncIterator[DNSServer]:
    server = await DNSServer({name: list(ips) for name, ips in DNS_RECORDS.items()}).start()
    yield server
    server.close()
