"""Counts, error rates, latency percentiles and token totals over traffic records (pure)."""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from decimal import Decimal
from typing import Any

from proxy.inspect.query import (
    Record,
    cost_of,
    is_error,
    key_label,
    status_of,
    text,
    timing,
    usage_of,
)

PERCENTILES = (50, 95, 99)
NO_MODEL = "(none)"
NO_KEY = "(none)"


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
        "cost": _costs(records),
    }


def _costs(records: Sequence[Record]) -> dict[str, str]:
    """The recorded costs summed per currency, exactly (decimal strings, as records keep
    them); exchanges without a cost add nothing."""
    totals: dict[str, Decimal] = {}
    for record in records:
        cost = cost_of(record)
        if cost is not None:
            totals[cost[1]] = totals.get(cost[1], Decimal(0)) + cost[0]
    return {currency: str(total) for currency, total in sorted(totals.items())}


def compute_stats(records: Iterable[Record]) -> dict[str, Any]:
    """`overall`, one group per model and one per proxy key (most used first; `keys` only when
    some exchange was made with a proxy key), each with the same fields."""
    chosen = list(records)
    stats = {
        "overall": _group(chosen),
        "models": _groups(chosen, lambda r: text(r.get("model")) or NO_MODEL),
    }
    if any(key_label(r) for r in chosen):
        stats["keys"] = _groups(chosen, lambda r: key_label(r) or NO_KEY)
    return stats


def _groups(records: list[Record], label: Callable[[Record], str]) -> dict[str, Any]:
    grouped: dict[str, list[Record]] = {}
    for record in records:
        grouped.setdefault(label(record), []).append(record)
    ordered = sorted(grouped.items(), key=lambda item: (-len(item[1]), item[0]))
    return {name: _group(group) for name, group in ordered}
