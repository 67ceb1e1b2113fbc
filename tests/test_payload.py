"""Request body payloads: type registry, sizes, streaming in pieces, replay and closing."""

from __future__ import annotations

import asyncio
import io
import json
import os
import threading
from collections.abc import AsyncGenerator, AsyncIterator
from pathlib import Path

import pytest

from hyperclient import payload
from hyperclient.payload import (
    READ_SIZE,
    AsyncIterablePayload,
    BufferedReaderPayload,
    BytesIOPayload,
    BytesPayload,
    IOBasePayload,
    JsonPayload,
    Payload,
    PayloadWriter,
    StreamReaderPayload,
    StreamWrapperPayload,
    StringIOPayload,
    StringPayload,
    TextIOPayload,
    content_disposition_header,
    get_payload,
)


class _Sink:
    def __init__(self) -> None:
        self.parts: list[bytes] = []

    async def write(self, chunk: bytes | bytearray | memoryview) -> None:
        self.parts.append(bytes(chunk))

    @property
    def data(self) -> bytes:
        return b"".join(self.parts)


class _FailingSink(_Sink):
    async def write(self, chunk: bytes | bytearray | memoryview) -> None:
        await super().write(chunk)
        raise ConnectionResetError("peer went away")


async def _written(body: Payload) -> _Sink:
    sink = _Sink()
    await body.write(sink)
    return sink


def _make_file(path: Path, size: int) -> bytes:
    data = os.urandom(size)
    path.write_bytes(data)
    return data


class _SpyReader(io.BufferedReader):
    """A real buffered file that records the thread and size of every read."""

    def __init__(self, path: Path) -> None:
        super().__init__(io.FileIO(path, "rb"))
        self.reads: list[tuple[int, int | None]] = []

    def read(self, size: int | None = -1, /) -> bytes:
        self.reads.append((threading.get_ident(), size))
        return super().read(size)


# --- the registry -------------------------------------------------------------------------------


async def test_get_payload_picks_the_class_for_each_data_type(tmp_path: Path) -> None:
    path = tmp_path / "a.bin"
    path.write_bytes(b"x")

    async def gen() -> AsyncGenerator[bytes, None]:
        yield b"x"

    agen = gen()
    with open(path, "rb") as binary, open(path) as text:
        cases: list[tuple[object, type[Payload]]] = [
            (b"x", BytesPayload),
            (bytearray(b"x"), BytesPayload),
            (memoryview(b"x"), BytesPayload),
            ("x", StringPayload),
            (io.StringIO("x"), StringIOPayload),
            (io.BytesIO(b"x"), BytesIOPayload),
            (binary, BufferedReaderPayload),
            (text, TextIOPayload),
            (agen, AsyncIterablePayload),
        ]
        for data, expected in cases:
            assert type(get_payload(data)) is expected, data
    await agen.aclose()


def test_get_payload_returns_a_payload_unchanged() -> None:
    body = BytesPayload(b"x")
    assert get_payload(body) is body


@pytest.mark.parametrize("data", [{"a": "b"}, 42, None, [b"a"], object()])
def test_get_payload_rejects_unsupported_data_with_type_error(data: object) -> None:
    with pytest.raises(TypeError, match="request body"):
        get_payload(data)
    with pytest.raises(payload.LookupError):
        get_payload(data)


def test_sync_generator_is_not_a_supported_body() -> None:
    gen = (b"x" for _ in range(1))
    with pytest.raises(TypeError):
        get_payload(gen)


def test_payload_type_registers_a_custom_payload_class() -> None:
    class Custom:
        pass

    @payload.payload_type(Custom, order=payload.Order.try_first)
    class CustomPayload(BytesPayload):
        def __init__(self, value: Custom, **kwargs: object) -> None:
            super().__init__(b"custom")

    assert isinstance(get_payload(Custom()), CustomPayload)


# --- bytes and text -----------------------------------------------------------------------------


async def test_bytes_payload_is_sized_and_written_in_one_piece() -> None:
    body = get_payload(b"hello")
    assert isinstance(body, BytesPayload)
    assert body.size == 5
    assert body.value == b"hello"
    assert body.content_type == "application/octet-stream"
    assert (await _written(body)).parts == [b"hello"]


async def test_bytes_payload_replays_identically_and_is_never_consumed() -> None:
    body = BytesPayload(bytearray(b"abc"))
    first = await _written(body)
    second = await _written(body)
    assert first.parts == second.parts == [b"abc"]
    assert not body.consumed


def test_memoryview_size_counts_bytes_not_items() -> None:
    view = memoryview(bytearray(8)).cast("I")
    body = BytesPayload(view)
    assert body.size == 8


def test_bytes_payload_keeps_content_type_from_headers_over_argument() -> None:
    body = BytesPayload(b"x", headers={"Content-Type": "image/gif"}, content_type="text/plain")
    assert body.content_type == "image/gif"


def test_content_type_is_guessed_from_filename() -> None:
    assert BytesPayload(b"x", filename="report.json").content_type == "application/json"
    assert BytesPayload(b"x", filename="noext").content_type == "application/octet-stream"


async def test_string_payload_defaults_to_utf8_text_plain() -> None:
    body = get_payload("Привет, Мир!")
    assert body.content_type == "text/plain; charset=utf-8"
    assert body.encoding == "utf-8"
    assert await body.as_bytes() == "Привет, Мир!".encode()
    assert body.size == len("Привет, Мир!".encode())


async def test_string_payload_encodes_with_charset_from_content_type() -> None:
    body = StringPayload("Привет", content_type="text/plain; charset=koi8-r")
    assert await body.as_bytes() == "Привет".encode("koi8-r")
    assert body.encoding == "koi8-r"


async def test_string_payload_encoding_argument_sets_content_type() -> None:
    body = StringPayload("é", encoding="latin-1")
    assert body.content_type == "text/plain; charset=latin-1"
    assert await body.as_bytes() == b"\xe9"
    assert body.decode("latin-1") == "é"


async def test_string_io_payload_sends_the_rest_of_the_text() -> None:
    buf = io.StringIO("skip-keep")
    buf.seek(5)
    assert await get_payload(buf).as_bytes() == b"keep"


async def test_json_payload_serialises_with_the_given_dumps() -> None:
    body = JsonPayload({"a": [1, 2]}, dumps=lambda v: json.dumps(v, separators=(",", ":")))
    assert body.content_type == "application/json"
    assert await body.as_bytes() == b'{"a":[1,2]}'
    assert body.size == 11


# --- files --------------------------------------------------------------------------------------


async def test_file_is_streamed_in_pieces_read_off_the_event_loop(tmp_path: Path) -> None:
    path = tmp_path / "big.bin"
    data = _make_file(path, 5 * READ_SIZE + 123)
    with _SpyReader(path) as spy:
        body = get_payload(spy)
        assert isinstance(body, BufferedReaderPayload)
        assert body.size == len(data)
        sink = await _written(body)
        await body.close()
    assert sink.data == data
    assert [len(p) for p in sink.parts] == [READ_SIZE] * 5 + [123]
    assert all(size is not None and 0 < size <= READ_SIZE for _, size in spy.reads)
    assert threading.get_ident() not in {thread for thread, _ in spy.reads}


async def test_file_payload_starts_at_current_position_and_replays_from_there(
    tmp_path: Path,
) -> None:
    path = tmp_path / "data.bin"
    data = _make_file(path, 3 * READ_SIZE)
    with open(path, "rb") as f:
        f.seek(100)
        body = get_payload(f)
        assert body.size == len(data) - 100
        first = await _written(body)
        second = await _written(body)
        assert not body.consumed
        await body.close()
    assert first.data == second.data == data[100:]


async def test_file_payload_guesses_type_from_its_name_without_disposition(
    tmp_path: Path,
) -> None:
    path = tmp_path / "report.json"
    path.write_bytes(b"{}")
    with open(path, "rb") as f:
        body = get_payload(f)
        assert body.filename == "report.json"
        assert body.content_type == "application/json"
        assert "Content-Disposition" not in body.headers
        await body.close()


async def test_close_closes_the_file_and_is_idempotent(tmp_path: Path) -> None:
    path = tmp_path / "f.bin"
    path.write_bytes(b"abc")
    f = open(path, "rb")  # noqa: SIM115 - the payload owns and closes it
    body = get_payload(f)
    await body.close()
    await body.close()
    assert f.closed
    assert body.consumed
    with pytest.raises(RuntimeError, match="closed"):
        await body.write(_Sink())


async def test_unseekable_file_has_no_size_and_cannot_be_replayed() -> None:
    read_fd, write_fd = os.pipe()
    os.write(write_fd, b"piped data")
    os.close(write_fd)
    with open(read_fd, "rb") as pipe:
        body = get_payload(pipe)
        assert body.size is None
        assert (await _written(body)).data == b"piped data"
        assert body.consumed
        with pytest.raises(RuntimeError, match="only once"):
            await body.write(_Sink())
        await body.close()


async def test_file_that_shrinks_after_measuring_fails_the_write(tmp_path: Path) -> None:
    path = tmp_path / "shrinks.bin"
    _make_file(path, 1000)
    with open(path, "rb") as f:
        body = get_payload(f)
        assert body.size == 1000
        os.truncate(path, 400)
        with pytest.raises(RuntimeError, match="short"):
            await body.write(_Sink())
        await body.close()


async def test_file_that_grows_after_measuring_sends_only_the_measured_size(
    tmp_path: Path,
) -> None:
    path = tmp_path / "grows.bin"
    data = _make_file(path, 1000)
    with open(path, "rb") as f:
        body = get_payload(f)
        with open(path, "ab") as appender:
            appender.write(b"extra")
        assert (await _written(body)).data == data
        await body.close()


async def test_close_waits_for_a_read_still_running_after_cancellation(tmp_path: Path) -> None:
    path = tmp_path / "slow.bin"
    _make_file(path, 100)
    started, release = threading.Event(), threading.Event()

    class Blocking(io.BufferedReader):
        def read(self, size: int | None = -1, /) -> bytes:
            started.set()
            release.wait(10)
            return super().read(size)

    loop = asyncio.get_running_loop()
    body = get_payload(Blocking(io.FileIO(path, "rb")))
    task = asyncio.create_task(body.write(_Sink()))
    await loop.run_in_executor(None, started.wait, 10)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    closing = asyncio.create_task(body.close())
    done, _ = await asyncio.wait([closing], timeout=0.05)
    assert not done  # the thread still reads; closing the file under it would race
    release.set()
    await closing


async def test_bytes_io_is_read_directly_and_replays(monkeypatch: pytest.MonkeyPatch) -> None:
    def no_executor(*args: object) -> None:
        raise AssertionError("BytesIO must not use the executor")

    monkeypatch.setattr(asyncio.get_running_loop(), "run_in_executor", no_executor)
    buf = io.BytesIO(b"0123456789")
    buf.seek(2)
    body = get_payload(buf)
    assert body.size == 8
    assert (await _written(body)).data == b"23456789"
    assert (await _written(body)).data == b"23456789"
    assert body.decode() == "23456789"
    await body.close()
    assert buf.closed


async def test_bytes_io_is_streamed_in_bounded_pieces() -> None:
    data = os.urandom(2**20 * 2 + 5)
    sink = await _written(get_payload(io.BytesIO(data)))
    assert sink.data == data
    assert max(len(p) for p in sink.parts) <= 2**20


async def test_text_file_is_encoded_once_across_pieces(tmp_path: Path) -> None:
    path = tmp_path / "notes.txt"
    text = "ünïcode line\n" * (READ_SIZE // 5)
    path.write_text(text, encoding="utf-8")
    with open(path, encoding="utf-8") as f:
        body = get_payload(f, encoding="utf-16")
        assert isinstance(body, TextIOPayload)
        assert body.size is None
        assert body.content_type == "text/plain; charset=utf-16"
        sink = await _written(body)
        assert len(sink.parts) > 1
        assert sink.data.decode("utf-16") == text  # one BOM, at the start only
        assert body.decode("utf-16") == text
        await body.close()


async def test_file_returning_text_for_binary_payload_is_a_type_error() -> None:
    class Weird(io.RawIOBase):
        def readable(self) -> bool:
            return True

        def read(self, size: int = -1, /) -> str:
            return "text"

    body = IOBasePayload(Weird())
    with pytest.raises(TypeError, match="not bytes"):
        await body.write(_Sink())
    await body.close()


# --- async iterables and stream readers ---------------------------------------------------------


async def test_async_generator_is_sent_chunk_by_chunk_with_unknown_size() -> None:
    async def gen() -> AsyncIterator[bytes]:
        yield b"one"
        yield b""
        yield b"two"

    body = get_payload(gen())
    assert body.size is None
    assert not body.consumed
    assert (await _written(body)).parts == [b"one", b"two"]
    assert body.consumed
    await body.close()


async def test_async_generator_cannot_be_written_twice() -> None:
    async def gen() -> AsyncIterator[bytes]:
        yield b"x"

    body = get_payload(gen())
    await body.write(_Sink())
    with pytest.raises(RuntimeError, match="only once"):
        await body.write(_Sink())
    await body.close()


async def test_close_finalises_an_interrupted_async_generator() -> None:
    finalised = False

    async def gen() -> AsyncIterator[bytes]:
        nonlocal finalised
        try:
            yield b"a"
            yield b"b"
        finally:
            finalised = True

    body = get_payload(gen())
    with pytest.raises(ConnectionResetError):
        await body.write(_FailingSink())
    assert not finalised
    await body.close()
    assert finalised


async def test_async_iterable_yielding_text_is_a_type_error() -> None:
    async def gen() -> AsyncIterator[str]:
        yield "text"

    body = AsyncIterablePayload(gen())  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="not bytes"):
        await body.write(_Sink())
    await body.close()


async def test_as_bytes_keeps_an_async_iterable_so_it_can_be_replayed() -> None:
    async def gen() -> AsyncIterator[bytes]:
        yield b"ab"
        yield b"cd"

    body = get_payload(gen())
    with pytest.raises(TypeError):
        body.decode()
    assert await body.as_bytes() == b"abcd"
    assert (await _written(body)).data == b"abcd"
    assert (await _written(body)).data == b"abcd"
    assert body.decode() == "abcd"
    await body.close()


async def test_stream_reader_is_piped_with_iter_any_not_line_iteration() -> None:
    class FakeStreamReader:
        def __aiter__(self) -> AsyncIterator[bytes]:
            raise AssertionError("line iteration must not be used")

        async def iter_any(self) -> AsyncIterator[bytes]:
            yield b"line1\nli"
            yield b"ne2\n"

    body = get_payload(FakeStreamReader())
    assert isinstance(body, StreamReaderPayload)
    assert body.size is None
    assert (await _written(body)).parts == [b"line1\nli", b"ne2\n"]
    await body.close()


async def test_deprecated_streamer_still_sends_its_writes() -> None:
    with pytest.warns(DeprecationWarning):

        @payload.streamer
        async def sender(writer: PayloadWriter, count: int = 0) -> None:
            for i in range(count):
                await writer.write(b"%d" % i)

    body = get_payload(sender(count=3))
    assert isinstance(body, StreamWrapperPayload)
    assert (await _written(body)).data == b"012"


# --- headers and helpers ------------------------------------------------------------------------


def test_form_data_disposition_percent_escapes_quote_and_newlines() -> None:
    value = content_disposition_header(
        "form-data", params={"name": 'a"b', "filename": "x\r\ny.txt"}
    )
    assert value == 'form-data; name="a%22b"; filename="x%0D%0Ay.txt"'


def test_form_data_disposition_keeps_non_ascii_as_is() -> None:
    value = content_disposition_header("form-data", params={"filename": "résumé.pdf"})
    assert value == 'form-data; filename="résumé.pdf"'


def test_attachment_disposition_uses_ext_value_for_non_ascii() -> None:
    value = content_disposition_header("attachment", params={"filename": "résumé.pdf"})
    assert value == "attachment; filename*=utf-8''r%C3%A9sum%C3%A9.pdf"
    plain = content_disposition_header("attachment", params={"filename": 'a"b\\c'})
    assert plain == 'attachment; filename="a\\"b\\\\c"'


def test_disposition_never_contains_newlines() -> None:
    for disptype in ("form-data", "attachment"):
        value = content_disposition_header(disptype, params={"name": "a\r\nb"})
        assert "\r" not in value and "\n" not in value
    with pytest.raises(ValueError, match="newline"):
        content_disposition_header("form-data", quote_fields=False, params={"name": "a\nb"})


@pytest.mark.parametrize(("disptype", "key"), [("bad type", "name"), ("form-data", "na me")])
def test_disposition_rejects_non_token_type_and_parameter_names(disptype: str, key: str) -> None:
    with pytest.raises(ValueError):
        content_disposition_header(disptype, params={key: "v"})


def test_set_content_disposition_sets_the_header() -> None:
    body = BytesPayload(b"x")
    body.set_content_disposition("inline", filename="a.txt")
    assert body.headers["Content-Disposition"] == 'inline; filename="a.txt"'


async def test_write_with_length_stops_at_the_given_length() -> None:
    sink = _Sink()
    await BytesPayload(b"0123456789").write_with_length(sink, 4)
    assert sink.data == b"0123"
    sink = _Sink()
    await BytesPayload(b"0123").write_with_length(sink, None)
    assert sink.data == b"0123"
