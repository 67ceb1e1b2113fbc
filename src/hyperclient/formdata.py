"""FormData: an HTML form body, urlencoded or multipart/form-data (RFC 7578)."""

from __future__ import annotations

import io
from collections.abc import Mapping
from urllib.parse import urlencode

from . import hdrs
from .helpers import guess_filename
from .multipart import MultipartWriter
from .payload import BytesPayload, Payload, get_payload

__all__ = ("FormData",)

_BytesLike = (bytes, bytearray, memoryview)
_URLENCODED = "application/x-www-form-urlencoded"


class _Field:
    __slots__ = ("content_type", "filename", "name", "transfer_encoding", "value")

    def __init__(
        self,
        name: str,
        value: object,
        content_type: str | None,
        filename: str | None,
        transfer_encoding: str | None,
    ) -> None:
        self.name = name
        self.value = value
        self.content_type = content_type
        self.filename = filename
        self.transfer_encoding = transfer_encoding


class FormData:
    """Form fields, sent urlencoded unless a field needs multipart/form-data.

    Multipart is used when a field is a file object or was added with ``content_type``,
    ``filename`` or ``content_transfer_encoding`` (or with ``default_to_multipart=True``).
    Calling the instance returns the body :class:`~hyperclient.payload.Payload`.
    """

    __slots__ = ("_charset", "_fields", "_is_multipart", "_quote_fields", "_writer")

    def __init__(
        self,
        fields: object = (),
        quote_fields: bool = True,
        charset: str | None = None,
        *,
        default_to_multipart: bool = False,
    ) -> None:
        self._fields: list[_Field] = []
        self._is_multipart = default_to_multipart
        self._quote_fields = quote_fields
        self._charset = charset
        self._writer: MultipartWriter | None = None
        if isinstance(fields, (list, tuple)):
            self.add_fields(*fields)
        else:
            self.add_fields(fields)

    @property
    def is_multipart(self) -> bool:
        return self._is_multipart

    def add_field(
        self,
        name: str,
        value: object,
        content_type: str | None = None,
        filename: str | None = None,
        content_transfer_encoding: str | None = None,
    ) -> None:
        if not isinstance(name, str):
            raise TypeError(f"form field name must be str, got {name!r}")
        for label, option in (
            ("content_type", content_type),
            ("filename", filename),
            ("content_transfer_encoding", content_transfer_encoding),
        ):
            if option is not None and not isinstance(option, str):
                raise TypeError(f"{label} must be str, got {option!r}")
        if isinstance(value, io.IOBase):
            self._is_multipart = True
            if filename is None:
                filename = guess_filename(value, name)
        elif (
            isinstance(value, _BytesLike) and filename is None and content_transfer_encoding is None
        ):
            # Raw bytes are a file upload named after the field, as the reference specifies.
            filename = name
        if content_type is not None or filename is not None or content_transfer_encoding:
            self._is_multipart = True
        self._fields.append(_Field(name, value, content_type, filename, content_transfer_encoding))

    def add_fields(self, *fields: object) -> None:
        """Add file objects, mappings (dict, MultiDict, MultiDictProxy) and (name, value) pairs."""
        for record in fields:
            if isinstance(record, io.IOBase):
                self.add_field(guess_filename(record, "unknown") or "unknown", record)
            elif isinstance(record, Mapping):
                for name, value in record.items():
                    self.add_field(name, value)
            elif isinstance(record, (list, tuple)) and len(record) == 2:
                self.add_field(record[0], record[1])
            else:
                raise TypeError(
                    "form fields must be file objects, mappings or (name, value) pairs, "
                    f"got {record!r}"
                )

    def __call__(self) -> Payload:
        return self._multipart() if self._is_multipart else self._urlencoded()

    def _urlencoded(self) -> Payload:
        pairs: list[tuple[str, str | int | float]] = []
        for field in self._fields:
            if not isinstance(field.value, (str, int, float)):
                raise TypeError(
                    f"form field {field.name!r} must be str, int or float to be urlencoded, "
                    f"got {type(field.value).__name__}"
                )
            pairs.append((field.name, field.value))
        charset = self._charset or "utf-8"
        # urlencode quotes with quote_plus: spaces become "+" as HTML form encoding expects.
        body = urlencode(pairs, encoding=charset).encode("ascii")
        if charset.lower().replace("_", "-") in ("utf-8", "utf8"):
            return BytesPayload(body, content_type=_URLENCODED)
        return BytesPayload(body, content_type=f"{_URLENCODED}; charset={charset}")

    def _multipart(self) -> Payload:
        writer = self._writer
        if writer is None:
            writer = self._writer = MultipartWriter("form-data")
        elif writer.consumed:
            raise RuntimeError(
                "this FormData was already sent and a streamed field in it cannot be sent "
                "again; build a new FormData for the next request"
            )
        # Parts built by an earlier call are kept, so a seekable file replays from its start.
        for field in self._fields[len(writer) :]:
            writer.append_payload(self._part(field))
        return writer

    def _part(self, field: _Field) -> Payload:
        value = field.value
        if isinstance(value, (int, float)):
            value = str(value)
        headers: dict[str, str] | None = None
        if field.transfer_encoding is not None:
            headers = {hdrs.CONTENT_TRANSFER_ENCODING: field.transfer_encoding}
        try:
            part = get_payload(
                value,
                content_type=field.content_type,
                encoding=self._charset,
                filename=field.filename,
                headers=headers,
            )
        except TypeError as exc:
            raise TypeError(
                f"cannot send form field {field.name!r} of type {type(value).__name__}"
            ) from exc
        params = {"name": field.name}
        if field.filename is not None:
            params["filename"] = field.filename
        part.set_content_disposition(
            "form-data",
            quote_fields=self._quote_fields,
            _charset=self._charset or "utf-8",
            **params,
        )
        # RFC 7578 §4.8: only Content-Type, Content-Disposition and (legacy)
        # Content-Transfer-Encoding belong in a form-data part.
        part.headers.popall(hdrs.CONTENT_LENGTH, None)
        return part
