"""`python -m bench [--quick]`: run every scenario and write bench/results/ (and the docs table).

See docs/benchmarks.md for the method. The default run takes about 8 minutes on a 2-core
machine, `--quick` about 2.5; both stop by themselves.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from bench.profiles import FULL, PROFILES, QUICK
from bench.report import write_outputs
from bench.run import ROOT, Options, execute


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="about 2.5 minutes, fewer samples")
    parser.add_argument("--profile", choices=sorted(PROFILES), help="explicit sizes (smoke: tests)")
    parser.add_argument("--no-litellm", action="store_true", help="skip the LiteLLM arm")
    parser.add_argument("--no-pin", action="store_true", help="do not pin processes to cores")
    parser.add_argument("--no-traffic-log-arm", action="store_true", help="skip that extra arm")
    parser.add_argument("--no-scaling", action="store_true", help="skip the 1-vs-2 workers run")
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results")
    parser.add_argument("--work", type=Path, default=ROOT / "bench" / ".work" / "run")
    parser.add_argument(
        "--docs",
        default=str(ROOT / "docs" / "benchmarks.md"),
        help="rewrite this file's marked results section ('' for none)",
    )
    return parser


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    profile = PROFILES[args.profile] if args.profile else (QUICK if args.quick else FULL)
    options = Options(
        profile=profile,
        work=args.work.resolve(),
        litellm=not args.no_litellm,
        pin=not args.no_pin,
        traffic_log_arm=not args.no_traffic_log_arm,
        scaling=not args.no_scaling,
    )
    results = execute(options)
    docs = Path(args.docs) if args.docs else None
    derived = write_outputs(results, args.out, docs)
    print((args.out / "table.md").read_text(encoding="utf-8"))
    missed = [t["target"] for t in derived["targets"] if t["met"] is False]
    if missed:
        print(f"targets missed: {', '.join(missed)}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
