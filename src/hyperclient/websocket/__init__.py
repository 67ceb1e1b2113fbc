"""WebSocket client (RFC 6455, with permessage-deflate from RFC 7692).

``frames`` and ``deflate`` are sans-IO; ``handshake`` holds the handshake's pure checks;
``response`` is the asyncio side (ClientWebSocketResponse); ``client`` runs the handshake for
``ClientSession.ws_connect``.
"""

from .frames import WebSocketError
from .models import WSCloseCode, WSMessage, WSMsgType
from .response import ClientWebSocketResponse

__all__ = ("ClientWebSocketResponse", "WSCloseCode", "WSMessage", "WSMsgType", "WebSocketError")
