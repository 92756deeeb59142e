"""The DashScope native request both client APIs translate into, and the endpoint it goes to
(sans-I/O).

Each API turns its conversation into `Turn`s: native messages whose content is still a list of
parts, because the endpoint decides the content's form. The text-generation endpoint takes
string content (or text parts, which carry `cache_control`); the multimodal-generation endpoint
takes lists of untyped parts (`{"text"}`, `{"image"}`, `{"video"}`, `{"audio"}`) in every
message (docs/dashscope-protocol.md). A request goes to the multimodal endpoint when it carries
an image, a video or audio, or when the model table (`proxy/core/model_table.py`) says its
family is served only there.
"""

from __future__ import annotations

from typing import Any, Literal, NotRequired, TypedDict

from proxy.core.errors import InvalidRequest
from proxy.core.models import ModelFamily

TEXT_GENERATION_PATH = "/api/v1/services/aigc/text-generation/generation"
MULTIMODAL_GENERATION_PATH = "/api/v1/services/aigc/multimodal-generation/generation"

NativeRole = Literal["system", "user", "assistant", "tool"]
_MEDIA_SCHEMES = ("http://", "https://", "data:", "oss://")
_MEDIA = frozenset({"image", "video", "audio"})  # the part keys only the multimodal endpoint takes


class NativePart(TypedDict, total=False):
    type: Literal["text"]  # only on the text endpoint, where parts carry `cache_control`
    text: str
    image: str
    video: str | list[str]  # a URL, or a list of frame URLs
    audio: str  # a URL or a data: URL (proxy/core/media.py)
    cache_control: dict[str, Any]


class NativeFunction(TypedDict):
    name: str
    arguments: str  # JSON text: DashScope rejects history whose arguments are not JSON


class NativeToolCall(TypedDict):
    id: Any  # as the client sent it back
    type: Literal["function"]
    function: NativeFunction


class Turn(TypedDict):
    """A native message before the endpoint is known: its content is a list of parts."""

    role: NativeRole
    content: list[NativePart]
    tool_calls: NotRequired[list[NativeToolCall]]
    tool_call_id: NotRequired[str]
    name: NotRequired[str]
    reasoning_content: NotRequired[str]


class NativeMessage(TypedDict):
    role: NativeRole
    content: str | list[NativePart]
    tool_calls: NotRequired[list[NativeToolCall]]
    tool_call_id: NotRequired[str]
    name: NotRequired[str]
    reasoning_content: NotRequired[str]


class NativeInput(TypedDict):
    messages: list[NativeMessage]


class NativeRequest(TypedDict):
    model: str
    input: NativeInput
    parameters: dict[str, Any]  # open: DashScope extras the proxy does not know pass through


def native_request(
    model: str, turns: list[Turn], parameters: dict[str, Any], family: ModelFamily
) -> tuple[str, NativeRequest]:
    """The endpoint's path, and the request to send it."""
    # The text endpoint answers "url error" for a family served only on the multimodal one.
    multimodal = has_media(turns) or family.endpoint == "multimodal"
    messages = native_messages(turns, multimodal=multimodal)
    path = MULTIMODAL_GENERATION_PATH if multimodal else TEXT_GENERATION_PATH
    return path, {"model": model, "input": {"messages": messages}, "parameters": parameters}


def has_media(turns: list[Turn]) -> bool:
    """Whether any turn carries an image, a video or audio, which only the multimodal endpoint
    takes."""
    return any(_MEDIA.intersection(part) for turn in turns for part in turn["content"])


def native_messages(turns: list[Turn], *, multimodal: bool) -> list[NativeMessage]:
    """The turns in the form of the endpoint: multimodal or text."""
    return [{**turn, "content": _content(turn["content"], multimodal)} for turn in turns]


def _content(parts: list[NativePart], multimodal: bool) -> str | list[NativePart]:
    if multimodal:
        return parts
    if any("cache_control" in part for part in parts):
        return [{"type": "text", **part} for part in parts]
    # Only text is left: media sends a request to the multimodal endpoint.
    return "".join(part.get("text", "") for part in parts)


def media_url(value: Any, name: str, param: str) -> str:
    """`value` if it is a URL DashScope fetches (http(s), data:, oss://), else a 400 naming the
    field `name` of the part `param`."""
    if not isinstance(value, str) or not value.startswith(_MEDIA_SCHEMES):
        raise InvalidRequest(f"'{name}' must be an http(s) or data: URL.", param=param)
    return value


def tool_call(call_id: Any, name: str, arguments: Any) -> NativeToolCall:
    # DashScope rejects history whose arguments are not JSON; "" (or none) means no arguments.
    text = arguments if isinstance(arguments, str) and arguments else "{}"
    return {"id": call_id, "type": "function", "function": {"name": name, "arguments": text}}
