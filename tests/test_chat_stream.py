"""Protocol-neutral events -> chat.completion.chunk objects, the usage object, and the fold."""

from __future__ import annotations

import json
from dataclasses import replace

import pytest

from proxy.chat.code_runs import escape_json_text
from proxy.chat.fold import fold_chunks
from proxy.chat.stream import ChatChunkEncoder, ChunkIdentity
from proxy.core.errors import UpstreamUnavailable
from proxy.core.events import (
    CodeDelta,
    CodeDone,
    ContentDelta,
    Event,
    Finish,
    FunctionCallDelta,
    ReasoningDelta,
    Usage,
    usage_object,
)
from proxy.core.wire import Item
from tests.contract import check_chunks

IDENTITY = ChunkIdentity("chatcmpl-test", 1700000000, "qwen3-max", "call_ci_test_")
USAGE = Usage(734, 263, 171, None, 1)


def encode(*events: Event, include_usage: bool = False) -> list[Item]:
    encoder = ChatChunkEncoder(replace(IDENTITY, include_usage=include_usage))
    chunks: list[Item] = []
    for event in events:
        chunks.extend(encoder.feed(event))
    return chunks + encoder.finish()


def deltas(chunks: list[Item]) -> list[Item]:
    return [entry["delta"] for chunk in chunks for entry in chunk["choices"]]


def calls(chunks: list[Item]) -> list[Item]:
    return [call for delta in deltas(chunks) for call in delta.get("tool_calls", ())]


def test_every_chunk_carries_the_identity() -> None:
    chunks = encode(ReasoningDelta(0, "r"), Finish(0, "stop"), USAGE, include_usage=True)
    for chunk in chunks:
        assert chunk["id"] == "chatcmpl-test"
        assert chunk["object"] == "chat.completion.chunk"
        assert chunk["created"] == 1700000000
        assert chunk["model"] == "qwen3-max"


def test_role_only_in_the_first_delta_and_one_payload_kind_per_delta() -> None:
    chunks = encode(
        ReasoningDelta(0, "think"),
        CodeDelta(0, 0, "1+1"),
        CodeDone(0, 0, "1+1"),
        ContentDelta(0, "2"),
        Finish(0, "stop"),
    )
    assert deltas(chunks) == [
        {"role": "assistant", "reasoning_content": "think"},
        {
            "tool_calls": [
                {
                    "index": 0,
                    "id": "call_ci_test_0",
                    "type": "function",
                    "function": {"name": "code_interpreter", "arguments": '{"code": "1+1'},
                }
            ]
        },
        {"tool_calls": [{"index": 0, "function": {"arguments": '"}'}}]},
        {"content": "2"},
        {},
    ]
    assert [c["choices"][0]["finish_reason"] for c in chunks] == [None] * 4 + ["stop"]
    assert all(c["choices"][0]["logprobs"] is None for c in chunks)
    check_chunks(chunks)


def test_code_arguments_concatenate_to_json_with_escapes() -> None:
    pieces = ['print("a\\b")', "\n", "\t# 浙江 🧮 \u2028", '"""', "\\"]
    events: list[Event] = [CodeDelta(0, 0, piece) for piece in pieces]
    chunks = encode(*events, CodeDone(0, 0, "".join(pieces)), Finish(0, "stop"))
    arguments = "".join(call["function"]["arguments"] for call in calls(chunks))
    assert json.loads(arguments) == {"code": "".join(pieces)}
    assert [call["index"] for call in calls(chunks)] == [0] * (len(pieces) + 1)
    assert sum("id" in call for call in calls(chunks)) == 1
    check_chunks(chunks)


def test_escape_json_text_is_per_character() -> None:
    text = 'a"b\\c\nd\u0000é'
    assert escape_json_text(text) == json.dumps(text, ensure_ascii=False)[1:-1]
    assert "".join(escape_json_text(ch) for ch in text) == escape_json_text(text)


def test_run_never_streamed_is_one_whole_call() -> None:
    chunks = encode(CodeDone(0, 0, ""), Finish(0, "stop"))
    [call] = calls(chunks)
    assert call["id"] == "call_ci_test_0"
    assert call["function"]["name"] == "code_interpreter"
    assert json.loads(call["function"]["arguments"]) == {"code": ""}
    check_chunks(chunks)


def test_rewritten_code_still_parses_to_the_final_code() -> None:
    chunks = encode(CodeDelta(0, 0, "print(1)"), CodeDone(0, 0, 'x = "2"'), Finish(0, "stop"))
    arguments = "".join(call["function"]["arguments"] for call in calls(chunks))
    assert json.loads(arguments) == {"code": 'x = "2"'}
    check_chunks(chunks)


def test_runs_and_function_calls_share_one_contiguous_index_sequence() -> None:
    chunks = encode(
        CodeDelta(0, 0, "a"),
        CodeDone(0, 0, "a"),
        FunctionCallDelta(0, 5, "call_up", "get_weather", '{"city":'),
        FunctionCallDelta(0, 5, None, None, '"x"}'),
        CodeDelta(0, 1, "b"),
        CodeDone(0, 1, "b"),
        Finish(0, "tool_calls"),
    )
    assert [call["index"] for call in calls(chunks)] == [0, 0, 1, 1, 2, 2]
    assert [call.get("id") for call in calls(chunks)] == [
        "call_ci_test_0",
        None,
        "call_up",
        None,
        "call_ci_test_1",
        None,
    ]
    folded = check_chunks(chunks)
    message = folded["choices"][0]["message"]
    assert [c["function"]["name"] for c in message["tool_calls"]] == [
        "code_interpreter",
        "get_weather",
        "code_interpreter",
    ]
    assert json.loads(message["tool_calls"][1]["function"]["arguments"]) == {"city": "x"}
    assert folded["choices"][0]["finish_reason"] == "tool_calls"


def test_function_call_without_upstream_id_gets_one() -> None:
    chunks = encode(FunctionCallDelta(0, 0, None, "f", "{}"), Finish(0, "tool_calls"))
    [call] = calls(chunks)
    assert call["id"] == "call_chatcmpl-test_0"
    assert call["type"] == "function"


@pytest.mark.parametrize(
    ("upstream", "sent"),
    [
        ("stop", "stop"),
        ("length", "length"),
        ("tool_calls", "tool_calls"),
        ("content_filter", "content_filter"),
        ("null_or_other", "stop"),
        ("", "stop"),
    ],
)
def test_finish_reason_values(upstream: str, sent: str) -> None:
    chunks = encode(ContentDelta(0, "x"), Finish(0, upstream))
    assert chunks[-1]["choices"][0]["finish_reason"] == sent
    assert chunks[-1]["choices"][0]["delta"] == {}


def test_stop_after_a_server_run_is_not_rewritten_to_tool_calls() -> None:
    chunks = encode(CodeDelta(0, 0, "1"), CodeDone(0, 0, "1"), Finish(0, "stop"))
    assert chunks[-1]["choices"][0]["finish_reason"] == "stop"


def test_finish_is_sent_once() -> None:
    chunks = encode(ContentDelta(0, "x"), Finish(0, "stop"), Finish(0, "length"))
    assert [c["choices"][0]["finish_reason"] for c in chunks] == [None, "stop"]


def test_finish_as_the_first_event_still_sends_the_role() -> None:
    chunks = encode(Finish(0, "stop"))
    assert deltas(chunks) == [{"role": "assistant", "content": ""}]
    folded = check_chunks(chunks)
    assert folded["choices"][0]["message"] == {"role": "assistant", "content": ""}


def test_choices_are_independent() -> None:
    chunks = encode(
        ContentDelta(0, "a"),
        ContentDelta(1, "b"),
        CodeDelta(1, 0, "c"),
        Finish(1, "stop"),
        Finish(0, "stop"),
    )
    assert [c["choices"][0]["index"] for c in chunks] == [0, 1, 1, 1, 0]
    assert deltas(chunks)[1] == {"role": "assistant", "content": "b"}
    assert calls(chunks)[0]["index"] == 0
    folded = fold_chunks(chunks)
    assert [c["message"]["content"] for c in folded["choices"]] == ["a", "b"]


def test_usage_chunk_only_when_asked() -> None:
    events = (ContentDelta(0, "x"), Finish(0, "stop"), USAGE)
    assert all("usage" not in chunk for chunk in encode(*events))
    chunks = encode(*events, include_usage=True)
    assert chunks[-1]["choices"] == []
    assert chunks[-1]["usage"] == {
        "prompt_tokens": 734,
        "completion_tokens": 263,
        "total_tokens": 997,
        "completion_tokens_details": {"reasoning_tokens": 171},
        "x_tools": {"code_interpreter": {"count": 1}},
    }
    check_chunks(chunks, include_usage=True)


def test_encoder_keeps_the_usage_for_the_last_chunk() -> None:
    encoder = ChatChunkEncoder(replace(IDENTITY, include_usage=True))
    assert encoder.feed(USAGE) == []
    (chunk,) = encoder.finish()
    assert (chunk["choices"], chunk["usage"]) == ([], usage_object(USAGE))


def test_no_usage_chunk_when_upstream_sent_no_usage() -> None:
    chunks = encode(ContentDelta(0, "x"), Finish(0, "stop"), include_usage=True)
    assert all("usage" not in chunk for chunk in chunks)


def test_usage_object_minimal_and_full() -> None:
    assert usage_object(Usage(3, 4, None, None, None)) == {
        "prompt_tokens": 3,
        "completion_tokens": 4,
        "total_tokens": 7,
    }
    assert usage_object(Usage(10, 5, 0, 8, 2)) == {
        "prompt_tokens": 10,
        "completion_tokens": 5,
        "total_tokens": 15,
        "completion_tokens_details": {"reasoning_tokens": 0},
        "prompt_tokens_details": {"cached_tokens": 8},
        "x_tools": {"code_interpreter": {"count": 2}},
    }
    every = Usage(
        10,
        5,
        0,
        8,
        2,
        cache_write_tokens=4,
        web_searches=1,
        prompt_text_tokens=3,
        prompt_image_tokens=7,
        prompt_audio_tokens=0,
        prompt_video_tokens=2,
    )
    assert usage_object(every) == {
        "prompt_tokens": 10,
        "completion_tokens": 5,
        "total_tokens": 15,
        "completion_tokens_details": {"reasoning_tokens": 0},
        "prompt_tokens_details": {
            "cached_tokens": 8,
            "cache_write_tokens": 4,
            "text_tokens": 3,
            "image_tokens": 7,
            "audio_tokens": 0,
            "video_tokens": 2,
        },
        "x_tools": {"code_interpreter": {"count": 2}, "web_search": {"count": 1}},
    }


# ---- the fold (non-stream responses) --------------------------------------------------------


def test_fold_text_answer() -> None:
    chunks = encode(
        ReasoningDelta(0, "a"),
        ReasoningDelta(0, "b"),
        ContentDelta(0, "c"),
        ContentDelta(0, "d"),
        Finish(0, "length"),
        USAGE,
        include_usage=True,
    )
    assert fold_chunks(chunks) == {
        "id": "chatcmpl-test",
        "object": "chat.completion",
        "created": 1700000000,
        "model": "qwen3-max",
        "choices": [
            {
                "index": 0,
                "message": {
                    "role": "assistant",
                    "content": "cd",
                    "refusal": None,
                    "reasoning_content": "ab",
                },
                "logprobs": None,
                "finish_reason": "length",
            }
        ],
        "usage": usage_object(USAGE),
    }


def test_fold_content_is_none_when_only_tool_calls() -> None:
    chunks = encode(CodeDelta(0, 0, "x"), CodeDone(0, 0, "x"), Finish(0, "stop"))
    message = fold_chunks(chunks)["choices"][0]["message"]
    assert message == {
        "role": "assistant",
        "content": None,
        "refusal": None,
        "tool_calls": [
            {
                "id": "call_ci_test_0",
                "type": "function",
                "function": {"name": "code_interpreter", "arguments": '{"code": "x"}'},
            }
        ],
    }


def test_fold_keeps_content_next_to_tool_calls() -> None:
    chunks = encode(ContentDelta(0, "Let me compute."), CodeDone(0, 0, "1"), Finish(0, "stop"))
    message = fold_chunks(chunks)["choices"][0]["message"]
    assert message["content"] == "Let me compute."
    assert len(message["tool_calls"]) == 1


def test_fold_of_nothing_is_an_error() -> None:
    with pytest.raises(UpstreamUnavailable):
        fold_chunks([])
