"""Content-coding decoders and encoders: round trips, output bounds, errors."""

from __future__ import annotations

import gzip
import importlib
import os
import random
import tracemalloc
import types
import zlib
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from hyperclient import compression
from hyperclient.compression import (
    Decoder,
    DecompressionError,
    get_decoder,
    get_encoder,
    set_zlib_backend,
    supported_encodings,
)


def _optional(name: str) -> Any:
    try:
        return importlib.import_module(name)
    except ImportError:
        return None


brotli = _optional("brotli")
zstandard = _optional("zstandard")

PAYLOAD = b"".join(b"line %d: %s\n" % (i, os.urandom(6).hex().encode()) for i in range(4000))


def _raw_deflate(data: bytes) -> bytes:
    obj = zlib.compressobj(wbits=-15)
    return obj.compress(data) + obj.flush()


def _zstd(data: bytes) -> bytes:
    assert zstandard is not None
    return bytes(zstandard.ZstdCompressor(level=3).compress(data))


CODECS: dict[str, tuple[str, Callable[[bytes], bytes]]] = {
    "gzip": ("gzip", gzip.compress),
    "x-gzip": ("x-gzip", gzip.compress),
    "deflate-zlib": ("deflate", zlib.compress),
    "deflate-raw": ("deflate", _raw_deflate),
}
if brotli is not None:
    CODECS["br"] = ("br", brotli.compress)
if zstandard is not None and "zstd" in supported_encodings():
    CODECS["zstd"] = ("zstd", _zstd)


def _splits(data: bytes, how: str) -> Iterator[bytes]:
    if how == "whole":
        yield data
    elif how == "bytewise":
        for i in range(len(data)):
            yield data[i : i + 1]
    else:
        rnd = random.Random(len(data))
        pos = 0
        while pos < len(data):
            step = rnd.randint(1, 3000)
            yield data[pos : pos + step]
            pos += step


def decode(decoder: Decoder, pieces: Iterator[bytes], max_length: int) -> bytes:
    """The caller's loop from the module docs, checking the bound on every call."""
    out = []
    for piece in pieces:
        data = decoder.decompress(piece, max_length)
        assert max_length <= 0 or len(data) <= max_length
        out.append(data)
        while not decoder.needs_input:
            data = decoder.decompress(b"", max_length)
            assert max_length <= 0 or len(data) <= max_length
            out.append(data)
    out.append(decoder.flush())
    return b"".join(out)


def new_decoder(encoding: str) -> Decoder:
    decoder = get_decoder(encoding)
    assert decoder is not None
    return decoder


@pytest.mark.parametrize("codec", sorted(CODECS))
@pytest.mark.parametrize("how", ["whole", "random", "bytewise"])
@pytest.mark.parametrize("max_length", [0, 1, 1000, 65536])
def test_decoder_round_trips_for_every_chunking_and_bound(
    codec: str, how: str, max_length: int
) -> None:
    encoding, compress = CODECS[codec]
    data = PAYLOAD if how != "bytewise" or max_length >= 1000 else PAYLOAD[:3000]
    decoder = new_decoder(encoding)
    assert decode(decoder, _splits(compress(data), how), max_length) == data
    assert decoder.eof


@pytest.mark.parametrize("codec", sorted(CODECS))
def test_truncated_stream_raises_at_flush(codec: str) -> None:
    encoding, compress = CODECS[codec]
    body = compress(PAYLOAD)
    decoder = new_decoder(encoding)
    decoder.decompress(body[: len(body) // 2], 0)
    assert not decoder.eof
    with pytest.raises(DecompressionError, match="truncated"):
        decoder.flush()


@pytest.mark.parametrize("codec", sorted(CODECS))
def test_stream_missing_only_its_last_byte_is_truncated(codec: str) -> None:
    encoding, compress = CODECS[codec]
    decoder = new_decoder(encoding)
    with pytest.raises(DecompressionError):
        decode(decoder, iter([compress(PAYLOAD)[:-1]]), 65536)


@pytest.mark.parametrize("codec", sorted(CODECS))
def test_corrupt_stream_raises_decompression_error(codec: str) -> None:
    encoding, compress = CODECS[codec]
    body = b"\xff" * 16 + compress(PAYLOAD)[16:]
    with pytest.raises(DecompressionError):
        decode(new_decoder(encoding), iter([body]), 65536)


def test_decompression_error_is_a_value_error() -> None:
    assert issubclass(DecompressionError, ValueError)


def test_corrupt_gzip_checksum_is_detected() -> None:
    body = bytearray(gzip.compress(PAYLOAD))
    body[-6] ^= 0xFF  # inside the CRC-32 of the trailer (RFC 1952 §2.3.1)
    with pytest.raises(DecompressionError):
        decode(new_decoder("gzip"), iter([bytes(body)]), 65536)


@pytest.mark.parametrize("codec", sorted(CODECS))
def test_empty_body_flushes_to_nothing(codec: str) -> None:
    encoding, _ = CODECS[codec]
    decoder = new_decoder(encoding)
    assert decoder.decompress(b"", 100) == b""
    assert decoder.needs_input
    assert decoder.flush() == b""


@pytest.mark.parametrize("how", ["whole", "random", "bytewise"])
def test_concatenated_gzip_members_decode_fully(how: str) -> None:
    body = gzip.compress(b"first member\n") + gzip.compress(PAYLOAD) + gzip.compress(b"last")
    expected = b"first member\n" + PAYLOAD + b"last"
    assert decode(new_decoder("gzip"), _splits(body, how), 4096) == expected


@pytest.mark.parametrize("trailer", [b"\n", b"\0\0\0\0", b"garbage after the end"])
@pytest.mark.parametrize("encoding", ["gzip", "deflate"])
def test_bytes_after_a_complete_zlib_stream_are_dropped(encoding: str, trailer: bytes) -> None:
    compress = gzip.compress if encoding == "gzip" else zlib.compress
    decoder = new_decoder(encoding)
    assert decode(decoder, iter([compress(PAYLOAD) + trailer, trailer]), 65536) == PAYLOAD
    assert decoder.eof


def test_deflate_detects_zlib_and_raw_formats_byte_by_byte() -> None:
    for body in (zlib.compress(PAYLOAD), _raw_deflate(PAYLOAD)):
        assert decode(new_decoder("deflate"), _splits(body, "bytewise"), 65536) == PAYLOAD


def test_deflate_with_a_single_byte_body_is_truncated() -> None:
    decoder = new_decoder("deflate")
    decoder.decompress(zlib.compress(b"x")[:1], 100)
    with pytest.raises(DecompressionError):
        decoder.flush()


def test_needs_input_is_false_while_output_is_held_back() -> None:
    decoder = new_decoder("gzip")
    first = decoder.decompress(gzip.compress(PAYLOAD), 10)
    assert first == PAYLOAD[:10]
    assert not decoder.needs_input
    assert decoder.decompress(b"", 10) == PAYLOAD[10:20]


def _zero_bomb_gzip(total: int) -> bytes:
    obj = zlib.compressobj(9, zlib.DEFLATED, 31)
    block = bytes(1 << 20)
    return b"".join(obj.compress(block) for _ in range(total >> 20)) + obj.flush()


BOMB_SIZE = 100 << 20
BOMB_CHUNK = 65536


def _bomb(encoding: str) -> bytes:
    if encoding == "gzip":
        return _zero_bomb_gzip(BOMB_SIZE)
    if encoding == "br":
        assert brotli is not None
        obj = brotli.Compressor()
        block = bytes(1 << 20)
        pieces = [obj.process(block) for _ in range(BOMB_SIZE >> 20)]
        return b"".join([*pieces, obj.finish()])
    assert zstandard is not None
    cobj = zstandard.ZstdCompressor(level=1).compressobj()
    block = bytes(1 << 20)
    pieces = [cobj.compress(block) for _ in range(BOMB_SIZE >> 20)]
    return b"".join([*pieces, cobj.flush()])


# Peak Python memory allowed while inflating the bomb: exact bounds keep it near one chunk;
# zstandard is bounded to one 128 KiB block past it (see compression's module notes).
BOMB_PEAK = {"gzip": 4 << 20, "br": 4 << 20, "zstd": 4 << 20}


@pytest.mark.parametrize("encoding", [e for e in ("gzip", "br", "zstd") if e in CODECS])
def test_decompression_bomb_inflates_only_as_far_as_asked(encoding: str) -> None:
    bomb = _bomb(encoding)
    assert len(bomb) < BOMB_SIZE // 100
    decoder = new_decoder(encoding)
    total = 0
    tracemalloc.start()
    try:
        for i in range(0, len(bomb), BOMB_CHUNK):
            data = decoder.decompress(bomb[i : i + BOMB_CHUNK], BOMB_CHUNK)
            assert len(data) <= BOMB_CHUNK
            total += len(data)
            while not decoder.needs_input:
                data = decoder.decompress(b"", BOMB_CHUNK)
                assert len(data) <= BOMB_CHUNK
                total += len(data)
            del data
        total += len(decoder.flush())
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert total == BOMB_SIZE
    assert peak < BOMB_PEAK[encoding]


def test_first_call_on_a_bomb_returns_one_bounded_piece() -> None:
    decoder = new_decoder("gzip")
    assert decoder.decompress(_zero_bomb_gzip(8 << 20), 1000) == bytes(1000)
    assert not decoder.needs_input


@pytest.mark.skipif("zstd" not in CODECS, reason="no zstd library")
def test_zstd_concatenated_frames_decode_fully() -> None:
    body = _zstd(b"one ") + _zstd(PAYLOAD) + _zstd(b" three")
    for how in ("whole", "random", "bytewise"):
        decoded = decode(new_decoder("zstd"), _splits(body, how), 5000)
        assert decoded == b"one " + PAYLOAD + b" three"


@pytest.mark.skipif("zstd" not in CODECS, reason="no zstd library")
def test_zstd_window_larger_than_rfc9659_limit_is_refused() -> None:
    assert zstandard is not None
    params = zstandard.ZstdCompressionParameters.from_level(3, window_log=27)
    cobj = zstandard.ZstdCompressor(compression_params=params).compressobj()
    body = cobj.compress(PAYLOAD) + cobj.flush()
    with pytest.raises(DecompressionError):
        decode(new_decoder("zstd"), iter([body]), 65536)


@pytest.mark.skipif("zstd" not in CODECS, reason="no zstd library")
def test_zstd_trailing_bytes_after_the_last_frame_are_dropped() -> None:
    decoder = new_decoder("zstd")
    assert decode(decoder, iter([_zstd(PAYLOAD) + b"junk!", b"more"]), 4096) == PAYLOAD
    assert decoder.eof


@pytest.mark.skipif(zstandard is None, reason="zstandard not installed")
def test_zstandard_backend_round_trips_with_bounded_pieces() -> None:
    # Exercised directly: when compression.zstd / backports.zstd is present it is preferred.
    old = compression._zstandard
    compression._zstandard = zstandard
    try:
        for how in ("whole", "random", "bytewise"):
            decoder = compression._ZstandardDecoder()
            assert decode(decoder, _splits(_zstd(PAYLOAD), how), 777) == PAYLOAD
    finally:
        compression._zstandard = old


@pytest.mark.skipif(compression._zstd_std is None, reason="no compression.zstd/backports.zstd")
def test_stdlib_zstd_backend_round_trips_with_exact_bounds() -> None:
    body = compression._zstd_std.compress(PAYLOAD) * 2
    for how in ("whole", "random", "bytewise"):
        decoder = compression._ZstdStdDecoder()
        assert decode(decoder, _splits(body, how), 777) == PAYLOAD * 2


@pytest.mark.skipif(brotli is None, reason="brotli not installed")
def test_brotli_output_never_exceeds_max_length_even_below_its_block_size() -> None:
    decoder = new_decoder("br")
    assert decode(decoder, iter([brotli.compress(PAYLOAD)]), 100) == PAYLOAD


def test_get_decoder_names_are_case_insensitive_and_identity_is_none() -> None:
    assert isinstance(get_decoder("GZIP"), compression._ZlibDecoder)
    assert isinstance(get_decoder(" Deflate "), compression._ZlibDecoder)
    assert get_decoder("identity") is None
    assert get_decoder("") is None
    assert get_decoder("compress") is None
    assert get_decoder("gzip, br") is None


def test_supported_encodings_lists_what_is_installed() -> None:
    names = supported_encodings().split(", ")
    assert names[:2] == ["gzip", "deflate"]
    assert ("br" in names) == (compression._brotli is not None)
    zstd_available = compression._zstd_std is not None or compression._zstandard is not None
    assert ("zstd" in names) == zstd_available
    assert supported_encodings() is supported_encodings()


@pytest.mark.parametrize(
    ("encoding", "decompress"),
    [("deflate", zlib.decompress), ("gzip", gzip.decompress), ("GZIP", gzip.decompress)],
)
def test_encoder_output_is_standard_and_round_trips(
    encoding: str, decompress: Callable[[bytes], bytes]
) -> None:
    encoder = get_encoder(encoding)
    body = b"".join(encoder.compress(piece) for piece in _splits(PAYLOAD, "random"))
    body += encoder.flush()
    assert decompress(body) == PAYLOAD
    assert decode(new_decoder(encoding.lower()), iter([body]), 1000) == PAYLOAD


@pytest.mark.parametrize("encoding", ["br", "identity", "compress", ""])
def test_get_encoder_rejects_unknown_codings(encoding: str) -> None:
    with pytest.raises(ValueError, match="unsupported"):
        get_encoder(encoding)


def _counting_zlib() -> tuple[types.ModuleType, dict[str, int]]:
    calls = {"compressobj": 0, "decompressobj": 0}
    module = types.ModuleType("counting_zlib")

    def compressobj(*args: object, **kwargs: object) -> object:
        calls["compressobj"] += 1
        return zlib.compressobj(*args, **kwargs)  # type: ignore[arg-type]

    def decompressobj(*args: object, **kwargs: object) -> object:
        calls["decompressobj"] += 1
        return zlib.decompressobj(*args, **kwargs)  # type: ignore[arg-type]

    module.compressobj = compressobj  # type: ignore[attr-defined]
    module.decompressobj = decompressobj  # type: ignore[attr-defined]
    module.error = zlib.error  # type: ignore[attr-defined]
    return module, calls


@pytest.fixture
def restore_zlib_backend() -> Iterator[None]:
    yield
    set_zlib_backend(zlib)


def test_set_zlib_backend_routes_every_zlib_coder(restore_zlib_backend: None) -> None:
    module, calls = _counting_zlib()
    set_zlib_backend(module)
    for encoding in ("gzip", "deflate"):
        encoder = get_encoder(encoding)
        body = encoder.compress(PAYLOAD) + encoder.flush()
        assert decode(new_decoder(encoding), iter([body]), 4096) == PAYLOAD
    assert calls == {"compressobj": 2, "decompressobj": 2}
    set_zlib_backend(zlib)
    get_encoder("gzip")
    new_decoder("gzip")
    assert calls == {"compressobj": 2, "decompressobj": 2}


def test_set_zlib_backend_accepts_zlib_itself(restore_zlib_backend: None) -> None:
    set_zlib_backend(zlib)
    assert decode(new_decoder("gzip"), iter([gzip.compress(PAYLOAD)]), 4096) == PAYLOAD


def test_set_zlib_backend_rejects_a_module_without_the_zlib_api(
    restore_zlib_backend: None,
) -> None:
    with pytest.raises(TypeError):
        set_zlib_backend(types.ModuleType("not_zlib"))


@pytest.mark.skipif("zstd" not in CODECS, reason="no zstd library")
def test_zstd_checksummed_frames_and_skippable_frames_decode() -> None:
    assert zstandard is not None
    cobj = zstandard.ZstdCompressor(write_checksum=True).compressobj()
    streamed = cobj.compress(PAYLOAD) + cobj.flush()
    skippable = b"\x5a\x2a\x4d\x18" + (5).to_bytes(4, "little") + b"12345"
    body = skippable + streamed + skippable + _zstd(b"tail")
    for how in ("whole", "random", "bytewise"):
        assert decode(new_decoder("zstd"), _splits(body, how), 3000) == PAYLOAD + b"tail"


@pytest.mark.skipif("zstd" not in CODECS, reason="no zstd library")
def test_zstd_content_checksum_mismatch_is_detected() -> None:
    assert zstandard is not None
    body = bytearray(zstandard.ZstdCompressor(write_checksum=True).compress(PAYLOAD))
    body[-1] ^= 0xFF
    with pytest.raises(DecompressionError):
        decode(new_decoder("zstd"), iter([bytes(body)]), 65536)
