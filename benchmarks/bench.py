"""Benchmark driver, started by run.sh inside benchmarks/.work/venv with nginx already up.

    bench.py check --url URL --big-size N    is the server serving what the scenarios expect?
    bench.py run --url URL [--quick] [--only seq,conc] [--clients ...] [--loops ...]

`run` starts one subprocess per measurement (clients.py, pinned to the client CPU), repeats the
whole matrix for several rounds with the client order rotated each round so that no client
always runs first or last, then prints medians and ratios against aiohttp and appends them to
RESULTS.md (report.py).
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

from clients import CLIENTS, LOOPS, SCENARIOS
from report import Sample, Settings, record, render

HERE = Path(__file__).resolve().parent
CHILD = HERE / "clients.py"
CHILD_TIMEOUT = 180.0
MIB = 1024 * 1024

# Requests (seq, conc) or transfers (down, up) per measurement, and rounds.
FULL = {"seq": 10_000, "conc": 50_000, "down": 10, "up": 32, "rounds": 5}
QUICK = {"seq": 2_000, "conc": 10_000, "down": 2, "up": 8, "rounds": 3}
# httpx is several times slower than the others on small requests, and its pool slows down
# sharply with many requests in flight (under 200 req/s at 64 on this machine, against
# thousands): at full size it alone would take half of the time budget. It runs a fraction of
# the requests in those scenarios; rates, not counts, are compared.
SCALE_DOWN = {("httpx", "seq"): 4, ("httpx", "conc"): 50}


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
        cmd.add_argument("--big-size", type=int, default=100 * MIB)
    run.add_argument("--quick", action="store_true", help="smaller runs for a smoke check")
    run.add_argument("--only", type=_csv(SCENARIOS), default=list(SCENARIOS))
    run.add_argument("--clients", type=_csv(CLIENTS), default=list(CLIENTS))
    run.add_argument("--loops", type=_csv(LOOPS), default=list(LOOPS))
    run.add_argument("--rounds", type=int, help="override the number of rounds")
    run.add_argument("--upload-size", type=int, default=16 * MIB)
    run.add_argument("--client-cpu", default="", help="CPU list for taskset; empty: no pinning")
    run.add_argument("--server", default="nginx", help="server description for the record")
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


def check_server(base_url: str, big_size: int) -> list[str]:
    """Problems with the server, empty when it is fit to measure against."""
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


# --- run ---------------------------------------------------------------------------------------


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
                for client in order:
                    sample = measure_once(args, client, scenario, loop)
                    sample.round = rnd
                    samples.append(sample)
                    print(f"[{rnd + 1}/{rounds}] {sample.describe()}", flush=True)
    return samples


def _notes(args: argparse.Namespace, clients: list[str]) -> list[str]:
    return [
        f"{client} runs {scenario} with 1/{div} of the requests (its rate is unaffected; see "
        "SCALE_DOWN in bench.py)."
        for (client, scenario), div in SCALE_DOWN.items()
        if client in clients and scenario in args.only
    ]


def run(args: argparse.Namespace) -> int:
    started = time.time()
    load_before = os.getloadavg()[0]
    clients, skipped = available_clients(args.clients)
    if not clients:
        print("no client can run", file=sys.stderr)
        return 1
    samples = run_matrix(args, clients)
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
    return 1 if any(s.error for s in samples) else 0


def main(argv: list[str]) -> int:
    args = parse_args(argv)
    if args.command == "check":
        problems = check_server(args.url, args.big_size)
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
