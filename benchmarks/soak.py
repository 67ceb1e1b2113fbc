"""Soak: hundreds of thousands of requests against a local server that injects faults.

    .venv/bin/python benchmarks/soak.py [--requests 300000] [--concurrency 64] [--seed 1]

The server runs in a child process on 127.0.0.1 and misbehaves on the request's say-so (the
path names the fault): resets, truncated bodies, stalls, garbage, slow drips, early closes,
broken framing, a response smuggled behind another. The client mixes in concurrency beyond the
pool's limit and cancels a share of its requests at random moments.

Every request must either complete with exactly its own body (each body carries the request's
number, so a response that reached the wrong request is caught) or raise a documented
ClientError (asyncio.TimeoutError for the total timeout). At the end it prints the count of each
outcome, the open file descriptors and RSS at start and end, and exits non-zero unless every
outcome was allowed, the descriptors are back to where they started and memory stayed flat.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import os
import random
import socket
import struct
import subprocess
import sys
import time
import zlib
from collections import Counter
from pathlib import Path

# Run from a checkout without installing: the library is under src/.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "src"))

import hyperclient

# -- the fault-injecting server (child process) ------------------------------------------------

FILLER = bytes(range(256)) * 1024  # 256 KiB of a known pattern

#: fault -> (weight, whether it must fail). The rest succeed with their exact body.
KINDS: dict[str, tuple[int, bool]] = {
    "ok": (560, False),
    "chunked": (100, False),
    "gzip": (60, False),
    "big": (40, False),
    "post": (40, False),
    "smuggle": (20, False),
    "bomb": (5, False),  # 1 MiB of gzip that inflates to 1 GiB; the client reads 1 KiB of it
    "reset": (20, True),
    "reset-mid": (20, True),
    "truncate": (20, True),
    "truncate-chunked": (20, True),
    "garbage": (20, True),
    "early-close": (20, True),
    "bad-framing": (20, True),
    "stall": (10, True),
    "drip": (10, True),
}


def gzip_bomb() -> bytes:
    """gzip of 1 GiB of zeros in about 1 MiB: one megabyte's deflate block repeated (after a
    full flush the compressor has no history, so the block is the same each time), as 16
    members of 64 MiB so the CRCs stay cheap."""
    piece = bytes(1 << 20)
    compressor = zlib.compressobj(9, zlib.DEFLATED, -15)
    block = compressor.compress(piece) + compressor.flush(zlib.Z_FULL_FLUSH)
    crc = 0
    for _ in range(64):
        crc = zlib.crc32(piece, crc)
    member = (
        b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\xff"
        + block * 64
        + b"\x03\x00"  # a final empty block
        + crc.to_bytes(4, "little")
        + (64 << 20).to_bytes(4, "little")
    )
    return member * 16


def body_for(kind: str, rid: int) -> bytes:
    if kind == "big":
        size = 256 * 1024
    elif kind == "drip":
        size = 4096  # at one byte per 20 ms, far longer than the request's total timeout
    else:
        size = (rid * 7919) % 2048
    return b"%d:" % rid + FILLER[:size]


class FaultServer(asyncio.Protocol):
    """One connection: answers each request as its path says (``/<kind>/<rid>``)."""

    def __init__(self) -> None:
        self.buf = b""
        self.transport: asyncio.Transport | None = None
        self.drip: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def connection_lost(self, exc: Exception | None) -> None:
        if self.drip is not None:
            self.drip.cancel()
        self.transport = None

    def data_received(self, data: bytes) -> None:
        self.buf += data
        while self.transport is not None:
            end = self.buf.find(b"\r\n\r\n")
            if end < 0:
                return
            head = self.buf[:end]
            length = 0
            for line in head.split(b"\r\n")[1:]:
                name, _, value = line.partition(b":")
                if name.strip().lower() == b"content-length":
                    length = int(value)
            if len(self.buf) < end + 4 + length:
                return
            self.buf = self.buf[end + 4 + length :]
            _, kind, rid = head.split(b" ", 2)[1].decode().split("/")[:3]
            self.answer(kind, int(rid))

    def answer(self, kind: str, rid: int) -> None:
        transport = self.transport
        assert transport is not None
        body = body_for(kind, rid)
        if kind in ("ok", "big", "post"):
            transport.write(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % len(body) + body)
        elif kind == "chunked":
            half = len(body) // 2
            transport.write(
                b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
                + b"%x\r\n%s\r\n%x;ext=1\r\n%s\r\n0\r\n\r\n"
                % (half, body[:half], len(body) - half, body[half:])
            )
        elif kind == "gzip":
            compressor = zlib.compressobj(6, zlib.DEFLATED, 31)  # gzip framing (RFC 1952)
            packed = compressor.compress(body) + compressor.flush()
            transport.write(
                b"HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\nContent-Length: %d\r\n\r\n"
                % len(packed)
                + packed
            )
        elif kind == "bomb":
            transport.write(
                b"HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\nContent-Length: %d\r\n\r\n"
                % len(BOMB)
                + BOMB
            )
        elif kind == "smuggle":
            transport.write(
                b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body)
                + b"HTTP/1.1 200 OK\r\nContent-Length: 8\r\n\r\nSMUGGLED"
            )
        else:
            self.fault(kind, body)

    def fault(self, kind: str, body: bytes) -> None:
        transport = self.transport
        assert transport is not None
        head = b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % len(body)
        if kind == "reset":
            self.reset()
        elif kind == "reset-mid":
            transport.write(head + body[: len(body) // 2])
            self.reset()
        elif kind == "truncate":
            transport.write(head + body[: len(body) // 2])
            transport.close()
        elif kind == "truncate-chunked":
            transport.write(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nab")
            transport.close()
        elif kind == "garbage":
            transport.write(random.randbytes(64))
            transport.close()
        elif kind == "early-close":
            transport.close()
        elif kind == "bad-framing":
            transport.write(
                b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n"
                b"5\r\nhello\r\n0\r\n\r\n"
            )
            transport.close()
        elif kind == "drip":
            transport.write(head)
            self.drip_next(body, 0)
        # "stall": say nothing; the client's sock_read timer ends it.

    def drip_next(self, body: bytes, pos: int) -> None:
        transport = self.transport
        if transport is None or transport.is_closing():
            return
        transport.write(body[pos : pos + 1] or b"x")
        loop = asyncio.get_running_loop()
        self.drip = loop.call_later(0.02, self.drip_next, body, pos + 1)

    def reset(self) -> None:
        transport = self.transport
        assert transport is not None
        sock = transport.get_extra_info("socket")
        if sock is not None:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        transport.abort()


BOMB = b""


async def serve() -> None:
    global BOMB
    BOMB = gzip_bomb()
    loop = asyncio.get_running_loop()
    server = await loop.create_server(FaultServer, "127.0.0.1", 0, backlog=1024)
    print(server.sockets[0].getsockname()[1], flush=True)
    await loop.run_in_executor(None, sys.stdin.read)  # until the parent closes our stdin
    server.close()


# -- the client --------------------------------------------------------------------------------


#: Objects the gc may track after the session closed beyond those before it: caches filled
#: once (compiled patterns, the SSL default context, codecs), not per request.
_OBJECT_SLACK = 5000


def open_fds() -> int:
    return len(os.listdir("/proc/self/fd"))


def rss_mib() -> float:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


class Soak:
    def __init__(self, port: int, args: argparse.Namespace) -> None:
        self.base = f"http://127.0.0.1:{port}"
        self.args = args
        self.rng = random.Random(args.seed)
        self.kinds = list(KINDS)
        self.weights = [KINDS[k][0] for k in self.kinds]
        self.outcomes: Counter[str] = Counter()
        self.bad: list[str] = []
        self.next_id = 0
        self.done = 0
        self.rss_samples: list[float] = []
        self.objects_grew = False
        self.drip_timeout = hyperclient.ClientTimeout(total=0.3, sock_read=0.25)

    async def one(self, session: hyperclient.ClientSession, kind: str, rid: int) -> None:
        url = f"{self.base}/{kind}/{rid}"
        if kind == "post":
            ctx = session.post(url, data=b"p" * (rid % 5000))
        elif kind == "drip":
            ctx = session.get(url, timeout=self.drip_timeout)
        else:
            ctx = session.get(url)
        async with ctx as resp:
            if kind == "bomb":
                # A small read must cost about that much, and releasing the rest must be
                # cheap (the soak's memory checks see it if not).
                head = await resp.content.read(1024)
                if not head or head != bytes(len(head)):
                    self.fail(f"bomb/{rid}: read {head[:24]!r}")
                self.outcomes["ok bomb (1 KiB read)"] += 1
                return
            body = await resp.read()
        expected = body_for(kind, rid)
        if KINDS[kind][1] or body != expected:
            self.fail(f"{kind}/{rid}: completed with {len(body)} bytes {body[:24]!r}")
        self.outcomes["ok " + kind] += 1

    def fail(self, message: str) -> None:
        self.outcomes["WRONG"] += 1
        if len(self.bad) < 20:
            self.bad.append(message)

    async def worker(self, session: hyperclient.ClientSession) -> None:
        loop = asyncio.get_running_loop()
        while self.next_id < self.args.requests:
            rid = self.next_id = self.next_id + 1
            kind = self.rng.choices(self.kinds, self.weights)[0]
            task = loop.create_task(self.one(session, kind, rid))
            if self.rng.random() < self.args.cancel_rate:
                loop.call_later(self.rng.uniform(0, 0.01), task.cancel)
            try:
                await task
            except asyncio.CancelledError:
                if not task.cancelled():
                    raise
                self.outcomes["cancelled"] += 1
            except (hyperclient.ClientError, asyncio.TimeoutError) as exc:
                allowed = KINDS[kind][1] or kind == "post"  # see "post" in the README
                label = "error" if allowed else "error on a healthy request"
                self.outcomes[f"{label}: {type(exc).__name__}"] += 1
            except Exception as exc:  # anything undocumented is a failure
                self.outcomes[f"UNDOCUMENTED {type(exc).__name__}"] += 1
                if len(self.bad) < 20:
                    self.bad.append(f"{kind}/{rid}: {exc!r}")
            self.done += 1
            if self.done % max(1, self.args.requests // 10) == 0:
                self.rss_samples.append(rss_mib())
                print(
                    f"  {self.done:>8} requests  rss {self.rss_samples[-1]:7.1f} MiB  "
                    f"fds {open_fds()}  objects {len(gc.get_objects())}",
                    flush=True,
                )

    async def run(self) -> int:
        gc.collect()
        fds_start, rss_start, objects_start = open_fds(), rss_mib(), len(gc.get_objects())
        started = time.monotonic()
        connector = hyperclient.TCPConnector(limit=self.args.limit)
        timeout = hyperclient.ClientTimeout(total=5, sock_read=0.25)
        async with hyperclient.ClientSession(connector=connector, timeout=timeout) as session:
            await asyncio.gather(*(self.worker(session) for _ in range(self.args.concurrency)))
        elapsed = time.monotonic() - started
        await asyncio.sleep(0.1)  # transports finish closing
        gc.collect()
        fds_end, rss_end, objects_end = open_fds(), rss_mib(), len(gc.get_objects())
        print(f"objects tracked by the gc: start {objects_start}, end {objects_end}")
        self.objects_grew = objects_end - objects_start > _OBJECT_SLACK
        return self.report(elapsed, fds_start, fds_end, rss_start, rss_end)

    def report(
        self, elapsed: float, fds_start: int, fds_end: int, rss_start: float, rss_end: float
    ) -> int:
        print(f"\n{self.done} requests in {elapsed:.0f} s ({self.done / elapsed:.0f}/s)")
        for name, count in sorted(self.outcomes.items(), key=lambda item: -item[1]):
            print(f"  {count:>8}  {name}")
        warm = self.rss_samples[1] if len(self.rss_samples) > 1 else rss_start
        growth = rss_end - warm
        print(f"fds: start {fds_start}, end {fds_end}")
        print(
            f"RSS: start {rss_start:.1f} MiB, after 20% {warm:.1f} MiB, end {rss_end:.1f} MiB "
            f"(growth after warm-up {growth:+.1f} MiB)"
        )
        failures = []
        if self.outcomes["WRONG"] or any(k.startswith("UNDOCUMENTED") for k in self.outcomes):
            failures.append("outcomes that are neither correct bodies nor documented errors")
        if fds_end != fds_start:
            failures.append(f"file descriptors leaked: {fds_end - fds_start}")
        if growth > max(16.0, 0.1 * warm):
            failures.append(f"memory grew by {growth:.1f} MiB after warm-up")
        if self.objects_grew:
            failures.append("objects left behind after the session closed")
        for line in self.bad:
            print("  !", line)
        for failure in failures:
            print("FAIL:", failure)
        if not failures:
            print("PASS")
        return 1 if failures else 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=300_000)
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument("--limit", type=int, default=32, help="the connector's limit")
    parser.add_argument("--cancel-rate", type=float, default=0.02)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        asyncio.run(serve())
        return 0
    child = subprocess.Popen(
        [sys.executable, __file__, "--serve"], stdin=subprocess.PIPE, stdout=subprocess.PIPE
    )
    assert child.stdout is not None and child.stdin is not None
    port = int(child.stdout.readline())
    try:
        return asyncio.run(Soak(port, args).run())
    finally:
        child.stdin.close()
        child.wait(timeout=10)
        child.stdout.close()


if __name__ == "__main__":
    sys.exit(main())
