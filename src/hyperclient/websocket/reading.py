"""The upgraded connection's reads go into one reused buffer.

asyncio's selector transport (and its TLS transport) reads with ``recv(256 KiB)``: every read
allocates a fresh 256 KiB bytes object and shrinks it to what arrived. Until something frees a
larger block and glibc raises its mmap threshold, that allocation is an mmap, the shrink an
mremap and the free an munmap, plus a page fault for the fresh page: three system calls per
read, about 30 microseconds on the benchmark's virtual machine, where a whole echo round trip
costs 110 of client CPU. A :class:`asyncio.BufferedProtocol` makes the transport
``recv_into`` a buffer kept for the connection's life instead; only the bytes received are
copied out, into an allocation below the mmap threshold. uvloop reads into its own reused
buffer either way.

After the upgrade the HTTP protocol only forwards bytes (``ResponseProtocol.take_over``), so
:class:`BufferedReader` takes over the transport's reads and hands every other event (write
flow control, end of stream, connection lost) to that protocol, which keeps its role for them.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import TYPE_CHECKING, Final

if TYPE_CHECKING:
    from .._protocol import ResponseProtocol

__all__ = ("BufferedReader", "read_into_buffer")

# Below glibc's default mmap threshold (128 KiB), so copying a full read out stays on the heap.
READ_SIZE: Final = 2**16


class BufferedReader(asyncio.BufferedProtocol):
    __slots__ = ("_inner", "_on_data", "_view")

    def __init__(self, inner: ResponseProtocol, on_data: Callable[[bytes], None]) -> None:
        self._inner = inner
        self._on_data = on_data
        self._view = memoryview(bytearray(READ_SIZE))

    def get_buffer(self, sizehint: int) -> memoryview:
        return self._view

    def buffer_updated(self, nbytes: int) -> None:
        self._on_data(self._view[:nbytes].tobytes())

    def eof_received(self) -> bool | None:
        return self._inner.eof_received()

    def connection_lost(self, exc: Exception | None) -> None:
        self._inner.connection_lost(exc)

    def pause_writing(self) -> None:
        self._inner.pause_writing()

    def resume_writing(self) -> None:
        self._inner.resume_writing()


def read_into_buffer(protocol: ResponseProtocol, on_data: Callable[[bytes], None]) -> None:
    """From now on, the transport of *protocol* reads into a reused buffer and gives *on_data*
    the bytes; call it right after ``protocol.take_over(on_data, ...)``, which returned what
    had already arrived."""
    transport = protocol.transport
    if transport is not None and not transport.is_closing():
        transport.set_protocol(BufferedReader(protocol, on_data))
