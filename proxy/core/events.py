"""Protocol-neutral events: what the upstream said, before any client protocol shapes it.

The native stream translator produces these; each client protocol (Chat Completions now, the
Responses API later) has its own encoder over them. `choice` is the upstream choice index.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import NotRequired, TypedDict


@dataclass(slots=True, frozen=True)
class ReasoningDelta:
    choice: int
    text: str


@dataclass(slots=True, frozen=True)
class ContentDelta:
    choice: int
    text: str
    # OpenAI-shaped `logprobs.content` entries for this text, when they were asked for.
    logprobs: list[object] | None = None


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
    results: list[object]


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

    @property
    def total_tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens


class ReasoningTokens(TypedDict):
    reasoning_tokens: int


class CachedTokens(TypedDict):
    cached_tokens: int


class RunCount(TypedDict):
    count: int


class ToolCounts(TypedDict):
    code_interpreter: RunCount


class UsageObject(TypedDict):
    """OpenAI's chat-completions usage object: what chat clients receive, and the one shape
    traffic records and metrics keep for either API."""

    prompt_tokens: int
    completion_tokens: int
    total_tokens: int
    completion_tokens_details: NotRequired[ReasoningTokens]
    prompt_tokens_details: NotRequired[CachedTokens]
    # The interpreter run count, under the name DashScope's own Responses API uses for it.
    x_tools: NotRequired[ToolCounts]


def usage_object(usage: Usage) -> UsageObject:
    """`usage` as OpenAI's usage object; details only when DashScope reported them."""
    body: UsageObject = {
        "prompt_tokens": usage.prompt_tokens,
        "completion_tokens": usage.completion_tokens,
        "total_tokens": usage.total_tokens,
    }
    if usage.reasoning_tokens is not None:
        body["completion_tokens_details"] = {"reasoning_tokens": usage.reasoning_tokens}
    if usage.cached_tokens is not None:
        body["prompt_tokens_details"] = {"cached_tokens": usage.cached_tokens}
    if usage.code_interpreter_runs is not None:
        body["x_tools"] = {"code_interpreter": {"count": usage.code_interpreter_runs}}
    return body


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
