"""TLS servers with unusual certificates or policies, for the TLS tests.

- ``tls_live_server``: the usual ASGI test app under uvicorn, with a server SSLContext built by
  the test (expired or self-signed certificates, client certificates required, TLS 1.2 only).
- ``self_signed_cert``: a leaf certificate signed by its own key (no CA), via ``cryptography``.
- ``BlockingTLSServer``: a thread with plain blocking ``ssl`` sockets that answers one request
  per connection and then either reports how the client closed (close_notify or not) or never
  answers the client's close_notify. uvicorn cannot be told to do either.
"""

from __future__ import annotations

import datetime
import ipaddress
import socket
import ssl
import threading
from pathlib import Path

import trustme
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from .app import TestApp
from .live import LiveServer


def write_cert(cert: trustme.LeafCert, directory: Path, name: str) -> tuple[Path, Path]:
    """The certificate chain and key of *cert* as PEM files in *directory*."""
    certfile, keyfile = directory / f"{name}.pem", directory / f"{name}.key"
    certfile.write_bytes(b"".join(pem.bytes() for pem in cert.cert_chain_pems))
    keyfile.write_bytes(cert.private_key_pem.bytes())
    return certfile, keyfile


def server_context(certfile: Path, keyfile: Path) -> ssl.SSLContext:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(str(certfile), str(keyfile))
    return context


def tls_live_server(context: ssl.SSLContext, certfile: Path, keyfile: Path) -> LiveServer:
    """The test app over TLS with *context* (the files only make LiveServer choose https)."""
    server = LiveServer(TestApp(), ssl_certfile=certfile, ssl_keyfile=keyfile)
    # uvicorn builds its context from this factory when the server starts.
    server._server.config.ssl_context_factory = lambda config, default: context
    return server.start()


def self_signed_cert(directory: Path) -> tuple[Path, Path]:
    """A certificate for 127.0.0.1 and localhost that is its own issuer."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "hyperclient self-signed")])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=30))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
            ),
            critical=False,
        )
        .sign(key, hashes.SHA256())
    )
    certfile, keyfile = directory / "self-signed.pem", directory / "self-signed.key"
    certfile.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    keyfile.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return certfile, keyfile


_RESPONSE = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Type: text/plain\r\n\r\nok"


class BlockingTLSServer:
    """Answers ``200 ok`` to one request per connection, then (``answer_close=True``) records
    whether the client closed with a TLS close_notify ("close_notify") or just dropped the
    connection ("abrupt"), or (``answer_close=False``) ignores the client's close_notify and
    keeps the socket open until ``stop()``."""

    def __init__(self, context: ssl.SSLContext, *, answer_close: bool = True) -> None:
        self._context = context
        self._answer_close = answer_close
        self._listener = socket.socket()
        self._listener.bind(("127.0.0.1", 0))
        self._listener.listen(8)
        self._listener.settimeout(0.2)
        self.port: int = self._listener.getsockname()[1]
        self.outcomes: list[str] = []
        self.closed = threading.Event()  # an outcome was recorded
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, name="blocking-tls", daemon=True)

    def start(self) -> BlockingTLSServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(10)
        self._listener.close()

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                raw, _ = self._listener.accept()
            except TimeoutError:
                continue
            raw.settimeout(10)
            try:
                conn = self._context.wrap_socket(raw, server_side=True, suppress_ragged_eofs=False)
            except (ssl.SSLError, OSError):
                raw.close()
                continue
            with conn:
                self._handle(conn)

    def _handle(self, conn: ssl.SSLSocket) -> None:
        data = b""
        while b"\r\n\r\n" not in data:
            chunk = conn.recv(65536)
            if not chunk:
                return
            data += chunk
        conn.sendall(_RESPONSE)
        if not self._answer_close:
            self._stop.wait(30)
            return
        try:
            outcome = "close_notify" if conn.recv(65536) == b"" else "data"
        except (ssl.SSLError, OSError):
            outcome = "abrupt"
        self.outcomes.append(outcome)
        self.closed.set()
