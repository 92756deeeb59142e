"""Prometheus metrics, one registry per app (no globals set at import).

Chat metrics are read from each exchange's finished record, the same summary the traffic log
gets, so the two cannot disagree. Counters live in this process: run one uvicorn worker per
container and scale with replicas (Prometheus then scrapes each pod), which is what
`deploy/` does.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
_SECONDS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600)


class Metrics:
    def __init__(self, dropped_records: Callable[[], int] = lambda: 0) -> None:
        self.registry = registry = CollectorRegistry()
        self.requests = Counter(
            "dashscope_proxy_requests_total",
            "Requests answered, by route, model and status.",
            ["route", "model", "status"],
            registry=registry,
        )
        self.first_byte = Histogram(
            "dashscope_proxy_time_to_first_byte_seconds",
            "From a chat request's arrival to its first byte to the client.",
            ["model"],
            buckets=_SECONDS,
            registry=registry,
        )
        self.duration = Histogram(
            "dashscope_proxy_request_duration_seconds",
            "From a chat request's arrival to its end.",
            ["model"],
            buckets=_SECONDS,
            registry=registry,
        )
        self.active = Gauge(
            "dashscope_proxy_active_streams",
            "Chat exchanges in progress.",
            registry=registry,
        )
        self.upstream_errors = Counter(
            "dashscope_proxy_upstream_errors_total",
            "Errors, by DashScope's (or the proxy's) error code.",
            ["code"],
            registry=registry,
        )
        self.retries = Counter(
            "dashscope_proxy_upstream_retries_total",
            "Upstream attempts repeated before the first byte.",
            registry=registry,
        )
        self.tokens = Counter(
            "dashscope_proxy_tokens_total",
            "Tokens, by kind: prompt, completion, reasoning (part of completion), cached.",
            ["model", "kind"],
            registry=registry,
        )
        self.interpreter_runs = Counter(
            "dashscope_proxy_code_interpreter_runs_total",
            "Code-interpreter runs DashScope executed.",
            ["model"],
            registry=registry,
        )
        dropped = Gauge(
            "dashscope_proxy_traffic_records_dropped",
            "Traffic records that could not be queued or written.",
            registry=registry,
        )
        dropped.set_function(lambda: float(dropped_records()))

    def exposition(self) -> bytes:
        return generate_latest(self.registry)

    def route(self, route: str, status: int) -> None:
        self.requests.labels(route, "", str(status)).inc()

    def exchange(self, record: dict[str, Any]) -> None:
        """Everything a finished chat exchange tells, from its record."""
        model = record.get("model") or ""
        self.requests.labels(record["endpoint"], model, str(record["status"])).inc()
        timings = record.get("timings_ms") or {}
        if timings.get("first_byte") is not None:
            self.first_byte.labels(model).observe(timings["first_byte"] / 1000)
        if timings.get("total") is not None:
            self.duration.labels(model).observe(timings["total"] / 1000)
        error = record.get("error")
        if error:
            self.upstream_errors.labels(str(error.get("code") or error.get("type"))).inc()
        self._usage(model, record.get("usage") or {})

    def _usage(self, model: str, usage: dict[str, Any]) -> None:
        counts = {
            "prompt": usage.get("prompt_tokens"),
            "completion": usage.get("completion_tokens"),
            "reasoning": (usage.get("completion_tokens_details") or {}).get("reasoning_tokens"),
            "cached": (usage.get("prompt_tokens_details") or {}).get("cached_tokens"),
        }
        for kind, count in counts.items():
            if count:
                self.tokens.labels(model, kind).inc(count)
        runs = ((usage.get("x_tools") or {}).get("code_interpreter") or {}).get("count")
        if runs:
            self.interpreter_runs.labels(model).inc(runs)
