"""The sans-IO frame layer, byte for byte: RFC 6455 §5.7's examples, the reader's checks and
the writer's masking."""

from __future__ import annotations

import os

import pytest

from hyperclient.websocket.frames import FrameReader, FrameWriter, WebSocketError, close_payload
from hyperclient.websocket.models import WSCloseCode, WSMessage, WSMsgType


class Collector:
    def __init__(self, max_msg_size: int = 4 * 1024 * 1024, **kwargs: object) -> None:
        self.messages: list[WSMessage] = []
        self.controls: list[WSMessage] = []
        self.events: list[WSMessage] = []
        self.reader = FrameReader(
            self._deliver,
            self._control,
            max_msg_size=max_msg_size,
            **kwargs,  # type: ignore[arg-type]
        )

    def _deliver(self, msg: WSMessage) -> None:
        self.messages.append(msg)
        self.events.append(msg)

    def _control(self, msg: WSMessage) -> None:
        self.controls.append(msg)
        self.events.append(msg)

    def feed(self, data: bytes) -> None:
        self.reader.feed(data)


def fails_with(code: int, data: bytes, **kwargs: object) -> WebSocketError:
    collector = Collector(**kwargs)  # type: ignore[arg-type]
    with pytest.raises(WebSocketError) as info:
        collector.feed(data)
    assert info.value.code == code
    return info.value


def fixed_key(key: bytes) -> FrameWriter:
    return FrameWriter(random=lambda n: key * (n // 4))


# --- RFC 6455 §5.7 examples -------------------------------------------------------------------


def test_single_frame_unmasked_text_message() -> None:
    c = Collector()
    c.feed(bytes.fromhex("810548656c6c6f"))
    assert c.messages == [WSMessage(WSMsgType.TEXT, "Hello", None)]


def test_masked_frame_from_server_is_a_protocol_error() -> None:
    # The §5.7 masked "Hello" is what a client sends; from a server it must fail (§5.1).
    fails_with(WSCloseCode.PROTOCOL_ERROR, bytes.fromhex("818537fa213d7f9f4d5158"))


def test_writer_masks_hello_like_the_rfc_example() -> None:
    frame = fixed_key(bytes.fromhex("37fa213d")).frame(0x1, b"Hello")
    assert frame == bytes.fromhex("818537fa213d7f9f4d5158")


def test_fragmented_unmasked_text_message() -> None:
    c = Collector()
    c.feed(bytes.fromhex("010348656c") + bytes.fromhex("80026c6f"))
    assert c.messages == [WSMessage(WSMsgType.TEXT, "Hello", None)]


def test_unmasked_ping_and_pong_reach_the_control_handler() -> None:
    c = Collector()
    c.feed(bytes.fromhex("890548656c6c6f") + bytes.fromhex("8a0548656c6c6f"))
    assert c.controls == [
        WSMessage(WSMsgType.PING, b"Hello", None),
        WSMessage(WSMsgType.PONG, b"Hello", None),
    ]
    assert c.messages == []


def test_256_byte_binary_uses_16_bit_length() -> None:
    payload = os.urandom(256)
    c = Collector()
    c.feed(bytes.fromhex("827e0100") + payload)
    assert c.messages == [WSMessage(WSMsgType.BINARY, payload, None)]


def test_64_kib_binary_uses_64_bit_length() -> None:
    payload = os.urandom(65536)
    c = Collector()
    c.feed(bytes.fromhex("827f0000000000010000") + payload)
    assert c.messages == [WSMessage(WSMsgType.BINARY, payload, None)]


# --- reading ----------------------------------------------------------------------------------


def test_frames_split_at_every_byte_give_the_same_messages() -> None:
    stream = (
        bytes.fromhex("810548656c6c6f")
        + bytes.fromhex("827e0100")
        + b"\x07" * 256
        + bytes.fromhex("010348656c")
        + bytes.fromhex("8900")
        + bytes.fromhex("80026c6f")
    )
    whole = Collector()
    whole.feed(stream)
    piecewise = Collector()
    for i in range(len(stream)):
        piecewise.feed(stream[i : i + 1])
    assert piecewise.events == whole.events
    assert [m.type for m in whole.events] == [
        WSMsgType.TEXT,
        WSMsgType.BINARY,
        WSMsgType.PING,
        WSMsgType.TEXT,
    ]


def test_large_frame_arriving_in_pieces_is_assembled() -> None:
    payload = os.urandom(300_000)
    data = bytes.fromhex("827f") + len(payload).to_bytes(8, "big") + payload
    c = Collector()
    for i in range(0, len(data), 7000):
        c.feed(data[i : i + 7000])
    assert c.messages == [WSMessage(WSMsgType.BINARY, payload, None)]


def test_control_frame_between_fragments_is_delivered_first() -> None:
    c = Collector()
    c.feed(bytes.fromhex("0103486579") + bytes.fromhex("8901aa") + bytes.fromhex("800121"))
    assert c.events == [
        WSMessage(WSMsgType.PING, b"\xaa", None),
        WSMessage(WSMsgType.TEXT, "Hey!", None),
    ]


def test_fragmented_binary_message() -> None:
    c = Collector()
    c.feed(bytes.fromhex("020101") + bytes.fromhex("000102") + bytes.fromhex("800103"))
    assert c.messages == [WSMessage(WSMsgType.BINARY, b"\x01\x02\x03", None)]


def test_utf8_character_split_across_fragments_is_valid() -> None:
    encoded = "é€".encode()  # 2 + 3 bytes, split inside both characters
    c = Collector()
    c.feed(b"\x01\x01" + encoded[:1] + b"\x00\x03" + encoded[1:4] + b"\x80\x01" + encoded[4:])
    assert c.messages == [WSMessage(WSMsgType.TEXT, "é€", None)]


def test_invalid_utf8_in_text_frame_is_invalid_text() -> None:
    fails_with(WSCloseCode.INVALID_TEXT, b"\x81\x02\xc3\x28")


def test_invalid_utf8_fails_at_its_fragment_before_the_message_ends() -> None:
    c = Collector()
    with pytest.raises(WebSocketError) as info:
        c.feed(b"\x01\x02ok" + b"\x00\x01\xff")
    assert info.value.code == WSCloseCode.INVALID_TEXT


def test_truncated_utf8_at_the_end_of_a_fragmented_message_is_invalid_text() -> None:
    fails_with(WSCloseCode.INVALID_TEXT, b"\x01\x01a" + b"\x80\x01\xe2")


@pytest.mark.parametrize("rsv", [1, 2, 4, 3])
def test_reserved_bits_without_an_extension_are_a_protocol_error(rsv: int) -> None:
    fails_with(WSCloseCode.PROTOCOL_ERROR, bytes([0x80 | rsv << 4 | 0x1, 1]) + b"a")


@pytest.mark.parametrize("opcode", [0x3, 0x4, 0x5, 0x6, 0x7, 0xB, 0xC, 0xD, 0xE, 0xF])
def test_unknown_opcodes_are_a_protocol_error(opcode: int) -> None:
    fails_with(WSCloseCode.PROTOCOL_ERROR, bytes([0x80 | opcode, 0]))


@pytest.mark.parametrize("opcode", [0x8, 0x9, 0xA])
def test_fragmented_control_frame_is_a_protocol_error(opcode: int) -> None:
    fails_with(WSCloseCode.PROTOCOL_ERROR, bytes([opcode, 0]))


def test_control_frame_longer_than_125_bytes_fails_from_its_header() -> None:
    # The header alone is enough: the 126 payload bytes never need to arrive.
    fails_with(WSCloseCode.PROTOCOL_ERROR, bytes([0x89, 126, 0, 126]))


def test_continuation_without_a_started_message_is_a_protocol_error() -> None:
    fails_with(WSCloseCode.PROTOCOL_ERROR, b"\x80\x01a")


def test_new_data_frame_inside_a_fragmented_message_is_a_protocol_error() -> None:
    fails_with(WSCloseCode.PROTOCOL_ERROR, b"\x01\x01a" + b"\x81\x01b")


def test_frame_length_with_the_top_bit_set_is_a_protocol_error() -> None:
    fails_with(WSCloseCode.PROTOCOL_ERROR, b"\x82\x7f" + (1 << 63).to_bytes(8, "big"))


def test_oversized_frame_fails_from_its_header_alone() -> None:
    head = b"\x82\x7f" + (10 * 1024 * 1024).to_bytes(8, "big")
    err = fails_with(WSCloseCode.MESSAGE_TOO_BIG, head, max_msg_size=1024 * 1024)
    assert "exceeds" in str(err)


def test_oversized_fragmented_message_is_too_big() -> None:
    data = b"\x02\x7e\x02\x00" + b"a" * 512 + b"\x80\x7e\x02\x00" + b"b" * 512
    fails_with(WSCloseCode.MESSAGE_TOO_BIG, data, max_msg_size=1000)


def test_message_of_exactly_max_msg_size_is_accepted() -> None:
    c = Collector(max_msg_size=100)
    c.feed(b"\x82\x64" + b"z" * 100)
    assert c.messages[0].data == b"z" * 100


def test_max_msg_size_zero_means_no_limit() -> None:
    payload = b"q" * 200_000
    c = Collector(max_msg_size=0)
    c.feed(b"\x82\x7f" + len(payload).to_bytes(8, "big") + payload)
    assert c.messages[0].data == payload


def test_messages_before_a_violation_are_delivered() -> None:
    c = Collector()
    with pytest.raises(WebSocketError):
        c.feed(b"\x81\x02hi" + b"\x83\x00")
    assert c.messages == [WSMessage(WSMsgType.TEXT, "hi", None)]


# --- close frames -----------------------------------------------------------------------------


def test_close_frame_with_code_and_reason() -> None:
    c = Collector()
    c.feed(b"\x88\x05\x03\xe8bye")
    assert c.controls == [WSMessage(WSMsgType.CLOSE, 1000, "bye")]


def test_empty_close_frame_has_code_zero() -> None:
    c = Collector()
    c.feed(b"\x88\x00")
    assert c.controls == [WSMessage(WSMsgType.CLOSE, 0, "")]


def test_nothing_is_parsed_after_a_close_frame() -> None:
    c = Collector()
    c.feed(b"\x88\x02\x03\xe8" + b"\x81\x02hi")
    c.feed(b"\x81\x02hi")
    assert c.messages == []
    assert c.reader.closed


def test_one_byte_close_payload_is_a_protocol_error() -> None:
    fails_with(WSCloseCode.PROTOCOL_ERROR, b"\x88\x01\x03")


@pytest.mark.parametrize("code", [0, 999, 1004, 1005, 1006, 1015, 1016, 2999, 5000, 65535])
def test_close_codes_that_may_not_be_sent_are_a_protocol_error(code: int) -> None:
    fails_with(WSCloseCode.PROTOCOL_ERROR, b"\x88\x02" + code.to_bytes(2, "big"))


@pytest.mark.parametrize("code", [1000, 1001, 1003, 1007, 1011, 1012, 1014, 3000, 4999])
def test_registered_and_private_close_codes_are_accepted(code: int) -> None:
    c = Collector()
    c.feed(b"\x88\x02" + code.to_bytes(2, "big"))
    assert c.controls[0].data == code


def test_close_reason_with_invalid_utf8_is_invalid_text() -> None:
    fails_with(WSCloseCode.INVALID_TEXT, b"\x88\x04\x03\xe8\xc3\x28")


def test_close_payload_is_code_then_reason() -> None:
    assert close_payload(1001, b"away") == b"\x03\xe9away"
    assert close_payload(0, b"") == b""
    with pytest.raises(ValueError):
        close_payload(1000, b"x" * 124)


# --- writing ----------------------------------------------------------------------------------


def unmask(frame: bytes) -> tuple[int, bytes, bytes]:
    """(first byte, key, payload) of a client frame, decoded independently of the writer."""
    assert frame[1] & 0x80, "client frames are always masked"
    size = frame[1] & 0x7F
    offset = 2
    if size == 126:
        size = int.from_bytes(frame[2:4], "big")
        offset = 4
    elif size == 127:
        size = int.from_bytes(frame[2:10], "big")
        offset = 10
    key = frame[offset : offset + 4]
    body = frame[offset + 4 :]
    assert len(body) == size
    return frame[0], key, bytes(b ^ key[i % 4] for i, b in enumerate(body))


@pytest.mark.parametrize("size", [0, 1, 3, 4, 5, 125, 126, 127, 255, 65535, 65536, 70001])
def test_writer_length_encodings_and_masking(size: int) -> None:
    payload = os.urandom(size)
    frame = FrameWriter().frame(0x2, payload)
    first, _, body = unmask(frame)
    assert first == 0x82
    assert body == payload
    if size < 126:
        assert frame[1] == 0x80 | size
    elif size < 65536:
        assert frame[1] == 0x80 | 126
    else:
        assert frame[1] == 0x80 | 127


def test_every_frame_gets_a_fresh_masking_key() -> None:
    writer = FrameWriter()
    keys = {unmask(writer.frame(0x1, b"same"))[1] for _ in range(3000)}
    # 3000 frames span more than one block of prefetched keys.
    assert len(keys) > 2990


def test_writer_sets_fin_and_opcode_for_control_frames() -> None:
    writer = FrameWriter()
    assert unmask(writer.frame(0x9, b"p"))[0] == 0x89
    assert unmask(writer.frame(0xA, b""))[0] == 0x8A
    assert unmask(writer.frame(0x8, close_payload(1000, b"")))[2] == b"\x03\xe8"


def test_written_frames_read_back_through_an_unmasking_reader() -> None:
    # Round trip: strip the mask (a server's job) and parse with the client reader.
    writer = FrameWriter()
    c = Collector()
    for text in ["", "a", "héllo", "x" * 70000]:
        first, _, body = unmask(writer.frame(0x1, text.encode()))
        size = len(body)
        if size < 126:
            head = bytes([first, size])
        elif size < 65536:
            head = bytes([first, 126]) + size.to_bytes(2, "big")
        else:
            head = bytes([first, 127]) + size.to_bytes(8, "big")
        c.feed(head + body)
    assert [m.data for m in c.messages] == ["", "a", "héllo", "x" * 70000]
