"""MultipartWriter: byte-exact framing, parsing back with the stdlib email parser, sizes,
part encodings, streaming of file parts, replay and closing."""

from __future__ import annotations

import email.message
import email.parser
import email.policy
import gzip
import io
import os
import zlib
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from hyperclient.multipart import MultipartWriter
from hyperclient.payload import READ_SIZE, BytesPayload, Payload, StringPayload


class _Sink:
    def __init__(self) -> None:
        self.parts: list[bytes] = []

    async def write(self, chunk: bytes | bytearray | memoryview) -> None:
        self.parts.append(bytes(chunk))

    @property
    def data(self) -> bytes:
        return b"".join(self.parts)


async def _render(body: Payload) -> _Sink:
    sink = _Sink()
    await body.write(sink)
    return sink


def _parse(writer: MultipartWriter, data: bytes) -> list[email.message.EmailMessage]:
    head = f"Content-Type: {writer.content_type}\r\n\r\n".encode()
    message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(head + data)
    assert isinstance(message, email.message.EmailMessage)
    assert message.is_multipart()
    assert not message.defects
    return list(message.iter_parts())  # type: ignore[arg-type]


def _payload_bytes(part: email.message.EmailMessage) -> bytes:
    data = part.get_payload(decode=True)
    assert isinstance(data, bytes)
    return data


async def test_output_is_byte_exact_for_simple_parts() -> None:
    writer = MultipartWriter("mixed", boundary="b0undary")
    writer.append("text")
    writer.append(b"\x00\x01", {"Content-Type": "application/x-thing"})
    expected = (
        b"--b0undary\r\n"
        b"Content-Type: text/plain; charset=utf-8\r\n"
        b"\r\n"
        b"text\r\n"
        b"--b0undary\r\n"
        b"Content-Type: application/x-thing\r\n"
        b"\r\n"
        b"\x00\x01\r\n"
        b"--b0undary--\r\n"
    )
    sink = await _render(writer)
    assert sink.data == expected
    assert writer.size == len(expected)
    assert writer.content_type == "multipart/mixed; boundary=b0undary"


async def test_small_parts_are_coalesced_into_one_write() -> None:
    writer = MultipartWriter()
    for i in range(20):
        writer.append(f"field {i}")
    assert len((await _render(writer)).parts) == 1


async def test_output_parses_back_with_the_email_parser(tmp_path: Path) -> None:
    path = tmp_path / "upload.bin"
    file_data = os.urandom(3 * READ_SIZE + 7)
    path.write_bytes(file_data)
    writer = MultipartWriter("mixed")
    writer.append("héllo")
    writer.append_json({"k": [1, 2]})
    writer.append_form([("a", "1 2"), ("b", "&")])
    with open(path, "rb") as f:
        writer.append(f)
        sink = await _render(writer)
        await writer.close()
    parts = _parse(writer, sink.data)
    assert [p.get_content_type() for p in parts] == [
        "text/plain",
        "application/json",
        "application/x-www-form-urlencoded",
        "application/octet-stream",
    ]
    assert _payload_bytes(parts[0]).decode() == "héllo"
    assert _payload_bytes(parts[1]) == b'{"k": [1, 2]}'
    assert _payload_bytes(parts[2]) == b"a=1+2&b=%26"
    assert _payload_bytes(parts[3]) == file_data
    assert parts[3]["Content-Disposition"] == 'attachment; filename="upload.bin"'
    assert writer.size is None or writer.size == len(sink.data)


async def test_size_is_exact_when_every_part_size_is_known(tmp_path: Path) -> None:
    path = tmp_path / "f.bin"
    path.write_bytes(os.urandom(1000))
    writer = MultipartWriter("form-data")
    writer.append("a")
    writer.append(b"b" * 500)
    with open(path, "rb") as f:
        part = writer.append(f)
        part.set_content_disposition("form-data", name="file", filename="f.bin")
        size = writer.size
        sink = await _render(writer)
        await writer.close()
    assert size == len(sink.data)


async def test_size_is_unknown_with_a_streamed_part() -> None:
    async def gen() -> AsyncIterator[bytes]:
        yield b"x"

    writer = MultipartWriter()
    writer.append(b"known")
    writer.append(gen())
    assert writer.size is None
    await _render(writer)
    await writer.close()


async def test_empty_writer_sends_only_the_close_delimiter() -> None:
    writer = MultipartWriter(boundary="xyz")
    assert writer
    assert (await _render(writer)).data == b"--xyz--\r\n"
    assert writer.size == len(b"--xyz--\r\n")


async def test_nested_multipart_parses_back() -> None:
    inner = MultipartWriter("alternative")
    inner.append("plain")
    inner.append("<b>html</b>", {"Content-Type": "text/html"})
    outer = MultipartWriter("mixed")
    outer.append(inner)
    outer.append(b"tail")
    sink = await _render(outer)
    assert outer.size == len(sink.data)
    parts = _parse(outer, sink.data)
    assert parts[0].get_content_type() == "multipart/alternative"
    nested = list(parts[0].iter_parts())
    assert [_payload_bytes(p) for p in nested] == [b"plain", b"<b>html</b>"]  # type: ignore[arg-type]


# --- boundary -----------------------------------------------------------------------------------


def test_default_boundary_is_random_hex() -> None:
    first, second = MultipartWriter().boundary, MultipartWriter().boundary
    assert first != second
    assert len(first) == 32
    int(first, 16)


@pytest.mark.parametrize("boundary", ["", "x" * 71, "bad\r\nboundary", 'quo"te', "trailing "])
def test_invalid_boundary_is_rejected(boundary: str) -> None:
    with pytest.raises(ValueError, match="boundary"):
        MultipartWriter(boundary=boundary)


def test_boundary_with_non_token_characters_is_quoted_in_content_type() -> None:
    writer = MultipartWriter("form-data", boundary="a b:c?d")
    assert writer.content_type == 'multipart/form-data; boundary="a b:c?d"'
    assert MultipartWriter(boundary="x" * 70).boundary == "x" * 70


def test_invalid_subtype_is_rejected() -> None:
    with pytest.raises(ValueError):
        MultipartWriter("mixed\r\nX-Injected: 1")


# --- part encodings -----------------------------------------------------------------------------


@pytest.mark.parametrize("length", [0, 1, 56, 57, 58, 114, 1000, READ_SIZE + 3])
async def test_base64_part_has_short_crlf_lines_and_exact_size(length: int) -> None:
    data = os.urandom(length)
    writer = MultipartWriter()
    writer.append(io.BytesIO(data), {"Content-Transfer-Encoding": "base64"})
    size = writer.size
    sink = await _render(writer)
    assert size == len(sink.data)
    body = sink.data.split(b"\r\n\r\n", 1)[1].rsplit(b"\r\n--", 1)[0]
    assert all(len(line) <= 76 for line in body.split(b"\r\n"))
    assert b"\n" not in body.replace(b"\r\n", b"")
    assert _payload_bytes(_parse(writer, sink.data)[0]) == data


async def test_base64_is_correct_across_piece_boundaries(tmp_path: Path) -> None:
    path = tmp_path / "b64.bin"
    data = os.urandom(2 * READ_SIZE + 11)  # READ_SIZE is not a multiple of 57
    path.write_bytes(data)
    writer = MultipartWriter()
    with open(path, "rb") as f:
        writer.append(f, {"Content-Transfer-Encoding": "BASE64"})
        sink = await _render(writer)
        await writer.close()
    assert _payload_bytes(_parse(writer, sink.data)[0]) == data


async def test_quoted_printable_part_round_trips_with_short_lines() -> None:
    data = os.urandom(5000) + b"=" * 300 + b" \t\r\n" * 50 + b"x" * 300

    async def pieces() -> AsyncIterator[bytes]:
        for i in range(0, len(data), 77):  # pieces that end mid-line and mid-escape
            yield data[i : i + 77]

    writer = MultipartWriter()
    writer.append(pieces(), {"Content-Transfer-Encoding": "quoted-printable"})
    assert writer.size is None
    sink = await _render(writer)
    await writer.close()
    body = sink.data.split(b"\r\n\r\n", 1)[1].rsplit(b"\r\n--", 1)[0]
    lines = body.split(b"\r\n")
    assert all(len(line) <= 76 for line in lines)
    assert all(32 <= c < 127 or c == 9 for line in lines for c in line)
    assert _payload_bytes(_parse(writer, sink.data)[0]) == data


async def test_quoted_printable_rewraps_overlong_lines_from_the_stdlib_encoder() -> None:
    # binascii.b2a_qp makes a 77-character line for this input (an encoded LF at the limit).
    data = bytes.fromhex(
        "9a462f7ace37fb1ee2986dea4b9f6af76404003a1a47bf46aba5cd3471476083a38ac0590a"
    )
    writer = MultipartWriter(boundary="b")
    writer.append(data, {"Content-Transfer-Encoding": "quoted-printable"})
    sink = await _render(writer)
    body = sink.data.split(b"\r\n\r\n", 1)[1].rsplit(b"\r\n--b--", 1)[0]
    assert all(len(line) <= 76 for line in body.split(b"\r\n"))
    assert _payload_bytes(_parse(writer, sink.data)[0]) == data


async def test_binary_transfer_encoding_leaves_the_part_as_is() -> None:
    writer = MultipartWriter(boundary="b")
    writer.append(b"\xff\x00", {"Content-Transfer-Encoding": "binary"})
    assert b"\r\n\r\n\xff\x00\r\n--b--" in (await _render(writer)).data


@pytest.mark.parametrize(
    ("encoding", "decompress"),
    [("gzip", gzip.decompress), ("deflate", zlib.decompress)],
)
async def test_content_encoding_compresses_the_part(encoding: str, decompress: object) -> None:
    data = b"compressible " * 1000
    writer = MultipartWriter(boundary="b")
    writer.append(data, {"Content-Encoding": encoding})
    assert writer.size is None
    sink = await _render(writer)
    body = sink.data.split(b"\r\n\r\n", 1)[1].rsplit(b"\r\n--b--", 1)[0]
    assert callable(decompress)
    assert decompress(body) == data


def test_unknown_encodings_fail_at_append_time() -> None:
    writer = MultipartWriter()
    with pytest.raises(RuntimeError, match="transfer encoding"):
        writer.append(b"x", {"Content-Transfer-Encoding": "uuencode"})
    with pytest.raises(RuntimeError, match="content encoding"):
        writer.append(b"x", {"Content-Encoding": "compress"})


async def test_part_header_with_newline_is_rejected() -> None:
    writer = MultipartWriter()
    part = writer.append(b"x")
    part.headers["X-Evil"] = "a\r\nInjected: 1"
    with pytest.raises(ValueError, match="part header"):
        await writer.write(_Sink())


# --- dispositions, streaming, replay and closing ------------------------------------------------


async def test_form_data_disposition_with_non_ascii_filename_is_utf8_on_the_wire() -> None:
    writer = MultipartWriter("form-data", boundary="b")
    part = writer.append(b"data")
    part.set_content_disposition("form-data", name="file", filename="résumé.pdf")
    data = (await _render(writer)).data
    assert 'Content-Disposition: form-data; name="file"; filename="résumé.pdf"'.encode() in data
    assert writer.size == len(data)


async def test_file_part_is_streamed_in_pieces(tmp_path: Path) -> None:
    path = tmp_path / "big.bin"
    path.write_bytes(os.urandom(8 * READ_SIZE))
    writer = MultipartWriter()
    with open(path, "rb") as f:
        writer.append(f)
        sink = await _render(writer)
        await writer.close()
    assert len(sink.parts) >= 8
    assert max(len(p) for p in sink.parts) <= READ_SIZE


async def test_bytes_only_writer_replays_identically() -> None:
    writer = MultipartWriter()
    writer.append("a")
    writer.append(b"b")
    assert (await _render(writer)).data == (await _render(writer)).data
    assert not writer.consumed


async def test_writer_with_spent_stream_refuses_to_write_anything() -> None:
    async def gen() -> AsyncIterator[bytes]:
        yield b"once"

    writer = MultipartWriter()
    writer.append(b"first")
    writer.append(gen())
    await _render(writer)
    assert writer.consumed
    sink = _Sink()
    with pytest.raises(RuntimeError, match="cannot be replayed"):
        await writer.write(sink)
    assert sink.parts == []
    await writer.close()


async def test_close_closes_every_file_part(tmp_path: Path) -> None:
    files = []
    writer = MultipartWriter()
    for name in ("a", "b"):
        (tmp_path / name).write_bytes(b"x")
        f = open(tmp_path / name, "rb")  # noqa: SIM115 - the writer owns and closes it
        files.append(f)
        writer.append(f)
    await writer.close()
    assert all(f.closed for f in files)
    assert writer.consumed


async def test_decode_renders_in_memory_parts() -> None:
    writer = MultipartWriter(boundary="b")
    writer.append("x")
    writer.append(b"y", {"Content-Transfer-Encoding": "base64"})
    assert writer.decode() == (await _render(writer)).data.decode()
    assert await writer.as_bytes() == (await _render(writer)).data


def test_append_returns_the_part_and_merges_headers() -> None:
    writer = MultipartWriter()
    existing = StringPayload("x")
    assert writer.append(existing, {"X-Extra": "1"}) is existing
    assert existing.headers["X-Extra"] == "1"
    part = writer.append(b"y", {"Content-Type": "image/png"})
    assert isinstance(part, BytesPayload)
    assert part.content_type == "image/png"
    assert list(writer) == [existing, part]
    assert len(writer) == 2


def test_append_rejects_unsupported_objects() -> None:
    with pytest.raises(TypeError):
        MultipartWriter().append(object())
