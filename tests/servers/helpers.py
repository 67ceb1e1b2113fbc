"""Small assertions shared by the integration tests."""

from __future__ import annotations

import asyncio
import gc
import warnings
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

Echo = Mapping[str, Any]


def header_values(echo: Echo, name: str) -> list[str]:
    """Every value the server received for header *name* (case-insensitive), in order."""
    wanted = name.lower()
    return [value for key, value in echo["headers"] if key.lower() == wanted]


def header(echo: Echo, name: str) -> str | None:
    """The single value of header *name* as the server saw it, or None when absent."""
    values = header_values(echo, name)
    assert len(values) <= 1, f"{name} sent {len(values)} times: {values}"
    return values[0] if values else None


def run_in_fresh_loop(main: Callable[[], Awaitable[object]]) -> list[str]:
    """Run *main* in a new event loop, close the loop right away, collect garbage, and return
    the text of every ResourceWarning raised meanwhile (an unclosed socket or transport warns
    when collected).

    Closing the loop immediately is the point: a client whose close() returns before its
    transports are really closed leaves sockets behind exactly here. Garbage from earlier tests
    is collected first so that it is not blamed on this one.
    """
    gc.collect()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        loop = asyncio.new_event_loop()
        try:
            loop.run_until_complete(main())
        finally:
            loop.close()
        gc.collect()
    return [str(w.message) for w in caught if issubclass(w.category, ResourceWarning)]


async def settled_value(read: Callable[[], int], *, quiet: float = 0.3, limit: float = 10.0) -> int:
    """Poll *read* until it has not changed for *quiet* seconds; return that value.

    Only for "the peer stopped" observations, where there is no event to await: the server's
    send blocking shows up solely as a counter that stops growing.
    """
    loop = asyncio.get_running_loop()
    deadline = loop.time() + limit
    value, since = read(), loop.time()
    while loop.time() - since < quiet:
        assert loop.time() < deadline, f"value still changing after {limit}s: {value}"
        await asyncio.sleep(0.02)
        current = read()
        if current != value:
            value, since = current, loop.time()
    return value
