"""Counts, error rates, latency percentiles and token totals over traffic records (pure)."""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable, Sequence
from typing import Any

from proxy.inspect.query import (
    Record,
    is_error,
    status_of,
    text,
    timing,
    usage_of,
)

PERCENTILES = (50, 95, 99)
NO_MODEL = "(none)"


def percentile(values: Sequence[float], q: float) -> float | None:
    """The nearest-rank percentile: the smallest value with at least q% of values at or below
    it (p50 of 1..100 is 50, p99 is 99). None for no values."""
    if not values:
        return None
    if not 0 < q <= 100:
        raise ValueError("a percentile is above 0 and at most 100")
    ordered = sorted(values)
    rank = math.ceil(q / 100 * len(ordered))
    return ordered[max(rank, 1) - 1]


def error_key(record: Record) -> str:
    """How an error is counted: DashScope's or the proxy's code, else `cancelled` (the client
    left), else the HTTP status."""
    error = record.get("error")
    code = text(error.get("code")) if isinstance(error, dict) else ""
    if code:
        return code
    if record.get("outcome") == "cancelled":
        return "cancelled"
    status = status_of(record)
    if status is not None and status >= 400:
        return f"HTTP {status}"
    return text(record.get("outcome")) or "unknown"


def _latency(values: list[float]) -> dict[str, Any]:
    summary: dict[str, Any] = {f"p{q}": percentile(values, q) for q in PERCENTILES}
    summary["count"] = len(values)
    return summary


def _group(records: Sequence[Record]) -> dict[str, Any]:
    errors = [r for r in records if is_error(r)]
    usages = [usage_of(r) for r in records]
    codes = Counter(error_key(r) for r in errors)
    first_byte = [v for r in records if (v := timing(r, "first_byte")) is not None]
    total = [v for r in records if (v := timing(r, "total")) is not None]
    count = len(records)
    return {
        "exchanges": count,
        "errors": len(errors),
        "error_rate": len(errors) / count if count else 0.0,
        "errors_by_code": {
            code: {"count": n, "rate": n / count} for code, n in codes.most_common()
        },
        "outcomes": dict(Counter(text(r.get("outcome")) or "unknown" for r in records)),
        "first_byte_ms": _latency(first_byte),
        "total_ms": _latency(total),
        "tokens": {
            "prompt": sum(u.prompt or 0 for u in usages),
            "completion": sum(u.completion or 0 for u in usages),
            "reasoning": sum(u.reasoning or 0 for u in usages),
        },
        "interpreter_runs": sum(u.runs for u in usages),
    }


def compute_stats(records: Iterable[Record]) -> dict[str, Any]:
    """`overall` and one group per model (most used first), each with the same fields."""
    chosen = list(records)
    by_model: dict[str, list[Record]] = {}
    for record in chosen:
        by_model.setdefault(text(record.get("model")) or NO_MODEL, []).append(record)
    ordered = sorted(by_model.items(), key=lambda item: (-len(item[1]), item[0]))
    return {
        "overall": _group(chosen),
        "models": {model: _group(group) for model, group in ordered},
    }
