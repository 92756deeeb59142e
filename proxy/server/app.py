"""The one module that owns Starlette: routes, and the wrapping of exchanges into responses."""

from __future__ import annotations

import hmac
import logging
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import replace
from typing import Any

import httpx
import orjson
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import Route

from proxy.chat.code_runs import FORMATS
from proxy.chat.request import TranslationOptions
from proxy.config import Settings
from proxy.core.errors import (
    AuthenticationFailed,
    NotFound,
    PayloadTooLarge,
    ProxyError,
    error_headers,
)
from proxy.core.retry import RetryPolicy
from proxy.server.apis import CHAT, RESPONSES, Api
from proxy.server.applog import log_exchange, log_route
from proxy.server.exchange import Exchange, Reply, Services, new_exchange_id
from proxy.server.lifecycle import Lifecycle
from proxy.server.metrics import CONTENT_TYPE, Metrics
from proxy.server.traffic_writer import TrafficWriter
from proxy.server.upstream import UpstreamClient
from proxy.traffic.record import ExchangeRecorder, NullRecorder
from proxy.traffic.redact import Redactor

log = logging.getLogger("proxy")

_SSE_HEADERS = {"cache-control": "no-cache", "x-accel-buffering": "no"}


def json_response(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(orjson.dumps(body), status, headers, media_type="application/json")


def error_response(error: ProxyError, headers: dict[str, str] | None = None) -> Response:
    headers = {**(headers or {}), **error_headers(error)}
    return json_response(error.to_body(), error.status, headers)


def create_app(
    settings: Settings, *, upstream_transport: httpx.AsyncBaseTransport | None = None
) -> Starlette:
    """Build the proxy. `upstream_transport` lets tests put an in-process DashScope behind it."""
    traffic = settings.traffic_log
    writer = _writer(settings)
    metrics = Metrics(dropped_records=lambda: writer.dropped if writer else 0)
    lifecycle = Lifecycle(
        max_active=settings.server.max_concurrent_streams,
        drain_timeout=settings.server.drain_timeout,
    )
    metrics.active.set_function(lambda: float(lifecycle.active))

    def on_end(record: dict[str, Any], secrets: tuple[str, ...]) -> None:
        metrics.exchange(record)
        log_exchange(record)
        if writer is not None:
            writer.submit(record, secrets)

    services = Services(
        upstream=UpstreamClient(settings.upstream, transport=upstream_transport),
        lifecycle=lifecycle,
        retry=RetryPolicy(
            retries=settings.upstream.retries,
            max_wait=settings.upstream.retry_max_wait,
            budget=settings.upstream.retry_budget,
        ),
        keepalive=settings.server.keepalive_interval,
        total_timeout=settings.upstream.total_timeout,
        on_end=on_end,
        on_retry=metrics.retries.inc,
    )
    options = TranslationOptions(
        code_format=settings.code_interpreter.format,
        multimodal_models=settings.routing.multimodal_models,
    )
    forwarded = frozenset(name.lower() for name in settings.upstream.forward_headers)

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        lifecycle.bind()
        if writer is not None:
            writer.start()
        try:
            yield
        finally:
            await services.upstream.aclose()
            if writer is not None:
                writer.close()

    def recorder(request: Request, api: Api) -> ExchangeRecorder:
        kind = ExchangeRecorder if writer is not None else NullRecorder
        return kind(
            fold=api.fold(),
            exchange_id=new_exchange_id(),
            started_at=time.time(),
            clock=time.monotonic,
            endpoint=request.url.path,
            client_request_id=request.headers.get("x-request-id"),
            capture_frames=traffic.capture_frames,
            capture_chunks=traffic.capture_chunks,
        )

    async def exchange(request: Request, api: Api) -> Response:
        _authorize(request, settings)
        exchange = Exchange(
            services,
            api,
            options=_path_options(request, options),
            recorder=recorder(request, api),
            client_key=_client_key(request),
            forward_headers={k: v for k, v in request.headers.items() if k in forwarded},
        )
        body = await _body(request, settings.server.max_body_bytes)
        return _response(await exchange.run(body, lambda: _upstream_key(request, settings)))

    async def chat_completions(request: Request) -> Response:
        return await exchange(request, CHAT)

    async def responses(request: Request) -> Response:
        return await exchange(request, RESPONSES)

    async def stored_response(request: Request) -> Response:
        _authorize(request, settings)
        error = NotFound(
            f"No response {request.path_params['response_id']!r}: the proxy stores no "
            "responses (each answer is streamed or returned once), so none can be retrieved, "
            "cancelled or deleted.",
            code="response_not_found",
        )
        observe(request, error.status)
        raise error

    def observe(request: Request, status: int) -> None:
        metrics.route(request.url.path, status)
        log_route(request.url.path, status)

    def counted(status: int, request: Request, body: Any) -> Response:
        observe(request, status)
        return json_response(body, status)

    async def list_models(request: Request) -> Response:
        _authorize(request, settings)
        _path_options(request, options)  # an unknown /ci/<format> is a 404 here too
        return counted(
            200, request, {"object": "list", "data": [_model(m) for m in settings.models]}
        )

    async def get_model(request: Request) -> Response:
        _authorize(request, settings)
        _path_options(request, options)
        model_id = request.path_params["model_id"]
        if model_id not in settings.models:
            error = NotFound(
                f"The model '{model_id}' does not exist", code="model_not_found", param="model"
            )
            observe(request, error.status)
            raise error
        return counted(200, request, _model(model_id))

    async def healthz(request: Request) -> Response:
        return json_response({"status": "ok"})

    async def readyz(request: Request) -> Response:
        if lifecycle.draining:
            return json_response({"status": "draining"}, 503)
        return json_response({"status": "ok"})

    async def metrics_endpoint(request: Request) -> Response:
        return Response(metrics.exposition(), media_type=CONTENT_TYPE)

    app = Starlette(
        routes=[
            Route("/v1/chat/completions", chat_completions, methods=["POST"]),
            Route("/v1/responses", responses, methods=["POST"]),
            Route("/v1/responses/{response_id}", stored_response, methods=["GET", "DELETE"]),
            Route("/v1/responses/{response_id}/{action}", stored_response, methods=["GET", "POST"]),
            Route("/v1/models", list_models, methods=["GET"]),
            Route("/v1/models/{model_id:path}", get_model, methods=["GET"]),
            # For apps that let a user set only a base URL: /ci/<format>/v1 picks how
            # code-interpreter runs are shown.
            Route("/ci/{ci_format}/v1/chat/completions", chat_completions, methods=["POST"]),
            # Responses always show runs as code_interpreter_call items; the prefix is accepted
            # so one base URL serves both APIs.
            Route("/ci/{ci_format}/v1/responses", responses, methods=["POST"]),
            Route("/ci/{ci_format}/v1/models", list_models, methods=["GET"]),
            Route("/ci/{ci_format}/v1/models/{model_id:path}", get_model, methods=["GET"]),
            Route("/healthz", healthz, methods=["GET"]),
            Route("/readyz", readyz, methods=["GET"]),
            Route("/metrics", metrics_endpoint, methods=["GET"]),
        ],
        exception_handlers={
            ProxyError: _proxy_error,
            HTTPException: _http_error,
            Exception: _unexpected_error,
        },
        lifespan=lifespan,
    )
    app.state.traffic_writer = writer
    app.state.lifecycle = lifecycle
    app.state.metrics = metrics
    return app


def _writer(settings: Settings) -> TrafficWriter | None:
    traffic = settings.traffic_log
    if not traffic.path:
        return None
    secrets = (settings.upstream.api_key, *settings.auth.proxy_keys)
    return TrafficWriter(
        traffic.path,
        redactor=Redactor(traffic.redact_patterns, secrets=secrets),
        max_bytes=traffic.max_bytes,
        retention=traffic.retention,
        queue_size=traffic.queue_size,
    )


def _authorize(request: Request, settings: Settings) -> None:
    """With a server key, clients must present a proxy key (decision 7)."""
    keys = settings.auth.proxy_keys
    if not settings.upstream.api_key or not keys:
        return
    presented = _client_key(request).encode()
    # Compare with every key, without stopping early, so timing tells nothing.
    matched = [hmac.compare_digest(presented, key.encode()) for key in keys]
    if not any(matched):
        raise AuthenticationFailed(
            "Invalid or missing proxy key: send one of the proxy's keys as "
            "'Authorization: Bearer <key>'."
        )


async def _body(request: Request, limit: int) -> bytes:
    too_large = PayloadTooLarge(f"The request body is larger than {limit} bytes.")
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise too_large
    body = bytearray()
    async for piece in request.stream():
        body += piece
        if len(body) > limit:
            raise too_large
    return bytes(body)


def _response(reply: Reply) -> Response:
    if reply.stream is not None:
        return StreamingResponse(
            reply.stream,
            media_type="text/event-stream; charset=utf-8",
            headers={**reply.headers, **_SSE_HEADERS},
        )
    return json_response(reply.body, reply.status, reply.headers)


def _path_options(request: Request, options: TranslationOptions) -> TranslationOptions:
    fmt = request.path_params.get("ci_format")
    if fmt is None:
        return options
    if fmt not in FORMATS:
        raise NotFound(
            f"No representation {fmt!r}: use /ci/<format>/v1 with one of {', '.join(FORMATS)}"
        )
    return replace(options, code_format=fmt)


def _client_key(request: Request) -> str:
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() == "bearer" and token.strip():
        return token.strip()
    return request.headers.get("api-key", "")


def _upstream_key(request: Request, settings: Settings) -> str:
    if settings.upstream.api_key:
        return settings.upstream.api_key
    key = _client_key(request)
    if key:
        return key
    raise AuthenticationFailed(
        "No API key: send your DashScope key as 'Authorization: Bearer <key>', "
        "or configure a server key (DASHSCOPE_API_KEY)."
    )


def _model(model_id: str) -> dict[str, Any]:
    return {"id": model_id, "object": "model", "created": 0, "owned_by": "dashscope"}


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
