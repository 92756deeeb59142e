"""`POST /v1/responses` end to end: the openai SDK (create, both modes; the stream helper;
parse), the bytes on the wire through the Responses contract, errors before and after the first
byte, length cut-offs, notes, traffic records, replay and metrics, all against the simulator."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import openai
import pytest
from prometheus_client.parser import text_string_to_metric_families
from pydantic import BaseModel

from proxy.config import TrafficLogSettings
from proxy.inspect.replay import replay
from proxy.simulator import MULTIMODAL_PATH, TEXT_PATH, ReceivedRequest
from proxy.simulator.feature_scripts import WEATHER_ANSWER, WEATHER_CALL_ID
from proxy.simulator.scripts import (
    LENGTH_ANSWER,
    MIDSTREAM_PARTIAL,
    SEED_ANSWER,
    SEED_SINGLE_RUN_ID,
    TRUNCATED_PARTIAL,
)
from tests.conftest import RunningProxy, ScenarioText, TrafficProxy, read_jsonl
from tests.responses_contract import ResponsesResult, check_event_bytes, check_events

MODEL = "qwen3-max-preview"
CODE_INTERPRETER: Any = {"type": "code_interpreter", "container": {"type": "auto"}}
WEATHER: Any = {
    "type": "function",
    "name": "get_weather",
    "description": "The weather in a city.",
    "parameters": {
        "type": "object",
        "properties": {"city": {"type": "string"}},
        "required": ["city"],
    },
}
QUESTION = "What is 123 to the power of 21?"


def request(text: str, *, stream: bool = True, **fields: Any) -> dict[str, Any]:
    return {"model": MODEL, "input": text, "stream": stream, **fields}


def streamed(http: httpx.Client, payload: dict[str, Any]) -> tuple[httpx.Response, ResponsesResult]:
    response = http.post("/v1/responses", json=payload)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/event-stream")
    return response, check_event_bytes(response.content)


def sdk_events(stream: Any) -> list[dict[str, Any]]:
    return [event.model_dump(mode="json", exclude_none=False) for event in stream]


# ---- the openai SDK ---------------------------------------------------------------------------


def test_create_without_streaming_returns_the_whole_run(
    client: openai.OpenAI,
    received: list[ReceivedRequest],
    scenario_text: Callable[..., ScenarioText],
) -> None:
    response = client.responses.create(model=MODEL, input=QUESTION, tools=[CODE_INTERPRETER])
    assert response.status == "completed"
    assert response.output_text == SEED_ANSWER
    kinds = [item.type for item in response.output]
    assert kinds == ["reasoning", "code_interpreter_call", "reasoning", "message"]
    call = response.output[1]
    assert call.type == "code_interpreter_call"
    assert (call.code, call.status, call.outputs) == ("123**21", "completed", None)
    thinking = "".join(
        part.text
        for item in response.output
        if item.type == "reasoning"
        for part in item.content or ()
    )
    assert thinking == scenario_text("seed_single_run").reasoning
    usage = response.usage
    assert usage is not None
    assert (usage.input_tokens, usage.output_tokens, usage.total_tokens) == (734, 263, 997)
    assert usage.output_tokens_details.reasoning_tokens == 171
    assert response.tools[0].type == "code_interpreter"
    (upstream,) = received
    assert upstream.path == TEXT_PATH
    assert upstream.headers["x-dashscope-sse"] == "enable"
    parameters = upstream.body["parameters"]
    assert parameters["enable_code_interpreter"] is True
    assert parameters["enable_thinking"] is True
    assert parameters["incremental_output"] is True
    assert upstream.body["input"]["messages"] == [{"role": "user", "content": QUESTION}]


def test_create_with_streaming_gives_the_contract_events(
    client: openai.OpenAI, scenario_text: Callable[..., ScenarioText]
) -> None:
    stream = client.responses.create(
        model=MODEL, input=QUESTION, tools=[CODE_INTERPRETER], stream=True
    )
    with stream:
        events = sdk_events(stream)
    got = check_events(events)
    assert got.status == "completed"
    assert (got.text, got.codes) == (SEED_ANSWER, ["123**21"])
    assert got.reasoning == scenario_text("seed_single_run").reasoning
    deltas = [e["delta"] for e in events if e["type"] == "response.output_text.delta"]
    assert "".join(deltas) == SEED_ANSWER


def test_the_stream_helper_and_get_final_response(client: openai.OpenAI) -> None:
    texts: list[str] = []
    codes: list[str] = []
    with client.responses.stream(model=MODEL, input=QUESTION, tools=[CODE_INTERPRETER]) as stream:
        for event in stream:
            if event.type == "response.output_text.delta":
                texts.append(event.delta)
                assert event.snapshot == "".join(texts)  # the SDK's own accumulation
            elif event.type == "response.code_interpreter_call_code.done":
                codes.append(event.code)
        final = stream.get_final_response()
    assert "".join(texts) == final.output_text == SEED_ANSWER
    assert codes == ["123**21"]
    assert [item.type for item in final.output] == [
        "reasoning",
        "code_interpreter_call",
        "reasoning",
        "message",
    ]


async def test_the_async_stream_helper(async_client: openai.AsyncOpenAI) -> None:
    async with async_client.responses.stream(
        model=MODEL, input="Twenty factorial? [sim:code_growing]", tools=[CODE_INTERPRETER]
    ) as stream:
        kinds = [event.type async for event in stream]
        final = await stream.get_final_response()
    assert final.output_text == "20! = 2432902008176640000"
    code_deltas = kinds.count("response.code_interpreter_call_code.delta")
    assert code_deltas == 3
    assert final.output[1].type == "code_interpreter_call"
    assert final.output[1].code == "import math\nprint(math.factorial(20))"


@pytest.mark.parametrize(
    "scenario", ["seed_single_run", "seed_two_runs", "code_growing", "interleaved", "plain_text"]
)
def test_every_scenario_on_the_wire_says_what_the_simulator_said(
    raw: httpx.Client, scenario: str, scenario_text: Callable[..., ScenarioText]
) -> None:
    code = scenario != "plain_text"
    payload = request(f"Go [sim:{scenario}]", tools=[CODE_INTERPRETER] if code else [])
    response, got = streamed(raw, payload)
    expected = scenario_text(scenario, thinking=code)
    assert (got.reasoning, got.text, tuple(got.codes)) == (
        expected.reasoning,
        expected.content,
        expected.codes,
    )
    assert response.headers["x-request-id"] == expected.request_id
    assert got.response["id"] == f"resp_{response.headers['x-proxy-request-id']}"


def test_the_ci_base_url_serves_responses_with_hosted_items(
    proxy_url: str, sdk_for: Callable[..., openai.OpenAI]
) -> None:
    sdk = sdk_for(f"{proxy_url}/ci/reasoning")
    response = sdk.responses.create(model=MODEL, input=QUESTION, tools=[CODE_INTERPRETER])
    assert [item.type for item in response.output][1] == "code_interpreter_call"
    assert response.output_text == SEED_ANSWER


# ---- function calls, structured output, images --------------------------------------------------


def test_a_function_call_round_trip(client: openai.OpenAI, received: list[ReceivedRequest]) -> None:
    question = "Weather in Hangzhou? [sim:function_call]"
    first = client.responses.create(model="qwen-plus", input=question, tools=[WEATHER])
    (call,) = first.output
    assert call.type == "function_call"
    assert (call.name, json.loads(call.arguments), call.call_id) == (
        "get_weather",
        {"city": "Hangzhou"},
        WEATHER_CALL_ID,
    )
    history: list[Any] = [
        {"role": "user", "content": question},
        call.model_dump(exclude_none=True),
        {"type": "function_call_output", "call_id": call.call_id, "output": "sunny"},
    ]
    second = client.responses.create(model="qwen-plus", input=history, tools=[WEATHER])
    assert second.output_text == WEATHER_ANSWER
    assert len(received) == 2
    tools = received[0].body["parameters"]["tools"]
    assert [tool["function"]["name"] for tool in tools] == ["get_weather"]
    messages = received[1].body["input"]["messages"]
    assert messages[-1] == {"role": "tool", "content": "sunny", "tool_call_id": WEATHER_CALL_ID}
    assert messages[-2]["tool_calls"][0]["id"] == WEATHER_CALL_ID


def test_parallel_calls_stream_as_two_items(raw: httpx.Client) -> None:
    payload = request("Two cities [sim:parallel_calls]", tools=[WEATHER], model="qwen-plus")
    _, got = streamed(raw, payload)
    assert got.calls == [
        ("get_weather", {"city": "Hangzhou"}),
        ("get_weather", {"city": "Shanghai"}),
    ]


class City(BaseModel):
    city: str
    temperature: int


def test_parse_with_a_pydantic_format(
    client: openai.OpenAI, received: list[ReceivedRequest]
) -> None:
    parsed = client.responses.parse(
        model="qwen-plus", input="Weather as JSON [sim:json_answer]", text_format=City
    )
    assert parsed.output_parsed == City(city="Hangzhou", temperature=21)
    response_format = received[0].body["parameters"]["response_format"]
    assert response_format["type"] == "json_schema"
    assert response_format["json_schema"]["name"] == "City"


def test_an_image_goes_to_the_multimodal_endpoint(
    client: openai.OpenAI, received: list[ReceivedRequest]
) -> None:
    url = "https://example.com/cat.png"
    content: Any = [
        {"type": "input_text", "text": "What is this? [sim:vision]"},
        {"type": "input_image", "image_url": url, "detail": "auto"},
    ]
    response = client.responses.create(
        model="qwen3-vl-plus", input=[{"role": "user", "content": content}]
    )
    assert f"image {url}" in response.output_text
    assert received[0].path == MULTIMODAL_PATH


# ---- errors -----------------------------------------------------------------------------------


@pytest.mark.parametrize("stream", [False, True])
@pytest.mark.parametrize(
    ("scenario", "error", "status", "code"),
    [
        ("error_429", openai.RateLimitError, 429, "Throttling.RateQuota"),
        ("error_event_first", openai.BadRequestError, 400, "InvalidParameter"),
        ("error_500", openai.InternalServerError, 500, "InternalError"),
    ],
)
def test_an_upstream_error_before_the_first_byte_is_an_http_error(
    client: openai.OpenAI,
    stream: bool,
    scenario: str,
    error: type[openai.APIStatusError],
    status: int,
    code: str,
) -> None:
    with pytest.raises(error) as caught:
        client.responses.create(model=MODEL, input=f"Hi [sim:{scenario}]", stream=stream)
    assert caught.value.status_code == status
    body = caught.value.body
    assert isinstance(body, dict)
    assert body["code"] == code
    assert set(body) == {"message", "type", "param", "code"}


@pytest.mark.parametrize(
    ("fields", "param"),
    [
        ({"previous_response_id": "resp_1"}, "previous_response_id"),
        ({"background": True}, "background"),
        ({"tools": [CODE_INTERPRETER, WEATHER]}, "tools"),
        ({"tools": [{"type": "file_search", "vector_store_ids": ["vs_1"]}]}, "tools[0]"),
        ({"reasoning": {"effort": "extreme"}}, "reasoning.effort"),
        ({"input": [{"type": "item_reference", "id": "msg_1"}]}, "input[0]"),
    ],
)
def test_a_request_the_proxy_cannot_serve_is_a_400_naming_the_field(
    raw: httpx.Client, received: list[ReceivedRequest], fields: dict[str, Any], param: str
) -> None:
    response = raw.post("/v1/responses", json={**request("hi"), **fields})
    assert response.status_code == 400
    error = response.json()["error"]
    assert (error["type"], error["param"]) == ("invalid_request_error", param)
    assert received == []


def test_an_error_after_the_first_byte_fails_the_response(raw: httpx.Client) -> None:
    _, got = streamed(raw, request("Hi [sim:error_event_midstream]", model="qwen-plus"))
    assert got.types[-1] == "response.failed"
    assert got.response["error"] == {
        "code": "invalid_prompt",  # OpenAI's fixed list; DashScope's code in the message
        "message": "Output data may contain inappropriate content."
        " (DashScope code: DataInspectionFailed)",
    }
    (message,) = got.output
    assert message["status"] == "incomplete"
    assert message["content"][0]["text"] == MIDSTREAM_PARTIAL


def test_the_sdk_sees_the_failure_and_the_helper_has_no_final_response(
    client: openai.OpenAI,
) -> None:
    with client.responses.stream(model="qwen-plus", input="Hi [sim:error_event_midstream]") as s:
        events = list(s)
        assert events[-1].type == "response.failed"
        assert events[-1].response.error is not None
        assert events[-1].response.error.code == "invalid_prompt"
        assert events[-1].response.error.message.startswith(
            "Output data may contain inappropriate content."
        )
        with pytest.raises(RuntimeError, match=r"response\.completed"):
            s.get_final_response()


def test_without_streaming_an_error_mid_answer_is_an_http_error(client: openai.OpenAI) -> None:
    with pytest.raises(openai.BadRequestError) as caught:
        client.responses.create(model="qwen-plus", input="Hi [sim:error_event_midstream]")
    assert isinstance(caught.value.body, dict)
    assert caught.value.body["code"] == "DataInspectionFailed"


def test_a_truncated_upstream_fails_the_response(raw: httpx.Client, client: openai.OpenAI) -> None:
    _, got = streamed(raw, request("Hi [sim:truncated]", model="qwen-plus"))
    assert got.response["error"]["code"] == "server_error"
    assert got.response["error"]["message"].endswith("(code: upstream_truncated)")
    assert got.output[-1]["content"][0]["text"] == TRUNCATED_PARTIAL
    with pytest.raises(openai.APIStatusError) as caught:
        client.responses.create(model="qwen-plus", input="Hi [sim:truncated]")
    assert caught.value.status_code == 502


@pytest.mark.parametrize("stream", [True, False])
def test_length_ends_the_response_incomplete(raw: httpx.Client, stream: bool) -> None:
    payload = request("Essay [sim:length]", stream=stream, model="qwen-plus", max_output_tokens=40)
    if stream:
        _, got = streamed(raw, payload)
        assert got.types[-1] == "response.incomplete"
        response = got.response
    else:
        reply = raw.post("/v1/responses", json=payload)
        assert reply.status_code == 200
        response = reply.json()
    assert response["status"] == "incomplete"
    assert response["incomplete_details"] == {"reason": "max_output_tokens"}
    text = response["output"][-1]["content"][0]["text"]
    assert text == LENGTH_ANSWER + " fingers"
    assert response["max_output_tokens"] == 40


def test_the_sdk_reads_an_incomplete_response(client: openai.OpenAI) -> None:
    response = client.responses.create(model="qwen-plus", input="Essay [sim:length]")
    assert response.status == "incomplete"
    assert response.incomplete_details is not None
    assert response.incomplete_details.reason == "max_output_tokens"


# ---- notes, traffic records, replay, metrics ----------------------------------------------------


def test_dropped_fields_are_named_in_the_notes_header(
    client: openai.OpenAI, received: list[ReceivedRequest]
) -> None:
    raw_response = client.responses.with_raw_response.create(
        model="qwen-plus",
        input="hi",
        metadata={"ticket": "42"},
        store=True,
        include=["code_interpreter_call.outputs"],
    )
    header = raw_response.headers["x-dashscope-proxy-notes"]
    for note in (
        "metadata: dropped (not sent, but repeated on the response)",
        "store: dropped (",
        "include: 'code_interpreter_call.outputs' dropped (",
    ):
        assert note in header
    response = raw_response.parse()
    assert response.metadata == {"ticket": "42"}
    assert "metadata" not in received[0].body["parameters"]


def test_no_notes_header_when_nothing_was_dropped(raw: httpx.Client) -> None:
    response = raw.post("/v1/responses", json=request("hi", stream=False))
    assert response.status_code == 200
    assert "x-dashscope-proxy-notes" not in response.headers


def test_a_responses_exchange_is_recorded_and_replays(
    traffic_proxy: Callable[..., TrafficProxy],
    tmp_path: Path,
    scenario_text: Callable[..., ScenarioText],
) -> None:
    path = tmp_path / "traffic.jsonl"
    proxy = traffic_proxy(TrafficLogSettings(str(path), capture_frames=True, capture_chunks=True))
    payload = request(QUESTION, tools=[CODE_INTERPRETER], metadata={"k": "v"})
    headers = {"authorization": "Bearer sk-client-key", "x-request-id": "client-1"}
    response = httpx.post(f"{proxy.url}/v1/responses", json=payload, headers=headers, timeout=30)
    sent = check_event_bytes(response.content)
    proxy.stop()
    (record,) = read_jsonl(path)
    assert record["id"] == response.headers["x-proxy-request-id"]
    assert (record["endpoint"], record["model"], record["stream"]) == ("/v1/responses", MODEL, True)
    assert (record["status"], record["outcome"], record["error"]) == (200, "ok", None)
    assert record["request"] == payload
    assert record["client_request_id"] == "client-1"
    assert record["upstream_request_id"] == SEED_SINGLE_RUN_ID
    assert record["upstream_request"]["body"]["parameters"]["enable_code_interpreter"] is True
    assert record["notes"] == [
        "metadata: dropped (not sent, but repeated on the response)",
        "tools: code_interpreter also sent as enable_thinking=true (the interpreter runs only "
        "while thinking)",
    ]
    assert record["translation"]["api"] == "responses"
    (choice,) = record["response"]["choices"]
    assert choice["finish_reason"] == "stop"
    assert choice["message"]["content"] == SEED_ANSWER
    assert choice["message"]["reasoning_content"] == scenario_text("seed_single_run").reasoning
    assert record["response"]["code_runs"] == ["123**21"]
    assert record["usage"]["x_tools"] == {"code_interpreter": {"count": 1}}
    assert record["usage"]["completion_tokens_details"] == {"reasoning_tokens": 171}
    assert record["chunks"] == sent.events
    assert replay(record).matches


def test_a_failed_responses_stream_is_recorded_as_an_error(
    traffic_proxy: Callable[..., TrafficProxy], tmp_path: Path
) -> None:
    path = tmp_path / "traffic.jsonl"
    proxy = traffic_proxy(TrafficLogSettings(str(path)))
    payload = request("Hi [sim:error_event_midstream]", model="qwen-plus")
    headers = {"authorization": "Bearer sk-client-key"}
    response = httpx.post(f"{proxy.url}/v1/responses", json=payload, headers=headers, timeout=30)
    assert check_event_bytes(response.content).status == "failed"
    proxy.stop()
    (record,) = read_jsonl(path)
    assert (record["status"], record["outcome"]) == (200, "error")
    assert record["error"]["code"] == "DataInspectionFailed"
    assert record["response"]["choices"][0]["message"]["content"] == MIDSTREAM_PARTIAL


def _samples(text: str) -> list[tuple[str, dict[str, str], float]]:
    return [
        (sample.name, sample.labels, sample.value)
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    ]


def _value(samples: list[tuple[str, dict[str, str], float]], name: str, **labels: str) -> float:
    matching = [v for n, ls, v in samples if n == name and labels.items() <= ls.items()]
    assert matching, f"no sample {name} {labels}"
    return sum(matching)


def test_metrics_count_the_responses_route(
    simulator_url: str, proxy_app: Callable[..., RunningProxy]
) -> None:
    proxy = proxy_app(simulator_url, retries=0)
    headers = {"authorization": "Bearer sk-client-key"}
    with httpx.Client(base_url=proxy.url, headers=headers, timeout=30) as http:
        ok = http.post("/v1/responses", json=request(QUESTION, tools=[CODE_INTERPRETER]))
        assert ok.status_code == 200
        assert http.post("/v1/responses", json=request("x [sim:error_429]")).status_code == 429
        samples = _samples(http.get("/metrics").text)
    route = "/v1/responses"
    requests = "dashscope_proxy_requests_total"
    assert _value(samples, requests, route=route, model=MODEL, status="200") == 1
    assert _value(samples, requests, route=route, model=MODEL, status="429") == 1
    tokens = "dashscope_proxy_tokens_total"
    assert _value(samples, tokens, model=MODEL, kind="prompt") == 734
    assert _value(samples, tokens, model=MODEL, kind="reasoning") == 171
    assert _value(samples, "dashscope_proxy_code_interpreter_runs_total", model=MODEL) == 1
    errors = "dashscope_proxy_upstream_errors_total"
    assert _value(samples, errors, code="Throttling.RateQuota") == 1
    assert _value(samples, "dashscope_proxy_active_streams") == 0


@pytest.mark.parametrize(
    "call",
    [
        lambda c: c.responses.retrieve("resp_123"),
        lambda c: c.responses.delete("resp_123"),
        lambda c: c.responses.cancel("resp_123"),
        lambda c: c.responses.input_items.list("resp_123"),
    ],
)
def test_stored_responses_do_not_exist_and_the_404_says_why(
    client: openai.OpenAI, received: list[ReceivedRequest], call: Any
) -> None:
    with pytest.raises(openai.NotFoundError) as caught:
        call(client)
    assert isinstance(caught.value.body, dict)
    assert caught.value.body["code"] == "response_not_found"
    assert "stores no responses" in caught.value.body["message"]
    assert received == []
