"""A strict checker of the OpenAI Responses API streaming rules (the analogue of tests/contract.py).

`check_event_bytes` takes what a client reads off the wire (named SSE events, no `[DONE]`);
`check_events` takes decoded events. Both assert every rule and return what the stream says:
the terminal Response object, the items, and the texts, codes and calls the deltas spelled out.

The rules: `response.created` first and `response.in_progress` second; `sequence_number` 0..n
without gaps; every item announced by `output_item.added` (output indexes contiguous from 0 in
order of addition, ids distinct) before any event about it, and ended by exactly one
`output_item.done` with the same id and type, after which nothing more is said about it; text
parts opened by `content_part.added` and closed by `content_part.done`; deltas concatenate to
their `.done` text, arguments or code (code only unless `rewritten_code` allows a rewrite); a
code-interpreter call goes in_progress -> code -> interpreting -> completed; exactly one
terminal event, last, whose `response.output` is the finished items in index order (a failed
response may add the items still open, marked `incomplete`).

It reads the wire with its own SSE reader (tests/sse_reader.py), not the product's decoder, and
uses no product code to check; tests/test_contract.py shows it rejects broken streams.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from tests.sse_reader import read_events

Event = Mapping[str, Any]
TERMINALS = {
    "response.completed": "completed",
    "response.incomplete": "incomplete",
    "response.failed": "failed",
}
_TEXT_FAMILIES = {
    "response.reasoning_text": ("reasoning", "reasoning_text"),
    "response.reasoning_summary_text": ("reasoning", "summary_text"),
    "response.output_text": ("message", "output_text"),
}
# A reasoning summary's part events, placed by `summary_index` instead of `content_index`.
_SUMMARY_PARTS = ("response.reasoning_summary_part.added", "response.reasoning_summary_part.done")
_CODE_STAGES = (
    "response.code_interpreter_call.in_progress",
    "response.code_interpreter_call_code.delta",
    "response.code_interpreter_call_code.done",
    "response.code_interpreter_call.interpreting",
    "response.code_interpreter_call.completed",
)
_SEARCH_STAGES = (
    "response.web_search_call.in_progress",
    "response.web_search_call.searching",
    "response.web_search_call.completed",
)


@dataclass
class _Open:
    """What the stream has said about one item so far."""

    item: Event
    index: int
    done: Event | None = None
    part_open: bool = False
    part_done: bool = False
    text: list[str] = field(default_factory=list)
    text_done: str | None = None
    stage: int = -1  # position in _CODE_STAGES / _SEARCH_STAGES reached
    code_done: str | None = None
    arguments: list[str] = field(default_factory=list)
    arguments_done: str | None = None
    part_type: str | None = None  # reasoning_text, summary_text or output_text
    annotations: list[Event] = field(default_factory=list)


@dataclass
class ResponsesResult:
    events: list[Event]
    response: Event  # the terminal event's Response object

    @property
    def status(self) -> str:
        return str(self.response["status"])

    @property
    def output(self) -> list[Event]:
        return list(self.response["output"])

    def items(self, kind: str) -> list[Event]:
        return [item for item in self.output if item["type"] == kind]

    @property
    def types(self) -> list[str]:
        return [event["type"] for event in self.events]

    @property
    def text(self) -> str:
        """The answer: every output_text part of every message item."""
        return "".join(
            part["text"]
            for item in self.items("message")
            for part in item["content"]
            if part["type"] == "output_text"
        )

    @property
    def reasoning(self) -> str:
        """The thinking, whether shown as content or as a summary."""
        return "".join(
            part["text"]
            for item in self.items("reasoning")
            for part in [*item["content"], *item["summary"]]
        )

    @property
    def codes(self) -> list[str]:
        return [item["code"] for item in self.items("code_interpreter_call")]

    @property
    def calls(self) -> list[tuple[str, Any]]:
        """(name, parsed arguments) of every function call."""
        return [(c["name"], json.loads(c["arguments"])) for c in self.items("function_call")]


def decode_event_bytes(body: bytes) -> list[Event]:
    """The events of a Responses stream as the wire carries them: each an `event:` line naming
    the type, then one `data:` line of JSON whose `type` says the same; comments allowed."""
    assert body.endswith(b"\n\n"), "the last event must end with a blank line"
    assert b"[DONE]" not in body, "a Responses stream has no [DONE] sentinel"
    for line in body.split(b"\n"):
        if line and not line.startswith(b":"):
            assert line.startswith((b"event: ", b"data: ")), f"unexpected line {line!r}"
    events: list[Event] = []
    for sse in read_events(body):
        data = json.loads(sse.data)
        assert isinstance(data, dict), sse.data
        assert sse.event == data["type"], f"event: {sse.event} but type {data['type']}"
        events.append(data)
    return events


def check_event_bytes(
    body: bytes, *, rewritten_code: bool = False, garbage_in: bool = False
) -> ResponsesResult:
    return check_events(
        decode_event_bytes(body), rewritten_code=rewritten_code, garbage_in=garbage_in
    )


def check_events(
    events: Sequence[Event], *, rewritten_code: bool = False, garbage_in: bool = False
) -> ResponsesResult:
    """Assert every rule of a whole Responses event stream; return what it says.

    `garbage_in`: the upstream sent nonsense (calls without a name, arguments that are not
    JSON); only the stream's structure is checked, not whether the calls make sense."""
    assert len(events) >= 3, f"too short for a response: {[e.get('type') for e in events]}"
    assert events[0]["type"] == "response.created", "response.created comes first"
    assert events[1]["type"] == "response.in_progress", "response.in_progress comes second"
    for position, event in enumerate(events):
        assert event["sequence_number"] == position, f"sequence_number of event {position}"
    head = events[0]["response"]
    for event in events[:2]:
        assert event["response"]["status"] == "in_progress"
        assert event["response"]["output"] == []
        assert event["response"]["object"] == "response"
    items: list[_Open] = []
    by_id: dict[str, _Open] = {}
    for event in events[2:-1]:
        assert event["type"] not in TERMINALS, "the terminal event must be the last"
        assert event["type"] not in ("response.created", "response.in_progress"), "said twice"
        _item_event(event, items, by_id, rewritten_code, garbage_in)
    terminal = events[-1]
    assert terminal["type"] in TERMINALS, f"the last event is {terminal['type']}, not terminal"
    response = terminal["response"]
    for key in ("id", "object", "created_at", "model"):
        assert response[key] == head[key], f"response.{key} changed mid-stream"
    _check_terminal(terminal["type"], response, items, garbage_in)
    return ResponsesResult(list(events), response)


def _item_event(
    event: Event, items: list[_Open], by_id: dict[str, _Open], rewritten: bool, garbage_in: bool
) -> None:
    kind = event["type"]
    if kind == "response.output_item.added":
        item = event["item"]
        assert event["output_index"] == len(items), "output indexes are contiguous, in order"
        assert item["id"] not in by_id, f"item id {item['id']} reused"
        assert item["status"] == "in_progress", "an item starts in_progress"
        state = by_id[item["id"]] = _Open(item, event["output_index"])
        items.append(state)
        if item["type"] in ("reasoning", "message"):
            assert item["content"] == [], "text arrives through parts, not in the added item"
            assert item.get("summary", []) == [], "a summary arrives through parts too"
        if item["type"] == "function_call":
            assert item["arguments"] == "", "arguments arrive through deltas"
            assert item["call_id"], "a call is added with its call_id"
            assert item["name"] or garbage_in, "a call is added with its name"
        return
    index = event["output_index"]
    assert 0 <= index < len(items), f"{kind} for output index {index} before its item was added"
    state = items[index]
    if "item_id" in event or kind != "response.output_item.done":
        assert event["item_id"] == state.item["id"], f"{kind}: item_id does not match its index"
    assert state.done is None, f"{kind} after the item's output_item.done"
    item_type = state.item["type"]
    if kind == "response.output_item.done":
        _item_done(event["item"], state, garbage_in)
        state.done = event["item"]
    elif kind.startswith("response.content_part.") or kind in _SUMMARY_PARTS:
        _content_part(kind, event, state)
    elif kind == "response.output_text.annotation.added":
        assert item_type == "message", f"{kind} on a {item_type} item"
        assert state.part_open, f"{kind} outside the open text"
        assert state.text_done is None, f"{kind} after the text was done"
        assert event["content_index"] == 0
        assert event["annotation_index"] == len(state.annotations), "annotations in order"
        state.annotations.append(event["annotation"])
    elif kind.rsplit(".", 1)[0] in _TEXT_FAMILIES:
        family, suffix = kind.rsplit(".", 1)
        expected_type, part_type = _TEXT_FAMILIES[family]
        assert item_type == expected_type, f"{kind} on a {item_type} item"
        assert state.part_type == part_type, f"{kind} in a {state.part_type} part"
        assert event["summary_index" if part_type == "summary_text" else "content_index"] == 0
        assert state.part_open, f"{kind} outside an open part"
        assert not state.part_done, f"{kind} after its part was done"
        assert state.text_done is None, f"{kind} after the text's .done"
        if suffix == "delta":
            assert isinstance(event["delta"], str)
            state.text.append(event["delta"])
        else:
            assert suffix == "done", kind
            assert event["text"] == "".join(state.text), "text deltas concatenate to .done"
            state.text_done = event["text"]
    elif kind in _CODE_STAGES:
        assert item_type == "code_interpreter_call", f"{kind} on a {item_type} item"
        stage = _CODE_STAGES.index(kind)
        repeatable = stage == 1 and state.stage in (0, 1)
        assert stage > state.stage or repeatable, f"{kind} out of order"
        assert state.stage >= stage - 1 or (stage == 2 and state.stage == 0), f"{kind} skips"
        if stage == 1:
            state.text.append(event["delta"])
        if stage == 2:
            state.code_done = event["code"]
            streamed = "".join(state.text)
            assert rewritten or event["code"] == streamed, "code deltas concatenate to code.done"
        state.stage = stage
    elif kind in _SEARCH_STAGES:
        assert item_type == "web_search_call", f"{kind} on a {item_type} item"
        stage = _SEARCH_STAGES.index(kind)
        assert stage == state.stage + 1, f"{kind} out of order"
        state.stage = stage
    elif kind.startswith("response.function_call_arguments."):
        assert item_type == "function_call", f"{kind} on a {item_type} item"
        assert state.arguments_done is None, f"{kind} after the arguments' .done"
        if kind.endswith(".delta"):
            state.arguments.append(event["delta"])
        else:
            assert event["arguments"] == "".join(state.arguments), "argument deltas concatenate"
            assert event["name"] == state.item["name"]
            state.arguments_done = event["arguments"]
    else:
        raise AssertionError(f"unknown event type {kind}")


def _content_part(kind: str, event: Event, state: _Open) -> None:
    item_type = state.item["type"]
    assert item_type in ("reasoning", "message"), f"{kind} on a {item_type} item"
    if kind in _SUMMARY_PARTS:
        assert item_type == "reasoning", f"{kind} on a {item_type} item"
        assert event["summary_index"] == 0, "one summary part per reasoning item"
        part_type = "summary_text"
    else:
        assert event["content_index"] == 0, "one part per text item"
        part_type = "reasoning_text" if item_type == "reasoning" else "output_text"
    assert event["part"]["type"] == part_type
    if kind.endswith(".added"):
        assert not state.part_open, "the part was added twice"
        assert event["part"]["text"] == ""
        state.part_open = True
        state.part_type = part_type
    else:
        assert kind.endswith(".done"), kind
        assert state.part_open, "part done before it was added"
        assert not state.part_done, "part done twice"
        assert state.text_done is not None, "the text's .done comes before content_part.done"
        assert event["part"]["text"] == state.text_done
        assert event["part"]["type"] == state.part_type, "a part is done as it was added"
        if part_type == "output_text":
            assert event["part"]["annotations"] == state.annotations
        state.part_done = True


def _item_done(item: Event, state: _Open, garbage_in: bool) -> None:
    added = state.item
    assert (item["id"], item["type"]) == (added["id"], added["type"]), "item identity changed"
    assert item["status"] == "completed", f"an item is done as completed, got {item['status']}"
    kind = item["type"]
    if kind in ("reasoning", "message"):
        assert state.part_done, "output_item.done of a text item before its content_part.done"
        summary = state.part_type == "summary_text"
        (part,) = item["summary"] if summary else item["content"]
        assert part == {"type": state.part_type, "text": state.text_done} or kind == "message"
        assert part["text"] == state.text_done
        if kind == "reasoning":
            assert (item["content"] if summary else item["summary"]) == [], "text shown once"
        if kind == "message":
            assert item["role"] == "assistant"
            assert part["annotations"] == state.annotations
    elif kind == "code_interpreter_call":
        assert state.stage == len(_CODE_STAGES) - 1, "the run must be completed before it is done"
        assert item["code"] == state.code_done
        assert item["outputs"] is None, "DashScope returns no outputs: null, not []"
        assert item["container_id"]
    elif kind == "function_call":
        assert state.arguments_done is not None, "function_call_arguments.done comes first"
        assert item["arguments"] == state.arguments_done
        assert (item["call_id"], item["name"]) == (added["call_id"], added["name"])
        if not garbage_in:
            _complete_json(item["arguments"])
    elif kind == "web_search_call":
        assert state.stage == len(_SEARCH_STAGES) - 1
    else:
        raise AssertionError(f"unknown item type {kind}")


def _complete_json(arguments: str) -> None:
    try:
        json.loads(arguments)
    except ValueError:
        raise AssertionError(f"arguments are not complete JSON: {arguments!r}") from None


def _check_terminal(kind: str, response: Event, items: list[_Open], garbage_in: bool) -> None:
    status = TERMINALS[kind]
    assert response["status"] == status, f"{kind} with status {response['status']}"
    expected = []
    for state in items:
        if state.done is not None:
            expected.append(state.done)
            continue
        assert status == "failed", f"item {state.item['id']} never done before {kind}"
        open_item = response["output"][len(expected)]
        assert (open_item["id"], open_item["type"]) == (state.item["id"], state.item["type"])
        assert open_item["status"] == "incomplete", "an item cut short is incomplete"
        expected.append(open_item)
    assert response["output"] == expected, "terminal output = the done items, in index order"
    if status == "failed":
        error = response["error"]
        assert set(error) == {"code", "message"}, error
        assert error["code"], "a failure names its code"
        assert error["message"], "a failure says what happened"
    else:
        assert response["error"] is None
    details = response["incomplete_details"]
    if status == "incomplete":
        assert details["reason"] in ("max_output_tokens", "content_filter"), details
    else:
        assert details is None
    usage = response["usage"]
    if usage is not None:
        assert usage["total_tokens"] == usage["input_tokens"] + usage["output_tokens"]
        reasoning = usage["output_tokens_details"]["reasoning_tokens"]
        assert 0 <= reasoning <= usage["output_tokens"] or garbage_in, usage
        assert usage["input_tokens_details"]["cached_tokens"] >= 0
    elif status != "failed" and not garbage_in:  # an upstream may not count at all
        raise AssertionError("a finished response carries usage")
