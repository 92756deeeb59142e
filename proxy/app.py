"""The one module that owns Starlette: routes, and the wrapping of exchanges into responses."""

from __future__ import annotations

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

from proxy.chat_exchange import ChatExchange, Reply, new_exchange_id
from proxy.chat_request import TranslationOptions
from proxy.code_runs import FORMATS
from proxy.config import Settings
from proxy.errors import AuthenticationFailed, NotFound, ProxyError
from proxy.traffic.record import ExchangeRecorder, NullRecorder
from proxy.traffic.redact import Redactor
from proxy.traffic.writer import TrafficWriter
from proxy.upstream import UpstreamClient

log = logging.getLogger("proxy")

_SSE_HEADERS = {"cache-control": "no-cache", "x-accel-buffering": "no"}


def json_response(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(orjson.dumps(body), status, headers, media_type="application/json")


def error_response(error: ProxyError, headers: dict[str, str] | None = None) -> Response:
    headers = dict(headers or {})
    if not error.retryable:
        headers["x-should-retry"] = "false"
    return json_response(error.to_body(), error.status, headers)


def create_app(
    settings: Settings, *, upstream_transport: httpx.AsyncBaseTransport | None = None
) -> Starlette:
    """Build the proxy. `upstream_transport` lets tests put an in-process DashScope behind it."""
    upstream = UpstreamClient(settings.upstream, transport=upstream_transport)
    traffic = settings.traffic_log
    writer = (
        TrafficWriter(
            traffic.path,
            redactor=Redactor(traffic.redact_patterns, secrets=(settings.upstream.api_key,)),
            max_bytes=traffic.max_bytes,
            retention=traffic.retention,
            queue_size=traffic.queue_size,
        )
        if traffic.path
        else None
    )
    options = TranslationOptions(
        code_format=settings.code_interpreter.format,
        multimodal_models=settings.routing.multimodal_models,
    )

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        if writer is not None:
            writer.start()
        try:
            yield
        finally:
            await upstream.aclose()
            if writer is not None:
                writer.close()

    def recorder(request: Request) -> ExchangeRecorder:
        kind = ExchangeRecorder if writer is not None else NullRecorder
        return kind(
            exchange_id=new_exchange_id(),
            started_at=time.time(),
            clock=time.monotonic,
            endpoint=request.url.path,
            client_request_id=request.headers.get("x-request-id"),
            capture_frames=traffic.capture_frames,
            capture_chunks=traffic.capture_chunks,
        )

    def submit(record: dict[str, Any], secrets: tuple[str, ...]) -> None:
        if writer is not None:
            writer.submit(record, secrets)

    async def chat_completions(request: Request) -> Response:
        exchange = ChatExchange(
            upstream=upstream,
            options=_path_options(request, options),
            keepalive=settings.server.keepalive_interval,
            recorder=recorder(request),
            submit=submit,
            client_key=_client_key(request),
        )
        reply = await exchange.run(await request.body(), lambda: _upstream_key(request, settings))
        return _response(reply)

    async def list_models(request: Request) -> Response:
        _path_options(request, options)  # an unknown /ci/<format> is a 404 here too
        return json_response({"object": "list", "data": [_model(m) for m in settings.models]})

    async def get_model(request: Request) -> Response:
        _path_options(request, options)
        model_id = request.path_params["model_id"]
        if model_id not in settings.models:
            raise NotFound(
                f"The model '{model_id}' does not exist", code="model_not_found", param="model"
            )
        return json_response(_model(model_id))

    async def healthz(request: Request) -> Response:
        return json_response({"status": "ok"})

    app = Starlette(
        routes=[
            Route("/v1/chat/completions", chat_completions, methods=["POST"]),
            Route("/v1/models", list_models, methods=["GET"]),
            Route("/v1/models/{model_id:path}", get_model, methods=["GET"]),
            # For apps that let a user set only a base URL: /ci/<format>/v1 picks how
            # code-interpreter runs are shown.
            Route("/ci/{ci_format}/v1/chat/completions", chat_completions, methods=["POST"]),
            Route("/ci/{ci_format}/v1/models", list_models, methods=["GET"]),
            Route("/ci/{ci_format}/v1/models/{model_id:path}", get_model, methods=["GET"]),
            Route("/healthz", healthz, methods=["GET"]),
            Route("/readyz", healthz, methods=["GET"]),
        ],
        exception_handlers={
            ProxyError: _proxy_error,
            HTTPException: _http_error,
            Exception: _unexpected_error,
        },
        lifespan=lifespan,
    )
    app.state.traffic_writer = writer
    return app


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
