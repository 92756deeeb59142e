"""GenAI spans and metrics reach a real OTLP/HTTP receiver, from proxies in front of the
simulator. Each test stops its proxy before reading: the lifespan's shutdown exports
everything queued (spans and a last metrics collection)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from typing import Any

import httpx
import pytest

from proxy.core.telemetry_settings import TelemetrySettings
from proxy.server.app import create_app
from proxy.server.serving import BackgroundServer
from proxy.simulator.scripts import SEED_SINGLE_RUN_ID, TWO_RUNS_SECOND_CODE
from tests.conftest import CLIENT_KEY, SERVER_KEY, proxy_settings
from tests.otlp_receiver import Received, ReceivedSpan, attributes_of, http_receiver

MODEL = "qwen3-max-preview"
CODE_FLAGS = {"enable_code_interpreter": True, "enable_thinking": True}
CLIENT_TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"
CLIENT_SPAN = "00f067aa0ba902b7"
TRACEPARENT = f"00-{CLIENT_TRACE}-{CLIENT_SPAN}-01"
# Key-shaped only once assembled: no literal in the repository looks like a real key.
PASTED_KEY = "sk-" + "fake" + "0123456789abcdef" + "0123456789ab"
CLIENT, INTERNAL = 3, 1  # the proto's span kinds
ERROR = 2  # the proto's status code


@dataclass
class TracedProxy:
    url: str
    server: BackgroundServer
    received: Received
    app: Any

    def post(self, path: str, body: dict[str, Any], **headers: str) -> httpx.Response:
        return httpx.post(
            f"{self.url}{path}",
            json=body,
            headers={"authorization": f"Bearer {CLIENT_KEY}", **headers},
            timeout=30,
        )

    def stop(self) -> Received:
        self.server.stop()
        return self.received


@pytest.fixture
def traced_proxy(simulator_url: str) -> Iterator[Callable[..., TracedProxy]]:
    """`traced_proxy(capture_message_content=...)`: a proxy exporting to a fresh receiver."""
    with http_receiver() as (endpoint, received):
        servers: list[BackgroundServer] = []

        def start(**telemetry: Any) -> TracedProxy:
            settings = replace(
                proxy_settings(simulator_url, api_key=SERVER_KEY),
                telemetry=TelemetrySettings(endpoint=endpoint, **telemetry),
            )
            app = create_app(settings)
            server = BackgroundServer(app).start()
            servers.append(server)
            return TracedProxy(server.url, server, received, app)

        yield start
        for server in servers:
            server.stop()


def chat(text: str, **fields: Any) -> dict[str, Any]:
    return {"model": MODEL, "messages": [{"role": "user", "content": text}], **fields}


def labels(point: Any) -> dict[str, Any]:
    return attributes_of(point.attributes)


def only(spans: list[ReceivedSpan]) -> ReceivedSpan:
    assert len(spans) == 1, spans
    return spans[0]


def test_a_code_interpreter_exchange_is_one_chat_span_with_its_upstream_call_and_run(
    traced_proxy: Callable[..., TracedProxy],
) -> None:
    proxy = traced_proxy()
    body = chat("What is 123**21?", stream=True, temperature=0.5, top_p=0.8, max_tokens=500)
    response = proxy.post("/v1/chat/completions", {**body, **CODE_FLAGS}, traceparent=TRACEPARENT)
    assert response.status_code == 200
    received = proxy.stop()

    span = only(received.named(f"chat {MODEL}"))
    attributes = span.attributes
    assert span.kind == CLIENT
    assert attributes["gen_ai.operation.name"] == "chat"
    assert attributes["gen_ai.provider.name"] == "dashscope"
    assert attributes["gen_ai.request.model"] == MODEL
    assert attributes["gen_ai.response.model"] == MODEL
    assert attributes["gen_ai.response.id"] == f"chatcmpl-{response.headers['x-proxy-request-id']}"
    assert attributes["gen_ai.response.finish_reasons"] == ["stop"]
    assert attributes["gen_ai.request.temperature"] == 0.5
    assert attributes["gen_ai.request.top_p"] == 0.8
    assert attributes["gen_ai.request.max_tokens"] == 500
    assert attributes["gen_ai.request.stream"] is True
    assert attributes["gen_ai.usage.input_tokens"] > 0
    assert attributes["gen_ai.usage.output_tokens"] > 0
    assert attributes["dashscope.request_id"] == SEED_SINGLE_RUN_ID
    assert "error.type" not in attributes
    # The client's trace goes on: same trace, the client's span as parent.
    assert (span.trace_id, span.parent_span_id) == (CLIENT_TRACE, CLIENT_SPAN)
    assert span.resource["service.name"] == "dashscope-proxy"

    upstream = only(received.named("POST"))
    assert (upstream.kind, upstream.parent_span_id) == (CLIENT, span.span_id)
    assert upstream.attributes["http.request.method"] == "POST"
    assert upstream.attributes["url.full"].endswith(
        "/api/v1/services/aigc/text-generation/generation"
    )
    assert upstream.attributes["http.response.status_code"] == 200

    run = only(received.named("execute_tool code_interpreter"))
    assert (run.kind, run.parent_span_id, run.trace_id) == (INTERNAL, span.span_id, CLIENT_TRACE)
    assert run.attributes["gen_ai.operation.name"] == "execute_tool"
    assert run.attributes["gen_ai.tool.name"] == "code_interpreter"
    assert span.start_ns <= upstream.start_ns <= run.start_ns <= run.end_ns <= span.end_ns


def test_without_the_opt_in_no_span_holds_content_nor_any_key(
    traced_proxy: Callable[..., TracedProxy],
) -> None:
    proxy = traced_proxy()
    text = f"What is 123**21? My key is {PASTED_KEY}"
    assert proxy.post("/v1/chat/completions", {**chat(text), **CODE_FLAGS}).status_code == 200
    received = proxy.stop()
    assert len(received.spans) == 3
    for span in received.spans:
        assert not {"gen_ai.input.messages", "gen_ai.output.messages"} & set(span.attributes)
        assert "gen_ai.tool.call.arguments" not in span.attributes
    raw = b"".join(received.bodies)
    for secret in (SERVER_KEY, CLIENT_KEY, PASTED_KEY, "123**21", "123 ** 21"):
        assert secret.encode() not in raw


def test_with_the_opt_in_content_and_code_are_on_the_spans_redacted(
    traced_proxy: Callable[..., TracedProxy],
) -> None:
    proxy = traced_proxy(capture_message_content=True)
    text = f"[sim:seed_two_runs] Compute. My key is {PASTED_KEY} and {CLIENT_KEY}"
    assert proxy.post("/v1/chat/completions", {**chat(text), **CODE_FLAGS}).status_code == 200
    received = proxy.stop()
    span = only(received.named(f"chat {MODEL}"))
    inputs = span.attributes["gen_ai.input.messages"]
    assert "Compute. My key is" in inputs
    outputs = span.attributes["gen_ai.output.messages"]
    assert '"role":"assistant"' in outputs
    assert '"finish_reason":"stop"' in outputs
    runs = received.named("execute_tool code_interpreter")
    assert len(runs) == 2
    assert all(r.parent_span_id == span.span_id for r in runs)
    second = {r.attributes["dashscope_proxy.code_run"]: r for r in runs}[1]
    codes = second.attributes["gen_ai.tool.call.arguments"]
    assert TWO_RUNS_SECOND_CODE.replace('"', '\\"') in codes
    raw = b"".join(received.bodies)
    for secret in (SERVER_KEY, CLIENT_KEY, PASTED_KEY):
        assert secret.encode() not in raw


def test_an_upstream_refusal_is_an_error_span_with_dashscopes_code(
    traced_proxy: Callable[..., TracedProxy],
) -> None:
    proxy = traced_proxy()
    response = proxy.post("/v1/chat/completions", chat("[sim:error_400] hi"))
    assert response.status_code == 400
    received = proxy.stop()
    span = only(received.named(f"chat {MODEL}"))
    assert span.attributes["error.type"] == "InvalidParameter"
    assert span.status_code == ERROR
    assert "gen_ai.usage.input_tokens" not in span.attributes
    upstream = only(received.named("POST"))
    assert upstream.attributes["error.type"] == "InvalidParameter"
    assert upstream.status_code == ERROR


def test_a_responses_exchange_has_its_response_id_and_a_new_trace_without_traceparent(
    traced_proxy: Callable[..., TracedProxy],
) -> None:
    proxy = traced_proxy()
    response = proxy.post(
        "/v1/responses", {"model": MODEL, "input": "Say hi", "max_output_tokens": 64}
    )
    assert response.status_code == 200
    received = proxy.stop()
    span = only(received.named(f"chat {MODEL}"))
    assert span.attributes["gen_ai.response.id"] == response.json()["id"]
    assert span.attributes["gen_ai.request.max_tokens"] == 64
    assert span.parent_span_id == ""
    assert span.trace_id != CLIENT_TRACE


def test_genai_metrics_are_exported_with_token_types(
    traced_proxy: Callable[..., TracedProxy],
) -> None:
    proxy = traced_proxy()
    assert proxy.post("/v1/chat/completions", {**chat("hi"), **CODE_FLAGS}).status_code == 200
    received = proxy.stop()
    (usage,) = received.metrics["gen_ai.client.token.usage"][-1:]
    points = usage.histogram.data_points
    types = {labels(point)["gen_ai.token.type"] for point in points}
    assert types == {"input", "output"}
    assert all(point.count == 1 for point in points)
    for name in ("gen_ai.client.operation.duration", "gen_ai.client.operation.time_to_first_chunk"):
        (metric,) = received.metrics[name][-1:]
        assert metric.unit == "s"
        (point,) = metric.histogram.data_points
        assert point.count == 1
        assert labels(point)["gen_ai.request.model"] == MODEL
        assert labels(point)["gen_ai.provider.name"] == "dashscope"
