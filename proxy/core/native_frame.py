"""The native frame's shape, as DashScope's text- and multimodal-generation streams send it
(docs/dashscope-protocol.md). Every key may be missing: `total=False` throughout, and the
translator checks each value's type before it trusts it."""

from __future__ import annotations

from typing import TypedDict


class FrameFunction(TypedDict, total=False):
    name: str
    arguments: str  # a fragment, or (from some upstreams) the whole text so far


class FrameToolCall(TypedDict, total=False):
    index: int
    id: str
    type: str
    function: FrameFunction


class FramePart(TypedDict, total=False):
    text: str  # the multimodal endpoint's content parts


class FrameMessage(TypedDict, total=False):
    role: str
    content: str | list[FramePart]
    reasoning_content: str
    tool_calls: list[FrameToolCall]


class FrameLogprobs(TypedDict, total=False):
    content: list[object]  # OpenAI-shaped token entries


class FrameChoice(TypedDict, total=False):
    index: int
    message: FrameMessage
    finish_reason: str  # "null" (a string) until the choice's last frame
    logprobs: FrameLogprobs


class CodeRun(TypedDict, total=False):
    code: str


class ToolInfo(TypedDict, total=False):
    type: str  # "code_interpreter" (or missing) for a run; other tools share the list
    code_interpreter: CodeRun


class FrameSearchInfo(TypedDict, total=False):
    search_results: list[object]


class FrameOutput(TypedDict, total=False):
    choices: list[FrameChoice]
    text: str  # result_format "text", which the proxy never asks for
    finish_reason: str
    tool_info: list[ToolInfo]  # a cumulative snapshot of every interpreter run so far
    search_info: FrameSearchInfo


class FrameDetails(TypedDict, total=False):
    reasoning_tokens: int
    cached_tokens: int
    cache_creation_input_tokens: int  # written to an explicit cache (prompt_tokens_details)


class FrameMediaTokens(TypedDict, total=False):
    """The multimodal endpoint's breakdown of the prompt (`input_tokens_details`)."""

    text_tokens: int
    image_tokens: int
    audio_tokens: int
    video_tokens: int


class PluginCount(TypedDict, total=False):
    count: int


class FramePlugins(TypedDict, total=False):
    code_interpreter: PluginCount
    search: PluginCount


class FrameUsage(TypedDict, total=False):
    """A running total, repeated on every frame; with n > 1, the total of the frame's choice."""

    input_tokens: int
    output_tokens: int
    total_tokens: int
    output_tokens_details: FrameDetails
    prompt_tokens_details: FrameDetails
    input_tokens_details: FrameMediaTokens
    cached_tokens: int  # some responses put these at the top level
    cache_creation_input_tokens: int
    image_tokens: int
    audio_tokens: int
    video_tokens: int
    plugins: FramePlugins


class NativeFrame(TypedDict, total=False):
    """One `data:` payload of a native stream, as far as the proxy reads it. A frame is
    untrusted input: every value is checked before use, whatever these types say."""

    request_id: str
    output: FrameOutput
    usage: FrameUsage
    code: str  # with `message`, an error reported as a frame
    message: str
