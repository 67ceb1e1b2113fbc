"""Request bodies: the registry that picks one :class:`Payload` class per kind of ``data=``,
every built-in class registered in it, and the public names of the payload API.

The classes live in two private modules and are re-exported here, the place to import them
from: ``_payload_base`` holds the base class, shared constants and helpers, and the bodies
held in memory; ``_payload_streams`` holds the bodies read from files and streams as they are
sent. Registration happens here and only here, when this module is imported.
"""

from __future__ import annotations

import enum
import io
from collections.abc import AsyncIterable, Callable
from typing import Any, TypeVar

# Not in __all__, but other modules take them from here (request.py, multipart.py): the
# redundant aliases tell mypy they are re-exported on purpose.
from ._payload_base import WRITE_PIECE as WRITE_PIECE
from ._payload_base import (
    BytesPayload,
    JsonPayload,
    Payload,
    PayloadWriter,
    StringIOPayload,
    StringPayload,
    _BytesLike,
    content_disposition_header,
)
from ._payload_base import HeadersArg as HeadersArg
from ._payload_streams import (
    READ_SIZE,
    AsyncIterablePayload,
    BufferedReaderPayload,
    BytesIOPayload,
    IOBasePayload,
    StreamReaderPayload,
    StreamWrapperPayload,
    TextIOPayload,
    _ChunkSource,
    _StreamerCall,
    streamer,
)

__all__ = (
    "PAYLOAD_REGISTRY",
    "READ_SIZE",
    "AsyncIterablePayload",
    "BufferedReaderPayload",
    "BytesIOPayload",
    "BytesPayload",
    "IOBasePayload",
    "JsonPayload",
    "LookupError",
    "Order",
    "Payload",
    "PayloadRegistry",
    "PayloadWriter",
    "StreamReaderPayload",
    "StreamWrapperPayload",
    "StringIOPayload",
    "StringPayload",
    "TextIOPayload",
    "UnsupportedPayloadError",
    "content_disposition_header",
    "get_payload",
    "payload_type",
    "register_payload",
    "streamer",
)


class UnsupportedPayloadError(TypeError):
    """No :class:`Payload` class is registered for the type of ``data``."""


# aiohttp code catches ``payload.LookupError``; the same class is also a TypeError here.
LookupError = UnsupportedPayloadError


PayloadFactory = Callable[..., Payload]
_F = TypeVar("_F", bound=PayloadFactory)


class Order(str, enum.Enum):
    normal = "normal"
    try_first = "try_first"
    try_last = "try_last"


class PayloadRegistry:
    """Maps the type of ``data`` to the Payload class that sends it; first match wins."""

    __slots__ = ("_by_type", "_first", "_last", "_normal")

    def __init__(self) -> None:
        self._first: list[tuple[PayloadFactory, type | tuple[type, ...]]] = []
        self._normal: list[tuple[PayloadFactory, type | tuple[type, ...]]] = []
        self._last: list[tuple[PayloadFactory, type | tuple[type, ...]]] = []
        self._by_type: dict[type, PayloadFactory] = {}

    def register(
        self, factory: PayloadFactory, type: type | tuple[type, ...], *, order: Order = Order.normal
    ) -> None:
        if order is Order.try_first:
            self._first.append((factory, type))
        elif order is Order.normal:
            self._normal.append((factory, type))
        elif order is Order.try_last:
            self._last.append((factory, type))
        else:
            raise ValueError(f"unsupported order {order!r}")
        self._by_type.clear()

    def get(self, data: object, **kwargs: Any) -> Payload:
        factory = self._by_type.get(type(data))
        if factory is None:
            if isinstance(data, Payload):
                return data
            factory = self._lookup(data)
        return factory(data, **kwargs)

    def _lookup(self, data: object) -> PayloadFactory:
        for entries in (self._first, self._normal, self._last):
            for factory, types in entries:
                if isinstance(data, types):
                    self._by_type[type(data)] = factory
                    return factory
        raise UnsupportedPayloadError(
            f"cannot send {type(data).__name__!r} as a request body; use bytes, str, a file "
            "object, an async iterable of bytes, FormData or a Payload"
        )


PAYLOAD_REGISTRY = PayloadRegistry()


def get_payload(
    data: object,
    *,
    content_type: str | None = None,
    encoding: str | None = None,
    filename: str | None = None,
    headers: HeadersArg = None,
) -> Payload:
    """The Payload for ``data`` (a Payload is returned as is); TypeError if none fits."""
    return PAYLOAD_REGISTRY.get(
        data, content_type=content_type, encoding=encoding, filename=filename, headers=headers
    )


def register_payload(
    factory: PayloadFactory, type: type | tuple[type, ...], *, order: Order = Order.normal
) -> None:
    PAYLOAD_REGISTRY.register(factory, type, order=order)


class payload_type:
    """Class decorator: ``@payload_type(MyType)`` registers the decorated Payload class."""

    __slots__ = ("_order", "_types")

    def __init__(self, type: type | tuple[type, ...], *, order: Order = Order.normal) -> None:
        self._types = type
        self._order = order

    def __call__(self, factory: _F) -> _F:
        register_payload(factory, self._types, order=self._order)
        return factory


# Most specific first: StringIO is a TextIOBase, BytesIO and BufferedReader are IOBase, and a
# StreamReader is also async-iterable (by lines, which is why it must match before).
register_payload(BytesPayload, _BytesLike)
register_payload(StringPayload, str)
register_payload(StringIOPayload, io.StringIO)
register_payload(TextIOPayload, io.TextIOBase)
register_payload(BytesIOPayload, io.BytesIO)
register_payload(BufferedReaderPayload, (io.BufferedReader, io.BufferedRandom))
register_payload(IOBasePayload, io.IOBase)
register_payload(StreamReaderPayload, _ChunkSource)
register_payload(StreamWrapperPayload, _StreamerCall)
register_payload(AsyncIterablePayload, AsyncIterable, order=Order.try_last)
