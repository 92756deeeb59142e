"""Protocol-neutral events: what the upstream said, before any client protocol shapes it.

The native stream translator produces these; each client protocol (Chat Completions now, the
Responses API later) has its own encoder over them. `choice` is the upstream choice index.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(slots=True, frozen=True)
class ReasoningDelta:
    choice: int
    text: str


@dataclass(slots=True, frozen=True)
class ContentDelta:
    choice: int
    text: str
    # OpenAI-shaped `logprobs.content` entries for this text, when they were asked for.
    logprobs: list[Any] | None = None


@dataclass(slots=True, frozen=True)
class CodeDelta:
    """Code of a server-side interpreter run grew by `text` (the first delta starts the run)."""

    choice: int
    run: int
    text: str


@dataclass(slots=True, frozen=True)
class CodeDone:
    """The run's code is settled; `code` is final (it differs from the deltas' concatenation only
    if the upstream rewrote a snapshot instead of extending it)."""

    choice: int
    run: int
    code: str


@dataclass(slots=True, frozen=True)
class FunctionCallDelta:
    """A model-requested function call (client-executed), keyed by the upstream's index."""

    choice: int
    key: int
    call_id: str | None
    name: str | None
    arguments: str


@dataclass(slots=True, frozen=True)
class SearchResults:
    """Web-search sources (`enable_search` with `search_options.enable_source`)."""

    choice: int
    results: list[Any]


@dataclass(slots=True, frozen=True)
class Finish:
    choice: int
    reason: str


@dataclass(slots=True, frozen=True)
class Usage:
    prompt_tokens: int
    completion_tokens: int
    reasoning_tokens: int | None
    cached_tokens: int | None
    code_interpreter_runs: int | None


Event = (
    ReasoningDelta
    | ContentDelta
    | CodeDelta
    | CodeDone
    | FunctionCallDelta
    | SearchResults
    | Finish
    | Usage
)
