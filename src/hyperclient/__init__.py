"""hyperclient: an asyncio HTTP/1.1 and WebSocket client with the aiohttp client API."""

__version__ = "0.1.0"
