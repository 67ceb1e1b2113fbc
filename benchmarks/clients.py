"""One benchmark run in this process: one client, one scenario, one event loop.

bench.py starts this file once per measurement (pinned to the client CPU) and reads the single
JSON line it prints: wall and CPU time of the scenario, bytes moved and the peak RSS.

    python clients.py --client aiohttp --scenario seq --loop uvloop --url http://127.0.0.1:8080
    python clients.py --probe hyperclient      # exit 0 if the client can run, else say why

Every client is driven by the same scenario code through the same four calls (get, download,
upload, close), so the clients differ only in the library under them. hyperclient's adapter is
aiohttp's with the module swapped, as hyperclient promises the same API.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib
import json
import resource
import sys
import time
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass
from types import ModuleType
from typing import Any, Protocol

from rawclient import RawClient

SMALL_BODY = b"Hello, World!"
CLIENTS = ("hyperclient", "aiohttp", "httpx", "raw")
SCENARIOS = ("seq", "conc", "down", "up")
LOOPS = ("asyncio", "uvloop")


class Client(Protocol):
    async def get(self, url: str) -> bytes: ...
    async def download(self, url: str, chunk_size: int) -> int: ...
    async def upload(self, url: str, body: bytes) -> int: ...
    async def close(self) -> None: ...


class AiohttpLike:
    """aiohttp's client API, driven the way its documentation shows; used for hyperclient too."""

    def __init__(self, module: ModuleType, limit: int) -> None:
        self._session = module.ClientSession(connector=module.TCPConnector(limit=limit))

    async def get(self, url: str) -> bytes:
        async with self._session.get(url) as resp:
            body: bytes = await resp.read()
            return body

    async def download(self, url: str, chunk_size: int) -> int:
        total = 0
        async with self._session.get(url) as resp:
            async for chunk in resp.content.iter_chunked(chunk_size):
                total += len(chunk)
        return total

    async def upload(self, url: str, body: bytes) -> int:
        async with self._session.post(url, data=body) as resp:
            await resp.read()
            status: int = resp.status
            return status

    async def close(self) -> None:
        await self._session.close()


class HttpxClient:
    def __init__(self, limit: int) -> None:
        import httpx

        limits = httpx.Limits(max_connections=limit, max_keepalive_connections=limit)
        # httpx's default 5 s timeout is far below aiohttp's 300 s total; a slow run must be
        # measured, not aborted.
        self._client = httpx.AsyncClient(limits=limits, timeout=300.0)

    async def get(self, url: str) -> bytes:
        resp = await self._client.get(url)
        return resp.content

    async def download(self, url: str, chunk_size: int) -> int:
        # aiter_bytes() without a size hands over chunks as httpcore reads them (64 KiB), which
        # is what iter_chunked(65536) does; a size would add re-chunking copies.
        total = 0
        async with self._client.stream("GET", url) as resp:
            async for chunk in resp.aiter_bytes():
                total += len(chunk)
        return total

    async def upload(self, url: str, body: bytes) -> int:
        resp = await self._client.post(url, content=body)
        return resp.status_code

    async def close(self) -> None:
        await self._client.aclose()


def open_client(name: str, base_url: str, limit: int) -> Client:
    if name in ("hyperclient", "aiohttp"):
        return AiohttpLike(importlib.import_module(name), limit)
    if name == "httpx":
        return HttpxClient(limit)
    if name == "raw":
        return RawClient(base_url)
    raise ValueError(f"unknown client {name!r}")


def probe(name: str) -> str | None:
    """Why `name` cannot run here, or None when it can."""
    if name == "raw":
        return None
    try:
        module = importlib.import_module(name)
    except ImportError as exc:
        return f"cannot import {name}: {exc}"
    if name == "hyperclient":
        missing = [n for n in ("ClientSession", "TCPConnector") if not hasattr(module, n)]
        if missing:
            return f"hyperclient has no {', '.join(missing)} yet"
    if name == "aiohttp":
        # The comparison is against aiohttp at its fastest, with its C (llhttp) parser.
        parser = importlib.import_module("aiohttp.http_parser").HttpResponseParser
        if parser.__module__ != "aiohttp._http_parser":
            return f"aiohttp uses its pure-Python parser ({parser.__module__})"
    return None


@dataclass(frozen=True, slots=True)
class Job:
    scenario: str
    base_url: str
    count: int
    concurrency: int
    big_size: int
    upload_size: int
    chunk_size: int = 65536


async def seq(client: Client, job: Job) -> int:
    url = job.base_url + "/small"
    for _ in range(job.count):
        if await client.get(url) != SMALL_BODY:
            raise RuntimeError("unexpected /small body")
    return job.count * len(SMALL_BODY)


async def conc(client: Client, job: Job) -> int:
    url = job.base_url + "/small"
    left = job.count

    async def worker() -> None:
        nonlocal left
        while left > 0:
            left -= 1
            if await client.get(url) != SMALL_BODY:
                raise RuntimeError("unexpected /small body")

    await asyncio.gather(*(worker() for _ in range(job.concurrency)))
    return job.count * len(SMALL_BODY)


async def down(client: Client, job: Job) -> int:
    url = job.base_url + "/big"
    for _ in range(job.count):
        got = await client.download(url, job.chunk_size)
        if got != job.big_size:
            raise RuntimeError(f"/big gave {got} bytes, expected {job.big_size}")
    return job.count * job.big_size


async def up(client: Client, job: Job) -> int:
    url = job.base_url + "/upload"
    # Non-zero bytes so every page is really resident, as a real payload would be.
    body = b"\xa5" * job.upload_size
    for _ in range(job.count):
        status = await client.upload(url, body)
        if status != 200:
            raise RuntimeError(f"/upload answered {status}")
    return job.count * job.upload_size


DRIVERS: dict[str, Callable[[Client, Job], Awaitable[int]]] = {
    "seq": seq,
    "conc": conc,
    "down": down,
    "up": up,
}


async def measure(client_name: str, job: Job, want_loop: str) -> dict[str, Any]:
    loop_module = type(asyncio.get_running_loop()).__module__
    if (want_loop == "uvloop") != loop_module.startswith("uvloop"):
        raise RuntimeError(f"asked for {want_loop} but running on {loop_module}")
    client = open_client(client_name, job.base_url, job.concurrency)
    try:
        start, cpu_start = time.perf_counter(), time.process_time()
        moved = await DRIVERS[job.scenario](client, job)
        elapsed, cpu = time.perf_counter() - start, time.process_time() - cpu_start
    finally:
        await client.close()
    return {"elapsed": elapsed, "cpu": cpu, "requests": job.count, "bytes": moved}


def run_on(loop_name: str, coro: Coroutine[Any, Any, dict[str, Any]]) -> dict[str, Any]:
    factory: Callable[[], asyncio.AbstractEventLoop] = asyncio.new_event_loop
    if loop_name == "uvloop":
        import uvloop

        factory = uvloop.new_event_loop
    loop = factory()
    asyncio.set_event_loop(loop)
    try:
        return loop.run_until_complete(coro)
    finally:
        loop.run_until_complete(loop.shutdown_asyncgens())
        asyncio.set_event_loop(None)
        loop.close()


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--probe", choices=CLIENTS)
    parser.add_argument("--client", choices=CLIENTS)
    parser.add_argument("--scenario", choices=SCENARIOS)
    parser.add_argument("--loop", choices=LOOPS, default="asyncio")
    parser.add_argument("--url", help="base URL of the benchmark server")
    parser.add_argument("--count", type=int, default=1000)
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument("--big-size", type=int, default=100 * 1024 * 1024)
    parser.add_argument("--upload-size", type=int, default=16 * 1024 * 1024)
    return parser.parse_args(argv)


def main(argv: list[str]) -> int:
    args = parse_args(argv)
    if args.probe:
        reason = probe(args.probe)
        if reason:
            print(reason)
        return 1 if reason else 0
    if not (args.client and args.scenario and args.url):
        print("--client, --scenario and --url are required", file=sys.stderr)
        return 2
    job = Job(
        scenario=args.scenario,
        base_url=args.url.rstrip("/"),
        count=args.count,
        concurrency=args.concurrency,
        big_size=args.big_size,
        upload_size=args.upload_size,
    )
    result = run_on(args.loop, measure(args.client, job, args.loop))
    # Linux reports ru_maxrss in KiB.
    result["maxrss_kib"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
