"""Property-based fuzzing of the WebSocket frame reader (issue 6).

Random bytes, well-formed frame sequences (written with the test server's own frame encoder)
and mutations of them, cut into random pieces, fed to
``hyperclient.websocket.frames.FrameReader``:

- only WebSocketError comes out, with a close code a client may send;
- the reading does not depend on how the bytes were cut;
- well-formed sequences give exactly the messages they were built from (also compressed with
  permessage-deflate);
- whenever the ``websockets`` library's frame parser reads the input, both agree on the
  messages and on whether it is a violation.

``HYPOTHESIS_PROFILE=fuzz-long`` runs the same properties with many more examples.
"""

from __future__ import annotations

from dataclasses import dataclass

from hypothesis import example, given
from hypothesis import strategies as st

from servers.hostile_fuzz import FUZZ, check_ws_bytes, deflate_message, parse_ws_ours
from servers.ws_raw import frame

CUTS = st.lists(st.integers(min_value=0, max_value=1 << 16), max_size=6)
MAX_SIZE = 1024
#: Close codes FrameReader may fail with (RFC 6455 §7.4.1).
FAIL_CODES = {1002, 1007, 1009}


@dataclass
class Message:
    opcode: int  # 1 text, 2 binary, 9 ping, 10 pong, 8 close
    payload: bytes
    fragments: int = 1  # data messages only


TEXT = st.text(max_size=60).map(str.encode)
PAYLOAD = st.binary(max_size=80)
CONTROL = st.builds(Message, st.sampled_from([9, 10]), st.binary(max_size=125))
DATA = st.one_of(
    st.builds(Message, st.just(1), TEXT, st.integers(min_value=1, max_value=4)),
    st.builds(Message, st.just(2), PAYLOAD, st.integers(min_value=1, max_value=4)),
)
CLOSE = st.builds(
    Message,
    st.just(8),
    st.one_of(
        st.just(b""),
        st.tuples(
            st.sampled_from([1000, 1001, 1003, 1011, 3000, 4999]),
            st.text(max_size=30).map(str.encode),  # at most 120 bytes: fits a control frame
        ).map(lambda t: t[0].to_bytes(2, "big") + t[1]),
    ),
)


def split_in(payload: bytes, fragments: int) -> list[bytes]:
    """*payload* in at most *fragments* pieces (one empty piece for an empty payload)."""
    n = max(1, min(fragments, len(payload)))
    size = -(-len(payload) // n)
    return [payload[i : i + size] for i in range(0, len(payload), size)] if payload else [b""]


def encode(
    messages: list[Message], *, compress: bool = False, controls_between: bool = True
) -> bytes:
    """Frames for *messages*; fragmented messages get a ping between their fragments."""
    out = []
    for msg in messages:
        if msg.opcode >= 8:
            out.append(frame(msg.opcode, msg.payload))
            continue
        payload = deflate_message(msg.payload) if compress else msg.payload
        pieces = split_in(payload, msg.fragments)
        for i, piece in enumerate(pieces):
            opcode = msg.opcode if i == 0 else 0
            rsv = 4 if compress and i == 0 else 0
            out.append(frame(opcode, piece, fin=i == len(pieces) - 1, rsv=rsv))
            if controls_between and i < len(pieces) - 1:
                out.append(frame(9, b"between"))
    return b"".join(out)


def expected(messages: list[Message], *, controls_between: bool = True) -> list[tuple[str, bytes]]:
    names = {1: "text", 2: "binary", 8: "close", 9: "ping", 10: "pong"}
    events = []
    for msg in messages:
        if msg.opcode < 8 and controls_between:
            events += [("ping", b"between")] * (len(split_in(msg.payload, msg.fragments)) - 1)
        events.append((names[msg.opcode], msg.payload))
        if msg.opcode == 8:
            break
    return events


SEQUENCES = st.tuples(
    st.lists(st.one_of(DATA, CONTROL), max_size=6), st.one_of(st.none(), CLOSE)
).map(lambda t: t[0] + ([t[1]] if t[1] is not None else []))

INTERESTING = st.sampled_from(
    [
        b"\x00",
        b"\x80",
        b"\x81",
        b"\x82",
        b"\x88",
        b"\x7e",
        b"\x7f",
        b"\xff",
        b"\xc1",
        b"\x01",
        b"\xfe",
    ]
)


@st.composite
def mutated(draw: st.DrawFn) -> bytes:
    data = bytearray(encode(draw(SEQUENCES), controls_between=draw(st.booleans())))
    for _ in range(draw(st.integers(min_value=1, max_value=3))):
        if not data:
            break
        i = draw(st.integers(min_value=0, max_value=len(data) - 1))
        action = draw(st.sampled_from(["replace", "insert", "delete", "flip"]))
        if action == "replace":
            data[i : i + 1] = draw(INTERESTING)
        elif action == "insert":
            data[i:i] = draw(INTERESTING)
        elif action == "delete":
            del data[i]
        else:
            data[i] ^= 1 << draw(st.integers(min_value=0, max_value=7))
    return bytes(data)


# -- properties --------------------------------------------------------------------------------


@FUZZ
@given(data=st.binary(max_size=300), cuts=CUTS)
@example(data=b"\x81\x05hello", cuts=[1, 3])
@example(data=b"\x81\xfe\x00\x02\x01\x02\x03\x04ab", cuts=[])  # masked: refused
def test_random_bytes_give_only_websocket_errors_and_agree_with_websockets(
    data: bytes, cuts: list[int]
) -> None:
    check_ws_bytes(data, cuts, max_size=MAX_SIZE)
    reading = parse_ws_ours(data, cuts, max_size=MAX_SIZE)
    assert reading.error is None or reading.error in FAIL_CODES


@FUZZ
@given(messages=SEQUENCES, cuts=CUTS, controls_between=st.booleans())
def test_well_formed_frames_give_exactly_their_messages(
    messages: list[Message], cuts: list[int], controls_between: bool
) -> None:
    data = encode(messages, controls_between=controls_between)
    reading = parse_ws_ours(data, cuts, max_size=MAX_SIZE)
    assert reading.error is None
    assert reading.events == expected(messages, controls_between=controls_between)
    check_ws_bytes(data, cuts, max_size=MAX_SIZE)


@FUZZ
@given(messages=st.lists(DATA, max_size=5), cuts=CUTS)
def test_compressed_messages_inflate_to_exactly_what_was_sent(
    messages: list[Message], cuts: list[int]
) -> None:
    data = encode(messages, compress=True, controls_between=False)
    reading = parse_ws_ours(data, cuts, max_size=MAX_SIZE, deflate=True)
    assert reading.error is None
    assert reading.events == expected(messages, controls_between=False)


@FUZZ
@given(data=mutated(), cuts=CUTS)
def test_mutated_frames_give_only_websocket_errors_and_agree_with_websockets(
    data: bytes, cuts: list[int]
) -> None:
    check_ws_bytes(data, cuts, max_size=MAX_SIZE)
    reading = parse_ws_ours(data, cuts, max_size=MAX_SIZE)
    assert reading.error is None or reading.error in FAIL_CODES


@FUZZ
@given(data=st.binary(max_size=300), cuts=CUTS)
def test_random_bytes_with_deflate_negotiated_give_only_websocket_errors(
    data: bytes, cuts: list[int]
) -> None:
    # RSV1 frames go to the inflater: corrupt deflate data must also end as WebSocketError.
    data = bytes([0xC1 if data[:1] == b"\x81" else data[0]]) + data[1:] if data else data
    reading = parse_ws_ours(data, cuts, max_size=MAX_SIZE, deflate=True)
    assert reading == parse_ws_ours(data, max_size=MAX_SIZE, deflate=True)
    assert reading.error is None or reading.error in FAIL_CODES
