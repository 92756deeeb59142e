"""The one module that owns Starlette: routes, and the shell around the pure translation."""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import replace
from typing import Any

import anyio
import httpx
import orjson
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import Route

from proxy.chat_fold import fold_chunks
from proxy.chat_pipeline import ChatTranslation
from proxy.chat_request import TranslationOptions, translate_chat_request
from proxy.chat_stream import ChunkIdentity
from proxy.code_runs import FORMATS
from proxy.config import Settings
from proxy.errors import AuthenticationFailed, InvalidRequest, NotFound, ProxyError
from proxy.heartbeat import with_heartbeat
from proxy.sse import DONE, KEEPALIVE, encode_data
from proxy.upstream import UpstreamClient, UpstreamStream

log = logging.getLogger("proxy")

_SSE_HEADERS = {"cache-control": "no-cache", "x-accel-buffering": "no"}


def json_response(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(orjson.dumps(body), status, headers, media_type="application/json")


def error_response(error: ProxyError, headers: dict[str, str] | None = None) -> Response:
    headers = dict(headers or {})
    if not error.retryable:
        headers["x-should-retry"] = "false"
    request_id = getattr(error, "request_id", None)
    if request_id:
        # Both names, as on success: the SDKs expose `x-request-id` as `APIStatusError.request_id`.
        headers["x-request-id"] = headers["x-dashscope-request-id"] = request_id
    return json_response(error.to_body(), error.status, headers)


class _Exchange:
    """Per-request identity chosen by the shell: the core takes ids and clocks as arguments."""

    def __init__(self, model: str) -> None:
        token = uuid.uuid4().hex
        self.id = token
        self.identity = ChunkIdentity(
            id=f"chatcmpl-{token}",
            created=int(time.time()),
            model=model,
            call_id_prefix=f"call_ci_{token[:16]}_",
        )


def create_app(
    settings: Settings, *, upstream_transport: httpx.AsyncBaseTransport | None = None
) -> Starlette:
    """Build the proxy. `upstream_transport` lets tests put an in-process DashScope behind it."""
    upstream = UpstreamClient(settings.upstream, transport=upstream_transport)

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        try:
            yield
        finally:
            await upstream.aclose()

    options = TranslationOptions(
        code_format=settings.code_interpreter.format,
        multimodal_models=settings.routing.multimodal_models,
    )
    keepalive = settings.server.keepalive_interval

    async def chat_completions(request: Request) -> Response:
        plan = translate_chat_request(await _json_body(request), _path_options(request, options))
        api_key = _upstream_key(request, settings)
        exchange = _Exchange(plan.model)
        headers = {"x-proxy-request-id": exchange.id}
        if plan.notes:
            headers["x-dashscope-proxy-notes"] = "; ".join(plan.notes)[:4000]
        translation = ChatTranslation(
            exchange.identity,
            include_usage=plan.include_usage or not plan.stream,
            code_format=plan.code_format,
        )
        if plan.local_answer is not None:
            # Only results for the proxy's own calls came in: answering here ends agent loops
            # and never runs code again.
            chunks = translation.local_answer(plan.local_answer)
            return _respond(plan.stream, chunks, None, headers)
        stream = await upstream.open(plan.path, plan.body, api_key)
        try:
            # Commit to a 200 only once the first frame is in and translated: DashScope reports
            # many request errors as an `event:error` frame on an HTTP 200.
            first = await stream.first_events()
            chunks = translation.feed(first) if first else translation.finish()
        except ProxyError as error:
            await _close(stream)
            return error_response(error, _with_request_id(headers, translation, stream))
        except BaseException:
            await _close(stream)
            raise
        headers = _with_request_id(headers, translation, stream)
        rest = _rest(stream, translation, keepalive if plan.stream else 0) if first else None
        if plan.stream:
            return _respond(True, chunks, rest, headers, stream)
        try:
            return await _folded(chunks, rest, headers)
        finally:
            await _close(stream)

    async def list_models(request: Request) -> Response:
        return json_response({"object": "list", "data": [_model(m) for m in settings.models]})

    async def get_model(request: Request) -> Response:
        model_id = request.path_params["model_id"]
        if model_id not in settings.models:
            raise NotFound(
                f"The model '{model_id}' does not exist", code="model_not_found", param="model"
            )
        return json_response(_model(model_id))

    async def healthz(request: Request) -> Response:
        return json_response({"status": "ok"})

    return Starlette(
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


def _path_options(request: Request, options: TranslationOptions) -> TranslationOptions:
    fmt = request.path_params.get("ci_format")
    if fmt is None:
        return options
    if fmt not in FORMATS:
        raise NotFound(
            f"No representation {fmt!r}: use /ci/<format>/v1 with one of {', '.join(FORMATS)}"
        )
    return replace(options, code_format=fmt)


ChunkBatches = AsyncIterator[list[dict[str, Any]] | None]


async def _rest(
    stream: UpstreamStream, translation: ChatTranslation, keepalive: float
) -> ChunkBatches:
    """The chunks of the frames after the first, then the closing ones; None while the
    upstream is silent for `keepalive` seconds."""
    async for events in with_heartbeat(stream.events(), keepalive):
        yield None if events is None else translation.feed(events)
    yield translation.finish()


def _respond(
    stream_mode: bool,
    chunks: list[dict[str, Any]],
    rest: ChunkBatches | None,
    headers: dict[str, str],
    upstream: UpstreamStream | None = None,
) -> Response:
    return (
        StreamingResponse(
            _stream_body(chunks, rest, upstream),
            media_type="text/event-stream; charset=utf-8",
            headers={**headers, **_SSE_HEADERS},
        )
        if stream_mode
        else json_response(fold_chunks(chunks), headers=headers)
    )


async def _folded(
    chunks: list[dict[str, Any]], rest: ChunkBatches | None, headers: dict[str, str]
) -> Response:
    """Non-stream clients: the same chunks, folded. Nothing is sent yet, so errors keep status
    (and the headers already chosen, such as the upstream request id)."""
    try:
        if rest is not None:
            async for batch in rest:
                chunks.extend(batch or ())
        completion = fold_chunks(chunks)
    except ProxyError as error:
        return error_response(error, headers)
    return json_response(completion, headers=headers)


def _with_request_id(
    headers: dict[str, str], translation: ChatTranslation, stream: UpstreamStream
) -> dict[str, str]:
    request_id = translation.request_id or stream.request_id
    if not request_id:
        return headers
    return {**headers, "x-request-id": request_id, "x-dashscope-request-id": request_id}


async def _stream_body(
    first_chunks: list[dict[str, Any]], rest: ChunkBatches | None, upstream: UpstreamStream | None
) -> AsyncIterator[bytes]:
    try:
        for chunk in first_chunks:
            yield encode_data(chunk)
        if rest is not None:
            async for batch in rest:
                if batch is None:
                    yield KEEPALIVE
                    continue
                for chunk in batch:
                    yield encode_data(chunk)
    except ProxyError as error:
        # After the first byte an error can only travel in-band, as OpenAI clients expect it.
        yield encode_data(error.to_body())
    except Exception:
        log.exception("stream translation failed")
        yield encode_data(ProxyError("internal error in the proxy").to_body())
    finally:
        if upstream is not None:
            await _close(upstream)
    yield DONE


async def _close(stream: UpstreamStream) -> None:
    # On a client disconnect the surrounding scope is cancelled, and anyio would cancel this
    # await too; shielding it makes sure the upstream connection really is released.
    with anyio.CancelScope(shield=True):
        await stream.aclose()


async def _json_body(request: Request) -> Any:
    raw = await request.body()
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise InvalidRequest(f"The request body is not valid JSON: {exc}") from None


def _upstream_key(request: Request, settings: Settings) -> str:
    if settings.upstream.api_key:
        return settings.upstream.api_key
    authorization = request.headers.get("authorization", "")
    scheme, _, token = authorization.partition(" ")
    if scheme.lower() == "bearer" and token.strip():
        return token.strip()
    if request.headers.get("api-key"):
        return request.headers["api-key"]
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
