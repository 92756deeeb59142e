"""Protocol-neutral events -> OpenAI `chat.completion.chunk` objects (sans-I/O).

The rules every chunk obeys (docs/architecture.md, "What each stream promises"): stable `id`,
`created`, `model` and `object` on every chunk; `role` once, in a choice's first delta; one kind
of payload per delta; tool-call `index` 0-based and contiguous per choice, with `id`, `type` and
`function.name` only on a call's first delta; exactly one `finish_reason` per choice; the usage
chunk (`choices: []`) last, and only when asked for.

How code-interpreter runs are shown is chosen per response; `proxy/chat/code_runs.py` renders them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import get_args

from proxy.chat.code_runs import (
    DEFAULT_FORMAT,
    CodeFormat,
    code_delta,
    code_done,
    tool_call_payload,
    uses_tool_index,
)
from proxy.chat.wire import Annotation, ChatChunk, ChunkChoice, Delta, FinishReason
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
    UsageObject,
    usage_object,
)
from proxy.core.search import citations
from proxy.core.wire import Item

# finish_reason values OpenAI clients know; anything else upstream invents is reported as "stop".
_FINISH_REASONS: dict[str, FinishReason] = {reason: reason for reason in get_args(FinishReason)}


@dataclass(slots=True, frozen=True)
class ChunkIdentity:
    """Everything the chunks of one response are made with, chosen when the exchange starts:
    what is the same on every chunk, and how the client asked to be answered. Its fields are
    what the traffic record keeps for a replay (`proxy/chat/api.py`)."""

    chunk_id: str
    created: int
    model: str
    call_id_prefix: str  # ids of code-interpreter calls: prefix + run number
    include_usage: bool = False  # a final usage chunk
    code_format: CodeFormat = DEFAULT_FORMAT  # how interpreter runs are shown


class _ChoiceState:
    __slots__ = (
        "finished",
        "next_run_index",
        "next_tool_index",
        "role_sent",
        "run_code",
        "tool_index",
    )

    def __init__(self) -> None:
        self.role_sent = False
        self.finished = False
        self.tool_index: dict[tuple[str, int], int] = {}
        self.next_tool_index = 0
        self.next_run_index = 0  # runs shown outside tool_calls number separately
        self.run_code: dict[int, str] = {}  # code each run has streamed so far


class ChatChunkEncoder:
    """Feed events, get chunk dicts; `finish()` adds the usage chunk when it was requested."""

    def __init__(self, identity: ChunkIdentity) -> None:
        self._identity = identity
        self._include_usage = identity.include_usage
        self._code_format = identity.code_format
        self._choices: dict[int, _ChoiceState] = {}
        self._usage: Usage | None = None
        # Web-search sources and, once there are some, the answer that may cite them (the
        # upstream sends sources for the first choice only).
        self._sources: list[object] = []
        self._answer: list[str] = []

    def feed(self, event: Event) -> list[Item]:
        if isinstance(event, ReasoningDelta):
            return [self._delta(event.choice, {"reasoning_content": event.text})]
        if isinstance(event, ContentDelta):
            if self._sources and event.choice == 0:
                self._answer.append(event.text)
            return [self._delta(event.choice, {"content": event.text}, logprobs=event.logprobs)]
        if isinstance(event, CodeDelta | CodeDone):
            return self._code(event)
        if isinstance(event, SearchResults):
            self._sources = event.results
            return [self._delta(event.choice, {"search_info": {"search_results": event.results}})]
        if isinstance(event, FunctionCallDelta):
            return [self._function_delta(event)]
        if isinstance(event, Finish):
            return self._finish(event)
        self._usage = event
        return []

    def finish(self) -> list[Item]:
        if not self._include_usage or self._usage is None:
            return []
        return [self._chunk([], usage=usage_object(self._usage))]

    def fail(self, error: ProxyError, usage: Usage | None) -> list[Item]:
        """An error after the first byte: one error object, as OpenAI's clients expect it (they
        get no usage then)."""
        return [error.to_body()]

    def _state(self, choice: int) -> _ChoiceState:
        state = self._choices.get(choice)
        if state is None:
            state = self._choices[choice] = _ChoiceState()
        return state

    def _chunk(self, choices: list[ChunkChoice], usage: UsageObject | None = None) -> ChatChunk:
        identity = self._identity
        chunk: ChatChunk = {
            "id": identity.chunk_id,
            "object": "chat.completion.chunk",
            "created": identity.created,
            "model": identity.model,
            "choices": choices,
        }
        if usage is not None:
            chunk["usage"] = usage
        return chunk

    def _delta(
        self,
        choice: int,
        delta: Delta,
        finish_reason: FinishReason | None = None,
        logprobs: list[object] | None = None,
    ) -> ChatChunk:
        state = self._state(choice)
        if not state.role_sent:
            state.role_sent = True
            delta = {"role": "assistant", **delta}
        entry: ChunkChoice = {
            "index": choice,
            "delta": delta,
            "logprobs": None if logprobs is None else {"content": logprobs},
            "finish_reason": finish_reason,
        }
        return self._chunk([entry])

    def _tool_index(self, state: _ChoiceState, key: tuple[str, int]) -> tuple[int, bool]:
        index = state.tool_index.get(key)
        if index is not None:
            return index, False
        if key[0] == "code" and not uses_tool_index(self._code_format):
            index = state.next_run_index
            state.next_run_index += 1
        else:
            index = state.next_tool_index
            state.next_tool_index += 1
        state.tool_index[key] = index
        return index, True

    def _code(self, event: CodeDelta | CodeDone) -> list[Item]:
        state = self._state(event.choice)
        index, _ = self._tool_index(state, ("code", event.run))
        call_id = f"{self._identity.call_id_prefix}{event.run}"
        streamed = state.run_code.get(event.run)
        if isinstance(event, CodeDelta):
            state.run_code[event.run] = (streamed or "") + event.text
            payload = code_delta(self._code_format, index, call_id, event.text, streamed is None)
        else:
            payload = code_done(self._code_format, index, call_id, streamed, event.code)
        return [] if payload is None else [self._delta(event.choice, payload)]

    def _function_delta(self, event: FunctionCallDelta) -> ChatChunk:
        state = self._state(event.choice)
        index, first = self._tool_index(state, ("function", event.key))
        call_id = event.call_id or f"call_{self._identity.chunk_id}_{index}"
        payload = tool_call_payload(index, call_id, event.name or "", event.arguments, first)
        return self._delta(event.choice, payload)

    def _finish(self, event: Finish) -> list[Item]:
        state = self._state(event.choice)
        if state.finished:
            return []
        state.finished = True
        out: list[Item] = []
        cited = self._annotations() if event.choice == 0 else []
        if cited:  # once the answer is complete: a mark may have been split between deltas
            out.append(self._delta(0, {"annotations": cited}))
        reason = _FINISH_REASONS.get(event.reason, "stop")
        delta: Delta = {} if state.role_sent else {"content": ""}
        out.append(self._delta(event.choice, delta, reason))
        return out

    def _annotations(self) -> list[Annotation]:
        """The sources the answer cites, as OpenAI's `url_citation` annotations."""
        return [
            {
                "type": "url_citation",
                "url_citation": {
                    "start_index": cited.start,
                    "end_index": cited.end,
                    "url": cited.url,
                    "title": cited.title,
                },
            }
            for cited in citations("".join(self._answer), self._sources)
        ]
