"""One benchmark run in this process: one client, one scenario, one event loop.

bench.py starts this file once per measurement (pinned to the client CPU) and reads the single
JSON line it prints: wall and CPU time of the scenario, bytes moved, the peak RSS and the CPU
time the server processes used meanwhile.

    python clients.py --client aiohttp --scenario seq --loop uvloop --url http://127.0.0.1:8080
    python clients.py --client hyperclient --scenario ws-echo --ws-url ws://127.0.0.1:8081
    python clients.py --probe hyperclient      # exit 0 if the client can run, else say why
    python clients.py --check-tracing --url http://127.0.0.1:8080   # see check_tracing()

Every client is driven by the same scenario code through the same calls (get, download,
upload, and ws_receive_all, ws_echo, ws_send_all for WebSockets), so the clients differ only in
the library under them. hyperclient's adapter is aiohttp's with the module swapped, as
hyperclient promises the same API.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib
import json
import os
import resource
import sys
import time
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any, Protocol

from rawclient import RawClient
from rawws import RawWsClient

SMALL_BODY = b"Hello, World!"
CLIENTS = ("hyperclient", "aiohttp", "httpx", "raw")
# hyperclient with one TraceConfig listening to on_request_end (a handler that does nothing);
# it runs only in "trace", next to plain hyperclient, to show what a session with tracing on
# pays. (A config without any handler is skipped by the session and would cost nothing.)
TRACED = "traced"
HTTP_SCENARIOS = ("seq", "conc", "down", "up")
WS_SCENARIOS = ("ws-recv", "ws-echo", "ws-send")
SCENARIOS = (*HTTP_SCENARIOS, *WS_SCENARIOS, "trace")
LOOPS = ("asyncio", "uvloop")
# Who runs each scenario (httpx has no WebSocket client).
RUNNERS: dict[str, tuple[str, ...]] = {
    **dict.fromkeys(HTTP_SCENARIOS, CLIENTS),
    **dict.fromkeys(WS_SCENARIOS, ("hyperclient", "aiohttp", "raw")),
    "trace": ("hyperclient", TRACED),
}


class Client(Protocol):
    async def get(self, url: str) -> bytes: ...
    async def download(self, url: str, chunk_size: int) -> int: ...
    async def upload(self, url: str, body: bytes) -> int: ...
    async def close(self) -> None: ...


class WsClient(Protocol):
    async def ws_receive_all(self, url: str) -> int: ...
    async def ws_echo(self, url: str, message: str, count: int) -> int: ...
    async def ws_send_all(self, url: str, message: str, count: int) -> int: ...
    async def close(self) -> None: ...


async def _ignore_trace_signal(session: Any, context: Any, params: Any) -> None:
    pass


class AiohttpLike:
    """aiohttp's client API, driven the way its documentation shows; used for hyperclient too."""

    def __init__(self, module: ModuleType, limit: int, traced: bool = False) -> None:
        options: dict[str, Any] = {}
        if traced:
            config = module.TraceConfig()
            config.on_request_end.append(_ignore_trace_signal)
            config.freeze()
            options["trace_configs"] = [config]
        self._session = module.ClientSession(connector=module.TCPConnector(limit=limit), **options)

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

    async def ws_receive_all(self, url: str) -> int:
        """Text characters received until the server's Close ends the iteration."""
        total = 0
        async with self._session.ws_connect(url) as ws:
            async for msg in ws:
                total += len(msg.data)
        return total

    async def ws_echo(self, url: str, message: str, count: int) -> int:
        async with self._session.ws_connect(url) as ws:
            for _ in range(count):
                await ws.send_str(message)
                msg = await ws.receive()
                if msg.data != message:
                    raise RuntimeError(f"the echo differs from what was sent: {msg!r}")
        return count

    async def ws_send_all(self, url: str, message: str, count: int) -> int:
        """The server's close code: 1000 only when it counted *count* messages."""
        async with self._session.ws_connect(url) as ws:
            for _ in range(count):
                await ws.send_str(message)
            await ws.close()
            code: int = ws.close_code
            return code

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


def open_client(name: str, base_url: str, limit: int, scenario: str = "seq") -> Any:
    """A Client for HTTP scenarios, a WsClient for WebSocket ones."""
    if name in ("hyperclient", "aiohttp"):
        return AiohttpLike(importlib.import_module(name), limit)
    if name == TRACED:
        return AiohttpLike(importlib.import_module("hyperclient"), limit, traced=True)
    if name == "httpx":
        return HttpxClient(limit)
    if name == "raw":
        return RawWsClient() if scenario in WS_SCENARIOS else RawClient(base_url)
    raise ValueError(f"unknown client {name!r}")


def probe(name: str) -> str | None:
    """Why `name` cannot run here, or None when it can."""
    if name == "raw":
        return None
    try:
        module = importlib.import_module("hyperclient" if name == TRACED else name)
    except ImportError as exc:
        return f"cannot import {name}: {exc}"
    if name in ("hyperclient", TRACED):
        needed = ("ClientSession", "TCPConnector", "TraceConfig")
        missing = [n for n in needed if not hasattr(module, n)]
        if missing:
            return f"hyperclient has no {', '.join(missing)} yet"
    if name == "aiohttp":
        # The comparison is against aiohttp at its fastest, with its C (llhttp) parser and its
        # compiled WebSocket reader.
        parser = importlib.import_module("aiohttp.http_parser").HttpResponseParser
        if parser.__module__ != "aiohttp._http_parser":
            return f"aiohttp uses its pure-Python parser ({parser.__module__})"
        reader = importlib.import_module("aiohttp._websocket.reader").WebSocketReader
        if reader.__module__ != "aiohttp._websocket.reader_c":
            return f"aiohttp uses its pure-Python WebSocket reader ({reader.__module__})"
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
    ws_url: str = ""
    msg_size: int = 64


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


async def ws_recv(client: WsClient, job: Job) -> int:
    url = f"{job.ws_url}/push?n={job.count}&size={job.msg_size}"
    got = await client.ws_receive_all(url)
    if got != job.count * job.msg_size:
        raise RuntimeError(f"received {got} characters, expected {job.count * job.msg_size}")
    return got


async def ws_echo(client: WsClient, job: Job) -> int:
    await client.ws_echo(job.ws_url + "/echo", "x" * job.msg_size, job.count)
    return 2 * job.count * job.msg_size


async def ws_send(client: WsClient, job: Job) -> int:
    # The sink answers our Close with 1000 only when it counted every message: the time
    # includes the close handshake, so every message has reached the server.
    url = f"{job.ws_url}/sink?n={job.count}"
    code = await client.ws_send_all(url, "x" * job.msg_size, job.count)
    if code != 1000:
        raise RuntimeError(f"the server closed with {code}: it did not get every message")
    return job.count * job.msg_size


DRIVERS: dict[str, Callable[[Any, Job], Awaitable[int]]] = {
    "seq": seq,
    "conc": conc,
    "down": down,
    "up": up,
    "ws-recv": ws_recv,
    "ws-echo": ws_echo,
    "ws-send": ws_send,
    "trace": seq,
}

_TICKS = os.sysconf("SC_CLK_TCK")


def server_cpu(pids: list[int]) -> float:
    """CPU-seconds used so far by the server processes (user + system, from /proc)."""
    total = 0
    for pid in pids:
        try:
            stat = Path(f"/proc/{pid}/stat").read_text()
        except OSError:
            continue
        # Fields after the parenthesised command name; utime and stime are the 14th and 15th.
        fields = stat.rsplit(")", 1)[1].split()
        total += int(fields[11]) + int(fields[12])
    return total / _TICKS


async def measure(
    client_name: str, job: Job, want_loop: str, server_pids: list[int]
) -> dict[str, Any]:
    loop_module = type(asyncio.get_running_loop()).__module__
    if (want_loop == "uvloop") != loop_module.startswith("uvloop"):
        raise RuntimeError(f"asked for {want_loop} but running on {loop_module}")
    client = open_client(client_name, job.base_url, job.concurrency, job.scenario)
    try:
        server_start = server_cpu(server_pids)
        start, cpu_start = time.perf_counter(), time.process_time()
        moved = await DRIVERS[job.scenario](client, job)
        elapsed, cpu = time.perf_counter() - start, time.process_time() - cpu_start
        server = server_cpu(server_pids) - server_start
    finally:
        await client.close()
    return {
        "elapsed": elapsed,
        "cpu": cpu,
        "requests": job.count,
        "bytes": moved,
        "server_cpu": server,
    }


async def check_tracing(base_url: str, count: int) -> dict[str, Any]:
    """Issue 3: a session without trace_configs pays nothing for tracing on the request path.

    *count* GETs (the first one connects) run under ``sys.setprofile``, which sees every Python
    function call in this thread, including the event loop's callbacks; no function defined in
    hyperclient/tracing.py may be among them. The same requests with a TraceConfig that listens
    to one signal are the control: there the hook must see tracing.py, or the check could see
    nothing at all.
    """
    import hyperclient.tracing

    tracing_file = hyperclient.tracing.__file__

    async def calls_into_tracing(traced: bool) -> dict[str, int]:
        client = AiohttpLike(importlib.import_module("hyperclient"), 1, traced=traced)
        seen: dict[str, int] = {}

        def hook(frame: Any, event: str, arg: Any) -> None:
            code = frame.f_code
            if event == "call" and code.co_filename == tracing_file:
                seen[code.co_qualname] = seen.get(code.co_qualname, 0) + 1

        try:
            sys.setprofile(hook)
            try:
                for _ in range(count):
                    await client.get(base_url + "/small")
            finally:
                sys.setprofile(None)
        finally:
            await client.close()
        return seen

    plain = await calls_into_tracing(False)
    traced = await calls_into_tracing(True)
    return {
        "requests": count,
        "ok": not plain and bool(traced),
        "untraced_calls": plain,
        "traced_calls": sum(traced.values()),
    }


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
    parser.add_argument("--probe", choices=(*CLIENTS, TRACED))
    parser.add_argument("--client", choices=(*CLIENTS, TRACED))
    parser.add_argument("--check-tracing", action="store_true", help="see check_tracing()")
    parser.add_argument("--scenario", choices=SCENARIOS)
    parser.add_argument("--loop", choices=LOOPS, default="asyncio")
    parser.add_argument("--url", help="base URL of the benchmark server")
    parser.add_argument("--ws-url", default="", help="base ws:// URL of the WebSocket server")
    parser.add_argument(
        "--server-pids", default="", help="comma-separated pids whose CPU time is recorded"
    )
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
    if args.check_tracing:
        result = run_on(args.loop, check_tracing(args.url.rstrip("/"), args.count))
        print(json.dumps(result))
        return 0 if result["ok"] else 1
    if not (args.client and args.scenario and args.url):
        print("--client, --scenario and --url are required", file=sys.stderr)
        return 2
    if args.scenario in WS_SCENARIOS and not args.ws_url:
        print(f"{args.scenario} needs --ws-url", file=sys.stderr)
        return 2
    job = Job(
        scenario=args.scenario,
        base_url=args.url.rstrip("/"),
        count=args.count,
        concurrency=args.concurrency,
        big_size=args.big_size,
        upload_size=args.upload_size,
        ws_url=args.ws_url.rstrip("/"),
    )
    pids = [int(pid) for pid in args.server_pids.split(",") if pid]
    result = run_on(args.loop, measure(args.client, job, args.loop, pids))
    # Linux reports ru_maxrss in KiB.
    result["maxrss_kib"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
