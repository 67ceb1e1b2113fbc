"""ClientSession.ws_connect and ClientWebSocketResponse against the ``websockets`` server."""

from __future__ import annotations

import asyncio
import base64
import ssl
import warnings
from collections.abc import AsyncIterator

import pytest
import trustme
from multidict import CIMultiDictProxy
from websockets.extensions.permessage_deflate import ServerPerMessageDeflateFactory

import hyperclient
from hyperclient import (
    ClientConnectionResetError,
    ClientConnectorCertificateError,
    ClientSession,
    ClientWebSocketResponse,
    ClientWSTimeout,
    WSCloseCode,
    WSMessage,
    WSMessageTypeError,
    WSMsgType,
    WSServerHandshakeError,
)
from hyperclient.websocket import WebSocketError
from servers import RawServerFactory
from servers.forward_proxy import ForwardProxy
from servers.raw import RawConnection, http_response
from servers.ws import WSServer


@pytest.fixture
async def ws_server() -> AsyncIterator[WSServer]:
    server = await WSServer().start()
    yield server
    await server.close()


async def test_echo_text_binary_and_json(session: ClientSession, ws_server: WSServer) -> None:
    async with session.ws_connect(ws_server.url("/echo")) as ws:
        await ws.send_str("hello")
        assert await ws.receive() == WSMessage(WSMsgType.TEXT, "hello", None)
        await ws.send_bytes(b"\x00\xff")
        assert await ws.receive_bytes() == b"\x00\xff"
        await ws.send_json({"a": [1, 2]})
        assert await ws.receive_json() == {"a": [1, 2]}
        await ws.send_str("ünïcode ✓")
        assert await ws.receive_str() == "ünïcode ✓"
    assert ws_server.seen.messages == ["hello", b"\x00\xff", '{"a": [1, 2]}', "ünïcode ✓"]


async def test_large_messages_both_ways(session: ClientSession, ws_server: WSServer) -> None:
    big = bytes(range(256)) * 4096  # 1 MiB
    async with session.ws_connect(ws_server.url("/echo"), compress=0) as ws:
        await ws.send_bytes(big)
        assert await ws.receive_bytes() == big


async def test_http_scheme_urls_open_a_websocket_too(
    session: ClientSession, ws_server: WSServer
) -> None:
    url = ws_server.url("/echo").with_scheme("http")
    async with session.ws_connect(url) as ws:
        await ws.send_str("via http://")
        assert await ws.receive_str() == "via http://"


async def test_handshake_request_headers(session: ClientSession, ws_server: WSServer) -> None:
    async with session.ws_connect(
        ws_server.url("/echo"),
        origin="http://example.test",
        headers={"X-Custom": "yes"},
        params={"q": "1"},
        auth=hyperclient.BasicAuth("user", "pass"),
    ) as ws:
        await ws.send_str("x")
        await ws.receive()
    headers = ws_server.seen.headers[0]
    assert headers["Upgrade"].lower() == "websocket"
    assert "upgrade" in headers["Connection"].lower()
    assert headers["Sec-WebSocket-Version"] == "13"
    assert len(base64.b64decode(headers["Sec-WebSocket-Key"])) == 16
    assert headers["Origin"] == "http://example.test"
    assert headers["X-Custom"] == "yes"
    assert headers["Authorization"] == hyperclient.BasicAuth("user", "pass").encode()
    assert ws_server.seen.paths == ["/echo?q=1"]


async def test_subprotocol_is_negotiated(session: ClientSession) -> None:
    server = await WSServer(subprotocols=["chat", "superchat"]).start()
    try:
        async with session.ws_connect(server.url("/echo"), protocols=("v2", "superchat")) as ws:
            assert ws.protocol == "superchat"
        headers = server.seen.headers[0]
        assert headers["Sec-WebSocket-Protocol"] == "v2,superchat"
    finally:
        await server.close()


async def test_no_subprotocol_when_none_offered(
    session: ClientSession, ws_server: WSServer
) -> None:
    async with session.ws_connect(ws_server.url("/echo")) as ws:
        assert ws.protocol is None


async def test_fragmented_messages_from_the_server(
    session: ClientSession, ws_server: WSServer
) -> None:
    async with session.ws_connect(ws_server.url("/fragments"), compress=0) as ws:
        assert await ws.receive_str() == "Hello, wörld"
        assert await ws.receive_bytes() == b"\x00\x01\x02\x03\x04"


async def test_server_ping_is_answered_automatically(
    session: ClientSession, ws_server: WSServer
) -> None:
    async with session.ws_connect(ws_server.url("/ping")) as ws:
        assert await ws.receive_str() == "pong received"


async def test_without_autoping_pings_are_delivered(
    session: ClientSession, ws_server: WSServer
) -> None:
    async with session.ws_connect(ws_server.url("/ping"), autoping=False) as ws:
        msg = await ws.receive()
        assert msg == WSMessage(WSMsgType.PING, b"are you there", None)
        await ws.pong(msg.data)
        assert await ws.receive_str() == "pong received"


async def test_client_ping_gets_the_payload_back(
    session: ClientSession, ws_server: WSServer
) -> None:
    async with session.ws_connect(ws_server.url("/echo"), autoping=False) as ws:
        await ws.ping("knock")
        assert await ws.receive() == WSMessage(WSMsgType.PONG, b"knock", None)


async def test_server_initiated_close(session: ClientSession, ws_server: WSServer) -> None:
    ws = await session.ws_connect(ws_server.url("/close/4001/bye"))
    assert await ws.receive_str() == "bye"
    msg = await ws.receive()
    assert msg == WSMessage(WSMsgType.CLOSE, 4001, "bye")
    assert ws.closed
    assert ws.close_code == 4001
    assert await ws.receive() == WSMessage(WSMsgType.CLOSED, None, None)
    assert await ws.close() is False
    await asyncio.wait_for(ws_server.seen.closed.wait(), 5)
    assert ws_server.seen.close_codes == [4001]  # our answer echoes the code


async def test_client_close_with_code_and_message(
    session: ClientSession, ws_server: WSServer
) -> None:
    ws = await session.ws_connect(ws_server.url("/echo"))
    assert await ws.close(code=4002, message=b"done") is True
    assert ws.closed
    assert ws.close_code == 4002
    assert await ws.close() is False
    await asyncio.wait_for(ws_server.seen.closed.wait(), 5)
    assert ws_server.seen.close_codes == [4002]
    assert ws_server.seen.close_reasons == ["done"]


async def test_async_with_closes_normally(session: ClientSession, ws_server: WSServer) -> None:
    async with session.ws_connect(ws_server.url("/echo")) as ws:
        assert not ws.closed
    assert ws.closed
    assert ws.close_code == WSCloseCode.OK
    await asyncio.wait_for(ws_server.seen.closed.wait(), 5)
    assert ws_server.seen.close_codes == [1000]


async def test_async_for_yields_each_message(session: ClientSession, ws_server: WSServer) -> None:
    got: list[str] = []
    async with session.ws_connect(ws_server.url("/push/50")) as ws:
        async for msg in ws:
            got.append(msg.data)
            if len(got) == 50:
                break
    assert got == [f"message {i}" for i in range(50)]


async def test_async_for_ends_on_server_close(session: ClientSession, ws_server: WSServer) -> None:
    async with session.ws_connect(ws_server.url("/close/1000/done")) as ws:
        got = [msg.data async for msg in ws]
    assert got == ["bye"]


async def test_messages_arrive_in_order(session: ClientSession, ws_server: WSServer) -> None:
    async with session.ws_connect(ws_server.url("/push/500")) as ws:
        got = [await ws.receive_str() for _ in range(500)]
    assert got == [f"message {i}" for i in range(500)]


async def test_send_after_close_raises(session: ClientSession, ws_server: WSServer) -> None:
    ws = await session.ws_connect(ws_server.url("/echo"))
    await ws.close()
    with pytest.raises(ClientConnectionResetError):
        await ws.send_str("too late")


async def test_connection_dropped_without_close_frame(
    session: ClientSession, ws_server: WSServer
) -> None:
    async with session.ws_connect(ws_server.url("/drop")) as ws:
        assert await ws.receive_str() == "dropping"
        assert (await ws.receive()).type is WSMsgType.CLOSED
        assert ws.closed
        assert ws.close_code == WSCloseCode.ABNORMAL_CLOSURE


# --- permessage-deflate -----------------------------------------------------------------------


async def test_deflate_is_negotiated_and_round_trips(
    session: ClientSession, ws_server: WSServer
) -> None:
    text = "compress me " * 1000
    async with session.ws_connect(ws_server.url("/echo"), compress=15) as ws:
        assert ws.compress > 0
        await ws.send_str(text)
        assert await ws.receive_str() == text
        await ws.send_bytes(text.encode())
        assert await ws.receive_bytes() == text.encode()
    offered = ws_server.seen.headers[0]["Sec-WebSocket-Extensions"]
    assert offered.startswith("permessage-deflate")
    assert ws_server.seen.extensions[0][0].startswith("permessage-deflate")


async def test_deflate_window_bits_are_offered_to_the_server(
    session: ClientSession, ws_server: WSServer
) -> None:
    async with session.ws_connect(ws_server.url("/echo"), compress=10) as ws:
        assert 9 <= ws.compress <= 10
        for i in range(5):
            await ws.send_str(f"window {i} " * 300)
            assert await ws.receive_str() == f"window {i} " * 300
    assert "server_max_window_bits=10" in ws_server.seen.headers[0]["Sec-WebSocket-Extensions"]
    assert "server_max_window_bits=10" in ws_server.seen.extensions[0][0]


async def test_deflate_without_context_takeover(session: ClientSession) -> None:
    factory = ServerPerMessageDeflateFactory(
        server_no_context_takeover=True,
        client_no_context_takeover=True,
        server_max_window_bits=11,
        client_max_window_bits=9,
    )
    server = await WSServer(compression=None, extensions=[factory]).start()
    try:
        async with session.ws_connect(server.url("/echo"), compress=15) as ws:
            assert ws.client_notakeover
            assert ws.compress == 9
            for i in range(5):
                await ws.send_str(f"no takeover {i} " * 200)
                assert await ws.receive_str() == f"no takeover {i} " * 200
    finally:
        await server.close()


async def test_deflate_declined_by_the_server(session: ClientSession) -> None:
    server = await WSServer(compression=None).start()
    try:
        async with session.ws_connect(server.url("/echo"), compress=15) as ws:
            assert ws.compress == 0
            await ws.send_str("plain")
            assert await ws.receive_str() == "plain"
    finally:
        await server.close()


async def test_per_message_compress_override(session: ClientSession, ws_server: WSServer) -> None:
    async with session.ws_connect(ws_server.url("/echo"), compress=15) as ws:
        sent = [("a" * 500, None), ("b" * 500, 0), ("c" * 500, 9), ("a" * 500, None)]
        for text, compress in sent:
            await ws.send_str(text, compress=compress)
            assert await ws.receive_str() == text
    assert ws_server.seen.messages == [text for text, _ in sent]


@pytest.mark.parametrize("compress", [1, 8, 16, -1])
async def test_invalid_compress_values_are_rejected(session: ClientSession, compress: int) -> None:
    with pytest.raises(ValueError):
        await session.ws_connect("ws://127.0.0.1:1/", compress=compress)


# --- limits and timeouts ----------------------------------------------------------------------


async def test_message_over_max_msg_size_fails_with_message_too_big(
    session: ClientSession, ws_server: WSServer
) -> None:
    ws = await session.ws_connect(ws_server.url("/big/5000"), max_msg_size=1000, compress=0)
    msg = await ws.receive()
    assert msg.type is WSMsgType.ERROR
    assert isinstance(msg.data, WebSocketError)
    assert msg.data.code == WSCloseCode.MESSAGE_TOO_BIG
    assert ws.close_code == WSCloseCode.MESSAGE_TOO_BIG
    assert ws.closed
    assert (await ws.receive()).type is WSMsgType.CLOSED
    await asyncio.wait_for(ws_server.seen.closed.wait(), 5)
    assert ws_server.seen.close_codes == [1009]


async def test_max_msg_size_bounds_the_inflated_size(
    session: ClientSession, ws_server: WSServer
) -> None:
    # 200 kB of one byte compresses to a few hundred bytes on the wire.
    async with session.ws_connect(
        ws_server.url("/big/200000"), max_msg_size=50_000, compress=15
    ) as ws:
        msg = await ws.receive()
        assert msg.type is WSMsgType.ERROR
        assert ws.close_code == WSCloseCode.MESSAGE_TOO_BIG


async def test_receive_timeout_from_ws_timeout(session: ClientSession, ws_server: WSServer) -> None:
    timeout = ClientWSTimeout(ws_receive=0.05, ws_close=5)
    async with session.ws_connect(ws_server.url("/echo"), timeout=timeout) as ws:
        with pytest.raises(asyncio.TimeoutError):
            await ws.receive()
        # The WebSocket stays usable after a receive timeout.
        assert not ws.closed
        await ws.send_str("still here")
        assert await ws.receive_str() == "still here"


async def test_receive_timeout_argument(session: ClientSession, ws_server: WSServer) -> None:
    async with session.ws_connect(ws_server.url("/silent")) as ws:
        with pytest.raises(asyncio.TimeoutError):
            await ws.receive(timeout=0.05)
        with pytest.raises(asyncio.TimeoutError):
            await ws.receive_str(timeout=0.05)


async def test_deprecated_receive_timeout_parameter(
    session: ClientSession, ws_server: WSServer
) -> None:
    with pytest.warns(DeprecationWarning):
        ws = await session.ws_connect(ws_server.url("/silent"), receive_timeout=0.05)
    async with ws:
        with pytest.raises(asyncio.TimeoutError):
            await ws.receive()


async def test_float_timeout_is_deprecated(session: ClientSession, ws_server: WSServer) -> None:
    with pytest.warns(DeprecationWarning):
        ws = await session.ws_connect(ws_server.url("/echo"), timeout=5.0)
    await ws.close()


async def test_heartbeat_keeps_a_healthy_connection_open(
    session: ClientSession, ws_server: WSServer
) -> None:
    async with session.ws_connect(ws_server.url("/echo"), heartbeat=0.05) as ws:
        with pytest.raises(asyncio.TimeoutError):
            await ws.receive(timeout=0.4)  # several heartbeats, each answered by the server
        assert not ws.closed
        await ws.send_str("alive")
        assert await ws.receive_str() == "alive"


# --- the handshake ----------------------------------------------------------------------------


async def test_non_101_answer_raises_handshake_error_with_status_and_headers(
    session: ClientSession, ws_server: WSServer
) -> None:
    with pytest.raises(WSServerHandshakeError) as info:
        await session.ws_connect(ws_server.url("/reject"))
    assert info.value.status == 403
    headers = info.value.headers
    assert isinstance(headers, CIMultiDictProxy)
    assert headers["X-Reject-Reason"] == "test"
    assert info.value.message == "Invalid response status"


async def test_handshake_error_is_a_client_response_error(
    session: ClientSession, ws_server: WSServer
) -> None:
    with pytest.raises(hyperclient.ClientResponseError):
        async with session.ws_connect(ws_server.url("/reject")):
            pass


async def test_connection_refused_is_a_connector_error(session: ClientSession) -> None:
    with pytest.raises(hyperclient.ClientConnectorError):
        await session.ws_connect("ws://127.0.0.1:1/")


# --- TLS --------------------------------------------------------------------------------------


@pytest.fixture
async def wss_server(tls_ca: trustme.CA) -> AsyncIterator[WSServer]:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    tls_ca.issue_cert("127.0.0.1").configure_cert(context)
    server = await WSServer(ssl=context).start()
    yield server
    await server.close()


async def test_wss_with_a_trusted_certificate(
    session: ClientSession, wss_server: WSServer, ca_ssl_context: ssl.SSLContext
) -> None:
    async with session.ws_connect(wss_server.url("/echo"), ssl=ca_ssl_context) as ws:
        assert ws.get_extra_info("sslcontext") is not None
        assert ws.get_extra_info("peercert") is not None
        await ws.send_str("secret")
        assert await ws.receive_str() == "secret"


async def test_wss_with_an_untrusted_certificate_fails(
    session: ClientSession, wss_server: WSServer
) -> None:
    with pytest.raises(ClientConnectorCertificateError):
        await session.ws_connect(wss_server.url("/echo"))


async def test_wss_with_verification_disabled(session: ClientSession, wss_server: WSServer) -> None:
    async with session.ws_connect(wss_server.url("/echo"), ssl=False) as ws:
        await ws.send_str("unverified")
        assert await ws.receive_str() == "unverified"


async def test_wss_with_deprecated_ssl_context_and_verify_ssl(
    session: ClientSession, wss_server: WSServer, ca_ssl_context: ssl.SSLContext
) -> None:
    with pytest.warns(DeprecationWarning):
        ws = await session.ws_connect(wss_server.url("/echo"), ssl_context=ca_ssl_context)
    async with ws:
        await ws.send_str("ctx")
        assert await ws.receive_str() == "ctx"
    with pytest.warns(DeprecationWarning):
        ws = await session.ws_connect(wss_server.url("/echo"), verify_ssl=False)
    async with ws:
        await ws.send_str("noverify")
        assert await ws.receive_str() == "noverify"


# --- proxies ----------------------------------------------------------------------------------


async def test_wss_through_an_http_proxy_tunnel(
    session: ClientSession,
    wss_server: WSServer,
    forward_proxy: ForwardProxy,
    ca_ssl_context: ssl.SSLContext,
) -> None:
    url = wss_server.url("/echo")
    async with session.ws_connect(url, proxy=forward_proxy.url, ssl=ca_ssl_context) as ws:
        await ws.send_str("through the tunnel")
        assert await ws.receive_str() == "through the tunnel"


async def test_ws_through_an_http_proxy(
    session: ClientSession, ws_server: WSServer, forward_proxy: ForwardProxy
) -> None:
    timeout = ClientWSTimeout(ws_receive=1, ws_close=1)
    url = ws_server.url("/echo")
    async with session.ws_connect(url, proxy=forward_proxy.url, timeout=timeout) as ws:
        await ws.send_str("through the proxy")
        assert await ws.receive_str() == "through the proxy"


# --- the response object ----------------------------------------------------------------------


async def test_get_extra_info_reads_the_transport(
    session: ClientSession, ws_server: WSServer
) -> None:
    async with session.ws_connect(ws_server.url("/echo")) as ws:
        assert ws.get_extra_info("peername")[1] == ws_server.port
        assert ws.get_extra_info("no such thing", "dflt") == "dflt"
    assert ws.get_extra_info("peername", "gone") == "gone"


async def test_receive_helpers_check_the_message_type(
    session: ClientSession, ws_server: WSServer
) -> None:
    async with session.ws_connect(ws_server.url("/echo")) as ws:
        await ws.send_bytes(b"bin")
        with pytest.raises(WSMessageTypeError):
            await ws.receive_str()
        await ws.send_str("txt")
        with pytest.raises(WSMessageTypeError):
            await ws.receive_bytes()
        await ws.send_str("not json")
        with pytest.raises(ValueError):
            await ws.receive_json()


async def test_send_helpers_check_the_data_type(
    session: ClientSession, ws_server: WSServer
) -> None:
    async with session.ws_connect(ws_server.url("/echo")) as ws:
        with pytest.raises(TypeError):
            await ws.send_str(b"bytes")
        with pytest.raises(TypeError):
            await ws.send_bytes("text")
        with pytest.raises(TypeError):
            await ws.send_json({"a": 1}, dumps=lambda obj: b"{}")


async def test_send_frame_sends_pre_encoded_data(
    session: ClientSession, ws_server: WSServer
) -> None:
    async with session.ws_connect(ws_server.url("/echo")) as ws:
        await ws.send_frame(b"raw text", WSMsgType.TEXT)
        assert await ws.receive_str() == "raw text"
        await ws.send_frame(b"\x01\x02", WSMsgType.BINARY)
        assert await ws.receive_bytes() == b"\x01\x02"


async def test_concurrent_receive_is_an_error(session: ClientSession, ws_server: WSServer) -> None:
    async with session.ws_connect(ws_server.url("/silent")) as ws:
        first = asyncio.ensure_future(ws.receive())
        await asyncio.sleep(0)
        with pytest.raises(RuntimeError, match="Concurrent call to receive"):
            await ws.receive()
        first.cancel()
        with pytest.raises(asyncio.CancelledError):
            await first


async def test_close_from_another_task_ends_a_waiting_receive(
    session: ClientSession, ws_server: WSServer
) -> None:
    ws = await session.ws_connect(ws_server.url("/silent"))
    receiving = asyncio.ensure_future(ws.receive())
    await asyncio.sleep(0)
    assert await ws.close() is True
    assert (await asyncio.wait_for(receiving, 5)).type is WSMsgType.CLOSING
    assert (await ws.receive()).type is WSMsgType.CLOSED


async def test_ws_response_class_is_used(ws_server: WSServer) -> None:
    class Recording(ClientWebSocketResponse):
        seen: list[WSMessage]

        async def receive(self, timeout: float | None = None) -> WSMessage:
            msg = await super().receive(timeout)
            type(self).seen.append(msg)
            return msg

    Recording.seen = []
    async with (
        ClientSession(ws_response_class=Recording) as session,
        session.ws_connect(ws_server.url("/close/1000/x")) as ws,
    ):
        assert isinstance(ws, Recording)
        got = [msg.data async for msg in ws]
    assert got == ["bye"]
    assert [m.type for m in Recording.seen] == [WSMsgType.TEXT, WSMsgType.CLOSE]


async def test_no_warnings_for_a_normal_session(ws_server: WSServer) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        async with ClientSession() as session, session.ws_connect(ws_server.url("/echo")) as ws:
            await ws.send_str("x")
            await ws.receive()


# --- the session's ownership ------------------------------------------------------------------


async def test_session_close_ends_open_websockets(ws_server: WSServer) -> None:
    session = ClientSession()
    ws = await session.ws_connect(ws_server.url("/echo"))
    await session.close()  # returns only when every socket, the WebSocket's too, is closed
    msg = await asyncio.wait_for(ws.receive(), timeout=5)
    assert msg.type in (hyperclient.WSMsgType.CLOSED, hyperclient.WSMsgType.ERROR)
    assert ws.closed


async def test_ws_proxy_from_the_environment_is_used_with_trust_env(
    monkeypatch: pytest.MonkeyPatch, ws_server: WSServer, raw_server: RawServerFactory
) -> None:
    async def refuse(conn: RawConnection) -> None:
        await conn.read_request(body=False)
        await conn.send(http_response(status="403 Forbidden"))

    proxy = await raw_server(refuse)
    for name in ("http_proxy", "https_proxy", "ws_proxy", "wss_proxy", "no_proxy", "all_proxy"):
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(name.upper(), raising=False)
    monkeypatch.setenv("WS_PROXY", str(proxy.url))
    async with ClientSession(trust_env=True) as session:
        with pytest.raises(hyperclient.ClientHttpProxyError) as info:
            await session.ws_connect(ws_server.url("/echo"))
    assert info.value.status == 403
    request_line = proxy.connections[0].requests[0].request_line
    assert request_line.startswith(b"CONNECT 127.0.0.1:")
