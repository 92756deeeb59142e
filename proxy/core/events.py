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
    """What the whole request cost, as DashScope reported it; None: not reported."""

    prompt_tokens: int
    completion_tokens: int
    reasoning_tokens: int | None
    cached_tokens: int | None
    code_interpreter_runs: int | None
    cache_write_tokens: int | None = None  # prompt tokens written to an explicit cache
    web_searches: int | None = None  # searches DashScope ran for the answer
    # The prompt's tokens by modality (the multimodal endpoint's breakdown).
    prompt_text_tokens: int | None = None
    prompt_image_tokens: int | None = None
    prompt_audio_tokens: int | None = None
    prompt_video_tokens: int | None = None

    @property
    def total_tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens


class ReasoningTokens(TypedDict):
    reasoning_tokens: int


class PromptDetails(TypedDict, total=False):
    """OpenAI's `prompt_tokens_details`, with the entries DashScope reported. OpenAI's own
    names where it has them (`cache_write_tokens` for DashScope's
    `cache_creation_input_tokens`); `video_tokens` is DashScope's, OpenAI has no video."""

    cached_tokens: int
    cache_write_tokens: int
    text_tokens: int
    image_tokens: int
    audio_tokens: int
    video_tokens: int


class RunCount(TypedDict):
    count: int


class ToolCounts(TypedDict, total=False):
    """How often each server-side tool ran, under the names DashScope's own Responses API
    gives them in its `x_tools` usage block."""

    code_interpreter: RunCount
    web_search: RunCount


class UsageObject(TypedDict):
    """OpenAI's chat-completions usage object: what chat clients receive, and the one shape
    traffic records and metrics keep for either API."""

    prompt_tokens: int
    completion_tokens: int
    total_tokens: int
    completion_tokens_details: NotRequired[ReasoningTokens]
    prompt_tokens_details: NotRequired[PromptDetails]
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
    details = prompt_details(usage)
    if details:
        body["prompt_tokens_details"] = details
    tools = tool_counts(usage)
    if tools:
        body["x_tools"] = tools
    return body


def prompt_details(usage: Usage) -> PromptDetails:
    """The prompt's details DashScope reported (an empty dict: none)."""
    details: PromptDetails = {}
    if usage.cached_tokens is not None:
        details["cached_tokens"] = usage.cached_tokens
    if usage.cache_write_tokens is not None:
        details["cache_write_tokens"] = usage.cache_write_tokens
    if usage.prompt_text_tokens is not None:
        details["text_tokens"] = usage.prompt_text_tokens
    if usage.prompt_image_tokens is not None:
        details["image_tokens"] = usage.prompt_image_tokens
    if usage.prompt_audio_tokens is not None:
        details["audio_tokens"] = usage.prompt_audio_tokens
    if usage.prompt_video_tokens is not None:
        details["video_tokens"] = usage.prompt_video_tokens
    return details


def tool_counts(usage: Usage) -> ToolCounts:
    """The `x_tools` block: the server-side tools that ran (an empty dict: none reported)."""
    tools: ToolCounts = {}
    if usage.code_interpreter_runs is not None:
        tools["code_interpreter"] = {"count": usage.code_interpreter_runs}
    if usage.web_searches is not None:
        tools["web_search"] = {"count": usage.web_searches}
    return tools


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
