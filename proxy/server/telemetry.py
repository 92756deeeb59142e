"""OpenTelemetry export, as the rest of the shell sees it: off (None) or a `Telemetry`.

Off unless `[telemetry] endpoint` (or OTEL_EXPORTER_OTLP_ENDPOINT) is set; then, and only
then, proxy/server/telemetry_sdk.py imports the OpenTelemetry SDK, so a proxy without a
collector neither loads it at start nor pays for it per request. An exchange notes the few
moments spans need as they pass (`ExchangeTrace`); its spans and GenAI metrics are built once,
from its finished record, when it ends (docs/observability.md).
"""

from __future__ import annotations

import asyncio
import logging
import os
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import TYPE_CHECKING, Any, Protocol
from urllib.parse import urlsplit

from proxy.traffic.record import FinishedExchange

if TYPE_CHECKING:
    from proxy.config import Settings
    from proxy.server.metrics import Metrics
    from proxy.traffic.redact import Redactor

log = logging.getLogger("proxy.server")

# The W3C trace-context headers of the request being served (set by `trace_headers`).
_INCOMING: ContextVar[dict[str, str] | None] = ContextVar("trace_headers", default=None)
_HEADERS = (b"traceparent", b"tracestate")


class ExchangeTrace:
    """What an exchange's spans need beyond its record, noted as it happens; `end` hands the
    finished exchange to the telemetry that began it."""

    __slots__ = ("_telemetry", "carrier", "upstream_started")

    def __init__(self, telemetry: Telemetry, carrier: dict[str, str] | None) -> None:
        self._telemetry = telemetry
        self.carrier = carrier  # the client's traceparent/tracestate: the trace to continue
        self.upstream_started: float | None = None  # Unix seconds the upstream call began

    def upstream(self) -> None:
        self.upstream_started = time.time()

    def end(self, finished: FinishedExchange, secrets: tuple[str, ...]) -> None:
        """Builds the spans once the event loop is next free: an exchange ends before its last
        bytes (a stream's `data: [DONE]`) are written, and they should not wait for this."""
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:  # no loop (a caller outside the server): now
            self._telemetry.end(self, finished, secrets)
            return
        loop.call_soon(self._telemetry.end, self, finished, secrets)

    # The clock code runs are timed by: the one the record's started_at is read from.
    clock: Callable[[], float] = staticmethod(time.time)


class Telemetry(Protocol):
    def begin(self) -> ExchangeTrace: ...

    def end(
        self, trace: ExchangeTrace, finished: FinishedExchange, secrets: tuple[str, ...]
    ) -> None:
        """The exchange's spans and metrics; never raises, never waits for the collector."""
        ...

    def shutdown(self) -> None: ...


def telemetry_from(settings: Settings, metrics: Metrics, redactor: Redactor) -> Telemetry | None:
    """The app's telemetry, or None when no endpoint is configured (or the standard
    OTEL_SDK_DISABLED=true turns every OpenTelemetry SDK off)."""
    config = settings.telemetry
    if not config.endpoint or os.environ.get("OTEL_SDK_DISABLED", "").strip().lower() == "true":
        return None
    from proxy.server.telemetry_sdk import OtelTelemetry  # only when on: it loads the SDK

    telemetry = OtelTelemetry(settings, metrics, redactor)
    where = urlsplit(config.endpoint)
    log.info("OpenTelemetry export to %s://%s (%s)", where.scheme, where.hostname, config.protocol)
    return telemetry


def begin_trace(telemetry: Telemetry) -> ExchangeTrace:
    return ExchangeTrace(telemetry, _INCOMING.get())


class TraceHeaders:
    """ASGI middleware, installed only with telemetry on: keeps the request's trace-context
    headers where the exchange it starts can read them."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        with trace_headers(scope):
            await self.app(scope, receive, send)


@contextmanager
def trace_headers(scope: Any) -> Iterator[None]:
    """The request's trace-context headers where the exchange it starts can read them."""
    found = {k.decode("latin-1"): v.decode("latin-1") for k, v in scope["headers"] if k in _HEADERS}
    token = _INCOMING.set(found or None)
    try:
        yield
    finally:
        _INCOMING.reset(token)
