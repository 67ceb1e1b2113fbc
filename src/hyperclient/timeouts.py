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

__all__ = (
    "DEFAULT_TIMEOUT",
    "NO_DEADLINE",
    "ClientTimeout",
    "ClientWSTimeout",
    "Deadline",
    "DeadlineScheduler",
)


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


class DeadlineScheduler:
    """Shares one loop timer among all deadlines that fall on the same whole second.

    Timeouts of ``ceil_threshold`` seconds or more are rounded up to a whole second, so under
    load thousands of requests share each expiry time: registering one is a set insertion
    instead of a heap push, and finishing early is a set removal instead of a cancelled
    TimerHandle left in the loop's heap.
    """

    __slots__ = ("_buckets", "_loop")

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop
        self._buckets: dict[float, set[Deadline]] = {}

    def add(self, when: float, deadline: Deadline) -> set[Deadline]:
        bucket = self._buckets.get(when)
        if bucket is None:
            bucket = self._buckets[when] = set()
            self._loop.call_at(when, self._fire, when)
        bucket.add(deadline)
        return bucket

    def _fire(self, when: float) -> None:
        for deadline in list(self._buckets.pop(when, ())):
            deadline._expire()


class Deadline:
    """Cancels the task waiting inside it when the deadline passes, and turns that into
    :class:`asyncio.TimeoutError`.

    Use as ``with deadline: await something``. Any number of tasks may enter it one after another
    (the request task, then whoever reads the body). One timer serves the whole request: its
    own ``call_at`` handle, or a slot in a :class:`DeadlineScheduler` bucket for whole-second
    deadlines.
    """

    __slots__ = ("_bucket", "_handle", "_loop", "_tasks", "expired")

    def __init__(
        self,
        loop: asyncio.AbstractEventLoop,
        when: float | None,
        scheduler: DeadlineScheduler | None = None,
    ) -> None:
        self._loop = loop
        self._tasks: list[asyncio.Task[object]] = []
        self.expired = False  # the deadline passed: set by the timer, only read elsewhere
        self._handle: asyncio.TimerHandle | None = None
        self._bucket: set[Deadline] | None = None
        if when is not None:
            if when <= loop.time():
                self.expired = True
            elif scheduler is not None and isinstance(when, int):
                self._bucket = scheduler.add(when, self)
            else:
                self._handle = loop.call_at(when, self._expire)

    def cancel(self) -> None:
        """Stop the timer: the request finished (or failed) before the deadline."""
        if self._bucket is not None:
            self._bucket.discard(self)
            self._bucket = None
        elif self._handle is not None:
            self._handle.cancel()
            self._handle = None

    def _expire(self) -> None:
        self._handle = None
        self._bucket = None
        self.expired = True
        for task in self._tasks:
            task.cancel()

    def __enter__(self) -> Deadline:
        if self.expired:
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
        if exc_type is asyncio.CancelledError and self.expired:
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
