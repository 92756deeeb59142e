"""Summaries of samples: the percentiles every table in the report is made of."""

from __future__ import annotations

import math
from collections.abc import Sequence


def percentile(samples: Sequence[float], q: float) -> float:
    """Nearest-rank percentile (q in 0..100) of unsorted samples; NaN when there are none."""
    if not samples:
        return math.nan
    ordered = sorted(samples)
    rank = max(1, math.ceil(q / 100 * len(ordered)))
    return ordered[rank - 1]


def summary_ms(samples: Sequence[float]) -> dict[str, float]:
    """p50/p95/p99/mean/max of samples in seconds, in milliseconds."""
    if not samples:
        return {"n": 0}
    ordered = sorted(samples)
    result: dict[str, float] = {"n": len(ordered)}
    for q in (50, 95, 99):
        result[f"p{q}"] = round(percentile(ordered, q) * 1000, 4)
    result["mean"] = round(sum(ordered) / len(ordered) * 1000, 4)
    result["max"] = round(ordered[-1] * 1000, 4)
    return result
