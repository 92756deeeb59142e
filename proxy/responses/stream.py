"""Protocol-neutral events -> OpenAI Responses API stream events (sans-I/O).

The rules every stream obeys: `response.created` then `response.in_progress` first; each output
item announced by `response.output_item.added` and ended by `response.output_item.done` with
its final content; `sequence_number` increasing from 0; exactly one terminal event
(`response.completed`, `response.incomplete` or `response.failed`) carrying the whole response.

Items: thinking becomes a `reasoning` item with `reasoning_text` content (the full thinking, not
a summary: DashScope streams the thinking itself); each code-interpreter run a
`code_interpreter_call` item, its code streamed as it grows and `outputs` null because DashScope
does not return them; web-search sources a `web_search_call` item; model-requested functions
`function_call` items; the answer a `message` item with one `output_text` part. A text item
closes when another item starts, so items never interleave, except function calls, which stay
open until the choice finishes (their arguments may stream in parallel).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from proxy.core.errors import ProxyError
from proxy.core.events import (
    CodeDelta,
    CodeDone,
    ContentDelta,
    Event,
    Finish,
    FunctionCallDelta,
    ReasoningDelta,
    SearchResults,
    Usage,
)
from proxy.core.wire import Item
from proxy.responses.items import (
    CallItem,
    TextItem,
    code_call_item,
    function_call_item,
    message_item,
    response_usage,
)

_INCOMPLETE = {"length": "max_output_tokens", "content_filter": "content_filter"}


@dataclass(frozen=True, slots=True)
class ResponseIdentity:
    """What is the same on every event of one response, chosen when the exchange starts. Its
    fields are what the traffic record keeps for a replay (`proxy/responses/api.py`)."""

    response_id: str
    created: int  # the Response object's `created_at`
    model: str
    item_prefix: str  # output item ids: a type prefix, this, and the item's number
    # Request fields the Response object repeats (instructions, tools, temperature, ...).
    echo: dict[str, Any] = field(default_factory=dict)


class ResponsesEventEncoder:
    """Feed events, get Responses stream events; `finish()` ends the response."""

    def __init__(self, identity: ResponseIdentity) -> None:
        self._identity = identity
        self._sequence = 0
        self._started = False
        self._output: dict[int, Item] = {}  # finished items by output index
        self._text: TextItem | None = None
        self._runs: dict[int, tuple[int, str, list[str]]] = {}  # run -> index, id, code so far
        self._calls: dict[int, CallItem] = {}  # upstream call key -> open call
        self._next_index = 0
        self._reason: str | None = None
        self._usage: Usage | None = None

    def feed(self, event: Event) -> list[Item]:
        out = self._start()
        if isinstance(event, Usage):
            self._usage = event
        elif event.choice != 0:
            pass  # the Responses API has one answer; `n` is not one of its fields
        elif isinstance(event, ReasoningDelta | ContentDelta):
            self._text_delta(event, out)
        elif isinstance(event, CodeDelta | CodeDone):
            self._code(event, out)
        elif isinstance(event, FunctionCallDelta):
            self._call_delta(event, out)
        elif isinstance(event, SearchResults):
            self._search(event, out)
        elif isinstance(event, Finish):
            self._close_all(out)
            self._reason = self._reason or event.reason
        return out

    def finish(self) -> list[Item]:
        """The closing events of a complete answer."""
        out = self._start()
        self._close_all(out)
        incomplete = _INCOMPLETE.get(self._reason or "stop")
        if incomplete is None:
            out.append(self._terminal("response.completed", "completed"))
        else:
            out.append(
                self._terminal(
                    "response.incomplete", "incomplete", incomplete_details={"reason": incomplete}
                )
            )
        return out

    def fail(self, error: ProxyError, usage: Usage | None) -> list[Item]:
        """The terminal event of an answer cut short: what was made so far, why it ended, and
        the tokens spent so far (`usage`, when the upstream had reported any)."""
        out = self._start()
        self._usage = self._usage or usage
        failure = {"code": error.code or error.type, "message": error.message}
        out.append(self._terminal("response.failed", "failed", error=failure, open_as="incomplete"))
        return out

    # ---- items ---------------------------------------------------------------------------

    def _text_delta(self, event: ReasoningDelta | ContentDelta, out: list[Item]) -> None:
        kind = "reasoning" if isinstance(event, ReasoningDelta) else "message"
        text = self._text
        if text is None or text.kind != kind:
            # Only the text closes: function calls stay open until the choice finishes (see
            # the module docstring). Closing them here split a call whose arguments resumed
            # after a text piece into two items, the second nameless, neither valid JSON.
            self._close_text(out)
            text = self._open_text(kind, out)
        text.parts.append(event.text)
        if kind == "reasoning":
            out.append(self._event("response.reasoning_text.delta", **_at(text), delta=event.text))
            return
        logprobs = getattr(event, "logprobs", None) or []
        text.logprobs.extend(logprobs)
        out.append(
            self._event(
                "response.output_text.delta", **_at(text), delta=event.text, logprobs=logprobs
            )
        )

    def _open_text(self, kind: str, out: list[Item]) -> TextItem:
        index = self._take_index()
        prefix = "rs" if kind == "reasoning" else "msg"
        text = self._text = TextItem(kind, index, self._item_id(prefix, index))
        if kind == "reasoning":
            item: Item = {
                "id": text.id,
                "type": "reasoning",
                "summary": [],
                "content": [],
                "status": "in_progress",
            }
        else:
            item = message_item(text.id, "in_progress", [])
        out.append(self._event("response.output_item.added", output_index=index, item=item))
        out.append(self._event("response.content_part.added", **_at(text), part=text.part("")))
        return text

    def _close_text(self, out: list[Item]) -> None:
        text, self._text = self._text, None
        if text is None:
            return
        full = "".join(text.parts)
        if text.kind == "reasoning":
            out.append(self._event("response.reasoning_text.done", **_at(text), text=full))
        else:
            out.append(
                self._event(
                    "response.output_text.done",
                    **_at(text),
                    text=full,
                    logprobs=text.part("")["logprobs"],
                )
            )
        out.append(self._event("response.content_part.done", **_at(text), part=text.part(full)))
        self._done(text.index, text.item("completed"), out)

    def _code(self, event: CodeDelta | CodeDone, out: list[Item]) -> None:
        run = self._runs.get(event.run)
        if run is None:
            self._close_all(out)
            index = self._take_index()
            run = self._runs[event.run] = (index, self._item_id("ci", index), [])
            item = code_call_item(run[1], "", "in_progress")
            out.append(self._event("response.output_item.added", output_index=index, item=item))
            out.append(self._on_call("response.code_interpreter_call.in_progress", run))
        index, item_id, code = run
        if isinstance(event, CodeDelta):
            code.append(event.text)
            out.append(self._on_call("response.code_interpreter_call_code.delta", run, event.text))
            return
        out.append(self._on_call("response.code_interpreter_call_code.done", run, code=event.code))
        out.append(self._on_call("response.code_interpreter_call.interpreting", run))
        out.append(self._on_call("response.code_interpreter_call.completed", run))
        self._done(index, code_call_item(item_id, event.code, "completed"), out)

    def _on_call(
        self, kind: str, run: tuple[int, str, list[str]], delta: str | None = None, **fields: Any
    ) -> Item:
        if delta is not None:
            fields["delta"] = delta
        return self._event(kind, item_id=run[1], output_index=run[0], **fields)

    def _call_delta(self, event: FunctionCallDelta, out: list[Item]) -> None:
        call = self._calls.get(event.key)
        if call is None:
            self._close_text(out)
            index = self._take_index()
            call_id = event.call_id or f"call_{self._identity.item_prefix}_{index}"
            call = self._calls[event.key] = CallItem(
                index, self._item_id("fc", index), call_id, event.name or ""
            )
            added = function_call_item(call, "", "in_progress")
            out.append(self._event("response.output_item.added", output_index=index, item=added))
        if event.arguments:
            call.arguments.append(event.arguments)
            out.append(
                self._event(
                    "response.function_call_arguments.delta",
                    item_id=call.id,
                    output_index=call.index,
                    delta=event.arguments,
                )
            )

    def _close_calls(self, out: list[Item]) -> None:
        calls, self._calls = self._calls, {}
        for call in calls.values():
            out.append(
                self._event(
                    "response.function_call_arguments.done",
                    item_id=call.id,
                    output_index=call.index,
                    name=call.name,
                    arguments="".join(call.arguments),
                )
            )
            self._done(call.index, call.item("completed"), out)

    def _search(self, event: SearchResults, out: list[Item]) -> None:
        self._close_all(out)
        index = self._take_index()
        item_id = self._item_id("ws", index)
        sources = [
            {"type": "url", "url": r["url"]}
            for r in event.results
            if isinstance(r, dict) and isinstance(r.get("url"), str)
        ]
        action = {"type": "search", "query": "", "sources": sources}
        item = {"id": item_id, "type": "web_search_call", "status": "in_progress", "action": action}
        at = {"item_id": item_id, "output_index": index}
        out.append(self._event("response.output_item.added", output_index=index, item=item))
        for stage in ("in_progress", "searching", "completed"):
            out.append(self._event(f"response.web_search_call.{stage}", **at))
        self._done(index, {**item, "status": "completed"}, out)

    def _close_all(self, out: list[Item]) -> None:
        self._close_text(out)
        self._close_calls(out)

    # ---- envelope ------------------------------------------------------------------------

    def _start(self) -> list[Item]:
        if self._started:
            return []
        self._started = True
        response = self._response("in_progress", [])
        return [
            self._event("response.created", response=response),
            self._event("response.in_progress", response=response),
        ]

    def _terminal(self, kind: str, status: str, open_as: str = "", **fields: Any) -> Item:
        output = dict(self._output)
        if open_as:  # what was still open when the answer was cut short
            if self._text is not None:
                output[self._text.index] = self._text.item(open_as)
            for call in self._calls.values():
                output[call.index] = call.item(open_as)
            for index, item_id, code in self._runs.values():
                output.setdefault(index, code_call_item(item_id, "".join(code), open_as))
        usage = None if self._usage is None else response_usage(self._usage)
        items = [output[index] for index in sorted(output)]
        return self._event(kind, response=self._response(status, items, usage=usage, **fields))

    def _response(self, status: str, output: list[Item], **fields: Any) -> Item:
        identity = self._identity
        return {
            "id": identity.response_id,
            "object": "response",
            "created_at": identity.created,
            "status": status,
            "error": None,
            "incomplete_details": None,
            "model": identity.model,
            "output": output,
            "usage": None,
            **identity.echo,
            **fields,
        }

    def _done(self, index: int, item: Item, out: list[Item]) -> None:
        self._output[index] = item
        out.append(self._event("response.output_item.done", output_index=index, item=item))

    def _event(self, kind: str, **fields: Any) -> Item:
        event = {"type": kind, "sequence_number": self._sequence, **fields}
        self._sequence += 1
        return event

    def _take_index(self) -> int:
        index, self._next_index = self._next_index, self._next_index + 1
        return index

    def _item_id(self, prefix: str, index: int) -> str:
        return f"{prefix}_{self._identity.item_prefix}_{index}"


def _at(text: TextItem) -> Item:
    return {"item_id": text.id, "output_index": text.index, "content_index": 0}
