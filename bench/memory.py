"""`python -m bench.memory`: only the memory scenario of `python -m bench` (1000 open slow
streams against a fresh proxy), for A/B runs of a change; prints the figures as JSON."""

from __future__ import annotations

import argparse
import sys

import orjson

from bench.profiles import FULL, QUICK
from bench.run import ROOT, Options, Run, memory


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.memory", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="the quick profile's shorter streams")
    args = parser.parse_args(argv)
    work = ROOT / "bench" / ".work" / "memory"
    work.mkdir(parents=True, exist_ok=True)
    run = Run(Options(profile=QUICK if args.quick else FULL, work=work, litellm=False))
    try:
        run.start_upstream()
        result = memory(run)
    finally:
        run.stop_all()
    result.pop("summary", None)
    sys.stdout.write(orjson.dumps(result, option=orjson.OPT_INDENT_2).decode() + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
