"""OpenAI chat-completions request -> DashScope native request (sans-I/O).

Validation happens here, before any response starts, so a bad request is a real 400 naming the
problem. Nothing is lost silently: `proxy/fields.py` says what happens to every OpenAI field;
what DashScope cannot express is dropped *and reported* in `notes`; unknown keys (DashScope
extras arriving through `extra_body`) pass through into `parameters`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from proxy.chat.code_runs import DEFAULT_FORMAT, FORMATS
from proxy.chat.echoes import strip_echoes
from proxy.chat.fields import FIELD_BY_NAME, check_type
from proxy.chat.messages import has_media, translate_messages
from proxy.core.errors import InvalidRequest

TEXT_GENERATION_PATH = "/api/v1/services/aigc/text-generation/generation"
MULTIMODAL_GENERATION_PATH = "/api/v1/services/aigc/multimodal-generation/generation"

# Models DashScope serves only on its multimodal endpoint (the text endpoint answers "url error").
DEFAULT_MULTIMODAL_MODELS = (
    r"^qwen-vl",
    r"^qwen2(\.5)?-vl",
    r"^qwen3-vl",
    r"^qwen3\.([5-9]|\d\d)",
    r"^qwen-omni",
    r"^qwen3-omni",
    r"^qvq",
)

# Always incremental, in message format (docs/architecture.md, "Always stream upstream").
_FORCED = {"result_format": "message", "incremental_output": True}
_THINKING_BUDGETS = {"low": 1024, "medium": 8192, "high": 32768}
_TOP_P_FLOOR = 1e-6


@dataclass(frozen=True, slots=True)
class TranslationOptions:
    """What the server's configuration decides for every request."""

    code_format: str = DEFAULT_FORMAT
    multimodal_models: tuple[str, ...] = DEFAULT_MULTIMODAL_MODELS


@dataclass(slots=True)
class UpstreamPlan:
    """What to send upstream, and what the client asked for that shapes the response."""

    model: str
    path: str
    body: dict[str, Any]
    stream: bool
    include_usage: bool
    code_format: str = DEFAULT_FORMAT
    notes: list[str] = field(default_factory=list)
    # Set when the request only answers the proxy's own calls: reply with it, call nobody.
    local_answer: str | None = None
    # Request fields the response repeats (the Responses API's Response object does).
    echo: dict[str, Any] = field(default_factory=dict)


def translate_chat_request(
    body: Any, options: TranslationOptions = TranslationOptions()
) -> UpstreamPlan:
    if not isinstance(body, dict):
        raise InvalidRequest("The request body must be a JSON object.")
    notes: list[str] = []
    model = body.get("model")
    if not isinstance(model, str) or not model:
        raise InvalidRequest("'model' is required and must be a non-empty string.", param="model")
    stream = _optional(body, "stream", False)
    stream_options = _optional(body, "stream_options", None) or {}
    include_usage = check_type(
        stream_options.get("include_usage"), (bool,), "stream_options.include_usage"
    )
    code_format = _optional(body, "code_interpreter_format", options.code_format)
    if code_format not in FORMATS:
        raise InvalidRequest(
            f"'code_interpreter_format' must be one of {', '.join(FORMATS)}; got {code_format!r}.",
            param="code_interpreter_format",
        )
    echoes = strip_echoes(_messages(body))
    if echoes.removed_calls or echoes.removed_results:
        notes.append(
            f"messages: removed {echoes.removed_calls} echoed code_interpreter call(s) and "
            f"{echoes.removed_results} result(s) for them"
        )
    parameters = _parameters(body, notes)
    multimodal = has_media(echoes.messages) or _matches(model, options.multimodal_models)
    messages = translate_messages(
        echoes.messages,
        multimodal=multimodal,
        preserve_thinking=bool(parameters.get("preserve_thinking")),
        notes=notes,
    )
    if parameters.get("enable_code_interpreter") and parameters.get("tools"):
        raise InvalidRequest(
            "'tools' cannot be combined with 'enable_code_interpreter': DashScope's code "
            "interpreter and function calling are mutually exclusive. Send one or the other.",
            param="tools",
        )
    return UpstreamPlan(
        model=model,
        path=MULTIMODAL_GENERATION_PATH if multimodal else TEXT_GENERATION_PATH,
        body={"model": model, "input": {"messages": messages}, "parameters": parameters},
        stream=bool(stream),
        include_usage=bool(include_usage),
        code_format=code_format,
        notes=notes,
        local_answer=echoes.local_answer,
    )


def _matches(model: str, patterns: tuple[str, ...]) -> bool:
    return any(re.search(pattern, model) for pattern in patterns)


def _optional(body: dict[str, Any], key: str, default: Any) -> Any:
    value = body.get(key)
    if value is None:
        return default
    return check_type(value, FIELD_BY_NAME[key].types, key)


def _messages(body: dict[str, Any]) -> list[Any]:
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        raise InvalidRequest(
            "'messages' is required and must be a non-empty array.", param="messages"
        )
    return messages


def _parameters(body: dict[str, Any], notes: list[str]) -> dict[str, Any]:
    parameters: dict[str, Any] = {}
    for key, value in body.items():
        spec = FIELD_BY_NAME.get(key)
        if value is None or (spec is not None and spec.treatment == "proxy" and key not in _FORCED):
            continue
        if spec is None:  # unknown: a DashScope extra the proxy does not know yet
            parameters[key] = value
            continue
        check_type(value, spec.types, key)
        if key in _FORCED:
            if value != _FORCED[key]:
                notes.append(f"{key}: always {_FORCED[key]!r}")
        elif spec.treatment == "reported":
            notes.append(f"{key}: dropped ({spec.how})")
        elif spec.treatment == "passed":
            parameters[key] = value
        elif key in _MAPPERS:
            _MAPPERS[key](value, body, parameters, notes)
    _check_tools(parameters)
    parameters.update(_FORCED)
    return parameters


def _top_p(value: Any, body: dict[str, Any], parameters: dict[str, Any], notes: list[str]) -> None:
    clamped = min(max(value, _TOP_P_FLOOR), 1.0)
    if clamped != value:
        notes.append(f"top_p: {value} clamped to {clamped} (DashScope accepts (0, 1])")
    parameters["top_p"] = clamped


def _reasoning_effort(
    value: Any, body: dict[str, Any], parameters: dict[str, Any], notes: list[str]
) -> None:
    if value in ("none", "minimal"):
        thinking, budget = False, None
    elif value in _THINKING_BUDGETS:
        thinking, budget = True, _THINKING_BUDGETS[value]
    elif value in ("xhigh", "max"):
        thinking, budget = True, None
    else:
        raise InvalidRequest(
            "'reasoning_effort' must be one of none, minimal, low, medium, high, xhigh, max.",
            param="reasoning_effort",
        )
    if body.get("enable_thinking") is None:
        parameters["enable_thinking"] = thinking
    if budget is not None and body.get("thinking_budget") is None:
        parameters["thinking_budget"] = budget


def _tool_choice(
    value: Any, body: dict[str, Any], parameters: dict[str, Any], notes: list[str]
) -> None:
    if value == "required":
        tools = body.get("tools")
        names = [_tool_name(t) for t in tools] if isinstance(tools, list) else []
        if len(names) == 1 and names[0]:
            value = {"type": "function", "function": {"name": names[0]}}
            notes.append("tool_choice: required sent as the only tool, by name")
        else:
            value = "auto"
            notes.append("tool_choice: required sent as auto (DashScope has no 'required')")
    elif (isinstance(value, dict) and value.get("type") != "function") or (
        isinstance(value, str) and value not in ("auto", "none")
    ):
        raise InvalidRequest(
            "'tool_choice' must be auto, none, required or a function by name.",
            param="tool_choice",
        )
    parameters["tool_choice"] = value


def _tool_name(tool: Any) -> str | None:
    function = tool.get("function") if isinstance(tool, dict) else None
    name = function.get("name") if isinstance(function, dict) else None
    return name if isinstance(name, str) else None


def _check_tools(parameters: dict[str, Any]) -> None:
    for i, tool in enumerate(parameters.get("tools") or ()):
        if not isinstance(tool, dict) or tool.get("type", "function") != "function":
            raise InvalidRequest(
                f"'tools[{i}]' must be a function tool; DashScope has no custom tools.",
                param=f"tools[{i}]",
            )
        if not _tool_name(tool):
            raise InvalidRequest(f"'tools[{i}].function.name' is required.", param=f"tools[{i}]")


_MAPPERS = {"top_p": _top_p, "reasoning_effort": _reasoning_effort, "tool_choice": _tool_choice}
