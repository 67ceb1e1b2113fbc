"""Servers for the integration tests: the ASGI app under uvicorn, and a scripted raw server."""

from .app import COMPRESSED_PAYLOAD, Canned, TestApp, compress, pattern_bytes, stream_piece
from .live import LiveServer
from .raw import (
    RawConnection,
    RawRequest,
    RawServer,
    RawServerFactory,
    http_response,
    reply,
    reply_forever,
)

__all__ = [
    "COMPRESSED_PAYLOAD",
    "Canned",
    "LiveServer",
    "RawConnection",
    "RawRequest",
    "RawServer",
    "RawServerFactory",
    "TestApp",
    "compress",
    "http_response",
    "pattern_bytes",
    "reply",
    "reply_forever",
    "stream_piece",
]
