"""Golden Responses streams: recorded native SSE bodies -> the reviewed Responses API events
(tests/golden/responses/), the Responses contract on each, the same meaning as the chat
translation of the same bodies, and byte splits that change nothing."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from proxy.chat.fold import fold_chunks
from proxy.core.errors import ProxyError, UpstreamError
from proxy.core.sse import SSEDecoder, SSEEvent, encode_named
from proxy.core.wire import Item
from proxy.responses.api import RESPONSES_API
from proxy.responses.fold import final_response
from tests.golden_tools import error_summary, load_body
from tests.golden_tools import translate as chat_translate
from tests.responses_contract import ResponsesResult, check_event_bytes, check_events
from tests.responses_helpers import (
    CASE_NAMES,
    case,
    identity,
    load_expected,
    outcome,
    translate,
)
from tests.test_properties import RunPlan, growing_run, rewritten_run, snapshot_body, texts
from tests.test_properties import events as arbitrary_events

FINISHED = tuple(name for name in CASE_NAMES if not name.startswith("error"))


def result(name: str) -> ResponsesResult:
    return check_events(outcome(name).events)


def chat_message(name: str) -> dict[str, Any]:
    """What the chat translation makes of the same recorded body, folded."""
    chunks = chat_translate(load_body(name), case(name).model).chunks
    return dict(fold_chunks(chunks)["choices"][0]["message"])


def last_native_usage(name: str) -> dict[str, Any]:
    data = [line for line in load_body(name).split(b"\n") if line.startswith(b"data:")]
    usage: dict[str, Any] = json.loads(data[-1][5:])["usage"]
    return usage


# ---- every golden ---------------------------------------------------------------------------


@pytest.mark.parametrize("name", CASE_NAMES)
def test_matches_the_reviewed_events(name: str) -> None:
    expected = load_expected(name)
    got = outcome(name)
    assert expected["model"] == case(name).model
    assert got.events == expected["events"]
    assert error_summary(got.error) == expected["error"]


@pytest.mark.parametrize("name", [*FINISHED, "error_midstream"])
def test_obeys_the_responses_contract_on_the_wire(name: str) -> None:
    events = outcome(name).events
    wire = b"".join(encode_named(event) for event in events)
    assert check_event_bytes(wire).events == events


@pytest.mark.parametrize("name", FINISHED)
def test_says_what_the_chat_translation_says(name: str) -> None:
    """One upstream, two protocols: the same thinking, answer, code and calls."""
    got, chat = result(name), chat_message(name)
    assert got.reasoning == (chat.get("reasoning_content") or "")
    assert got.text == (chat["content"] or "")
    chat_calls = chat.get("tool_calls") or []
    codes = [
        json.loads(c["function"]["arguments"])["code"]
        for c in chat_calls
        if c["function"]["name"] == "code_interpreter"
    ]
    functions = [
        (c["function"]["name"], json.loads(c["function"]["arguments"]), c["id"])
        for c in chat_calls
        if c["function"]["name"] != "code_interpreter"
    ]
    assert got.codes == codes
    items = got.items("function_call")
    assert [(c["name"], json.loads(c["arguments"]), c["call_id"]) for c in items] == functions


@pytest.mark.parametrize("name", FINISHED)
def test_usage_is_the_upstream_final_total(name: str) -> None:
    native, usage = last_native_usage(name), result(name).response["usage"]
    assert usage["input_tokens"] == native["input_tokens"]
    assert usage["output_tokens"] == native["output_tokens"]
    assert usage["total_tokens"] == native["total_tokens"]
    reasoning = (native.get("output_tokens_details") or {}).get("reasoning_tokens", 0)
    assert usage["output_tokens_details"] == {"reasoning_tokens": reasoning}
    runs = native.get("plugins", {}).get("code_interpreter")
    assert usage.get("x_tools", {}).get("code_interpreter") == runs


@pytest.mark.parametrize("name", [*FINISHED, "error_midstream"])
def test_the_non_stream_reply_is_the_terminal_response(name: str) -> None:
    events = outcome(name).events
    assert final_response(events) == events[-1]["response"]


@pytest.mark.parametrize("name", FINISHED)
def test_the_traffic_summary_matches_the_response(name: str) -> None:
    """The summary is made from the neutral events, not from these Responses events: both
    must tell the same answer."""
    got = result(name)
    decoder = SSEDecoder()
    translation = RESPONSES_API.new_translation(identity(case(name).model))
    translation.feed(decoder.feed(load_body(name)) + decoder.finish())
    translation.finish()
    summary = translation.summary()
    (choice,) = summary.choices
    assert (choice.answer, choice.reasoning) == (got.text, got.reasoning)
    calls = [(call.name, call.call_id) for call in choice.function_calls]
    assert calls == [(c["name"], c["call_id"]) for c in got.items("function_call")]
    assert list(summary.code_runs) == [c["code"] for c in got.items("code_interpreter_call")]
    reason = {"completed": "tool_calls" if calls else "stop", "incomplete": "length"}
    assert choice.finish_reason == reason[got.status]
    assert summary.usage is not None
    assert summary.usage.prompt_tokens == got.response["usage"]["input_tokens"]


# ---- byte splits change nothing ---------------------------------------------------------------


@pytest.mark.parametrize("name", CASE_NAMES)
@settings(max_examples=25, deadline=None)
@given(data=st.data())
def test_any_byte_split_gives_the_same_events(name: str, data: st.DataObject) -> None:
    body = load_body(name)
    newline = data.draw(st.sampled_from([b"\n", b"\r\n", b"\r"]), label="newline")
    body = body.replace(b"\n", newline)
    splits = data.draw(st.lists(st.integers(0, len(body)), max_size=30), label="splits")
    got = translate(body, case(name).model, splits=splits)
    expected = load_expected(name)
    assert got.events == expected["events"]
    assert error_summary(got.error) == expected["error"]


@pytest.mark.parametrize("name", ["seed_single_run", "fn_incremental", "error_midstream"])
def test_one_byte_at_a_time(name: str) -> None:
    body = load_body(name)
    assert outcome(name, splits=range(len(body))).events == load_expected(name)["events"]


# ---- each golden's meaning --------------------------------------------------------------------


def test_a_code_interpreter_run_is_one_completed_call_between_two_thoughts() -> None:
    got = result("seed_single_run")
    assert [item["type"] for item in got.output] == [
        "reasoning",
        "code_interpreter_call",
        "reasoning",
        "message",
    ]
    (call,) = got.items("code_interpreter_call")
    assert (call["code"], call["status"], call["outputs"]) == ("123**21", "completed", None)
    assert got.text == "123 to the power of 23"  # what the vendor page's frames say
    run_events = [t for t in got.types if "code_interpreter_call" in t]
    assert run_events == [
        "response.code_interpreter_call.in_progress",
        "response.code_interpreter_call_code.delta",
        "response.code_interpreter_call_code.done",
        "response.code_interpreter_call.interpreting",
        "response.code_interpreter_call.completed",
    ]
    assert got.response["usage"]["x_tools"] == {"code_interpreter": {"count": 1}}


def test_a_run_first_seen_without_code_streams_its_code_once_known() -> None:
    got = result("seed_two_runs")
    first = "1169008215014432917465348578887506800769541157267"
    assert got.codes == ["123**23", f"{first} / 5"]
    deltas = [e for e in got.events if e["type"] == "response.code_interpreter_call_code.delta"]
    assert [e["delta"] for e in deltas] == ["123**23", f"{first} / 5"]
    assert all(e["delta"] for e in deltas), "no empty code deltas"


def test_growing_code_is_streamed_as_it_grows() -> None:
    deltas = [
        e["delta"]
        for e in result("code_growing").events
        if e["type"] == "response.code_interpreter_call_code.delta"
    ]
    assert deltas == ["import math", "\nprint(", "math.factorial(20))"]


def test_text_before_a_run_is_its_own_message() -> None:
    got = result("interleaved")
    kinds = [item["type"] for item in got.output]
    assert kinds == ["reasoning", "message", "code_interpreter_call", "reasoning", "message"]
    first, second = got.items("message")
    assert first["content"][0]["text"] == "Let me compute that precisely."
    assert second["content"][0]["text"].startswith("\n\nThe square root of 2 is")


def test_a_function_call_keeps_the_upstream_call_id_and_streams_its_arguments() -> None:
    got = result("fn_incremental")
    assert got.calls == [
        ("get_current_weather", {"location": "浙江省杭州市"}),
        ("get_current_weather", {"location": "上海市"}),
    ]
    assert [c["call_id"] for c in got.items("function_call")] == [
        "call_29a870e7106f45deb8add3",
        "call_026e44bb31a74266949a20",
    ]
    assert got.status == "completed"
    assert outcome("fn_cumulative").events == outcome("fn_incremental").events


def test_length_ends_incomplete_with_the_reason() -> None:
    got = result("length")
    assert got.types[-1] == "response.incomplete"
    assert got.response["incomplete_details"] == {"reason": "max_output_tokens"}
    assert got.text.endswith(" fingers")  # the terminal frame's own text is kept


def test_an_error_frame_first_is_an_http_error_not_an_event() -> None:
    got = outcome("error_first")
    assert got.events == []
    assert isinstance(got.error, UpstreamError)
    assert (got.error.status, got.error.code) == (400, "InvalidParameter")


def test_an_error_after_text_fails_the_response_with_what_was_said() -> None:
    got = check_events(outcome("error_midstream").events)
    assert got.types[-1] == "response.failed"
    assert got.response["error"] == {
        "code": "invalid_prompt",
        "message": "Output data may contain inappropriate content."
        " (DashScope code: DataInspectionFailed)",
    }
    (message,) = got.output
    assert message["status"] == "incomplete"
    assert (
        message["content"][0]["text"] == "Here is the first part of the answer, before moderation"
    )


def test_search_sources_become_a_web_search_call_before_the_answer() -> None:
    got = result("search_info")
    (search, _) = got.output
    assert search["type"] == "web_search_call"
    assert [s["url"] for s in search["action"]["sources"]] == [
        "https://example.com/hangzhou/15day",
        "http://weather.example.cn/hangzhou",
    ]


def test_logprobs_ride_on_the_text_deltas_and_the_final_part() -> None:
    got = result("logprobs")
    deltas = [e for e in got.events if e["type"] == "response.output_text.delta"]
    per_delta = [entry for e in deltas for entry in e["logprobs"]]
    assert per_delta, "the golden carries logprobs"
    (message,) = got.items("message")
    assert message["content"][0]["logprobs"] == per_delta
    assert "".join(entry["token"] for entry in per_delta) == got.text


def test_every_event_is_framed_with_its_type() -> None:
    event = outcome("plain_text").events[0]
    frame = encode_named(event)
    assert frame.startswith(b"event: response.created\ndata: {")
    assert frame.endswith(b"}\n\n")
    assert frame.count(b"\n") == 3


# ---- properties: any upstream input gives a valid stream ----------------------------------------


def _contract_holds(
    batches: list[list[SSEEvent]], *, garbage_in: bool = False
) -> ResponsesResult | None:
    """Translate like the exchange: only ProxyError may escape; an error before any event is an
    HTTP error, one after it is response.failed; whatever went out obeys the contract."""
    translation = RESPONSES_API.new_translation(identity("m"))
    events: list[Item] = []
    try:
        for batch in batches:
            events.extend(translation.feed(batch))
        events.extend(translation.finish())
    except ProxyError as error:
        if not events:
            return None
        events.extend(translation.failure(error))
    wire = b"".join(encode_named(event) for event in events)
    return check_event_bytes(wire, rewritten_code=True, garbage_in=garbage_in)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.lists(arbitrary_events, max_size=3), max_size=6))
def test_arbitrary_frames_give_a_valid_stream_or_a_project_error(
    batches: list[list[SSEEvent]],
) -> None:
    _contract_holds(batches, garbage_in=True)


@settings(max_examples=100, deadline=None)
@given(
    before=texts,
    plans=st.lists(st.one_of(growing_run(), rewritten_run()), min_size=1, max_size=4),
)
def test_code_snapshots_give_one_call_per_run_with_the_final_code(
    before: list[tuple[str, str]], plans: list[RunPlan]
) -> None:
    body = snapshot_body(before, plans)
    decoder = SSEDecoder()
    got = _contract_holds([decoder.feed(body), decoder.finish()])
    assert got is not None
    assert got.status == "completed"
    finals = [plan.final for plan in plans]
    # One call per run, runs with code in run order. A run whose code stays empty is settled
    # only at the end, so it may come after later runs (the native translator's choice).
    assert sorted(got.codes) == sorted(finals)
    assert [code for code in got.codes if code] == [code for code in finals if code]
    assert all(item["status"] == "completed" for item in got.output)
