"""One finished exchange as spans and GenAI metric points, built at its end.

The chat span (`chat {model}`, GenAI conventions) covers the exchange, from the request's
arrival to its end, as a child of the client's span when the request carried a W3C
`traceparent`. Under it: the HTTP client span of the call to DashScope, and one
`execute_tool code_interpreter` span per interpreter run, from its code going to the
interpreter to the model going on after it. Timestamps are those the exchange noted as it went;
nothing here runs per chunk.
"""

from __future__ import annotations

from collections.abc import Callable

from opentelemetry import trace
from opentelemetry.context import Context
from opentelemetry.metrics import Meter
from opentelemetry.trace import SpanKind, Status, StatusCode, Tracer
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

from proxy.server.telemetry import ExchangeTrace
from proxy.server.telemetry_attributes import (
    OPERATION,
    TOOL_NAME,
    Attributes,
    error_type,
    exchange_attributes,
    metric_attributes,
    request_model,
    tool_attributes,
    upstream_attributes,
)
from proxy.server.telemetry_content import code_attributes, content_attributes
from proxy.traffic.record import FinishedExchange
from proxy.traffic.redact import Redactor

# The conventions' advised bucket boundaries.
_TOKEN_BUCKETS = [4.0**i for i in range(14)]  # 1, 4, 16, ... 67108864
_SECOND_BUCKETS = [0.01 * 2.0**i for i in range(14)]  # 0.01, 0.02, 0.04, ... 81.92
_PROPAGATOR = TraceContextTextMapPropagator()


def _ns(seconds: float) -> int:
    return int(seconds * 1e9)


class ExchangeSpans:
    def __init__(
        self,
        tracer: Tracer,
        meter: Meter,
        *,
        upstream_url: str,
        server: Attributes,
        model_label: Callable[[object], str],
        redactor: Redactor,
        capture: bool,  # message content and code on spans (the operator's opt-in)
    ) -> None:
        self._tracer = tracer
        self._url = upstream_url
        self._server = server
        self._model_label = model_label
        self._redactor = redactor
        self._capture = capture
        self._tokens = meter.create_histogram(
            "gen_ai.client.token.usage",
            unit="{token}",
            description="Number of input and output tokens used.",
            explicit_bucket_boundaries_advisory=_TOKEN_BUCKETS,
        )
        self._duration = meter.create_histogram(
            "gen_ai.client.operation.duration",
            unit="s",
            description="GenAI operation duration.",
            explicit_bucket_boundaries_advisory=_SECOND_BUCKETS,
        )
        self._first_chunk = meter.create_histogram(
            "gen_ai.client.operation.time_to_first_chunk",
            unit="s",
            description="Time to receive the first chunk of the response stream.",
            explicit_bucket_boundaries_advisory=_SECOND_BUCKETS,
        )

    def emit(
        self, trace_: ExchangeTrace, finished: FinishedExchange, secrets: tuple[str, ...]
    ) -> None:
        start = finished.started_at
        end = start + (finished.timings["total"] or 0) / 1000
        parent = _PROPAGATOR.extract(trace_.carrier) if trace_.carrier else None
        model = request_model(finished)
        attributes = exchange_attributes(finished, self._server)
        if self._capture:
            attributes.update(
                content_attributes(finished.request, finished.summary, self._redactor, secrets)
            )
        span = self._tracer.start_span(
            f"{OPERATION} {model}" if model else OPERATION,
            context=parent,
            kind=SpanKind.CLIENT,
            attributes=attributes,
            start_time=_ns(start),
        )
        failed = error_type(finished)
        if failed is not None:
            message = finished.error.message if finished.error else "the client went away"
            span.set_status(Status(StatusCode.ERROR, self._masked(message, secrets)))
        inside = trace.set_span_in_context(span)
        if trace_.upstream_started is not None:
            self._upstream(inside, trace_.upstream_started, end, finished)
        self._runs(inside, finished, end, secrets)
        span.end(end_time=_ns(end))
        self._metrics(finished)

    def _upstream(
        self, context: Context, started: float, end: float, finished: FinishedExchange
    ) -> None:
        span = self._tracer.start_span(
            "POST",
            context=context,
            kind=SpanKind.CLIENT,
            attributes=upstream_attributes(finished, self._url, self._server),
            start_time=_ns(started),
        )
        if finished.error is not None:
            span.set_status(Status(StatusCode.ERROR))
        span.end(end_time=_ns(max(started, end)))

    def _runs(
        self, context: Context, finished: FinishedExchange, end: float, secrets: tuple[str, ...]
    ) -> None:
        summary = finished.summary
        for run, code in enumerate(summary.code_runs):
            started, settled = (
                summary.run_times[run] if run < len(summary.run_times) else (end, None)
            )
            attributes = tool_attributes(run)
            if self._capture:
                attributes.update(code_attributes(code, self._redactor, secrets))
            if settled is None and error_type(finished) is not None:
                attributes["error.type"] = error_type(finished)
            span = self._tracer.start_span(
                f"execute_tool {TOOL_NAME}",
                context=context,
                kind=SpanKind.INTERNAL,
                attributes=attributes,
                start_time=_ns(started),
            )
            if "error.type" in attributes:
                span.set_status(Status(StatusCode.ERROR))
            span.end(end_time=_ns(settled if settled is not None else end))

    def _metrics(self, finished: FinishedExchange) -> None:
        model = self._model_label(request_model(finished))
        attributes = metric_attributes(finished, model, self._server)
        usage = finished.summary.usage
        if usage is not None:
            self._tokens.record(usage.prompt_tokens, {**attributes, "gen_ai.token.type": "input"})
            self._tokens.record(
                usage.completion_tokens, {**attributes, "gen_ai.token.type": "output"}
            )
        timings = finished.timings
        failed = error_type(finished)
        if timings["total"] is not None:
            extra = {"error.type": failed} if failed else {}
            self._duration.record(timings["total"] / 1000, {**attributes, **extra})
        if timings["upstream_first_frame"] is not None:
            self._first_chunk.record(timings["upstream_first_frame"] / 1000, attributes)

    def _masked(self, text: str, secrets: tuple[str, ...]) -> str:
        return str(self._redactor.redact(text, secrets))
