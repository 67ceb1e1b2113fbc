"""Profile the seq scenario (sequential small GETs on one keep-alive connection) or a WebSocket one.

    bash benchmarks/run.sh profile [--scenario ws-echo] [--client aiohttp] [--loop uvloop]
                                   [--count N] [--top N] [--sort cumulative] [--pyinstrument]

run.sh starts the servers and passes --url and --ws-url. For seq, the first request
(connection set-up) runs before the profiler starts, so the figures are the per-request path
only; a WebSocket scenario's one handshake is inside the profile. The table is sorted by tottime
(time spent in the function itself) by default; the raw profile is saved under
benchmarks/.work/ for other viewers.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

# This file's name is the name of the stdlib module cProfile imports; with this folder first
# on sys.path, `import cProfile` would import this file instead. Import the stdlib ones first.
HERE = Path(__file__).resolve().parent
sys.path[:] = [p for p in sys.path if Path(os.path.abspath(p or ".")) != HERE]
import cProfile  # noqa: E402
import pstats  # noqa: E402

sys.path.insert(0, str(HERE))
import argparse  # noqa: E402
import time  # noqa: E402
from typing import Any  # noqa: E402

from clients import (  # noqa: E402
    CLIENTS,
    DRIVERS,
    LOOPS,
    WS_SCENARIOS,
    Job,
    open_client,
    probe,
    run_on,
)


class Sampler:
    """cProfile, or pyinstrument's statistical profiler when asked for (and installed)."""

    def __init__(self, use_pyinstrument: bool) -> None:
        self._pyinstrument: Any = None
        self._cprofile = cProfile.Profile()
        if use_pyinstrument:
            from pyinstrument import Profiler

            # async_mode="disabled" samples the whole thread, so protocol callbacks that run
            # outside the awaiting task (data_received, timers) are included.
            self._pyinstrument = Profiler(interval=0.0005, async_mode="disabled")

    def start(self) -> None:
        if self._pyinstrument is not None:
            self._pyinstrument.start()
        else:
            self._cprofile.enable()

    def stop(self) -> None:
        if self._pyinstrument is not None:
            self._pyinstrument.stop()
        else:
            self._cprofile.disable()

    def report(self, name: str, sort: str, top: int) -> None:
        out = HERE / ".work" / f"profile-{name}"
        out.parent.mkdir(exist_ok=True)
        if self._pyinstrument is not None:
            print(self._pyinstrument.output_text(unicode=False, color=False, show_all=False))
            out.with_suffix(".html").write_text(self._pyinstrument.output_html())
            print(f"saved {out.with_suffix('.html')}")
            return
        stats = pstats.Stats(self._cprofile)
        stats.sort_stats(sort).print_stats(top)
        stats.dump_stats(out.with_suffix(".prof"))
        print(f"saved {out.with_suffix('.prof')} (python -m pstats, snakeviz, ...)")


async def profile_scenario(client_name: str, job: Job, sampler: Sampler) -> float:
    client = open_client(client_name, job.base_url, job.concurrency, job.scenario)
    try:
        if job.scenario == "seq":
            await client.get(job.base_url + "/small")
        sampler.start()
        start = time.perf_counter()
        await DRIVERS[job.scenario](client, job)
        elapsed = time.perf_counter() - start
        sampler.stop()
    finally:
        await client.close()
    return elapsed


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--url", required=True)
    parser.add_argument("--ws-url", default="")
    parser.add_argument("--scenario", choices=("seq", *WS_SCENARIOS), default="seq")
    parser.add_argument("--client", choices=CLIENTS, default="hyperclient")
    parser.add_argument("--loop", choices=LOOPS, default="asyncio")
    parser.add_argument("--count", type=int, default=10_000)
    parser.add_argument("--top", type=int, default=40)
    parser.add_argument("--sort", default="tottime", help="a pstats sort key")
    parser.add_argument("--pyinstrument", action="store_true")
    args = parser.parse_args(argv)
    reason = probe(args.client)
    if reason:
        print(f"cannot profile {args.client}: {reason}", file=sys.stderr)
        return 1
    job = Job(args.scenario, args.url.rstrip("/"), args.count, 64, 0, 0, ws_url=args.ws_url)
    sampler = Sampler(args.pyinstrument)

    async def go() -> dict[str, Any]:
        return {"elapsed": await profile_scenario(args.client, job, sampler)}

    elapsed = run_on(args.loop, go())["elapsed"]
    sampler.report(f"{args.scenario}-{args.client}-{args.loop}", args.sort, args.top)
    what = "sequential GETs" if args.scenario == "seq" else f"{args.scenario} messages"
    print(
        f"{args.client} on {args.loop}: {args.count:,} {what} in {elapsed:.2f} s under the "
        f"profiler ({args.count / elapsed:,.0f}/s, {elapsed / args.count * 1e6:.1f} us each; "
        "profiling inflates both)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
