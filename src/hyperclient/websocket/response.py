"""ClientWebSocketResponse.

The WebSocket client (handshake, frame codec, ping/pong, close handshake, permessage-deflate) is
tracked by its own issue and not built yet. The class exists so ``ws_response_class=`` can be
passed and the documented name imports; ``ClientSession.ws_connect`` says plainly that WebSocket
is not available rather than pretending to connect.
"""

from __future__ import annotations

__all__ = ("ClientWebSocketResponse",)


class ClientWebSocketResponse:
    """A client WebSocket connection (not available yet: see the module docstring)."""

    def __init__(self, *args: object, **kwargs: object) -> None:
        raise NotImplementedError("WebSocket client support is not implemented yet")
