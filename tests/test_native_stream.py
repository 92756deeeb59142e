"""Native frames -> protocol-neutral events, and native errors -> the project's errors."""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from proxy.core.errors import UpstreamError, UpstreamUnavailable
from proxy.core.events import (
    CodeDelta,
    CodeDone,
    ContentDelta,
    Event,
    Finish,
    FunctionCallDelta,
    ReasoningDelta,
    Usage,
)
from proxy.core.native_stream import NativeStreamTranslator, native_error
from proxy.core.sse import SSEEvent


def frame(
    reasoning: str = "",
    content: Any = "",
    *,
    codes: list[str] | None = None,
    finish: str = "null",
    usage: dict[str, Any] | None = None,
    **message: Any,
) -> SSEEvent:
    output: dict[str, Any] = {
        "choices": [
            {
                "message": {
                    "content": content,
                    "reasoning_content": reasoning,
                    "role": "assistant",
                    **message,
                },
                "finish_reason": finish,
            }
        ]
    }
    if codes is not None:
        output["tool_info"] = [
            {"code_interpreter": {"code": code}, "type": "code_interpreter"} for code in codes
        ]
    payload: dict[str, Any] = {"output": output, "request_id": "req-1"}
    if usage is not None:
        payload["usage"] = usage
    return SSEEvent("result", orjson.dumps(payload).decode(), None, 200)


def run(*frames: SSEEvent) -> list[Event]:
    translator = NativeStreamTranslator()
    events: list[Event] = []
    for item in frames:
        events.extend(translator.feed(item))
    return events + translator.finish()


def test_text_deltas_and_finish() -> None:
    events = run(frame("think"), frame(content="answer"), frame(finish="stop"))
    assert events == [ReasoningDelta(0, "think"), ContentDelta(0, "answer"), Finish(0, "stop")]


def test_the_string_null_is_not_a_finish() -> None:
    translator = NativeStreamTranslator()
    assert translator.feed(frame("a", finish="null")) == [ReasoningDelta(0, "a")]
    assert translator.truncated


def test_one_finish_per_choice() -> None:
    events = run(frame(finish="stop"), frame(finish="stop"), frame(finish="length"))
    assert events == [Finish(0, "stop")]


def test_the_finish_frame_may_carry_the_last_text() -> None:
    events = run(frame(content=" fingers", finish="length"))
    assert events == [ContentDelta(0, " fingers"), Finish(0, "length")]


def test_reasoning_and_content_in_one_frame_stay_separate() -> None:
    assert run(frame("r", "c")) == [ReasoningDelta(0, "r"), ContentDelta(0, "c")]


def test_multimodal_content_parts() -> None:
    events = run(
        frame(content=[]), frame(content=[{"text": "sq"}, {"image": "x"}, {"text": "uare"}])
    )
    assert events == [ContentDelta(0, "square")]


def test_text_result_format() -> None:
    payload = {"output": {"text": "hi", "finish_reason": "stop"}, "request_id": "r"}
    events = run(SSEEvent("result", orjson.dumps(payload).decode()))
    assert events == [ContentDelta(0, "hi"), Finish(0, "stop")]


def test_several_choices_each_need_their_finish() -> None:
    def choices(*entries: Any) -> SSEEvent:
        return SSEEvent("result", orjson.dumps({"output": {"choices": list(entries)}}).decode())

    translator = NativeStreamTranslator()
    first = choices(
        {"message": {"content": "a"}, "finish_reason": "null"},
        "not a choice",
        {"index": 1, "message": {"reasoning_content": "b"}, "finish_reason": "null"},
    )
    assert translator.feed(first) == [ContentDelta(0, "a"), ReasoningDelta(1, "b")]
    assert translator.feed(choices({"index": "0", "finish_reason": "stop"})) == [Finish(0, "stop")]
    assert translator.truncated  # choice 1 started and never finished
    assert translator.feed(choices({"index": 1, "finish_reason": "length"})) == [
        Finish(1, "length")
    ]
    assert not translator.truncated


def test_request_id_is_kept_from_the_first_frame() -> None:
    translator = NativeStreamTranslator()
    assert translator.request_id is None
    translator.feed(frame("a"))
    assert translator.request_id == "req-1"


def test_usage_is_the_last_cumulative_total_not_a_sum() -> None:
    first = {
        "input_tokens": 287,
        "output_tokens": 3,
        "output_tokens_details": {"reasoning_tokens": 1},
    }
    last = {
        "input_tokens": 734,
        "output_tokens": 263,
        "output_tokens_details": {"reasoning_tokens": 171},
        "prompt_tokens_details": {"cached_tokens": 5},
        "plugins": {"code_interpreter": {"count": 1}},
    }
    events = run(frame("a", usage=first), frame(finish="stop", usage=last))
    assert events[-1] == Usage(734, 263, 171, 5, 1)


def test_usage_without_details_and_top_level_cached_tokens() -> None:
    events = run(frame(finish="stop", usage={"input_tokens": 3, "output_tokens": 4}))
    assert events[-1] == Usage(3, 4, None, None, None)
    usage = {"input_tokens": 3, "output_tokens": 4, "cached_tokens": 2}
    assert run(frame(finish="stop", usage=usage))[-1] == Usage(3, 4, None, 2, None)


def test_usage_counts_that_are_not_counts_are_unknown() -> None:
    usage = {
        "input_tokens": 2**64 - 1,
        "output_tokens": -3,
        "output_tokens_details": {"reasoning_tokens": True},
        "plugins": {"code_interpreter": {"count": "1"}},
    }
    assert run(frame(finish="stop", usage=usage))[-1] == Usage(0, 0, None, None, None)


def test_every_usage_detail_is_read() -> None:
    """Explicit-cache writes, searches and the multimodal prompt breakdown, where the vendor's
    pages and SDKs put them (docs/dashscope-protocol.md, "Usage")."""
    usage = {
        "input_tokens": 1112,
        "output_tokens": 91,
        "prompt_tokens_details": {"cached_tokens": 0, "cache_creation_input_tokens": 1024},
        "input_tokens_details": {"text_tokens": 21, "image_tokens": 1091},
        "video_tokens": 12,
        "plugins": {"search": {"count": 2, "strategy": "standard"}},
    }
    assert run(frame(finish="stop", usage=usage))[-1] == Usage(
        1112,
        91,
        None,
        0,
        None,
        cache_write_tokens=1024,
        web_searches=2,
        prompt_text_tokens=21,
        prompt_image_tokens=1091,
        prompt_video_tokens=12,
    )
    top_level = {"input_tokens": 3, "output_tokens": 4, "cache_creation_input_tokens": 5}
    assert run(frame(finish="stop", usage=top_level))[-1] == Usage(
        3, 4, None, None, None, cache_write_tokens=5
    )


def test_an_empty_usage_object_changes_nothing() -> None:
    """A search answer's first frame carries `usage: {}`: it is no report of zero tokens."""
    translator = NativeStreamTranslator()
    translator.feed(frame("a", usage={}))
    assert translator.last_usage is None
    translator.feed(frame("b", usage={"input_tokens": 3, "output_tokens": 4}))
    translator.feed(frame("c", usage={}))
    assert translator.last_usage == Usage(3, 4, None, None, None)


def choice_frame(index: int, output_tokens: int, reasoning: int, finish: str = "null") -> SSEEvent:
    choice = {"index": index, "message": {"content": "x"}, "finish_reason": finish}
    usage = {
        "input_tokens": 31,
        "output_tokens": output_tokens,
        "output_tokens_details": {"reasoning_tokens": reasoning},
    }
    payload = {"output": {"choices": [choice]}, "usage": usage}
    return SSEEvent("result", orjson.dumps(payload).decode(), None, 200)


def test_with_several_choices_each_frame_counts_its_own_choice() -> None:
    """n > 1: a frame's usage is its choice's running total, so the request's output is the
    sum of each choice's last count; the prompt is counted once."""
    events = run(
        choice_frame(0, 3, 1),
        choice_frame(1, 2, 2),
        choice_frame(0, 9, 4, finish="stop"),
        choice_frame(1, 7, 2, finish="stop"),
    )
    assert events[-1] == Usage(31, 9 + 7, 4 + 2, None, None)


def test_a_frame_without_choices_counts_for_the_last_choice_seen() -> None:
    no_choices = SSEEvent(
        "result", orjson.dumps({"output": {}, "usage": {"output_tokens": 8}}).decode(), None, 200
    )
    translator = NativeStreamTranslator()
    for event in (choice_frame(0, 3, 0), choice_frame(1, 5, 0), no_choices):
        translator.feed(event)
    usage = translator.last_usage
    assert usage is not None
    assert usage.completion_tokens == 3 + 8  # the no-choice frame updated choice 1's total


# ---- code interpreter runs (tool_info snapshots) --------------------------------------------


def test_run_appears_when_its_code_is_known_and_closes_before_the_next_reasoning() -> None:
    translator = NativeStreamTranslator()
    assert translator.feed(frame("think")) == [ReasoningDelta(0, "think")]
    assert translator.feed(frame()) == []
    assert translator.feed(frame(codes=["123**21"])) == [CodeDelta(0, 0, "123**21")]
    assert translator.feed(frame("The", codes=["123**21"])) == [
        CodeDone(0, 0, "123**21"),
        ReasoningDelta(0, "The"),
    ]
    assert translator.feed(frame(content="x", codes=["123**21"])) == [ContentDelta(0, "x")]
    assert translator.feed(frame(finish="stop", codes=["123**21"])) == [Finish(0, "stop")]


def test_code_growing_by_prefix_streams_only_the_new_part() -> None:
    events = run(
        frame(codes=["import math"]),
        frame(codes=["import math"]),
        frame(codes=["import math\nprint("]),
        frame(codes=["import math\nprint(math.pi)"]),
        frame(finish="stop", codes=["import math\nprint(math.pi)"]),
    )
    assert events == [
        CodeDelta(0, 0, "import math"),
        CodeDelta(0, 0, "\nprint("),
        CodeDelta(0, 0, "math.pi)"),
        CodeDone(0, 0, "import math\nprint(math.pi)"),
        Finish(0, "stop"),
    ]


def test_entry_with_empty_code_waits_until_filled() -> None:
    first = "1169008215014432917465348578887506800769541157267"
    events = run(
        frame(codes=["123**23"]),
        frame("The first calculation", codes=["123**23"]),
        frame(codes=["123**23", ""]),
        frame("still thinking", codes=["123**23", ""]),
        frame(codes=["123**23", f"{first} / 5"]),
        frame("done", codes=["123**23", f"{first} / 5"]),
        frame(finish="stop", codes=["123**23", f"{first} / 5"]),
    )
    assert events == [
        CodeDelta(0, 0, "123**23"),
        CodeDone(0, 0, "123**23"),
        ReasoningDelta(0, "The first calculation"),
        ReasoningDelta(0, "still thinking"),
        CodeDelta(0, 1, f"{first} / 5"),
        CodeDone(0, 1, f"{first} / 5"),
        ReasoningDelta(0, "done"),
        Finish(0, "stop"),
    ]


def test_a_new_run_settles_the_previous_one() -> None:
    events = run(
        frame(codes=["a"]), frame(codes=["a", "b"]), frame(finish="stop", codes=["a", "b"])
    )
    assert events == [
        CodeDelta(0, 0, "a"),
        CodeDone(0, 0, "a"),
        CodeDelta(0, 1, "b"),
        CodeDone(0, 1, "b"),
        Finish(0, "stop"),
    ]


def test_rewritten_snapshot_is_not_streamed_but_is_final() -> None:
    events = run(
        frame(codes=["print(1)"]), frame(codes=["x = 2"]), frame(finish="stop", codes=["x = 2"])
    )
    assert events == [CodeDelta(0, 0, "print(1)"), CodeDone(0, 0, "x = 2"), Finish(0, "stop")]


def test_entry_never_filled_is_settled_with_empty_code_at_the_finish() -> None:
    events = run(frame(codes=[""]), frame("r", codes=[""]), frame(finish="stop", codes=[""]))
    assert events == [ReasoningDelta(0, "r"), CodeDone(0, 0, ""), Finish(0, "stop")]


def test_settled_run_is_not_reopened() -> None:
    events = run(
        frame(codes=["a"]), frame("r", codes=["a"]), frame(codes=["ab"]), frame(finish="stop")
    )
    assert events == [
        CodeDelta(0, 0, "a"),
        CodeDone(0, 0, "a"),
        ReasoningDelta(0, "r"),
        Finish(0, "stop"),
    ]


def test_malformed_tool_info_entries_are_skipped() -> None:
    payload = {
        "output": {
            "choices": [{"message": {"content": ""}, "finish_reason": "null"}],
            "tool_info": [{"code_interpreter": {"code": "ok"}}, None, {"type": "code_interpreter"}],
        }
    }
    events = run(SSEEvent("result", orjson.dumps(payload).decode()), frame(finish="stop"))
    assert events == [CodeDelta(0, 0, "ok"), CodeDone(0, 0, "ok"), Finish(0, "stop")]


@pytest.mark.parametrize("kind", [["code_interpreter"], {"a": 1}, 7, None, "", "web_search"])
def test_entries_that_are_not_code_interpreter_runs_make_no_calls(kind: Any) -> None:
    other = {"type": kind, "code_interpreter": {"code": "not a run"}}
    run_entry = {"type": "code_interpreter", "code_interpreter": {"code": "ok"}}
    payload = {"output": {"choices": [], "tool_info": [other, run_entry]}}
    events = run(SSEEvent("result", orjson.dumps(payload).decode()), frame(finish="stop"))
    assert events == [CodeDelta(0, 1, "ok"), CodeDone(0, 1, "ok"), Finish(0, "stop")]


def test_an_empty_finish_reason_is_not_a_finish() -> None:
    events = run(frame("a", finish=""), frame("b", finish="stop"))
    assert events == [ReasoningDelta(0, "a"), ReasoningDelta(0, "b"), Finish(0, "stop")]


def test_function_call_deltas_keep_index_id_and_name() -> None:
    first = {
        "index": 0,
        "id": "call_1",
        "type": "function",
        "function": {"name": "f", "arguments": "{"},
    }
    later = {"index": 0, "id": "", "type": "function", "function": {"arguments": "}"}}
    events = run(frame(tool_calls=[first]), frame(tool_calls=[later], finish="tool_calls"))
    assert events == [
        FunctionCallDelta(0, 0, "call_1", "f", "{"),
        FunctionCallDelta(0, 0, None, None, "}"),
        Finish(0, "tool_calls"),
    ]


# ---- truncation and errors ------------------------------------------------------------------


def test_truncated_until_a_finish_arrives() -> None:
    translator = NativeStreamTranslator()
    assert translator.truncated  # nothing at all is truncated too
    translator.feed(frame("a"))
    assert translator.truncated
    translator.feed(frame(finish="stop"))
    assert not translator.truncated


def test_empty_data_is_ignored() -> None:
    assert NativeStreamTranslator().feed(SSEEvent("result", "", "3", 200)) == []


@pytest.mark.parametrize("data", ["not json", "{", '"a string"', "[1, 2]", "null"])
def test_frames_that_are_not_json_objects(data: str) -> None:
    with pytest.raises(UpstreamUnavailable) as caught:
        NativeStreamTranslator().feed(SSEEvent("result", data, "1", 200))
    assert caught.value.code == "upstream_protocol_error"
    assert caught.value.status == 502


def test_error_event_verbatim() -> None:
    data = (
        '{"code":"InvalidParameter","message":"Role must be user or assistant and Content '
        'length must be greater than 0","request_id":"7671ecd8-93cc-9ee9-bc89-739f0fd8b809"}'
    )
    with pytest.raises(UpstreamError) as caught:
        NativeStreamTranslator().feed(SSEEvent("error", data, "1", 400))
    error = caught.value
    assert (error.status, error.code, error.type) == (
        400,
        "InvalidParameter",
        "invalid_request_error",
    )
    assert error.message.startswith("Role must be user")
    assert error.request_id == "7671ecd8-93cc-9ee9-bc89-739f0fd8b809"
    assert error.to_body()["error"]["code"] == "InvalidParameter"


@pytest.mark.parametrize(
    ("event", "status", "data", "expected"),
    [
        ("error", 429, '{"code":"InvalidParameter","message":"m"}', 429),  # the comment wins
        ("error", None, '{"code":"Throttling.AllocationQuota","message":"m"}', 429),
        ("error", None, '{"code":"InvalidApiKey","message":"m"}', 401),
        ("error", 200, '{"code":"ModelUnavailable","message":"m"}', 503),
        ("error", None, "", 400),
        ("result", 500, '{"code":"InternalError","message":"m"}', 500),
        ("result", None, '{"code":"Arrearage","message":"m","request_id":"r"}', 400),
    ],
)
def test_error_frames(event: str, status: int | None, data: str, expected: int) -> None:
    with pytest.raises(UpstreamError) as caught:
        NativeStreamTranslator().feed(SSEEvent(event, data, "1", status))
    assert caught.value.status == expected


@pytest.mark.parametrize(
    ("code", "status"),
    [
        ("InvalidParameter", 400),
        ("InvalidApiKey", 401),
        ("AccessDenied.Unpurchased", 403),
        ("ModelNotFound", 404),
        ("Throttling.RateQuota", 429),
        ("InternalError.Algo", 500),
        ("ModelUnavailable", 503),
        ("SomethingNew", 400),
    ],
)
def test_native_error_status_from_code(code: str, status: int) -> None:
    body = orjson.dumps({"code": code, "message": "m"})
    assert native_error(body, None).status == status
    assert native_error(body, 200).status == status  # a 2xx says nothing about the error
    assert native_error(body, 503).status == 503  # a real HTTP status wins over the code


def test_native_error_keeps_code_message_request_id_and_type() -> None:
    body = b'{"request_id":"req-1","code":"Throttling.RateQuota","message":"slow down"}'
    error = native_error(body, 429)
    assert (error.code, error.message, error.request_id) == (
        "Throttling.RateQuota",
        "slow down",
        "req-1",
    )
    assert error.type == "requests"  # OpenAI's type for a rate limit on requests
    assert error.retryable
    quota = native_error(body.replace(b"RateQuota", b"AllocationQuota"), 429)
    assert (quota.type, quota.retryable) == ("insufficient_quota", False)


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"<html>Bad Gateway</html>", "<html>Bad Gateway</html>"),
        ("  upstream text  ", "upstream text"),
        (b"", "upstream error"),
        (b"[1]", "[1]"),
        (b'{"code": 7, "message": ""}', '{"code": 7, "message": ""}'),
    ],
)
def test_native_error_from_a_body_that_is_not_a_native_error(
    body: bytes | str, message: str
) -> None:
    error = native_error(body, 502)
    assert (error.status, error.code, error.message) == (502, "upstream_error", message)
    assert error.request_id is None
