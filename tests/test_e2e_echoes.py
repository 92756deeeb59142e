"""Echoed code-interpreter calls are harmless (docs/architecture.md), end to end.

Agent frameworks execute every tool call they see and send it back with a fake result. The
proxy recognises its own calls by the ids it issued, removes them (and their results) before
calling DashScope, and answers a request whose only new input is such results by itself.
"""

from __future__ import annotations

import json
from typing import Any

import httpx
import openai
import pytest

from proxy.simulator import ReceivedRequest
from proxy.simulator.feature_scripts import WEATHER_ANSWER, WEATHER_CALL_ID
from proxy.simulator.scripts import SEED_ANSWER
from tests.contract import check_sse_bytes

MODEL = "qwen3-max-preview"
CODE_FLAGS = {"enable_code_interpreter": True, "enable_thinking": True}
QUESTION = "What is 123 to the power of 21?"
NOT_A_TOOL = "Error: code_interpreter is not a valid tool"
NOTES = "x-dashscope-proxy-notes"


def first_turn(client: openai.OpenAI, received: list[ReceivedRequest]) -> dict[str, Any]:
    """The assistant message of a real code-interpreter answer, as a client replays it."""
    completion = client.chat.completions.create(
        model=MODEL, messages=[{"role": "user", "content": QUESTION}], extra_body=CODE_FLAGS
    )
    message = completion.choices[0].message
    assert message.tool_calls is not None
    received.clear()
    return {
        "role": "assistant",
        "content": message.content,
        "tool_calls": [call.model_dump() for call in message.tool_calls],
    }


def call_id(assistant: dict[str, Any]) -> str:
    value: str = assistant["tool_calls"][0]["id"]
    assert value.startswith("call_ci_")
    return value


def tool_result(call: str, content: str) -> dict[str, Any]:
    return {"role": "tool", "tool_call_id": call, "content": content}


def upstream_messages(received: list[ReceivedRequest]) -> list[dict[str, Any]]:
    (upstream,) = received
    messages: list[dict[str, Any]] = upstream.body["input"]["messages"]
    return messages


@pytest.mark.parametrize("result", [NOT_A_TOOL, ""])
def test_fake_result_is_answered_without_dashscope(
    client: openai.OpenAI, received: list[ReceivedRequest], result: str
) -> None:
    assistant = first_turn(client, received)
    history: list[Any] = [
        {"role": "user", "content": QUESTION},
        assistant,
        tool_result(call_id(assistant), result),
    ]
    completion = client.chat.completions.create(
        model=MODEL, messages=history, extra_body=CODE_FLAGS
    )
    (choice,) = completion.choices
    assert choice.message.content == SEED_ANSWER
    assert choice.message.tool_calls is None
    assert choice.finish_reason == "stop"
    assert received == []


@pytest.mark.parametrize("result", [NOT_A_TOOL, ""])
def test_fake_result_is_answered_without_dashscope_when_streaming(
    client: openai.OpenAI, raw: httpx.Client, received: list[ReceivedRequest], result: str
) -> None:
    assistant = first_turn(client, received)
    history: list[Any] = [
        {"role": "user", "content": QUESTION},
        assistant,
        tool_result(call_id(assistant), result),
    ]
    body = {"model": MODEL, "messages": history, "stream": True, **CODE_FLAGS}
    response = raw.post("/v1/chat/completions", json=body)
    assert response.status_code == 200
    stream = check_sse_bytes(response.content)
    assert stream.error is None
    assert stream.message["content"] == SEED_ANSWER
    assert "tool_calls" not in stream.message
    assert [e["finish_reason"] for c in stream.chunks for e in c["choices"]][-1] == "stop"

    sdk_stream = client.chat.completions.create(
        model=MODEL, messages=history, stream=True, extra_body=CODE_FLAGS
    )
    with sdk_stream:
        chunks = list(sdk_stream)
    assert "".join(c.choices[0].delta.content or "" for c in chunks) == SEED_ANSWER
    assert all(c.choices[0].delta.tool_calls is None for c in chunks)
    assert received == []


def test_agent_loop_ends_after_repeated_fake_results(
    client: openai.OpenAI, received: list[ReceivedRequest]
) -> None:
    """A framework that replays the local answer with the same call again still gets an end."""
    assistant = first_turn(client, received)
    history: list[Any] = [
        {"role": "user", "content": QUESTION},
        assistant,
        tool_result(call_id(assistant), NOT_A_TOOL),
        assistant,
        tool_result(call_id(assistant), NOT_A_TOOL),
    ]
    completion = client.chat.completions.create(
        model=MODEL, messages=history, extra_body=CODE_FLAGS
    )
    assert completion.choices[0].message.content == SEED_ANSWER
    assert received == []


def test_follow_up_question_calls_dashscope_without_the_echo(
    client: openai.OpenAI, received: list[ReceivedRequest]
) -> None:
    assistant = first_turn(client, received)
    ours = call_id(assistant)
    history: list[Any] = [
        {"role": "user", "content": QUESTION},
        assistant,
        tool_result(ours, NOT_A_TOOL),
        {"role": "user", "content": "and 2**10?"},
    ]
    raw = client.chat.completions.with_raw_response.create(
        model=MODEL, messages=history, extra_body=CODE_FLAGS
    )
    completion = raw.parse()
    assert completion.choices[0].message.content == SEED_ANSWER  # the simulator's answer

    messages = upstream_messages(received)
    assert [m["role"] for m in messages] == ["user", "assistant", "user"]
    assert messages[1]["content"] == SEED_ANSWER
    assert "tool_calls" not in messages[1]
    assert "call_ci_" not in json.dumps(messages)
    assert NOT_A_TOOL not in json.dumps(messages)
    notes = raw.headers[NOTES]
    assert "removed 1 echoed code_interpreter call(s) and 1 result(s)" in notes


def test_only_our_calls_are_removed_from_a_mixed_turn(
    client: openai.OpenAI, received: list[ReceivedRequest]
) -> None:
    assistant = first_turn(client, received)
    ours = call_id(assistant)
    weather = {
        "id": WEATHER_CALL_ID,
        "type": "function",
        "function": {"name": "get_weather", "arguments": '{"city": "Hangzhou"}'},
    }
    mixed = {
        "role": "assistant",
        "content": "",
        "tool_calls": [assistant["tool_calls"][0], weather],
    }
    history: list[Any] = [
        {"role": "user", "content": "[sim:function_call] Weather in Hangzhou, and 123**21?"},
        mixed,
        tool_result(ours, NOT_A_TOOL),
        tool_result(WEATHER_CALL_ID, "sunny, 24 degrees"),
    ]
    raw = client.chat.completions.with_raw_response.create(
        model="qwen-plus", messages=history, tools=[WEATHER_TOOL]
    )
    assert raw.parse().choices[0].message.content == WEATHER_ANSWER

    messages = upstream_messages(received)
    assert [m["role"] for m in messages] == ["user", "assistant", "tool"]
    assert [c["id"] for c in messages[1]["tool_calls"]] == [WEATHER_CALL_ID]
    assert messages[1]["tool_calls"][0]["function"]["name"] == "get_weather"
    assert messages[2]["tool_call_id"] == WEATHER_CALL_ID
    assert messages[2]["content"] == "sunny, 24 degrees"
    assert ours not in json.dumps(messages)
    assert "removed 1 echoed code_interpreter call(s) and 1 result(s)" in raw.headers[NOTES]


WEATHER_TOOL: Any = {
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
