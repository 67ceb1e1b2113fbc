"""The fuzzing oracles, shared by the hypothesis tests (tests/test_fuzz_*.py) and the atheris
harnesses (fuzz/): feed bytes to the library's sans-IO parsers, allow only their documented
exceptions, and compare what they read with an independent implementation.

- HTTP/1.1 responses: ``hyperclient.http1.parser.ResponseParser`` against h11.
- WebSocket frames: ``hyperclient.websocket.frames.FrameReader`` against the frame parser of
  the ``websockets`` library, with messages assembled here.

Also the hypothesis profiles: ``fuzz-short`` (the default; a few hundred deterministic examples
per property, for the test command) and ``fuzz-long`` (``HYPOTHESIS_PROFILE=fuzz-long``).
"""

from __future__ import annotations

import os
import zlib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field

import h11
import httptools
from hypothesis import HealthCheck, settings
from websockets.exceptions import PayloadTooBig, ProtocolError
from websockets.frames import Frame, Opcode
from websockets.streams import StreamReader as WsStreamReader

from hyperclient.http1.parser import BadHttpMessage, Framing, ResponseHead, ResponseParser
from hyperclient.websocket.deflate import Inflater
from hyperclient.websocket.frames import FrameReader, WebSocketError
from hyperclient.websocket.models import WSMessage, WSMsgType

settings.register_profile(
    "fuzz-short",
    max_examples=250,
    deadline=500,  # ms per example: generous on a loaded machine, short enough to catch a hang
    derandomize=True,  # the test command's result does not change from run to run
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)
settings.register_profile(
    "fuzz-long",
    max_examples=int(os.environ.get("FUZZ_EXAMPLES", "100000")),
    deadline=2000,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)
FUZZ = settings.get_profile(os.environ.get("HYPOTHESIS_PROFILE", "fuzz-short"))

#: What ResponseParser.feed_data may raise (its docstring): BadHttpMessage for a bad head,
#: httptools.HttpParserError for bad framing after it.
PARSER_ERRORS = (BadHttpMessage, httptools.HttpParserError)


def split(data: bytes, cuts: Sequence[int]) -> Iterator[bytes]:
    """*data* in pieces, cut at the given offsets (taken modulo its length)."""
    if not data:
        return
    points = sorted({c % len(data) for c in cuts} - {0})
    start = 0
    for point in points:
        yield data[start:point]
        start = point
    yield data[start:]


# -- HTTP/1.1 ----------------------------------------------------------------------------------


@dataclass
class Reading:
    """The first final response read from some bytes, as both parsers can report it."""

    status: int
    reason: bytes
    version: tuple[int, int]
    headers: list[tuple[bytes, bytes]]
    body: bytes
    interim: list[int] = field(default_factory=list)


class _Sink:
    """Records what ResponseParser reports, the way the connection's protocol would see it:
    everything after the first final response ends is ignored (the protocol would close)."""

    def __init__(self) -> None:
        self.parser: ResponseParser | None = None
        self.head: ResponseHead | None = None
        self.has_body = False
        self.body = bytearray()
        self.interim: list[int] = []
        self.complete = False
        self.upgraded = False

    def on_head(self, head: ResponseHead, has_body: bool) -> None:
        if self.head is None:
            self.head, self.has_body = head, has_body
            self.upgraded = head.status == 101

    def on_interim(self, head: ResponseHead) -> None:
        if self.head is None:
            self.interim.append(head.status)

    def on_body(self, data: bytes) -> None:
        if self.parser is not None:
            self.parser.meta_bytes = 0
        if not self.complete:
            self.body += data

    def on_chunk_header(self) -> None:
        pass

    def on_chunk_complete(self) -> None:
        if self.parser is not None:
            self.parser.meta_bytes = 0

    def on_message_complete(self) -> None:
        if self.head is not None:
            self.complete = True

    def on_unexpected_message(self) -> None:
        pass  # the protocol closes the connection; nothing of it reaches this reading


def parse_ours(
    data: bytes, cuts: Sequence[int] = (), *, head_request: bool = False
) -> Reading | None:
    """Our reading of the first final response in *data* followed by the connection's end, or
    None when there is none (refused, incomplete, or an upgrade). Exceptions other than
    PARSER_ERRORS propagate: they are the bugs this looks for."""
    sink = _Sink()
    parser = sink.parser = ResponseParser(sink)
    parser.expect_response(head_request, True)
    try:
        for piece in split(data, cuts):
            parser.feed_data(piece)
            if sink.complete:
                break
    except PARSER_ERRORS:
        if not sink.complete:
            return None
    head = sink.head
    if head is None or sink.upgraded:
        return None
    if not sink.complete and not (sink.has_body and head.framing() is Framing.UNTIL_EOF):
        return None  # cut short: the connection's end is an error here (RFC 9112 §8)
    return Reading(
        status=head.status,
        reason=head.reason.encode("utf-8", "surrogateescape"),
        version=(head.version.major, head.version.minor),
        headers=[(name.lower(), value) for name, value in head.raw_headers],
        body=bytes(sink.body) if sink.has_body else b"",
        interim=sink.interim,
    )


def parse_h11(data: bytes, *, head_request: bool = False) -> Reading | None:
    """h11's reading of the same, or None when h11 refuses it or it is incomplete."""
    conn = h11.Connection(our_role=h11.CLIENT)
    method = b"HEAD" if head_request else b"GET"
    conn.send(h11.Request(method=method, target=b"/", headers=[(b"Host", b"fuzz")]))
    conn.send(h11.EndOfMessage())
    interim: list[int] = []
    response: h11.Response | None = None
    body = bytearray()
    try:
        conn.receive_data(data)
        conn.receive_data(b"")
        while True:
            event = conn.next_event()
            if isinstance(event, h11.InformationalResponse):
                interim.append(event.status_code)
            elif isinstance(event, h11.Response):
                response = event
            elif isinstance(event, h11.Data):
                body += event.data
            elif isinstance(event, h11.EndOfMessage):
                break
            else:  # NEED_DATA, PAUSED, ConnectionClosed: no complete response
                return None
    except h11.RemoteProtocolError:
        return None
    if response is None or response.status_code == 101:
        return None
    major, _, minor = response.http_version.partition(b".")
    return Reading(
        status=response.status_code,
        reason=bytes(response.reason),
        version=(int(major), int(minor)),
        headers=[
            (bytes(name).lower(), bytes(value)) for name, value in response.headers.raw_items()
        ],
        body=bytes(body),
        interim=interim,
    )


def check_response_bytes(data: bytes, cuts: Sequence[int], *, head_request: bool) -> None:
    """The oracle: only documented exceptions, the same reading however the bytes are cut, and
    the same reading as h11 whenever both accept the input."""
    ours = parse_ours(data, cuts, head_request=head_request)
    whole = parse_ours(data, head_request=head_request)
    assert ours == whole, "the reading depends on how the bytes arrived"
    theirs = parse_h11(data, head_request=head_request)
    if ours is None or theirs is None:
        return
    assert ours == theirs, f"hyperclient and h11 disagree:\n ours:   {ours}\n theirs: {theirs}"


# -- WebSocket ---------------------------------------------------------------------------------


@dataclass
class WsReading:
    """Messages and control frames in order, and the close code of the error that ended it."""

    events: list[tuple[str, bytes]]
    error: int | None
    #: Unfinished at the end: an incomplete frame (FrameReader), or a fragmented message
    #: still in progress (the websockets side); either may still turn out to be a violation.
    incomplete: bool = field(default=False, compare=False)


def _event(msg: WSMessage) -> tuple[str, bytes]:
    data = msg.data
    if msg.type is WSMsgType.TEXT:
        return ("text", data.encode("utf-8"))
    if msg.type is WSMsgType.CLOSE:
        reason = (msg.extra or "").encode()
        return ("close", data.to_bytes(2, "big") + reason if data else b"")
    return (msg.type.name.lower(), bytes(data))


def parse_ws_ours(
    data: bytes, cuts: Sequence[int] = (), *, max_size: int, deflate: bool = False
) -> WsReading:
    """What FrameReader delivers from *data*. Exceptions other than WebSocketError propagate."""
    events: list[tuple[str, bytes]] = []
    reader = FrameReader(
        lambda m: events.append(_event(m)),
        lambda m: events.append(_event(m)),
        max_msg_size=max_size,
        inflater=Inflater() if deflate else None,
    )
    try:
        for piece in split(data, cuts):
            reader.feed(piece)
    except WebSocketError as exc:
        return WsReading(events, exc.code)
    return WsReading(events, None, incomplete=bool(reader._pending))


def parse_ws_websockets(data: bytes, *, max_size: int) -> WsReading | None:
    """The same through the ``websockets`` library's frame parser, with messages assembled
    and checked here (continuation rules, UTF-8, close codes); no extensions. None when the
    reading is not comparable (an incomplete frame at the end)."""
    reader = WsStreamReader()
    reader.feed_data(data)
    reader.feed_eof()
    events: list[tuple[str, bytes]] = []
    fragments: list[bytes] = []
    opcode: Opcode | None = None
    while reader.buffer:  # everything was fed, EOF included
        parser = Frame.parse(reader.read_exact, mask=False, max_size=max_size)
        try:
            while True:
                next(parser)
        except StopIteration as stop:
            frame: Frame = stop.value
        except EOFError:
            return None
        except PayloadTooBig:
            return WsReading(events, 1009)
        except ProtocolError:
            return WsReading(events, 1002)
        opcode, code = _assemble(frame, events, fragments, opcode, max_size)
        if code is not None:
            return WsReading(events, code)
        if events and events[-1][0] == "close":
            break  # nothing is read after a Close (RFC 6455 §5.5.1)
    return WsReading(events, None, incomplete=opcode is not None)


def _assemble(
    frame: Frame,
    events: list[tuple[str, bytes]],
    fragments: list[bytes],
    opcode: Opcode | None,
    max_size: int,
) -> tuple[Opcode | None, int | None]:
    """Add *frame* to the message in progress (of opcode *opcode*): the opcode in progress
    afterwards, and the close code of a violation (None if there is none)."""
    if frame.opcode in (Opcode.PING, Opcode.PONG):
        events.append((frame.opcode.name.lower(), bytes(frame.data)))
        return opcode, None
    if frame.opcode is Opcode.CLOSE:
        return opcode, _close(bytes(frame.data), events)
    if (frame.opcode is Opcode.CONT) != (opcode is not None):
        return opcode, 1002  # a continuation with nothing to continue, or a message inside one
    start = opcode if opcode is not None else frame.opcode
    fragments.append(bytes(frame.data))
    if max_size and sum(map(len, fragments)) > max_size:
        return start, 1009
    if not frame.fin:
        return start, None
    payload = b"".join(fragments)
    fragments.clear()
    if start is Opcode.TEXT:
        try:
            payload.decode("utf-8")
        except UnicodeDecodeError:
            return None, 1007
        events.append(("text", payload))
    else:
        events.append(("binary", payload))
    return None, None


def _close(payload: bytes, events: list[tuple[str, bytes]]) -> int | None:
    if len(payload) == 1:
        return 1002
    if payload:
        code = int.from_bytes(payload[:2], "big")
        if not (code in (1000, 1001, 1002, 1003) or 1007 <= code <= 1014 or 3000 <= code <= 4999):
            return 1002
        try:
            payload[2:].decode("utf-8")
        except UnicodeDecodeError:
            return 1007
    events.append(("close", payload))
    return None


def check_ws_bytes(data: bytes, cuts: Sequence[int], *, max_size: int) -> None:
    """The oracle: only WebSocketError, the same reading however the bytes are cut, and the
    same messages and verdict as the ``websockets`` parser when it reads the input whole."""
    ours = parse_ws_ours(data, cuts, max_size=max_size)
    assert ours == parse_ws_ours(data, max_size=max_size), "the reading depends on the cuts"
    theirs = parse_ws_websockets(data, max_size=max_size)
    if theirs is None:
        return
    if ours.incomplete and theirs.error is not None:
        # The other parser judged a frame from its first bytes (e.g. an unknown opcode) where
        # FrameReader waits for the whole header: fine, as long as nothing else differs.
        assert ours.events == theirs.events
        return
    if theirs.incomplete and theirs.error is None and ours.error == 1007:
        # Invalid UTF-8 in a fragment of a message that never ended: FrameReader fails at the
        # fragment (RFC 6455 §8.1), the assembler here only at the message's end.
        assert ours.events == theirs.events[: len(ours.events)]
        return
    if ours.error is not None and theirs.error is not None:
        # Both refuse. FrameReader may fail sooner (invalid UTF-8 fails at its fragment, which
        # RFC 6455 §8.1 allows), so what it delivered is a prefix of the other's; the codes
        # may differ when one frame breaks two rules.
        assert ours.events == theirs.events[: len(ours.events)]
        return
    assert ours == theirs, (
        f"hyperclient and websockets disagree:\n ours:   {ours}\n theirs: {theirs}"
    )


def deflate_message(payload: bytes) -> bytes:
    """A permessage-deflate payload (RFC 7692 §7.2.1), compressed on its own."""
    compressor = zlib.compressobj(zlib.Z_DEFAULT_COMPRESSION, zlib.DEFLATED, -15)
    data = compressor.compress(payload) + compressor.flush(zlib.Z_SYNC_FLUSH)
    return data[:-4]
