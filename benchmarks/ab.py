"""Compare hyperclient at another revision with the working tree, in alternated runs.

    bash benchmarks/run.sh ab REV [--scenario seq] [--loop uvloop] [--pairs 10] [--count N]

This machine moves between fast and slow phases that shift every client by 20-40% for minutes
at a time, so two separate benchmark runs cannot tell a change of a few percent from the
weather. This runs one scenario for hyperclient at REV (``git archive REV src``, put first on
PYTHONPATH) and for the working tree (the bench venv's editable install) in pairs, the order
flipped every pair, and prints both medians and the median of the paired differences: the
figure to put in a commit message. run.sh starts the servers and passes --url and --ws-url.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tarfile
from io import BytesIO
from pathlib import Path

HERE = Path(__file__).resolve().parent
CHILD = HERE / "clients.py"
# A count per scenario that keeps one run near a second or two on this machine.
COUNTS = {
    "seq": 10_000,
    "conc": 20_000,
    "down": 4,
    "up": 32,
    "trace": 10_000,
    "ws-recv": 200_000,
    "ws-echo": 20_000,
    "ws-send": 200_000,
}


def checkout(rev: str) -> Path:
    """The src/ tree of *rev*, extracted once under benchmarks/.work/ab/."""
    sha = subprocess.run(
        ["git", "rev-parse", "--verify", f"{rev}^{{commit}}"],
        cwd=HERE,
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
    target = HERE / ".work" / "ab" / sha[:12]
    if not (target / "src" / "hyperclient").is_dir():
        archive = subprocess.run(
            ["git", "archive", sha, "src"], cwd=HERE.parent, check=True, capture_output=True
        ).stdout
        with tarfile.open(fileobj=BytesIO(archive)) as tar:
            tar.extractall(target, filter="data")
    return target / "src"


def measure(args: argparse.Namespace, src: Path | None) -> tuple[float, float]:
    """Wall and CPU microseconds per unit (request, transfer or message) of one run."""
    env = dict(os.environ)
    if src is not None:
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(src), env.get("PYTHONPATH")]))
    pin = ["taskset", "-c", args.client_cpu] if args.client_cpu else []
    command = [*pin, sys.executable, str(CHILD), "--client=hyperclient"]
    command += [f"--scenario={args.scenario}", f"--loop={args.loop}", f"--url={args.url}"]
    command += [f"--ws-url={args.ws_url}", f"--count={args.count}"]
    done = subprocess.run(command, env=env, check=True, capture_output=True, text=True)
    result = json.loads(done.stdout.strip().splitlines()[-1])
    return result["elapsed"] / args.count * 1e6, result["cpu"] / args.count * 1e6


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("rev", help="the revision to compare the working tree with")
    parser.add_argument("--url", required=True)
    parser.add_argument("--ws-url", default="")
    parser.add_argument("--scenario", default="seq", choices=sorted(COUNTS))
    parser.add_argument("--loop", default="uvloop", choices=("asyncio", "uvloop"))
    parser.add_argument("--pairs", type=int, default=10)
    parser.add_argument("--count", type=int, help="units per run (default: per scenario)")
    parser.add_argument("--client-cpu", default="0")
    args = parser.parse_args(argv)
    args.count = args.count or COUNTS[args.scenario]
    base_src = checkout(args.rev)
    base: list[tuple[float, float]] = []
    work: list[tuple[float, float]] = []
    for pair in range(args.pairs):
        order = [(base, base_src), (work, None)]
        for samples, src in order if pair % 2 == 0 else reversed(order):
            samples.append(measure(args, src))
        print(
            f"[{pair + 1}/{args.pairs}] {args.rev} {base[-1][0]:,.1f} us, "
            f"working tree {work[-1][0]:,.1f} us",
            flush=True,
        )
    diffs = [w[0] - b[0] for b, w in zip(base, work, strict=True)]
    slower = sum(d > 0 for d in diffs)
    print(
        f"{args.scenario} on {args.loop}, us per unit (median of {args.pairs}): "
        f"{args.rev} {statistics.median(b[0] for b in base):,.1f} wall "
        f"({statistics.median(b[1] for b in base):,.1f} CPU), working tree "
        f"{statistics.median(w[0] for w in work):,.1f} wall "
        f"({statistics.median(w[1] for w in work):,.1f} CPU); paired difference "
        f"{statistics.median(diffs):+,.1f} us, working tree slower in {slower} of {len(diffs)}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
