"""Benchmark driver, started by run.sh inside benchmarks/.work/venv with the servers already up.

    bench.py check --url URL --ws-url WS_URL --big-size N    are the servers fit to measure?
    bench.py run --url URL --ws-url WS_URL [--quick] [--only seq,ws-echo] [--clients ...]

`run` starts one subprocess per measurement (clients.py, pinned to the client CPU), repeats the
whole matrix for several rounds with the client order rotated each round so that no client
always runs first or last, then prints medians and ratios against aiohttp and appends them to
RESULTS.md (report.py). With the `trace` scenario it also runs the tracing check of issue 3
(clients.py --check-tracing) once per loop.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path
from urllib.parse import urlsplit

from clients import CLIENTS, LOOPS, RUNNERS, SCENARIOS, TRACED, WS_SCENARIOS
from report import Sample, Settings, TracingCheck, record, render

HERE = Path(__file__).resolve().parent
CHILD = HERE / "clients.py"
CHILD_TIMEOUT = 180.0
MIB = 1024 * 1024

# Requests (seq, conc, trace), transfers (down, up) or messages (ws-*) per measurement, and
# rounds. The WebSocket counts are issue 5's.
FULL = {
    "seq": 10_000,
    "conc": 50_000,
    "down": 10,
    "up": 32,
    "ws-recv": 200_000,
    "ws-echo": 20_000,
    "ws-send": 200_000,
    "trace": 10_000,
    "rounds": 5,
}
QUICK = {
    "seq": 2_000,
    "conc": 10_000,
    "down": 2,
    "up": 8,
    "ws-recv": 50_000,
    "ws-echo": 5_000,
    "ws-send": 50_000,
    "trace": 2_000,
    "rounds": 3,
}
# Requests made under the profiler hook by the tracing check, per loop.
TRACING_CHECK_REQUESTS = 300
# httpx is several times slower than the others on small requests, and its pool slows down
# sharply with many requests in flight (under 200 req/s at 64 on this machine, against
# thousands): at full size it alone would take half of the time budget. It runs a fraction of
# the requests in those scenarios; rates, not counts, are compared.
SCALE_DOWN = {("httpx", "seq"): 4, ("httpx", "conc"): 50}
# Measurements per client and round. One up measurement (32 x 16 MiB) lasts about 0.2 s: short
# enough that this machine's slow and fast phases moved the median of five by 20-30% from run
# to run, for the raw floor client as much as for the others (RESULTS.md, 2026-11-21). Three per
# round, interleaved like the rest, keep each measurement what the issue defines.
REPEATS = {"up": 3}


def _csv(allowed: tuple[str, ...]) -> Callable[[str], list[str]]:
    def parse(text: str) -> list[str]:
        items = [item.strip() for item in text.split(",") if item.strip()]
        unknown = [item for item in items if item not in allowed]
        if unknown or not items:
            raise argparse.ArgumentTypeError(f"choose from {', '.join(allowed)}")
        return items

    return parse


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    check = sub.add_parser("check", help="verify the server before measuring")
    run = sub.add_parser("run", help="run the benchmark matrix")
    for cmd in (check, run):
        cmd.add_argument("--url", required=True)
        cmd.add_argument("--ws-url", default="", help="the WebSocket server (wsserver.py)")
        cmd.add_argument("--big-size", type=int, default=100 * MIB)
    run.add_argument("--quick", action="store_true", help="smaller runs for a smoke check")
    run.add_argument("--only", type=_csv(SCENARIOS), default=list(SCENARIOS))
    run.add_argument("--clients", type=_csv(CLIENTS), default=list(CLIENTS))
    run.add_argument("--loops", type=_csv(LOOPS), default=list(LOOPS))
    run.add_argument("--rounds", type=int, help="override the number of rounds")
    run.add_argument("--upload-size", type=int, default=16 * MIB)
    run.add_argument("--client-cpu", default="", help="CPU list for taskset; empty: no pinning")
    run.add_argument("--server", default="nginx", help="server description for the record")
    run.add_argument(
        "--server-pids", default="", help="comma-separated server pids (their CPU is recorded)"
    )
    run.add_argument("--started", type=float, help="epoch seconds when run.sh started")
    run.add_argument("--no-record", action="store_true", help="do not append to RESULTS.md")
    return parser.parse_args(argv)


# --- check -------------------------------------------------------------------------------------


def _connect(host: str, port: int, deadline: float) -> socket.socket:
    while True:
        try:
            return socket.create_connection((host, port), timeout=5)
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)


def _read_head(sock: socket.socket) -> bytes:
    data = b""
    while b"\r\n\r\n" not in data:
        more = sock.recv(65536)
        if not more:
            break
        data += more
    return data


def check_server(base_url: str, big_size: int, ws_url: str = "") -> list[str]:
    """Problems with the servers, empty when they are fit to measure against."""
    problems = _check_http(base_url, big_size)
    if ws_url:
        problems.extend(_check_ws(ws_url))
    return problems


def _check_http(base_url: str, big_size: int) -> list[str]:
    parts = urlsplit(base_url)
    host, port = parts.hostname or "127.0.0.1", parts.port or 80
    problems: list[str] = []
    with _connect(host, port, time.monotonic() + 10) as sock:
        sock.sendall(b"GET /small HTTP/1.1\r\nHost: x\r\n\r\n")
        if not _read_head(sock).endswith(b"\r\n\r\nHello, World!"):
            problems.append("/small does not answer 'Hello, World!'")
        sock.sendall(b"HEAD /big HTTP/1.1\r\nHost: x\r\n\r\n")
        if f"content-length: {big_size}\r\n".encode() not in _read_head(sock).lower():
            problems.append(f"/big is not {big_size} bytes")
    problems.extend(_check_upload_reads_body(host, port))
    return problems


def _check_upload_reads_body(host: str, port: int) -> list[str]:
    # An upload endpoint that answers before reading the body measures nothing: the client
    # would see its response while still sending. Send part of a body, expect silence, then the
    # rest, and expect 200.
    body = b"u" * (4 * MIB)
    with socket.create_connection((host, port), timeout=5) as sock:
        sock.sendall(b"POST /upload HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n" % len(body))
        sock.sendall(body[:MIB])
        sock.settimeout(0.5)
        try:
            early = sock.recv(1024)
        except TimeoutError:
            early = b""
        if early:
            return ["/upload answers before it has read the request body"]
        sock.settimeout(5)
        sock.sendall(body[MIB:])
        if not _read_head(sock).startswith(b"HTTP/1.1 200"):
            return ["/upload does not answer 200 after the whole body"]
    return []


def _ws_open(host: str, port: int, target: str, deadline: float) -> socket.socket:
    sock = _connect(host, port, deadline)
    sock.sendall(
        f"GET {target} HTTP/1.1\r\nHost: {host}\r\nUpgrade: websocket\r\n"
        "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
        "Sec-WebSocket-Version: 13\r\n\r\n".encode()
    )
    return sock


def _read_exactly(sock: socket.socket, size: int) -> bytes:
    data = b""
    while len(data) < size:
        more = sock.recv(size - len(data))
        if not more:
            break
        data += more
    return data


def _check_ws(ws_url: str) -> list[str]:
    # The handshake's answer and the frames after it are read byte-exact: the 101 head is
    # fixed by wsserver.py (its Sec-WebSocket-Accept for the RFC 6455 §1.3 sample key).
    parts = urlsplit(ws_url)
    host, port = parts.hostname or "127.0.0.1", parts.port or 80
    head = (
        b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        b"Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n"
    )
    problems = []
    with _ws_open(host, port, "/push?n=3&size=2", time.monotonic() + 10) as sock:
        want = head + b"\x81\x02xx" * 3 + b"\x88\x02\x03\xe8"
        if _read_exactly(sock, len(want)) != want:
            problems.append("/push does not send 3 messages and a Close")
    with _ws_open(host, port, "/sink?n=2", time.monotonic() + 10) as sock:
        # Two masked text frames (key 0) and a masked Close: the answer must be Close 1000.
        sock.sendall(b"\x81\x82\0\0\0\0ab" * 2 + b"\x88\x82\0\0\0\0\x03\xe8")
        want = head + b"\x88\x02\x03\xe8"
        if _read_exactly(sock, len(want)) != want:
            problems.append("/sink does not confirm the messages it counted")
    return problems


# --- run ---------------------------------------------------------------------------------------


def _with_children(pids: list[int]) -> list[int]:
    """*pids* and all their descendants (nginx's worker is a child of its master)."""
    found: list[int] = []
    todo = list(pids)
    while todo:
        pid = todo.pop()
        found.append(pid)
        for task in Path(f"/proc/{pid}/task").glob("*/children"):
            try:
                todo.extend(int(child) for child in task.read_text().split())
            except OSError:
                pass
    return found


def runners(scenario: str, clients: list[str]) -> list[str]:
    """The clients that run *scenario*, in the order given."""
    return [client for client in clients if client in RUNNERS[scenario]]


def _child_command(args: argparse.Namespace, client: str, scenario: str, loop: str) -> list[str]:
    sizes = QUICK if args.quick else FULL
    pin = ["taskset", "-c", args.client_cpu] if args.client_cpu else []
    return [
        *pin,
        sys.executable,
        str(CHILD),
        f"--client={client}",
        f"--scenario={scenario}",
        f"--loop={loop}",
        f"--url={args.url}",
        f"--count={max(1, sizes[scenario] // SCALE_DOWN.get((client, scenario), 1))}",
        f"--big-size={args.big_size}",
        f"--upload-size={args.upload_size}",
        f"--ws-url={args.ws_url}",
        f"--server-pids={args.server_pids}",
    ]


def measure_once(args: argparse.Namespace, client: str, scenario: str, loop: str) -> Sample:
    sample = Sample(client=client, scenario=scenario, loop=loop)
    try:
        proc = subprocess.run(
            _child_command(args, client, scenario, loop),
            capture_output=True,
            text=True,
            timeout=CHILD_TIMEOUT,
            check=False,
        )
    except subprocess.TimeoutExpired:
        sample.error = f"timed out after {CHILD_TIMEOUT:.0f} s"
        return sample
    lines = proc.stdout.strip().splitlines()
    if proc.returncode != 0 or not lines:
        tail = (proc.stderr.strip().splitlines() or ["(no output)"])[-1]
        sample.error = f"exit {proc.returncode}: {tail}"
        return sample
    result = json.loads(lines[-1])
    sample.elapsed = result["elapsed"]
    sample.cpu = result["cpu"]
    sample.requests = result["requests"]
    sample.bytes = result["bytes"]
    sample.maxrss_kib = result["maxrss_kib"]
    sample.server_cpu = result["server_cpu"]
    return sample


def available_clients(wanted: list[str]) -> tuple[list[str], dict[str, str]]:
    ready: list[str] = []
    skipped: dict[str, str] = {}
    for client in wanted:
        proc = subprocess.run(
            [sys.executable, str(CHILD), f"--probe={client}"],
            capture_output=True,
            text=True,
            check=False,
        )
        if proc.returncode == 0:
            ready.append(client)
        else:
            skipped[client] = (proc.stdout + proc.stderr).strip() or f"exit {proc.returncode}"
            print(f"skipping {client}: {skipped[client]}", flush=True)
    return ready, skipped


def run_matrix(args: argparse.Namespace, clients: list[str]) -> list[Sample]:
    rounds = args.rounds or (QUICK if args.quick else FULL)["rounds"]
    samples: list[Sample] = []
    for rnd in range(rounds):
        order = clients[rnd % len(clients) :] + clients[: rnd % len(clients)]
        for scenario in args.only:
            for loop in args.loops:
                for _ in range(REPEATS.get(scenario, 1)):
                    for client in runners(scenario, order):
                        sample = measure_once(args, client, scenario, loop)
                        sample.round = rnd
                        samples.append(sample)
                        print(f"[{rnd + 1}/{rounds}] {sample.describe()}", flush=True)
    return samples


def check_tracing(args: argparse.Namespace) -> list[TracingCheck]:
    """clients.py --check-tracing on each loop (pinned like the measurements)."""
    pin = ["taskset", "-c", args.client_cpu] if args.client_cpu else []
    checks = []
    for loop in args.loops:
        command = [
            *pin,
            sys.executable,
            str(CHILD),
            "--check-tracing",
            f"--loop={loop}",
            f"--url={args.url}",
            f"--count={TRACING_CHECK_REQUESTS}",
        ]
        proc = subprocess.run(
            command, capture_output=True, text=True, timeout=CHILD_TIMEOUT, check=False
        )
        lines = proc.stdout.strip().splitlines()
        if not lines:
            tail = (proc.stderr.strip().splitlines() or ["(no output)"])[-1]
            error = f"exit {proc.returncode}: {tail}"
            checks.append(TracingCheck(loop=loop, ok=False, error=error))
        else:
            result = json.loads(lines[-1])
            checks.append(
                TracingCheck(
                    loop=loop,
                    ok=result["ok"],
                    requests=result["requests"],
                    untraced_calls=result["untraced_calls"],
                    traced_calls=result["traced_calls"],
                )
            )
        print(checks[-1].describe(), flush=True)
    return checks


def _notes(args: argparse.Namespace, clients: list[str]) -> list[str]:
    return [
        f"{client} runs {scenario} with 1/{div} of the requests (its rate is unaffected; see "
        "SCALE_DOWN in bench.py)."
        for (client, scenario), div in SCALE_DOWN.items()
        if client in clients and scenario in args.only
    ] + [
        f"{scenario} is measured {times} times per round for every client, and its medians "
        "and ranges are over all of them (see REPEATS in bench.py)."
        for scenario, times in REPEATS.items()
        if scenario in args.only
    ]


def run(args: argparse.Namespace) -> int:
    started = time.time()
    load_before = os.getloadavg()[0]
    wanted = list(args.clients)
    if "trace" in args.only and "hyperclient" in wanted:
        wanted.append(TRACED)
    if any(s in WS_SCENARIOS for s in args.only) and not args.ws_url:
        print("the WebSocket scenarios need --ws-url", file=sys.stderr)
        return 2
    args.server_pids = ",".join(
        map(str, _with_children([int(p) for p in args.server_pids.split(",") if p]))
    )
    clients, skipped = available_clients(wanted)
    if not clients:
        print("no client can run", file=sys.stderr)
        return 1
    samples = run_matrix(args, clients)
    tracing = check_tracing(args) if "trace" in args.only and TRACED in clients else []
    settings = Settings(
        quick=args.quick,
        rounds=args.rounds or (QUICK if args.quick else FULL)["rounds"],
        sizes=QUICK if args.quick else FULL,
        big_size=args.big_size,
        upload_size=args.upload_size,
        scenarios=args.only,
        loops=args.loops,
        clients=args.clients,
        skipped=skipped,
        client_cpu=args.client_cpu,
        server=args.server,
        measure_seconds=time.time() - started,
        total_seconds=time.time() - args.started if args.started else None,
        load=(load_before, os.getloadavg()[0]),
        notes=_notes(args, clients),
        tracing=tracing,
    )
    text = render(samples, settings)
    print()
    print(text)
    raw = HERE / ".work" / "results" / time.strftime("%Y%m%d-%H%M%S.json")
    raw.parent.mkdir(parents=True, exist_ok=True)
    raw.write_text(json.dumps([asdict(s) for s in samples], indent=1))
    if not args.no_record:
        record(HERE / "RESULTS.md", text)
        print(f"appended to {HERE / 'RESULTS.md'}; raw samples in {raw}")
    failed = any(s.error for s in samples) or any(not c.ok for c in tracing)
    return 1 if failed else 0


def main(argv: list[str]) -> int:
    args = parse_args(argv)
    if args.command == "check":
        problems = check_server(args.url, args.big_size, args.ws_url)
        for problem in problems:
            print(f"server check: {problem}", file=sys.stderr)
        return 1 if problems else 0
    return run(args)


if __name__ == "__main__":
    try:
        sys.exit(main(sys.argv[1:]))
    except KeyboardInterrupt:
        print("interrupted; nothing recorded", file=sys.stderr)
        sys.exit(130)
