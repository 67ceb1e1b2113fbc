"""ClientSession.ws_connect: the opening handshake and the ClientWebSocketResponse it yields."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ..session import ClientSession

__all__ = ("ws_connect",)


async def ws_connect(session: ClientSession, url: Any, **kwargs: Any) -> Any:
    raise NotImplementedError("WebSocket client support is not implemented yet")
