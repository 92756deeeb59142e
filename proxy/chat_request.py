"""OpenAI chat-completions request -> DashScope native request (sans-I/O).

Validation happens here, before any response starts, so a bad request is a real 400 naming the
problem. Nothing is lost silently: OpenAI fields DashScope cannot express are dropped *and
reported* in `notes`; unknown keys (DashScope extras arriving through `extra_body`) pass through
into `parameters`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from proxy.errors import InvalidRequest

TEXT_GENERATION_PATH = "/api/v1/services/aigc/text-generation/generation"

_NUMBER = (int, float)
_INT = (int,)
_BOOL = (bool,)

# OpenAI fields that DashScope's `parameters` accept under the same name and meaning.
_SAME_NAME: dict[str, tuple[type, ...]] = {
    "temperature": _NUMBER,
    "top_p": _NUMBER,
    "seed": _INT,
    "presence_penalty": _NUMBER,
    "max_tokens": _INT,
    "max_completion_tokens": _INT,
    "stop": (str, list),
    "n": _INT,
    "logprobs": _BOOL,
    "top_logprobs": _INT,
    "logit_bias": (dict,),
    "response_format": (dict,),
    "tools": (list,),
    "tool_choice": (str, dict),
    "parallel_tool_calls": _BOOL,
}

# DashScope's own knobs, sent by OpenAI SDKs through `extra_body`; typed so mistakes are 400s.
_DASHSCOPE_EXTRAS: dict[str, tuple[type, ...]] = {
    "enable_thinking": _BOOL,
    "thinking_budget": _INT,
    "enable_code_interpreter": _BOOL,
    "enable_search": _BOOL,
    "search_options": (dict,),
    "top_k": _INT,
    "repetition_penalty": _NUMBER,
    "preserve_thinking": _BOOL,
}

# OpenAI fields with no DashScope equivalent: dropped, and reported.
_UNSUPPORTED = frozenset(
    {
        "frequency_penalty",
        "user",
        "metadata",
        "store",
        "service_tier",
        "modalities",
        "audio",
        "prediction",
        "web_search_options",
        "prompt_cache_key",
        "prompt_cache_retention",
        "safety_identifier",
        "verbosity",
        "functions",
        "function_call",
        "reasoning_effort",
    }
)

# Handled by the proxy itself; never forwarded as they came.
_PROXY_OWNED = frozenset({"model", "messages", "stream", "stream_options"})
# The proxy always streams incrementally in message format (DESIGN.md decision 1).
_FORCED = {"result_format": "message", "incremental_output": True}

_ROLES = frozenset({"system", "developer", "user", "assistant", "tool"})


@dataclass(slots=True)
class UpstreamPlan:
    """What to send upstream, and what the client asked for that shapes the response."""

    model: str
    path: str
    body: dict[str, Any]
    stream: bool
    include_usage: bool
    notes: list[str] = field(default_factory=list)


def translate_chat_request(body: Any) -> UpstreamPlan:
    if not isinstance(body, dict):
        raise InvalidRequest("The request body must be a JSON object.")
    notes: list[str] = []
    model = body.get("model")
    if not isinstance(model, str) or not model:
        raise InvalidRequest("'model' is required and must be a non-empty string.", param="model")
    stream = _optional(body, "stream", _BOOL, False)
    stream_options = _optional(body, "stream_options", (dict,), None) or {}
    include_usage = _optional(stream_options, "include_usage", _BOOL, False, "stream_options.")
    messages = [_message(message, i, notes) for i, message in enumerate(_messages(body))]
    parameters = _parameters(body, notes)
    if parameters.get("enable_code_interpreter") and parameters.get("tools"):
        raise InvalidRequest(
            "'tools' cannot be combined with 'enable_code_interpreter': DashScope's code "
            "interpreter and function calling are mutually exclusive. Send one or the other.",
            param="tools",
        )
    return UpstreamPlan(
        model=model,
        path=TEXT_GENERATION_PATH,
        body={"model": model, "input": {"messages": messages}, "parameters": parameters},
        stream=bool(stream),
        include_usage=bool(include_usage),
        notes=notes,
    )


def _optional(
    body: dict[str, Any], key: str, types: tuple[type, ...], default: Any, prefix: str = ""
) -> Any:
    value = body.get(key)
    if value is None:
        return default
    _check_type(value, types, prefix + key)
    return value


def _check_type(value: Any, types: tuple[type, ...], name: str) -> None:
    # bool is an int in Python, but `"temperature": true` is a client bug worth a 400.
    if (isinstance(value, bool) and bool not in types) or not isinstance(value, types):
        expected = " or ".join(_TYPE_NAMES[t] for t in types)
        raise InvalidRequest(f"'{name}' must be {expected}, got {_json_type(value)}.", param=name)


_TYPE_NAMES = {
    int: "an integer",
    float: "a number",
    bool: "a boolean",
    str: "a string",
    list: "an array",
    dict: "an object",
}


def _json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "an array"
    return "an object"


def _messages(body: dict[str, Any]) -> list[Any]:
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        raise InvalidRequest(
            "'messages' is required and must be a non-empty array.", param="messages"
        )
    return messages


def _message(message: Any, i: int, notes: list[str]) -> dict[str, Any]:
    where = f"messages[{i}]"
    if not isinstance(message, dict):
        raise InvalidRequest(f"'{where}' must be an object.", param=where)
    role = message.get("role")
    if role not in _ROLES:
        raise InvalidRequest(
            f"'{where}.role' must be one of {', '.join(sorted(_ROLES))}; got {role!r}.",
            param=f"{where}.role",
        )
    if role == "developer":
        role = "system"
        notes.append(f"{where}.role: developer sent as system")
    out: dict[str, Any] = {"role": role, "content": _content(message, role, where)}
    if role == "assistant" and message.get("tool_calls") is not None:
        out["tool_calls"] = _tool_calls(message["tool_calls"], where)
    if role == "tool":
        call_id = message.get("tool_call_id")
        if not isinstance(call_id, str) or not call_id:
            raise InvalidRequest(
                f"'{where}.tool_call_id' is required for tool messages.",
                param=f"{where}.tool_call_id",
            )
        out["tool_call_id"] = call_id
    for key in message.keys() - {"role", "content", "tool_calls", "tool_call_id"}:
        notes.append(f"{where}.{key}: dropped")
    return out


def _content(message: dict[str, Any], role: str, where: str) -> str:
    content = message.get("content")
    if isinstance(content, str):
        return content
    if content is None and role == "assistant":
        return ""
    if isinstance(content, list):
        return "".join(_text_part(part, f"{where}.content[{j}]") for j, part in enumerate(content))
    raise InvalidRequest(
        f"'{where}.content' must be a string or an array of content parts, "
        f"got {_json_type(content)}.",
        param=f"{where}.content",
    )


def _text_part(part: Any, where: str) -> str:
    if isinstance(part, dict) and part.get("type") == "text" and isinstance(part.get("text"), str):
        return str(part["text"])
    kind = part.get("type") if isinstance(part, dict) else None
    raise InvalidRequest(
        f'\'{where}\' must be a text part ({{"type": "text", "text": ...}}); '
        f"parts of type {kind!r} are not supported yet.",
        param=where,
    )


def _tool_calls(calls: Any, where: str) -> list[dict[str, Any]]:
    if not isinstance(calls, list):
        raise InvalidRequest(f"'{where}.tool_calls' must be an array.", param=f"{where}.tool_calls")
    out = []
    for j, call in enumerate(calls):
        function = call.get("function") if isinstance(call, dict) else None
        if not isinstance(function, dict) or not isinstance(function.get("name"), str):
            raise InvalidRequest(
                f"'{where}.tool_calls[{j}]' must have a function with a name.",
                param=f"{where}.tool_calls[{j}]",
            )
        out.append(
            {
                "id": call.get("id"),
                "type": "function",
                "function": {"name": function["name"], "arguments": function.get("arguments", "")},
            }
        )
    return out


def _parameters(body: dict[str, Any], notes: list[str]) -> dict[str, Any]:
    parameters: dict[str, Any] = {}
    for key, value in body.items():
        if key in _PROXY_OWNED:
            continue
        if key in _UNSUPPORTED:
            if value is not None:
                notes.append(f"{key}: dropped (DashScope has no equivalent)")
            continue
        if key in _FORCED:
            if value != _FORCED[key]:
                notes.append(f"{key}: overridden with {_FORCED[key]!r}")
            continue
        if value is None:
            continue
        types = _SAME_NAME.get(key) or _DASHSCOPE_EXTRAS.get(key)
        if types is not None:
            _check_type(value, types, key)
        parameters[key] = value
    parameters.update(_FORCED)
    return parameters
