"""Decompression bombs: small bodies that inflate to a gibibyte of zeros, built in well under
a second each (and cached for the test session).

gzip and deflate repeat one deflate block: after a full flush the compressor has forgotten its
history, so compressing the same megabyte of zeros again gives the very same bytes, and the
stream is that block a thousand times over plus a valid trailer. br and zstd are streamed
through their compressors at a fast level.
"""

from __future__ import annotations

import functools
import importlib
import zlib
from typing import Any


def _first_module(*names: str) -> Any:
    for name in names:
        try:
            return importlib.import_module(name)
        except ImportError:
            continue
    raise ImportError(f"none of {names} is installed")


# Untyped libraries, reached as Any; both are in the test extra.
brotli: Any = _first_module("brotli")
zstd: Any = _first_module("compression.zstd", "backports.zstd")

GIB = 1 << 30
_PIECE = 1 << 20
_ZEROS = bytes(_PIECE)


@functools.cache
def _deflate_block() -> bytes:
    """Raw deflate of one piece of zeros, ending with a full flush (an empty stored block)."""
    compressor = zlib.compressobj(9, zlib.DEFLATED, -15)
    first = compressor.compress(_ZEROS) + compressor.flush(zlib.Z_FULL_FLUSH)
    again = compressor.compress(_ZEROS) + compressor.flush(zlib.Z_FULL_FLUSH)
    assert first == again, "the compressor kept history across a full flush"
    return first


_FINAL_EMPTY_BLOCK = b"\x03\x00"  # BFINAL=1, fixed Huffman, end-of-block at once


def raw_deflate(size: int) -> bytes:
    """Raw deflate (RFC 1951) of *size* zeros; *size* is a multiple of 1 MiB."""
    assert size % _PIECE == 0
    return _deflate_block() * (size // _PIECE) + _FINAL_EMPTY_BLOCK


def _zeros_crc32(size: int) -> int:
    crc = 0
    for _ in range(size // _PIECE):
        crc = zlib.crc32(_ZEROS, crc)
    return crc


@functools.cache
def gzip_bomb(size: int = GIB) -> bytes:
    """gzip (RFC 1952) of *size* zeros, as members of at most 64 MiB each (concatenated
    members are one gzip body), so the checksums stay cheap to compute."""
    member_size = min(size, 64 * _PIECE)
    header = b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\xff"
    trailer = _zeros_crc32(member_size).to_bytes(4, "little") + member_size.to_bytes(4, "little")
    member = header + raw_deflate(member_size) + trailer
    return member * (size // member_size)


@functools.cache
def deflate_bomb(size: int = GIB) -> bytes:
    """zlib-format deflate (RFC 1950, HTTP's "deflate") of *size* zeros."""
    adler = ((size % 65521) << 16) | 1  # for zeros: s1 stays 1, s2 adds 1 per byte
    return b"\x78\xda" + raw_deflate(size) + adler.to_bytes(4, "big")


@functools.cache
def br_bomb(size: int = GIB) -> bytes:
    compressor = brotli.Compressor(quality=1, lgwin=16)
    parts = [compressor.process(_ZEROS) for _ in range(size // _PIECE)]
    parts.append(compressor.finish())
    return b"".join(parts)


@functools.cache
def zstd_bomb(size: int = GIB) -> bytes:
    frame_size = min(size, 64 * _PIECE)
    compressor = zstd.ZstdCompressor(level=3)
    parts = [compressor.compress(_ZEROS) for _ in range(frame_size // _PIECE)]
    parts.append(compressor.flush())
    return b"".join(parts) * (size // frame_size)  # concatenated frames are one zstd body


def br_compress(data: bytes) -> bytes:
    out: bytes = brotli.compress(data, quality=5)
    return out


def zstd_compress(data: bytes) -> bytes:
    return bytes(zstd.compress(data))


BOMBS = {"gzip": gzip_bomb, "deflate": deflate_bomb, "br": br_bomb, "zstd": zstd_bomb}


def websocket_deflate_bomb(size: int = GIB) -> bytes:
    """A permessage-deflate message payload (RFC 7692 §7.2.1) inflating to *size* zeros:
    deflate blocks ending in a sync-flush marker, whose last four bytes are left off."""
    assert size % _PIECE == 0
    payload = _deflate_block() * (size // _PIECE)
    assert payload.endswith(b"\x00\x00\xff\xff")
    return payload[:-4]
