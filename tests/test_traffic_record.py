"""The record builder (`ExchangeRecorder`) on its own, with a clock the test moves by hand."""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal
from typing import Any

import orjson
import pytest

from proxy.core.cost import Cost, Pricing
from proxy.core.error_answer import ErrorAnswer, answered
from proxy.core.errors import ProxyError
from proxy.core.events import Usage
from proxy.core.key_identity import KeyIdentity
from proxy.core.model_table import MODEL_TABLE
from proxy.core.sse import SSEEvent
from proxy.core.summary import ChoiceSummary, ExchangeSummary, FunctionCall
from proxy.traffic.record import ExchangeRecorder, NullRecorder
from proxy.traffic.record_shape import UpstreamRequest

# The fields of docs/traffic-log.md that every record carries (frames and chunks only
# with capture).
FIELDS = {
    "v",
    "id",
    "upstream_request_id",
    "client_request_id",
    "started_at",
    "endpoint",
    "model",
    "stream",
    "status",
    "outcome",
    "error",
    "timings_ms",
    "usage",
    "request",
    "upstream_request",
    "notes",
    "translation",
    "response",
    "key",
    "cost",
}


class FakeClock:
    def __init__(self, now: float = 100.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def recorder(clock: FakeClock, *, frames: bool = False, chunks: bool = False) -> ExchangeRecorder:
    return ExchangeRecorder(
        exchange_id="abc123",
        started_at=1_700_000_000.5,
        clock=clock,
        endpoint="/v1/chat/completions",
        client_request_id="client-7",
        capture_frames=frames,
        capture_chunks=chunks,
    )


def chunk(content: str) -> dict[str, Any]:
    choices = [{"index": 0, "delta": {"content": content}, "logprobs": None, "finish_reason": None}]
    body = {"id": "chatcmpl-abc123", "object": "chat.completion.chunk", "created": 1}
    return {**body, "model": "qwen-plus", "choices": choices}


# The recorder keeps emitted items only to capture them; what the answer was comes from the
# translation's summary of the neutral events.
STREAM = [chunk("It is "), chunk("42.")]
SUMMARY = ExchangeSummary(
    choices=(
        ChoiceSummary(
            index=0,
            reasoning="Let me compute.",
            answer="It is 42.",
            function_calls=(FunctionCall("call_7", "get_weather", '{"city": "Hangzhou"}'),),
            search_results=({"url": "https://example.com"},),
            finish_reason="stop",
        ),
    ),
    code_runs=("6*7",),
    usage=Usage(5, 7, 2, None, 1),
)
FRAMES = [SSEEvent("result", '{"output": 1}', "1", 200), SSEEvent("result", '{"output": 2}', "2")]


def test_timings_are_milliseconds_since_arrival_and_only_the_first_moment_counts() -> None:
    clock = FakeClock(100.0)
    rec = recorder(clock)
    clock.now = 100.1
    rec.frames([])  # an empty read is not a frame
    clock.now = 100.25
    rec.frames(FRAMES[:1])
    clock.now = 100.3
    rec.frames(FRAMES[1:])
    clock.now = 100.5
    rec.first_byte()
    clock.now = 101.0
    rec.first_byte()
    clock.now = 102.0
    record = rec.finish(status=200, outcome="ok").record()
    assert record["timings_ms"] == {
        "upstream_first_frame": 250.0,
        "first_byte": 500.0,
        "total": 2000.0,
    }
    assert record["started_at"] == 1_700_000_000.5


def test_moments_never_reached_are_null() -> None:
    clock = FakeClock()
    rec = recorder(clock)
    clock.now += 0.004
    record = rec.finish(status=429, outcome="error").record()
    assert record["timings_ms"] == {"upstream_first_frame": None, "first_byte": None, "total": 4.0}


def test_the_summary_becomes_the_message_a_non_stream_client_would_get() -> None:
    finished = recorder(FakeClock()).finish(status=200, outcome="ok", summary=SUMMARY)
    record = finished.record()
    message = {
        "role": "assistant",
        "content": "It is 42.",
        "reasoning_content": "Let me compute.",
        "tool_calls": [
            {
                "id": "call_7",
                "type": "function",
                "function": {"name": "get_weather", "arguments": '{"city": "Hangzhou"}'},
            }
        ],
        "search_info": {"search_results": [{"url": "https://example.com"}]},
    }
    assert record["response"] == {
        "choices": [{"index": 0, "finish_reason": "stop", "message": message}],
        "code_runs": ["6*7"],
    }
    assert record["usage"] == {
        "prompt_tokens": 5,
        "completion_tokens": 7,
        "total_tokens": 12,
        "completion_tokens_details": {"reasoning_tokens": 2},
        "x_tools": {"code_interpreter": {"count": 1}},
    }
    assert finished.summary is SUMMARY  # what metrics and the app log read


@pytest.mark.parametrize(
    ("answer", "calls", "content"),
    [("", (), ""), ("", (FunctionCall(None, "f", "{}"),), None), ("hi", (), "hi")],
)
def test_content_is_null_only_beside_tool_calls(
    answer: str, calls: tuple[FunctionCall, ...], content: str | None
) -> None:
    choice = ChoiceSummary(0, "", answer, calls, None, None)
    summary = ExchangeSummary((choice,), (), None)
    record = recorder(FakeClock()).finish(status=200, outcome="ok", summary=summary).record()
    (recorded,) = record["response"]["choices"]
    assert recorded["message"]["content"] == content
    assert ("tool_calls" in recorded["message"]) == bool(calls)
    assert "reasoning_content" not in recorded["message"]
    assert record["usage"] is None


def test_nothing_streamed_gives_an_empty_response() -> None:
    record = recorder(FakeClock()).finish(status=502, outcome="error").record()
    assert record["response"] == {"choices": [], "code_runs": []}
    assert record["usage"] is None


def test_without_capture_neither_frames_nor_chunks_are_kept() -> None:
    rec = recorder(FakeClock())
    rec.frames(FRAMES)
    rec.chunks(STREAM)
    record = rec.finish(status=200, outcome="ok", summary=SUMMARY).record()
    assert "frames" not in record
    assert "chunks" not in record
    assert record["response"]["choices"][0]["message"]["content"] == "It is 42."


@pytest.mark.parametrize(("frames", "chunks"), [(True, False), (False, True), (True, True)])
def test_capture_keeps_what_was_asked_for_in_order(frames: bool, chunks: bool) -> None:
    rec = recorder(FakeClock(), frames=frames, chunks=chunks)
    rec.frames(FRAMES[:1])
    rec.chunks(STREAM[:1])
    rec.frames(FRAMES[1:])
    rec.chunks(STREAM[1:])
    record = rec.finish(status=200, outcome="ok").record()
    expected_frames = [
        {"event": "result", "status": 200, "data": '{"output": 1}'},
        {"event": "result", "status": None, "data": '{"output": 2}'},
    ]
    assert record.get("frames") == (expected_frames if frames else None)
    assert record.get("chunks") == (STREAM if chunks else None)


def test_request_plan_and_identifiers_are_recorded() -> None:
    rec = recorder(FakeClock())
    body = {"model": "qwen-plus", "stream": True, "messages": [{"role": "user", "content": "hi"}]}
    rec.request(body)
    notes = ["store: dropped (no DashScope equivalent)"]
    upstream = {"model": "qwen-plus", "input": {}, "parameters": {"incremental_output": True}}
    translation = {"chunk_id": "chatcmpl-abc123", "code_format": "tool_calls"}
    rec.plan(upstream={"path": "/api/v1/x", "body": upstream}, notes=notes, translation=translation)
    notes.append("changed later")  # the record keeps what was true when planned
    rec.upstream_request_id("req-1")
    rec.upstream_request_id(None)  # an unknown id later does not erase the known one
    record = rec.finish(status=200, outcome="ok").record()
    assert record["request"] == body
    assert (record["model"], record["stream"]) == ("qwen-plus", True)
    assert record["upstream_request"] == {"path": "/api/v1/x", "body": upstream}
    assert record["notes"] == ["store: dropped (no DashScope equivalent)"]
    assert record["translation"] == translation
    assert record["upstream_request_id"] == "req-1"
    assert (record["id"], record["client_request_id"]) == ("abc123", "client-7")
    assert (record["v"], record["endpoint"]) == (2, "/v1/chat/completions")


@pytest.mark.parametrize("body", [None, ["not", "an", "object"], {"model": 7}])
def test_a_request_without_a_usable_model_records_none(body: Any) -> None:
    rec = recorder(FakeClock())
    rec.request(body)
    record = rec.finish(status=400, outcome="error").record()
    assert record["request"] == body
    assert record["model"] is None


def test_an_error_is_recorded_with_type_code_and_message() -> None:
    error = ProxyError("slow down", status=429, type="rate_limit_error", code="Throttling")
    record = recorder(FakeClock()).finish(status=429, outcome="error", error=error).record()
    assert record["error"] == {
        "type": "rate_limit_error",
        "code": "Throttling",
        "message": "slow down",
        "status": 429,  # the error's own, also when it travels in-band on a 200
    }
    assert (record["status"], record["outcome"]) == (429, "error")


def test_a_full_record_is_plain_json_with_every_documented_field() -> None:
    rec = recorder(FakeClock(), frames=True, chunks=True)
    rec.request({"model": "qwen-plus", "messages": []})
    rec.plan(upstream={"path": "/p", "body": {}}, notes=[], translation={"chunk_id": "c"})
    rec.frames(FRAMES)
    rec.chunks(STREAM)
    record = rec.finish(status=200, outcome="ok").record()
    assert orjson.loads(orjson.dumps(record)) == record
    assert set(record) == FIELDS | {"frames", "chunks"}


def test_a_record_that_ends_before_any_plan_still_has_every_documented_field() -> None:
    # A malformed body ends the exchange before a plan exists; readers of version 1 expect
    # each documented field, null when unknown (as `upstream_request` already is).
    record = recorder(FakeClock()).finish(status=400, outcome="error").record()
    assert set(record) == FIELDS


def test_the_null_recorder_keeps_the_summary_but_no_captures() -> None:
    """With the traffic log off, metrics and the app log still need status, timings, usage."""
    clock = FakeClock()
    null = NullRecorder(
        exchange_id="x",
        started_at=0.0,
        clock=clock,
        endpoint="/v1/chat/completions",
        capture_frames=True,
        capture_chunks=True,
    )
    null.request({"model": "qwen-plus"})
    clock.now += 0.002
    null.frames(FRAMES)
    null.chunks(STREAM)
    clock.now += 0.001
    null.first_byte()
    finished = null.finish(status=200, outcome="ok", summary=SUMMARY)
    assert (finished.status, finished.outcome, finished.model) == (200, "ok", "qwen-plus")
    assert finished.summary.usage == SUMMARY.usage
    assert finished.timings["upstream_first_frame"] is not None
    assert finished.timings["first_byte"] is not None
    assert (finished.frames, finished.chunks) == (None, None)
    assert "frames" not in finished.record()


def test_the_null_recorder_lets_go_of_the_bodies_unless_telemetry_reads_them() -> None:
    upstream: UpstreamRequest = {"path": "/api/v1/x", "body": {"model": "qwen-plus"}}
    kept = NullRecorder(exchange_id="x", started_at=0.0, clock=FakeClock(), endpoint="/v1/x")
    dropped = bare(FakeClock())
    for rec in (kept, dropped):
        rec.request({"model": "qwen-plus", "stream": True})
        rec.plan(upstream=upstream, notes=["a note"], translation={"api": "chat.completions"})
    finished = kept.finish(status=200, outcome="ok")
    assert finished.request == {"model": "qwen-plus", "stream": True}
    assert finished.upstream_request == upstream
    assert finished.translation == {"api": "chat.completions"}
    finished = dropped.finish(status=200, outcome="ok")
    assert (finished.request, finished.upstream_request, finished.translation) == (None,) * 3
    # What metrics and the app log read is still there.
    assert (finished.model, finished.stream, finished.notes) == ("qwen-plus", True, ("a note",))


def test_a_retried_attempts_frames_give_way_to_the_last_attempts() -> None:
    clock = FakeClock()
    recording = recorder(clock, frames=True)
    refused = SSEEvent(event="error", data='{"code": "Throttling"}', status=429)
    recording.first_frames([refused])  # the first attempt: retried
    clock.now += 0.5
    recording.first_frames(FRAMES[:1])  # the second
    recording.frames(FRAMES[1:])
    record = recording.finish(status=200, outcome="ok", summary=SUMMARY).record()
    assert [frame["data"] for frame in record["frames"]] == [f.data for f in FRAMES]
    assert record["timings_ms"]["upstream_first_frame"] == 500.0  # the last attempt's
    assert "upstream_error" not in record


def test_a_non_2xx_answer_is_kept_with_the_frames_only() -> None:
    answer = ErrorAnswer(401, "application/json", b'{"code":"InvalidApiKey","message":"No."}')
    error = answered(answer, request_id="req-1")
    captured = recorder(FakeClock(), frames=True).finish(status=401, outcome="error", error=error)
    assert captured.record()["upstream_error"] == {
        "status": 401,
        "content_type": "application/json",
        "body": '{"code":"InvalidApiKey","message":"No."}',
    }
    plain = recorder(FakeClock()).finish(status=401, outcome="error", error=error).record()
    assert "upstream_error" not in plain


def test_a_redirect_is_kept_with_where_it_pointed() -> None:
    error = answered(ErrorAnswer(302, "text/html", b"", "https://elsewhere.test/"))
    captured = recorder(FakeClock(), frames=True).finish(status=502, outcome="error", error=error)
    assert captured.record()["upstream_error"] == {
        "status": 302,
        "content_type": "text/html",
        "body": "",
        "location": "https://elsewhere.test/",
    }


# ---- who made the call, and what it cost -------------------------------------------------------

PRICING = Pricing(MODEL_TABLE, "beijing")


def test_the_record_names_the_proxy_key_and_never_holds_the_key() -> None:
    rec = recorder(FakeClock())
    finished = rec.finish(status=200, outcome="ok", key=KeyIdentity("3f2a9c1b", "ci"))
    assert finished.record()["key"] == {"name": "ci", "fingerprint": "3f2a9c1b"}
    unnamed = recorder(FakeClock()).finish(status=200, outcome="ok", key=KeyIdentity("0a1b2c3d"))
    assert unnamed.record()["key"] == {"name": None, "fingerprint": "0a1b2c3d"}
    assert recorder(FakeClock()).finish(status=200, outcome="ok").record()["key"] is None


def bare(clock: FakeClock) -> ExchangeRecorder:
    return NullRecorder(
        bodies=False, exchange_id="x", started_at=0.0, clock=clock, endpoint="/v1/responses"
    )


@pytest.mark.parametrize("make", [recorder, bare], ids=["recorder", "bare"])
def test_the_cost_is_computed_from_the_model_the_usage_and_the_search_strategy(
    make: Any,
) -> None:
    rec = make(FakeClock())
    rec.request({"model": "qwen3-max", "messages": []})
    parameters = {"enable_search": True, "search_options": {"search_strategy": "agent"}}
    rec.plan(
        upstream={"path": "/api/v1/x", "body": {"model": "qwen3-max", "parameters": parameters}},
        notes=[],
        translation={},
    )
    summary = replace(SUMMARY, usage=Usage(1000, 500, None, 200, None, web_searches=2))
    finished = rec.finish(status=200, outcome="ok", summary=summary, pricing=PRICING)
    # qwen3-max in CNY: 800 input at 2.5, 200 cached at 0.5, 500 output at 10 per million,
    # 2 agent searches at 4 per 1,000.
    assert finished.cost == Cost(Decimal("0.0151"), "CNY", "qwen3-max", "2026-12-02")
    assert finished.record()["cost"] == {
        "amount": "0.0151",
        "currency": "CNY",
        "family": "qwen3-max",
        "prices_as_of": "2026-12-02",
    }


def test_no_cost_without_usage_a_price_or_pricing() -> None:
    rec = recorder(FakeClock())
    rec.request({"model": "qwen3-max"})
    assert rec.finish(status=400, outcome="error", pricing=PRICING).record()["cost"] is None
    rec = recorder(FakeClock())
    rec.request({"model": "glm-4.6"})
    assert rec.finish(status=200, outcome="ok", summary=SUMMARY, pricing=PRICING).cost is None
    rec = recorder(FakeClock())
    rec.request({"model": "qwen3-max"})
    assert rec.finish(status=200, outcome="ok", summary=SUMMARY).cost is None
