"""Client middleware types and the chain that runs them around each hop's send."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .request import ClientRequest
    from .response import ClientResponse

__all__ = ("ClientHandlerType", "ClientMiddlewareType", "build_chain")

ClientHandlerType = Callable[["ClientRequest"], Awaitable["ClientResponse"]]
ClientMiddlewareType = Callable[["ClientRequest", ClientHandlerType], Awaitable["ClientResponse"]]


def build_chain(
    handler: ClientHandlerType, middlewares: tuple[ClientMiddlewareType, ...]
) -> ClientHandlerType:
    """Onion order: with (m1, m2), m1 enters first and leaves last."""
    for middleware in reversed(middlewares):
        handler = _bind(middleware, handler)
    return handler


def _bind(middleware: ClientMiddlewareType, handler: ClientHandlerType) -> ClientHandlerType:
    async def call(req: ClientRequest) -> ClientResponse:
        return await middleware(req, handler)

    return call
