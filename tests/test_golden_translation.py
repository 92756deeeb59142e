"""Golden streams for the newer native paths: function calls (incremental and cumulative, several
calls in one frame), n=2 choices, `search_info`, logprobs and multimodal list content.

The `.sse` bodies in `tests/golden/` are hand-built to the shapes in docs/dashscope-protocol.md
("Result frames", "Function calls", "Web search sources"); the `.expected.json` chunks were
reviewed by hand.
"""

from __future__ import annotations

import json
from dataclasses import replace
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from proxy.chat.api import CHAT_COMPLETIONS
from proxy.core.errors import ProxyError
from proxy.core.sse import DONE, SSEDecoder, encode_data
from proxy.core.wire import Item
from tests.contract import check_chunks, check_sse_bytes
from tests.golden_tools import Outcome, identity, load_body, load_expected, translate

MODELS = {
    "fn_incremental": "qwen-plus",
    "fn_cumulative": "qwen-plus",
    "fn_parallel_frame": "qwen3.5-plus",
    "n2_interleaved": "qwen-plus",
    "search_info": "qwen-plus",
    "logprobs": "qwen-plus",
    "multimodal_reasoning": "qwen3.5-plus",
}
NAMES = tuple(MODELS)


def outcome(name: str, *, include_usage: bool = True) -> Outcome:
    return translate(load_body(name), MODELS[name], include_usage=include_usage)


def folded(name: str) -> dict[str, Any]:
    return check_chunks(outcome(name).chunks, include_usage=True)


def message(name: str, choice: int = 0) -> dict[str, Any]:
    return dict(folded(name)["choices"][choice]["message"])


def native_frames(name: str) -> list[dict[str, Any]]:
    body = load_body(name).decode()
    return [json.loads(line[5:]) for line in body.split("\n") if line.startswith("data:")]


def entries(chunks: list[Item]) -> list[dict[str, Any]]:
    return [entry for chunk in chunks for entry in chunk["choices"]]


def args(msg: dict[str, Any]) -> list[Any]:
    return [json.loads(call["function"]["arguments"]) for call in msg["tool_calls"]]


# ---- every new golden -----------------------------------------------------------------------


@pytest.mark.parametrize("name", NAMES)
def test_matches_the_reviewed_chunks(name: str) -> None:
    expected = load_expected(name)
    result = outcome(name)
    assert expected["model"] == MODELS[name]
    assert result.chunks == expected["chunks"]
    assert result.error is None
    assert expected["error"] is None


@pytest.mark.parametrize("name", NAMES)
def test_obeys_the_client_contract_on_the_wire(name: str) -> None:
    result = outcome(name)
    check_chunks(result.chunks, include_usage=True)
    body = b"".join(encode_data(chunk) for chunk in result.chunks) + DONE
    assert check_sse_bytes(body, include_usage=True).error is None


@pytest.mark.parametrize("name", NAMES)
def test_without_include_usage_only_the_usage_chunk_goes(name: str) -> None:
    result = outcome(name, include_usage=False)
    assert result.chunks == [c for c in load_expected(name)["chunks"] if c["choices"]]
    check_chunks(result.chunks)


@pytest.mark.parametrize("name", NAMES)
@settings(max_examples=40, deadline=None)
@given(data=st.data())
def test_any_byte_split_gives_the_same_chunks(name: str, data: st.DataObject) -> None:
    body = load_body(name)
    splits = data.draw(st.lists(st.integers(0, len(body)), max_size=30), label="splits")
    result = translate(body, MODELS[name], splits=splits)
    assert result.chunks == load_expected(name)["chunks"]
    assert result.error is None


@pytest.mark.parametrize("name", NAMES)
def test_one_byte_at_a_time(name: str) -> None:
    body = load_body(name)
    result = translate(body, MODELS[name], splits=range(len(body)))
    assert result.chunks == load_expected(name)["chunks"]


@pytest.mark.parametrize("name", [name for name in NAMES if name != "n2_interleaved"])
def test_usage_is_the_last_frame_total(name: str) -> None:
    native = native_frames(name)[-1]["usage"]
    usage = folded(name)["usage"]
    assert (usage["prompt_tokens"], usage["completion_tokens"], usage["total_tokens"]) == (
        native["input_tokens"],
        native["output_tokens"],
        native["total_tokens"],
    )


# ---- function calls -------------------------------------------------------------------------

WEATHER_CALLS = [
    {
        "id": "call_29a870e7106f45deb8add3",
        "type": "function",
        "function": {"name": "get_current_weather", "arguments": '{"location": "浙江省杭州市"}'},
    },
    {
        "id": "call_026e44bb31a74266949a20",
        "type": "function",
        "function": {"name": "get_current_weather", "arguments": '{"location": "上海市"}'},
    },
]


def test_incremental_function_calls_fold_to_two_calls() -> None:
    result = folded("fn_incremental")
    [choice] = result["choices"]
    assert choice["finish_reason"] == "tool_calls"
    assert choice["message"] == {
        "role": "assistant",
        "content": None,
        "reasoning_content": (
            "The user asks about two cities. I will call get_current_weather for each."
        ),
        "tool_calls": WEATHER_CALLS,
    }


def test_incremental_fragments_are_passed_on_as_they_come() -> None:
    calls = [
        c
        for e in entries(outcome("fn_incremental").chunks)
        for c in e["delta"].get("tool_calls", ())
    ]
    assert [(c["index"], c["function"]["arguments"]) for c in calls] == [
        (0, '{"location": "'),
        (0, '浙江省杭州市"}'),
        (1, '{"location":'),
        (1, ' "上海市"}'),
    ]
    assert [c["function"].get("name") for c in calls] == ["get_current_weather", None] * 2


def test_cumulative_arguments_give_the_same_chunks_as_incremental_ones() -> None:
    frames = native_frames("fn_cumulative")
    last = frames[-1]["output"]["choices"][0]["message"]["tool_calls"][0]["function"]
    assert last == {"name": "get_current_weather", "arguments": '{"location": "上海市"}'}
    assert outcome("fn_cumulative").chunks == outcome("fn_incremental").chunks


def _cumulative_full_list_body() -> bytes:
    """fn_cumulative, but as a fully cumulative message would be: every frame repeats every call
    so far (finished ones unchanged, with their name)."""
    out = []
    seen: dict[int, dict[str, Any]] = {}
    for n, frame in enumerate(native_frames("fn_cumulative"), 1):
        msg = frame["output"]["choices"][0]["message"]
        for call in msg.get("tool_calls", ()):
            seen[call["index"]] = call
        if seen:
            msg["tool_calls"] = [seen[index] for index in sorted(seen)]
        data = json.dumps(frame, ensure_ascii=False, separators=(",", ":"))
        out.append(f"id:{n}\nevent:result\n:HTTP_STATUS/200\ndata:{data}\n\n".encode())
    return b"".join(out)


def test_cumulative_frames_repeating_a_finished_call_add_no_chunks() -> None:
    result = translate(_cumulative_full_list_body(), "qwen-plus")
    check_chunks(result.chunks, include_usage=True)
    assert result.chunks == outcome("fn_incremental").chunks


def test_one_frame_with_deltas_for_two_calls() -> None:
    frames = native_frames("fn_parallel_frame")
    both = [
        f for f in frames if len(f["output"]["choices"][0]["message"].get("tool_calls", ())) == 2
    ]
    assert len(both) == 2
    msg = message("fn_parallel_frame")
    assert args(msg) == [{"location": "北京市"}, {"location": "广州市"}]
    assert [call["id"] for call in msg["tool_calls"]] == [
        "call_5f0c2d9e8b7a4c1d9e3f2a1b",
        "call_8a7b6c5d4e3f2a1b0c9d8e7f",
    ]
    assert msg["content"] is None
    assert msg["reasoning_content"] == "Two cities, so two calls."
    # The frame closing call 0 and opening call 1 gives both deltas, in upstream order; the
    # empty fragment for call 0 in the next frame gives nothing.
    calls = [
        c
        for e in entries(outcome("fn_parallel_frame").chunks)
        for c in e["delta"].get("tool_calls", ())
    ]
    assert [(c["index"], "id" in c) for c in calls] == [
        (0, True),
        (0, False),
        (1, True),
        (1, False),
        (1, False),
    ]
    assert all(c["function"]["arguments"] for c in calls if "id" not in c)


# ---- several choices ------------------------------------------------------------------------


def test_two_interleaved_choices_fold_separately() -> None:
    result = folded("n2_interleaved")
    assert [c["index"] for c in result["choices"]] == [0, 1]
    assert result["choices"][0]["message"] == {
        "role": "assistant",
        "content": "Roses are red, violets are blue.",
    }
    assert result["choices"][1]["message"] == {
        "role": "assistant",
        "content": "Violets are blue, sugar is sweet.",
    }
    assert [c["finish_reason"] for c in result["choices"]] == ["stop", "stop"]


def test_each_choice_keeps_its_own_order_and_finish() -> None:
    order = [(e["index"], e["finish_reason"]) for e in entries(outcome("n2_interleaved").chunks)]
    assert order == [
        (0, None),
        (1, None),
        (0, None),
        (1, None),
        (1, None),
        (1, "stop"),
        (0, "stop"),
    ]
    # Each chunk carries exactly one choice, as each upstream frame did.
    assert all(len(chunk["choices"]) == 1 for chunk in outcome("n2_interleaved").chunks[:-1])


def test_two_choices_cost_the_sum_of_their_outputs() -> None:
    """Each frame's usage is its own choice's running total: the request's output is the sum
    of each choice's last count, the prompt counted once (the DashScope Python SDK's merge of
    n > 1 streams does the same)."""
    last: dict[int, dict[str, Any]] = {}
    for frame in native_frames("n2_interleaved"):
        last[frame["output"]["choices"][0]["index"]] = frame["usage"]
    assert [usage["output_tokens"] for _, usage in sorted(last.items())] == [8, 8]
    assert folded("n2_interleaved")["usage"] == {
        "prompt_tokens": 31,
        "completion_tokens": 16,
        "total_tokens": 47,
    }


def test_a_choice_cut_short_still_counts_what_each_choice_spent() -> None:
    body = load_body("n2_interleaved")
    translation = CHAT_COMPLETIONS.new_translation(
        replace(identity("qwen-plus"), include_usage=True)
    )
    decoder = SSEDecoder()
    translation.feed(decoder.feed(body[: body.rindex(b"id:5")]))  # choices 0 and 1 half done
    usage = translation.summary().usage
    assert usage is not None
    assert (usage.prompt_tokens, usage.completion_tokens) == (31, 8 + 4)


def test_a_choice_left_open_is_truncated() -> None:
    body = load_body("n2_interleaved")
    cut = body[: body.rindex(b"id:6")]  # choice 0's finish frame never comes
    result = translate(cut, "qwen-plus")
    assert result.error is not None
    assert result.error.code == "upstream_truncated"


# ---- search_info ----------------------------------------------------------------------------


def test_search_results_are_sent_once_and_folded() -> None:
    first = native_frames("search_info")[0]["output"]["search_info"]["search_results"]
    assert len(first) == 2
    sent = [
        e["delta"]["search_info"]
        for e in entries(outcome("search_info").chunks)
        if "search_info" in e["delta"]
    ]
    assert sent == [{"search_results": first}]
    msg = message("search_info")
    assert msg == {
        "role": "assistant",
        "content": "".join(
            f["output"]["choices"][0]["message"]["content"] for f in native_frames("search_info")
        ),
        "search_info": {"search_results": first},
    }


def test_search_results_repeated_by_the_upstream_are_still_sent_once() -> None:
    body = load_body("search_info")
    first = native_frames("search_info")[0]["output"]["search_info"]
    repeated = body.replace(
        b'"search_info":{"extra_tool_info":[],"search_results":[]}',
        b'"search_info":' + json.dumps(first, ensure_ascii=False, separators=(",", ":")).encode(),
    )
    assert repeated.count(b'"search_results":[{') == len(native_frames("search_info"))
    result = translate(repeated, "qwen-plus")
    assert result.chunks == outcome("search_info").chunks


def test_search_results_come_before_the_answer_text() -> None:
    deltas = [e["delta"] for e in entries(outcome("search_info").chunks)]
    assert deltas[0] == {"role": "assistant", "search_info": deltas[0]["search_info"]}
    assert "content" not in deltas[0]


# ---- logprobs -------------------------------------------------------------------------------


def test_logprobs_ride_on_their_content_chunk() -> None:
    native = [f["output"]["choices"][0]["logprobs"]["content"] for f in native_frames("logprobs")]
    content = [e for e in entries(outcome("logprobs").chunks) if e["delta"].get("content")]
    assert [e["logprobs"] for e in content] == [{"content": lp} for lp in native if lp]
    finish = [e for e in entries(outcome("logprobs").chunks) if e["finish_reason"]]
    assert finish[0]["logprobs"] is None


def test_fold_concatenates_logprobs_in_order() -> None:
    native = [
        lp
        for f in native_frames("logprobs")
        for lp in f["output"]["choices"][0]["logprobs"]["content"]
    ]
    [choice] = folded("logprobs")["choices"]
    assert choice["message"]["content"] == "The sky is blue."
    assert choice["logprobs"] == {"content": native}
    assert [lp["token"] for lp in choice["logprobs"]["content"]] == ["The", " sky", " is", " blue."]


def test_no_logprobs_when_none_came() -> None:
    assert folded("multimodal_reasoning")["choices"][0]["logprobs"] is None


# ---- multimodal list content ----------------------------------------------------------------


def test_multimodal_list_content_with_reasoning() -> None:
    result = folded("multimodal_reasoning")
    assert result["choices"][0]["message"] == {
        "role": "assistant",
        "content": "Quiet pond, a frog leaps in.",
        "reasoning_content": "Okay, the user wants a haiku.",
    }
    assert result["usage"]["completion_tokens_details"] == {"reasoning_tokens": 6}
    # `prompt_tokens_details: {}` upstream: no cached count is invented; the multimodal
    # endpoint's prompt breakdown (`input_tokens_details`) is kept.
    assert result["usage"]["prompt_tokens_details"] == {"text_tokens": 15}


def test_two_text_parts_in_one_frame_make_one_delta() -> None:
    texts = [
        e["delta"]["content"]
        for e in entries(outcome("multimodal_reasoning").chunks)
        if "content" in e["delta"]
    ]
    assert texts == ["Quiet", " pond, a frog", " leaps in."]


def test_request_id_of_a_new_golden() -> None:
    translation = CHAT_COMPLETIONS.new_translation(
        replace(identity("qwen-plus"), include_usage=False)
    )
    decoder = SSEDecoder()
    translation.feed(decoder.feed(load_body("search_info")))
    assert translation.request_id == "4d3c2b1a-0f9e-4d8c-8b7a-6f5e4d3c2b1a"


def test_tokens_spent_before_an_error_are_still_counted() -> None:
    """An answer cut short by an error still cost tokens: the usage DashScope reported last is
    what records and metrics count, although no usage chunk reached the client."""
    decoder = SSEDecoder()
    events = decoder.feed(load_body("error_midstream")) + decoder.finish()
    translation = CHAT_COMPLETIONS.new_translation(
        replace(identity("qwen-plus"), include_usage=True)
    )
    translation.feed(events)  # the frames before the error frame go out; the error waits
    with pytest.raises(ProxyError):
        translation.finish()
    usage = translation.summary().usage
    assert usage is not None
    assert (usage.prompt_tokens, usage.completion_tokens) == (27, 15)
