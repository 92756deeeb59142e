"""The Starlette app driven in-process (httpx.ASGITransport), with the simulator in the same
event loop as its upstream (behind a loopback server): request validation before anything goes
upstream, routes, and error shapes. The model routes are also exercised with the real SDK
against the loopback proxy."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import openai
import pytest
from starlette.applications import Starlette

from proxy.config import Settings, UpstreamSettings
from proxy.server.app import create_app
from proxy.simulator import ReceivedRequest, create_simulator_app
from tests.contract import check_sse_bytes
from tests.loop_upstream import loop_upstream

MODELS = ("qwen3-max-preview", "qwen-plus", "Qwen/Qwen3-Coder-Plus")
CHAT = "/v1/chat/completions"


class InProcess:
    """The proxy app and its upstream simulator, both in this event loop."""

    def __init__(self, api_key: str, upstream_url: str) -> None:
        self.simulator = create_simulator_app()
        settings = Settings(
            upstream=UpstreamSettings(base_url=upstream_url, api_key=api_key), models=MODELS
        )
        self.app: Starlette = create_app(settings)

    @property
    def received(self) -> list[ReceivedRequest]:
        log: list[ReceivedRequest] = self.simulator.state.received
        return log


async def _asgi_client(api_key: str) -> AsyncIterator[tuple[InProcess, httpx.AsyncClient]]:
    simulator: list[httpx.AsyncClient] = []

    async def upstream(request: httpx.Request) -> httpx.Response:
        return await simulator[0].send(request, stream=True)

    async with loop_upstream(upstream) as url:
        proxy = InProcess(api_key, url)
        simulator.append(httpx.AsyncClient(transport=httpx.ASGITransport(app=proxy.simulator)))
        async with simulator[0]:
            async for pair in _proxy_client(proxy):
                yield pair


async def _proxy_client(proxy: InProcess) -> AsyncIterator[tuple[InProcess, httpx.AsyncClient]]:
    transport = httpx.ASGITransport(app=proxy.app)
    async with (
        proxy.app.router.lifespan_context(proxy.app),
        httpx.AsyncClient(transport=transport, base_url="http://proxy.test") as http,
    ):
        yield proxy, http


@pytest.fixture
async def asgi() -> AsyncIterator[tuple[InProcess, httpx.AsyncClient]]:
    """Server-key mode."""
    async for pair in _asgi_client("sk-server"):
        yield pair


@pytest.fixture
async def asgi_passthrough() -> AsyncIterator[tuple[InProcess, httpx.AsyncClient]]:
    async for pair in _asgi_client(""):
        yield pair


def openai_error(response: httpx.Response, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/json"
    assert "Traceback" not in response.text
    error: dict[str, Any] = response.json()["error"]
    assert set(error) == {"message", "type", "param", "code"}
    return error


def chat(**fields: Any) -> dict[str, Any]:
    return {"model": "qwen-plus", "messages": [{"role": "user", "content": "hi"}], **fields}


# ---- request validation ---------------------------------------------------------------------

TEXT_PART = {"type": "text", "text": "x"}
FILE_PART = {"type": "file", "file": {"file_id": "file-1"}}

INVALID = [
    ({"messages": [{"role": "user", "content": "hi"}]}, "model"),
    (chat(model=""), "model"),
    (chat(model=5), "model"),
    ({"model": "qwen-plus"}, "messages"),
    (chat(messages=[]), "messages"),
    (chat(messages="hi"), "messages"),
    (chat(messages=["hi"]), "messages[0]"),
    (chat(messages=[{"role": "robot", "content": "hi"}]), "messages[0].role"),
    (chat(messages=[{"role": "user", "content": 5}]), "messages[0].content"),
    (
        chat(messages=[{"role": "user", "content": [TEXT_PART, FILE_PART]}]),
        "messages[0].content[1]",
    ),
    (chat(messages=[{"role": "tool", "content": "42"}]), "messages[0].tool_call_id"),
    (chat(messages=[{"role": "assistant", "tool_calls": {}}]), "messages[0].tool_calls"),
    (chat(temperature="hot"), "temperature"),
    (chat(temperature=True), "temperature"),
    (chat(seed=1.5), "seed"),
    (chat(stop=5), "stop"),
    (chat(stream="yes"), "stream"),
    (chat(stream_options=[]), "stream_options"),
    (chat(stream=True, stream_options={"include_usage": "yes"}), "stream_options.include_usage"),
    (chat(enable_search="yes"), "enable_search"),
    (chat(search_options=[]), "search_options"),
    (chat(top_k=1.5), "top_k"),
    (chat(thinking_budget="big"), "thinking_budget"),
]


@pytest.mark.parametrize(("body", "field"), INVALID, ids=[f for _, f in INVALID])
async def test_invalid_request_is_a_400_before_any_upstream_call(
    asgi: tuple[InProcess, httpx.AsyncClient], body: dict[str, Any], field: str
) -> None:
    proxy, http = asgi
    response = await http.post(CHAT, json=body)
    error = openai_error(response, 400)
    assert error["param"] == field
    assert f"'{field}'" in error["message"]
    assert (error["type"], error["code"]) == ("invalid_request_error", "invalid_request")
    assert response.headers["x-should-retry"] == "false"
    assert proxy.received == []


@pytest.mark.parametrize(
    "raw_body", [b"", b"{not json", b"\xff\xfe", b'{"model": "qwen-plus",}'], ids=repr
)
async def test_body_that_is_not_json_is_a_400(
    asgi: tuple[InProcess, httpx.AsyncClient], raw_body: bytes
) -> None:
    proxy, http = asgi
    response = await http.post(CHAT, content=raw_body)
    assert "not valid JSON" in openai_error(response, 400)["message"]
    assert proxy.received == []


async def test_body_that_is_not_an_object_is_a_400(
    asgi: tuple[InProcess, httpx.AsyncClient],
) -> None:
    _, http = asgi
    response = await http.post(CHAT, json=[chat()])
    assert "JSON object" in openai_error(response, 400)["message"]


async def test_tools_and_code_interpreter_cannot_be_combined(
    asgi: tuple[InProcess, httpx.AsyncClient],
) -> None:
    proxy, http = asgi
    tool = {"type": "function", "function": {"name": "f"}}
    body = chat(tools=[tool], enable_code_interpreter=True, enable_thinking=True)
    error = openai_error(await http.post(CHAT, json=body), 400)
    assert error["param"] == "tools"
    assert "cannot be combined" in error["message"]
    assert proxy.received == []


# ---- keys -----------------------------------------------------------------------------------


async def test_pass_through_without_any_key_is_a_401(
    asgi_passthrough: tuple[InProcess, httpx.AsyncClient],
) -> None:
    proxy, http = asgi_passthrough
    for headers in ({}, {"authorization": "Bearer "}, {"authorization": "Basic abc"}):
        response = await http.post(CHAT, json=chat(), headers=headers)
        error = openai_error(response, 401)
        assert (error["type"], error["code"]) == ("invalid_request_error", "invalid_api_key")
        assert response.headers["x-should-retry"] == "false"
    assert proxy.received == []


async def test_pass_through_accepts_an_api_key_header(
    asgi_passthrough: tuple[InProcess, httpx.AsyncClient],
) -> None:
    proxy, http = asgi_passthrough
    response = await http.post(CHAT, json=chat(), headers={"api-key": "sk-azure-style"})
    assert response.status_code == 200
    (upstream,) = proxy.received
    assert upstream.headers["authorization"] == "Bearer sk-azure-style"


# ---- chat completions in process ------------------------------------------------------------


async def test_stream_in_process_obeys_the_stream_rules(
    asgi: tuple[InProcess, httpx.AsyncClient],
) -> None:
    _, http = asgi
    # qwen-plus has no code interpreter (docs/models.md); qwen3-max does.
    body = chat(model="qwen3-max", stream=True, enable_code_interpreter=True, enable_thinking=True)
    response = await http.post(CHAT, json=body)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/event-stream")
    assert response.headers["cache-control"] == "no-cache"
    result = check_sse_bytes(response.content)
    assert result.error is None
    assert result.message["tool_calls"][0]["function"]["name"] == "code_interpreter"


async def test_nonstream_in_process(asgi: tuple[InProcess, httpx.AsyncClient]) -> None:
    _, http = asgi
    response = await http.post(CHAT, json=chat())
    assert response.status_code == 200
    completion = response.json()
    assert completion["object"] == "chat.completion"
    assert completion["choices"][0]["finish_reason"] == "stop"
    assert completion["usage"]["total_tokens"] > 0


async def test_sse_error_with_request_id_only_in_header(
    asgi_passthrough: tuple[InProcess, httpx.AsyncClient],
) -> None:
    """A non-2xx event-stream error whose payload lacks a request id: the header's is used."""

    def handler(request: httpx.Request) -> httpx.Response:
        body = b'id:1\nevent:error\n:HTTP_STATUS/429\ndata:{"code":"Arrearage","message":"pay"}\n\n'
        headers = {"content-type": "text/event-stream", "x-request-id": "hdr-id-1"}
        return httpx.Response(429, headers=headers, content=body)

    async with loop_upstream(handler) as url:
        settings = Settings(upstream=UpstreamSettings(base_url=url, api_key="k"))
        app = create_app(settings)
        transport = httpx.ASGITransport(app=app)
        async with (
            app.router.lifespan_context(app),
            httpx.AsyncClient(transport=transport, base_url="http://proxy.test") as http,
        ):
            response = await http.post(CHAT, json=chat())
    error = openai_error(response, 429)
    assert error["code"] == "Arrearage"
    assert response.headers["x-request-id"] == "hdr-id-1"
    assert response.headers["x-should-retry"] == "false"


# ---- routes ---------------------------------------------------------------------------------


async def test_models_list_and_get(asgi: tuple[InProcess, httpx.AsyncClient]) -> None:
    _, http = asgi
    listing = (await http.get("/v1/models")).json()
    assert listing["object"] == "list"
    assert [m["id"] for m in listing["data"]] == list(MODELS)
    assert all(m["object"] == "model" for m in listing["data"])
    for path in ("/v1/models/qwen-plus", "/v1/models/Qwen/Qwen3-Coder-Plus"):
        response = await http.get(path)
        assert response.status_code == 200
        assert response.json()["id"] == path.removeprefix("/v1/models/")


async def test_unknown_model_is_a_404_model_not_found(
    asgi: tuple[InProcess, httpx.AsyncClient],
) -> None:
    _, http = asgi
    error = openai_error(await http.get("/v1/models/gpt-nope"), 404)
    assert (error["code"], error["param"]) == ("model_not_found", "model")


@pytest.mark.parametrize("path", ["/healthz", "/readyz"])
async def test_health_routes(asgi: tuple[InProcess, httpx.AsyncClient], path: str) -> None:
    _, http = asgi
    response = await http.get(path)
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


async def test_unknown_route_is_a_404_in_openai_shape(
    asgi: tuple[InProcess, httpx.AsyncClient],
) -> None:
    _, http = asgi
    error = openai_error(await http.post("/v1/completions", json={}), 404)
    assert error["code"] == "not_found"
    assert "/v1/completions" in error["message"]


async def test_wrong_method_is_a_405_in_openai_shape(
    asgi: tuple[InProcess, httpx.AsyncClient],
) -> None:
    _, http = asgi
    error = openai_error(await http.get(CHAT), 405)
    assert error["type"] == "invalid_request_error"


# ---- the same routes through the real SDK, over loopback ------------------------------------


def test_sdk_lists_the_configured_models(client: openai.OpenAI) -> None:
    ids = [model.id for model in client.models.list()]
    assert "qwen3-max-preview" in ids
    assert "Qwen/Qwen3-Coder-Plus" in ids


def test_sdk_retrieves_models_including_ids_with_a_slash(client: openai.OpenAI) -> None:
    assert client.models.retrieve("qwen3-max-preview").id == "qwen3-max-preview"
    model = client.models.retrieve("Qwen/Qwen3-Coder-Plus")
    assert (model.id, model.object, model.owned_by) == (
        "Qwen/Qwen3-Coder-Plus",
        "model",
        "dashscope",
    )


def test_sdk_unknown_model_is_not_found(client: openai.OpenAI) -> None:
    with pytest.raises(openai.NotFoundError) as caught:
        client.models.retrieve("gpt-4o")
    assert caught.value.code == "model_not_found"
    assert caught.value.param == "model"


def test_sdk_healthz_over_loopback(proxy_url: str) -> None:
    assert httpx.get(f"{proxy_url}/healthz").status_code == 200
    response = httpx.get(f"{proxy_url}/no/such/route")
    assert openai_error(response, 404)["code"] == "not_found"
