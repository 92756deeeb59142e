"""The simulated DashScope service: an ASGI app speaking the native generation endpoints."""

import asyncio
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from typing import Any

import orjson
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import Route

from proxy.core.model_table import MODEL_TABLE
from proxy.core.models import ModelTable
from proxy.simulator.refusals import refusal
from proxy.simulator.scenarios import (
    Scenario,
    SimFrame,
    build_scenario,
    json_error,
    refused,
    render_frame,
    select_scenario,
)

TEXT_PATH = "/api/v1/services/aigc/text-generation/generation"
MULTIMODAL_PATH = "/api/v1/services/aigc/multimodal-generation/generation"
INVALID_API_KEY = "sk-invalid"
# A key issued in another region. Keys belong to one region, and a region's host cannot tell a
# key from elsewhere from a bad one: the answer is the same 401 InvalidApiKey.
OTHER_REGION_API_KEY = "sk-other-region"

# Fixed ids for the simulator's own refusals, so tests and logs can recognise them.
_AUTH_REQUEST_ID = "f6a7b8c9-d0e1-4f2a-9b3c-5d6e7f8a9b0c"
_BAD_REQUEST_ID = "a7b8c9d0-e1f2-4a3b-8c4d-6e7f8a9b0c1d"


@dataclass(frozen=True, slots=True)
class ReceivedRequest:
    path: str
    headers: dict[str, str]  # lower-cased names
    body: dict[str, Any]  # `{}` when the body was not a JSON object


def _parse_body(raw: bytes) -> dict[str, Any] | None:
    try:
        body = orjson.loads(raw)
    except orjson.JSONDecodeError:
        return None
    return body if isinstance(body, dict) else None


def _auth_error(authorization: str | None) -> Scenario | None:
    scheme, _, key = (authorization or "").partition(" ")
    if scheme.lower() == "bearer" and key.strip() not in (
        "",
        INVALID_API_KEY,
        OTHER_REGION_API_KEY,
    ):
        return None
    return json_error(401, "InvalidApiKey", "Invalid API-key provided.", _AUTH_REQUEST_ID)


def _scenario_for(
    path: str, headers: Mapping[str, str], body: dict[str, Any] | None, table: ModelTable
) -> Scenario:
    """Refuse what DashScope (or this simulator) would refuse; the key is checked first."""
    unauthorized = _auth_error(headers.get("authorization"))
    if unauthorized is not None:
        return unauthorized
    if body is None:
        message = "The request body is not a valid JSON object."
        return json_error(400, "InvalidParameter", message, _BAD_REQUEST_ID)
    if headers.get("x-dashscope-sse", "").strip().lower() != "enable":
        # The proxy always streams, so a non-streaming call means the proxy is broken.
        message = (
            "This simulator only serves streaming calls: send the header X-DashScope-SSE: enable."
        )
        return json_error(400, "InvalidParameter", message, _BAD_REQUEST_ID)
    multimodal = path == MULTIMODAL_PATH
    refused_with = refusal(body, multimodal=multimodal, table=table)
    if refused_with is not None:
        return refused(refused_with)
    return build_scenario(select_scenario(body), body, multimodal=multimodal, table=table)


def _json_response(scenario: Scenario) -> Response:
    return Response(
        orjson.dumps(scenario.body),
        status_code=scenario.http_status,
        media_type=scenario.content_type,
        headers={"x-request-id": scenario.request_id},
    )


async def _frames(frames: tuple[SimFrame, ...], delay: float) -> AsyncIterator[bytes]:
    for n, frame in enumerate(frames, start=1):
        # A frame's own pause (the interpreter running code) replaces the usual spacing.
        wait = frame.pause or (delay if n > 1 else 0.0)
        if wait > 0:
            await asyncio.sleep(wait)
        yield render_frame(n, frame)


def _stream_response(scenario: Scenario, delay: float) -> Response:
    headers = {"x-request-id": scenario.request_id, "x-dashscope-call-gateway": "true"}
    return StreamingResponse(
        _frames(scenario.frames, delay),
        status_code=scenario.http_status,
        media_type=scenario.content_type,
        headers=headers,
    )


def _respond(scenario: Scenario, delay: float) -> Response:
    if scenario.frames:
        return _stream_response(scenario, delay)
    return _json_response(scenario)


def create_simulator_app(*, frame_delay: float = 0.0, table: ModelTable = MODEL_TABLE) -> Starlette:
    """A fresh simulator; `app.state.received` lists every request it got, oldest first.
    `table` says which models exist how (endpoint, thinking, code interpreter)."""

    async def generation(request: Request) -> Response:
        body = _parse_body(await request.body())
        path = request.url.path
        received: list[ReceivedRequest] = request.app.state.received
        received.append(ReceivedRequest(path, dict(request.headers), body or {}))
        return _respond(_scenario_for(path, request.headers, body, table), frame_delay)

    routes = [Route(path, generation, methods=["POST"]) for path in (TEXT_PATH, MULTIMODAL_PATH)]
    app = Starlette(routes=routes)
    app.state.received = []
    return app
