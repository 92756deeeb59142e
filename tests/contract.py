"""A strict checker of OpenAI's streaming rules, as docs/architecture.md lists them.

`check_sse_bytes` takes what a client would read off the wire; `check_chunks` takes decoded
chunks. Both fold the stream into one message and return it. The checker reads and folds with
its own code (tests/sse_reader.py, tests/chunk_fold.py), never the product's decoder or fold,
so a bug there cannot hide itself; tests/test_contract.py shows it rejects broken streams.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

import orjson

from tests.chunk_fold import fold
from tests.sse_reader import read_events

_PAYLOAD_KEYS = ("content", "reasoning_content", "tool_calls")
_FINISH_REASONS = {"stop", "length", "tool_calls", "content_filter"}


class StreamResult:
    def __init__(
        self, chunks: list[dict[str, Any]], error: dict[str, Any] | None, folded: dict[str, Any]
    ):
        self.chunks = chunks
        self.error = error
        self.folded = folded

    @property
    def message(self) -> dict[str, Any]:
        return dict(self.folded["choices"][0]["message"]) if self.folded["choices"] else {}


def decode_sse_bytes(body: bytes) -> list[str]:
    """The `data` of each event; asserts the framing OpenAI clients rely on."""
    assert body.endswith(b"\n\n"), "the last event must end with a blank line"
    for line in body.split(b"\n"):
        assert not line.startswith(b"event:"), f"no event: lines allowed, got {line!r}"
        if line and not line.startswith(b":"):
            assert line.startswith(b"data: "), f"unexpected line {line!r}"
    return [event.data for event in read_events(body)]


def check_sse_bytes(body: bytes, *, include_usage: bool = False) -> StreamResult:
    return check_payloads(decode_sse_bytes(body), include_usage=include_usage)


def check_payloads(payloads: list[str], *, include_usage: bool = False) -> StreamResult:
    assert payloads, "empty stream"
    assert payloads[-1] == "[DONE]", "the stream must end with data: [DONE]"
    assert payloads.count("[DONE]") == 1, "[DONE] must appear exactly once"
    objects = [json.loads(p) for p in payloads[:-1]]
    error = None
    if objects and "error" in objects[-1]:
        error = objects.pop()["error"]
        assert set(error) == {"message", "type", "param", "code"}, error
        assert error["message"], "an error needs a message"
    for obj in objects:
        assert "error" not in obj, "an error may only be the last event before [DONE]"
    folded = check_chunks(objects, include_usage=include_usage, complete=error is None)
    return StreamResult(objects, error, folded)


def check_chunks(
    chunks: Sequence[Mapping[str, Any]], *, include_usage: bool = False, complete: bool = True
) -> dict[str, Any]:
    """Assert every streaming rule; return the folded `chat.completion`."""
    assert chunks or not complete, "a complete stream has chunks"
    if not chunks:
        return {"choices": []}
    head = chunks[0]
    choices: dict[int, dict[str, Any]] = {}
    usage_seen = False
    for position, chunk in enumerate(chunks):
        assert chunk["object"] == "chat.completion.chunk", chunk
        for key in ("id", "created", "model"):
            assert chunk[key] == head[key], f"{key} changed mid-stream"
        assert not usage_seen, "the usage chunk must be the last chunk"
        if chunk.get("usage") is not None:
            assert include_usage, "usage chunk sent without stream_options.include_usage"
            assert chunk["choices"] == [], "the usage chunk has choices: []"
            _check_usage(chunk["usage"])
            usage_seen = True
            continue
        assert chunk["choices"], f"chunk {position} has no choices"
        for entry in chunk["choices"]:
            _check_choice_delta(choices.setdefault(entry["index"], _new_state()), entry)
    if complete:
        for index, state in choices.items():
            assert state["finished"], f"choice {index} has no finish_reason"
        if include_usage:
            assert usage_seen, "include_usage was requested but no usage chunk came"
    folded = fold(chunks)
    for choice in folded["choices"]:
        for call in choice["message"].get("tool_calls") or ():
            _complete_json(call["function"]["arguments"])
    return folded


def _new_state() -> dict[str, Any]:
    return {"role": False, "finished": False, "calls": 0, "ids": set()}


def _check_choice_delta(state: dict[str, Any], entry: dict[str, Any]) -> None:
    assert not state["finished"], "no delta may follow a choice's finish_reason"
    delta = entry["delta"]
    if not state["role"]:
        assert delta.get("role") == "assistant", "the first delta of a choice carries the role"
        state["role"] = True
    else:
        assert "role" not in delta, "role must be sent once"
    kinds = [key for key in _PAYLOAD_KEYS if delta.get(key) not in (None, "")]
    assert len(kinds) <= 1, f"one kind of payload per delta, got {kinds}"
    for call in delta.get("tool_calls") or ():
        _check_call(state, call)
    if entry.get("finish_reason") is not None:
        reason = entry["finish_reason"]
        assert reason in _FINISH_REASONS, f"unknown finish_reason {reason!r}"
        state["finished"] = True


def _check_call(state: dict[str, Any], call: dict[str, Any]) -> None:
    index = call["index"]
    assert index <= state["calls"], f"tool index {index} skips ahead of {state['calls']}"
    if index == state["calls"]:
        state["calls"] += 1
        assert call.get("id"), "a call's first delta carries its id"
        assert call["id"] not in state["ids"], "tool call ids are distinct"
        state["ids"].add(call["id"])
        assert call.get("type") == "function", "a call's first delta carries type function"
        assert call["function"].get("name"), "a call's first delta carries function.name"
        assert isinstance(call["function"].get("arguments"), str)
    else:
        assert set(call) == {"index", "function"}, f"later deltas carry only index+function: {call}"
        assert set(call["function"]) == {"arguments"}, "later deltas carry only arguments"


def _complete_json(arguments: str) -> None:
    try:
        json.loads(arguments)
    except ValueError:
        raise AssertionError(f"arguments must be complete JSON: {arguments!r}") from None


def _check_usage(usage: dict[str, Any]) -> None:
    for key in ("prompt_tokens", "completion_tokens", "total_tokens"):
        assert isinstance(usage[key], int), key
    assert usage["total_tokens"] == usage["prompt_tokens"] + usage["completion_tokens"]


def dumps(obj: Any) -> str:
    return orjson.dumps(obj).decode()
