"""Reasoning summaries on the Responses API: with `reasoning.summary` auto, concise or detailed
the thinking streams as the reasoning item's summary (the events the Vercel AI SDK and Codex
show), streamed and folded, checked by the contract and read back with the openai SDK."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import openai
import pytest
from openai.types.responses import Response

from proxy.core.errors import UpstreamUnavailable
from proxy.core.events import ContentDelta, Event, Finish, ReasoningDelta, Usage
from proxy.core.sse import SSEDecoder
from proxy.core.wire import Item
from proxy.responses.api import RESPONSES_API
from proxy.responses.request import translate_responses_request
from proxy.responses.stream import ResponseIdentity, ResponsesEventEncoder
from proxy.simulator import ReceivedRequest
from tests.golden_tools import load_body
from tests.responses_contract import check_events
from tests.responses_helpers import CASE_NAMES, ECHO, case, outcome
from tests.responses_helpers import identity as identity_for

THINKING = ("Let me ", "think.")
EVENTS: list[Event] = [
    *(ReasoningDelta(0, piece) for piece in THINKING),
    ContentDelta(0, "Done."),
    Finish(0, "stop"),
    Usage(3, 4, 2, None, None),
]
SUMMARY_EVENTS = [
    "response.reasoning_summary_part.added",
    "response.reasoning_summary_text.delta",
    "response.reasoning_summary_text.delta",
    "response.reasoning_summary_text.done",
    "response.reasoning_summary_part.done",
]


def encode(summary: str | None, events: list[Event] = EVENTS) -> list[Item]:
    body = {"model": "qwen3-max", "input": "hi", "reasoning": {"summary": summary}}
    echo = translate_responses_request(body).extras.echo
    encoder = ResponsesEventEncoder(ResponseIdentity("resp_r", 1, "qwen3-max", "r", echo))
    return [*(item for event in events for item in encoder.feed(event)), *encoder.finish()]


@pytest.mark.parametrize("summary", ["auto", "concise", "detailed"])
def test_a_summary_request_streams_the_thinking_as_its_summary(summary: str) -> None:
    result = check_events(encode(summary))
    thinking = [e for e in result.events if e.get("output_index") == 0]
    assert [e["type"] for e in thinking[1:-1]] == SUMMARY_EVENTS
    assert all(e["summary_index"] == 0 for e in thinking[1:-1])
    assert [e["delta"] for e in thinking if "delta" in e] == list(THINKING)
    (reasoning,) = result.items("reasoning")
    assert reasoning["summary"] == [{"type": "summary_text", "text": "Let me think."}]
    assert reasoning["content"] == []
    parsed = Response.model_validate(result.response)
    assert parsed.output[0].type == "reasoning"
    assert parsed.output[0].summary[0].text == "Let me think."


@pytest.mark.parametrize("summary", [None, "verbose"])
def test_without_a_summary_the_thinking_is_reasoning_text(summary: str | None) -> None:
    result = check_events(encode(summary))
    assert "response.reasoning_text.delta" in result.types
    assert not any("summary" in kind for kind in result.types)
    (reasoning,) = result.items("reasoning")
    assert (reasoning["summary"], reasoning["content"][0]["text"]) == ([], "Let me think.")


def test_a_summary_cut_short_is_an_incomplete_item() -> None:
    encoder = ResponsesEventEncoder(
        ResponseIdentity("resp_r", 1, "m", "r", {"reasoning": {"summary": "auto"}})
    )
    events = encoder.feed(ReasoningDelta(0, "Half"))
    failed = encoder.fail(UpstreamUnavailable("cut"), None)[-1]
    (item,) = failed["response"]["output"]
    assert (item["status"], item["summary"]) == (
        "incomplete",
        [{"type": "summary_text", "text": "Half"}],
    )
    assert events[-1]["type"] == "response.reasoning_summary_text.delta"


# ---- end to end, with the openai SDK ---------------------------------------------------------


def test_the_sdk_streams_and_folds_the_summary(
    client: openai.OpenAI, received: list[ReceivedRequest]
) -> None:
    fields: Any = {
        "model": "qwen3-max",
        "input": "Hello",
        "reasoning": {"effort": "low", "summary": "auto"},
    }
    with client.responses.stream(**fields) as stream:
        kinds = [event.type for event in stream]
        final = stream.get_final_response()
    assert "response.reasoning_summary_text.delta" in kinds
    assert "response.reasoning_text.delta" not in kinds
    streamed = final.output[0]
    assert streamed.type == "reasoning"
    assert streamed.summary[0].text
    created = client.responses.create(**fields)
    assert created.output[0].type == "reasoning"
    assert created.output[0].summary == streamed.summary
    assert received[-1].body["parameters"]["enable_thinking"] is True


# ---- the recorded streams, as summaries ------------------------------------------------------


def summarised(name: str) -> list[Item]:
    """The golden's recorded body translated for a request that asked for a summary."""
    golden = case(name)
    identity = replace(identity_for(golden.model), echo={**ECHO, "reasoning": {"summary": "auto"}})
    translation = RESPONSES_API.new_translation(identity)
    decoder = SSEDecoder()
    body = load_body(name)
    return [
        *translation.feed(decoder.feed(body)),
        *translation.feed(decoder.finish()),
        *translation.finish(),
    ]


@pytest.mark.parametrize("name", [n for n in CASE_NAMES if not n.startswith("error")])
def test_every_recorded_stream_says_the_same_thinking_as_a_summary(name: str) -> None:
    plain = check_events(outcome(name).events)
    summary = check_events(summarised(name))
    assert summary.reasoning == plain.reasoning
    assert summary.text == plain.text
    renamed = [kind.replace("reasoning_text", "reasoning_summary_text") for kind in plain.types]
    assert [k for k in summary.types if "summary" in k and "part" not in k] == [
        k for k in renamed if "summary" in k
    ]
