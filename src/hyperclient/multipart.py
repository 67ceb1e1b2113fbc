"""multipart/* request bodies (RFC 2046 §5.1, RFC 7578 for form-data), written as a stream.

A :class:`MultipartWriter` is itself a :class:`~hyperclient.payload.Payload`: its parts are
payloads with their own headers, and each part streams through the writer as it is sent, so a
file part is never read whole.
"""

from __future__ import annotations

import base64
import binascii
import string
import types
import uuid
import zlib
from collections.abc import Iterable, Iterator, Mapping
from typing import Any
from urllib.parse import urlencode

from . import hdrs
from ._payload_base import _is_token
from .payload import (
    HeadersArg,
    JsonPayload,
    Payload,
    PayloadWriter,
    StringPayload,
    get_payload,
)

__all__ = ("MultipartWriter",)

# RFC 2046 §5.1.1 bcharsnospace; a space is allowed too, but not as the last character.
_BCHARS = frozenset(string.ascii_letters + string.digits + "'()+_,-./:=? ")
_IDENTITY_CTE = frozenset({"", "binary", "7bit", "8bit"})  # RFC 2045 §6.1 identity encodings
_CTE_ENCODINGS = frozenset({"base64", "quoted-printable"})
_CONTENT_ENCODINGS = {"gzip": 16 + zlib.MAX_WBITS, "deflate": zlib.MAX_WBITS}
_B64_LINE_INPUT = 57  # RFC 2045 §6.8: 76-character lines carry 57 bytes each
_QP_MAX_LINE = 76  # RFC 2045 §6.7 rule 5, counting the "=" of a soft line break
_COALESCE_LIMIT = 2**16


def _check_boundary(boundary: str) -> str:
    if not isinstance(boundary, str):
        raise TypeError(f"boundary must be str, got {type(boundary)!r}")
    if not 1 <= len(boundary) <= 70 or not _BCHARS.issuperset(boundary) or boundary[-1] == " ":
        raise ValueError(f"invalid multipart boundary {boundary!r} (RFC 2046 §5.1.1)")
    return boundary


def _boundary_param(boundary: str) -> str:
    # bchars never include '"' or '\\', so quoting needs no escapes (RFC 9110 §5.6.6).
    return boundary if _is_token(boundary) else f'"{boundary}"'


def _transfer_encoding(part: Payload) -> str | None:
    cte = part.headers.get(hdrs.CONTENT_TRANSFER_ENCODING, "").strip().lower()
    if cte in _IDENTITY_CTE:
        return None
    if cte in _CTE_ENCODINGS:
        return cte
    raise RuntimeError(f"unknown content transfer encoding: {cte!r}")


def _content_encoding(part: Payload) -> str | None:
    encoding = part.headers.get(hdrs.CONTENT_ENCODING, "").strip().lower()
    if encoding in ("", "identity"):
        return None
    if encoding in _CONTENT_ENCODINGS:
        return encoding
    raise RuntimeError(f"unknown content encoding: {encoding!r}")


def _base64_size(n: int) -> int:
    if n == 0:
        return 0
    lines = -(-n // _B64_LINE_INPUT)
    return 4 * -(-n // 3) + 2 * (lines - 1)


class _Base64Lines:
    """Streaming base64 with CRLF-separated 76-character lines (RFC 2045 §6.8)."""

    __slots__ = ("_pending", "_started")

    def __init__(self) -> None:
        self._pending = b""
        self._started = False

    def feed(self, data: bytes) -> bytes:
        buf = self._pending + data
        cut = len(buf) - len(buf) % _B64_LINE_INPUT
        self._pending = buf[cut:]
        return self._emit(buf[:cut])

    def flush(self) -> bytes:
        tail, self._pending = self._pending, b""
        return self._emit(tail)

    def _emit(self, block: bytes) -> bytes:
        if not block:
            return b""
        text = base64.encodebytes(block).replace(b"\n", b"\r\n")[:-2]
        if self._started:
            text = b"\r\n" + text
        self._started = True
        return text


class _QuotedPrintable:
    """Streaming quoted-printable; pieces are joined by soft line breaks (RFC 2045 §6.7)."""

    __slots__ = ("_started",)

    def __init__(self) -> None:
        self._started = False

    def feed(self, data: bytes) -> bytes:
        if not data:
            return b""
        # istext=False encodes CR and LF too, so every line break in the output is a soft one
        # and the encoding of one piece never depends on the next.
        out = binascii.b2a_qp(data, istext=False)
        if b"\r\n" not in out:
            out = out.replace(b"\n", b"\r\n")
        out = self._wrap(out)
        if self._started:
            out = b"=\r\n" + out
        self._started = True
        return out

    def flush(self) -> bytes:
        return b""

    @staticmethod
    def _wrap(out: bytes) -> bytes:
        # b2a_qp can emit a 77-character line when an encoded LF sits at the limit, and the
        # last line needs room for the "=" that joins this piece to the next one.
        lines = out.split(b"\r\n")
        if len(lines[-1]) < _QP_MAX_LINE and max(map(len, lines)) <= _QP_MAX_LINE:
            return out
        wrapped: list[bytes] = []
        for index, line in enumerate(lines):
            limit = _QP_MAX_LINE - (index == len(lines) - 1)
            while len(line) > limit:
                cut = _QP_MAX_LINE - 1
                if line[cut - 1 : cut] == b"=":  # never split an "=XX" escape
                    cut -= 1
                elif line[cut - 2 : cut - 1] == b"=":
                    cut -= 2
                wrapped.append(line[:cut] + b"=")
                line = line[cut:]
            wrapped.append(line)
        return b"\r\n".join(wrapped)


class _PartEncoder:
    """A part's Content-Encoding (compression) and then its Content-Transfer-Encoding."""

    __slots__ = ("_compressor", "_transfer")

    def __init__(self, content_encoding: str | None, transfer_encoding: str | None) -> None:
        self._compressor = (
            zlib.compressobj(wbits=_CONTENT_ENCODINGS[content_encoding])
            if content_encoding
            else None
        )
        self._transfer: _Base64Lines | _QuotedPrintable | None = None
        if transfer_encoding == "base64":
            self._transfer = _Base64Lines()
        elif transfer_encoding == "quoted-printable":
            self._transfer = _QuotedPrintable()

    def feed(self, data: bytes) -> bytes:
        if self._compressor is not None:
            data = self._compressor.compress(data)
        return data if self._transfer is None else self._transfer.feed(data)

    def finish(self) -> bytes:
        tail = self._compressor.flush() if self._compressor is not None else b""
        if self._transfer is None:
            return tail
        return self._transfer.feed(tail) + self._transfer.flush()


class _EncodingWriter:
    __slots__ = ("_dest", "_encoder")

    def __init__(self, dest: PayloadWriter, encoder: _PartEncoder) -> None:
        self._dest = dest
        self._encoder = encoder

    async def write(self, chunk: bytes | bytearray | memoryview) -> None:
        out = self._encoder.feed(bytes(chunk))
        if out:
            await self._dest.write(out)


class _Coalescer:
    """Joins the many small writes of a form (boundaries, headers, short fields) into few."""

    __slots__ = ("_buffered", "_dest", "_pieces")

    def __init__(self, dest: PayloadWriter) -> None:
        self._dest = dest
        self._pieces: list[bytes] = []
        self._buffered = 0

    async def write(self, chunk: bytes | bytearray | memoryview) -> None:
        size = len(chunk)
        if self._buffered + size > _COALESCE_LIMIT:
            await self.flush()
            if size > _COALESCE_LIMIT:
                await self._dest.write(chunk)  # large pieces pass through without a copy
                return
        self._pieces.append(bytes(chunk))
        self._buffered += size

    async def flush(self) -> None:
        if self._pieces:
            data = b"".join(self._pieces)
            self._pieces.clear()
            self._buffered = 0
            await self._dest.write(data)


class MultipartWriter(Payload):
    """A multipart body: ``MultipartWriter("form-data")`` or the default ``"mixed"``."""

    __slots__ = ("_boundary", "_parts")

    _value: None

    def __init__(self, subtype: str = "mixed", boundary: str | None = None) -> None:
        if not _is_token(subtype):
            raise ValueError(f"invalid multipart subtype {subtype!r}")
        boundary = uuid.uuid4().hex if boundary is None else _check_boundary(boundary)
        content_type = f"multipart/{subtype}; boundary={_boundary_param(boundary)}"
        super().__init__(None, content_type=content_type)
        self._boundary = boundary.encode("ascii")
        self._parts: list[Payload] = []

    def __enter__(self) -> MultipartWriter:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: types.TracebackType | None,
    ) -> None:
        pass

    def __iter__(self) -> Iterator[Payload]:
        return iter(self._parts)

    def __len__(self) -> int:
        return len(self._parts)

    def __bool__(self) -> bool:
        return True  # an empty multipart is still a body

    @property
    def boundary(self) -> str:
        return self._boundary.decode("ascii")

    def append(self, obj: object, headers: HeadersArg = None) -> Payload:
        """Add ``obj`` (anything :func:`~hyperclient.payload.get_payload` takes) as a part."""
        if isinstance(obj, Payload):
            if headers:
                obj.headers.update(headers)
            return self.append_payload(obj)
        part = get_payload(obj, headers=headers)
        if part.filename is not None and hdrs.CONTENT_DISPOSITION not in part.headers:
            # A file part carries its name (RFC 2183); a request body alone does not announce
            # the local file name.
            part.set_content_disposition("attachment", filename=part.filename)
        return self.append_payload(part)

    def append_payload(self, payload: Payload) -> Payload:
        # Fail at append time, not halfway through sending the body.
        _transfer_encoding(payload)
        _content_encoding(payload)
        self._parts.append(payload)
        return payload

    def append_json(self, obj: Any, headers: HeadersArg = None) -> Payload:
        return self.append_payload(JsonPayload(obj, headers=headers))

    def append_form(
        self,
        obj: Mapping[str, Any] | Iterable[tuple[str, Any]],
        headers: HeadersArg = None,
    ) -> Payload:
        pairs = list(obj.items()) if isinstance(obj, Mapping) else list(obj)
        body = urlencode(pairs, doseq=True)
        ctype = "application/x-www-form-urlencoded"
        return self.append_payload(StringPayload(body, headers=headers, content_type=ctype))

    def _part_head(self, part: Payload) -> bytes:
        lines = [b"--" + self._boundary]
        for name, value in part.headers.items():
            if not _is_token(name) or "\r" in value or "\n" in value or "\0" in value:
                raise ValueError(f"invalid multipart part header {name!r}: {value!r}")
            # UTF-8, as browsers send non-ASCII form-data names and filenames.
            lines.append(f"{name}: {value}".encode())
        lines.append(b"\r\n")
        return b"\r\n".join(lines)

    def _closing(self) -> bytes:
        return b"--" + self._boundary + b"--\r\n"

    @property
    def size(self) -> int | None:
        total = len(self._closing())
        for part in self._parts:
            body = _encoded_size(part)
            if body is None:
                return None
            total += len(self._part_head(part)) + body + 2
        return total

    @property
    def consumed(self) -> bool:
        return any(part.consumed for part in self._parts)

    async def write(self, writer: PayloadWriter) -> None:
        if self.consumed:
            raise RuntimeError(
                "this multipart body has a part that was already sent and cannot be replayed"
            )
        out = _Coalescer(writer)
        for part in self._parts:
            await out.write(self._part_head(part))
            await _write_part_body(part, out)
            await out.write(b"\r\n")
        await out.write(self._closing())
        await out.flush()

    def _sync_bytes(self) -> bytes:
        pieces: list[bytes] = []
        for part in self._parts:
            pieces.append(self._part_head(part))
            ce, cte = _content_encoding(part), _transfer_encoding(part)
            body = part._sync_bytes()
            if ce or cte:
                encoder = _PartEncoder(ce, cte)
                body = encoder.feed(body) + encoder.finish()
            pieces += (body, b"\r\n")
        pieces.append(self._closing())
        return b"".join(pieces)

    async def close(self) -> None:
        first_error: BaseException | None = None
        for part in self._parts:
            try:
                await part.close()
            except Exception as exc:  # close the rest, then report the first failure
                first_error = first_error or exc
        if first_error is not None:
            raise first_error


def _encoded_size(part: Payload) -> int | None:
    size = part.size
    if size is None or _content_encoding(part) is not None:
        return None
    transfer = _transfer_encoding(part)
    if transfer is None:
        return size
    return _base64_size(size) if transfer == "base64" else None


async def _write_part_body(part: Payload, out: _Coalescer) -> None:
    ce, cte = _content_encoding(part), _transfer_encoding(part)
    if ce is None and cte is None:
        await part.write(out)
        return
    encoder = _PartEncoder(ce, cte)
    await part.write(_EncodingWriter(out, encoder))
    tail = encoder.finish()
    if tail:
        await out.write(tail)
