"""The shapes Chat Completions clients receive, as mypy-checked TypedDicts (sans-I/O).

A stream is `chat.completion.chunk`s; a non-stream reply one `chat.completion`, folded from
them. The encoder (`stream.py`), the code-run renderings (`code_runs.py`) and the fold
(`fold.py`) build and read these.
"""

from __future__ import annotations

from typing import Literal, NotRequired, TypedDict

from proxy.core.events import UsageObject

FinishReason = Literal["stop", "length", "tool_calls", "content_filter", "function_call"]


class FunctionDelta(TypedDict, total=False):
    name: str  # only on a call's first delta
    arguments: str


class ToolCallDelta(TypedDict):
    index: int
    id: NotRequired[str]  # id, type and name come only with a call's first delta
    type: NotRequired[Literal["function"]]
    function: FunctionDelta


class VendorRun(TypedDict):
    """One interpreter run under the non-standard `code_interpreter_calls` key."""

    index: int
    id: str
    code: str


class SearchInfo(TypedDict):
    search_results: list[object]


class UrlCitation(TypedDict):
    start_index: int
    end_index: int
    url: str
    title: str


class Annotation(TypedDict):
    """A source the answer cites (OpenAI's `message.annotations`)."""

    type: Literal["url_citation"]
    url_citation: UrlCitation


class Delta(TypedDict, total=False):
    """One kind of payload per delta (and the role with a choice's first)."""

    role: Literal["assistant"]
    content: str
    reasoning_content: str
    tool_calls: list[ToolCallDelta]
    code_interpreter_calls: list[VendorRun]
    search_info: SearchInfo
    annotations: list[Annotation]


class ChoiceLogprobs(TypedDict):
    content: list[object]  # OpenAI-shaped token entries, as DashScope gave them


class ChunkChoice(TypedDict):
    index: int
    delta: Delta
    logprobs: ChoiceLogprobs | None
    finish_reason: FinishReason | None


class ChatChunk(TypedDict):
    id: str
    object: Literal["chat.completion.chunk"]
    created: int
    model: str
    choices: list[ChunkChoice]
    usage: NotRequired[UsageObject]  # only on the last chunk, whose `choices` is empty


class Function(TypedDict):
    name: str | None
    arguments: str


class ToolCall(TypedDict):
    id: str | None
    type: str
    function: Function


class RunCode(TypedDict):
    """A run in a folded message: its id and final code."""

    id: str
    code: str


class Message(TypedDict):
    role: Literal["assistant"]
    content: str | None  # None when the message is only tool calls
    # Required (and nullable) by OpenAI's specification, as DashScope's compatible mode sends
    # it; DashScope never refuses in this form, so it is always null.
    refusal: None
    reasoning_content: NotRequired[str]
    tool_calls: NotRequired[list[ToolCall]]
    code_interpreter_calls: NotRequired[list[RunCode]]
    search_info: NotRequired[SearchInfo]
    annotations: NotRequired[list[Annotation]]


class CompletionChoice(TypedDict):
    index: int
    message: Message
    logprobs: ChoiceLogprobs | None
    finish_reason: FinishReason | None


class ChatCompletion(TypedDict):
    id: str
    object: Literal["chat.completion"]
    created: int
    model: str
    choices: list[CompletionChoice]
    usage: NotRequired[UsageObject]
