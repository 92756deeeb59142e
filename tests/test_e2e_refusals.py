"""What DashScope refuses, end to end: the real openai SDK against the proxy in front of the
simulator, which refuses what DashScope refuses (docs/dashscope-protocol.md, "What the simulator
refuses"). Every valid OpenAI request the proxy can shape so DashScope accepts it succeeds; the
ones it cannot are a clear 4xx that keeps DashScope's code or says why."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import httpx
import openai
import pytest
from pydantic import BaseModel

from proxy.config import ServerSettings
from proxy.simulator import MULTIMODAL_PATH, TEXT_PATH, ReceivedRequest, build_scenario
from proxy.simulator.app import OTHER_REGION_API_KEY
from proxy.simulator.feature_scripts import (
    SHANGHAI_ARGUMENTS,
    WEATHER_ARGUMENTS,
    WEATHER_CALL_ID,
)
from proxy.simulator.scripts import SEED_ANSWER
from tests.contract import check_sse_bytes

NOTES = "x-dashscope-proxy-notes"
WEATHER: Any = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Current weather of a city",
        "parameters": {
            "type": "object",
            "properties": {"city": {"type": "string"}},
            "required": ["city"],
        },
    },
}
NAMED: Any = {"type": "function", "function": {"name": "get_weather"}}
CODE = {"enable_code_interpreter": True}
CODE_THINKING = {"enable_code_interpreter": True, "enable_thinking": True}


def ask(text: str) -> list[Any]:
    return [{"role": "user", "content": text}]


def sent(received: list[ReceivedRequest]) -> dict[str, Any]:
    """The native `parameters` of the only upstream call."""
    [call] = received
    parameters: dict[str, Any] = call.body["parameters"]
    return parameters


def arguments(completion: Any) -> list[Any]:
    return [json.loads(c.function.arguments) for c in completion.choices[0].message.tool_calls]


# ---- the endpoint each family is served on --------------------------------------------------


@pytest.mark.parametrize("model", ["qwen3.5-plus", "qwen3.6-plus", "qwen3-vl-plus", "qvq-max"])
def test_multimodal_families_never_meet_the_text_endpoints_url_error(
    client: openai.OpenAI, received: list[ReceivedRequest], model: str
) -> None:
    completion = client.chat.completions.create(model=model, messages=ask("[sim:plain_text]"))
    assert completion.choices[0].message.content
    assert [r.path for r in received] == [MULTIMODAL_PATH]


@pytest.mark.parametrize("model", ["qwen-omni-turbo", "qwen3-omni-flash", "qwen3.5-omni-plus"])
def test_omni_models_are_refused_before_any_upstream_call(
    client: openai.OpenAI, received: list[ReceivedRequest], model: str
) -> None:
    with pytest.raises(openai.BadRequestError) as caught:
        client.chat.completions.create(model=model, messages=ask("hi"))
    assert caught.value.status_code == 400
    message = str(caught.value.message)
    assert model in message
    assert "compatible" in message
    assert received == []


# ---- thinking mode: forced tool choice and structured output --------------------------------


@pytest.mark.parametrize(
    ("model", "extra"),
    [
        ("qwen3.5-plus", {}),  # thinks by default
        ("qwen-plus", {"enable_thinking": True}),  # thinks because the request says so
    ],
)
@pytest.mark.parametrize("choice", ["required", NAMED])
def test_a_forced_tool_choice_turns_thinking_off(
    client: openai.OpenAI,
    received: list[ReceivedRequest],
    model: str,
    extra: dict[str, Any],
    choice: Any,
) -> None:
    response = client.chat.completions.with_raw_response.create(
        model=model,
        messages=ask("Weather in Hangzhou?"),
        tools=[WEATHER],
        tool_choice=choice,
        extra_body=extra or None,
    )
    completion = response.parse()
    assert arguments(completion) == [json.loads(WEATHER_ARGUMENTS)]
    assert [c.id for c in completion.choices[0].message.tool_calls or ()] == [WEATHER_CALL_ID]
    assert sent(received)["enable_thinking"] is False
    assert "enable_thinking=false" in response.headers[NOTES]


def test_a_forced_tool_choice_with_a_reasoning_effort(
    client: openai.OpenAI, received: list[ReceivedRequest]
) -> None:
    completion = client.chat.completions.create(
        model="qwen3-max",
        messages=ask("Weather in Hangzhou?"),
        tools=[WEATHER],
        tool_choice=NAMED,
        reasoning_effort="high",
    )
    assert arguments(completion) == [json.loads(WEATHER_ARGUMENTS)]
    assert sent(received)["enable_thinking"] is False


def test_a_family_that_always_thinks_gets_auto_instead(
    client: openai.OpenAI, received: list[ReceivedRequest]
) -> None:
    response = client.chat.completions.with_raw_response.create(
        model="qwq-plus", messages=ask("Weather in Hangzhou?"), tools=[WEATHER], tool_choice=NAMED
    )
    assert arguments(response.parse()) == [json.loads(WEATHER_ARGUMENTS)]
    assert sent(received)["tool_choice"] == "auto"
    assert "tool_choice" in response.headers[NOTES]


def test_no_effort_on_a_family_that_always_thinks_is_dropped(
    client: openai.OpenAI, received: list[ReceivedRequest]
) -> None:
    response = client.chat.completions.with_raw_response.create(
        model="qwq-plus", messages=ask("[sim:plain_text]"), reasoning_effort="none"
    )
    assert response.parse().choices[0].message.content
    assert "enable_thinking" not in sent(received)
    assert "reasoning_effort" in response.headers[NOTES]


def test_thinking_off_on_a_family_that_always_thinks_keeps_dashscopes_code(
    client: openai.OpenAI,
) -> None:
    with pytest.raises(openai.BadRequestError) as caught:
        client.chat.completions.create(
            model="qwq-plus", messages=ask("hi"), extra_body={"enable_thinking": False}
        )
    assert caught.value.status_code == 400
    assert caught.value.code == "InvalidParameter"
    assert "enable_thinking" in str(caught.value.message)


class City(BaseModel):
    city: str
    temperature: int


def test_structured_output_turns_thinking_off(
    client: openai.OpenAI, received: list[ReceivedRequest]
) -> None:
    parsed = client.chat.completions.parse(
        model="qwen3.5-plus",
        messages=ask("Weather as JSON [sim:json_answer]"),
        response_format=City,
    )
    assert parsed.choices[0].message.parsed == City(city="Hangzhou", temperature=21)
    assert sent(received)["enable_thinking"] is False
    assert sent(received)["response_format"]["type"] == "json_schema"


def test_structured_output_from_a_family_that_always_thinks_is_explained(
    client: openai.OpenAI, received: list[ReceivedRequest]
) -> None:
    with pytest.raises(openai.BadRequestError) as caught:
        client.chat.completions.create(
            model="qwq-plus",
            messages=ask("json please"),
            response_format={"type": "json_object"},
        )
    assert caught.value.status_code == 400
    assert "thinking" in str(caught.value.message)
    assert received == []


# ---- the code interpreter -------------------------------------------------------------------


def test_the_interpreter_gets_the_thinking_it_needs(
    client: openai.OpenAI, received: list[ReceivedRequest]
) -> None:
    """qwen3-max does not think by default; the interpreter only runs while it does."""
    completion = client.chat.completions.create(
        model="qwen3-max", messages=ask("What is 123 to the power of 21?"), extra_body=CODE
    )
    assert completion.choices[0].message.content == SEED_ANSWER
    assert sent(received)["enable_thinking"] is True


def test_the_interpreter_tool_gets_the_thinking_it_needs_on_the_responses_api(
    client: openai.OpenAI, received: list[ReceivedRequest]
) -> None:
    response = client.responses.create(
        model="qwen3-max",
        input="What is 123 to the power of 21?",
        tools=[{"type": "code_interpreter", "container": {"type": "auto"}}],
    )
    assert response.output_text == SEED_ANSWER
    assert sent(received)["enable_thinking"] is True


def test_the_interpreter_on_a_model_without_it_keeps_dashscopes_code(
    client: openai.OpenAI,
) -> None:
    with pytest.raises(openai.BadRequestError) as caught:
        client.chat.completions.create(
            model="qwen-plus", messages=ask("123**21?"), extra_body=CODE, stream=False
        )
    assert caught.value.status_code == 400
    assert caught.value.code == "InvalidParameter"
    assert "code interpreter" in str(caught.value.message)
    assert "qwen-plus" in str(caught.value.message)


# ---- parallel calls, several choices, search ------------------------------------------------


def test_two_calls_when_the_client_leaves_parallel_calls_to_openais_default(
    client: openai.OpenAI, received: list[ReceivedRequest]
) -> None:
    completion = client.chat.completions.create(
        model="qwen-plus", messages=ask("[sim:parallel_calls]"), tools=[WEATHER]
    )
    assert arguments(completion) == [json.loads(WEATHER_ARGUMENTS), json.loads(SHANGHAI_ARGUMENTS)]
    assert sent(received)["parallel_tool_calls"] is True


def test_one_call_when_the_client_turns_parallel_calls_off(
    client: openai.OpenAI, received: list[ReceivedRequest]
) -> None:
    completion = client.chat.completions.create(
        model="qwen-plus",
        messages=ask("[sim:parallel_calls]"),
        tools=[WEATHER],
        parallel_tool_calls=False,
    )
    assert arguments(completion) == [json.loads(WEATHER_ARGUMENTS)]
    assert sent(received)["parallel_tool_calls"] is False


def last_usage_per_choice() -> dict[int, dict[str, Any]]:
    """What the simulator's n=2 packets say, each about its own choice."""
    body = {"parameters": {"incremental_output": True, "n": 2}}
    last: dict[int, dict[str, Any]] = {}
    for frame in build_scenario("n2", body).frames:
        [choice] = frame.data["output"]["choices"]
        last[choice["index"]] = frame.data["usage"]
    return last


def test_several_choices_report_the_whole_requests_tokens(client: openai.OpenAI) -> None:
    stream = client.chat.completions.create(
        model="qwen-plus",
        messages=ask("[sim:n2]"),
        n=2,
        stream=True,
        stream_options={"include_usage": True},
    )
    with stream:
        usage = [chunk.usage for chunk in stream if chunk.usage is not None]
    [total] = usage
    per_choice = last_usage_per_choice()
    assert total.completion_tokens == sum(u["output_tokens"] for u in per_choice.values())
    assert total.prompt_tokens == per_choice[0]["input_tokens"]
    assert total.total_tokens == total.prompt_tokens + total.completion_tokens


def test_a_search_answers_empty_first_usage_is_no_trouble(raw: httpx.Client) -> None:
    body = {
        "model": "qwen-plus",
        "messages": ask("[sim:search]"),
        "stream": True,
        "stream_options": {"include_usage": True},
        "enable_search": True,
        "search_options": {"enable_source": True},
    }
    response = raw.post("/v1/chat/completions", json=body)
    result = check_sse_bytes(response.content, include_usage=True)
    assert result.error is None
    deltas = [e["delta"] for c in result.chunks for e in c["choices"]]
    assert "search_info" in deltas[0]
    usage = result.chunks[-1]["usage"]
    assert usage["completion_tokens"] > 0
    assert usage["total_tokens"] == usage["prompt_tokens"] + usage["completion_tokens"]


# ---- silences, moderation, keys -------------------------------------------------------------


def test_a_long_silent_run_is_bridged_with_keep_alives(
    start_configured_proxy: Callable[..., str],
    simulator_url: str,
    http_for: Callable[[str], httpx.Client],
) -> None:
    url = start_configured_proxy(simulator_url, server=ServerSettings(keepalive_interval=0.05))
    body = {
        "model": "qwen3-max",
        "messages": ask("123**21? [sim:long_run:0.5]"),
        "stream": True,
        **CODE_THINKING,
    }
    response = http_for(url).post("/v1/chat/completions", json=body)
    assert response.status_code == 200
    before, _, after = response.content.partition(b"\n: keep-alive\n\n")
    assert after, "no keep-alive while the interpreter ran"
    result = check_sse_bytes(response.content)
    assert result.message["content"] == SEED_ANSWER
    assert b"code_interpreter" in before  # the run was out before the silence


@pytest.mark.parametrize("stream", [False, True])
def test_input_moderation_before_the_stream_keeps_dashscopes_code(
    client: openai.OpenAI, stream: bool
) -> None:
    with pytest.raises(openai.BadRequestError) as caught:
        client.chat.completions.create(
            model="qwen-plus", messages=ask("[sim:input_inspection]"), stream=stream
        )
    assert caught.value.status_code == 400
    assert caught.value.code == "DataInspectionFailed"
    assert "inappropriate" in str(caught.value.message)


def test_input_moderation_on_the_responses_api(client: openai.OpenAI) -> None:
    with pytest.raises(openai.BadRequestError) as caught:
        client.responses.create(model="qwen-plus", input="[sim:input_inspection]", stream=True)
    assert caught.value.status_code == 400
    assert caught.value.code == "DataInspectionFailed"


def test_a_key_from_another_region_is_a_401_with_dashscopes_code(
    sdk_for: Callable[..., openai.OpenAI], passthrough_url: str, received: list[ReceivedRequest]
) -> None:
    sdk = sdk_for(passthrough_url, OTHER_REGION_API_KEY)
    with pytest.raises(openai.AuthenticationError) as caught:
        sdk.chat.completions.create(model="qwen-plus", messages=ask("hi"))
    assert caught.value.status_code == 401
    assert caught.value.code == "InvalidApiKey"
    assert [r.path for r in received] == [TEXT_PATH]
