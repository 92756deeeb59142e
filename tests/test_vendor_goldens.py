"""Golden streams from DashScope's own published samples (tests/vendor_goldens.py): each body is
the page's sample rewritten as native frames, translated by the proxy into the chunks and the
Responses events reviewed in tests/golden/, checked against both client contracts and read back
for what the page says the answer was."""

from __future__ import annotations

import json
from typing import Any

import pytest
from openai.types.chat import ChatCompletionChunk

from proxy.core.sse import DONE, encode_data, encode_named
from tests import golden_tools, responses_helpers
from tests.contract import check_chunks, check_sse_bytes
from tests.golden_tools import error_summary, load_body
from tests.responses_contract import ResponsesResult, check_event_bytes, check_events
from tests.vendor_goldens import (
    CALL_ID,
    CALL_NAME,
    CALL_PIECES,
    CALL_REASONING,
    CASE_NAMES,
    SEARCH_ANSWER,
    SEARCH_RESULTS,
    THINKING_ANSWER,
    THINKING_REASONING,
    VISUAL_ANSWER,
    VISUAL_REASONING,
    case,
    chat_outcome,
    responses_outcome,
)


def folded(name: str) -> dict[str, Any]:
    return check_chunks(chat_outcome(name).chunks, include_usage=True)


def message(name: str) -> dict[str, Any]:
    return dict(folded(name)["choices"][0]["message"])


def native(name: str) -> list[dict[str, Any]]:
    lines = load_body(name).decode().split("\n")
    return [json.loads(line[5:]) for line in lines if line.startswith("data:")]


def responses(name: str) -> ResponsesResult:
    return check_events(responses_outcome(name).events)


# ---- every vendor golden --------------------------------------------------------------------


@pytest.mark.parametrize("name", CASE_NAMES)
def test_the_body_is_the_one_built_from_the_page(name: str) -> None:
    assert load_body(name) == case(name).build()


@pytest.mark.parametrize("name", CASE_NAMES)
def test_matches_the_reviewed_chunks(name: str) -> None:
    expected = golden_tools.load_expected(name)
    result = chat_outcome(name)
    assert expected["model"] == case(name).model
    assert expected["source"].startswith(case(name).page)
    assert result.chunks == expected["chunks"]
    assert result.error is None
    assert expected["error"] is None


@pytest.mark.parametrize("name", CASE_NAMES)
def test_obeys_the_chat_contract_on_the_wire(name: str) -> None:
    chunks = chat_outcome(name).chunks
    check_chunks(chunks, include_usage=True)
    wire = b"".join(encode_data(chunk) for chunk in chunks) + DONE
    assert check_sse_bytes(wire, include_usage=True).error is None
    for chunk in chunks:
        ChatCompletionChunk.model_validate(chunk)


@pytest.mark.parametrize("name", CASE_NAMES)
def test_without_include_usage_only_the_usage_chunk_goes(name: str) -> None:
    chunks = chat_outcome(name, include_usage=False).chunks
    assert chunks == [c for c in golden_tools.load_expected(name)["chunks"] if c["choices"]]
    check_chunks(chunks)


@pytest.mark.parametrize("name", CASE_NAMES)
def test_one_byte_at_a_time_changes_nothing(name: str) -> None:
    body = load_body(name)
    result = golden_tools.translate(body, case(name).model, splits=range(len(body)))
    assert result.chunks == golden_tools.load_expected(name)["chunks"]


@pytest.mark.parametrize("name", CASE_NAMES)
def test_usage_is_the_last_frame_total(name: str) -> None:
    last = native(name)[-1]["usage"]
    usage = folded(name)["usage"]
    assert (usage["prompt_tokens"], usage["completion_tokens"], usage["total_tokens"]) == (
        last["input_tokens"],
        last["output_tokens"],
        last["total_tokens"],
    )


@pytest.mark.parametrize("name", CASE_NAMES)
def test_matches_the_reviewed_responses_events(name: str) -> None:
    expected = responses_helpers.load_expected(name)
    result = responses_outcome(name)
    assert expected["model"] == case(name).model
    assert result.events == expected["events"]
    assert error_summary(result.error) is None
    assert expected["error"] is None
    wire = b"".join(encode_named(event) for event in result.events)
    assert check_event_bytes(wire).events == result.events


@pytest.mark.parametrize("name", CASE_NAMES)
def test_both_apis_say_the_same(name: str) -> None:
    got, chat = responses(name), message(name)
    assert got.status == "completed"
    assert got.reasoning == (chat.get("reasoning_content") or "")
    assert got.text == (chat["content"] or "")
    calls = [
        (c["function"]["name"], json.loads(c["function"]["arguments"]))
        for c in chat.get("tool_calls") or ()
    ]
    assert got.calls == calls


# ---- what each page says the answer was -----------------------------------------------------


def test_deep_thinking_reasons_then_answers() -> None:
    assert message("vendor_deep_thinking") == {
        "role": "assistant",
        "content": "".join(THINKING_ANSWER),
        "reasoning_content": "".join(THINKING_REASONING),
    }
    assert folded("vendor_deep_thinking")["choices"][0]["finish_reason"] == "stop"


def test_function_call_after_thinking_is_one_call_for_the_client() -> None:
    msg = message("vendor_function_call")
    assert msg["reasoning_content"] == "".join(piece for _, piece in CALL_REASONING)
    assert msg["content"] is None
    [call] = msg["tool_calls"]
    assert (call["id"], call["type"], call["function"]["name"]) == (CALL_ID, "function", CALL_NAME)
    assert call["function"]["arguments"] == "".join(CALL_PIECES)
    assert json.loads(call["function"]["arguments"]) == {"location": "Hangzhou"}
    assert folded("vendor_function_call")["choices"][0]["finish_reason"] == "tool_calls"
    assert responses("vendor_function_call").calls == [(CALL_NAME, {"location": "Hangzhou"})]


def test_web_search_sources_come_once_before_the_answer() -> None:
    chunks = chat_outcome("vendor_web_search").chunks
    infos = [
        e["delta"]["search_info"]
        for c in chunks
        for e in c["choices"]
        if "search_info" in e["delta"]
    ]
    assert infos == [{"search_results": list(SEARCH_RESULTS)}]
    assert "search_info" in chunks[0]["choices"][0]["delta"]
    assert message("vendor_web_search")["content"] == SEARCH_ANSWER
    [search] = responses("vendor_web_search").items("web_search_call")
    assert search["status"] == "completed"


def test_visual_reasoning_reads_the_multimodal_list_content() -> None:
    assert message("vendor_visual_reasoning") == {
        "role": "assistant",
        "content": "".join(VISUAL_ANSWER),
        "reasoning_content": "".join(VISUAL_REASONING),
    }
    # The answer frames have no reasoning_content key at all, only the list content.
    assert all(
        "reasoning_content" not in f["output"]["choices"][0]["message"]
        for f in native("vendor_visual_reasoning")[3:]
    )
