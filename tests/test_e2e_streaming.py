"""Streaming through the proxy with the real OpenAI SDK, as the vendor page's example does it.

Raw iteration (sync and async), the `.stream()` helper, and the raw bytes on the wire checked
against OpenAI's streaming rules (tests/contract.py).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import httpx
import openai
import pytest
from openai.types.chat import ChatCompletionChunk

from proxy.simulator.scripts import SEED_ANSWER, TWO_RUNS_SECOND_CODE
from tests.contract import check_sse_bytes

MODEL = "qwen3-max-preview"
SEED_QUESTION = "123 to the power of 21: compute it with the code interpreter."
CODE_FLAGS = {"enable_code_interpreter": True, "enable_thinking": True}


def ask(text: str) -> list[Any]:
    return [{"role": "user", "content": text}]


class Collected:
    """What a client would assemble from raw chunks; counts how often each field arrives."""

    def __init__(self) -> None:
        self.reasoning = ""
        self.content = ""
        self.roles: list[str] = []
        self.finish_reasons: list[str] = []
        self.calls: dict[int, dict[str, Any]] = {}
        self.usage_chunks: list[ChatCompletionChunk] = []
        self.ids: set[str] = set()

    def add(self, chunk: ChatCompletionChunk) -> None:
        assert chunk.object == "chat.completion.chunk"
        self.ids.add(chunk.id)
        if chunk.usage is not None:
            assert chunk.choices == []
            self.usage_chunks.append(chunk)
            return
        assert self.usage_chunks == [], "nothing may follow the usage chunk"
        (choice,) = chunk.choices
        delta = choice.delta
        if delta.role:
            self.roles.append(delta.role)
        self.reasoning += getattr(delta, "reasoning_content", None) or ""
        self.content += delta.content or ""
        for call in delta.tool_calls or ():
            slot = self.calls.setdefault(call.index, {"ids": [], "types": [], "names": []})
            slot.setdefault("arguments", "")
            if call.id:
                slot["ids"].append(call.id)
            if call.type:
                slot["types"].append(call.type)
            if call.function and call.function.name:
                slot["names"].append(call.function.name)
            if call.function and call.function.arguments:
                slot["arguments"] += call.function.arguments
        if choice.finish_reason:
            self.finish_reasons.append(choice.finish_reason)

    def assert_code_calls(self, *codes: str) -> None:
        assert sorted(self.calls) == list(range(len(codes)))
        all_ids = [call["ids"] for call in self.calls.values()]
        assert all(len(ids) == 1 for ids in all_ids), all_ids
        assert len({ids[0] for ids in all_ids}) == len(codes), "call ids are distinct"
        for index, code in enumerate(codes):
            call = self.calls[index]
            assert call["types"] == ["function"]
            assert call["names"] == ["code_interpreter"]
            assert json.loads(call["arguments"]) == {"code": code}


def collect(chunks: list[ChatCompletionChunk]) -> Collected:
    collected = Collected()
    for chunk in chunks:
        collected.add(chunk)
    assert len(collected.ids) == 1, "one id for the whole stream"
    return collected


def test_vendor_example_streams_reasoning_call_and_answer(
    client: openai.OpenAI, scenario_text: Callable[..., Any]
) -> None:
    expected = scenario_text("seed_single_run")
    stream = client.chat.completions.create(
        model=MODEL, messages=ask(SEED_QUESTION), stream=True, extra_body=CODE_FLAGS
    )
    with stream:
        got = collect(list(stream))

    assert got.roles == ["assistant"]
    assert got.reasoning == expected.reasoning
    assert got.reasoning.startswith("The user is asking me to calculate 123")
    got.assert_code_calls("123**21")
    assert got.content == SEED_ANSWER
    assert got.finish_reasons == ["stop"]
    assert got.usage_chunks == [], "no usage chunk unless include_usage was asked for"


def test_include_usage_adds_a_final_usage_chunk(client: openai.OpenAI) -> None:
    stream = client.chat.completions.create(
        model=MODEL,
        messages=ask(SEED_QUESTION),
        stream=True,
        stream_options={"include_usage": True},
        extra_body=CODE_FLAGS,
    )
    with stream:
        chunks = list(stream)
    got = collect(chunks)

    assert chunks[-1] is got.usage_chunks[0]
    assert len(got.usage_chunks) == 1
    usage = got.usage_chunks[0].usage
    assert usage is not None
    assert (usage.prompt_tokens, usage.completion_tokens, usage.total_tokens) == (734, 263, 997)
    assert usage.completion_tokens_details is not None
    assert usage.completion_tokens_details.reasoning_tokens == 171
    assert (usage.model_extra or {})["x_tools"] == {"code_interpreter": {"count": 1}}
    assert got.finish_reasons == ["stop"]


def test_two_runs_become_two_calls(client: openai.OpenAI) -> None:
    stream = client.chat.completions.create(
        model=MODEL,
        messages=ask("Run the interpreter twice [sim:seed_two_runs]"),
        stream=True,
        extra_body=CODE_FLAGS,
    )
    with stream:
        got = collect(list(stream))

    got.assert_code_calls("123**23", TWO_RUNS_SECOND_CODE)
    assert got.finish_reasons == ["stop"]
    assert got.content.startswith("First run result:")


@pytest.mark.parametrize("name", ["code_growing", "interleaved"])
def test_growing_and_interleaved_code_parse_to_the_final_code(
    client: openai.OpenAI, scenario_text: Callable[..., Any], name: str
) -> None:
    expected = scenario_text(name)
    stream = client.chat.completions.create(
        model=MODEL, messages=ask(f"[sim:{name}]"), stream=True, extra_body=CODE_FLAGS
    )
    with stream:
        got = collect(list(stream))
    got.assert_code_calls(*expected.codes)
    assert (got.reasoning, got.content) == (expected.reasoning, expected.content)
    assert got.finish_reasons == ["stop"]


@pytest.mark.parametrize("include_usage", [False, True], ids=["no-usage", "usage"])
@pytest.mark.parametrize(
    "name", ["seed_single_run", "seed_two_runs", "code_growing", "interleaved", "plain_text"]
)
def test_raw_bytes_obey_the_openai_stream_rules(
    raw: httpx.Client, scenario_text: Callable[..., Any], name: str, include_usage: bool
) -> None:
    expected = scenario_text(name)
    body = {
        "model": MODEL,
        "messages": ask(f"[sim:{name}]"),
        "stream": True,
        "stream_options": {"include_usage": include_usage},
        **CODE_FLAGS,
    }
    response = raw.post("/v1/chat/completions", json=body)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/event-stream")
    assert response.headers["x-request-id"] == expected.request_id
    assert response.content.endswith(b"data: [DONE]\n\n")

    result = check_sse_bytes(response.content, include_usage=include_usage)
    assert result.error is None
    assert result.message["content"] == expected.content
    assert result.message.get("reasoning_content") == expected.reasoning
    calls = result.message.get("tool_calls") or []
    assert [json.loads(c["function"]["arguments"]) for c in calls] == [
        {"code": code} for code in expected.codes
    ]


def test_plain_answer_without_thinking(
    client: openai.OpenAI, scenario_text: Callable[..., Any]
) -> None:
    stream = client.chat.completions.create(model="qwen-plus", messages=ask("Hello"), stream=True)
    with stream:
        got = collect(list(stream))
    assert got.content == scenario_text("plain_text", thinking=False).content
    assert (got.reasoning, got.calls, got.finish_reasons) == ("", {}, ["stop"])


def test_stream_helper_final_completion(client: openai.OpenAI) -> None:
    events: list[str] = []
    with client.chat.completions.stream(
        model=MODEL, messages=ask(SEED_QUESTION), extra_body=CODE_FLAGS
    ) as stream:
        for event in stream:
            events.append(event.type)
        final = stream.get_final_completion()

    assert {"chunk", "content.delta", "tool_calls.function.arguments.done"} <= set(events)
    assert final.id.startswith("chatcmpl-")
    assert final.id.count("chatcmpl-") == 1, "the id must not be repeated"
    (choice,) = final.choices
    assert choice.finish_reason == "stop"
    message = choice.message
    assert message.role == "assistant"
    assert message.content == SEED_ANSWER
    assert (message.model_extra or {})["reasoning_content"].startswith("The user is asking")
    (call,) = message.tool_calls or []
    assert call.type == "function"
    assert call.id.count("call_ci_") == 1, "the call id must not be repeated"
    assert call.function.name == "code_interpreter"
    assert json.loads(call.function.arguments) == {"code": "123**21"}


def test_stream_helper_two_runs(client: openai.OpenAI) -> None:
    with client.chat.completions.stream(
        model=MODEL, messages=ask("[sim:seed_two_runs]"), extra_body=CODE_FLAGS
    ) as stream:
        final = stream.get_final_completion()
    calls = final.choices[0].message.tool_calls or []
    assert [json.loads(c.function.arguments)["code"] for c in calls] == [
        "123**23",
        TWO_RUNS_SECOND_CODE,
    ]
    assert [c.function.name for c in calls] == ["code_interpreter"] * 2
    assert len({c.id for c in calls}) == 2


async def test_async_client_raw_iteration(
    async_client: openai.AsyncOpenAI, scenario_text: Callable[..., Any]
) -> None:
    stream = await async_client.chat.completions.create(
        model=MODEL,
        messages=ask(SEED_QUESTION),
        stream=True,
        stream_options={"include_usage": True},
        extra_body=CODE_FLAGS,
    )
    got = Collected()
    async with stream:
        async for chunk in stream:
            got.add(chunk)

    assert got.roles == ["assistant"]
    assert got.reasoning == scenario_text("seed_single_run").reasoning
    got.assert_code_calls("123**21")
    assert got.content == SEED_ANSWER
    assert got.finish_reasons == ["stop"]
    (usage_chunk,) = got.usage_chunks
    assert usage_chunk.usage is not None
    assert usage_chunk.usage.total_tokens == 997


async def test_async_stream_helper(async_client: openai.AsyncOpenAI) -> None:
    async with async_client.chat.completions.stream(
        model=MODEL, messages=ask(SEED_QUESTION), extra_body=CODE_FLAGS
    ) as stream:
        final = await stream.get_final_completion()
    message = final.choices[0].message
    assert message.role == "assistant"
    assert message.content == SEED_ANSWER
    assert [c.function.name for c in message.tool_calls or []] == ["code_interpreter"]
