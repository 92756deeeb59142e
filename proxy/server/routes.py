"""The route handlers. What they share (settings, services, metrics) is on one instance, built
by `create_app`; the handlers themselves only read the request and choose the answer."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import replace
from functools import partial
from typing import Any

import orjson
from starlette.requests import ClientDisconnect, Request
from starlette.responses import Response
from starlette.routing import Route
from starlette.types import Scope

from proxy.chat.code_runs import FORMATS
from proxy.config import Settings
from proxy.core.errors import NotFound, PayloadTooLarge, ProxyError
from proxy.core.plan import TranslationOptions
from proxy.server.event_stream import EventStream
from proxy.server.exchange import Exchange
from proxy.server.keys import ascii_header, authorize, client_key, upstream_key
from proxy.server.lifecycle import Lifecycle
from proxy.server.metrics import CONTENT_TYPE, Metrics
from proxy.server.observe import observed
from proxy.server.seal import server_sealer
from proxy.server.services import Caller, Reply, Services, new_exchange_id, record_refusal
from proxy.traffic.apis import CHAT, RESPONSES, Api
from proxy.traffic.record import ExchangeRecorder, NullRecorder


def json_response(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(orjson.dumps(body), status, headers, media_type="application/json")


class Handlers:
    def __init__(
        self, settings: Settings, services: Services, metrics: Metrics, *, recording: bool
    ) -> None:
        self.settings = settings
        self.services = services
        self.metrics = metrics
        self.recording = recording  # a traffic log is configured: records keep their content
        self.options = TranslationOptions(
            code_format=settings.code_interpreter.format,
            models=settings.model_table,
            sealer=server_sealer(settings.auth.seal_key),
        )
        self.forwarded = frozenset(name.lower() for name in settings.upstream.forward_headers)

    @property
    def lifecycle(self) -> Lifecycle:
        return self.services.lifecycle

    async def chat_completions(self, request: Request) -> Response | EventStream:
        return await self._exchange(request, CHAT)

    async def responses(self, request: Request) -> Response | EventStream:
        return await self._exchange(request, RESPONSES)

    async def _exchange(self, request: Request, api: Api) -> Response | EventStream:
        notes = observed(request)
        recorder = self._recorder(request, api)
        try:
            # Everything the headers can refuse is refused before the body is read.
            caller = self._caller(request)
            options = self._path_options(request)
            server = self.settings.server
            body = await _body(request, server.max_body_bytes, seconds=server.body_timeout)
        except ProxyError as error:
            record_refusal(self.services, recorder, error)
            notes.logged = True
            raise
        exchange = Exchange(self.services, api, options=options, recorder=recorder, caller=caller)
        try:
            reply = await exchange.run(body)
        finally:
            notes.model, notes.logged = exchange.model, True
        return _response(reply)

    def _caller(self, request: Request) -> Caller:
        authorize(request, self.settings)
        return Caller(
            client_key=client_key(request),
            upstream_key=upstream_key(request, self.settings),
            forward_headers={
                k: ascii_header(request, k) for k in request.headers if k in self.forwarded
            },
        )

    def _recorder(self, request: Request, api: Api) -> ExchangeRecorder:
        traffic = self.settings.traffic_log
        if self.recording:
            kind: Callable[..., ExchangeRecorder] = ExchangeRecorder
        else:  # spans read the bodies, when telemetry is on
            kind = partial(NullRecorder, bodies=self.services.telemetry is not None)
        return kind(
            exchange_id=new_exchange_id(),
            started_at=time.time(),
            clock=time.monotonic,
            endpoint=_endpoint(request.scope),
            client_request_id=request.headers.get("x-request-id"),
            capture_frames=traffic.capture_frames,
            capture_chunks=traffic.capture_chunks,
        )

    async def stored_response(self, request: Request) -> Response:
        authorize(request, self.settings)
        raise NotFound(
            f"No response {request.path_params['response_id']!r}: the proxy stores no "
            "responses (each answer is streamed or returned once), so none can be retrieved, "
            "cancelled or deleted.",
            code="response_not_found",
        )

    async def list_models(self, request: Request) -> Response:
        authorize(request, self.settings)
        self._path_options(request)  # an unknown /ci/<format> is a 404 here too
        return json_response({"object": "list", "data": [_model(m) for m in self.settings.models]})

    async def get_model(self, request: Request) -> Response:
        authorize(request, self.settings)
        self._path_options(request)
        model_id = request.path_params["model_id"]
        if model_id not in self.settings.models:
            raise NotFound(
                f"The model '{model_id}' does not exist", code="model_not_found", param="model"
            )
        observed(request).model = model_id
        return json_response(_model(model_id))

    async def healthz(self, request: Request) -> Response:
        return json_response({"status": "ok"})

    async def readyz(self, request: Request) -> Response:
        if self.lifecycle.draining:
            return json_response({"status": "draining"}, 503)
        return json_response({"status": "ok"})

    async def metrics_endpoint(self, request: Request) -> Response:
        return Response(self.metrics.exposition(), media_type=CONTENT_TYPE)

    def _path_options(self, request: Request) -> TranslationOptions:
        fmt = request.path_params.get("ci_format")
        if fmt is None:
            return self.options
        if fmt not in FORMATS:
            raise NotFound(
                f"No representation {fmt!r}: use /ci/<format>/v1 with one of {', '.join(FORMATS)}"
            )
        return replace(self.options, code_format=fmt)


def routes(handlers: Handlers) -> list[Route]:
    h = handlers
    return [
        Route("/v1/chat/completions", h.chat_completions, methods=["POST"]),
        Route("/v1/responses", h.responses, methods=["POST"]),
        Route("/v1/responses/{response_id}", h.stored_response, methods=["GET", "DELETE"]),
        Route("/v1/responses/{response_id}/{action}", h.stored_response, methods=["GET", "POST"]),
        Route("/v1/models", h.list_models, methods=["GET"]),
        Route("/v1/models/{model_id:path}", h.get_model, methods=["GET"]),
        # For apps that let a user set only a base URL: /ci/<format>/v1 picks how
        # code-interpreter runs are shown.
        Route("/ci/{ci_format}/v1/chat/completions", h.chat_completions, methods=["POST"]),
        # Responses always show runs as code_interpreter_call items; the prefix is accepted
        # so one base URL serves both APIs.
        Route("/ci/{ci_format}/v1/responses", h.responses, methods=["POST"]),
        Route("/ci/{ci_format}/v1/models", h.list_models, methods=["GET"]),
        Route("/ci/{ci_format}/v1/models/{model_id:path}", h.get_model, methods=["GET"]),
        Route("/healthz", h.healthz, methods=["GET"]),
        Route("/readyz", h.readyz, methods=["GET"]),
        Route("/metrics", h.metrics_endpoint, methods=["GET"]),
    ]


async def _body(request: Request, limit: int, *, seconds: float) -> bytes:
    """The body, read within `seconds`: a client trickling it cannot hold a slot."""
    too_large = PayloadTooLarge(f"The request body is larger than {limit} bytes.")
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise too_large
    body = bytearray()
    receive = request.receive  # not request.stream(): an async generator per request
    try:
        async with asyncio.timeout(seconds):
            while True:
                message = await receive()
                if message["type"] == "http.disconnect":
                    raise ClientDisconnect
                body += message.get("body", b"")
                if len(body) > limit:
                    raise too_large
                if not message.get("more_body", False):
                    break
    except TimeoutError:
        raise ProxyError(
            f"The request body did not arrive within {seconds:g} s.",
            status=408,
            code="request_timeout",
        ) from None
    return bytes(body)


def _endpoint(scope: Scope) -> str:
    """`request.url.path` without building the whole URL (host, port, query) to read it."""
    path: str = scope["path"]
    return path.replace("?", "%3F").replace("#", "%23").replace("\\", "%5C")


def _response(reply: Reply) -> Response | EventStream:
    if reply.stream is not None:
        return EventStream(reply.stream, reply.headers)
    return json_response(reply.body, reply.status, reply.headers)


def _model(model_id: str) -> dict[str, Any]:
    return {"id": model_id, "object": "model", "created": 0, "owned_by": "dashscope"}
