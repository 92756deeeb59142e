"""Prometheus metrics, one registry per app (no globals set at import).

Every response is counted in one place (`proxy/server/observe.py`, around the whole app), so a
401, a 413 or a 404 is counted like an answer. Exchange metrics (timings, tokens, errors) are
read from each exchange's finished record, the same summary the traffic log gets, so the two
cannot disagree. Label values come from closed sets only: route templates, the served models
(anything else is `other`), status codes, error codes of bounded length, currencies, and the
configured proxy keys by name or fingerprint (`""` when clients bring their own DashScope key).

Counters live in this process: run one uvicorn worker per container and scale with replicas
(Prometheus then scrapes each pod), which is what `deploy/` does.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

from proxy.core.errors import POOL_FULL
from proxy.core.events import Usage
from proxy.core.key_identity import KeyIdentity
from proxy.traffic.record import FinishedExchange

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
_SECONDS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600)


OTHER = "other"
_MAX_CODE = 64  # error codes are DashScope's or ours; a longer one is not a code


class Metrics:
    def __init__(
        self,
        dropped_records: Callable[[], int] = lambda: 0,
        models: Iterable[str] = (),
        keys: Iterable[str] = (),
    ) -> None:
        self._models = frozenset(models)
        self._keys = frozenset(keys)
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
        self.pool_full = _pool_full(registry)
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
        self._dropped(dropped_records)
        self._by_key()

    def _by_key(self) -> None:
        self.key_exchanges = Counter(
            "dashscope_proxy_key_exchanges_total",
            "Exchanges, by the proxy key that made them and the model.",
            ["key", "model"],
            registry=self.registry,
        )
        self.cost = Counter(
            "dashscope_proxy_cost_total",
            "What exchanges cost at the model table's prices, in the region's currency.",
            ["model", "currency", "key"],
            registry=self.registry,
        )

    def _dropped(self, dropped_records: Callable[[], int]) -> None:
        dropped = Gauge(
            "dashscope_proxy_traffic_records_dropped",
            "Traffic records that could not be queued or written.",
            registry=self.registry,
        )
        dropped.set_function(lambda: float(dropped_records()))

    def exposition(self) -> bytes:
        return generate_latest(self.registry)

    def model_label(self, model: object) -> str:
        """A client chooses the model name: only the served ones become label values."""
        if not model:
            return ""
        return model if isinstance(model, str) and model in self._models else OTHER

    def response(self, route: str, model: object, status: int) -> None:
        """One response of any route; `route` is a route template (or `other`)."""
        self.requests.labels(route, self.model_label(model), str(status)).inc()

    def key_label(self, key: KeyIdentity | None) -> str:
        if key is None:
            return ""
        return key.label if key.label in self._keys else OTHER

    def exchange(self, finished: FinishedExchange) -> None:
        """Everything else a finished exchange tells, from its typed summary."""
        model = self.model_label(finished.model)
        key = self.key_label(finished.key)
        self.key_exchanges.labels(key, model).inc()
        if finished.cost is not None:
            # A float only here: Prometheus counts in doubles; records keep the exact amount.
            self.cost.labels(model, finished.cost.currency, key).inc(float(finished.cost.amount))
        timings = finished.timings
        if timings["first_byte"] is not None:
            self.first_byte.labels(model).observe(timings["first_byte"] / 1000)
        if timings["total"] is not None:
            self.duration.labels(model).observe(timings["total"] / 1000)
        error = finished.error
        if error is not None and error.code == POOL_FULL:
            self.pool_full.inc()  # the proxy's capacity: no upstream error
        elif error is not None:
            code = error.code or error.type
            self.upstream_errors.labels(code if len(code) <= _MAX_CODE else OTHER).inc()
        usage = finished.summary.usage
        if usage is not None:
            self._usage(model, usage)

    def _usage(self, model: str, usage: Usage) -> None:
        counts = {
            "prompt": usage.prompt_tokens,
            "completion": usage.completion_tokens,
            "reasoning": usage.reasoning_tokens,
            "cached": usage.cached_tokens,
        }
        for kind, count in counts.items():
            if count:
                self.tokens.labels(model, kind).inc(count)
        if usage.code_interpreter_runs:
            self.interpreter_runs.labels(model).inc(usage.code_interpreter_runs)


def _pool_full(registry: CollectorRegistry) -> Counter:
    """The proxy's own capacity, apart from the upstream errors: a full pool is no fault of
    DashScope's."""
    return Counter(
        "dashscope_proxy_connection_pool_full_total",
        "Requests refused (503): every connection to DashScope stayed busy for pool_timeout.",
        registry=registry,
    )
