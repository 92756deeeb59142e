"""The contract checkers themselves: they accept a well-formed stream, reject each kind of broken
one, and read SSE and fold chunks with code of their own (tests/sse_reader.py,
tests/chunk_fold.py). A checker that accepted anything would make every stream test pass."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from proxy.chat.fold import fold_chunks
from tests.chunk_fold import fold
from tests.contract import check_sse_bytes
from tests.responses_contract import check_event_bytes
from tests.sse_reader import WireEvent, read_events

GOLDEN = Path(__file__).parent / "golden"
HEAD = {"id": "chatcmpl-1", "object": "chat.completion.chunk", "created": 1, "model": "m"}
Chunk = dict[str, Any]


def chunk(delta: dict[str, Any], finish: str | None = None, index: int = 0) -> Chunk:
    return {**HEAD, "choices": [{"index": index, "delta": delta, "finish_reason": finish}]}


def call(index: int, call_id: str, name: str, arguments: str) -> dict[str, Any]:
    function = {"name": name, "arguments": arguments}
    return {"index": index, "id": call_id, "type": "function", "function": function}


def more_arguments(index: int, arguments: str) -> dict[str, Any]:
    return {"index": index, "function": {"arguments": arguments}}


def well_formed() -> list[Chunk]:
    return [
        chunk({"role": "assistant", "content": ""}),
        chunk({"reasoning_content": "Let me "}),
        chunk({"reasoning_content": "compute."}),
        chunk({"tool_calls": [call(0, "call_a", "run", "")]}),
        chunk({"tool_calls": [more_arguments(0, '{"code": ')]}),
        chunk({"tool_calls": [more_arguments(0, '"1+1"}')]}),
        chunk({"tool_calls": [call(1, "call_b", "look", "{}")]}),
        chunk({"content": "Two"}),
        chunk({"content": "."}),
        chunk({}, "stop"),
    ]


USAGE = {"prompt_tokens": 3, "completion_tokens": 4, "total_tokens": 7}


def sse(chunks: list[Chunk], *, done: bytes = b"data: [DONE]\n\n") -> bytes:
    return b"".join(b"data: " + json.dumps(c).encode() + b"\n\n" for c in chunks) + done


def test_a_well_formed_stream_passes_and_folds_to_its_message() -> None:
    result = check_sse_bytes(sse(well_formed()))
    assert result.error is None
    assert result.folded["choices"][0]["finish_reason"] == "stop"
    assert result.message == {
        "role": "assistant",
        "content": "Two.",
        "reasoning_content": "Let me compute.",
        "tool_calls": [
            {
                "id": "call_a",
                "type": "function",
                "function": {"name": "run", "arguments": '{"code": "1+1"}'},
            },
            {"id": "call_b", "type": "function", "function": {"name": "look", "arguments": "{}"}},
        ],
    }


def test_the_usage_chunk_is_accepted_last_when_asked_for() -> None:
    chunks = [*well_formed(), {**HEAD, "choices": [], "usage": USAGE}]
    assert check_sse_bytes(sse(chunks), include_usage=True).folded["usage"] == USAGE


def _edit(change: Callable[[list[Chunk]], object]) -> bytes:
    chunks = well_formed()
    change(chunks)
    return sse(chunks)


BROKEN_CHUNKS: dict[str, tuple[Callable[[list[Chunk]], object], str]] = {
    "role twice": (
        lambda c: c[1]["choices"][0]["delta"].update(role="assistant"),
        "role must be sent once",
    ),
    "no role first": (lambda c: c.pop(0), "the first delta of a choice carries the role"),
    "tool index skips one": (
        lambda c: c[6]["choices"][0]["delta"]["tool_calls"][0].update(index=2),
        "skips ahead",
    ),
    "call id reused": (
        lambda c: c[6]["choices"][0]["delta"]["tool_calls"][0].update(id="call_a"),
        "ids are distinct",
    ),
    "a new call without its name": (
        lambda c: c[6]["choices"][0]["delta"]["tool_calls"][0]["function"].update(name=""),
        "function.name",
    ),
    "a later call delta repeats the id": (
        lambda c: c[4]["choices"][0]["delta"]["tool_calls"][0].update(id="call_a"),
        "later deltas carry only",
    ),
    "arguments that are not JSON": (lambda c: c.pop(5), "complete JSON"),
    "two finishes": (lambda c: c.append(chunk({}, "stop")), "no delta may follow"),
    "a delta after the finish": (
        lambda c: c.append(chunk({"content": "more"})),
        "no delta may follow",
    ),
    "no finish": (lambda c: c.pop(), "has no finish_reason"),
    "an unknown finish reason": (
        lambda c: c[-1]["choices"][0].update(finish_reason="done"),
        "finish_reason",
    ),
    "two kinds of payload in one delta": (
        lambda c: c[7]["choices"][0]["delta"].update(reasoning_content="x"),
        "one kind of payload",
    ),
    "the id changes": (lambda c: c[3].update(id="chatcmpl-2"), "id changed"),
    "usage without include_usage": (
        lambda c: c.append({**HEAD, "choices": [], "usage": USAGE}),
        "without stream_options.include_usage",
    ),
    "a chunk without choices": (lambda c: c.insert(3, {**HEAD, "choices": []}), "no choices"),
    "an error before the end": (
        lambda c: c.insert(3, {"error": {"message": "m", "type": "t", "param": None, "code": "c"}}),
        "an error may only be the last event",
    ),
}


@pytest.mark.parametrize("name", BROKEN_CHUNKS)
def test_a_broken_stream_is_rejected(name: str) -> None:
    change, reason = BROKEN_CHUNKS[name]
    with pytest.raises(AssertionError, match=reason):
        check_sse_bytes(_edit(change))


def test_usage_must_come_when_asked_for_and_last() -> None:
    with pytest.raises(AssertionError, match="no usage chunk came"):
        check_sse_bytes(sse(well_formed()), include_usage=True)
    chunks = well_formed()
    chunks.insert(-1, {**HEAD, "choices": [], "usage": USAGE})
    with pytest.raises(AssertionError, match="the usage chunk must be the last"):
        check_sse_bytes(sse(chunks), include_usage=True)


BROKEN_FRAMING = {
    "missing [DONE]": (sse(well_formed(), done=b""), "must end with data: \\[DONE\\]"),
    "data after [DONE]": (
        sse(well_formed()) + b'data: {"choices": []}\n\n',
        "must end with data: \\[DONE\\]",
    ),
    "[DONE] twice": (sse(well_formed()) + b"data: [DONE]\n\n", "exactly once"),
    "no blank line at the end": (sse(well_formed())[:-1], "must end with a blank line"),
    "an event: line": (b"event: chunk\n" + sse(well_formed()), "no event: lines"),
    "a field other than data": (b"id: 1\n" + sse(well_formed()), "unexpected line"),
    "nothing at all": (b"\n\n", "empty stream"),
}


@pytest.mark.parametrize("name", BROKEN_FRAMING)
def test_broken_framing_is_rejected(name: str) -> None:
    body, reason = BROKEN_FRAMING[name]
    with pytest.raises(AssertionError, match=reason):
        check_sse_bytes(body)


def test_comments_are_allowed_between_events() -> None:
    body = sse(well_formed())
    assert check_sse_bytes(b": keep-alive\n\n" + body).message["content"] == "Two."


# ---- the checker's own SSE reader ---------------------------------------------------------


def test_the_reader_follows_the_event_stream_rules() -> None:
    body = (
        b"\xef\xbb\xbfevent: one\r\ndata: a\r\ndata:b\r\n\r\n"  # BOM, CRLF, one space dropped
        b": a comment\rid: 7\rretry: 10\rdata:  c\r\r"  # CR only; id and retry ignored
        b"event: empty\ndata\n\n"  # a field name alone: an empty value
        b"event: nothing\n\n"  # no data line: nothing dispatched
        b"data: cut off"  # no blank line yet: not an event
    )
    assert read_events(body) == [
        WireEvent("one", "a\nb"),
        WireEvent(None, " c"),
        WireEvent("empty", ""),
    ]


# ---- the checker's own fold agrees with the product's on the reviewed goldens --------------


def _golden_chunks() -> dict[str, list[Chunk]]:
    found = {}
    for path in sorted(GOLDEN.glob("*.expected.json")):
        chunks = json.loads(path.read_text(encoding="utf-8"))["chunks"]
        if chunks:
            found[path.name.removesuffix(".expected.json")] = chunks
    return found


GOLDEN_CHUNKS = _golden_chunks()


@pytest.mark.parametrize("name", GOLDEN_CHUNKS)
def test_the_product_fold_agrees_with_the_checkers_fold(name: str) -> None:
    """Non-stream clients get the product's fold; a streaming client folds as the checker
    does. Both must read the same completion out of every reviewed stream."""
    chunks = GOLDEN_CHUNKS[name]
    product: dict[str, Any] = dict(fold_chunks(copy.deepcopy(chunks)))
    # Only the product's messages carry `refusal: null`: OpenAI's specification requires it in
    # a non-stream message (tests/test_openai_types.py), and no chunk ever sends one.
    for choice in product["choices"]:
        assert choice["message"].pop("refusal") is None
    assert product == fold(chunks)


# ---- the Responses checker -----------------------------------------------------------------


def responses_golden(name: str = "seed_single_run") -> list[dict[str, Any]]:
    path = GOLDEN / "responses" / f"{name}.expected.json"
    events: list[dict[str, Any]] = json.loads(path.read_text(encoding="utf-8"))["events"]
    return events


def named_sse(events: list[dict[str, Any]]) -> bytes:
    return b"".join(f"event: {e['type']}\ndata: {json.dumps(e)}\n\n".encode() for e in events)


def test_a_well_formed_responses_stream_passes() -> None:
    result = check_event_bytes(named_sse(responses_golden()))
    assert result.status == "completed"
    assert result.codes == ["123**21"]


def _renumbered(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    for position, event in enumerate(events):
        event["sequence_number"] = position
    return events


def _index_of(events: list[dict[str, Any]], kind: str, nth: int = 0) -> int:
    return [i for i, e in enumerate(events) if e["type"] == kind][nth]


def _repeat(kind: str) -> Callable[[list[dict[str, Any]]], None]:
    def change(events: list[dict[str, Any]]) -> None:
        at = _index_of(events, kind)
        events.insert(at, copy.deepcopy(events[at]))

    return change


def _wrong_text(events: list[dict[str, Any]]) -> None:
    events[_index_of(events, "response.output_text.done")]["text"] += "!"


def _terminal_twice(events: list[dict[str, Any]]) -> None:
    events.append(copy.deepcopy(events[-1]))


BROKEN_EVENTS: dict[str, tuple[Callable[[list[dict[str, Any]]], object], str]] = {
    "an item done twice": (_repeat("response.output_item.done"), "after the item's output_item"),
    "text deltas that do not add up": (_wrong_text, "text deltas concatenate"),
    "two terminal events": (_terminal_twice, "the terminal event must be the last"),
    "no terminal event": (lambda events: events.pop(), "not terminal"),
    "in_progress twice": (_repeat("response.in_progress"), "said twice"),
}


@pytest.mark.parametrize("name", BROKEN_EVENTS)
def test_a_broken_responses_stream_is_rejected(name: str) -> None:
    change, reason = BROKEN_EVENTS[name]
    events = responses_golden()
    change(events)
    with pytest.raises(AssertionError, match=reason):
        check_event_bytes(named_sse(_renumbered(events)))


def test_a_gap_in_sequence_numbers_is_rejected() -> None:
    events = responses_golden()
    events[5]["sequence_number"] += 1
    with pytest.raises(AssertionError, match="sequence_number of event 5"):
        check_event_bytes(named_sse(events))


@pytest.mark.parametrize(
    ("kind", "reason"),
    [
        ("response.content_part.done", "before its content_part.done"),
        ("response.code_interpreter_call.interpreting", "skips|out of order"),
        ("response.output_item.added", "before its item was added|contiguous"),
    ],
)
def test_a_responses_stream_missing_a_step_is_rejected(kind: str, reason: str) -> None:
    events = responses_golden()
    del events[_index_of(events, kind, 1 if kind.endswith("added") else 0)]
    with pytest.raises(AssertionError, match=reason):
        check_event_bytes(named_sse(_renumbered(events)))


def test_responses_framing_is_checked() -> None:
    events = responses_golden()
    with pytest.raises(AssertionError, match="no \\[DONE\\]"):
        check_event_bytes(named_sse(events) + b"data: [DONE]\n\n")
    renamed = named_sse(events).replace(b"event: response.completed", b"event: response.done")
    with pytest.raises(AssertionError, match="but type"):
        check_event_bytes(renamed)
