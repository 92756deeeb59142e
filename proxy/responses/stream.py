"""Protocol-neutral events -> OpenAI Responses API stream events (sans-I/O).

The rules every stream obeys: `response.created` then `response.in_progress` first; each output
item announced by `response.output_item.added` and ended by `response.output_item.done` with
its final content; `sequence_number` increasing from 0; exactly one terminal event
(`response.completed`, `response.incomplete` or `response.failed`) carrying the whole response.

Items: thinking becomes a `reasoning` item with `reasoning_text` content (the full thinking:
DashScope streams the thinking itself), or with it as the item's summary when the request asked
for one (`proxy/responses/text_events.py`), sealed into `encrypted_content` when `include` asks;
each code-interpreter run a `code_interpreter_call` item, its code streamed as it grows and
`outputs` null because DashScope does not return them; web-search sources a `web_search_call`
item; model-requested functions `function_call` items; the answer a `message` item with one
`output_text` part, annotated with the sources its citation marks name. A text item
closes when another item starts, so items never interleave, except function calls, which stay
open until the choice finishes (their arguments may stream in parallel).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TypedDict, Unpack

from proxy.core.errors import ProxyError, UpstreamError
from proxy.core.events import (
    CodeDelta,
    CodeDone,
    ContentDelta,
    Event,
    FunctionCallDelta,
    ReasoningDelta,
    SearchResults,
    Usage,
)
from proxy.core.plan import Sealer
from proxy.core.wire import Item
from proxy.responses.items import (
    CallItem,
    EventFields,
    EventType,
    IncompleteDetails,
    OutputItem,
    ResponseCore,
    ResponseError,
    ResponseErrorCode,
    ResponseObject,
    ResponseStatus,
    ResponseUsage,
    RunItem,
    SearchSource,
    Status,
    StreamEvent,
    TextItem,
    TextKind,
    function_call_item,
    message_item,
    reasoning_item,
    response_usage,
    web_search_item,
)
from proxy.responses.request import ResponseEcho
from proxy.responses.text_events import at, events_of, url_citations, wants_summary

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
    echo: ResponseEcho = field(default_factory=dict)
    # `include` asked for `web_search_call.action.sources`.
    include_sources: bool = False


class ResponsesEventEncoder:
    """Feed events, get Responses stream events; `finish()` ends the response."""

    def __init__(self, identity: ResponseIdentity, sealer: Sealer | None = None) -> None:
        self._identity = identity
        self._sealer = sealer  # seals the thinking into `encrypted_content`, when asked
        self._summary = wants_summary(identity.echo)
        self._sources: list[object] = []  # the search's, which the answer may cite
        self._sequence = 0
        self._started = False
        self._output: dict[int, OutputItem] = {}  # finished items by output index
        self._text: TextItem | None = None
        self._runs: dict[int, RunItem] = {}  # by the upstream's run number
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
        else:  # a Finish, the one kind of event left
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
            details: IncompleteDetails = {"reason": incomplete}
            out.append(self._terminal("response.incomplete", "incomplete", details=details))
        return out

    def fail(self, error: ProxyError, usage: Usage | None) -> list[Item]:
        """The terminal event of an answer cut short: what was made so far, why it ended, and
        the tokens spent so far (`usage`, when the upstream had reported any)."""
        out = self._start()
        self._usage = self._usage or usage
        out.append(self._terminal("response.failed", "failed", error=response_error(error)))
        return out

    # ---- items ---------------------------------------------------------------------------

    def _text_delta(self, event: ReasoningDelta | ContentDelta, out: list[Item]) -> None:
        kind: TextKind = "reasoning" if isinstance(event, ReasoningDelta) else "message"
        text = self._text
        if text is None or text.kind != kind:
            # Only the text closes: function calls stay open until the choice finishes (see
            # the module docstring). Closing them here split a call whose arguments resumed
            # after a text piece into two items, the second nameless, neither valid JSON.
            self._close_text(out)
            text = self._open_text(kind, out)
        text.parts.append(event.text)
        delta = events_of(text).delta
        if isinstance(event, ReasoningDelta):
            out.append(self._event(delta, **at(text), delta=event.text))
            return
        logprobs = event.logprobs or []
        text.logprobs.extend(logprobs)
        out.append(self._event(delta, **at(text), delta=event.text, logprobs=logprobs))

    def _open_text(self, kind: TextKind, out: list[Item]) -> TextItem:
        index = self._take_index()
        prefix = "rs" if kind == "reasoning" else "msg"
        text = TextItem(kind, index, self._item_id(prefix, index), summary=self._summary)
        self._text = text
        item: OutputItem
        if kind == "reasoning":
            item = reasoning_item(text.id, "in_progress", [])
        else:
            item = message_item(text.id, "in_progress", [])
        out.append(self._event("response.output_item.added", output_index=index, item=item))
        out.append(self._event(events_of(text).part_added, **at(text), part=text.part("")))
        return text

    def _close_text(self, out: list[Item]) -> None:
        text, self._text = self._text, None
        if text is None:
            return
        full = "".join(text.parts)
        names, where = events_of(text), at(text)
        if text.kind == "reasoning":
            if self._sealer is not None:
                text.sealed = self._sealer.seal(full)
            out.append(self._event(names.done, **where, text=full))
        else:
            self._annotate(text, full, out)
            logprobs = list(text.logprobs)
            out.append(self._event(names.done, **where, text=full, logprobs=logprobs))
        out.append(self._event(names.part_done, **where, part=text.part(full)))
        self._done(text.index, text.item("completed"), out)

    def _annotate(self, text: TextItem, full: str, out: list[Item]) -> None:
        """The search sources the answer cites, once its text is complete."""
        if not self._sources:
            return
        text.annotations = url_citations(full, self._sources)
        for number, annotation in enumerate(text.annotations):
            out.append(
                self._event(
                    "response.output_text.annotation.added",
                    **at(text),
                    annotation_index=number,
                    annotation=annotation,
                )
            )

    def _code(self, event: CodeDelta | CodeDone, out: list[Item]) -> None:
        run = self._runs.get(event.run)
        if run is None:
            self._close_all(out)
            index = self._take_index()
            run = self._runs[event.run] = RunItem(index, self._item_id("ci", index))
            added = run.item("in_progress")
            out.append(self._event("response.output_item.added", output_index=index, item=added))
            out.append(self._on_run("response.code_interpreter_call.in_progress", run))
        if isinstance(event, CodeDelta):
            run.code.append(event.text)
            out.append(
                self._on_run("response.code_interpreter_call_code.delta", run, delta=event.text)
            )
            return
        out.append(self._on_run("response.code_interpreter_call_code.done", run, code=event.code))
        out.append(self._on_run("response.code_interpreter_call.interpreting", run))
        out.append(self._on_run("response.code_interpreter_call.completed", run))
        self._done(run.index, run.item("completed", event.code), out)

    def _on_run(self, kind: EventType, run: RunItem, **fields: Unpack[_RunFields]) -> StreamEvent:
        return self._event(kind, item_id=run.id, output_index=run.index, **fields)

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
        self._sources = event.results
        sources: list[SearchSource] | None = None
        if self._identity.include_sources:
            sources = [
                {"type": "url", "url": r["url"]}
                for r in event.results
                if isinstance(r, dict) and isinstance(r.get("url"), str)
            ]
        added = web_search_item(item_id, "in_progress", sources)
        out.append(self._event("response.output_item.added", output_index=index, item=added))
        for stage in _SEARCH_STAGES:
            out.append(self._event(stage, item_id=item_id, output_index=index))
        self._done(index, web_search_item(item_id, "completed", sources), out)

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

    def _terminal(
        self,
        kind: EventType,
        status: ResponseStatus,
        *,
        details: IncompleteDetails | None = None,
        error: ResponseError | None = None,
    ) -> StreamEvent:
        output = dict(self._output)
        if error is not None:  # a failure: what was still open is incomplete
            output.update(self._open_items("incomplete"))
        items = [output[index] for index in sorted(output)]
        usage = None if self._usage is None else response_usage(self._usage)
        response = self._response(status, items, usage=usage, details=details, error=error)
        return self._event(kind, response=response)

    def _open_items(self, status: Status) -> dict[int, OutputItem]:
        """The items still open, as they stand, by output index."""
        items: dict[int, OutputItem] = {}
        for run in self._runs.values():  # a settled run's finished item stays
            items[run.index] = self._output.get(run.index) or run.item(status)
        for call in self._calls.values():
            items[call.index] = call.item(status)
        if self._text is not None:
            items[self._text.index] = self._text.item(status)
        return items

    def _response(
        self,
        status: ResponseStatus,
        output: list[OutputItem],
        *,
        usage: ResponseUsage | None = None,
        details: IncompleteDetails | None = None,
        error: ResponseError | None = None,
    ) -> ResponseObject:
        identity = self._identity
        core: ResponseCore = {
            "id": identity.response_id,
            "object": "response",
            "created_at": identity.created,
            "status": status,
            "error": error,
            "incomplete_details": details,
            "model": identity.model,
            "output": output,
            "usage": usage,
        }
        return {**core, **identity.echo}

    def _done(self, index: int, item: OutputItem, out: list[Item]) -> None:
        self._output[index] = item
        out.append(self._event("response.output_item.done", output_index=index, item=item))

    def _event(self, kind: EventType, **fields: Unpack[EventFields]) -> StreamEvent:
        event: StreamEvent = {"type": kind, "sequence_number": self._sequence, **fields}
        self._sequence += 1
        return event

    def _take_index(self) -> int:
        index, self._next_index = self._next_index, self._next_index + 1
        return index

    def _item_id(self, prefix: str, index: int) -> str:
        return f"{prefix}_{self._identity.item_prefix}_{index}"


def response_error(error: ProxyError) -> ResponseError:
    """`response.error` for a failure: `code` from OpenAI's fixed list (its schema allows no
    other), the code DashScope or the proxy gave in the message, where a person can read it."""
    code: ResponseErrorCode = "invalid_prompt"  # a 4xx mid-answer: moderation, in practice
    if error.status == 429:
        code = "rate_limit_exceeded"
    elif error.status >= 500:
        code = "server_error"
    if error.code is None:
        return {"code": code, "message": error.message}
    whose = "DashScope code" if isinstance(error, UpstreamError) else "code"
    return {"code": code, "message": f"{error.message} ({whose}: {error.code})"}


_SEARCH_STAGES: tuple[EventType, ...] = (
    "response.web_search_call.in_progress",
    "response.web_search_call.searching",
    "response.web_search_call.completed",
)


class _RunFields(TypedDict, total=False):
    delta: str
    code: str
