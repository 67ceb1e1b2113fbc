"""WebSocket: value types now; the frame codec and ClientWebSocketResponse come with issue 5."""

from .models import WSCloseCode, WSMessage, WSMsgType
from .response import ClientWebSocketResponse

__all__ = ("ClientWebSocketResponse", "WSCloseCode", "WSMessage", "WSMsgType")
