"""`python -m bench.loops`: the proxy on each event loop, as two arms of one level of the full
run, so that both meet the same load, the same simulator and the same drift.

    python -m bench.loops --concurrency 256 --times 4

Starts the simulator and two proxies, one with `[server] loop = "asyncio"`, one with
`"uvloop"` (both with the raised upstream pool at c=256, as the full run's proxy there), then
runs the level `--times` times, the two proxies' order alternating, with the direct arm as
the floor. Prints, per run and arm, the added time to first byte (p50, p99), the CPU per
request and the most steal in a round. Results go to the console only: a level alone is no
reference run.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from typing import Any

from bench import arms
from bench.profiles import FULL
from bench.run import ROOT, WIDE_CONFIG, Options, Run, _level

LOOPS = ("asyncio", "uvloop")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.loops", description=__doc__)
    levels = sorted(level.concurrency for level in FULL.levels)
    parser.add_argument("--concurrency", type=int, choices=levels, default=256)
    parser.add_argument("--times", type=int, default=4)
    args = parser.parse_args(argv)
    [level] = [level for level in FULL.levels if level.concurrency == args.concurrency]
    run = Run(Options(profile=FULL, work=ROOT / "bench" / ".work" / "loops", litellm=False))
    wide = WIDE_CONFIG if args.concurrency > 200 else {}
    try:
        run.start_upstream()
        proxies = {
            loop: run.start_proxy(f"proxy-{loop}", {**wide, "server.loop": f'"{loop}"'})
            for loop in LOOPS
        }
        pids = {loop: child.pid for loop, (child, _) in proxies.items()}
        for n in range(args.times):
            order = LOOPS if n % 2 == 0 else LOOPS[::-1]
            specs = [arms.direct(run.upstream_port)]
            specs += [arms.proxy(proxies[loop][1], name=loop) for loop in order]
            result = _level(run, level, specs, pids)
            for name in ("direct", *LOOPS):
                sys.stdout.write(_line(n, name, result["arms"][name]) + "\n")
    finally:
        run.stop_all()
    return 0


def _line(n: int, name: str, arm: dict[str, Any]) -> str:
    ttfb = arm["ttfb_ms"]
    steal = max((r.get("steal_share") or 0.0) for r in arm["rounds"])
    return (
        f"run {n + 1} {name:8} TTFB p50 {ttfb.get('p50'):8.2f} p99 {ttfb.get('p99'):8.2f} ms"
        f"  CPU {arm.get('arm_cpu_ms_per_request') or 0:5.2f} ms/request  steal {steal:.0%}"
    )


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
