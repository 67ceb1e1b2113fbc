"""FormData: urlencoded vs multipart choice, byte-exact urlencoding, multipart parts and replay."""

from __future__ import annotations

import email.message
import email.parser
import email.policy
import io
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from multidict import MultiDict, MultiDictProxy

from hyperclient.formdata import FormData
from hyperclient.multipart import MultipartWriter
from hyperclient.payload import BytesPayload, Payload


class _Sink:
    def __init__(self) -> None:
        self.parts: list[bytes] = []

    async def write(self, chunk: bytes | bytearray | memoryview) -> None:
        self.parts.append(bytes(chunk))

    @property
    def data(self) -> bytes:
        return b"".join(self.parts)


async def _render(body: Payload) -> bytes:
    sink = _Sink()
    await body.write(sink)
    return sink.data


async def _parts(form: FormData) -> list[email.message.EmailMessage]:
    body = form()
    assert isinstance(body, MultipartWriter)
    data = await _render(body)
    assert body.size is None or body.size == len(data)
    head = f"Content-Type: {body.content_type}\r\n\r\n".encode()
    message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(head + data)
    assert isinstance(message, email.message.EmailMessage)
    assert not message.defects
    return list(message.iter_parts())  # type: ignore[arg-type]


def _disposition(part: email.message.EmailMessage) -> tuple[str | None, str | None]:
    name = part.get_param("name", header="content-disposition")
    assert name is None or isinstance(name, str)
    return name, part.get_filename()


# --- urlencoded ---------------------------------------------------------------------------------


async def test_dict_is_urlencoded_with_plus_for_spaces() -> None:
    form = FormData({"key1": "value1", "key 2": "a b&c=d/é"})
    assert not form.is_multipart
    body = form()
    assert isinstance(body, BytesPayload)
    assert body.content_type == "application/x-www-form-urlencoded"
    assert await _render(body) == b"key1=value1&key+2=a+b%26c%3Dd%2F%C3%A9"
    assert body.size == len(b"key1=value1&key+2=a+b%26c%3Dd%2F%C3%A9")


async def test_numbers_are_urlencoded_as_text() -> None:
    assert await _render(FormData({"n": 1, "f": 2.5})()) == b"n=1&f=2.5"


async def test_repeated_names_from_multidict_and_pairs_keep_order() -> None:
    md = MultiDict([("a", "1"), ("b", "2"), ("a", "3")])
    assert await _render(FormData(md)()) == b"a=1&b=2&a=3"
    assert await _render(FormData(MultiDictProxy(md))()) == b"a=1&b=2&a=3"
    assert await _render(FormData([("a", "1"), ("a", "2")])()) == b"a=1&a=2"


async def test_charset_encodes_values_and_is_announced() -> None:
    body = FormData({"q": "Привет"}, charset="cp1251")()
    assert body.content_type == "application/x-www-form-urlencoded; charset=cp1251"
    assert await _render(body) == b"q=%CF%F0%E8%E2%E5%F2"


async def test_empty_form_is_an_empty_urlencoded_body() -> None:
    body = FormData()()
    assert await _render(body) == b""
    assert body.size == 0


@pytest.mark.parametrize("value", [None, ["a"], {"a": "b"}, object()])
def test_urlencoded_rejects_values_that_are_not_text_or_numbers(value: object) -> None:
    form = FormData()
    form.add_field("x", value)
    with pytest.raises(TypeError, match="urlencoded"):
        form()


# --- choosing multipart -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "options",
    [
        {"content_type": "text/csv"},
        {"filename": "a.txt"},
        {"content_transfer_encoding": "base64"},
    ],
)
def test_any_part_option_switches_to_multipart(options: dict[str, str]) -> None:
    form = FormData()
    form.add_field("plain", "value")
    assert not form.is_multipart
    form.add_field("special", "value", **options)
    assert form.is_multipart


def test_default_to_multipart_forces_multipart() -> None:
    form = FormData({"a": "b"}, default_to_multipart=True)
    assert isinstance(form(), MultipartWriter)


async def test_bytes_value_becomes_a_file_named_after_the_field() -> None:
    form = FormData()
    form.add_field("blob", b"\x00data")
    assert form.is_multipart
    [part] = await _parts(form)
    assert _disposition(part) == ("blob", "blob")
    assert part.get_payload(decode=True) == b"\x00data"


async def test_bytes_with_transfer_encoding_gets_no_filename() -> None:
    form = FormData()
    form.add_field("blob", b"data", content_transfer_encoding="base64")
    [part] = await _parts(form)
    assert _disposition(part) == ("blob", None)
    assert part["Content-Transfer-Encoding"] == "base64"
    assert part.get_payload(decode=True) == b"data"


async def test_files_dict_uploads_with_guessed_name_and_type(tmp_path: Path) -> None:
    path = tmp_path / "report.csv"
    path.write_bytes(b"a,b\n1,2\n")
    with open(path, "rb") as f:
        form = FormData({"file": f, "note": "hi"})
        assert form.is_multipart
        parts = await _parts(form)
        await form().close()
    assert _disposition(parts[0]) == ("file", "report.csv")
    assert parts[0].get_content_type() == "text/csv"
    assert parts[0].get_payload(decode=True) == b"a,b\n1,2\n"
    assert "Content-Length" not in parts[0]
    assert _disposition(parts[1]) == ("note", None)
    assert parts[1].get_payload(decode=True) == b"hi"


async def test_explicit_filename_and_content_type_win(tmp_path: Path) -> None:
    path = tmp_path / "report.xls"
    path.write_bytes(b"xls")
    form = FormData()
    with open(path, "rb") as f:
        form.add_field("file", f, filename="report.xls", content_type="application/vnd.ms-excel")
        [part] = await _parts(form)
        await form().close()
    assert _disposition(part) == ("file", "report.xls")
    assert part.get_content_type() == "application/vnd.ms-excel"


async def test_add_fields_accepts_a_bare_file_named_after_it() -> None:
    stream = io.BytesIO(b"content")
    stream.name = "/some/dir/upload.txt"
    form = FormData()
    form.add_fields(stream, {"a": "1"}, ("b", "2"), MultiDict([("c", "3")]))
    parts = await _parts(form)
    assert [_disposition(p) for p in parts] == [
        ("upload.txt", "upload.txt"),
        ("a", None),
        ("b", None),
        ("c", None),
    ]


async def test_field_names_are_percent_escaped_in_multipart() -> None:
    form = FormData(default_to_multipart=True)
    form.add_field('we"ird\r\nname', "v")
    data = await _render(form())
    assert b'name="we%22ird%0D%0Aname"' in data


async def test_quote_fields_false_uses_backslash_escapes() -> None:
    form = FormData(quote_fields=False, default_to_multipart=True)
    form.add_field('a"b', "v")
    data = await _render(form())
    assert b'name="a\\"b"' in data


async def test_non_ascii_names_are_sent_as_utf8() -> None:
    form = FormData(default_to_multipart=True)
    form.add_field("имя", "значение")
    [part] = await _parts(form)
    assert _disposition(part) == ("имя", None)
    assert part.get_payload(decode=True) == "значение".encode()


async def test_charset_applies_to_text_parts() -> None:
    form = FormData(charset="cp1251", default_to_multipart=True)
    form.add_field("q", "Привет")
    [part] = await _parts(form)
    assert part.get_content_charset() == "cp1251"
    assert part.get_payload(decode=True) == "Привет".encode("cp1251")


async def test_async_iterable_field_is_streamed() -> None:
    async def gen() -> AsyncIterator[bytes]:
        yield b"chunk1"
        yield b"chunk2"

    form = FormData()
    form.add_field("stream", gen(), filename="s.bin")
    body = form()
    assert body.size is None
    [part] = await _parts(form)
    assert part.get_payload(decode=True) == b"chunk1chunk2"
    await body.close()


# --- rendering more than once -------------------------------------------------------------------


async def test_in_memory_multipart_form_can_be_rendered_again() -> None:
    form = FormData()
    form.add_field("a", b"x")
    first = form()
    first_bytes = await _render(first)
    await first.close()
    assert await _render(form()) == first_bytes


async def test_fields_added_after_rendering_are_included() -> None:
    form = FormData()
    form.add_field("a", b"x")
    await _render(form())
    form.add_field("b", "y")
    parts = await _parts(form)
    assert [_disposition(p)[0] for p in parts] == ["a", "b"]


async def test_form_with_consumed_stream_refuses_second_render() -> None:
    async def gen() -> AsyncIterator[bytes]:
        yield b"once"

    form = FormData()
    form.add_field("stream", gen(), filename="s.bin")
    body = form()
    await _render(body)
    with pytest.raises(RuntimeError, match="already sent"):
        form()
    await body.close()


async def test_form_with_closed_file_refuses_second_render(tmp_path: Path) -> None:
    path = tmp_path / "f.txt"
    path.write_bytes(b"data")
    form = FormData({"file": open(path, "rb")})  # noqa: SIM115 - the form's payload closes it
    body = form()
    await _render(body)
    await body.close()
    with pytest.raises(RuntimeError, match="already sent"):
        form()


# --- bad arguments ------------------------------------------------------------------------------


@pytest.mark.parametrize("fields", ["just a string", [("a", "b", "c")], [42]])
def test_invalid_field_records_are_type_errors(fields: object) -> None:
    with pytest.raises(TypeError):
        FormData(fields)


@pytest.mark.parametrize("option", ["content_type", "filename", "content_transfer_encoding"])
def test_non_string_part_options_are_type_errors(option: str) -> None:
    with pytest.raises(TypeError, match=option):
        FormData().add_field("a", "b", **{option: 1})  # type: ignore[arg-type]


def test_non_string_field_name_is_a_type_error() -> None:
    with pytest.raises(TypeError):
        FormData().add_field(1, "b")  # type: ignore[arg-type]


def test_unsendable_multipart_value_is_a_type_error() -> None:
    form = FormData(default_to_multipart=True)
    form.add_field("a", object())
    with pytest.raises(TypeError, match="form field 'a'"):
        form()
