"""Medians, ratios against aiohttp, the issues' targets, and the RESULTS.md record."""

from __future__ import annotations

import importlib.metadata
import os
import platform
import statistics
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

MIB = 1024 * 1024
REPO = Path(__file__).resolve().parent.parent
UNITS = {
    "seq": "req/s",
    "conc": "req/s",
    "down": "MiB/s",
    "up": "MiB/s",
    "ws-recv": "msg/s",
    "ws-echo": "msg/s",
    "ws-send": "msg/s",
    "trace": "req/s",
}
# hyperclient's throughput over aiohttp's, on both loops: issue 2 ("Performance") for HTTP,
# issue 5 for WebSockets.
TARGETS = {
    "seq": 1.3,
    "conc": 2.0,
    "down": 1.25,
    "up": 1.4,
    "ws-recv": 1.5,
    "ws-echo": 1.1,
    "ws-send": 1.5,
}
# What one measurement is, for the header of a section.
SIZES = {
    "seq": "{:,} sequential GETs",
    "conc": "{:,} GETs from 64 tasks",
    "down": "{} x {big} MiB downloads",
    "up": "{} x {upload} MiB uploads",
    "ws-recv": "{:,} pushed 64-byte messages",
    "ws-echo": "{:,} 64-byte echo round trips",
    "ws-send": "{:,} 64-byte messages sent, then the close handshake",
    "trace": "{:,} sequential GETs",
}
BASELINE = "aiohttp"
SUBJECT = "hyperclient"
TRACED = "traced"
RESULTS_PREAMBLE = """\
# Benchmark results

Every run of `bash benchmarks/run.sh` appends a section here, newest last (see README.md in
this folder for what each scenario does). Throughput cells are medians over the rounds, then
the ratio to aiohttp's median in the same run, then the half-range of the rounds as a share of
the median (a rough noise figure). Sections from the CPU-time change on also give throughput
per CPU-second of the client process, which other work on the machine disturbs less. RSS is
each client process's peak resident memory (MiB). Notes under a section are written by hand.
"""


@dataclass(slots=True)
class Sample:
    client: str
    scenario: str
    loop: str
    round: int = 0
    elapsed: float = 0.0
    cpu: float = 0.0
    requests: int = 0
    bytes: int = 0
    maxrss_kib: int = 0
    server_cpu: float = 0.0
    error: str = ""

    @property
    def amount(self) -> float:
        """Requests or messages for counting scenarios, MiB for MiB/s ones."""
        return self.bytes / MIB if UNITS[self.scenario] == "MiB/s" else self.requests

    @property
    def server_share(self) -> float:
        """The server's CPU time over the measured wall time (1.0: one core fully busy)."""
        return self.server_cpu / self.elapsed

    @property
    def throughput(self) -> float:
        return self.amount / self.elapsed

    @property
    def cpu_throughput(self) -> float:
        return self.amount / max(self.cpu, 1e-9)

    @property
    def rss_mib(self) -> float:
        return self.maxrss_kib / 1024

    def describe(self) -> str:
        what = f"{self.scenario:<7} {self.loop:<7} {self.client:<11}"
        if self.error:
            return f"{what} FAILED {self.error}"
        return (
            f"{what} {self.throughput:>9,.0f} {UNITS[self.scenario]}"
            f"  cpu {self.cpu:5.2f} s  rss {self.rss_mib:6.1f} MiB  ({self.elapsed:.2f} s)"
            f"  server cpu {self.server_share:4.0%}"
        )


@dataclass(slots=True)
class TracingCheck:
    """clients.py --check-tracing on one loop: no tracing.py function on the request path."""

    loop: str
    ok: bool
    requests: int = 0
    untraced_calls: dict[str, int] = field(default_factory=dict)
    traced_calls: int = 0
    error: str = ""

    def describe(self) -> str:
        verdict = "PASS" if self.ok else "FAIL"
        if self.error:
            return f"tracing check on {self.loop}: {verdict} ({self.error})"
        seen = (
            "no function of hyperclient/tracing.py ran"
            if not self.untraced_calls
            else "tracing.py ran: "
            + ", ".join(f"{name} x{n}" for name, n in sorted(self.untraced_calls.items()))
        )
        return (
            f"tracing check on {self.loop}: {verdict}: {self.requests} GETs without "
            f"trace_configs under sys.setprofile, {seen} (control: with a listening TraceConfig, "
            f"{self.traced_calls:,} calls into it were seen)"
        )


@dataclass(slots=True)
class Settings:
    quick: bool
    rounds: int
    sizes: dict[str, int]
    big_size: int
    upload_size: int
    scenarios: list[str]
    loops: list[str]
    clients: list[str]
    skipped: dict[str, str] = field(default_factory=dict)
    client_cpu: str = ""
    server: str = "nginx"
    measure_seconds: float = 0.0
    total_seconds: float | None = None
    load: tuple[float, float] = (0.0, 0.0)
    notes: list[str] = field(default_factory=list)
    tracing: list[TracingCheck] = field(default_factory=list)

    @property
    def compared(self) -> list[str]:
        """The scenarios of the tables against aiohttp (trace has its own section)."""
        return [s for s in self.scenarios if s in TARGETS]


@dataclass(slots=True)
class Cell:
    """One client's figures for one scenario on one loop, one entry per successful round."""

    wall: list[float] = field(default_factory=list)
    cpu: list[float] = field(default_factory=list)
    rss: list[float] = field(default_factory=list)
    server: list[float] = field(default_factory=list)
    failures: int = 0


Key = tuple[str, str, str]
Pick = Callable[[Cell], list[float]]


def _cells(samples: list[Sample]) -> dict[Key, Cell]:
    cells: dict[Key, Cell] = {}
    for s in samples:
        cell = cells.setdefault((s.scenario, s.loop, s.client), Cell())
        if s.error:
            cell.failures += 1
        else:
            cell.wall.append(s.throughput)
            cell.cpu.append(s.cpu_throughput)
            cell.rss.append(s.rss_mib)
            cell.server.append(s.server_share)
    return cells


def _table(header: list[str], rows: list[list[str]]) -> list[str]:
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]

    def line(cells: list[str]) -> str:
        return "| " + " | ".join(c.ljust(w) for c, w in zip(cells, widths, strict=True)) + " |"

    return [line(header), "|" + "|".join("-" * (w + 2) for w in widths) + "|", *map(line, rows)]


def _missing(cell: Cell | None, client: str, st: Settings) -> str:
    if client in st.skipped:
        return "skipped"
    return "failed" if cell is not None else "-"


def _figure(values: list[float], base: list[float], failures: int) -> str:
    median = statistics.median(values)
    text = f"{median:,.0f}"
    if base:
        text += f" ({median / statistics.median(base):.2f}x)"
    text += f" ±{(max(values) - min(values)) / 2 / median * 100:.0f}%"
    return text + (f", {failures} failed" if failures else "")


def _verdict(ok: bool | None, detail: str) -> str:
    if ok is None:
        return "n/a"
    return "met" if ok else f"NOT met ({detail})"


def _columns(cells: dict[Key, Cell], st: Settings) -> list[str]:
    """The clients with a figure in the compared scenarios (httpx has no WebSocket)."""
    return [
        client
        for client in st.clients
        if client in st.skipped
        or any((sc, loop, client) in cells for sc in st.compared for loop in st.loops)
    ]


def _row_cells(
    cells: dict[Key, Cell], st: Settings, key: tuple[str, str], columns: list[str], pick: Pick
) -> list[str]:
    scenario, loop = key
    base = cells.get((scenario, loop, BASELINE))
    base_values = pick(base) if base else []
    out = []
    for client in columns:
        cell = cells.get((scenario, loop, client))
        values = pick(cell) if cell else []
        out.append(
            _figure(values, base_values, cell.failures)
            if cell and values
            else _missing(cell, client, st)
        )
    return out


def _ratio_rows(
    cells: dict[Key, Cell], st: Settings, columns: list[str], pick: Pick
) -> list[list[str]]:
    rows = []
    for scenario in st.compared:
        for loop in st.loops:
            row = [
                f"{scenario} ({UNITS[scenario]})",
                loop,
                *_row_cells(cells, st, (scenario, loop), columns, pick),
            ]
            subject, base = (
                cells.get((scenario, loop, SUBJECT)),
                cells.get((scenario, loop, BASELINE)),
            )
            ok: bool | None = None
            ratio = 0.0
            if subject and base and pick(subject) and pick(base):
                ratio = statistics.median(pick(subject)) / statistics.median(pick(base))
                ok = ratio >= TARGETS[scenario]
            rows.append([*row, f">= {TARGETS[scenario]}x", _verdict(ok, f"{ratio:.2f}x")])
    return rows


def _median_rows(
    cells: dict[Key, Cell], st: Settings, columns: list[str], pick: Pick, fmt: str
) -> list[list[str]]:
    rows = []
    for scenario in st.compared:
        for loop in st.loops:
            row = [scenario, loop]
            for client in columns:
                cell = cells.get((scenario, loop, client))
                values = pick(cell) if cell else []
                row.append(
                    format(statistics.median(values), fmt) if values else _missing(cell, client, st)
                )
            rows.append(row)
    return rows


def _rss_rows(cells: dict[Key, Cell], st: Settings, columns: list[str]) -> list[list[str]]:
    rows = []
    for row in _median_rows(cells, st, columns, lambda c: c.rss, ".1f"):
        scenario, loop = row[:2]
        subject, base = cells.get((scenario, loop, SUBJECT)), cells.get((scenario, loop, BASELINE))
        ok: bool | None = None
        if subject and subject.rss and base and base.rss:
            ok = statistics.median(subject.rss) <= statistics.median(base.rss)
        rows.append([*row, "<= aiohttp", _verdict(ok, "more")])
    return rows


def _tracing_section(cells: dict[Key, Cell], st: Settings) -> list[str]:
    """Issue 3: what a listening TraceConfig costs, and that no trace_configs costs nothing."""
    if "trace" not in st.scenarios:
        return []
    head = ["loop", "no trace_configs", "one listening config", "change", "per request"]
    tables: list[str] = []
    for title, pick in (("wall time", _wall), ("per CPU-second", _cpu)):
        rows = []
        for loop in st.loops:
            plain, traced = cells.get(("trace", loop, SUBJECT)), cells.get(("trace", loop, TRACED))
            if not (plain and traced and pick(plain) and pick(traced)):
                rows.append([loop, "-", "-", "-", "-"])
                continue
            a, b = statistics.median(pick(plain)), statistics.median(pick(traced))
            rows.append(
                [
                    loop,
                    f"{a:,.0f} req/s ±{_spread(pick(plain)):.0f}%",
                    f"{b:,.0f} req/s ±{_spread(pick(traced)):.0f}%",
                    f"{(b / a - 1) * 100:+.1f}%",
                    f"{(1 / b - 1 / a) * 1e6:+.1f} us",
                ]
            )
        tables += ["", f"{title}:", "", *_table(head, rows)]
    checks = [f"- {check.describe()}" for check in st.tracing] or ["- tracing check not run"]
    return [
        "",
        "Tracing (issue 3): hyperclient's seq with no trace_configs against the same with",
        "one TraceConfig with a do-nothing on_request_end handler, in the same rounds:",
        *tables,
        "",
        *checks,
    ]


def _wall(cell: Cell) -> list[float]:
    return cell.wall


def _cpu(cell: Cell) -> list[float]:
    return cell.cpu


def _spread(values: list[float]) -> float:
    return (max(values) - min(values)) / 2 / statistics.median(values) * 100


def _version(dist: str) -> str:
    try:
        return importlib.metadata.version(dist)
    except importlib.metadata.PackageNotFoundError:
        return "not installed"


def _git_commit() -> str:
    def git(*args: str) -> str:
        proc = subprocess.run(["git", "-C", str(REPO), *args], capture_output=True, text=True)
        return proc.stdout.strip()

    commit = git("rev-parse", "--short", "HEAD") or "unknown"
    return commit + (
        " + uncommitted changes in src/" if git("status", "--porcelain", "src") else ""
    )


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def _duration(seconds: float) -> str:
    minutes, secs = divmod(round(seconds), 60)
    return f"{minutes} min {secs:02d} s" if minutes else f"{secs} s"


def _sizes(st: Settings) -> str:
    return "; ".join(
        f"{scenario} "
        + SIZES[scenario].format(
            st.sizes[scenario], big=st.big_size // MIB, upload=st.upload_size // MIB
        )
        for scenario in st.scenarios
    )


def _header(st: Settings) -> list[str]:
    kind = "quick run (--quick)" if st.quick else "full run"
    if set(st.scenarios) != set(UNITS):
        kind += f", only {', '.join(st.scenarios)}"
    took = f"measurements {_duration(st.measure_seconds)}"
    if st.total_seconds is not None:
        took += f", whole command {_duration(st.total_seconds)} (including set-up)"
    pinning = (
        f"clients pinned to CPU {st.client_cpu}, server on the other core"
        if st.client_cpu
        else "nothing pinned"
    )
    return [
        f"## {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}: {kind}",
        "",
        f"- Machine: {_cpu_model()}, Linux {platform.release()}; {pinning}; server {st.server}.",
        f"- Python {platform.python_version()}, aiohttp {_version('aiohttp')}, httpx "
        f"{_version('httpx')}, uvloop {_version('uvloop')}, hyperclient {_git_commit()}.",
        f"- Sizes: {_sizes(st)}; {st.rounds} rounds, clients interleaved.",
        f"- Took: {took}.",
        f"- Load average (1 min) before and after: {st.load[0]:.2f}, {st.load[1]:.2f} on "
        f"{os.cpu_count()} CPUs (well above 1 means other work shared the machine).",
        *(f"- {note}" for note in st.notes),
    ]


def render(samples: list[Sample], st: Settings) -> str:
    cells = _cells(samples)
    lines = _header(st)
    if st.compared:
        lines += _compared(cells, st)
    lines += _tracing_section(cells, st)
    notes = [f"- {client} skipped: {why}" for client, why in st.skipped.items()]
    seen: set[tuple[str, str, str]] = set()
    for s in samples:
        if s.error and (s.client, s.scenario, s.loop) not in seen:
            seen.add((s.client, s.scenario, s.loop))
            notes.append(f"- {s.client} failed {s.scenario} on {s.loop}: {s.error}")
    if notes:
        lines += ["", *notes]
    return "\n".join(lines) + "\n"


def _compared(cells: dict[Key, Cell], st: Settings) -> list[str]:
    columns = _columns(cells, st)
    head = ["scenario", "loop", *columns, "target", "hyperclient"]
    lines = ["", "Throughput (median, ratio to aiohttp, ± half-range of the rounds):", ""]
    lines += _table(head, _ratio_rows(cells, st, columns, _wall))
    lines += [
        "",
        "Throughput per CPU-second of the client process (the client's own cost; less",
        "disturbed than wall time by other work on the machine, same targets applied):",
        "",
    ]
    lines += _table(head, _ratio_rows(cells, st, columns, _cpu))
    lines += ["", "Peak RSS of the client process (MiB, median):", ""]
    lines += _table(head, _rss_rows(cells, st, columns))
    lines += [
        "",
        "CPU time of the server over the measured wall time (median; 100% is one core, and",
        "a figure near it would mean the server, not the client, set the pace):",
        "",
    ]
    rows = _median_rows(cells, st, columns, lambda c: [v * 100 for v in c.server], ".0f")
    lines += _table(["scenario", "loop", *columns], [_percent(row) for row in rows])
    return lines


def _percent(row: list[str]) -> list[str]:
    return [*row[:2], *(v + "%" if v[:1].isdigit() else v for v in row[2:])]


def record(path: Path, text: str) -> None:
    existing = path.read_text() if path.exists() else RESULTS_PREAMBLE
    path.write_text(existing.rstrip("\n") + "\n\n" + text)
