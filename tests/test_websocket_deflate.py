"""permessage-deflate (RFC 7692) without a network: negotiation, the codecs, the size bound."""

from __future__ import annotations

import os
import zlib

import pytest

from hyperclient.websocket.deflate import (
    DeflateParams,
    Deflater,
    Inflater,
    NegotiationError,
    negotiate,
    offer,
)
from hyperclient.websocket.frames import FrameReader, FrameWriter, WebSocketError
from hyperclient.websocket.models import WSCloseCode, WSMessage, WSMsgType

# --- negotiation ------------------------------------------------------------------------------


def test_offer_lets_the_server_size_our_window() -> None:
    assert offer(15) == "permessage-deflate; client_max_window_bits"


def test_offer_below_15_bits_also_limits_the_server_window() -> None:
    assert offer(10) == "permessage-deflate; client_max_window_bits; server_max_window_bits=10"


def test_no_extension_in_the_answer_means_declined() -> None:
    assert negotiate([]) is None


def test_plain_acceptance_uses_full_windows_and_context_takeover() -> None:
    assert negotiate(["permessage-deflate"]) == DeflateParams()


def test_answer_parameters_are_read() -> None:
    params = negotiate(
        [
            "permessage-deflate; server_no_context_takeover; client_no_context_takeover; "
            'server_max_window_bits=10; client_max_window_bits="12"'
        ]
    )
    assert params == DeflateParams(
        client_max_window_bits=12,
        server_max_window_bits=10,
        client_no_context_takeover=True,
        server_no_context_takeover=True,
    )


def test_extension_names_and_parameters_are_case_insensitive() -> None:
    params = negotiate(["Permessage-Deflate; Client_No_Context_Takeover"])
    assert params is not None and params.client_no_context_takeover


@pytest.mark.parametrize(
    "answer",
    [
        "permessage-deflate; server_max_window_bits=16",
        "permessage-deflate; server_max_window_bits=7",
        "permessage-deflate; server_max_window_bits",
        "permessage-deflate; client_max_window_bits=abc",
        "permessage-deflate; client_max_window_bits=8",
        "permessage-deflate; server_no_context_takeover=1",
        "permessage-deflate; unknown_param",
        "permessage-deflate; server_no_context_takeover; server_no_context_takeover",
        "permessage-deflate, permessage-deflate",
        "x-webkit-deflate-frame",
    ],
)
def test_answers_we_cannot_accept_fail_the_negotiation(answer: str) -> None:
    with pytest.raises(NegotiationError):
        negotiate([answer])


# --- the codecs -------------------------------------------------------------------------------


def raw_inflate(data: bytes) -> bytes:
    """What an independent receiver does (RFC 7692 §7.2.2): append the tail and inflate."""
    return zlib.decompressobj(-15).decompress(data + b"\x00\x00\xff\xff")


def test_compressed_message_has_the_sync_flush_tail_removed() -> None:
    data = Deflater(DeflateParams(), 15).deflate(b"Hello")
    assert not data.endswith(b"\x00\x00\xff\xff")
    assert raw_inflate(data) == b"Hello"


def test_rfc_7692_hello_example_decompresses() -> None:
    # §7.2.3.1: "Hello" compressed in one DEFLATE block.
    assert Inflater().inflate(bytes.fromhex("f248cdc9c90700"), 1000) == b"Hello"


def test_rfc_7692_shared_window_example_decompresses() -> None:
    # §7.2.3.2: the second "Hello" refers back into the first message.
    inflater = Inflater()
    assert inflater.inflate(bytes.fromhex("f248cdc9c90700"), 1000) == b"Hello"
    assert inflater.inflate(bytes.fromhex("f200110000"), 1000) == b"Hello"


def test_context_takeover_makes_a_repeated_message_smaller() -> None:
    deflater = Deflater(DeflateParams(), 15)
    message = os.urandom(200)
    first, second = deflater.deflate(message), deflater.deflate(message)
    assert len(second) < len(first) // 4


def test_client_no_context_takeover_compresses_each_message_alone() -> None:
    deflater = Deflater(DeflateParams(client_no_context_takeover=True), 15)
    message = os.urandom(200)
    first, second = deflater.deflate(message), deflater.deflate(message)
    # Each must inflate with a fresh decompressor: no reference to the message before.
    assert raw_inflate(first) == message
    assert raw_inflate(second) == message


def test_window_bits_follow_the_smaller_of_compress_and_the_server_limit() -> None:
    assert Deflater(DeflateParams(client_max_window_bits=10), 15).window_bits == 10
    assert Deflater(DeflateParams(), 11).window_bits == 11


def test_one_off_window_keeps_a_shared_inflater_in_step() -> None:
    # A message compressed alone (compress=9) puts its text into the server's window; the next
    # messages of the connection-wide compressor must still inflate correctly.
    deflater = Deflater(DeflateParams(), 15)
    inflater = zlib.decompressobj(-15)
    messages = [b"alpha " * 50, b"beta " * 50, b"alpha " * 50, b"gamma alpha beta " * 20]
    windows = [None, 9, None, None]
    for message, window in zip(messages, windows, strict=True):
        data = deflater.deflate(message, window)
        assert inflater.decompress(data + b"\x00\x00\xff\xff") == message


def test_inflate_stops_at_the_size_limit() -> None:
    bomb = zlib.compressobj(9, zlib.DEFLATED, -15)
    data = bomb.compress(b"\x00" * (50 * 1024 * 1024)) + bomb.flush(zlib.Z_SYNC_FLUSH)
    assert len(data) < 100_000
    with pytest.raises(WebSocketError) as info:
        Inflater().inflate(data[:-4], 1024 * 1024)
    assert info.value.code == WSCloseCode.MESSAGE_TOO_BIG


def test_corrupt_compressed_data_is_a_protocol_error() -> None:
    with pytest.raises(WebSocketError) as info:
        Inflater().inflate(b"\xff\xff\xff\xff", 1000)
    assert info.value.code == WSCloseCode.PROTOCOL_ERROR


def test_inflater_starts_over_after_a_final_block() -> None:
    # §7.2.3.4: a sender may end a message with BFINAL set; the next one is a new stream.
    inflater = Inflater()
    for text in (b"first", b"second"):
        whole = zlib.compressobj(6, zlib.DEFLATED, -15)
        data = whole.compress(text) + whole.flush(zlib.Z_FINISH)
        assert inflater.inflate(data, 1000) == text


# --- compressed frames through the reader and writer ------------------------------------------


def test_reader_inflates_frames_with_rsv1() -> None:
    messages: list[WSMessage] = []
    reader = FrameReader(messages.append, messages.append, max_msg_size=1000, inflater=Inflater())
    reader.feed(bytes.fromhex("c107f248cdc9c90700"))
    assert messages == [WSMessage(WSMsgType.TEXT, "Hello", None)]


def test_reader_inflates_a_fragmented_compressed_message() -> None:
    # §7.2.3.3-like: RSV1 on the first fragment only.
    messages: list[WSMessage] = []
    reader = FrameReader(messages.append, messages.append, max_msg_size=1000, inflater=Inflater())
    reader.feed(bytes.fromhex("4103f248cd") + bytes.fromhex("8004c9c90700"))
    assert messages == [WSMessage(WSMsgType.TEXT, "Hello", None)]


def test_rsv1_on_a_continuation_frame_is_a_protocol_error() -> None:
    reader = FrameReader(print, print, max_msg_size=1000, inflater=Inflater())
    with pytest.raises(WebSocketError) as info:
        reader.feed(bytes.fromhex("4103f248cd") + bytes.fromhex("c004c9c90700"))
    assert info.value.code == WSCloseCode.PROTOCOL_ERROR


def test_rsv1_on_a_control_frame_is_a_protocol_error() -> None:
    reader = FrameReader(print, print, max_msg_size=1000, inflater=Inflater())
    with pytest.raises(WebSocketError) as info:
        reader.feed(b"\xc9\x00")
    assert info.value.code == WSCloseCode.PROTOCOL_ERROR


def test_reader_applies_max_msg_size_to_the_inflated_size() -> None:
    bomb = zlib.compressobj(9, zlib.DEFLATED, -15)
    data = (bomb.compress(b"a" * 100_000) + bomb.flush(zlib.Z_SYNC_FLUSH))[:-4]
    frame = (
        b"\xc2"
        + (bytes([126]) + len(data).to_bytes(2, "big") if len(data) > 125 else bytes([len(data)]))
        + data
    )
    reader = FrameReader(print, print, max_msg_size=10_000, inflater=Inflater())
    with pytest.raises(WebSocketError) as info:
        reader.feed(frame)
    assert info.value.code == WSCloseCode.MESSAGE_TOO_BIG


def test_writer_sets_rsv1_on_compressed_data_frames_only() -> None:
    writer = FrameWriter(Deflater(DeflateParams(), 15))
    assert writer.frame(0x1, b"hello")[0] == 0xC1
    assert writer.frame(0x2, b"hello")[0] == 0xC2
    assert writer.frame(0x9, b"ping")[0] == 0x89
    # compress=0: this message goes uncompressed.
    assert writer.frame(0x1, b"hello", 0)[0] == 0x81
