"""Function calling and structured output end to end, with the real SDK against the proxy and
the simulated DashScope: round trips, fragmented and cumulative arguments, parallel calls,
`tool_choice` mapping, and `.parse()` with a pydantic model."""

from __future__ import annotations

import json
from typing import Any

import httpx
import openai
import pytest
from openai.types.chat import ChatCompletionMessage, ChatCompletionMessageFunctionToolCall
from pydantic import BaseModel

from proxy.simulator import MULTIMODAL_PATH, TEXT_PATH, ReceivedRequest
from proxy.simulator.feature_scripts import (
    PARALLEL_ANSWER,
    SHANGHAI_ARGUMENTS,
    SHANGHAI_CALL_ID,
    WEATHER_ANSWER,
    WEATHER_ARGUMENTS,
    WEATHER_CALL_ID,
)
from tests.contract import check_sse_bytes

MODEL = "qwen-plus"
NOTES = "x-dashscope-proxy-notes"


def ask(text: str) -> list[Any]:
    return [{"role": "user", "content": text}]


def weather_tool(name: str = "get_weather") -> Any:
    return {
        "type": "function",
        "function": {
            "name": name,
            "description": "Current weather of a city",
            "parameters": {
                "type": "object",
                "properties": {"city": {"type": "string"}},
                "required": ["city"],
            },
        },
    }


def function_calls(message: ChatCompletionMessage) -> list[ChatCompletionMessageFunctionToolCall]:
    calls = message.tool_calls or []
    assert all(isinstance(c, ChatCompletionMessageFunctionToolCall) for c in calls), calls
    return [c for c in calls if isinstance(c, ChatCompletionMessageFunctionToolCall)]


def upstream(received: list[ReceivedRequest]) -> dict[str, Any]:
    body: dict[str, Any] = received[-1].body
    return body


def raw_stream(raw: httpx.Client, **body: Any) -> Any:
    response = raw.post("/v1/chat/completions", json={"model": MODEL, "stream": True, **body})
    assert response.status_code == 200, response.text
    result = check_sse_bytes(response.content)
    assert result.error is None
    return result


# ---- function calling -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("model", "path", "result"),
    [
        ("qwen-plus", TEXT_PATH, "sunny, 24 degrees"),
        ("qwen3.5-plus", MULTIMODAL_PATH, [{"text": "sunny, 24 degrees"}]),
    ],
)
def test_function_call_round_trip(
    client: openai.OpenAI, received: list[ReceivedRequest], model: str, path: str, result: Any
) -> None:
    messages = ask("[sim:function_call] What is the weather in Hangzhou?")
    first = client.chat.completions.create(model=model, messages=messages, tools=[weather_tool()])
    (choice,) = first.choices
    assert choice.finish_reason == "tool_calls"
    (call,) = function_calls(choice.message)
    assert call.type == "function"
    assert (call.id, call.function.name) == (WEATHER_CALL_ID, "get_weather")
    assert json.loads(call.function.arguments) == {"city": "Hangzhou"}
    assert upstream(received)["parameters"]["tools"] == [weather_tool()]

    messages += [
        choice.message.model_dump(exclude_none=True),
        {"role": "tool", "tool_call_id": call.id, "content": "sunny, 24 degrees"},
    ]
    second = client.chat.completions.create(model=model, messages=messages, tools=[weather_tool()])
    assert second.choices[0].message.content == WEATHER_ANSWER
    assert second.choices[0].finish_reason == "stop"
    assert [r.path for r in received] == [path, path]
    replayed = upstream(received)["input"]["messages"]
    assert replayed[1]["role"] == "assistant"
    assert replayed[1]["tool_calls"] == [
        {
            "id": WEATHER_CALL_ID,
            "type": "function",
            "function": {"name": "get_weather", "arguments": WEATHER_ARGUMENTS},
        }
    ]
    assert replayed[2] == {"role": "tool", "content": result, "tool_call_id": WEATHER_CALL_ID}


@pytest.mark.parametrize("scenario", ["function_call", "function_call_cumulative"])
def test_streamed_call_arguments_are_the_same_fragmented_or_cumulative(
    raw: httpx.Client, scenario: str
) -> None:
    result = raw_stream(raw, messages=ask(f"[sim:{scenario}]"), tools=[weather_tool()])
    (call,) = result.message["tool_calls"]
    assert call["id"] == WEATHER_CALL_ID
    assert call["function"] == {"name": "get_weather", "arguments": WEATHER_ARGUMENTS}
    reasons = [e["finish_reason"] for c in result.chunks for e in c["choices"]]
    assert [r for r in reasons if r] == ["tool_calls"]


@pytest.mark.parametrize("thinking", [False, True])
def test_cumulative_arguments_match_through_the_sdk(client: openai.OpenAI, thinking: bool) -> None:
    completion = client.chat.completions.create(
        model=MODEL,
        messages=ask("[sim:function_call_cumulative]"),
        tools=[weather_tool()],
        extra_body={"enable_thinking": thinking},
    )
    (call,) = function_calls(completion.choices[0].message)
    assert call.function.arguments == WEATHER_ARGUMENTS
    assert call.function.name == "get_weather"


def test_parallel_calls(client: openai.OpenAI, raw: httpx.Client) -> None:
    messages = ask("[sim:parallel_calls] Weather in Hangzhou and Shanghai?")
    result = raw_stream(raw, messages=messages, tools=[weather_tool()])
    calls = result.message["tool_calls"]
    assert [c["id"] for c in calls] == [WEATHER_CALL_ID, SHANGHAI_CALL_ID]
    assert [c["function"]["arguments"] for c in calls] == [WEATHER_ARGUMENTS, SHANGHAI_ARGUMENTS]

    completion = client.chat.completions.create(
        model=MODEL, messages=messages, tools=[weather_tool()]
    )
    got = function_calls(completion.choices[0].message)
    assert [json.loads(c.function.arguments)["city"] for c in got] == ["Hangzhou", "Shanghai"]
    assert completion.choices[0].finish_reason == "tool_calls"
    history = [
        *messages,
        completion.choices[0].message.model_dump(exclude_none=True),
        *({"role": "tool", "tool_call_id": c.id, "content": "fine"} for c in got),
    ]
    answer = client.chat.completions.create(model=MODEL, messages=history, tools=[weather_tool()])
    assert answer.choices[0].message.content == PARALLEL_ANSWER


def test_stream_helper_reports_each_call_done(client: openai.OpenAI) -> None:
    with client.chat.completions.stream(
        model=MODEL, messages=ask("[sim:parallel_calls]"), tools=[weather_tool()]
    ) as stream:
        done = [e for e in stream if e.type == "tool_calls.function.arguments.done"]
        final = stream.get_final_completion()
    assert [(e.index, e.name, e.arguments) for e in done] == [
        (0, "get_weather", WEATHER_ARGUMENTS),
        (1, "get_weather", SHANGHAI_ARGUMENTS),
    ]
    calls = function_calls(final.choices[0].message)
    assert [c.id for c in calls] == [WEATHER_CALL_ID, SHANGHAI_CALL_ID]
    assert [c.function.name for c in calls] == ["get_weather", "get_weather"]


def test_tool_choice_required_with_one_tool_names_it(
    client: openai.OpenAI, received: list[ReceivedRequest]
) -> None:
    raw = client.chat.completions.with_raw_response.create(
        model=MODEL,
        messages=ask("[sim:function_call]"),
        tools=[weather_tool()],
        tool_choice="required",
    )
    assert raw.parse().choices[0].message.tool_calls
    sent = upstream(received)["parameters"]["tool_choice"]
    assert sent == {"type": "function", "function": {"name": "get_weather"}}
    assert "tool_choice: required" in raw.headers[NOTES]


def test_tool_choice_required_with_two_tools_is_auto(
    client: openai.OpenAI, received: list[ReceivedRequest]
) -> None:
    raw = client.chat.completions.with_raw_response.create(
        model=MODEL,
        messages=ask("[sim:function_call]"),
        tools=[weather_tool(), weather_tool("get_time")],
        tool_choice="required",
    )
    assert upstream(received)["parameters"]["tool_choice"] == "auto"
    assert "tool_choice: required sent as auto" in raw.headers[NOTES]


def test_named_tool_choice_passes_as_is(
    client: openai.OpenAI, received: list[ReceivedRequest]
) -> None:
    named: Any = {"type": "function", "function": {"name": "get_weather"}}
    raw = client.chat.completions.with_raw_response.create(
        model=MODEL, messages=ask("[sim:function_call]"), tools=[weather_tool()], tool_choice=named
    )
    assert upstream(received)["parameters"]["tool_choice"] == named
    assert NOTES not in raw.headers


def test_custom_tool_is_400(client: openai.OpenAI, received: list[ReceivedRequest]) -> None:
    custom: Any = {"type": "custom", "custom": {"name": "grammar"}}
    with pytest.raises(openai.BadRequestError) as caught:
        client.chat.completions.create(model=MODEL, messages=ask("hi"), tools=[custom])
    assert caught.value.param == "tools[0]"
    assert received == []


# ---- structured output ----------------------------------------------------------------------


class Weather(BaseModel):
    city: str
    temperature: int


def test_parse_with_a_pydantic_model(
    client: openai.OpenAI, received: list[ReceivedRequest]
) -> None:
    completion = client.chat.completions.parse(
        model=MODEL, messages=ask("[sim:json_answer] Weather as JSON"), response_format=Weather
    )
    assert completion.choices[0].message.parsed == Weather(city="Hangzhou", temperature=21)
    response_format = upstream(received)["parameters"]["response_format"]
    assert response_format["type"] == "json_schema"
    assert response_format["json_schema"]["name"] == "Weather"
    assert set(response_format["json_schema"]["schema"]["properties"]) == {"city", "temperature"}


def test_json_object_passes_through(client: openai.OpenAI, received: list[ReceivedRequest]) -> None:
    completion = client.chat.completions.create(
        model=MODEL,
        messages=ask("[sim:json_answer] Answer in json"),
        response_format={"type": "json_object"},
    )
    assert json.loads(completion.choices[0].message.content or "") == {
        "city": "Hangzhou",
        "temperature": 21,
    }
    assert upstream(received)["parameters"]["response_format"] == {"type": "json_object"}
