"""StreamReader: the response body buffer, its reads, flow control, errors and timeouts."""

from __future__ import annotations

import asyncio

import pytest

from hyperclient.streams import EMPTY_PAYLOAD, EmptyStreamReader, FlowControl, StreamReader
from hyperclient.timeouts import Deadline


class RecordingFlowControl:
    def __init__(self) -> None:
        self.calls: list[str] = []

    def pause_reading(self) -> None:
        self.calls.append("pause")

    def resume_reading(self) -> None:
        self.calls.append("resume")


def make(limit: int = 16, **kwargs: object) -> tuple[StreamReader, RecordingFlowControl]:
    flow = RecordingFlowControl()
    return StreamReader(flow, limit, **kwargs), flow  # type: ignore[arg-type]


def fed(*pieces: bytes, eof: bool = True, limit: int = 2**16) -> StreamReader:
    stream, _ = make(limit)
    for piece in pieces:
        stream.feed_data(piece)
    if eof:
        stream.feed_eof()
    return stream


async def settle() -> None:
    """Let every ready task run up to its next wait."""
    for _ in range(5):
        await asyncio.sleep(0)


def test_recording_flow_control_satisfies_the_protocol() -> None:
    flow: FlowControl = RecordingFlowControl()
    assert flow is not None


# ---- read ---------------------------------------------------------------------------------


async def test_read_all_waits_for_eof_and_joins_everything() -> None:
    stream, _ = make()
    task = asyncio.create_task(stream.read())
    stream.feed_data(b"hello ")
    await settle()
    assert not task.done()
    stream.feed_data(b"world")
    stream.feed_eof()
    assert await task == b"hello world"


async def test_read_all_of_one_chunk_returns_that_chunk_uncopied() -> None:
    chunk = b"x" * 1000
    assert await fed(chunk).read() is chunk


async def test_read_all_consumes_while_waiting_so_large_bodies_do_not_stall() -> None:
    stream, flow = make(limit=16)
    body = [bytes([i]) * 10 for i in range(100)]

    async def produce() -> None:
        for piece in body:
            while flow.calls and flow.calls[-1] == "pause":
                await asyncio.sleep(0)
            stream.feed_data(piece)
            await asyncio.sleep(0)
        stream.feed_eof()

    producer = asyncio.create_task(produce())
    assert await stream.read() == b"".join(body)
    await producer


async def test_read_n_returns_what_is_there_without_waiting_for_n() -> None:
    stream = fed(b"abc", eof=False)
    assert await stream.read(10) == b"abc"


async def test_read_n_takes_at_most_n_bytes_across_chunks() -> None:
    stream = fed(b"abc", b"def", b"ghi")
    assert await stream.read(2) == b"ab"
    assert await stream.read(4) == b"cdef"
    assert await stream.read(100) == b"ghi"
    assert await stream.read(100) == b""


async def test_read_zero_returns_empty_at_once() -> None:
    stream, _ = make()
    assert await stream.read(0) == b""


async def test_read_at_eof_returns_empty() -> None:
    stream = fed()
    assert await stream.read() == b""
    assert await stream.read(5) == b""


async def test_read_n_waits_for_the_first_data() -> None:
    stream, _ = make()
    task = asyncio.create_task(stream.read(5))
    await settle()
    assert not task.done()
    stream.feed_data(b"0123456789")
    assert await task == b"01234"


async def test_feeding_empty_data_changes_nothing() -> None:
    stream, _ = make()
    stream.feed_data(b"")
    assert stream.read_nowait() == b""
    assert "0 bytes" in repr(stream)


# ---- readany ------------------------------------------------------------------------------


async def test_readany_returns_each_chunk_as_it_arrived_uncopied() -> None:
    first, second = b"a" * 100, b"b" * 50
    stream = fed(first, second)
    assert await stream.readany() is first
    assert await stream.readany() is second
    assert await stream.readany() == b""


async def test_readany_after_a_partial_read_returns_the_rest_of_the_chunk() -> None:
    stream = fed(b"abcdef", b"gh")
    assert await stream.read(2) == b"ab"
    assert await stream.readany() == b"cdef"
    assert await stream.readany() == b"gh"


async def test_readany_wakes_on_eof_with_empty_result() -> None:
    stream, _ = make()
    task = asyncio.create_task(stream.readany())
    await settle()
    stream.feed_eof()
    assert await task == b""


# ---- readexactly --------------------------------------------------------------------------


async def test_readexactly_collects_across_chunks_and_waits() -> None:
    stream, _ = make()
    task = asyncio.create_task(stream.readexactly(6))
    stream.feed_data(b"abc")
    await settle()
    assert not task.done()
    stream.feed_data(b"defgh")
    assert await task == b"abcdef"
    assert stream.read_nowait() == b"gh"


async def test_readexactly_at_eof_raises_incomplete_read_with_partial() -> None:
    stream = fed(b"abc", b"de")
    with pytest.raises(asyncio.IncompleteReadError) as info:
        await stream.readexactly(10)
    assert info.value.partial == b"abcde"
    assert info.value.expected == 10


async def test_readexactly_zero_and_negative() -> None:
    stream = fed(b"abc")
    assert await stream.readexactly(0) == b""
    with pytest.raises(ValueError):
        await stream.readexactly(-1)


# ---- readline / readuntil -----------------------------------------------------------------


async def test_readline_returns_lines_with_their_newline() -> None:
    stream = fed(b"one\ntwo\nthr", b"ee\n", b"partial")
    assert await stream.readline() == b"one\n"
    assert await stream.readline() == b"two\n"
    assert await stream.readline() == b"three\n"
    assert await stream.readline() == b"partial"
    assert await stream.readline() == b""


async def test_readline_waits_for_the_newline() -> None:
    stream, _ = make(limit=1024)
    task = asyncio.create_task(stream.readline())
    stream.feed_data(b"no newline yet")
    await settle()
    assert not task.done()
    stream.feed_data(b" - now\nnext")
    assert await task == b"no newline yet - now\n"
    assert stream.read_nowait() == b"next"


@pytest.mark.parametrize(
    "pieces",
    [
        [b"abc\r\ndef\r\n"],
        [b"abc\r", b"\ndef\r\n"],
        [b"abc", b"\r\n", b"def\r", b"\n"],
        [b"a", b"b", b"c", b"\r", b"\n", b"d", b"e", b"f", b"\r", b"\n"],
    ],
)
async def test_readuntil_finds_a_multibyte_separator_split_across_chunks(
    pieces: list[bytes],
) -> None:
    stream = fed(*pieces)
    assert await stream.readuntil(b"\r\n") == b"abc\r\n"
    assert await stream.readuntil(b"\r\n") == b"def\r\n"
    assert await stream.readuntil(b"\r\n") == b""


async def test_readuntil_separator_spanning_three_chunks() -> None:
    stream = fed(b"xx-", b"-", b"-yy---")
    assert await stream.readuntil(b"---") == b"xx---"
    assert await stream.readuntil(b"---") == b"yy---"


async def test_readuntil_rejects_an_empty_separator() -> None:
    stream = fed(b"abc")
    with pytest.raises(ValueError):
        await stream.readuntil(b"")


async def test_line_longer_than_the_high_water_mark_is_refused() -> None:
    stream, _ = make(limit=16)
    stream.feed_data(b"x" * 20)
    stream.feed_data(b"y" * 20)
    with pytest.raises(ValueError, match="Chunk too big"):
        await stream.readline()


async def test_line_exactly_at_the_high_water_mark_is_accepted() -> None:
    stream = fed(b"x" * 31 + b"\n", limit=16)
    assert await stream.readline() == b"x" * 31 + b"\n"


async def test_async_for_iterates_lines() -> None:
    stream = fed(b"a\nb", b"b\nccc")
    assert [line async for line in stream] == [b"a\n", b"bb\n", b"ccc"]


# ---- readchunk / iter_chunks --------------------------------------------------------------


async def test_readchunk_of_a_plain_body_never_flags_chunk_ends() -> None:
    stream = fed(b"abc", b"def")
    assert await stream.readchunk() == (b"abc", False)
    assert await stream.readchunk() == (b"def", False)
    assert await stream.readchunk() == (b"", False)


async def test_readchunk_reports_http_chunk_ends() -> None:
    stream, _ = make(limit=1024)
    stream.begin_http_chunk_receiving()
    stream.feed_data(b"ab")
    stream.feed_data(b"cd")
    stream.end_http_chunk_receiving()
    stream.feed_data(b"ef")
    assert await stream.readchunk() == (b"abcd", True)
    assert await stream.readchunk() == (b"ef", False)
    stream.end_http_chunk_receiving()
    assert await stream.readchunk() == (b"", True)
    stream.feed_eof()
    assert await stream.readchunk() == (b"", False)


async def test_chunk_end_wakes_a_waiting_readchunk() -> None:
    stream, _ = make(limit=1024)
    stream.begin_http_chunk_receiving()
    stream.feed_data(b"data")
    assert await stream.readchunk() == (b"data", False)
    task = asyncio.create_task(stream.readchunk())
    await settle()
    assert not task.done()
    stream.end_http_chunk_receiving()
    assert await task == (b"", True)


async def test_chunk_ends_already_passed_by_other_reads_are_dropped() -> None:
    stream, _ = make(limit=1024)
    stream.begin_http_chunk_receiving()
    for piece in (b"one", b"two"):
        stream.feed_data(piece)
        stream.end_http_chunk_receiving()
    stream.feed_data(b"three")
    assert await stream.read(4) == b"onet"
    assert await stream.readchunk() == (b"wo", True)
    assert await stream.readchunk() == (b"three", False)


async def test_an_http_chunk_that_decoded_to_nothing_marks_no_end() -> None:
    stream, _ = make(limit=1024)
    stream.begin_http_chunk_receiving()
    stream.feed_data(b"x")
    stream.end_http_chunk_receiving()
    stream.end_http_chunk_receiving()
    stream.feed_eof()
    assert [c async for c in stream.iter_chunks()] == [(b"x", True)]


async def test_an_empty_http_chunk_after_a_consumed_one_marks_no_end() -> None:
    stream, _ = make(limit=1024)
    stream.begin_http_chunk_receiving()
    stream.feed_data(b"abc")
    stream.end_http_chunk_receiving()
    assert await stream.readchunk() == (b"abc", True)
    stream.end_http_chunk_receiving()
    stream.feed_eof()
    assert await stream.readchunk() == (b"", False)


async def test_chunk_markers_are_checked_for_misuse() -> None:
    stream, _ = make()
    with pytest.raises(RuntimeError):
        stream.end_http_chunk_receiving()
    stream.feed_data(b"body")
    with pytest.raises(RuntimeError):
        stream.begin_http_chunk_receiving()


async def test_iter_chunks_yields_tuples_until_eof() -> None:
    stream, _ = make(limit=1024)
    stream.begin_http_chunk_receiving()
    stream.feed_data(b"ab")
    stream.end_http_chunk_receiving()
    stream.feed_data(b"cd")
    stream.feed_eof()
    assert [c async for c in stream.iter_chunks()] == [(b"ab", True), (b"cd", False)]


# ---- other iterators ----------------------------------------------------------------------


async def test_iter_chunked_yields_pieces_of_at_most_n() -> None:
    stream = fed(b"abcdefg", b"hij")
    pieces = [piece async for piece in stream.iter_chunked(3)]
    assert pieces == [b"abc", b"def", b"ghi", b"j"]


async def test_iter_any_yields_what_arrived() -> None:
    stream, _ = make()

    async def produce() -> None:
        for piece in (b"a", b"bc", b"def"):
            stream.feed_data(piece)
            await settle()
        stream.feed_eof()

    producer = asyncio.create_task(produce())
    assert [piece async for piece in stream.iter_any()] == [b"a", b"bc", b"def"]
    await producer


# ---- state, read_nowait, unread_data, wait_eof --------------------------------------------


async def test_eof_flags_distinguish_seen_from_drained() -> None:
    stream, _ = make()
    stream.feed_data(b"abc")
    assert not stream.is_eof() and not stream.at_eof()
    stream.feed_eof()
    assert stream.is_eof() and not stream.at_eof()
    await stream.read()
    assert stream.is_eof() and stream.at_eof()


def test_total_raw_bytes_is_a_plain_counter_for_the_producer() -> None:
    stream, _ = make()
    assert stream.total_raw_bytes == 0
    stream.total_raw_bytes += 123
    assert stream.total_raw_bytes == 123


async def test_read_nowait_returns_buffered_data_only() -> None:
    stream = fed(b"abc", b"def", eof=False)
    assert stream.read_nowait(4) == b"abcd"
    assert stream.read_nowait() == b"ef"
    assert stream.read_nowait() == b""


async def test_read_nowait_while_a_reader_waits_is_an_error() -> None:
    stream, _ = make()
    task = asyncio.create_task(stream.read())
    await settle()
    with pytest.raises(RuntimeError):
        stream.read_nowait()
    stream.feed_eof()
    assert await task == b""


async def test_a_second_concurrent_reader_is_an_error() -> None:
    stream, _ = make()
    first = asyncio.create_task(stream.readany())
    await settle()
    with pytest.raises(RuntimeError):
        await stream.readany()
    stream.feed_data(b"x")
    assert await first == b"x"


async def test_unread_data_goes_back_in_front() -> None:
    stream = fed(b"abcdef")
    assert await stream.read(4) == b"abcd"
    stream.unread_data(b"XY")
    assert await stream.read() == b"XYef"


async def test_unread_data_wakes_no_waiter() -> None:
    stream, _ = make()
    task = asyncio.create_task(stream.readany())
    await settle()
    stream.unread_data(b"back")
    await settle()
    assert not task.done()
    stream.feed_data(b"new")
    assert await task == b"back"


async def test_wait_eof_returns_when_eof_is_fed() -> None:
    stream, _ = make()
    waiters = [asyncio.create_task(stream.wait_eof()) for _ in range(2)]
    await settle()
    assert not any(w.done() for w in waiters)
    stream.feed_data(b"unread data does not matter")
    stream.feed_eof()
    await asyncio.gather(*waiters)
    await stream.wait_eof()


async def test_cancelling_one_wait_eof_leaves_the_other_waiting() -> None:
    stream, _ = make()
    first = asyncio.create_task(stream.wait_eof())
    second = asyncio.create_task(stream.wait_eof())
    await settle()
    first.cancel()
    await settle()
    assert first.cancelled() and not second.done()
    stream.feed_eof()
    await second


# ---- exceptions ---------------------------------------------------------------------------


async def test_set_exception_wakes_a_waiting_reader_with_it() -> None:
    stream, _ = make()
    task = asyncio.create_task(stream.readline())
    await settle()
    error = ValueError("payload broke")
    stream.set_exception(error)
    with pytest.raises(ValueError) as info:
        await task
    assert info.value is error
    assert stream.exception() is error


@pytest.mark.parametrize(
    "method",
    ["read", "readany", "readline", "readchunk", "read_n", "readexactly", "wait_eof"],
)
async def test_every_read_raises_the_exception_even_with_data_buffered(method: str) -> None:
    stream, _ = make()
    stream.feed_data(b"buffered\n")
    stream.set_exception(ConnectionResetError("gone"))
    calls = {
        "read": stream.read,
        "readany": stream.readany,
        "readline": stream.readline,
        "readchunk": stream.readchunk,
        "read_n": lambda: stream.read(3),
        "readexactly": lambda: stream.readexactly(3),
        "wait_eof": stream.wait_eof,
    }
    with pytest.raises(ConnectionResetError):
        await calls[method]()
    with pytest.raises(ConnectionResetError):
        stream.read_nowait()


async def test_set_exception_wakes_wait_eof() -> None:
    stream, _ = make()
    task = asyncio.create_task(stream.wait_eof())
    await settle()
    stream.set_exception(OSError("boom"))
    with pytest.raises(OSError):
        await task


async def test_exception_with_a_cancelled_reader_leaves_nothing_unretrieved() -> None:
    stream, _ = make()
    task = asyncio.create_task(stream.read())
    await settle()
    task.cancel()
    stream.set_exception(OSError("late"))
    with pytest.raises(asyncio.CancelledError):
        await task


# ---- flow control -------------------------------------------------------------------------


async def test_flow_control_pauses_above_high_water_and_resumes_at_low_water() -> None:
    stream, flow = make(limit=16)
    stream.feed_data(b"x" * 32)
    assert flow.calls == []  # exactly at the high-water mark (2 * limit)
    stream.feed_data(b"x")
    assert flow.calls == ["pause"]
    stream.feed_data(b"x" * 10)
    assert flow.calls == ["pause"]
    assert await stream.read(20) == b"x" * 20  # 23 left: above the low-water mark
    assert flow.calls == ["pause"]
    await stream.read(7)  # 16 left: at the low-water mark
    assert flow.calls == ["pause", "resume"]
    await stream.read(5)
    assert flow.calls == ["pause", "resume"]
    stream.feed_data(b"y" * 30)
    assert flow.calls == ["pause", "resume", "pause"]
    assert "paused" in repr(stream)


async def test_feed_eof_resumes_a_paused_transport() -> None:
    stream, flow = make(limit=4)
    stream.feed_data(b"x" * 9)
    stream.feed_eof()
    assert flow.calls == ["pause", "resume"]
    assert await stream.read() == b"x" * 9
    assert flow.calls == ["pause", "resume"]


async def test_overlong_line_while_paused_raises_and_resumes_reading() -> None:
    stream, flow = make(limit=16)
    stream.feed_data(b"a" * 20)
    stream.feed_data(b"b" * 20)
    task = asyncio.create_task(stream.readline())
    await settle()
    assert flow.calls == ["pause", "resume"]
    stream.feed_data(b"\n")
    with pytest.raises(ValueError):
        await task


# ---- cancellation and timeouts ------------------------------------------------------------


async def test_cancelled_read_leaves_the_stream_usable() -> None:
    stream, _ = make()
    task = asyncio.create_task(stream.readexactly(4))
    await settle()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert stream.read_nowait() == b""  # no waiter left behind
    stream.feed_data(b"data")
    assert await stream.readexactly(4) == b"data"


async def test_deadline_turns_a_stuck_read_into_timeout_error() -> None:
    loop = asyncio.get_running_loop()
    deadline = Deadline(loop, loop.time() + 0.05)
    stream, _ = make(timer=deadline)
    with pytest.raises(asyncio.TimeoutError):
        await stream.read()
    assert stream.read_nowait() == b""
    deadline.cancel()


async def test_expired_deadline_fails_the_next_wait_at_once() -> None:
    loop = asyncio.get_running_loop()
    stream, _ = make(timer=Deadline(loop, loop.time() - 1))
    stream.feed_data(b"buffered")
    assert await stream.readany() == b"buffered"  # no wait, so no timeout
    with pytest.raises(asyncio.TimeoutError):
        await stream.readany()
    with pytest.raises(asyncio.TimeoutError):
        await stream.wait_eof()


async def test_explicit_loop_is_used_for_waiters() -> None:
    stream, _ = make(loop=asyncio.get_running_loop())
    task = asyncio.create_task(stream.read())
    await settle()
    stream.feed_data(b"ok")
    stream.feed_eof()
    assert await task == b"ok"


# ---- EMPTY_PAYLOAD ------------------------------------------------------------------------


async def test_empty_payload_is_an_ended_stream_reader() -> None:
    assert isinstance(EMPTY_PAYLOAD, StreamReader)
    assert isinstance(EMPTY_PAYLOAD, EmptyStreamReader)
    assert EMPTY_PAYLOAD.is_eof() and EMPTY_PAYLOAD.at_eof()
    assert await EMPTY_PAYLOAD.read() == b""
    assert await EMPTY_PAYLOAD.read(10) == b""
    assert await EMPTY_PAYLOAD.readany() == b""
    assert await EMPTY_PAYLOAD.readline() == b""
    assert await EMPTY_PAYLOAD.readchunk() == (b"", False)
    assert EMPTY_PAYLOAD.read_nowait() == b""
    with pytest.raises(asyncio.IncompleteReadError):
        await EMPTY_PAYLOAD.readexactly(1)
    await EMPTY_PAYLOAD.wait_eof()
    assert [x async for x in EMPTY_PAYLOAD] == []
    assert [x async for x in EMPTY_PAYLOAD.iter_chunks()] == []
    assert repr(EMPTY_PAYLOAD) == "<EmptyStreamReader>"


async def test_shared_empty_payload_ignores_producer_calls() -> None:
    EMPTY_PAYLOAD.feed_data(b"data")
    EMPTY_PAYLOAD.unread_data(b"data")
    EMPTY_PAYLOAD.set_exception(OSError("x"))
    EMPTY_PAYLOAD.begin_http_chunk_receiving()
    EMPTY_PAYLOAD.end_http_chunk_receiving()
    EMPTY_PAYLOAD.feed_eof()
    EMPTY_PAYLOAD.total_raw_bytes += 5
    assert EMPTY_PAYLOAD.total_raw_bytes == 0
    assert EMPTY_PAYLOAD.exception() is None
    assert await EMPTY_PAYLOAD.read() == b""


def test_repr_shows_size_eof_and_error() -> None:
    stream = fed(b"abc")
    stream.set_exception(OSError("bad"))
    text = repr(stream)
    assert text.startswith("<StreamReader 3 bytes eof")
    assert "OSError('bad')" in text
