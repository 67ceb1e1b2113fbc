"""Content codings (RFC 9110 §8.4.1) for response and request bodies; sans-IO.

Decoders have a bounded-output interface: ``decompress(data, max_length)`` returns at most
``max_length`` bytes and keeps what it could not yet produce, so a small hostile body (a
"decompression bomb") is only inflated as fast as the caller reads it. The caller's loop::

    out = decoder.decompress(received, max_length)
    while not decoder.needs_input:
        out = decoder.decompress(b"", max_length)
    ...
    tail = decoder.flush()  # at end of body: raises DecompressionError when truncated

New input should only be given when ``needs_input`` is true (it is still accepted otherwise).
``max_length <= 0`` means unbounded, and so is ``flush()``: drain with ``decompress(b"", n)``
until ``needs_input`` before calling it.

How tight the bound is depends on the library:

- gzip, deflate (zlib or any backend set with ``set_zlib_backend``): exact.
- zstd through ``compression.zstd`` (Python 3.14) or ``backports.zstd``: exact.
- zstd through ``zstandard``: its streaming API cannot cap output, so input is given to it
  one block at a time (found by walking the frame format) and what exceeds ``max_length`` is
  kept for the next call: at most one block, 128 KiB, beyond ``max_length``.
- br through ``brotli`` >= 1.1 (``output_buffer_limit``): brotli grows its output in blocks, so
  it may produce up to ~32 KiB beyond the limit; the excess is kept, never returned early.
  Through ``brotlicffi`` or an older ``brotli``: unbounded per call (what exceeds
  ``max_length`` is kept and handed out over later calls).

Bytes after the end of a complete gzip, deflate or zstd stream that do not start another
gzip member / zstd frame are dropped (as browsers and curl do); they cannot change what was
decoded, whose integrity the format's own checksum already vouched for. brotli's library
rejects them, which surfaces as DecompressionError.
"""

from __future__ import annotations

import importlib
import zlib
from types import ModuleType
from typing import Any, Final, Protocol

__all__ = (
    "Decoder",
    "DecompressionError",
    "Encoder",
    "get_decoder",
    "get_encoder",
    "set_zlib_backend",
    "supported_encodings",
)

_MAX_WBITS: Final = 15  # RFC 1950/1951: the largest deflate window, 32 KiB
_GZIP_WBITS: Final = 16 + _MAX_WBITS
_RAW_WBITS: Final = -_MAX_WBITS
_GZIP_MAGIC: Final = b"\x1f\x8b"  # RFC 1952 §2.3.1
_ZSTD_MAGIC: Final = b"\x28\xb5\x2f\xfd"  # RFC 8878 §3.1.1
# RFC 9659 §3: HTTP's zstd coding uses windows of at most 8 MiB; larger ones may be refused,
# which keeps a hostile frame from making us allocate a huge window.
_ZSTD_WINDOW_LOG_MAX: Final = 23


class DecompressionError(ValueError):
    """The body's content coding is corrupt or truncated."""


def _optional(*names: str) -> Any:
    for name in names:
        try:
            return importlib.import_module(name)
        except ImportError:
            continue
    return None


_zlib: Any = zlib
_brotli: Any = _optional("brotli", "brotlicffi")
_zstd_std: Any = _optional("compression.zstd", "backports.zstd")
_zstandard: Any = None if _zstd_std is not None else _optional("zstandard")


def _brotli_can_bound() -> bool:
    try:
        _brotli.Decompressor().process(b"", output_buffer_limit=1)
    except (TypeError, AttributeError):
        return False
    return True


_BROTLI_BOUNDED: Final = _brotli is not None and _brotli_can_bound()


def set_zlib_backend(lib: ModuleType) -> None:
    """Use *lib* (``zlib`` or a zlib-compatible module such as ``zlib_ng.zlib_ng`` or
    ``isal.isal_zlib``) for every gzip/deflate coder created from now on."""
    for name in ("compressobj", "decompressobj", "error"):
        if not hasattr(lib, name):
            raise TypeError(f"{lib!r} is not zlib-compatible: it has no {name!r}")
    global _zlib
    _zlib = lib


class Decoder(Protocol):
    def decompress(self, data: bytes, max_length: int) -> bytes:
        """At most *max_length* bytes of output; input not yet used is kept."""
        ...

    @property
    def needs_input(self) -> bool:
        """Nothing more can be produced from the input given so far."""
        ...

    def flush(self) -> bytes:
        """The end of the body: what is left, or DecompressionError when truncated."""
        ...

    @property
    def eof(self) -> bool:
        """The compressed stream's end marker was seen."""
        ...


class Encoder(Protocol):
    def compress(self, data: bytes) -> bytes: ...

    def flush(self) -> bytes: ...


def _drain(decoder: Decoder) -> list[bytes]:
    """Everything the decoder can still produce from the input it holds, unbounded."""
    parts = []
    while not decoder.needs_input:
        data = decoder.decompress(b"", 0)
        if data:
            parts.append(data)
    return parts


def _truncated(name: str) -> DecompressionError:
    return DecompressionError(f"{name} stream ended before its end marker (truncated body)")


class _ZlibDecoder:
    """gzip (RFC 1952, members may be concatenated) and deflate.

    RFC 9110 §8.4.1.2 defines deflate as the zlib format (RFC 1950), but servers also send raw
    deflate (RFC 1951); the first two bytes tell them apart.
    """

    __slots__ = ("_error", "_finished", "_gzip", "_head", "_lib", "_needs_input", "_obj", "_seen")

    def __init__(self, gzip: bool) -> None:
        lib = _zlib
        self._lib = lib
        self._error: type[Exception] = lib.error
        self._gzip = gzip
        self._obj: Any = lib.decompressobj(_GZIP_WBITS) if gzip else None
        # deflate: the first bytes, until the format is known; gzip: bytes after a member,
        # until it is known whether another member starts there.
        self._head = b""
        self._needs_input = True
        self._seen = False
        self._finished = False  # later input is trailing garbage

    @property
    def needs_input(self) -> bool:
        return self._needs_input

    @property
    def eof(self) -> bool:
        obj = self._obj
        return self._finished or (obj is not None and obj.eof and not self._head)

    def decompress(self, data: bytes, max_length: int) -> bytes:
        if data:
            self._seen = True
        if self._finished:
            return b""
        obj = self._obj
        if obj is None or obj.eof:
            obj = self._start(self._head + data)
            if obj is None:
                return b""
            data = self._head
            self._head = b""
        else:
            tail = obj.unconsumed_tail
            if tail:
                data = tail + data if data else tail
        limit = max_length if max_length > 0 else 0
        try:
            out: bytes = obj.decompress(data, limit)
        except self._error as exc:
            raise DecompressionError(f"corrupt {self._name} stream: {exc}") from exc
        if obj.eof:
            self._end_of_member(obj.unused_data)
        else:
            self._needs_input = not obj.unconsumed_tail and (not limit or len(out) < limit)
        return out

    def _start(self, head: bytes) -> Any:
        """A decompressor for the member starting with *head* (kept in ``_head``), or None
        when more bytes are needed or the rest is garbage."""
        self._needs_input = True
        if len(head) < 2:
            self._head = head
            return None
        if self._gzip:
            if not head.startswith(_GZIP_MAGIC):
                self._finish()
                return None
            wbits = _GZIP_WBITS
        else:
            # RFC 1950 §2.2: CM=8, CINFO<=7, and CMF*256+FLG a multiple of 31.
            cmf, flg = head[0], head[1]
            zlib_header = cmf & 0x0F == 8 and cmf >> 4 <= 7 and (cmf << 8 | flg) % 31 == 0
            wbits = _MAX_WBITS if zlib_header else _RAW_WBITS
        self._head = head
        self._obj = self._lib.decompressobj(wbits)
        return self._obj

    def _end_of_member(self, rest: bytes) -> None:
        if self._gzip and rest:
            self._head = rest
            self._needs_input = False
        elif self._gzip:
            self._needs_input = True
        else:
            self._finish()

    def _finish(self) -> None:
        self._finished = True
        self._head = b""
        self._needs_input = True

    @property
    def _name(self) -> str:
        return "gzip" if self._gzip else "deflate"

    def flush(self) -> bytes:
        parts = _drain(self)
        obj = self._obj
        if self._seen and not self._finished and (obj is None or not obj.eof):
            raise _truncated(self._name)
        self._finish()
        return b"".join(parts)


class _Pending:
    """Output produced beyond ``max_length``, handed out by later calls without copying
    the rest again each time."""

    __slots__ = ("_out", "_pos")

    def __init__(self) -> None:
        self._out = b""
        self._pos = 0

    def cut(self, out: bytes, max_length: int) -> bytes:
        """*out* fresh from the decompressor: return up to *max_length*, keep the rest."""
        if 0 < max_length < len(out):
            self._out, self._pos = out, max_length
            return out[:max_length]
        return out

    def take(self, max_length: int) -> bytes:
        out, pos = self._out, self._pos
        end = pos + max_length if max_length > 0 else len(out)
        if end >= len(out):
            self._out, self._pos = b"", 0
            return out[pos:]
        self._pos = end
        return out[pos:end]

    def __bool__(self) -> bool:
        return bool(self._out)


class _BrotliDecoder:
    """br (RFC 7932)."""

    __slots__ = ("_dec", "_input", "_more", "_pending", "_seen")

    def __init__(self) -> None:
        self._dec: Any = _brotli.Decompressor()
        self._pending = _Pending()
        self._input = b""  # given while the decoder could not take input
        self._more = False  # the decoder filled its output buffer and may hold more
        self._seen = False

    @property
    def needs_input(self) -> bool:
        if self.eof:
            return True
        if self._pending or self._more or self._input:
            return False
        # Input brotli kept back after hitting the output limit still has output in it.
        return not _BROTLI_BOUNDED or bool(self._dec.can_accept_more_data())

    @property
    def eof(self) -> bool:
        return bool(self._dec.is_finished()) and not self._pending

    def decompress(self, data: bytes, max_length: int) -> bytes:
        if data:
            self._seen = True
            # After the end marker more input is trailing garbage (see the module notes).
            if not self._dec.is_finished():
                self._input = self._input + data if self._input else data
        if self._pending:
            return self._pending.take(max_length)
        return self._pending.cut(self._produce(max_length), max_length)

    def _produce(self, max_length: int) -> bytes:
        dec = self._dec
        if not _BROTLI_BOUNDED:
            chunk, self._input = self._input, b""
            return self._process(chunk) if chunk else b""
        # brotli's rule: after a limited call fills its buffer, only empty input until
        # can_accept_more_data(); we also drain before feeding so output stays bounded.
        if self._more or not dec.can_accept_more_data():
            chunk = b""
        elif self._input:
            chunk, self._input = self._input, b""
        else:
            return b""
        if max_length <= 0:
            out = self._process(chunk)
            while not dec.can_accept_more_data():
                out += self._process(b"")
            self._more = False
            return out
        out = self._process(chunk, max_length)
        self._more = len(out) >= max_length
        return out

    def _process(self, chunk: bytes, limit: int = 0) -> bytes:
        try:
            if limit:
                out: bytes = self._dec.process(chunk, output_buffer_limit=limit)
            else:
                out = self._dec.process(chunk)
            return out
        except _brotli.error as exc:
            raise DecompressionError(f"corrupt br stream: {exc}") from exc

    def flush(self) -> bytes:
        parts = _drain(self)
        if self._seen and not self._dec.is_finished():
            raise _truncated("br")
        return b"".join(parts)


def _starts_zstd_frame(head: bytes) -> bool:
    # RFC 8878 §3.1: a zstd frame, or a skippable frame (magic 0x184D2A5?, little-endian).
    return head.startswith(_ZSTD_MAGIC) or (head[0] & 0xF0 == 0x50 and head[1:4] == b"\x2a\x4d\x18")


class _ZstdStdDecoder:
    """zstd (RFC 8878) through ``compression.zstd`` / ``backports.zstd``, whose decompressor
    bounds its own output and keeps unconsumed input."""

    __slots__ = ("_finished", "_head", "_obj", "_seen")

    def __init__(self) -> None:
        self._obj: Any = self._new()
        self._head = b""  # bytes after a frame, until it is known whether a frame starts there
        self._seen = False
        self._finished = False

    @staticmethod
    def _new() -> Any:
        options = {_zstd_std.DecompressionParameter.window_log_max: _ZSTD_WINDOW_LOG_MAX}
        return _zstd_std.ZstdDecompressor(options=options)

    @property
    def needs_input(self) -> bool:
        if self._finished:
            return True
        if self._obj.eof:
            return len(self._head) < 4
        return bool(self._obj.needs_input)

    @property
    def eof(self) -> bool:
        return self._finished or (self._obj.eof and not self._head)

    def decompress(self, data: bytes, max_length: int) -> bytes:
        if data:
            self._seen = True
        if self._finished:
            return b""
        obj = self._obj
        if obj.eof:
            head = self._head + data
            if len(head) < 4:
                self._head = head
                return b""
            self._head = b""
            if not _starts_zstd_frame(head):
                self._finished = True
                return b""
            obj = self._obj = self._new()
            data = head
        try:
            out: bytes = obj.decompress(data, max_length if max_length > 0 else -1)
        except _zstd_std.ZstdError as exc:
            raise DecompressionError(f"corrupt zstd stream: {exc}") from exc
        if obj.eof:
            self._head = obj.unused_data
        return out

    def flush(self) -> bytes:
        parts = _drain(self)
        if self._seen and not self._finished and not self._obj.eof:
            raise _truncated("zstd")
        self._finished = True
        return b"".join(parts)


class _ZstdBlocks:
    """Walks the frame structure of RFC 8878 §3.1 in the input, so that the decompressor can
    be given one block at a time: a block regenerates at most 128 KiB (§3.1.1.2.3), which is
    how ``zstandard`` (whose API cannot cap output) is kept within that much of the bound.

    A mistake here could only loosen the bound: the decompressor is indifferent to how its
    input is split, and checks the format itself.
    """

    __slots__ = ("checksum", "skip", "state")

    def __init__(self) -> None:
        self.state = _FRAME
        self.checksum = False  # the current frame ends with a 4-byte checksum
        self.skip = False  # the current structure is a skippable frame: no output

    def parse(self, head: bytes) -> int:
        """Length of the structure (frame header, block, checksum, skippable frame) that
        starts with *head*: 0 when *head* is too short to tell, -1 when it is not zstd."""
        state = self.state
        self.skip = False
        if state == _BLOCK:
            if len(head) < 3:
                return 0
            header = head[0] | head[1] << 8 | head[2] << 16
            if header & 1:  # Last_Block
                self.state = _CHECKSUM if self.checksum else _FRAME
            # §3.1.1.2.2: an RLE block (type 1) carries one byte, others Block_Size bytes.
            return 3 + (1 if header >> 1 & 3 == 1 else header >> 3)
        if state == _CHECKSUM:
            self.state = _FRAME
            return 4
        if len(head) < 5:
            return 0
        if head.startswith(_ZSTD_MAGIC):
            descriptor = head[4]  # §3.1.1.1.1 Frame_Header_Descriptor
            single_segment = descriptor >> 5 & 1
            self.checksum = bool(descriptor & 4)
            self.state = _BLOCK
            return (
                5
                + (1 - single_segment)  # Window_Descriptor
                + (0, 1, 2, 4)[descriptor & 3]  # Dictionary_ID
                + (single_segment, 2, 4, 8)[descriptor >> 6]  # Frame_Content_Size
            )
        if head[0] & 0xF0 == 0x50 and head[1:4] == b"\x2a\x4d\x18":  # §3.1.2 skippable
            if len(head) < 8:
                return 0
            self.skip = True
            return 8 + int.from_bytes(head[4:8], "little")
        return -1


_FRAME: Final = 0
_BLOCK: Final = 1
_CHECKSUM: Final = 2


class _ZstandardDecoder:
    """zstd (RFC 8878) through ``zstandard``, given one block per call (see _ZstdBlocks)."""

    __slots__ = (
        "_blocks",
        "_finished",
        "_frames",
        "_input",
        "_left",
        "_needs_input",
        "_obj",
        "_pending",
        "_pos",
        "_seen",
    )

    def __init__(self) -> None:
        self._obj: Any = self._new()
        self._blocks = _ZstdBlocks()
        self._pending = _Pending()
        self._input = b""
        self._pos = 0  # _input[:_pos] was given to the decompressor
        self._left = 0  # bytes of the current structure not yet given
        self._frames = 0
        self._needs_input = True
        self._seen = False
        self._finished = False

    @staticmethod
    def _new() -> Any:
        dctx = _zstandard.ZstdDecompressor(max_window_size=1 << _ZSTD_WINDOW_LOG_MAX)
        return dctx.decompressobj()

    @property
    def needs_input(self) -> bool:
        return self._needs_input and not self._pending

    @property
    def eof(self) -> bool:
        return self._finished or (self._obj.eof and self._blocks.state == _FRAME)

    def decompress(self, data: bytes, max_length: int) -> bytes:
        if data:
            self._seen = True
            if not self._finished:
                self._append(data)
        if self._pending:
            return self._pending.take(max_length)
        parts: list[bytes] = []
        size = 0
        while max_length <= 0 or size < max_length:
            out = self._step()
            if out is None:
                break
            if out:
                parts.append(out)
                size += len(out)
        self._needs_input = out is None
        return self._pending.cut(b"".join(parts), max_length)

    def _append(self, data: bytes) -> None:
        left = self._input[self._pos :] if self._pos < len(self._input) else b""
        self._input = left + data if left else data
        self._pos = 0

    def _step(self) -> bytes | None:
        """Give the decompressor the rest of the current structure, as far as it arrived;
        None when it needs more input first."""
        pos = self._pos
        available = len(self._input) - pos
        if self._finished or not available:
            return None
        if not self._left:
            self._left = self._blocks.parse(self._input[pos : pos + 18])
            if self._left <= 0:
                if self._left < 0:
                    self._not_a_frame()
                return None
            if self._blocks.state == _BLOCK and not self._blocks.skip and self._obj.eof:
                self._obj = self._new()
        size = min(self._left, available)
        self._pos = pos + size
        self._left -= size
        if self._blocks.skip:
            return b""
        obj = self._obj
        try:
            out: bytes = obj.decompress(memoryview(self._input)[pos : pos + size])
        except _zstandard.ZstdError as exc:
            raise DecompressionError(f"corrupt zstd stream: {exc}") from exc
        if obj.eof:
            self._frames += 1
            # The walker and the library disagree only on input that is not zstd; the
            # library's view wins and the extra bytes are looked at again as a new frame.
            self._pos -= len(obj.unused_data)
            self._blocks.state, self._left = _FRAME, 0
        return out

    def _not_a_frame(self) -> None:
        self._left = 0
        if not self._frames:
            raise DecompressionError("corrupt zstd stream: no frame magic number")
        self._finished = True
        self._input, self._pos = b"", 0

    def flush(self) -> bytes:
        parts = _drain(self)
        if self._seen and not self._finished and not (self._frames and self._obj.eof):
            raise _truncated("zstd")
        self._finished = True
        return b"".join(parts)


class _ZlibEncoder:
    __slots__ = ("_obj",)

    def __init__(self, wbits: int, level: int) -> None:
        self._obj: Any = _zlib.compressobj(level, zlib.DEFLATED, wbits)

    def compress(self, data: bytes) -> bytes:
        out: bytes = self._obj.compress(data)
        return out

    def flush(self) -> bytes:
        out: bytes = self._obj.flush()
        return out


def _new_gzip() -> Decoder:
    return _ZlibDecoder(gzip=True)


def _new_deflate() -> Decoder:
    return _ZlibDecoder(gzip=False)


def _decoder_factories() -> dict[str, Any]:
    factories: dict[str, Any] = {"gzip": _new_gzip, "x-gzip": _new_gzip, "deflate": _new_deflate}
    if _brotli is not None:
        factories["br"] = _BrotliDecoder
    if _zstd_std is not None:
        factories["zstd"] = _ZstdStdDecoder
    elif _zstandard is not None:
        factories["zstd"] = _ZstandardDecoder
    return factories


_DECODERS: Final = _decoder_factories()
_ACCEPT_ENCODING: Final = ", ".join(name for name in _DECODERS if name != "x-gzip")
_ENCODER_WBITS: Final = {"deflate": _MAX_WBITS, "gzip": _GZIP_WBITS, "x-gzip": _GZIP_WBITS}


def get_decoder(content_encoding: str) -> Decoder | None:
    """A fresh decoder for one body, or None for ``identity`` and for codings we cannot
    decode (the body is then passed on as received). Codings are case-insensitive
    (RFC 9110 §8.4.1); a list of several codings is not decoded."""
    factory = _DECODERS.get(content_encoding)
    if factory is None:
        factory = _DECODERS.get(content_encoding.strip().lower())
        if factory is None:
            return None
    decoder: Decoder = factory()
    return decoder


def supported_encodings() -> str:
    """The Accept-Encoding value advertising what the installed libraries can decode."""
    return _ACCEPT_ENCODING


def get_encoder(encoding: str, level: int = -1) -> Encoder:
    """A compressor for a request body in *encoding* (``deflate`` or ``gzip``)."""
    wbits = _ENCODER_WBITS.get(encoding.strip().lower())
    if wbits is None:
        raise ValueError(f"unsupported content coding for a request body: {encoding!r}")
    return _ZlibEncoder(wbits, level)
