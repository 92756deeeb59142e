"""The Responses encoder and pipeline, fed by hand-made events and frames: the shapes the
golden bodies do not hold (rewritten code, runs that never showed code, cut-short answers,
content filters), the summary the traffic log reads, and the contract checker itself."""

from __future__ import annotations

import copy
import json
from typing import Any

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
from proxy.core.sse import SSEEvent
from proxy.core.summary import ExchangeSummary, FunctionCall
from proxy.core.wire import Item
from proxy.responses.api import RESPONSES_API
from proxy.responses.fold import final_response
from proxy.responses.items import response_usage
from proxy.responses.stream import ResponseIdentity, ResponsesEventEncoder
from tests.responses_contract import ResponsesResult, check_events
from tests.responses_helpers import load_expected, outcome

ECHO = {"instructions": "Be brief.", "metadata": {"k": "v"}, "temperature": 0.5}
IDENTITY = ResponseIdentity("resp_unit", 1700000000, "qwen3-max", "unit", ECHO)
USAGE = Usage(10, 20, 5, 3, 1)
MODERATED = UpstreamError("moderated", status=400, code="DataInspectionFailed")


def encode(*events: Event, end: str = "finish") -> list[Item]:
    encoder = ResponsesEventEncoder(IDENTITY)
    out = [e for event in events for e in encoder.feed(event)]
    if end == "finish":
        out += encoder.finish()
    elif end == "fail":
        out += encoder.fail(MODERATED, None)
    return out


def run(*events: Event, rewritten: bool = False) -> ResponsesResult:
    return check_events(encode(*events), rewritten_code=rewritten)


def frame(payload: dict[str, Any]) -> SSEEvent:
    return SSEEvent(event="result", data=json.dumps(payload), status=200)


def native(content: str = "", reasoning: str = "", finish: str = "null") -> SSEEvent:
    message = {"role": "assistant", "content": content, "reasoning_content": reasoning}
    usage = {"input_tokens": 7, "output_tokens": 3, "total_tokens": 10}
    output = {"choices": [{"message": message, "finish_reason": finish}]}
    return frame({"output": output, "usage": usage, "request_id": "req-unit"})


# ---- code-interpreter runs ------------------------------------------------------------------


def test_a_rewritten_run_reports_the_final_code_in_done_and_the_item() -> None:
    got = run(
        CodeDelta(0, 0, "prin"),
        CodeDone(0, 0, "print(1)"),
        Finish(0, "stop"),
        USAGE,
        rewritten=True,
    )
    assert got.codes == ["print(1)"]
    done = [e for e in got.events if e["type"] == "response.code_interpreter_call_code.done"]
    assert [e["code"] for e in done] == ["print(1)"]
    with pytest.raises(AssertionError, match="concatenate"):
        check_events(got.events)  # the checker notices the rewrite unless told


def test_a_run_that_never_showed_code_is_still_one_completed_call() -> None:
    got = run(CodeDone(0, 0, ""), ContentDelta(0, "done"), Finish(0, "stop"), USAGE)
    (call,) = got.items("code_interpreter_call")
    assert (call["code"], call["status"], call["outputs"]) == ("", "completed", None)
    assert "response.code_interpreter_call_code.delta" not in got.types
    assert got.text == "done"


def test_a_run_closes_the_open_thought_and_the_next_thought_is_a_new_item() -> None:
    got = run(
        ReasoningDelta(0, "a"),
        CodeDelta(0, 0, "1+1"),
        CodeDone(0, 0, "1+1"),
        ReasoningDelta(0, "b"),
        Finish(0, "stop"),
        USAGE,
    )
    assert [i["type"] for i in got.output] == ["reasoning", "code_interpreter_call", "reasoning"]
    assert [i["content"][0]["text"] for i in got.items("reasoning")] == ["a", "b"]
    assert len({item["id"] for item in got.output}) == 3


def test_item_ids_carry_the_type_prefix_and_the_exchange_prefix() -> None:
    got = run(
        ReasoningDelta(0, "a"),
        CodeDelta(0, 0, "1"),
        CodeDone(0, 0, "1"),
        ContentDelta(0, "x"),
        Finish(0, "stop"),
        USAGE,
    )
    assert [item["id"] for item in got.output] == ["rs_unit_0", "ci_unit_1", "msg_unit_2"]


# ---- function calls -------------------------------------------------------------------------


def test_a_call_without_an_upstream_id_gets_one() -> None:
    got = run(FunctionCallDelta(0, 0, None, "f", '{"a": 1}'), Finish(0, "tool_calls"), USAGE)
    (call,) = got.items("function_call")
    assert call["call_id"] == "call_unit_0"
    assert got.calls == [("f", {"a": 1})]
    assert got.status == "completed"  # tool_calls is a normal end in the Responses API


def test_text_before_calls_is_closed_when_the_first_call_opens() -> None:
    got = run(
        ContentDelta(0, "Let me check."),
        FunctionCallDelta(0, 0, "call_a", "f", "{}"),
        FunctionCallDelta(0, 1, "call_b", "g", "{}"),
        Finish(0, "tool_calls"),
        USAGE,
    )
    assert [i["type"] for i in got.output] == ["message", "function_call", "function_call"]
    assert [c["call_id"] for c in got.items("function_call")] == ["call_a", "call_b"]


def test_text_between_fragments_of_a_call_does_not_split_the_call() -> None:
    got = run(
        FunctionCallDelta(0, 0, "call_a", "f", '{"a": '),
        ContentDelta(0, "\n"),
        FunctionCallDelta(0, 0, None, None, "1}"),
        Finish(0, "tool_calls"),
        USAGE,
    )
    (call,) = got.items("function_call")
    assert (call["call_id"], call["name"], call["arguments"]) == ("call_a", "f", '{"a": 1}')
    assert got.text == "\n"


# ---- how a response ends --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("reason", "status", "details"),
    [
        ("stop", "completed", None),
        ("tool_calls", "completed", None),
        ("length", "incomplete", {"reason": "max_output_tokens"}),
        ("content_filter", "incomplete", {"reason": "content_filter"}),
    ],
)
def test_the_finish_reason_picks_the_terminal_event(
    reason: str, status: str, details: dict[str, str] | None
) -> None:
    got = run(ContentDelta(0, "x"), Finish(0, reason), USAGE)
    assert got.status == status
    assert got.types[-1] == f"response.{status}"
    assert got.response["incomplete_details"] == details


def test_failing_marks_what_was_open_incomplete_and_keeps_what_was_done() -> None:
    events = encode(
        ReasoningDelta(0, "thinking"),
        FunctionCallDelta(0, 0, "call_a", "f", '{"a": '),
        end="fail",
    )
    got = check_events(events)
    assert got.types[-1] == "response.failed"
    reasoning, call = got.output
    assert (reasoning["status"], reasoning["content"][0]["text"]) == ("completed", "thinking")
    assert (call["status"], call["arguments"]) == ("incomplete", '{"a": ')
    # OpenAI's code (its schema allows no other); DashScope's own in the message.
    assert got.response["error"] == {
        "code": "invalid_prompt",
        "message": "moderated (DashScope code: DataInspectionFailed)",
    }
    done = [e["item"]["id"] for e in events if e["type"] == "response.output_item.done"]
    assert done == [reasoning["id"]]


def test_failing_in_the_middle_of_a_run_keeps_its_code_so_far() -> None:
    got = check_events(encode(CodeDelta(0, 0, "import ma"), end="fail"))
    (call,) = got.output
    assert (call["type"], call["code"], call["status"]) == (
        "code_interpreter_call",
        "import ma",
        "incomplete",
    )


def test_failing_before_anything_was_said_is_still_a_whole_stream() -> None:
    got = check_events(encode(end="fail"))
    assert got.types == ["response.created", "response.in_progress", "response.failed"]
    assert got.output == []


def test_an_empty_answer_completes_with_no_items() -> None:
    got = run(Finish(0, "stop"), USAGE)
    assert (got.status, got.output) == ("completed", [])


def test_other_choices_are_ignored() -> None:
    got = run(ContentDelta(1, "other"), ContentDelta(0, "mine"), Finish(1, "length"), USAGE)
    assert got.text == "mine"
    assert got.status == "completed"


# ---- the Response object --------------------------------------------------------------------


def test_every_response_object_repeats_the_identity_and_the_request_echo() -> None:
    got = run(ContentDelta(0, "x"), Finish(0, "stop"), USAGE)
    responses = [e["response"] for e in got.events if "response" in e]
    assert len(responses) == 3
    for response in responses:
        assert response["id"] == "resp_unit"
        assert (response["created_at"], response["model"]) == (1700000000, "qwen3-max")
        assert {k: response[k] for k in ECHO} == ECHO


def test_usage_in_the_responses_shape() -> None:
    assert response_usage(USAGE) == {
        "input_tokens": 10,
        "input_tokens_details": {"cached_tokens": 3, "cache_write_tokens": 0},
        "output_tokens": 20,
        "output_tokens_details": {"reasoning_tokens": 5},
        "total_tokens": 30,
        "x_tools": {"code_interpreter": {"count": 1}},
    }
    bare = response_usage(Usage(1, 2, None, None, None))
    assert "x_tools" not in bare
    assert bare["output_tokens_details"] == {"reasoning_tokens": 0}
    # Both are required by OpenAI's schema: zero when DashScope reported nothing.
    assert bare["input_tokens_details"] == {"cached_tokens": 0, "cache_write_tokens": 0}


def test_every_usage_detail_dashscope_reports_is_kept() -> None:
    full = Usage(
        100,
        20,
        5,
        30,
        None,
        cache_write_tokens=40,
        web_searches=2,
        prompt_text_tokens=21,
        prompt_image_tokens=70,
        prompt_audio_tokens=6,
        prompt_video_tokens=3,
    )
    assert response_usage(full) == {
        "input_tokens": 100,
        "input_tokens_details": {
            "cached_tokens": 30,
            "cache_write_tokens": 40,
            "text_tokens": 21,
            "image_tokens": 70,
            "audio_tokens": 6,
            "video_tokens": 3,
        },
        "output_tokens": 20,
        "output_tokens_details": {"reasoning_tokens": 5},
        "total_tokens": 120,
        "x_tools": {"web_search": {"count": 2}},
    }


def test_parts_already_sent_do_not_change_as_logprobs_grow() -> None:
    entry = {"token": "a", "logprob": -0.1, "bytes": [97], "top_logprobs": []}
    events = encode(
        ContentDelta(0, "a", [entry]), ContentDelta(0, "a", [entry]), Finish(0, "stop"), USAGE
    )
    sent = copy.deepcopy(events)
    (added,) = [e for e in events if e["type"] == "response.content_part.added"]
    assert added["part"]["logprobs"] == []
    (done,) = [e for e in events if e["type"] == "response.output_text.done"]
    assert done["logprobs"] == [entry, entry]
    assert events == sent


# ---- the pipeline: native frames in, events out ---------------------------------------------


def test_the_pipeline_turns_frames_into_a_completed_response() -> None:
    translation = RESPONSES_API.new_translation(IDENTITY)
    events = translation.feed([native(reasoning="hm"), native(content="hi")])
    events += translation.feed([native(finish="stop")])
    events += translation.finish()
    got = check_events(events)
    assert (got.reasoning, got.text) == ("hm", "hi")
    assert translation.finished
    assert translation.request_id == "req-unit"
    # Neutral, for the traffic record and metrics.
    assert translation.summary().usage == Usage(7, 3, None, None, None)


def test_a_stream_that_stops_before_its_finish_fails_as_truncated() -> None:
    translation = RESPONSES_API.new_translation(IDENTITY)
    events = translation.feed([native(content="half an ans")])
    with pytest.raises(UpstreamUnavailable) as caught:
        translation.finish()
    assert caught.value.code == "upstream_truncated"
    got = check_events(events + translation.failure(caught.value))
    assert got.response["error"] == {
        "code": "server_error",
        "message": "DashScope's stream ended before the answer was finished"
        " (code: upstream_truncated)",
    }
    assert got.output[0]["status"] == "incomplete"
    assert not translation.finished


def test_an_error_frame_first_raises_before_any_event() -> None:
    translation = RESPONSES_API.new_translation(IDENTITY)
    error = SSEEvent(
        event="error", data='{"code":"Throttling.RateQuota","message":"slow down"}', status=429
    )
    with pytest.raises(UpstreamError) as caught:
        translation.feed([error])
    assert (caught.value.status, caught.value.code) == (429, "Throttling.RateQuota")


def test_a_local_answer_is_a_completed_message_without_tokens() -> None:
    translation = RESPONSES_API.new_translation(IDENTITY)
    got = check_events(translation.local_answer("Already done."))
    assert (got.text, got.status) == ("Already done.", "completed")
    assert got.response["usage"]["total_tokens"] == 0
    assert translation.finished


# ---- the summary the traffic record reads, and the non-stream reply ---------------------------


def summary(*frames: SSEEvent, fail: bool = False) -> ExchangeSummary:
    translation = RESPONSES_API.new_translation(IDENTITY)
    translation.feed(list(frames))
    if fail:
        translation.failure(UpstreamError("moderated", status=400, code="DataInspectionFailed"))
    else:
        translation.finish()
    return translation.summary()


def test_a_failed_response_has_no_finish_reason_but_keeps_the_text() -> None:
    (choice,) = summary(native(content="par"), fail=True).choices
    assert (choice.answer, choice.finish_reason) == ("par", None)


def test_the_summary_keeps_dashscopes_finish_reason() -> None:
    (choice,) = summary(native(content="x"), native(finish="content_filter")).choices
    assert choice.finish_reason == "content_filter"


def test_calls_and_usage_are_summarised_from_the_events_not_the_items() -> None:
    call = {"index": 0, "id": "call_a", "type": "function"}
    first = {**call, "function": {"name": "f", "arguments": '{"a"'}}
    rest = {"index": 0, "function": {"arguments": ": 1}"}}
    usage = {
        "input_tokens": 10,
        "output_tokens": 20,
        "output_tokens_details": {"reasoning_tokens": 5},
    }
    frames = [
        frame({"output": {"choices": [{"message": {"reasoning_content": "r"}}]}}),
        frame({"output": {"choices": [{"message": {"tool_calls": [first]}}]}}),
        frame({"output": {"choices": [{"message": {"tool_calls": [rest]}}]}, "usage": usage}),
        frame({"output": {"choices": [{"message": {}, "finish_reason": "tool_calls"}]}}),
    ]
    (choice,) = summary(*frames).choices
    assert (choice.reasoning, choice.answer, choice.finish_reason) == ("r", "", "tool_calls")
    assert choice.function_calls == (FunctionCall("call_a", "f", '{"a": 1}'),)
    assert summary(*frames).usage == Usage(10, 20, 5, None, None)


def test_final_response_needs_a_terminal_event() -> None:
    events = load_expected("plain_text")["events"]
    with pytest.raises(UpstreamUnavailable):
        final_response(events[:-1])
    assert final_response(outcome("plain_text").events)["status"] == "completed"


# ---- the checker catches broken streams -----------------------------------------------------


def _good() -> list[dict[str, Any]]:
    events = encode(ReasoningDelta(0, "r"), ContentDelta(0, "a"), Finish(0, "stop"), USAGE)
    return [dict(event) for event in events]  # each breakage below edits a copy


def _drop(events: list[dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    kept = [e for e in events if e["type"] != kind]
    return [{**e, "sequence_number": n} for n, e in enumerate(kept)]


def _swap_terminal_output(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    events[-1]["response"]["output"] = events[-1]["response"]["output"][::-1]
    return events


def _gap(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    events[3]["sequence_number"] += 1
    return events


def _wrong_item(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    delta = next(e for e in events if e["type"] == "response.output_text.delta")
    delta["item_id"] = "rs_unit_0"
    return events


@pytest.mark.parametrize(
    ("breakage", "complaint"),
    [
        (lambda e: _drop(e, "response.in_progress"), "in_progress"),
        (lambda e: _drop(e, "response.content_part.added"), "part"),
        (lambda e: _drop(e, "response.output_item.done"), "never done"),
        (lambda e: _drop(e, "response.completed"), "not terminal"),
        (_swap_terminal_output, "terminal output"),
        (_gap, "sequence_number"),
        (_wrong_item, "item_id"),
    ],
)
def test_the_checker_rejects_broken_streams(breakage: Any, complaint: str) -> None:
    check_events(_good())
    with pytest.raises(AssertionError, match=complaint):
        check_events(breakage(_good()))
