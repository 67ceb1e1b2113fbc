"""Scripted servers that misbehave on purpose, and probes of the client's process resources.

Built on :mod:`servers.raw`. The handlers here are the shapes the hostile tests share: answer
the first request with hostile bytes and then keep serving on the same connection (so that a
connection the client should have dropped shows up as reused), drip bytes, or go silent.

The probes (:func:`open_fds`, :func:`client_tasks`, :func:`pool_counts`) are what "nothing
leaks" means in these tests: descriptors, tasks, and the connector's bookkeeping.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Iterable
from typing import Any

import hyperclient

from .raw import Handler, RawConnection, RawServer, http_response

#: The body a connection the client should not have reused answers with.
REUSED = b"REUSED-CONNECTION"
#: The body of a response nobody asked for, hidden behind a hostile one.
SMUGGLED_BODY = b"SMUGGLED"
SMUGGLED = b"HTTP/1.1 200 OK\r\nContent-Length: 8\r\n\r\n" + SMUGGLED_BODY
#: What fresh connections answer with.
FRESH = b"fresh"


def hostile_then_serve(first: bytes, *, close_after: bool = False) -> Handler:
    """Answer the first request with *first* (raw bytes, any framing), then answer every
    later request on this connection with :data:`REUSED`. With *close_after* the connection
    is closed right after *first* (for bodies that end at the close)."""

    async def handler(conn: RawConnection) -> None:
        if await conn.read_request() is None:
            return
        await conn.send(first)
        if close_after:
            return
        while await conn.read_request() is not None:
            await conn.send(http_response(REUSED))

    return handler


def serve(body: bytes = FRESH) -> Handler:
    """A well-behaved keep-alive connection."""

    async def handler(conn: RawConnection) -> None:
        while await conn.read_request() is not None:
            await conn.send(http_response(body))

    return handler


def silent() -> Handler:
    """Read the request, never answer, keep the connection open until the client leaves."""

    async def handler(conn: RawConnection) -> None:
        if await conn.read_request() is None:
            return
        await conn.wait_closed_by_peer()

    return handler


def send_then_silent(data: bytes) -> Handler:
    """Read the request, send *data* (e.g. a head and part of a body), then go silent."""

    async def handler(conn: RawConnection) -> None:
        if await conn.read_request() is None:
            return
        await conn.send(data)
        await conn.wait_closed_by_peer()

    return handler


def drip(data: bytes, *, interval: float, repeat: bytes = b"") -> Handler:
    """Send *data* one byte per *interval* seconds, then *repeat* the same way forever."""

    async def handler(conn: RawConnection) -> None:
        if await conn.read_request() is None:
            return
        for byte in _bytes_forever(data, repeat):
            await conn.send(byte)
            await asyncio.sleep(interval)

    return handler


def _bytes_forever(data: bytes, repeat: bytes) -> Iterable[bytes]:
    for i in range(len(data)):
        yield data[i : i + 1]
    while repeat:
        for i in range(len(repeat)):
            yield repeat[i : i + 1]


async def wait_closed_by_peer(conn: RawConnection, within: float) -> None:
    """Fail unless the client closes its side of *conn* within *within* seconds."""
    try:
        await asyncio.wait_for(conn.wait_closed_by_peer(), within)
    except ConnectionError:
        pass  # a reset is a close too


async def first_connection(server: RawServer, within: float = 5.0) -> RawConnection:
    """The server's first accepted connection, once it exists."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    while not server.connections:
        assert loop.time() < deadline, "the client never connected"
        await asyncio.sleep(0.005)
    return server.connections[0]


async def received_request(conn: RawConnection, within: float = 5.0) -> None:
    """Wait until *conn* has read one whole request."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    while not conn.requests:
        assert loop.time() < deadline, "the request never arrived"
        await asyncio.sleep(0.005)


# -- probes -----------------------------------------------------------------------------------


def open_fds() -> set[int]:
    """The process's open file descriptors (Linux)."""
    return {int(name) for name in os.listdir("/proc/self/fd")}


def socket_fds() -> set[str]:
    """The targets of the process's open socket descriptors, e.g. ``socket:[1234]``."""
    found = set()
    for name in os.listdir("/proc/self/fd"):
        try:
            target = os.readlink(f"/proc/self/fd/{name}")
        except OSError:
            continue  # closed meanwhile (the listing's own descriptor, for one)
        if target.startswith("socket:"):
            found.add(target)
    return found


def client_tasks(*exclude: Iterable[asyncio.Task[Any]]) -> set[asyncio.Task[Any]]:
    """Unfinished tasks of this loop, without the current one and the *exclude* sets."""
    skipped: set[asyncio.Task[Any]] = set()
    for tasks in exclude:
        skipped.update(tasks)
    current = asyncio.current_task()
    return {t for t in asyncio.all_tasks() if t is not current and t not in skipped}


def pool_counts(connector: hyperclient.BaseConnector) -> dict[str, int]:
    """The connector's bookkeeping: slots taken, connections lent out, waiters, idle ones."""
    return {
        "active": connector._active,
        "in_use": len(connector._in_use),
        "waiters": len(connector._waiters),
        "idle": sum(len(entries) for entries in connector._idle.values()),
        "per_key": sum(connector._active_per_key.values()),
    }


async def settle(rounds: int = 5) -> None:
    """Let callbacks scheduled by a close (connection_lost, done callbacks) run."""
    for _ in range(rounds):
        await asyncio.sleep(0)
