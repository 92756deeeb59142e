"""OpenAI chat-completions request -> DashScope native request (sans-I/O).

Validation happens here, before any response starts, so a bad request is a real 400 naming the
problem. Nothing is lost silently: `proxy/chat/fields.py` says what happens to every OpenAI
field; what DashScope cannot express is dropped *and reported* in `notes`, and so is every
value the proxy changes; unknown keys (DashScope extras arriving through `extra_body`) pass
through into `parameters`. The rules the Responses API shares live in `proxy/core/`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from proxy.chat.code_runs import DEFAULT_FORMAT, FORMATS, CodeFormat
from proxy.chat.fields import FIELD_BY_NAME
from proxy.chat.messages import chat_turns
from proxy.core.echoes import strip_echoes
from proxy.core.errors import InvalidRequest
from proxy.core.fields import BOOL, NATIVE_FIELD_BY_NAME, Field, check_type
from proxy.core.native_request import native_request
from proxy.core.parameters import (
    Draft,
    check_exclusive,
    clamp_top_p,
    native_parameter,
    parallel_by_default,
    required_model,
    served_family,
    set_tool_choice,
)
from proxy.core.plan import TranslationOptions, UpstreamPlan
from proxy.core.search import report_options, settle_search
from proxy.core.thinking import interpreter_thinking, set_thinking, settle_thinking

Mapper = Callable[[Any, Draft], None]


@dataclass(frozen=True, slots=True)
class ChatExtras:
    """What only a Chat Completions answer needs from the request."""

    include_usage: bool  # a final usage chunk (`stream_options.include_usage`)
    code_format: CodeFormat  # how interpreter runs are shown (proxy/chat/code_runs.py)


def translate_chat_request(
    body: Any, options: TranslationOptions | None = None
) -> UpstreamPlan[ChatExtras]:
    options = options or TranslationOptions()
    if not isinstance(body, dict):
        raise InvalidRequest("The request body must be a JSON object.")
    model = required_model(body)
    family = served_family(model, options.models)
    stream = _optional(body, "stream", False)
    stream_options = _optional(body, "stream_options", None) or {}
    include_usage = check_type(
        stream_options.get("include_usage"), BOOL, "stream_options.include_usage"
    )
    code_format = _code_format(body, options)
    echoes = strip_echoes(_messages(body))
    draft = Draft(body, family, notes=echoes.notes("messages"))
    _parameters(draft)
    settle_search(draft, live=isinstance(body.get("web_search_options"), dict))
    turns = chat_turns(
        echoes.messages,
        preserve_thinking=bool(draft.parameters.get("preserve_thinking")),
        notes=draft.notes,
        parameters=draft.parameters,  # an image's detail may set vl_high_resolution_images
    )
    interpreter_thinking(draft)
    check_exclusive(draft.parameters)
    parallel_by_default(draft)
    settle_thinking(draft, "response_format")
    path, native = native_request(model, turns, draft.finish(), family)
    return UpstreamPlan(
        model=model,
        path=path,
        body=native,
        stream=bool(stream),
        extras=ChatExtras(include_usage=bool(include_usage), code_format=code_format),
        notes=tuple(draft.notes),
        local_answer=echoes.local_answer,
    )


def _optional(body: dict[str, Any], key: str, default: Any) -> Any:
    value = body.get(key)
    if value is None:
        return default
    return check_type(value, FIELD_BY_NAME[key].types, key)


def _code_format(body: dict[str, Any], options: TranslationOptions) -> CodeFormat:
    name = _optional(body, "code_interpreter_format", options.code_format or DEFAULT_FORMAT)
    for fmt in FORMATS:
        if fmt == name:
            return fmt
    raise InvalidRequest(
        f"'code_interpreter_format' must be one of {', '.join(FORMATS)}; got {name!r}.",
        param="code_interpreter_format",
    )


def _messages(body: dict[str, Any]) -> list[Any]:
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        raise InvalidRequest(
            "'messages' is required and must be a non-empty array.", param="messages"
        )
    return messages


def _parameters(draft: Draft) -> None:
    for key, value in draft.body.items():
        spec = FIELD_BY_NAME.get(key)
        if spec is None or key in NATIVE_FIELD_BY_NAME:
            native_parameter(key, value, draft)
        elif value is not None and spec.treatment != "proxy":  # the proxy's own: read above
            check_type(value, spec.types, key)
            _field(spec, value, draft)
    _check_tools(draft.parameters)


def _field(spec: Field, value: Any, draft: Draft) -> None:
    if spec.treatment == "reported":
        draft.notes.append(f"{spec.name}: dropped ({spec.how})")
    elif spec.treatment == "passed":
        draft.parameters[spec.name] = value
    elif spec.name in _MAPPERS:
        _MAPPERS[spec.name](value, draft)


def _set(value: Any, draft: Draft, name: str) -> None:
    draft.parameters[name] = value


def _tool_choice(value: Any, draft: Draft) -> None:
    tools = draft.body.get("tools")
    set_tool_choice(value, [_tool_name(t) for t in tools] if isinstance(tools, list) else [], draft)


def _reasoning_effort(value: Any, draft: Draft) -> None:
    set_thinking(value, "reasoning_effort", draft)


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


_MAPPERS: dict[str, Mapper] = {
    # Sent as they are, then read again by the rules run once every field is in
    # (parallel_by_default, settle_thinking).
    "tools": lambda value, draft: _set(value, draft, "tools"),
    "response_format": lambda value, draft: _set(value, draft, "response_format"),
    "top_p": clamp_top_p,
    "reasoning_effort": _reasoning_effort,
    "tool_choice": _tool_choice,
    "web_search_options": lambda value, draft: report_options(
        value, "web_search_options", ("search_context_size", "user_location"), draft.notes
    ),
}
