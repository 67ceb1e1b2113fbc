"""Sans-IO WebSocket frames (RFC 6455 §5): bytes in, messages out; messages in, masked frames out.

No asyncio, no sockets, no clock. :class:`FrameReader` parses what the server sent and enforces
the rules a client must check; :class:`FrameWriter` builds client frames, each masked with a
fresh key. permessage-deflate (RFC 7692) plugs in through :mod:`.deflate`.
"""

from __future__ import annotations

import codecs
import os
import struct
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING, Final

from .models import WSCloseCode, WSMessage, WSMsgType

if TYPE_CHECKING:
    from .deflate import Deflater, Inflater

__all__ = (
    "OP_BINARY",
    "OP_CLOSE",
    "OP_CONTINUATION",
    "OP_PING",
    "OP_PONG",
    "OP_TEXT",
    "FrameReader",
    "FrameWriter",
    "WebSocketError",
    "close_payload",
)

OP_CONTINUATION: Final = 0x0
OP_TEXT: Final = 0x1
OP_BINARY: Final = 0x2
OP_CLOSE: Final = 0x8
OP_PING: Final = 0x9
OP_PONG: Final = 0xA

_FIN: Final = 0x80
_RSV1: Final = 0x40
_RSVS: Final = 0x70
_MAX_CONTROL_PAYLOAD: Final = 125  # RFC 6455 §5.5

# Close codes a peer may put on the wire (RFC 6455 §7.4.1, §7.4.2 and the IANA registry):
# 1004-1006 and 1015 are reserved for reporting and must never be sent; 3000-4999 belong to
# libraries, frameworks and applications.
_SENDABLE_CODES: Final = frozenset((1000, 1001, 1002, 1003, *range(1007, 1015)))

_TEXT = WSMsgType.TEXT
_BINARY = WSMsgType.BINARY
_new_message = tuple.__new__
_from_bytes = int.from_bytes
_utf8_decoder = codecs.getincrementaldecoder("utf-8")


class WebSocketError(Exception):
    """The peer broke the protocol; ``code`` is the close code to fail the connection with."""

    def __init__(self, code: int, message: str) -> None:
        super().__init__(code, message)
        self.code = code

    def __str__(self) -> str:
        return str(self.args[1])


def is_sendable_close_code(code: int) -> bool:
    return code in _SENDABLE_CODES or 3000 <= code <= 4999


def close_payload(code: int, reason: bytes) -> bytes:
    """The body of a Close frame: a 2-byte code then a UTF-8 reason (RFC 6455 §5.5.1)."""
    if not code:
        return b""
    if len(reason) > _MAX_CONTROL_PAYLOAD - 2:
        raise ValueError("A close reason must fit a control frame (at most 123 bytes)")
    return code.to_bytes(2, "big") + reason


def parse_close(payload: bytes) -> WSMessage:
    """A received Close frame's body as a CLOSE message (code 0 and reason "" when empty)."""
    if not payload:
        return WSMessage(WSMsgType.CLOSE, 0, "")
    if len(payload) == 1:
        raise WebSocketError(WSCloseCode.PROTOCOL_ERROR, "Close frame with a 1-byte payload")
    code = _from_bytes(payload[:2], "big")
    if not is_sendable_close_code(code):
        raise WebSocketError(WSCloseCode.PROTOCOL_ERROR, f"Invalid close code: {code}")
    try:
        reason = payload[2:].decode("utf-8")
    except UnicodeDecodeError as exc:
        raise WebSocketError(WSCloseCode.INVALID_TEXT, "Invalid UTF-8 in close reason") from exc
    return WSMessage(WSMsgType.CLOSE, code, reason)


class FrameReader:
    """Parses server frames into messages.

    Data messages go to *deliver*; PING, PONG and CLOSE (as :class:`WSMessage`) go to
    *on_control*. A violation raises :class:`WebSocketError`; messages completed before it
    have already been delivered. After a Close frame nothing more is parsed (RFC 6455 §5.5.1).
    """

    __slots__ = (
        "_decoder",
        "_deliver",
        "_frag_compressed",
        "_frag_op",
        "_frag_parts",
        "_frag_size",
        "_frag_text",
        "_inflater",
        "_limit",
        "_need",
        "_on_control",
        "_pending",
        "_pending_size",
        "closed",
    )

    def __init__(
        self,
        deliver: Callable[[WSMessage], None],
        on_control: Callable[[WSMessage], None],
        *,
        max_msg_size: int,
        inflater: Inflater | None = None,
    ) -> None:
        self._deliver = deliver
        self._on_control = on_control
        # 0 disables the limit (the reference's max_msg_size=0).
        self._limit = max_msg_size if max_msg_size > 0 else sys.maxsize
        self._inflater = inflater
        self._pending: list[bytes] = []
        self._pending_size = 0
        self._need = 0
        self._frag_op = 0  # the opcode of the fragmented message in progress, 0 when none
        self._frag_parts: list[bytes] = []
        self._frag_text: list[str] = []
        self._frag_size = 0
        self._frag_compressed = False
        self._decoder: codecs.IncrementalDecoder | None = None
        self.closed = False

    def feed(self, data: bytes) -> None:
        if self.closed:
            return
        pending = self._pending
        if pending:
            # Pieces of one unfinished frame wait here until the whole frame is in: joining
            # them once avoids re-copying a growing buffer for every piece of a large frame.
            pending.append(data)
            self._pending_size += len(data)
            if self._pending_size < self._need:
                return
            data = b"".join(pending)
            pending.clear()
        pos = self._parse(data)
        if pos < len(data) and not self.closed:
            pending.append(data[pos:] if pos else data)
            self._pending_size = len(data) - pos

    def _parse(self, buf: bytes) -> int:
        """Parse every complete frame in *buf*; returns where the first incomplete one starts."""
        pos = 0
        end = len(buf)
        deliver = self._deliver
        limit = self._limit
        fast = not self._frag_op
        try:
            while True:
                if end - pos < 2:
                    self._need = 2
                    return pos
                b0 = buf[pos]
                n = buf[pos + 1]
                if n < 126:
                    start = pos + 2
                elif n == 126:
                    start = pos + 4
                    if start > end:
                        self._need = 4
                        return pos
                    n = _from_bytes(buf[pos + 2 : start], "big")
                elif n == 127:
                    start = pos + 10
                    if start > end:
                        self._need = 10
                        return pos
                    n = _from_bytes(buf[pos + 2 : start], "big")
                    if n >> 63:
                        raise WebSocketError(WSCloseCode.PROTOCOL_ERROR, "Invalid frame length")
                else:
                    # RFC 6455 §5.1: a client must close on a masked frame from the server.
                    raise WebSocketError(
                        WSCloseCode.PROTOCOL_ERROR, "Received a masked frame from the server"
                    )
                stop = start + n
                if fast and (b0 == 0x81 or b0 == 0x82):
                    if n > limit:
                        raise _too_big(n, limit)
                    if stop > end:
                        self._need = stop - pos
                        return pos
                    if b0 == 0x81:
                        deliver(_new_message(WSMessage, (_TEXT, buf[start:stop].decode(), None)))
                    else:
                        deliver(_new_message(WSMessage, (_BINARY, buf[start:stop], None)))
                    pos = stop
                    continue
                # Everything else: control frames, fragments, compressed or invalid frames.
                self._check_header(b0, n)
                if stop > end:
                    self._need = stop - pos
                    return pos
                self._frame(b0, buf[start:stop])
                pos = stop
                if self.closed:
                    return end
                fast = not self._frag_op
        except UnicodeDecodeError as exc:
            raise WebSocketError(WSCloseCode.INVALID_TEXT, "Invalid UTF-8 text message") from exc

    def _check_header(self, b0: int, n: int) -> None:
        """The checks that need only the header, so a bad or oversized frame fails before its
        payload is buffered."""
        opcode = b0 & 0x0F
        rsv = b0 & _RSVS
        if opcode >= OP_CLOSE:
            if opcode > OP_PONG:
                raise _protocol_error(f"Unknown opcode {opcode:#x}")
            if not b0 & _FIN:
                raise _protocol_error("Fragmented control frame")  # RFC 6455 §5.5
            if n > _MAX_CONTROL_PAYLOAD:
                raise _protocol_error("Control frame payload is larger than 125 bytes")
            if rsv:
                raise _protocol_error("Reserved bits set on a control frame")
            return
        if opcode == OP_CONTINUATION:
            if not self._frag_op:
                raise _protocol_error("Continuation frame without a message to continue")
            if rsv:
                # RFC 7692 §6.1: RSV1 marks only the first frame of a compressed message.
                raise _protocol_error("Reserved bits set on a continuation frame")
            if self._frag_size + n > self._limit:
                raise _too_big(self._frag_size + n, self._limit)
            return
        if opcode > OP_BINARY:
            raise _protocol_error(f"Unknown opcode {opcode:#x}")
        if self._frag_op:
            raise _protocol_error("New data frame while a fragmented message is in progress")
        if rsv and (rsv != _RSV1 or self._inflater is None):
            # RFC 6455 §5.2: reserved bits only with an extension that defines them.
            raise _protocol_error("Reserved bits set without a negotiated extension")
        if n > self._limit:
            raise _too_big(n, self._limit)

    def _frame(self, b0: int, payload: bytes) -> None:
        opcode = b0 & 0x0F
        if opcode >= OP_CLOSE:
            if opcode == OP_CLOSE:
                msg = parse_close(payload)
                self.closed = True
            else:
                msg = WSMessage(WSMsgType(opcode), payload, None)
            self._on_control(msg)
            return
        fin = b0 & _FIN
        if opcode != OP_CONTINUATION:
            compressed = bool(b0 & _RSV1)
            if fin:
                self._deliver(self._message(opcode, [payload], compressed))
                return
            self._frag_op = opcode
            self._frag_compressed = compressed
            self._frag_size = 0
            # Invalid UTF-8 fails at the fragment that carries it, not at the end of the
            # message (RFC 6455 §8.1 allows failing fast).
            self._decoder = _utf8_decoder() if opcode == OP_TEXT and not compressed else None
        self._frag_size += len(payload)
        decoder = self._decoder
        if decoder is not None:
            self._frag_text.append(decoder.decode(payload, bool(fin)))
        else:
            self._frag_parts.append(payload)
        if not fin:
            return
        opcode, compressed = self._frag_op, self._frag_compressed
        parts, texts = self._frag_parts, self._frag_text
        self._frag_op = 0
        self._frag_parts = []
        self._frag_text = []
        self._decoder = None
        if decoder is not None:
            self._deliver(WSMessage(_TEXT, "".join(texts), None))
        else:
            self._deliver(self._message(opcode, parts, compressed))

    def _message(self, opcode: int, parts: list[bytes], compressed: bool) -> WSMessage:
        payload = parts[0] if len(parts) == 1 else b"".join(parts)
        if compressed:
            assert self._inflater is not None
            payload = self._inflater.inflate(payload, self._limit)
        if opcode == OP_TEXT:
            return WSMessage(_TEXT, payload.decode("utf-8"), None)
        return WSMessage(_BINARY, payload, None)


def _protocol_error(message: str) -> WebSocketError:
    return WebSocketError(WSCloseCode.PROTOCOL_ERROR, message)


def _too_big(size: int, limit: int) -> WebSocketError:
    return WebSocketError(WSCloseCode.MESSAGE_TOO_BIG, f"Message size {size} exceeds limit {limit}")


# The masking key travels as an int whose little-endian bytes are the key's wire bytes, so
# the header packs it directly and the XOR below works on little-endian ints too.
_HEAD_SMALL = struct.Struct("<BBI").pack
_HEAD_MEDIUM = struct.Struct("<BBHI").pack
_HEAD_LARGE = struct.Struct("<BBQI").pack
_KEYS_PER_BLOCK: Final = 1024
_unpack_keys = struct.Struct(f"<{_KEYS_PER_BLOCK}I").unpack
_ONE_PER_WORD = b"\x01\x00\x00\x00"
# _REPEAT[q] * key is the key repeated q times (as one int): the mask for q words of payload.
_REPEAT: Final = [_from_bytes(_ONE_PER_WORD * q, "little") for q in range(65)]


class FrameWriter:
    """Builds client frames: always masked (RFC 6455 §5.3), each with a fresh key.

    Keys come from ``os.urandom`` (the RFC asks for keys the page's script cannot predict),
    fetched 1024 at a time so a small frame does not pay for a system call.
    """

    __slots__ = ("_deflater", "_key_pos", "_keys", "_random")

    def __init__(
        self, deflater: Deflater | None = None, random: Callable[[int], bytes] = os.urandom
    ) -> None:
        self._deflater = deflater
        self._random = random
        self._keys: tuple[int, ...] = ()
        self._key_pos = _KEYS_PER_BLOCK

    def frame(self, opcode: int, payload: bytes, compress: int | None = None) -> bytes:
        """One complete frame (FIN set) for *payload*. *compress* is the per-message override:
        None follows the connection's setting, 0 sends this message uncompressed, 9..15 uses
        that window size for this message."""
        first = _FIN | opcode
        deflater = self._deflater
        if deflater is not None and opcode < OP_CLOSE and compress != 0:
            payload = deflater.deflate(payload, compress)
            first |= _RSV1
        pos = self._key_pos
        if pos >= _KEYS_PER_BLOCK:
            self._keys = _unpack_keys(self._random(4 * _KEYS_PER_BLOCK))
            pos = 0
        self._key_pos = pos + 1
        key = self._keys[pos]
        n = len(payload)
        if n < 126:
            head = _HEAD_SMALL(first, 0x80 | n, key)
        elif n < 65536:
            head = _HEAD_MEDIUM(first, 0xFE, ((n & 0xFF) << 8) | (n >> 8), key)
        else:
            head = _HEAD_LARGE(first, 0xFF, _from_bytes(n.to_bytes(8, "big"), "little"), key)
        if not n:
            return head
        words = (n + 3) >> 2
        repeat = _REPEAT[words] if words <= 64 else _from_bytes(_ONE_PER_WORD * words, "little")
        masked = (_from_bytes(payload, "little") ^ key * repeat).to_bytes(words << 2, "little")
        # The mask covers whole words: its bytes past the payload are not part of the frame.
        return head + (masked if n & 3 == 0 else masked[:n])
