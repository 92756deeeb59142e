"""What the proxy reports back that no other test pinned down (each was a surviving mutant):

- the prompt tokens DashScope served from its cache reach `dashscope_proxy_tokens_total` as
  `kind="cached"`, besides the client's usage on both APIs;
- a Response object echoes `parallel_tool_calls` as OpenAI does: `true` when the client left
  it out, its own value otherwise.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import Route

from proxy.simulator import build_scenario, render_frame
from tests.conftest import CLIENT_KEY, RunningProxy
from tests.responses_contract import check_event_bytes

MODEL = "qwen3-max"
CACHED = 512


def _frames_with_a_cache_hit() -> list[bytes]:
    """The simulator's plain answer, its usage saying part of the prompt came from the cache
    (DashScope's `usage.prompt_tokens_details.cached_tokens`)."""
    body = {"parameters": {"incremental_output": True, "enable_thinking": False}}
    frames = build_scenario("plain_text", body).frames
    for frame in frames:
        usage = frame.data.get("usage")
        if isinstance(usage, dict):
            usage["prompt_tokens_details"] = {"cached_tokens": CACHED}
    return [render_frame(n, frame) for n, frame in enumerate(frames, start=1)]


def _caching_upstream() -> Starlette:
    async def frames() -> AsyncIterator[bytes]:
        for frame in _frames_with_a_cache_hit():
            yield frame

    async def generation(request: Request) -> Response:
        return StreamingResponse(frames(), media_type="text/event-stream")

    return Starlette(routes=[Route("/{path:path}", generation, methods=["POST"])])


@pytest.fixture
def caching_proxy(
    serve: Callable[[Any], str], proxy_app: Callable[..., RunningProxy]
) -> Iterator[httpx.Client]:
    proxy = proxy_app(serve(_caching_upstream()), retries=0)
    headers = {"authorization": f"Bearer {CLIENT_KEY}"}
    with httpx.Client(base_url=proxy.url, headers=headers, timeout=30) as http:
        yield http


def cached_tokens_metric(http: httpx.Client) -> float:
    samples = [
        sample
        for family in text_string_to_metric_families(http.get("/metrics").text)
        for sample in family.samples
        if sample.name == "dashscope_proxy_tokens_total" and sample.labels["kind"] == "cached"
    ]
    assert samples, "no dashscope_proxy_tokens_total{kind=cached} sample"
    return sum(sample.value for sample in samples)


def test_cached_prompt_tokens_are_counted_for_chat(caching_proxy: httpx.Client) -> None:
    chat = {"model": MODEL, "messages": [{"role": "user", "content": "hi"}], "stream": False}
    answer = caching_proxy.post("/v1/chat/completions", json=chat)
    assert answer.status_code == 200, answer.text
    assert answer.json()["usage"]["prompt_tokens_details"] == {"cached_tokens": CACHED}
    assert cached_tokens_metric(caching_proxy) == CACHED


def test_cached_prompt_tokens_are_counted_for_responses(caching_proxy: httpx.Client) -> None:
    for _ in range(2):
        answer = caching_proxy.post("/v1/responses", json={"model": MODEL, "input": "hi"})
        assert answer.status_code == 200, answer.text
        details = answer.json()["usage"]["input_tokens_details"]
        assert details == {"cached_tokens": CACHED, "cache_write_tokens": 0}
    assert cached_tokens_metric(caching_proxy) == 2 * CACHED


# ---- parallel_tool_calls in the Response object -----------------------------------------------


@pytest.mark.parametrize(
    ("sent", "echoed"),
    [({}, True), ({"parallel_tool_calls": False}, False), ({"parallel_tool_calls": True}, True)],
    ids=["left out", "false", "true"],
)
def test_the_response_echoes_parallel_tool_calls(
    raw: httpx.Client, sent: dict[str, Any], echoed: bool
) -> None:
    request = {"model": MODEL, "input": "hi", **sent}
    whole = raw.post("/v1/responses", json=request)
    assert whole.status_code == 200, whole.text
    assert whole.json()["parallel_tool_calls"] is echoed
    streamed = raw.post("/v1/responses", json={**request, "stream": True})
    result = check_event_bytes(streamed.content)
    created = result.events[0]["response"]
    assert (created["parallel_tool_calls"], result.response["parallel_tool_calls"]) == (
        echoed,
        echoed,
    )
