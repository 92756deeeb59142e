"""Golden streams: recorded native SSE bodies -> the reviewed OpenAI chunks (tests/golden/)."""

from __future__ import annotations

import json
from dataclasses import replace
from typing import Any

import pytest

from proxy.chat.api import CHAT_COMPLETIONS
from proxy.core.errors import UpstreamError, UpstreamUnavailable
from proxy.core.sse import DONE, SSEDecoder, encode_data
from proxy.core.wire import Item
from proxy.simulator import build_scenario, render_frame
from proxy.simulator.scripts import (
    GROWING_CODE,
    LENGTH_ANSWER,
    MIDSTREAM_PARTIAL,
    PLAIN_ANSWER,
    TRUNCATED_PARTIAL,
)
from tests.contract import check_chunks, check_sse_bytes
from tests.golden_tools import (
    CASE_NAMES,
    Outcome,
    case,
    error_summary,
    identity,
    load_body,
    load_expected,
    translate,
)

FIRST_RESULT = "1169008215014432917465348578887506800769541157267"


def outcome(name: str, *, include_usage: bool = True) -> Outcome:
    return translate(load_body(name), case(name).model, include_usage=include_usage)


def folded(name: str) -> dict[str, Any]:
    result = outcome(name)
    return check_chunks(result.chunks, include_usage=True, complete=result.error is None)


def message(name: str) -> dict[str, Any]:
    return dict(folded(name)["choices"][0]["message"])


def frames(body: bytes) -> list[bytes]:
    return [piece + b"\n\n" for piece in body.split(b"\n\n") if piece]


def last_usage(name: str) -> dict[str, Any]:
    """The usage of the upstream's last frame, read straight from the recorded body."""
    data = [line for line in load_body(name).split(b"\n") if line.startswith(b"data:")]
    usage: dict[str, Any] = json.loads(data[-1][5:])["usage"]
    return usage


def code_args(msg: dict[str, Any]) -> list[Any]:
    return [json.loads(call["function"]["arguments"]) for call in msg.get("tool_calls") or ()]


def wire(result: Outcome) -> bytes:
    body = b"".join(encode_data(chunk) for chunk in result.chunks)
    if result.error is not None:
        body += encode_data(result.error.to_body())
    return body + DONE


# ---- every golden ---------------------------------------------------------------------------


@pytest.mark.parametrize("name", CASE_NAMES)
def test_matches_the_reviewed_chunks(name: str) -> None:
    expected = load_expected(name)
    result = outcome(name)
    assert expected["model"] == case(name).model
    assert result.chunks == expected["chunks"]
    assert error_summary(result.error) == expected["error"]


@pytest.mark.parametrize("name", CASE_NAMES)
def test_obeys_the_client_contract(name: str) -> None:
    result = outcome(name)
    check_chunks(result.chunks, include_usage=True, complete=result.error is None)
    if result.chunks:
        stream = check_sse_bytes(wire(result), include_usage=True)
        assert (stream.error is None) == (result.error is None)


@pytest.mark.parametrize("name", CASE_NAMES)
def test_no_usage_chunk_unless_asked(name: str) -> None:
    result = outcome(name, include_usage=False)
    assert all(chunk.get("usage") is None and chunk["choices"] for chunk in result.chunks)
    expected = [chunk for chunk in load_expected(name)["chunks"] if chunk["choices"]]
    assert result.chunks == expected
    check_chunks(result.chunks, complete=result.error is None)


@pytest.mark.parametrize("name", CASE_NAMES)
def test_design_rules(name: str) -> None:
    deltas = [entry["delta"] for chunk in outcome(name).chunks for entry in chunk["choices"]]
    reasons = [e["finish_reason"] for c in outcome(name).chunks for e in c["choices"]]
    assert "null" not in reasons
    assert sum("role" in delta for delta in deltas) == (1 if deltas else 0)
    calls = [call for delta in deltas for call in delta.get("tool_calls", ())]
    for key in ("id", "type"):
        ids = [call[key] for call in calls if key in call]
        assert len(ids) == len({call["index"] for call in calls}), key
    names = [call["function"]["name"] for call in calls if "name" in call["function"]]
    assert len(names) == len({call["index"] for call in calls})
    assert sorted({call["index"] for call in calls}) == list(range(len(names)))
    for delta in deltas:
        assert len({"content", "reasoning_content", "tool_calls"} & set(delta)) <= 1, delta


@pytest.mark.parametrize("name", [n for n in CASE_NAMES if not n.startswith("error")])
def test_usage_is_the_upstream_final_total(name: str) -> None:
    native = last_usage(name)
    usage = folded(name)["usage"]
    assert usage["prompt_tokens"] == native["input_tokens"]
    assert usage["completion_tokens"] == native["output_tokens"]
    assert usage["total_tokens"] == native["total_tokens"]
    details = native.get("output_tokens_details")
    assert usage.get("completion_tokens_details") == details
    runs = native.get("plugins", {}).get("code_interpreter")
    assert usage.get("x_tools", {}).get("code_interpreter") == runs


# ---- each golden's meaning ------------------------------------------------------------------


def test_seed_single_run_folds_to_one_message() -> None:
    assert folded("seed_single_run") == {
        "id": "chatcmpl-test",
        "object": "chat.completion",
        "created": 1700000000,
        "model": "qwen3-max-preview",
        "choices": [
            {
                "index": 0,
                "message": {
                    "role": "assistant",
                    "content": "123 to the power of 23",
                    "reasoning_content": "The user is askingThe user a clear format.",
                    "tool_calls": [
                        {
                            "id": "call_ci_test_0",
                            "type": "function",
                            "function": {
                                "name": "code_interpreter",
                                "arguments": '{"code": "123**21"}',
                            },
                        }
                    ],
                },
                "logprobs": None,
                "finish_reason": "stop",
            }
        ],
        "usage": {
            "prompt_tokens": 734,
            "completion_tokens": 263,
            "total_tokens": 997,
            "completion_tokens_details": {"reasoning_tokens": 171},
            "x_tools": {"code_interpreter": {"count": 1}},
        },
    }


def test_seed_two_runs() -> None:
    msg = message("seed_two_runs")
    assert code_args(msg) == [{"code": "123**23"}, {"code": f"{FIRST_RESULT} / 5"}]
    assert [call["id"] for call in msg["tool_calls"]] == ["call_ci_test_0", "call_ci_test_1"]
    assert msg["reasoning_content"].endswith("Now divide it by 5.Both runs are done.")
    assert msg["content"] == f"First run: {FIRST_RESULT}\n\nSecond run: 2.338016430028866e+47"
    result = folded("seed_two_runs")
    assert result["choices"][0]["finish_reason"] == "stop"
    assert result["usage"]["x_tools"] == {"code_interpreter": {"count": 2}}
    assert result["usage"]["completion_tokens_details"] == {"reasoning_tokens": 40}


def test_code_growing() -> None:
    msg = message("code_growing")
    assert code_args(msg) == [{"code": GROWING_CODE[-1]}]
    assert msg["content"] == "20! = 2432902008176640000"
    assert msg["reasoning_content"].startswith("The user wants 20 factorial.")
    # The call streams as the code grows: one fragment per snapshot, then the close.
    chunks = outcome("code_growing").chunks
    fragments = [
        call["function"]["arguments"]
        for chunk in chunks
        for entry in chunk["choices"]
        for call in entry["delta"].get("tool_calls", ())
    ]
    assert fragments == ['{"code": "import math', "\\nprint(", "math.factorial(20))", '"}']


def test_interleaved_content_before_the_run() -> None:
    msg = message("interleaved")
    assert msg["content"] == (
        "Let me compute that precisely.\n\n"
        "The square root of 2 is 1.414213562373095048801688724210."
    )
    [args] = code_args(msg)
    assert args["code"].endswith("Decimal(2).sqrt()")


def test_plain_text() -> None:
    msg = message("plain_text")
    assert msg == {"role": "assistant", "content": PLAIN_ANSWER}
    assert folded("plain_text")["choices"][0]["finish_reason"] == "stop"
    assert "completion_tokens_details" not in folded("plain_text")["usage"]


def test_length() -> None:
    result = folded("length")
    assert result["choices"][0]["finish_reason"] == "length"
    assert result["choices"][0]["message"]["content"] == LENGTH_ANSWER + " fingers"
    assert "tool_calls" not in result["choices"][0]["message"]


def test_error_first_frame_raises_before_any_chunk() -> None:
    [event] = SSEDecoder().feed(load_body("error_first"))
    translation = CHAT_COMPLETIONS.new_translation(
        replace(identity("qwen-plus"), include_usage=True)
    )
    with pytest.raises(UpstreamError) as caught:
        translation.feed([event])
    assert caught.value.status == 400
    assert caught.value.code == "InvalidParameter"
    assert caught.value.request_id == "7671ecd8-93cc-9ee9-bc89-739f0fd8b809"
    assert caught.value.to_body()["error"]["type"] == "invalid_request_error"


def test_error_mid_stream_comes_after_the_chunks_before_it() -> None:
    result = outcome("error_midstream")
    assert isinstance(result.error, UpstreamError)
    assert (result.error.status, result.error.code) == (400, "DataInspectionFailed")
    stream = check_sse_bytes(wire(result))
    assert stream.message["content"] == MIDSTREAM_PARTIAL
    assert stream.error is not None
    assert stream.error["code"] == "DataInspectionFailed"
    # All frames in one read: the text's chunks come back first, the error with the next call.
    decoder = SSEDecoder()
    translation = CHAT_COMPLETIONS.new_translation(
        replace(identity("qwen-plus"), include_usage=True)
    )
    body = load_body("error_midstream")
    assert translation.feed(decoder.feed(body) + decoder.finish()) == result.chunks
    with pytest.raises(UpstreamError):
        translation.finish()
    # One frame per read: the same chunks, the error on the error frame itself.
    cuts = [len(b"".join(frames(body)[:n])) for n in range(len(frames(body)))]
    per_frame = translate(body, "qwen-plus", splits=cuts)
    assert per_frame.chunks == result.chunks
    assert error_summary(per_frame.error) == error_summary(result.error)


def test_parallel_function_calls() -> None:
    result = folded("parallel_tools")
    msg = result["choices"][0]["message"]
    assert msg["content"] is None
    assert "reasoning_content" not in msg
    assert [call["id"] for call in msg["tool_calls"]] == [
        "call_29a870e7106f45deb8add3",
        "call_026e44bb31a74266949a20",
    ]
    assert {call["function"]["name"] for call in msg["tool_calls"]} == {"get_current_weather"}
    assert code_args(msg) == [{"location": "浙江省杭州市"}, {"location": "上海市"}]
    assert result["choices"][0]["finish_reason"] == "tool_calls"
    # The terminal frame's own fragment is sent before the finish.
    last_call = outcome("parallel_tools").chunks[-3]["choices"][0]["delta"]["tool_calls"][0]
    assert last_call == {"index": 1, "function": {"arguments": ' "上海市"}'}}


# ---- when the call appears, and streams that end early --------------------------------------


def per_frame(name: str) -> list[list[Item]]:
    decoder = SSEDecoder()
    translation = CHAT_COMPLETIONS.new_translation(
        replace(identity(case(name).model), include_usage=True)
    )
    return [translation.feed(decoder.feed(frame)) for frame in frames(load_body(name))]


def test_request_id_comes_from_the_first_frame() -> None:
    translation = CHAT_COMPLETIONS.new_translation(
        replace(identity("qwen3-max-preview"), include_usage=False)
    )
    assert translation.request_id is None
    translation.feed(SSEDecoder().feed(frames(load_body("seed_single_run"))[0]))
    assert translation.request_id == "a1959ad1-2637-4672-a21f-4d351371d254"


def test_the_call_appears_with_the_frame_that_brings_its_code() -> None:
    outputs = per_frame("seed_single_run")
    ids = [
        json.loads(f.split(b"data:", 1)[1])["output"].get("tool_info")
        for f in frames(load_body("seed_single_run"))
    ]
    first_with_code = ids.index(
        [{"code_interpreter": {"code": "123**21"}, "type": "code_interpreter"}]
    )
    opened = outputs[first_with_code]
    assert len(opened) == 1
    call = opened[0]["choices"][0]["delta"]["tool_calls"][0]
    assert (call["id"], call["function"]["name"]) == ("call_ci_test_0", "code_interpreter")
    # The next frame resumes reasoning: the call is closed first, in that same frame's output.
    closing, reasoning = outputs[first_with_code + 1]
    assert closing["choices"][0]["delta"]["tool_calls"][0]["function"]["arguments"] == '"}'
    assert reasoning["choices"][0]["delta"] == {"reasoning_content": "The"}


def test_second_run_appears_only_once_its_code_is_filled() -> None:
    outputs = per_frame("seed_two_runs")
    # Frame 7 shows the second entry with empty code; frame 8 fills it in.
    assert outputs[6] == []
    [opened] = outputs[7]
    call = opened["choices"][0]["delta"]["tool_calls"][0]
    assert call["index"] == 1
    assert call["function"]["arguments"] == '{"code": "' + FIRST_RESULT + " / 5"


@pytest.mark.parametrize("name", ["seed_single_run", "parallel_tools", "plain_text"])
def test_stream_cut_before_the_finish_frame_is_truncated(name: str) -> None:
    body = b"".join(frames(load_body(name))[:-1])
    result = translate(body, case(name).model)
    assert isinstance(result.error, UpstreamUnavailable)
    assert result.error.code == "upstream_truncated"
    assert result.error.status == 502
    assert result.chunks == load_expected(name)["chunks"][: len(result.chunks)]
    assert all(e["finish_reason"] is None for c in result.chunks for e in c["choices"])


def test_simulated_truncated_stream() -> None:
    scenario = build_scenario("truncated", {"parameters": {"incremental_output": True}})
    body = b"".join(render_frame(n, f) for n, f in enumerate(scenario.frames, 1))
    result = translate(body, "qwen-plus")
    assert isinstance(result.error, UpstreamUnavailable)
    assert result.error.code == "upstream_truncated"
    assert "".join(c["choices"][0]["delta"].get("content", "") for c in result.chunks) == (
        TRUNCATED_PARTIAL
    )


def test_empty_upstream_body_is_truncated() -> None:
    result = translate(b"", "qwen-plus")
    assert result.chunks == []
    assert isinstance(result.error, UpstreamUnavailable)
    assert result.error.code == "upstream_truncated"


def test_non_json_data_frame_is_a_protocol_error() -> None:
    body = frames(load_body("plain_text"))[0] + b"id:2\nevent:result\ndata:{oops\n\n"
    result = translate(body, "qwen-plus")
    assert isinstance(result.error, UpstreamUnavailable)
    assert result.error.code == "upstream_protocol_error"
    assert len(result.chunks) == 1
