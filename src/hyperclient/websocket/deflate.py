"""permessage-deflate (RFC 7692): the client's offer, the server's answer, and the codecs."""

from __future__ import annotations

import dataclasses
import sys
import zlib
from collections.abc import Iterable
from typing import Final

from .frames import WebSocketError
from .models import WSCloseCode

__all__ = ("DeflateParams", "Deflater", "Inflater", "NegotiationError", "negotiate", "offer")

EXTENSION: Final = "permessage-deflate"
_TAIL: Final = b"\x00\x00\xff\xff"  # the empty stored block that ends every message (§7.2.1)
_MIN_BITS: Final = 9  # zlib cannot compress raw deflate with an 8-bit window
_MAX_BITS: Final = 15


class NegotiationError(ValueError):
    """The server's Sec-WebSocket-Extensions answer cannot be accepted (RFC 7692 §5)."""


@dataclasses.dataclass(frozen=True)
class DeflateParams:
    """What the server agreed to (RFC 7692 §7.1)."""

    client_max_window_bits: int = _MAX_BITS
    server_max_window_bits: int = _MAX_BITS
    client_no_context_takeover: bool = False
    server_no_context_takeover: bool = False


def offer(compress: int) -> str:
    """The Sec-WebSocket-Extensions value for ``compress=`` (9..15, the window bits).

    ``client_max_window_bits`` without a value tells the server it may size our window
    (§7.1.2.2); below 15 we also ask it to keep its own window that small (§7.1.2.1), which
    bounds the memory its messages need on our side.
    """
    parts = [EXTENSION, "client_max_window_bits"]
    if compress < _MAX_BITS:
        parts.append(f"server_max_window_bits={compress}")
    return "; ".join(parts)


def negotiate(values: Iterable[str]) -> DeflateParams | None:
    """Read the server's Sec-WebSocket-Extensions values (after our offer): the agreed
    parameters, None when the server declined, or NegotiationError when it answered with
    something we did not offer or cannot honour (RFC 6455 §9.1, RFC 7692 §7.1)."""
    accepted: DeflateParams | None = None
    for value in values:
        for element in value.split(","):
            if not element.strip():
                continue
            name, *params = (part.strip() for part in element.split(";"))
            if name.lower() != EXTENSION:
                raise NegotiationError(f"Server chose an extension we did not offer: {name}")
            if accepted is not None:
                raise NegotiationError("Server accepted permessage-deflate more than once")
            accepted = _parse_params(params)
    return accepted


def _parse_params(params: list[str]) -> DeflateParams:
    seen: dict[str, str | None] = {}
    for param in params:
        key, sep, raw = param.partition("=")
        key = key.strip().lower()
        value = raw.strip().strip('"') if sep else None
        if key in seen:
            raise NegotiationError(f"Duplicate permessage-deflate parameter: {key}")
        seen[key] = value
    fields: dict[str, object] = {}
    for key, value in seen.items():
        if key in ("client_no_context_takeover", "server_no_context_takeover"):
            if value is not None:
                raise NegotiationError(f"{key} takes no value")
            fields[key] = True
        elif key in ("client_max_window_bits", "server_max_window_bits"):
            bits = _window_bits(key, value)
            if key == "client_max_window_bits" and bits < _MIN_BITS:
                raise NegotiationError("client_max_window_bits=8 is not supported by zlib")
            fields[key] = bits
        else:
            raise NegotiationError(f"Unknown permessage-deflate parameter: {key}")
    return DeflateParams(**fields)  # type: ignore[arg-type]


def _window_bits(key: str, value: str | None) -> int:
    if value is None or not value.isdigit() or not 8 <= int(value) <= _MAX_BITS:
        raise NegotiationError(f"Invalid {key} value: {value!r}")
    return int(value)


class Deflater:
    """Compresses outgoing messages.

    With context takeover one compressor spans the connection, so messages may refer back to
    earlier ones; without it each message is flushed with Z_FULL_FLUSH, which also forgets the
    history (§7.1.1.2).
    """

    __slots__ = ("_compressor", "_flush", "_wbits")

    def __init__(self, params: DeflateParams, compress: int) -> None:
        self._wbits = max(_MIN_BITS, min(compress, params.client_max_window_bits))
        self._flush = zlib.Z_FULL_FLUSH if params.client_no_context_takeover else zlib.Z_SYNC_FLUSH
        self._compressor = _compressor(self._wbits)

    @property
    def window_bits(self) -> int:
        return self._wbits

    def deflate(self, payload: bytes, window: int | None = None) -> bytes:
        """The compressed body of one message. *window* (9..15) compresses this message alone
        with its own window, capped at what the server allows."""
        if window is None or window is True or window >= self._wbits:
            compressor = self._compressor
            data = compressor.compress(payload) + compressor.flush(self._flush)
        else:
            one_off = _compressor(max(_MIN_BITS, window))
            data = one_off.compress(payload) + one_off.flush(zlib.Z_SYNC_FLUSH)
            if self._flush == zlib.Z_SYNC_FLUSH:
                # The server's window now holds this message's text, which our connection-wide
                # compressor never saw: its back-references would point at the wrong bytes.
                self._compressor = _compressor(self._wbits)
        return data[:-4] if data.endswith(_TAIL) else data


def _compressor(wbits: int) -> zlib._Compress:
    # Level 1: a WebSocket message is compressed on the event loop, so speed beats the last
    # percent of ratio.
    return zlib.compressobj(zlib.Z_BEST_SPEED, zlib.DEFLATED, -wbits)


class Inflater:
    """Decompresses incoming messages, never past the message size limit (a small compressed
    message can expand a thousandfold)."""

    __slots__ = ("_decompressor",)

    def __init__(self) -> None:
        # A 15-bit window reads every smaller window the server may use.
        self._decompressor = zlib.decompressobj(-_MAX_BITS)

    def inflate(self, payload: bytes, limit: int) -> bytes:
        decompressor = self._decompressor
        bounded = limit < sys.maxsize
        try:
            out = decompressor.decompress(payload + _TAIL, limit + 1 if bounded else 0)
        except zlib.error as exc:
            raise WebSocketError(
                WSCloseCode.PROTOCOL_ERROR, f"Invalid compressed message: {exc}"
            ) from exc
        if bounded and (len(out) > limit or decompressor.unconsumed_tail):
            raise WebSocketError(
                WSCloseCode.MESSAGE_TOO_BIG,
                f"Decompressed message exceeds the size limit {limit}",
            )
        if decompressor.eof:
            # The sender ended its deflate stream (BFINAL, RFC 7692 §7.2.3.4): the next
            # message starts a new one.
            self._decompressor = zlib.decompressobj(-_MAX_BITS)
        return out
