"""One traffic record per exchange, whatever its outcome, through real proxies on loopback.

Each test stops its proxy before reading the log: the lifespan closes the writer, which writes
everything queued first.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import orjson

from proxy.config import Settings, TrafficLogSettings, UpstreamSettings
from proxy.server.app import create_app
from proxy.server.traffic_writer import TrafficWriter
from proxy.simulator import ReceivedRequest
from proxy.simulator.scripts import MIDSTREAM_PARTIAL, SEED_ANSWER, SEED_SINGLE_RUN_ID
from tests.conftest import ScenarioText, TrafficProxy, read_jsonl
from tests.loop_upstream import loop_upstream
from tests.test_disconnect import REQUEST, SlowUpstream, answer_with, leave_after_first_chunk

MODEL = "qwen3-max-preview"
CODE_FLAGS = {"enable_code_interpreter": True, "enable_thinking": True}


def body(text: str, *, stream: bool = True, **fields: Any) -> dict[str, Any]:
    return {
        "model": MODEL,
        "messages": [{"role": "user", "content": text}],
        "stream": stream,
        **fields,
    }


def start(traffic_proxy: Callable[..., TrafficProxy], tmp_path: Path) -> tuple[TrafficProxy, Path]:
    path = tmp_path / "logs" / "traffic.jsonl"
    return traffic_proxy(TrafficLogSettings(path=str(path))), path


def exchange(
    proxy: TrafficProxy, path: Path, payload: Any, **headers: str
) -> tuple[httpx.Response, dict[str, Any]]:
    """One request, then the proxy stopped and its only record read."""
    content = payload if isinstance(payload, bytes) else orjson.dumps(payload)
    headers = {
        "authorization": "Bearer sk-client-key",
        "content-type": "application/json",
        **headers,
    }
    response = httpx.post(
        f"{proxy.url}/v1/chat/completions", content=content, headers=headers, timeout=30
    )
    proxy.stop()
    (record,) = read_jsonl(path)
    assert record["id"] == response.headers["x-proxy-request-id"]
    return response, record


def test_a_streamed_code_interpreter_run_is_recorded_whole(
    traffic_proxy: Callable[..., TrafficProxy],
    tmp_path: Path,
    scenario_text: Callable[..., ScenarioText],
) -> None:
    proxy, path = start(traffic_proxy, tmp_path)
    payload = body("What is 123 to the power of 21?", store=True, **CODE_FLAGS)
    response, record = exchange(proxy, path, payload, **{"x-request-id": "client-req-1"})
    assert response.status_code == 200
    assert (record["status"], record["outcome"], record["error"]) == (200, "ok", None)
    assert (record["model"], record["stream"], record["v"]) == (MODEL, True, 2)
    assert record["endpoint"] == "/v1/chat/completions"
    assert record["client_request_id"] == "client-req-1"
    assert record["upstream_request_id"] == SEED_SINGLE_RUN_ID == response.headers["x-request-id"]
    assert record["request"] == payload
    upstream = record["upstream_request"]
    assert upstream["path"].endswith("/text-generation/generation")
    assert upstream["body"]["parameters"]["incremental_output"] is True
    assert record["notes"] == ["store: dropped (no DashScope equivalent)"]
    assert response.headers["x-dashscope-proxy-notes"] == "; ".join(record["notes"])
    (choice,) = record["response"]["choices"]
    assert choice["finish_reason"] == "stop"
    assert choice["message"]["content"] == SEED_ANSWER
    assert choice["message"]["reasoning_content"] == scenario_text("seed_single_run").reasoning
    assert "tool_calls" not in choice["message"]  # the model's own output: runs are below
    assert record["response"]["code_runs"] == ["123**21"]
    usage = record["usage"]  # even though the client did not ask for include_usage
    assert usage["completion_tokens_details"]["reasoning_tokens"] > 0
    assert usage["x_tools"] == {"code_interpreter": {"count": 1}}
    assert usage["total_tokens"] == usage["prompt_tokens"] + usage["completion_tokens"]
    timings = record["timings_ms"]
    assert None not in timings.values()
    assert 0 <= timings["upstream_first_frame"] <= timings["first_byte"] <= timings["total"]
    assert record["translation"]["include_usage"] is False


def test_a_non_stream_answer_is_recorded(
    traffic_proxy: Callable[..., TrafficProxy], tmp_path: Path
) -> None:
    proxy, path = start(traffic_proxy, tmp_path)
    response, record = exchange(proxy, path, body("Hello", stream=False))
    assert response.status_code == 200
    assert (record["status"], record["outcome"], record["stream"]) == (200, "ok", False)
    (choice,) = record["response"]["choices"]
    assert choice["message"]["content"] == response.json()["choices"][0]["message"]["content"]
    assert record["usage"] == response.json()["usage"]
    assert record["client_request_id"] is None
    timings = record["timings_ms"]
    assert 0 <= timings["upstream_first_frame"] <= timings["first_byte"] <= timings["total"]


def test_an_upstream_error_before_the_first_byte(
    traffic_proxy: Callable[..., TrafficProxy], tmp_path: Path
) -> None:
    proxy, path = start(traffic_proxy, tmp_path)
    response, record = exchange(proxy, path, body("Hi [sim:error_429]"))
    assert response.status_code == 429
    assert (record["status"], record["outcome"]) == (429, "error")
    assert record["error"]["code"] == "Throttling.RateQuota"
    assert record["error"]["type"] == "requests"  # OpenAI's type for a rate limit
    assert record["upstream_request_id"] == response.headers["x-request-id"]
    assert record["timings_ms"]["first_byte"] is None
    assert record["response"]["choices"] == []


def test_an_error_event_as_the_first_frame(
    traffic_proxy: Callable[..., TrafficProxy], tmp_path: Path
) -> None:
    proxy, path = start(traffic_proxy, tmp_path)
    response, record = exchange(proxy, path, body("Hi [sim:error_event_first]"))
    assert response.status_code == 400
    assert (record["status"], record["outcome"]) == (400, "error")
    assert record["error"]["code"] == "InvalidParameter"
    assert record["upstream_request_id"] == "7671ecd8-93cc-9ee9-bc89-739f0fd8b809"
    assert record["timings_ms"]["first_byte"] is None


def test_an_error_after_the_first_byte_keeps_the_partial_answer(
    traffic_proxy: Callable[..., TrafficProxy], tmp_path: Path
) -> None:
    proxy, path = start(traffic_proxy, tmp_path)
    response, record = exchange(proxy, path, body("Hi [sim:error_event_midstream]"))
    assert response.status_code == 200
    assert (record["status"], record["outcome"]) == (200, "error")
    assert record["error"]["code"] == "DataInspectionFailed"
    assert record["response"]["choices"][0]["message"]["content"] == MIDSTREAM_PARTIAL
    assert record["timings_ms"]["first_byte"] is not None


def test_a_truncated_stream(traffic_proxy: Callable[..., TrafficProxy], tmp_path: Path) -> None:
    proxy, path = start(traffic_proxy, tmp_path)
    response, record = exchange(proxy, path, body("Hi [sim:truncated]"))
    assert response.status_code == 200
    assert (record["status"], record["outcome"]) == (200, "error")
    assert record["error"]["code"] == "upstream_truncated"
    assert record["response"]["choices"][0]["finish_reason"] is None


def local_turn() -> dict[str, Any]:
    """Only a result for the proxy's own interpreter call: the proxy answers by itself."""
    call = {"id": "call_ci_0123456789abcdef_0", "type": "function"}
    function = {"name": "code_interpreter", "arguments": '{"code": "6*7"}'}
    messages = [
        {"role": "user", "content": "What is 6 times 7?"},
        {
            "role": "assistant",
            "content": "It is 42.",
            "tool_calls": [{**call, "function": function}],
        },
        {"role": "tool", "tool_call_id": call["id"], "content": ""},
    ]
    return {"model": MODEL, "messages": messages, "stream": True, **CODE_FLAGS}


def test_a_local_answer_is_recorded_without_an_upstream_call(
    traffic_proxy: Callable[..., TrafficProxy], tmp_path: Path, received: list[ReceivedRequest]
) -> None:
    proxy, path = start(traffic_proxy, tmp_path)
    response, record = exchange(proxy, path, local_turn())
    assert response.status_code == 200
    assert received == []
    assert (record["status"], record["outcome"], record["error"]) == (200, "local", None)
    assert record["response"]["choices"][0]["message"]["content"] == "It is 42."
    assert record["upstream_request_id"] is None
    assert record["timings_ms"]["upstream_first_frame"] is None


def test_a_local_answer_records_no_upstream_request(
    traffic_proxy: Callable[..., TrafficProxy], tmp_path: Path
) -> None:
    # `upstream_request` is what was "actually sent to DashScope": nothing, for a local answer.
    proxy, path = start(traffic_proxy, tmp_path)
    _, record = exchange(proxy, path, local_turn())
    assert record["outcome"] == "local"
    assert record["upstream_request"] is None


def test_a_malformed_body_is_recorded_as_a_400(
    traffic_proxy: Callable[..., TrafficProxy], tmp_path: Path
) -> None:
    proxy, path = start(traffic_proxy, tmp_path)
    response, record = exchange(
        proxy, path, b'{"model": "qwen-plus", "messages": [', **{"x-request-id": "r-9"}
    )
    assert response.status_code == 400
    assert (record["status"], record["outcome"]) == (400, "error")
    assert record["error"]["code"] == response.json()["error"]["code"]
    assert record["error"]["type"] == "invalid_request_error"
    assert (record["request"], record["model"], record["upstream_request"]) == (None, None, None)
    assert record["client_request_id"] == "r-9"


async def test_a_client_that_leaves_mid_stream_is_recorded_as_cancelled(tmp_path: Path) -> None:
    path = tmp_path / "traffic.jsonl"
    upstream = SlowUpstream()

    async with loop_upstream(answer_with(upstream)) as url:
        settings = Settings(
            upstream=UpstreamSettings(base_url=url, api_key="sk-test"),
            traffic_log=TrafficLogSettings(path=str(path)),
        )
        app = create_app(settings)
        async with app.router.lifespan_context(app):  # starts the writer, and closes it after
            sent = await leave_after_first_chunk(
                app, orjson.dumps(REQUEST), ((b"x-request-id", b"gone-1"),)
            )
            await asyncio.wait_for(upstream.closed.wait(), timeout=5)
    writer = app.state.traffic_writer
    assert isinstance(writer, TrafficWriter)
    assert (writer.written, writer.dropped) == (1, 0)
    (record,) = read_jsonl(path)
    start_message = sent[0]
    assert start_message["status"] == 200
    headers = dict(start_message["headers"])
    assert record["id"] == headers[b"x-proxy-request-id"].decode()
    assert (record["status"], record["outcome"], record["error"]) == (200, "cancelled", None)
    assert record["client_request_id"] == "gone-1"
    assert record["upstream_request_id"] == SEED_SINGLE_RUN_ID
    assert record["timings_ms"]["first_byte"] is not None
    (choice,) = record["response"]["choices"]
    assert choice["finish_reason"] is None
    assert choice["message"]["reasoning_content"]  # what was thought before the client left


async def test_500_concurrent_exchanges_give_500_valid_records(
    traffic_proxy: Callable[..., TrafficProxy], tmp_path: Path
) -> None:
    proxy, path = start(traffic_proxy, tmp_path)
    gate = asyncio.Semaphore(50)
    # Idle connections expire on the client before the server closes them (keep_alive_timeout,
    # 5 s): a request sent on one the server is closing that moment is reset, a race of the
    # client's keep-alive, not of the proxy.
    limits = httpx.Limits(max_connections=50, keepalive_expiry=1.0)
    headers = {"authorization": "Bearer sk-client-key"}

    async def one(http: httpx.AsyncClient, n: int) -> str:
        async with gate:
            response = await http.post(
                "/v1/chat/completions", json=body(f"Hello {n}", stream=n % 2 == 0)
            )
            assert response.status_code == 200
            return response.headers["x-proxy-request-id"]

    async with httpx.AsyncClient(
        base_url=proxy.url, limits=limits, headers=headers, timeout=30
    ) as http:
        ids = await asyncio.gather(*(one(http, n) for n in range(500)))
    await asyncio.to_thread(proxy.stop)
    lines = path.read_bytes().splitlines()
    records = [json.loads(line) for line in lines]
    assert len(records) == 500
    assert len({r["id"] for r in records}) == 500
    assert {r["id"] for r in records} == set(ids)
    assert {r["outcome"] for r in records} == {"ok"}
    assert sorted(r["request"]["messages"][0]["content"] for r in records) == sorted(
        f"Hello {n}" for n in range(500)
    )
    assert (proxy.writer.written, proxy.writer.dropped) == (500, 0)
