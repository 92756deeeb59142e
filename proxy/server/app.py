"""The one module that builds the Starlette app: services, routes, middleware, error handlers.

`create_app(settings)` makes everything an app needs and nothing at import; the route
handlers are in routes.py, one exchange's story in exchange.py.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import Response

from proxy.config import Settings
from proxy.core.cost import Pricing, billing_region
from proxy.core.errors import NotFound, ProxyError, error_headers
from proxy.core.retry import RetryPolicy
from proxy.server.applog import Throttle, log_exchange
from proxy.server.keys import key_identity, keyring
from proxy.server.lane import ExchangeLane, ProxyApp
from proxy.server.lifecycle import Lifecycle
from proxy.server.metrics import Metrics
from proxy.server.observe import ResponseCounter
from proxy.server.routes import Handlers, json_response, routes
from proxy.server.seal import warn_without_seal_key
from proxy.server.services import Services
from proxy.server.telemetry import Telemetry, TraceHeaders, telemetry_from
from proxy.server.traffic_writer import TrafficWriter
from proxy.server.upstream import UpstreamClient
from proxy.traffic.record import FinishedExchange
from proxy.traffic.redact import Redactor

log = logging.getLogger("proxy")


def error_response(error: ProxyError, headers: dict[str, str] | None = None) -> Response:
    headers = {**(headers or {}), **error_headers(error)}
    return json_response(error.to_body(), error.status, headers)


def create_app(settings: Settings) -> Starlette:
    """Build the proxy: everything it needs, nothing at import."""
    writer = _writer(settings)
    metrics = Metrics(
        dropped_records=lambda: writer.dropped if writer else 0,
        models=settings.models,
        keys=keyring(settings.auth).labels,
    )
    lifecycle = Lifecycle(
        max_active=settings.server.max_concurrent_streams,
        drain_timeout=settings.server.drain_timeout,
    )
    metrics.active.set_function(lambda: float(lifecycle.active))
    refusals = Throttle()  # one budget of refusal lines for the app, whoever logs them
    services = _services(settings, lifecycle, metrics, writer, refusals)
    telemetry = services.telemetry = telemetry_from(settings, metrics, services.redactor)
    handlers = Handlers(settings, services, metrics, recording=writer is not None)
    tracing = [Middleware(TraceHeaders)] if telemetry else []
    table = routes(handlers)
    lane = ExchangeLane(table, error_response, metrics, refusals, tracing=telemetry is not None)
    app = ProxyApp(
        lane=lane,
        routes=table,
        middleware=[*tracing, Middleware(ResponseCounter, metrics=metrics, throttle=refusals)],
        exception_handlers={
            ProxyError: _proxy_error,
            HTTPException: _http_error,
            Exception: _unexpected_error,
        },
        lifespan=_lifespan(services, writer, telemetry, settings.auth.seal_key),
    )
    app.state.traffic_writer = writer
    app.state.lifecycle = lifecycle
    app.state.metrics = metrics
    app.state.telemetry = telemetry
    return app


def _services(
    settings: Settings,
    lifecycle: Lifecycle,
    metrics: Metrics,
    writer: TrafficWriter | None,
    refusals: Throttle,
) -> Services:
    def on_end(finished: FinishedExchange, secrets: tuple[str, ...]) -> None:
        metrics.exchange(finished)
        log_exchange(finished, refusals)
        if writer is not None:
            writer.submit(finished.record(), secrets)

    upstream = settings.upstream
    return Services(
        upstream=UpstreamClient(upstream),
        lifecycle=lifecycle,
        retry=RetryPolicy(
            retries=upstream.retries, max_wait=upstream.retry_max_wait, budget=upstream.retry_budget
        ),
        keepalive=settings.server.keepalive_interval,
        total_timeout=upstream.total_timeout,
        on_end=on_end,
        on_retry=metrics.retries.inc,
        redactor=_redactor(settings),
        identify=lambda key: key_identity(key, settings),
        pricing=Pricing(
            settings.model_table,
            settings.prices.region or billing_region(upstream.region, upstream.base_url),
        ),
    )


def _lifespan(
    services: Services, writer: TrafficWriter | None, telemetry: Telemetry | None, seal_key: str
) -> Any:
    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        services.lifecycle.bind()
        warn_without_seal_key(seal_key)
        if writer is not None:
            writer.start()
        try:
            yield
        finally:
            await services.upstream.aclose()
            if writer is not None:
                writer.close()
            if telemetry is not None:
                telemetry.shutdown()  # what is queued goes out, within the exporters' timeouts

    return lifespan


def _redactor(settings: Settings) -> Redactor:
    """One redactor for every text that leaves the proxy: traffic records and client errors."""
    secrets = (settings.upstream.api_key, *settings.auth.proxy_keys, settings.auth.seal_key)
    return Redactor(settings.traffic_log.redact_patterns, secrets=secrets)


def _writer(settings: Settings) -> TrafficWriter | None:
    traffic = settings.traffic_log
    if not traffic.path:
        return None
    return TrafficWriter(
        traffic.path,
        redactor=_redactor(settings),
        max_bytes=traffic.max_bytes,
        retention=traffic.retention,
        queue_size=traffic.queue_size,
    )


async def _proxy_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, ProxyError)
    return error_response(exc)


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    if exc.status_code == 404:
        return error_response(NotFound(f"No route {request.method} {request.url.path}"))
    return error_response(
        ProxyError(str(exc.detail), status=exc.status_code, type="invalid_request_error")
    )


async def _unexpected_error(request: Request, exc: Exception) -> Response:
    log.error("unexpected error on %s", request.url.path, exc_info=exc)
    return error_response(ProxyError("internal error in the proxy"))
