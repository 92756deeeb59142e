"""The Responses API's output items and stream events, as mypy-checked TypedDicts (sans-I/O).

What `proxy/responses/stream.py` builds its events from: the open text, code-run and
function-call items it grows, and the finished shape of every item type it emits.
"""

from __future__ import annotations

from typing import Any, Literal, NotRequired, Required, TypedDict

from proxy.core.events import ReasoningTokens, ToolCounts, Usage, prompt_details, tool_counts

# DashScope runs the code in a sandbox it does not name; the item type requires some id.
CONTAINER_ID = "dashscope"

Status = Literal["in_progress", "completed", "incomplete"]
TextKind = Literal["reasoning", "message"]  # the two items that hold streamed text
ResponseStatus = Literal["in_progress", "completed", "incomplete", "failed"]
EventType = Literal[
    "response.created",
    "response.in_progress",
    "response.completed",
    "response.incomplete",
    "response.failed",
    "response.output_item.added",
    "response.output_item.done",
    "response.content_part.added",
    "response.content_part.done",
    "response.reasoning_text.delta",
    "response.reasoning_text.done",
    "response.reasoning_summary_part.added",
    "response.reasoning_summary_part.done",
    "response.reasoning_summary_text.delta",
    "response.reasoning_summary_text.done",
    "response.output_text.delta",
    "response.output_text.done",
    "response.output_text.annotation.added",
    "response.code_interpreter_call.in_progress",
    "response.code_interpreter_call_code.delta",
    "response.code_interpreter_call_code.done",
    "response.code_interpreter_call.interpreting",
    "response.code_interpreter_call.completed",
    "response.function_call_arguments.delta",
    "response.function_call_arguments.done",
    "response.web_search_call.in_progress",
    "response.web_search_call.searching",
    "response.web_search_call.completed",
]


class ReasoningText(TypedDict):
    type: Literal["reasoning_text"]
    text: str


class SummaryText(TypedDict):
    type: Literal["summary_text"]
    text: str


class UrlCitation(TypedDict):
    type: Literal["url_citation"]
    url: str
    title: str
    start_index: int
    end_index: int


class OutputText(TypedDict):
    type: Literal["output_text"]
    text: str
    annotations: list[UrlCitation]
    logprobs: list[object]


Part = ReasoningText | OutputText | SummaryText


class _ReasoningItem(TypedDict):
    id: str
    type: Literal["reasoning"]
    summary: list[SummaryText]  # the thinking, when the request asked for a summary
    content: list[ReasoningText]  # the thinking itself, when it did not
    status: Status


class ReasoningItem(_ReasoningItem, total=False):
    encrypted_content: str  # the thinking sealed, when `include` asks for it


class MessageItem(TypedDict):
    id: str
    type: Literal["message"]
    role: Literal["assistant"]
    status: Status
    content: list[OutputText]


class CodeInterpreterCallItem(TypedDict):
    id: str
    type: Literal["code_interpreter_call"]
    status: Status
    code: str
    container_id: str
    outputs: None  # DashScope does not return them


class FunctionCallItem(TypedDict):
    id: str
    type: Literal["function_call"]
    status: Status
    call_id: str
    name: str
    arguments: str


class SearchSource(TypedDict):
    type: Literal["url"]
    url: str


class SearchAction(TypedDict):
    type: Literal["search"]
    query: str
    sources: NotRequired[list[SearchSource]]  # when `include` asks for them


class WebSearchCallItem(TypedDict):
    id: str
    type: Literal["web_search_call"]
    status: Status
    action: SearchAction


OutputItem = (
    ReasoningItem | MessageItem | CodeInterpreterCallItem | FunctionCallItem | WebSearchCallItem
)


class InputTokensDetails(TypedDict):
    """OpenAI's two required counts, then the prompt's modalities when DashScope gave them
    (the names chat's `prompt_tokens_details` uses)."""

    cached_tokens: int
    cache_write_tokens: int
    text_tokens: NotRequired[int]
    image_tokens: NotRequired[int]
    audio_tokens: NotRequired[int]
    video_tokens: NotRequired[int]


class ResponseUsage(TypedDict):
    input_tokens: int
    input_tokens_details: InputTokensDetails
    output_tokens: int
    output_tokens_details: ReasoningTokens
    total_tokens: int
    x_tools: NotRequired[ToolCounts]  # the server-side tools' counts, as in chat completions


# The values OpenAI's Response object allows in `error.code` that a DashScope failure can mean;
# DashScope's own code travels in the message.
ResponseErrorCode = Literal["server_error", "rate_limit_exceeded", "invalid_prompt"]


class ResponseError(TypedDict):
    code: ResponseErrorCode
    message: str


class IncompleteDetails(TypedDict):
    reason: str


class ResponseCore(TypedDict):
    """The Response object's own fields; the request fields it repeats follow them."""

    id: str
    object: Literal["response"]
    created_at: int
    status: ResponseStatus
    error: ResponseError | None
    incomplete_details: IncompleteDetails | None
    model: str
    output: list[OutputItem]
    usage: ResponseUsage | None


ResponseObject = dict[str, Any]  # a ResponseCore and the echoed request fields


class EventFields(TypedDict, total=False):
    """What an event carries besides its type and number, by event type."""

    response: ResponseObject
    output_index: int
    item: OutputItem
    item_id: str
    content_index: int
    summary_index: int
    part: Part
    delta: str
    text: str
    logprobs: list[object]
    code: str
    name: str
    arguments: str
    annotation_index: int
    annotation: UrlCitation


class StreamEvent(EventFields, total=False):
    type: Required[EventType]
    sequence_number: Required[int]


class TextItem:
    """An open reasoning or message item: its text so far. A reasoning item shows its text as
    a summary when the request asked for one (`summary`)."""

    __slots__ = ("annotations", "id", "index", "kind", "logprobs", "parts", "sealed", "summary")

    def __init__(self, kind: TextKind, index: int, item_id: str, *, summary: bool = False) -> None:
        self.kind: TextKind = kind
        self.index = index
        self.id = item_id
        self.summary = summary and kind == "reasoning"
        self.parts: list[str] = []
        self.logprobs: list[object] = []
        self.annotations: list[UrlCitation] = []  # set when the text is complete
        self.sealed: str | None = None  # the reasoning's `encrypted_content`, once complete

    def part(self, text: str) -> Part:
        if self.kind == "message":
            return self._output_text(text)
        return summary_text(text) if self.summary else reasoning_text(text)

    def item(self, status: Status) -> ReasoningItem | MessageItem:
        text = "".join(self.parts)
        if self.kind == "message":
            return message_item(self.id, status, [self._output_text(text)])
        item = reasoning_item(self.id, status, [])
        if self.summary:
            item["summary"] = [summary_text(text)]
        else:
            item["content"] = [reasoning_text(text)]
        if self.sealed is not None:
            item["encrypted_content"] = self.sealed
        return item

    def _output_text(self, text: str) -> OutputText:
        # Copies: the lists keep growing after this part has gone out.
        return {
            "type": "output_text",
            "text": text,
            "annotations": list(self.annotations),
            "logprobs": list(self.logprobs),
        }


class RunItem:
    """An open code-interpreter run: where it is in the output, and its code so far."""

    __slots__ = ("code", "id", "index")

    def __init__(self, index: int, item_id: str) -> None:
        self.index = index
        self.id = item_id
        self.code: list[str] = []

    def item(self, status: Status, code: str | None = None) -> CodeInterpreterCallItem:
        """The item, with its final `code` (None: the code so far)."""
        return code_call_item(self.id, "".join(self.code) if code is None else code, status)


class CallItem:
    """An open function call item."""

    __slots__ = ("arguments", "call_id", "id", "index", "name")

    def __init__(self, index: int, item_id: str, call_id: str, name: str) -> None:
        self.index = index
        self.id = item_id
        self.call_id = call_id
        self.name = name
        self.arguments: list[str] = []

    def item(self, status: Status) -> FunctionCallItem:
        return function_call_item(self, "".join(self.arguments), status)


def response_usage(usage: Usage) -> ResponseUsage:
    """The Responses API's usage object: its required details as zero when DashScope did not
    report them, the server-side tools' counts under `x_tools`, as in chat completions."""
    details: InputTokensDetails = {
        "cached_tokens": usage.cached_tokens or 0,
        "cache_write_tokens": usage.cache_write_tokens or 0,
        **prompt_details(usage),  # the same two counts when reported, and the modalities
    }
    body: ResponseUsage = {
        "input_tokens": usage.prompt_tokens,
        "input_tokens_details": details,
        "output_tokens": usage.completion_tokens,
        "output_tokens_details": {"reasoning_tokens": usage.reasoning_tokens or 0},
        "total_tokens": usage.total_tokens,
    }
    tools = tool_counts(usage)
    if tools:
        body["x_tools"] = tools
    return body


def reasoning_text(text: str) -> ReasoningText:
    return {"type": "reasoning_text", "text": text}


def summary_text(text: str) -> SummaryText:
    return {"type": "summary_text", "text": text}


def reasoning_item(item_id: str, status: Status, content: list[ReasoningText]) -> ReasoningItem:
    return {"id": item_id, "type": "reasoning", "summary": [], "content": content, "status": status}


def message_item(item_id: str, status: Status, content: list[OutputText]) -> MessageItem:
    return {
        "id": item_id,
        "type": "message",
        "role": "assistant",
        "status": status,
        "content": content,
    }


def code_call_item(item_id: str, code: str, status: Status) -> CodeInterpreterCallItem:
    return {
        "id": item_id,
        "type": "code_interpreter_call",
        "status": status,
        "code": code,
        "container_id": CONTAINER_ID,
        "outputs": None,
    }


def function_call_item(call: CallItem, arguments: str, status: Status) -> FunctionCallItem:
    return {
        "id": call.id,
        "type": "function_call",
        "status": status,
        "call_id": call.call_id,
        "name": call.name,
        "arguments": arguments,
    }


def web_search_item(
    item_id: str, status: Status, sources: list[SearchSource] | None
) -> WebSearchCallItem:
    # DashScope does not say what it searched for: the query stays empty.
    action: SearchAction = {"type": "search", "query": ""}
    if sources is not None:
        action["sources"] = sources
    return {"id": item_id, "type": "web_search_call", "status": status, "action": action}
