"""`stream: false` through the proxy: one `chat.completion`, folded from a streamed upstream."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import httpx
import openai
from openai.types.chat import ChatCompletionMessage, ChatCompletionMessageFunctionToolCall

from proxy.simulator import ReceivedRequest
from proxy.simulator.scripts import LENGTH_ANSWER, SEED_ANSWER, TWO_RUNS_SECOND_CODE

MODEL = "qwen3-max-preview"
CODE_FLAGS = {"enable_code_interpreter": True, "enable_thinking": True}


def ask(text: str) -> list[Any]:
    return [{"role": "user", "content": text}]


def function_calls(message: ChatCompletionMessage) -> list[ChatCompletionMessageFunctionToolCall]:
    calls = message.tool_calls or []
    assert all(isinstance(c, ChatCompletionMessageFunctionToolCall) for c in calls), calls
    return [c for c in calls if isinstance(c, ChatCompletionMessageFunctionToolCall)]


def test_code_interpreter_run_folds_into_one_completion(
    client: openai.OpenAI,
    received: list[ReceivedRequest],
    scenario_text: Callable[..., Any],
) -> None:
    raw = client.chat.completions.with_raw_response.create(
        model=MODEL, messages=ask("What is 123**21?"), stream=False, extra_body=CODE_FLAGS
    )
    completion = raw.parse()
    expected = scenario_text("seed_single_run")

    assert raw.headers["content-type"] == "application/json"
    assert raw.headers["x-request-id"] == expected.request_id
    assert completion.object == "chat.completion"
    assert completion.id.startswith("chatcmpl-")
    assert completion.model == MODEL
    (choice,) = completion.choices
    assert choice.finish_reason == "stop"
    message = choice.message
    assert message.role == "assistant"
    assert message.content == SEED_ANSWER
    assert (message.model_extra or {})["reasoning_content"] == expected.reasoning
    (call,) = function_calls(message)
    assert call.type == "function"
    assert call.id.startswith("call_ci_")
    assert call.function.name == "code_interpreter"
    assert json.loads(call.function.arguments) == {"code": "123**21"}

    usage = completion.usage
    assert usage is not None
    assert (usage.prompt_tokens, usage.completion_tokens, usage.total_tokens) == (734, 263, 997)
    assert usage.completion_tokens_details is not None
    assert usage.completion_tokens_details.reasoning_tokens == 171
    assert (usage.model_extra or {})["x_tools"] == {"code_interpreter": {"count": 1}}

    # One translation path: the upstream call was a streaming one all the same.
    (upstream,) = received
    assert upstream.headers["x-dashscope-sse"] == "enable"
    assert upstream.body["parameters"]["incremental_output"] is True
    assert upstream.body["parameters"]["result_format"] == "message"


def test_two_runs_fold_into_two_tool_calls(client: openai.OpenAI) -> None:
    completion = client.chat.completions.create(
        model=MODEL, messages=ask("[sim:seed_two_runs]"), extra_body=CODE_FLAGS
    )
    message = completion.choices[0].message
    calls = function_calls(message)
    assert [json.loads(c.function.arguments) for c in calls] == [
        {"code": "123**23"},
        {"code": TWO_RUNS_SECOND_CODE},
    ]
    assert len({c.id for c in calls}) == 2
    assert message.content is not None
    assert message.content.startswith("First run result:")


def test_plain_answer_has_no_reasoning_or_calls(
    client: openai.OpenAI, scenario_text: Callable[..., Any]
) -> None:
    completion = client.chat.completions.create(model="qwen-plus", messages=ask("Hello"))
    message = completion.choices[0].message
    assert message.content == scenario_text("plain_text", thinking=False).content
    assert message.tool_calls is None
    assert "reasoning_content" not in (message.model_extra or {})
    assert completion.choices[0].finish_reason == "stop"
    assert completion.usage is not None
    assert completion.usage.total_tokens == (
        completion.usage.prompt_tokens + completion.usage.completion_tokens
    )


def test_thinking_without_code(client: openai.OpenAI, scenario_text: Callable[..., Any]) -> None:
    completion = client.chat.completions.create(
        model="qwen-plus", messages=ask("Hello"), extra_body={"enable_thinking": True}
    )
    message = completion.choices[0].message
    expected = scenario_text("plain_text", thinking=True)
    assert (message.model_extra or {})["reasoning_content"] == expected.reasoning
    assert message.content == expected.content
    assert completion.usage is not None
    assert completion.usage.completion_tokens_details is not None
    assert completion.usage.completion_tokens_details.reasoning_tokens


def test_length_finish_reason_is_kept(client: openai.OpenAI) -> None:
    completion = client.chat.completions.create(
        model="qwen-plus", messages=ask("An essay, please [sim:length]"), max_tokens=20
    )
    assert completion.choices[0].finish_reason == "length"
    assert completion.choices[0].message.content == LENGTH_ANSWER + " fingers"


def test_raw_body_is_a_complete_openai_completion(raw: httpx.Client) -> None:
    body = {"model": MODEL, "messages": ask("123**21?"), "stream": False, **CODE_FLAGS}
    response = raw.post("/v1/chat/completions", json=body)
    assert response.status_code == 200
    completion = response.json()
    assert set(completion) >= {"id", "object", "created", "model", "choices", "usage"}
    assert completion["object"] == "chat.completion"
    choice = completion["choices"][0]
    assert choice["index"] == 0
    assert choice["finish_reason"] == "stop"
    assert choice["message"]["content"] == SEED_ANSWER
    assert choice["message"]["tool_calls"][0]["function"]["name"] == "code_interpreter"
