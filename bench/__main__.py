"""`python -m bench [--quick]`: run every scenario and write bench/results/ (and the docs table).

See docs/benchmarks.md for the method. The default run takes 9 to 15 minutes on a 2-core
machine, `--quick` about 3; both stop by themselves. A noisy run (other work took more than
10% of the CPU) replaces neither bench/results/ nor the docs table unless `--allow-noisy`.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from bench.noise import NOISY_SHARE
from bench.profiles import FULL, PROFILES, QUICK
from bench.report import NOISY_REFUSAL, write_outputs
from bench.run import ROOT, Options, execute

PUBLISHED = ROOT / "bench" / "results"


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="about 3 minutes, fewer samples")
    parser.add_argument("--profile", choices=sorted(PROFILES), help="explicit sizes (smoke: tests)")
    parser.add_argument("--no-litellm", action="store_true", help="skip the LiteLLM arm")
    parser.add_argument("--no-pin", action="store_true", help="do not pin processes to cores")
    parser.add_argument("--no-traffic-log-arm", action="store_true", help="skip that extra arm")
    parser.add_argument("--no-scaling", action="store_true", help="skip the 1-vs-2 workers run")
    parser.add_argument("--out", type=Path, default=PUBLISHED)
    parser.add_argument("--work", type=Path, default=ROOT / "bench" / ".work" / "run")
    parser.add_argument(
        "--docs",
        default=str(ROOT / "docs" / "benchmarks.md"),
        help="rewrite this file's marked results section ('' for none)",
    )
    parser.add_argument(
        "--allow-noisy",
        action="store_true",
        help=f"write a run during which other work used over {NOISY_SHARE * 100:.0f} %% of the CPU "
        "into bench/results/ and the docs too (it stays marked as noisy)",
    )
    return parser


def destinations(args: argparse.Namespace, noisy: bool) -> tuple[Path, Path | None, bool]:
    """Where a run's outputs go, and whether a noisy run was kept from the published ones:
    then they go to the work directory instead, so the run is not lost."""
    out, docs = args.out.resolve(), Path(args.docs) if args.docs else None
    if not noisy or args.allow_noisy:
        return out, docs, False
    refused = [str(path) for path in (docs,) if path is not None]
    if out == PUBLISHED.resolve():
        refused.append(str(args.out))
        out = args.work.resolve() / "noisy-results"
    if refused:
        what = " nor ".join(refused)
        print(NOISY_REFUSAL.format(share=NOISY_SHARE, what=what), file=sys.stderr)
        print(f"results written to {out}", file=sys.stderr)
    return out, None, bool(refused)


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
    out, docs, refused = destinations(args, bool(results["noisy"]))
    derived = write_outputs(results, out, docs)
    print((out / "table.md").read_text(encoding="utf-8"))
    missed = [t["target"] for t in derived["targets"] if t["met"] is False]
    if missed:
        print(f"targets missed: {', '.join(missed)}", file=sys.stderr)
    return 1 if refused else 0


if __name__ == "__main__":
    sys.exit(main())
