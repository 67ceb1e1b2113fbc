"""TLS: the ssl= argument (connector default, per-request override), certificate pinning, the
deprecated verify_ssl / ssl_context / fingerprint forms, server_hostname, context caching,
certificate and handshake errors, client certificates, and how TLS connections are closed.

Servers: the test app under uvicorn with trustme certificates (valid, expired, self-signed,
client certificate required), and a blocking ``ssl`` server for the close_notify checks.
"""

from __future__ import annotations

import asyncio
import hashlib
import socket
import ssl
import warnings
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
import trustme

import hyperclient
from hyperclient import tls
from hyperclient.abc import AbstractResolver, ResolveResult
from servers import LiveServer
from servers.tls_servers import BlockingTLSServer, server_context, tls_live_server, write_cert

# OpenSSL's X509_V_ERR_* codes, as ssl.SSLCertVerificationError.verify_code reports them.
CERT_HAS_EXPIRED = 10
SELF_SIGNED_LEAF = 18
UNKNOWN_ISSUER = 20
HOSTNAME_MISMATCH = 62


def server_fingerprint(server: LiveServer) -> bytes:
    """SHA-256 of the DER certificate the server presents."""
    pem = ssl.get_server_certificate((server.host, server.port))
    return hashlib.sha256(ssl.PEM_cert_to_DER_cert(pem)).digest()


class FixedResolver(AbstractResolver):
    """Every name resolves to 127.0.0.1."""

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        return [
            ResolveResult(
                hostname=host, host="127.0.0.1", port=port, family=socket.AF_INET, proto=0, flags=0
            )
        ]

    async def close(self) -> None:
        pass


def assert_certificate_error(exc: BaseException, verify_code: int) -> None:
    assert isinstance(exc, hyperclient.ClientConnectorCertificateError)
    assert isinstance(exc, ssl.CertificateError)
    assert isinstance(exc, hyperclient.ClientSSLError)
    assert isinstance(exc, hyperclient.ClientConnectorError)
    cause = exc.certificate_error
    assert isinstance(cause, ssl.SSLCertVerificationError)
    assert cause.verify_code == verify_code


# -- certificate errors ----------------------------------------------------------------------------


async def test_unknown_ca_is_a_certificate_error(
    https_server: LiveServer, session: hyperclient.ClientSession
) -> None:
    with pytest.raises(hyperclient.ClientConnectorCertificateError) as info:
        await session.get(https_server.make_url("/json"))
    assert_certificate_error(info.value, UNKNOWN_ISSUER)


async def test_expired_certificate_is_a_certificate_error(
    expired_server: LiveServer, session: hyperclient.ClientSession, ca_ssl_context: ssl.SSLContext
) -> None:
    with pytest.raises(hyperclient.ClientConnectorCertificateError) as info:
        await session.get(expired_server.make_url("/json"), ssl=ca_ssl_context)
    assert_certificate_error(info.value, CERT_HAS_EXPIRED)
    assert info.value.host == "127.0.0.1"
    assert info.value.port == expired_server.port


async def test_self_signed_certificate_is_a_certificate_error(
    self_signed_server: LiveServer, session: hyperclient.ClientSession
) -> None:
    with pytest.raises(hyperclient.ClientConnectorCertificateError) as info:
        await session.get(self_signed_server.make_url("/json"))
    assert_certificate_error(info.value, SELF_SIGNED_LEAF)


async def test_wrong_host_is_a_certificate_error(
    https_server: LiveServer, ca_ssl_context: ssl.SSLContext
) -> None:
    # The certificate names 127.0.0.1 and localhost; this name resolves to the same server.
    connector = hyperclient.TCPConnector(resolver=FixedResolver(), ssl=ca_ssl_context)
    async with hyperclient.ClientSession(connector=connector) as client:
        with pytest.raises(hyperclient.ClientConnectorCertificateError) as info:
            await client.get(f"https://wrong.hyperclient.test:{https_server.port}/json")
    assert_certificate_error(info.value, HOSTNAME_MISMATCH)
    assert info.value.host == "wrong.hyperclient.test"


@pytest.mark.parametrize("server", ["expired_server", "self_signed_server", "https_server"])
async def test_ssl_false_accepts_any_certificate(
    server: str, request: pytest.FixtureRequest, session: hyperclient.ClientSession
) -> None:
    live: LiveServer = request.getfixturevalue(server)
    async with session.get(live.make_url("/json"), ssl=False) as resp:
        assert resp.status == 200


async def test_handshake_failure_that_is_not_about_certificates_is_an_ssl_error(
    https_server: LiveServer, session: hyperclient.ClientSession
) -> None:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    context.set_ciphers("aNULL")  # no cipher suite the server will agree to
    context.maximum_version = ssl.TLSVersion.TLSv1_2
    with pytest.raises(hyperclient.ClientConnectorSSLError) as info:
        await session.get(https_server.make_url("/json"), ssl=context)
    assert isinstance(info.value, ssl.SSLError)
    assert isinstance(info.value, hyperclient.ClientSSLError)
    assert not isinstance(info.value, ssl.CertificateError)


# -- ssl= values -----------------------------------------------------------------------------------


async def test_connector_ssl_context_is_the_default_and_a_request_overrides_it(
    https_server: LiveServer, ca_ssl_context: ssl.SSLContext
) -> None:
    connector = hyperclient.TCPConnector(ssl=ca_ssl_context)
    async with hyperclient.ClientSession(connector=connector) as client:
        async with client.get(https_server.make_url("/json")) as resp:
            assert resp.status == 200
        strict = ssl.create_default_context()  # does not trust the test CA
        with pytest.raises(hyperclient.ClientConnectorCertificateError):
            await client.get(https_server.make_url("/json"), ssl=strict)


async def test_connector_ssl_false_is_the_default_for_requests(https_server: LiveServer) -> None:
    connector = hyperclient.TCPConnector(ssl=False)
    async with (
        hyperclient.ClientSession(connector=connector) as client,
        client.get(https_server.make_url("/json")) as resp,
    ):
        assert resp.status == 200


async def test_fingerprint_of_the_server_certificate_is_accepted(
    https_server: LiveServer, session: hyperclient.ClientSession
) -> None:
    pin = hyperclient.Fingerprint(server_fingerprint(https_server))
    async with session.get(https_server.make_url("/json"), ssl=pin) as resp:
        assert resp.status == 200


async def test_fingerprint_mismatch_carries_expected_and_got(
    https_server: LiveServer, session: hyperclient.ClientSession
) -> None:
    expected = b"\x01" * 32
    with pytest.raises(hyperclient.ServerFingerprintMismatch) as info:
        await session.get(https_server.make_url("/json"), ssl=hyperclient.Fingerprint(expected))
    exc = info.value
    assert exc.expected == expected
    assert exc.got == server_fingerprint(https_server)
    assert (exc.host, exc.port) == ("127.0.0.1", https_server.port)


async def test_request_fingerprint_overrides_a_connector_that_skips_verification(
    https_server: LiveServer,
) -> None:
    connector = hyperclient.TCPConnector(ssl=False)
    async with hyperclient.ClientSession(connector=connector) as client:
        with pytest.raises(hyperclient.ServerFingerprintMismatch):
            await client.get(
                https_server.make_url("/json"), ssl=hyperclient.Fingerprint(b"\x02" * 32)
            )


async def test_connector_fingerprint_applies_to_every_request(https_server: LiveServer) -> None:
    connector = hyperclient.TCPConnector(ssl=hyperclient.Fingerprint(b"\x03" * 32))
    async with hyperclient.ClientSession(connector=connector) as client:
        with pytest.raises(hyperclient.ServerFingerprintMismatch):
            await client.get(https_server.make_url("/json"))


@pytest.mark.parametrize("algorithm", ["md5", "sha1"])
def test_md5_and_sha1_fingerprints_are_refused(algorithm: str) -> None:
    digest = hashlib.new(algorithm, b"certificate").digest()
    with pytest.raises(ValueError, match="sha256"):
        hyperclient.Fingerprint(digest)


@pytest.mark.parametrize("length", [0, 31, 33, 64])
def test_fingerprints_of_other_lengths_are_refused(length: int) -> None:
    with pytest.raises(ValueError):
        hyperclient.Fingerprint(b"\0" * length)


async def test_ssl_of_another_type_is_a_type_error(session: hyperclient.ClientSession) -> None:
    with pytest.raises(TypeError):
        hyperclient.TCPConnector(ssl="yes")  # type: ignore[arg-type]


# -- deprecated forms ------------------------------------------------------------------------------


async def test_deprecated_verify_ssl_false_warns_and_skips_verification(
    https_server: LiveServer, session: hyperclient.ClientSession
) -> None:
    with pytest.warns(DeprecationWarning, match="verify_ssl"):
        resp = await session.get(https_server.make_url("/json"), verify_ssl=False)
    async with resp:
        assert resp.status == 200


async def test_deprecated_ssl_context_warns_and_is_used(
    https_server: LiveServer, session: hyperclient.ClientSession, ca_ssl_context: ssl.SSLContext
) -> None:
    with pytest.warns(DeprecationWarning, match="ssl_context"):
        resp = await session.get(https_server.make_url("/json"), ssl_context=ca_ssl_context)
    async with resp:
        assert resp.status == 200


async def test_deprecated_fingerprint_warns_and_pins(
    https_server: LiveServer, session: hyperclient.ClientSession
) -> None:
    with pytest.warns(DeprecationWarning, match="fingerprint"):
        resp = await session.get(
            https_server.make_url("/json"), fingerprint=server_fingerprint(https_server)
        )
    async with resp:
        assert resp.status == 200
    with (
        pytest.warns(DeprecationWarning, match="fingerprint"),
        pytest.raises(hyperclient.ServerFingerprintMismatch),
    ):
        await session.get(https_server.make_url("/json"), fingerprint=b"\x04" * 32)


async def test_deprecated_connector_arguments_warn_and_set_the_default(
    https_server: LiveServer, ca_ssl_context: ssl.SSLContext
) -> None:
    with pytest.warns(DeprecationWarning, match="verify_ssl"):
        unverified = hyperclient.TCPConnector(verify_ssl=False)
    assert unverified.ssl is False
    with pytest.warns(DeprecationWarning, match="ssl_context"):
        with_context = hyperclient.TCPConnector(ssl_context=ca_ssl_context)
    assert with_context.ssl is ca_ssl_context
    with pytest.warns(DeprecationWarning, match="fingerprint"):
        pinned = hyperclient.TCPConnector(fingerprint=server_fingerprint(https_server))
    assert pinned.ssl == hyperclient.Fingerprint(server_fingerprint(https_server))
    for connector in (unverified, with_context, pinned):
        async with (
            hyperclient.ClientSession(connector=connector) as client,
            client.get(https_server.make_url("/json")) as resp,
        ):
            assert resp.status == 200


def test_deprecated_forms_and_ssl_are_exclusive(ca_ssl_context: ssl.SSLContext) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        with pytest.raises(ValueError, match="exclusive"):
            hyperclient.TCPConnector(ssl=False, ssl_context=ca_ssl_context)
        with pytest.raises(ValueError, match="exclusive"):
            hyperclient.TCPConnector(ssl=ca_ssl_context, fingerprint=b"\0" * 32)


# -- server_hostname -------------------------------------------------------------------------------


@pytest.fixture
def sni_server(tls_ca: trustme.CA, tmp_path: Path) -> Iterator[tuple[LiveServer, list[str | None]]]:
    """A TLS server that records the SNI name of every handshake."""
    certfile, keyfile = write_cert(tls_ca.issue_cert("127.0.0.1", "sni.test"), tmp_path, "sni")
    context = server_context(certfile, keyfile)
    names: list[str | None] = []
    context.sni_callback = lambda sock, name, ctx: names.append(name)  # type: ignore[assignment,misc,func-returns-value]
    server = tls_live_server(context, certfile, keyfile)
    yield server, names
    server.stop()


async def test_server_hostname_sets_sni_and_the_name_the_certificate_must_match(
    sni_server: tuple[LiveServer, list[str | None]],
    session: hyperclient.ClientSession,
    ca_ssl_context: ssl.SSLContext,
) -> None:
    server, names = sni_server
    url = server.make_url("/json")
    async with session.get(url, ssl=ca_ssl_context, server_hostname="sni.test") as resp:
        assert resp.status == 200
    assert names[-1] == "sni.test"
    with pytest.raises(hyperclient.ClientConnectorCertificateError) as info:
        await session.get(url, ssl=ca_ssl_context, server_hostname="other.test")
    assert_certificate_error(info.value, HOSTNAME_MISMATCH)
    assert names[-1] == "other.test"


async def test_a_connection_verified_for_one_server_hostname_is_not_reused_for_another(
    sni_server: tuple[LiveServer, list[str | None]],
    session: hyperclient.ClientSession,
    ca_ssl_context: ssl.SSLContext,
) -> None:
    server, _ = sni_server
    url = server.make_url("/json")
    async with session.get(url, ssl=ca_ssl_context, server_hostname="sni.test") as resp:
        await resp.read()
    with pytest.raises(hyperclient.ClientConnectorCertificateError):
        async with session.get(url, ssl=ca_ssl_context, server_hostname="other.test"):
            pass


# -- context caching -------------------------------------------------------------------------------


def test_default_contexts_are_built_once() -> None:
    assert tls.ssl_context_for(True) is tls.ssl_context_for(True)
    assert tls.ssl_context_for(False) is tls.ssl_context_for(False)
    pin = hyperclient.Fingerprint(b"\0" * 32)
    assert tls.ssl_context_for(pin) is tls.ssl_context_for(False)
    assert tls.ssl_context_for(True).verify_mode == ssl.CERT_REQUIRED
    assert tls.ssl_context_for(False).verify_mode == ssl.CERT_NONE


async def test_requests_do_not_build_ssl_contexts(
    https_server: LiveServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    tls.ssl_context_for(False)  # built (or already cached) before counting
    built: list[Any] = []
    real = ssl.create_default_context

    def counting(*args: Any, **kwargs: Any) -> ssl.SSLContext:
        built.append(args)
        return real(*args, **kwargs)

    monkeypatch.setattr(ssl, "create_default_context", counting)
    for _ in range(2):
        async with hyperclient.ClientSession(
            connector=hyperclient.TCPConnector(force_close=True)
        ) as client:
            for _ in range(2):
                async with client.get(https_server.make_url("/json"), ssl=False) as resp:
                    assert resp.status == 200
    assert built == []


# -- client certificates (mTLS) --------------------------------------------------------------------


async def test_client_certificate_is_presented_from_the_ssl_context(
    mtls_server: LiveServer,
    session: hyperclient.ClientSession,
    client_cert_context: ssl.SSLContext,
) -> None:
    async with session.get(mtls_server.make_url("/json"), ssl=client_cert_context) as resp:
        assert resp.status == 200


async def test_missing_client_certificate_fails_the_tls12_handshake(
    mtls12_server: LiveServer, session: hyperclient.ClientSession, ca_ssl_context: ssl.SSLContext
) -> None:
    # The server's alert and its reset race: either way the connection was never made.
    with pytest.raises(hyperclient.ClientConnectorError) as info:
        await session.get(mtls12_server.make_url("/json"), ssl=ca_ssl_context)
    exc = info.value
    assert isinstance(exc, hyperclient.ClientConnectorSSLError) or isinstance(
        exc.os_error, ConnectionResetError
    )


async def test_missing_client_certificate_under_tls13_fails_the_request(
    mtls_server: LiveServer, session: hyperclient.ClientSession, ca_ssl_context: ssl.SSLContext
) -> None:
    # TLS 1.3 completes the client's handshake before the server checks the certificate
    # (RFC 8446 §4.4.2), so the refusal arrives as an alert in place of the response.
    with pytest.raises(hyperclient.ClientConnectionError) as info:
        await session.get(mtls_server.make_url("/json"), ssl=ca_ssl_context)
    assert not isinstance(info.value, hyperclient.ClientConnectorError)  # connected first


async def test_client_certificate_works_at_tls12_too(
    mtls12_server: LiveServer,
    session: hyperclient.ClientSession,
    client_cert_context: ssl.SSLContext,
) -> None:
    async with session.get(mtls12_server.make_url("/json"), ssl=client_cert_context) as resp:
        assert resp.status == 200


# -- closing TLS connections -----------------------------------------------------------------------


@pytest.fixture
def blocking_server(tls_ca: trustme.CA, tmp_path: Path) -> Iterator[BlockingTLSServer]:
    certfile, keyfile = write_cert(tls_ca.issue_cert("127.0.0.1"), tmp_path, "blocking")
    server = BlockingTLSServer(server_context(certfile, keyfile)).start()
    yield server
    server.stop()


async def _one_request(connector: hyperclient.TCPConnector, port: int, ctx: ssl.SSLContext) -> None:
    async with (
        hyperclient.ClientSession(connector=connector) as client,
        client.get(f"https://127.0.0.1:{port}/", ssl=ctx) as resp,
    ):
        assert await resp.read() == b"ok"


async def test_closing_the_connector_aborts_tls_connections_by_default(
    blocking_server: BlockingTLSServer, ca_ssl_context: ssl.SSLContext
) -> None:
    await _one_request(hyperclient.TCPConnector(), blocking_server.port, ca_ssl_context)
    assert await asyncio.to_thread(blocking_server.closed.wait, 10)
    assert blocking_server.outcomes == ["abrupt"]


async def test_ssl_shutdown_timeout_sends_close_notify_on_close(
    blocking_server: BlockingTLSServer, ca_ssl_context: ssl.SSLContext
) -> None:
    with pytest.warns(DeprecationWarning, match="ssl_shutdown_timeout"):
        connector = hyperclient.TCPConnector(ssl_shutdown_timeout=2.0)
    await _one_request(connector, blocking_server.port, ca_ssl_context)
    assert await asyncio.to_thread(blocking_server.closed.wait, 10)
    assert blocking_server.outcomes == ["close_notify"]


@pytest.fixture
def silent_closer(tls_ca: trustme.CA, tmp_path: Path) -> Iterator[BlockingTLSServer]:
    """A server that never answers the client's close_notify."""
    certfile, keyfile = write_cert(tls_ca.issue_cert("127.0.0.1"), tmp_path, "silent")
    server = BlockingTLSServer(server_context(certfile, keyfile), answer_close=False).start()
    yield server
    server.stop()


def only_connection(connector: hyperclient.TCPConnector) -> Any:
    """The one connection the connector opened and has not seen closed yet."""
    (protocol,) = connector._opened
    return protocol


@pytest.mark.skipif(not tls.CLEANUP_CLOSED_NEEDED, reason="this Python closes such transports")
async def test_enable_cleanup_closed_aborts_transports_stuck_in_tls_shutdown(
    silent_closer: BlockingTLSServer,
    ca_ssl_context: ssl.SSLContext,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(tls.ClosingTLSReaper, "period", 0.05)
    connector = hyperclient.TCPConnector(enable_cleanup_closed=True, force_close=True)
    async with hyperclient.ClientSession(connector=connector) as client:
        async with client.get(f"https://127.0.0.1:{silent_closer.port}/", ssl=ca_ssl_context) as r:
            assert await r.read() == b"ok"
        protocol = only_connection(connector)
        # force_close: released means closing, and the peer never answers our close_notify.
        assert protocol.transport is not None and protocol.transport.is_closing()
        await asyncio.wait_for(asyncio.shield(protocol.closed), 2)


async def test_without_cleanup_closed_a_silent_peer_keeps_the_transport_closing_until_close(
    silent_closer: BlockingTLSServer, ca_ssl_context: ssl.SSLContext
) -> None:
    connector = hyperclient.TCPConnector(force_close=True)
    async with hyperclient.ClientSession(connector=connector) as client:
        async with client.get(f"https://127.0.0.1:{silent_closer.port}/", ssl=ca_ssl_context) as r:
            assert await r.read() == b"ok"
        protocol = only_connection(connector)
        done, _ = await asyncio.wait([protocol.closed], timeout=0.3)
        assert not done
    # Closing the session does not wait on the silent peer: it aborts the socket.
    assert protocol.closed.done()


# -- pooling of TLS connections --------------------------------------------------------------------


@pytest.fixture
async def ca_session(ca_ssl_context: ssl.SSLContext) -> AsyncIterator[hyperclient.ClientSession]:
    async with hyperclient.ClientSession(
        connector=hyperclient.TCPConnector(ssl=ca_ssl_context)
    ) as client:
        yield client


async def test_https_connections_are_reused(
    https_server: LiveServer, ca_session: hyperclient.ClientSession
) -> None:
    ports = []
    for _ in range(3):
        async with ca_session.get(https_server.make_url("/client")) as resp:
            ports.append((await resp.json())["port"])
    assert len(set(ports)) == 1


async def test_requests_with_different_ssl_values_do_not_share_connections(
    https_server: LiveServer, ca_session: hyperclient.ClientSession
) -> None:
    ports = []
    for ssl_arg in (True, False, True):
        async with ca_session.get(https_server.make_url("/client"), ssl=ssl_arg) as resp:
            ports.append((await resp.json())["port"])
    assert ports[0] == ports[2] != ports[1]
