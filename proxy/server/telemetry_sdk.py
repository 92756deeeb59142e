"""The OpenTelemetry SDK behind `Telemetry`: providers, OTLP exporters, and the spans and
GenAI metrics of each finished exchange. Imported only when an endpoint is configured.

Export never slows or fails a request: spans go to a BatchSpanProcessor (a bounded queue and
one exporting thread), metrics to a periodic reader on its own thread. A collector that is
down or slow costs the spans that do not fit in the queue and the batches it refuses, counted
in `dashscope_proxy_telemetry_dropped_total`, never a wait on the request's path. The
providers are the app's own, not the process-wide globals, so two apps (tests) never share one.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable, Sequence
from typing import Any

from opentelemetry.context import Context
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import (
    MetricExporter,
    MetricExportResult,
    MetricsData,
    PeriodicExportingMetricReader,
)
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan, Span, SpanProcessor, TracerProvider, sampling
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter, SpanExportResult
from prometheus_client import CollectorRegistry, Counter

from proxy.config import Settings
from proxy.core.telemetry_settings import DEFAULT_SERVICE_NAME, resource_attributes
from proxy.server.metrics import Metrics
from proxy.server.telemetry import ExchangeTrace, begin_trace
from proxy.server.telemetry_attributes import server_of
from proxy.server.telemetry_spans import ExchangeSpans
from proxy.traffic.record import FinishedExchange
from proxy.traffic.redact import Redactor

log = logging.getLogger("proxy")

_SAMPLERS: dict[str, Callable[[float], sampling.Sampler]] = {
    "always_on": lambda ratio: sampling.ALWAYS_ON,
    "always_off": lambda ratio: sampling.ALWAYS_OFF,
    "traceidratio": sampling.TraceIdRatioBased,
    "parentbased_always_on": lambda ratio: sampling.ParentBased(sampling.ALWAYS_ON),
    "parentbased_always_off": lambda ratio: sampling.ParentBased(sampling.ALWAYS_OFF),
    "parentbased_traceidratio": lambda ratio: sampling.ParentBased(
        sampling.TraceIdRatioBased(ratio)
    ),
}
# The SDK's defaults for OTEL_BSP_MAX_QUEUE_SIZE and OTEL_BSP_MAX_EXPORT_BATCH_SIZE.
_DEFAULT_QUEUE = 2048
_DEFAULT_BATCH = 512


class OtelTelemetry:
    def __init__(self, settings: Settings, metrics: Metrics, redactor: Redactor) -> None:
        config = settings.telemetry
        resource = Resource.create(_resource(config.service_name, config.resource_attributes))
        self.dropped = _dropped_counter(metrics.registry)
        sampler = _SAMPLERS[config.sampler](config.sampler_arg)
        # The app's lifespan shuts the providers down (sending what is queued), not atexit.
        self.tracer_provider = TracerProvider(
            resource=resource, sampler=sampler, shutdown_on_exit=False
        )
        spans, metric_points = _exporters(config.protocol, config.endpoint)
        self.processor = CountingProcessor(spans, self.dropped)
        self.tracer_provider.add_span_processor(self.processor)
        # The standard OTEL_METRICS_EXPORTER=none: for a backend that takes traces only.
        readers = (
            []
            if os.environ.get("OTEL_METRICS_EXPORTER", "").strip().lower() == "none"
            else [
                PeriodicExportingMetricReader(CountingMetricExporter(metric_points, self.dropped))
            ]
        )
        self.meter_provider = MeterProvider(
            resource=resource, metric_readers=readers, shutdown_on_exit=False
        )
        self._spans = ExchangeSpans(
            self.tracer_provider.get_tracer("dashscope-proxy"),
            self.meter_provider.get_meter("dashscope-proxy"),
            upstream_url=settings.upstream.url,
            server=server_of(settings.upstream.url),
            model_label=metrics.model_label,
            redactor=redactor,
            capture=config.capture_message_content,
        )

    def begin(self) -> ExchangeTrace:
        return begin_trace(self)

    def end(
        self, trace: ExchangeTrace, finished: FinishedExchange, secrets: tuple[str, ...]
    ) -> None:
        try:
            self._spans.emit(trace, finished, secrets)
        except Exception:  # telemetry must never turn a served exchange into an error
            log.exception("could not build the telemetry of exchange %s", finished.id)
            self.dropped.labels("spans", "internal_error").inc()

    def shutdown(self) -> None:
        """Export what is queued (bounded by the exporters' timeouts), then stop the threads."""
        for provider in (self.tracer_provider, self.meter_provider):
            try:
                provider.shutdown()
            except Exception:
                log.exception("telemetry shutdown failed")


def _resource(service_name: str, attributes_text: str) -> dict[str, str]:
    attributes = resource_attributes(attributes_text)
    # OTEL_SERVICE_NAME (service_name) wins over a service.name in the resource attributes,
    # which wins over the default.
    if service_name != DEFAULT_SERVICE_NAME or "service.name" not in attributes:
        attributes["service.name"] = service_name
    return attributes


def _dropped_counter(registry: CollectorRegistry) -> Counter:
    return Counter(
        "dashscope_proxy_telemetry_dropped_total",
        "Telemetry not delivered to the OTLP collector, by signal (spans, metrics) and reason: "
        "queue_full (the export queue was full), export_failed (the collector refused or "
        "could not be reached), internal_error.",
        ["signal", "reason"],
        registry=registry,
    )


def _exporters(protocol: str, endpoint: str) -> tuple[SpanExporter, MetricExporter]:
    """The OTLP exporters of the protocol in use, imported only then (gRPC loads grpcio).
    Their other options (headers, timeout, TLS, compression) come from the standard
    OTEL_EXPORTER_OTLP_* variables, which they read themselves."""
    if protocol == "grpc":
        from opentelemetry.exporter.otlp.proto.grpc.metric_exporter import (
            OTLPMetricExporter as GrpcMetrics,
        )
        from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import (
            OTLPSpanExporter as GrpcSpans,
        )

        insecure = endpoint.startswith("http://")
        return (
            GrpcSpans(endpoint=endpoint, insecure=insecure),
            GrpcMetrics(endpoint=endpoint, insecure=insecure),
        )
    from opentelemetry.exporter.otlp.proto.http.metric_exporter import (
        OTLPMetricExporter as HttpMetrics,
    )
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import (
        OTLPSpanExporter as HttpSpans,
    )

    return (
        HttpSpans(endpoint=_signal_url(endpoint, "traces")),
        HttpMetrics(endpoint=_signal_url(endpoint, "metrics")),
    )


def _signal_url(endpoint: str, signal: str) -> str:
    """The OTLP/HTTP URL of a signal under the base endpoint, as the specification builds it."""
    return f"{endpoint.rstrip('/')}/v1/{signal}"


class CountingProcessor(SpanProcessor):
    """A BatchSpanProcessor that counts what it cannot deliver.

    The batch processor drops a span silently when its queue is full; this keeps the number
    of spans queued but not yet handed to the exporter, and counts a span ended while it is at
    the queue's size as dropped.
    """

    def __init__(self, exporter: SpanExporter, dropped: Counter) -> None:
        self._size = _env_int("OTEL_BSP_MAX_QUEUE_SIZE", _DEFAULT_QUEUE)
        self._queued = 0
        self._lock = threading.Lock()
        self._queue_full = dropped.labels("spans", "queue_full")
        self._exporter = CountingSpanExporter(exporter, dropped, self._taken)
        batch = min(_env_int("OTEL_BSP_MAX_EXPORT_BATCH_SIZE", _DEFAULT_BATCH), self._size)
        self._batch = BatchSpanProcessor(
            self._exporter, max_queue_size=self._size, max_export_batch_size=batch
        )

    def _taken(self, count: int) -> None:
        with self._lock:
            self._queued = max(0, self._queued - count)

    def on_start(self, span: Span, parent_context: Context | None = None) -> None:
        self._batch.on_start(span, parent_context)

    def on_end(self, span: ReadableSpan) -> None:
        if span.context is not None and span.context.trace_flags.sampled:
            with self._lock:
                if self._queued >= self._size:
                    self._queue_full.inc()
                else:
                    self._queued += 1
        self._batch.on_end(span)

    def shutdown(self) -> None:
        self._batch.shutdown()  # type: ignore[no-untyped-call]

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        return self._batch.force_flush(timeout_millis)


def _env_int(name: str, default: int) -> int:
    """A positive integer from a standard variable, as the SDK reads it (default if invalid)."""
    try:
        return max(1, int(os.environ.get(name, default)))
    except ValueError:
        return default


class CountingSpanExporter(SpanExporter):
    def __init__(self, inner: SpanExporter, dropped: Counter, taken: Any) -> None:
        self._inner = inner
        self._failed = dropped.labels("spans", "export_failed")
        self._taken = taken

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        self._taken(len(spans))
        try:
            result = self._inner.export(spans)
        except Exception:
            result = SpanExportResult.FAILURE
        if result is not SpanExportResult.SUCCESS:
            self._failed.inc(len(spans))
        return result

    def shutdown(self) -> None:
        self._inner.shutdown()

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        return self._inner.force_flush(timeout_millis)


class CountingMetricExporter(MetricExporter):
    """Counts each metrics export the collector did not take (one per failed batch)."""

    def __init__(self, inner: MetricExporter, dropped: Counter) -> None:
        super().__init__(
            preferred_temporality=inner._preferred_temporality,
            preferred_aggregation=inner._preferred_aggregation,
        )
        self._inner = inner
        self._failed = dropped.labels("metrics", "export_failed")

    def export(
        self, metrics_data: MetricsData, timeout_millis: float = 10_000, **kwargs: Any
    ) -> MetricExportResult:
        try:
            result = self._inner.export(metrics_data, timeout_millis=timeout_millis, **kwargs)
        except Exception:
            result = MetricExportResult.FAILURE
        if result is not MetricExportResult.SUCCESS:
            self._failed.inc()
        return result

    def force_flush(self, timeout_millis: float = 10_000) -> bool:
        return self._inner.force_flush(timeout_millis)

    def shutdown(self, timeout_millis: float = 30_000, **kwargs: Any) -> None:
        self._inner.shutdown(timeout_millis=timeout_millis, **kwargs)
