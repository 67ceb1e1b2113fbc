"""Timeout settings and the deadline timer that enforces ``total``.

``ClientTimeout.total`` covers the whole request *including* reading the body after the response
head arrived, so the deadline outlives ``session.request()``: the response's StreamReader enters
the same :class:`Deadline` around every wait.
"""

from __future__ import annotations

import asyncio
import dataclasses
import math
import sys
from types import TracebackType
from typing import Final

__all__ = ("DEFAULT_TIMEOUT", "NO_DEADLINE", "ClientTimeout", "ClientWSTimeout", "Deadline")


@dataclasses.dataclass(frozen=True)
class ClientTimeout:
    """Timeouts for one request, in seconds; ``None`` or ``0`` disables one.

    ``total``: the whole request, body included. ``connect``: getting a connection (pool wait and
    connecting). ``sock_connect``: connecting one new socket. ``sock_read``: the longest silence
    while a response is expected. Timeouts of ``ceil_threshold`` seconds or more are rounded up to
    the next whole second of the loop clock so nearby deadlines share a wake-up.
    """

    total: float | None = None
    connect: float | None = None
    sock_read: float | None = None
    sock_connect: float | None = None
    ceil_threshold: float = 5


DEFAULT_TIMEOUT: Final = ClientTimeout(total=300, sock_connect=30)


@dataclasses.dataclass(frozen=True)
class ClientWSTimeout:
    """WebSocket timeouts: ``ws_receive`` for one whole message, ``ws_close`` for the close."""

    ws_receive: float | None = None
    ws_close: float | None = None


def deadline_at(
    loop: asyncio.AbstractEventLoop, delay: float | None, ceil_threshold: float = 5
) -> float | None:
    """The loop time at which a timeout of *delay* seconds expires, or None when disabled."""
    if not delay:
        return None
    when = loop.time() + delay
    if delay >= ceil_threshold:
        return math.ceil(when)
    return when


class Deadline:
    """Cancels the task waiting inside it when the deadline passes, and turns that into
    :class:`asyncio.TimeoutError`.

    Use as ``with deadline: await something``. Any number of tasks may enter it one after another
    (the request task, then whoever reads the body). One ``call_at`` handle serves the whole
    request.
    """

    __slots__ = ("_expired", "_handle", "_loop", "_tasks")

    def __init__(self, loop: asyncio.AbstractEventLoop, when: float | None) -> None:
        self._loop = loop
        self._tasks: list[asyncio.Task[object]] = []
        self._expired = False
        self._handle: asyncio.TimerHandle | None = None
        if when is not None:
            if when <= loop.time():
                self._expired = True
            else:
                self._handle = loop.call_at(when, self._expire)

    @property
    def expired(self) -> bool:
        return self._expired

    def cancel(self) -> None:
        """Stop the timer: the request finished (or failed) before the deadline."""
        if self._handle is not None:
            self._handle.cancel()
            self._handle = None

    def _expire(self) -> None:
        self._handle = None
        self._expired = True
        for task in self._tasks:
            task.cancel()

    def __enter__(self) -> Deadline:
        if self._expired:
            raise asyncio.TimeoutError
        task = asyncio.current_task(self._loop)
        if task is None:
            raise RuntimeError("a timeout context must be used inside a task")
        self._tasks.append(task)
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        task = self._tasks.pop()
        if exc_type is asyncio.CancelledError and self._expired:
            # Our own cancel() is taken back; a cancellation from elsewhere still wins.
            if sys.version_info >= (3, 11) and task.uncancel() > 0:
                return
            raise asyncio.TimeoutError from exc


class _NoDeadline:
    """The shared do-nothing deadline for requests without a total timeout."""

    __slots__ = ()
    expired: Final = False

    def cancel(self) -> None:
        pass

    def __enter__(self) -> _NoDeadline:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        return None


NO_DEADLINE: Final = _NoDeadline()
