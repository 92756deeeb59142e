"""The simulator refuses what DashScope refuses, in DashScope's shapes (docs/dashscope-protocol.md,
"What the simulator refuses"): the model table decides which endpoint serves a model, whether it
thinks and whether it has the code interpreter."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from typing import Any

import httpx
import orjson
import pytest

from proxy.core.model_table import MODEL_TABLE
from proxy.core.models import ModelFamily, ModelTable
from proxy.simulator import build_scenario, create_simulator_app
from proxy.simulator.app import MULTIMODAL_PATH, OTHER_REGION_API_KEY, TEXT_PATH
from proxy.simulator.refusals import (
    FORCED_TOOL_CHOICE,
    INTERPRETER_NEEDS_THINKING,
    INTERPRETER_WITH_TOOLS,
    JSON_MODE,
    THINKING_ONLY,
    URL_ERROR,
    Refusal,
    refusal,
    thinks,
)
from proxy.simulator.scenarios import LONG_RUN_GAP, refused, render_frame

WEATHER: Any = {"type": "function", "function": {"name": "get_weather", "parameters": {}}}
NAMED = {"type": "function", "function": {"name": "get_weather"}}


def request(model: str, text: str = "hi", **parameters: Any) -> dict[str, Any]:
    return {
        "model": model,
        "input": {"messages": [{"role": "user", "content": text}]},
        "parameters": {"result_format": "message", "incremental_output": True, **parameters},
    }


def refused_with(model: str, *, multimodal: bool = False, **parameters: Any) -> Refusal | None:
    """Why the simulator would refuse `model` with these native parameters."""
    return refusal(request(model, **parameters), multimodal=multimodal)


# ---- endpoints ------------------------------------------------------------------------------


@pytest.mark.parametrize("model", ["qwen3.5-plus", "qwen3.6-plus", "qwen3-vl-plus", "qvq-max"])
def test_the_text_endpoint_refuses_multimodal_families_with_url_error(model: str) -> None:
    assert refused_with(model) == Refusal("InvalidParameter", URL_ERROR)
    assert refused_with(model, multimodal=True) is None


@pytest.mark.parametrize("model", ["qwen-plus", "qwen3-max", "made-up-model"])
def test_the_text_endpoint_serves_text_families(model: str) -> None:
    assert refused_with(model) is None


@pytest.mark.parametrize("model", ["qwen-omni-turbo", "qwen3-omni-flash", "qwen3.5-omni-plus"])
@pytest.mark.parametrize("multimodal", [False, True])
def test_omni_models_are_refused_on_both_native_endpoints(model: str, multimodal: bool) -> None:
    assert refused_with(model, multimodal=multimodal) == Refusal("InvalidParameter", URL_ERROR)


# ---- thinking mode --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("model", "parameters", "thinking"),
    [
        ("qwen-plus", {}, False),
        ("qwen-plus", {"enable_thinking": True}, True),
        ("qwen3.5-plus", {}, True),  # the Qwen3.5 families think unless told not to
        ("qwen3.5-plus", {"enable_thinking": False}, False),
        ("qwq-plus", {}, True),
        ("qwen-max", {"enable_thinking": True}, False),
        ("made-up-model", {}, False),
    ],
)
def test_thinking_follows_the_request_then_the_family(
    model: str, parameters: dict[str, Any], thinking: bool
) -> None:
    assert thinks(request(model, **parameters)) is thinking


@pytest.mark.parametrize("choice", ["required", NAMED])
def test_a_forced_tool_choice_is_refused_in_thinking_mode(choice: Any) -> None:
    expected = Refusal("InvalidParameter", FORCED_TOOL_CHOICE)
    thinking = {"tools": [WEATHER], "tool_choice": choice, "enable_thinking": True}
    assert refused_with("qwen-plus", **thinking) == expected
    # Thinking by the family's default is thinking too.
    assert refused_with("qwen3.5-plus", multimodal=True, tools=[WEATHER], tool_choice=choice)
    assert refused_with("qwen-plus", tools=[WEATHER], tool_choice=choice) is None
    without = {"tools": [WEATHER], "tool_choice": choice, "enable_thinking": False}
    assert refused_with("qwen3.5-plus", multimodal=True, **without) is None


@pytest.mark.parametrize("choice", ["auto", "none"])
def test_auto_and_none_are_what_thinking_mode_takes(choice: str) -> None:
    tools: dict[str, Any] = {"tools": [WEATHER], "tool_choice": choice, "enable_thinking": True}
    assert refused_with("qwen-plus", **tools) is None


@pytest.mark.parametrize("kind", ["json_object", "json_schema"])
def test_structured_output_is_refused_in_thinking_mode(kind: str) -> None:
    response_format = {"type": kind}
    expected = Refusal("InvalidParameter", JSON_MODE)
    assert refused_with("qwen-plus", response_format=response_format, enable_thinking=True) == (
        expected
    )
    assert refused_with("qwen3.5-plus", multimodal=True, response_format=response_format)
    assert refused_with("qwen-plus", response_format=response_format) is None
    assert refused_with("qwen-plus", response_format={"type": "text"}, enable_thinking=True) is None


def test_a_thinking_only_family_refuses_thinking_off() -> None:
    assert refused_with("qwq-plus", enable_thinking=False) == Refusal(
        "InvalidParameter", THINKING_ONLY
    )
    assert refused_with("qwq-plus", enable_thinking=True) is None


# ---- the code interpreter -------------------------------------------------------------------


def test_the_interpreter_needs_thinking() -> None:
    expected = Refusal("InvalidParameter", INTERPRETER_NEEDS_THINKING)
    assert refused_with("qwen3-max", enable_code_interpreter=True) == expected
    off = {"enable_code_interpreter": True, "enable_thinking": False}
    assert refused_with("qwen3-max", **off) == expected
    on = {"enable_code_interpreter": True, "enable_thinking": True}
    assert refused_with("qwen3-max", **on) is None
    # A family that thinks by default needs no flag.
    assert refused_with("qwen3.5-plus", multimodal=True, enable_code_interpreter=True) is None


@pytest.mark.parametrize("model", ["qwen-plus", "qwen-turbo", "qwen-flash", "deepseek-v3.2"])
def test_the_interpreter_is_refused_on_a_model_without_it(model: str) -> None:
    found = refused_with(model, enable_code_interpreter=True, enable_thinking=True)
    assert found is not None
    assert found.code == "InvalidParameter"
    assert "code interpreter" in found.message
    assert model in found.message


def test_the_interpreter_on_a_model_the_table_does_not_know_is_let_through() -> None:
    on = {"enable_code_interpreter": True, "enable_thinking": True}
    assert refused_with("made-up-model", **on) is None


def test_the_interpreter_and_function_tools_are_exclusive() -> None:
    both: dict[str, Any] = {
        "enable_code_interpreter": True,
        "enable_thinking": True,
        "tools": [WEATHER],
    }
    assert refused_with("qwen3-max", **both) == Refusal("InvalidParameter", INTERPRETER_WITH_TOOLS)


def test_the_table_can_be_another() -> None:
    """A model released tomorrow: the simulator knows what the table it is given says."""
    tomorrow = ModelFamily("qwen9", (r"qwen9",), code_interpreter=True, thinking_default=True)
    table = ModelTable((tomorrow, *MODEL_TABLE.families))
    body = request("qwen9-max", enable_code_interpreter=True)
    assert refusal(body, multimodal=False, table=table) is None
    assert refusal(body, multimodal=False) is not None  # qwen9 is multimodal by default


# ---- how a refusal is answered --------------------------------------------------------------


def test_a_refusal_is_one_error_event_on_an_http_200() -> None:
    scenario = refused(Refusal("InvalidParameter", URL_ERROR, "req-1"))
    assert (scenario.http_status, scenario.content_type) == (200, "text/event-stream;charset=UTF-8")
    [frame] = scenario.frames
    rendered = render_frame(1, frame).decode()
    assert rendered.startswith("id:1\nevent:error\n:HTTP_STATUS/400\ndata:")
    data = orjson.loads(rendered.split("data:", 1)[1])
    assert data == {"code": "InvalidParameter", "message": URL_ERROR, "request_id": "req-1"}
    assert "\uff01" in rendered  # the gateway's full-width exclamation mark, kept as UTF-8


def test_input_moderation_is_a_400_json_body_before_any_stream() -> None:
    scenario = build_scenario("input_inspection", request("qwen-plus"))
    assert (scenario.http_status, scenario.content_type) == (400, "application/json")
    assert scenario.frames == ()
    assert scenario.body == {
        "code": "DataInspectionFailed",
        "message": "Input data may contain inappropriate content.",
        "request_id": scenario.request_id,
    }


# ---- long silences while the interpreter runs -----------------------------------------------


def pauses(name: str, body: dict[str, Any]) -> dict[int, float]:
    return {n: f.pause for n, f in enumerate(build_scenario(name, body).frames, 1) if f.pause}


def test_long_run_is_silent_for_tens_of_seconds_after_the_run() -> None:
    body = request("qwen3-max", enable_code_interpreter=True, enable_thinking=True)
    assert pauses("long_run", body) == {23: LONG_RUN_GAP}  # the frame after the run (id 22)
    assert LONG_RUN_GAP >= 10
    assert pauses("seed_single_run", body) == {}


def test_the_silence_is_configurable_per_request_and_scenario() -> None:
    body = request("qwen3-max", enable_code_interpreter=True, enable_thinking=True)
    assert pauses("long_run:0.05", body) == {23: 0.05}
    assert pauses("long_run:0", body) == {}
    two = pauses("seed_two_runs:2.5", body)
    assert sorted(two.values()) == [2.5, 2.5]  # before each inference that follows a run
    # Only the pauses differ: the frames are the seed's.
    quiet = build_scenario("seed_single_run", body).frames
    loud = build_scenario("long_run:0.05", body).frames
    assert [f.data for f in loud] == [f.data for f in quiet]


@pytest.mark.parametrize("name", ["long_run:soon", "long_run:-1", "nope:3"])
def test_a_silence_that_is_not_a_number_is_an_unknown_scenario(name: str) -> None:
    scenario = build_scenario(name, request("qwen3-max"))
    assert scenario.http_status == 400
    assert scenario.body is not None
    assert f"'{name}'" in scenario.body["message"]


# ---- over HTTP ------------------------------------------------------------------------------

HEADERS = {"Authorization": "Bearer sk-test", "X-DashScope-SSE": "enable"}


@pytest.fixture
async def sim() -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=create_simulator_app())
    async with httpx.AsyncClient(transport=transport, base_url="http://sim") as client:
        yield client


async def test_the_app_refuses_a_multimodal_model_on_the_text_endpoint(
    sim: httpx.AsyncClient,
) -> None:
    response = await sim.post(TEXT_PATH, json=request("qwen3.5-plus"), headers=HEADERS)
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/event-stream;charset=UTF-8"
    assert response.content.count(b"event:") == 1
    assert b"event:error\n:HTTP_STATUS/400\n" in response.content
    ok = await sim.post(MULTIMODAL_PATH, json=request("qwen3.5-plus"), headers=HEADERS)
    assert b"event:error" not in ok.content
    assert ok.content.count(b"event:result") > 1


async def test_the_app_refuses_before_any_marker(sim: httpx.AsyncClient) -> None:
    body = request("qwen-plus", "[sim:plain_text]", tool_choice="required", enable_thinking=True)
    response = await sim.post(TEXT_PATH, json=body, headers=HEADERS)
    assert FORCED_TOOL_CHOICE.encode() in response.content
    assert b"event:result" not in response.content


async def test_a_key_from_another_region_is_an_invalid_api_key(sim: httpx.AsyncClient) -> None:
    headers = {**HEADERS, "Authorization": f"Bearer {OTHER_REGION_API_KEY}"}
    response = await sim.post(TEXT_PATH, json=request("qwen-plus"), headers=headers)
    assert response.status_code == 401
    assert response.headers["content-type"] == "application/json"
    assert response.json() == {
        "code": "InvalidApiKey",
        "message": "Invalid API-key provided.",
        "request_id": response.headers["x-request-id"],
    }


async def test_input_moderation_over_http(sim: httpx.AsyncClient) -> None:
    body = request("qwen-plus", "[sim:input_inspection]")
    response = await sim.post(TEXT_PATH, json=body, headers=HEADERS)
    assert response.status_code == 400
    assert response.json()["code"] == "DataInspectionFailed"


async def test_the_app_is_silent_while_the_interpreter_runs() -> None:
    body = request("qwen3-max", "[sim:long_run:0.2]", enable_code_interpreter=True)
    body["parameters"]["enable_thinking"] = True
    transport = httpx.ASGITransport(app=create_simulator_app())
    async with httpx.AsyncClient(transport=transport, base_url="http://sim") as client:
        started = time.perf_counter()
        response = await client.post(TEXT_PATH, json=body, headers=HEADERS)
        elapsed = time.perf_counter() - started
    assert response.content.count(b"event:result") == 54
    assert elapsed >= 0.2
