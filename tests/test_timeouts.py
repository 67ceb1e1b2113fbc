"""timeouts.py: rounding of long timeouts, and the per-second shared deadline timers."""

from __future__ import annotations

import asyncio
import math

import pytest

from hyperclient.timeouts import Deadline, DeadlineScheduler, deadline_at


async def test_timeouts_at_or_above_the_threshold_end_on_a_whole_second() -> None:
    loop = asyncio.get_running_loop()
    before = loop.time()
    when = deadline_at(loop, 5, ceil_threshold=5)
    assert when is not None
    assert when == math.ceil(when)
    assert before + 5 <= when < loop.time() + 6


async def test_short_timeouts_are_not_rounded() -> None:
    loop = asyncio.get_running_loop()
    before = loop.time()
    when = deadline_at(loop, 0.25, ceil_threshold=5)
    assert when is not None
    assert before + 0.25 <= when <= loop.time() + 0.25
    assert when != math.ceil(when)


@pytest.mark.parametrize("delay", [None, 0])
async def test_none_or_zero_means_no_deadline(delay: float | None) -> None:
    assert deadline_at(asyncio.get_running_loop(), delay) is None


async def test_deadlines_on_the_same_second_share_one_loop_timer() -> None:
    loop = asyncio.get_running_loop()
    scheduler = DeadlineScheduler(loop)
    when = math.ceil(loop.time()) + 30
    before = len(loop._scheduled)  # type: ignore[attr-defined]
    deadlines = [Deadline(loop, when, scheduler) for _ in range(100)]
    assert len(loop._scheduled) == before + 1  # type: ignore[attr-defined]
    for deadline in deadlines:
        deadline.cancel()
    assert scheduler._buckets[when] == set()  # finished early: nothing kept alive


async def test_a_shared_deadline_cancels_the_waiting_task_as_a_timeout() -> None:
    loop = asyncio.get_running_loop()
    scheduler = DeadlineScheduler(loop)
    when = math.ceil(loop.time()) + 1  # a whole second: the shared path
    deadline = Deadline(loop, when, scheduler)
    never = loop.create_future()
    with pytest.raises(asyncio.TimeoutError), deadline:
        await never  # only the deadline can end this (pytest-timeout bounds the test)
    assert deadline.expired
    assert not never.done() or never.cancelled()


async def test_a_cancelled_deadline_does_not_fire() -> None:
    loop = asyncio.get_running_loop()
    scheduler = DeadlineScheduler(loop)
    deadline = Deadline(loop, math.ceil(loop.time()) + 1, scheduler)
    deadline.cancel()
    with deadline:
        await asyncio.sleep(1.2)  # past the second it was due
    assert not deadline.expired
