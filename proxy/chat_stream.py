"""Protocol-neutral events -> OpenAI `chat.completion.chunk` objects (sans-I/O).

The rules every chunk obeys (shared/reference/openai-contract.md §9): stable `id`, `created`,
`model` and `object` on every chunk; `role` once, in a choice's first delta; one kind of payload
per delta; tool-call `index` 0-based and contiguous per choice, with `id`, `type` and
`function.name` only on a call's first delta; exactly one `finish_reason` per choice; the usage
chunk (`choices: []`) last, and only when asked for.

A code-interpreter run becomes a `code_interpreter` function call whose arguments concatenate to
`{"code": "<final code>"}`. The code is streamed as it grows, so the call appears as soon as its
code is known; the closing `"}` follows when the run is settled.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import orjson

from proxy.events import (
    CodeDelta,
    CodeDone,
    ContentDelta,
    Event,
    Finish,
    FunctionCallDelta,
    ReasoningDelta,
    Usage,
)

CODE_INTERPRETER_TOOL = "code_interpreter"
_ARGS_OPEN = '{"code": "'
_ARGS_CLOSE = '"}'
# finish_reason values OpenAI clients know; anything else upstream invents is reported as "stop".
_FINISH_REASONS = frozenset({"stop", "length", "tool_calls", "content_filter", "function_call"})


def escape_json_text(text: str) -> str:
    """`text` escaped for the inside of a JSON string. Escaping is per character, so the escapes
    of consecutive pieces concatenate to the escape of the whole."""
    return orjson.dumps(text).decode()[1:-1]


@dataclass(slots=True, frozen=True)
class ChunkIdentity:
    """Everything that is the same on every chunk of one response, chosen by the I/O shell."""

    id: str
    created: int
    model: str
    call_id_prefix: str  # ids of code-interpreter calls: prefix + run number


class _ChoiceState:
    __slots__ = ("finished", "next_tool_index", "role_sent", "run_code", "tool_index")

    def __init__(self) -> None:
        self.role_sent = False
        self.finished = False
        self.tool_index: dict[tuple[str, int], int] = {}
        self.next_tool_index = 0
        self.run_code: dict[int, str] = {}  # code each run's arguments have streamed so far


class ChatChunkEncoder:
    """Feed events, get chunk dicts; `finish()` adds the usage chunk when it was requested."""

    def __init__(self, identity: ChunkIdentity, *, include_usage: bool) -> None:
        self._identity = identity
        self._include_usage = include_usage
        self._choices: dict[int, _ChoiceState] = {}
        self._usage: Usage | None = None

    @property
    def usage(self) -> Usage | None:
        return self._usage

    def feed(self, event: Event) -> list[dict[str, Any]]:
        if isinstance(event, ReasoningDelta):
            return [self._delta(event.choice, {"reasoning_content": event.text})]
        if isinstance(event, ContentDelta):
            return [self._delta(event.choice, {"content": event.text})]
        if isinstance(event, CodeDelta):
            return [self._code_delta(event)]
        if isinstance(event, CodeDone):
            return self._code_done(event)
        if isinstance(event, FunctionCallDelta):
            return [self._function_delta(event)]
        if isinstance(event, Finish):
            return self._finish(event)
        self._usage = event
        return []

    def finish(self) -> list[dict[str, Any]]:
        if not self._include_usage or self._usage is None:
            return []
        return [self._chunk([], usage=usage_object(self._usage))]

    def _state(self, choice: int) -> _ChoiceState:
        state = self._choices.get(choice)
        if state is None:
            state = self._choices[choice] = _ChoiceState()
        return state

    def _chunk(self, choices: list[dict[str, Any]], usage: Any = None) -> dict[str, Any]:
        identity = self._identity
        chunk: dict[str, Any] = {
            "id": identity.id,
            "object": "chat.completion.chunk",
            "created": identity.created,
            "model": identity.model,
            "choices": choices,
        }
        if usage is not None:
            chunk["usage"] = usage
        return chunk

    def _delta(
        self, choice: int, delta: dict[str, Any], finish_reason: str | None = None
    ) -> dict[str, Any]:
        state = self._state(choice)
        if not state.role_sent:
            state.role_sent = True
            delta = {"role": "assistant", **delta}
        return self._chunk(
            [{"index": choice, "delta": delta, "logprobs": None, "finish_reason": finish_reason}]
        )

    def _tool_index(self, state: _ChoiceState, key: tuple[str, int]) -> tuple[int, bool]:
        index = state.tool_index.get(key)
        if index is not None:
            return index, False
        index = state.tool_index[key] = state.next_tool_index
        state.next_tool_index += 1
        return index, True

    def _tool_delta(
        self, choice: int, index: int, first: bool, call_id: str, name: str, arguments: str
    ) -> dict[str, Any]:
        call: dict[str, Any]
        if first:
            call = {
                "index": index,
                "id": call_id,
                "type": "function",
                "function": {"name": name, "arguments": arguments},
            }
        else:
            call = {"index": index, "function": {"arguments": arguments}}
        return self._delta(choice, {"tool_calls": [call]})

    def _code_delta(self, event: CodeDelta) -> dict[str, Any]:
        state = self._state(event.choice)
        index, first = self._tool_index(state, ("code", event.run))
        fragment = escape_json_text(event.text)
        if first:
            fragment = _ARGS_OPEN + fragment
        state.run_code[event.run] = state.run_code.get(event.run, "") + event.text
        call_id = f"{self._identity.call_id_prefix}{event.run}"
        return self._tool_delta(
            event.choice, index, first, call_id, CODE_INTERPRETER_TOOL, fragment
        )

    def _code_done(self, event: CodeDone) -> list[dict[str, Any]]:
        state = self._state(event.choice)
        index, first = self._tool_index(state, ("code", event.run))
        streamed = state.run_code.pop(event.run, "")
        if first:  # never streamed (code stayed empty): the whole call in one delta
            fragment = _ARGS_OPEN + escape_json_text(event.code) + _ARGS_CLOSE
        elif streamed == event.code:
            fragment = _ARGS_CLOSE
        else:
            # The upstream rewrote a snapshot we had already streamed. JSON parsers keep the last
            # of duplicate keys, so the arguments still parse to {"code": <final code>}.
            fragment = '", "code": ' + orjson.dumps(event.code).decode() + "}"
        call_id = f"{self._identity.call_id_prefix}{event.run}"
        return [
            self._tool_delta(event.choice, index, first, call_id, CODE_INTERPRETER_TOOL, fragment)
        ]

    def _function_delta(self, event: FunctionCallDelta) -> dict[str, Any]:
        state = self._state(event.choice)
        index, first = self._tool_index(state, ("function", event.key))
        return self._tool_delta(
            event.choice,
            index,
            first,
            event.call_id or f"call_{self._identity.id}_{index}",
            event.name or "",
            event.arguments,
        )

    def _finish(self, event: Finish) -> list[dict[str, Any]]:
        state = self._state(event.choice)
        if state.finished:
            return []
        state.finished = True
        reason = event.reason if event.reason in _FINISH_REASONS else "stop"
        delta: dict[str, Any] = {} if state.role_sent else {"content": ""}
        return [self._delta(event.choice, delta, reason)]


def usage_object(usage: Usage) -> dict[str, Any]:
    """OpenAI's usage object; the interpreter run count is kept under `x_tools`, the name
    DashScope's own Responses API uses for it."""
    body: dict[str, Any] = {
        "prompt_tokens": usage.prompt_tokens,
        "completion_tokens": usage.completion_tokens,
        "total_tokens": usage.prompt_tokens + usage.completion_tokens,
    }
    if usage.reasoning_tokens is not None:
        body["completion_tokens_details"] = {"reasoning_tokens": usage.reasoning_tokens}
    if usage.cached_tokens is not None:
        body["prompt_tokens_details"] = {"cached_tokens": usage.cached_tokens}
    if usage.code_interpreter_runs is not None:
        body["x_tools"] = {"code_interpreter": {"count": usage.code_interpreter_runs}}
    return body
