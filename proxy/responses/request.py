"""OpenAI Responses API request -> DashScope native request (sans-I/O).

A Responses request becomes the chat-completions request that means the same, and the chat
translator does the rest: one upstream path and one set of rules for both APIs (why:
docs/architecture.md).
`proxy/responses_fields.py` says what happens to every field. Validation happens here, before
any response starts, so a bad request is a real 400 naming the problem.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from proxy.chat.fields import check_type
from proxy.chat.request import TranslationOptions, UpstreamPlan, translate_chat_request
from proxy.core.errors import InvalidRequest
from proxy.responses.fields import RESPONSES_FIELD_BY_NAME
from proxy.responses.input import input_messages

# Values that ask for nothing the proxy lacks: not worth a note.
_DEFAULTS: dict[str, Any] = {"store": False, "truncation": "disabled", "background": False}
_NO_THINKING = ("none", "minimal")
_EFFORTS = (
    "none",
    "minimal",
    "low",
    "medium",
    "high",
    "xhigh",
    "max",
)  # as chat's reasoning_effort
_INCLUDE_NOTES = {
    "code_interpreter_call.outputs": "DashScope does not return the interpreter's outputs",
    "reasoning.encrypted_content": "thinking is returned as reasoning_text, not encrypted",
}

Mapper = Callable[[Any, dict[str, Any], list[str]], None]


def translate_responses_request(
    body: Any, options: TranslationOptions | None = None
) -> UpstreamPlan:
    if not isinstance(body, dict):
        raise InvalidRequest("The request body must be a JSON object.")
    notes: list[str] = []
    chat: dict[str, Any] = {}
    for key, value in body.items():
        spec = RESPONSES_FIELD_BY_NAME.get(key)
        if spec is None:  # unknown: a DashScope extra, sent on as in chat completions
            chat[key] = value
            continue
        if value is None or _DEFAULTS.get(key, ...) == value:
            continue
        check_type(value, spec.types, key)
        if spec.treatment == "refused":
            raise InvalidRequest(f"'{key}' is not supported: {_plain(spec.how)}.", param=key)
        if spec.treatment == "reported":
            notes.append(f"{key}: dropped ({_plain(spec.how)})")
        elif key in _MAPPERS:
            _MAPPERS[key](value, chat, notes)
        elif spec.treatment == "passed":
            chat[key] = value
    _code_interpreter(body, chat)
    instructions = body.get("instructions")
    chat["messages"] = input_messages(body.get("input"), instructions, notes)
    plan = translate_chat_request(chat, options or TranslationOptions())
    plan.notes[:0] = notes
    plan.include_usage = True  # the Response object always carries usage
    plan.echo = _echo(body)
    return plan


def _plain(how: str) -> str:
    return how.replace("`", "")


def _set(name: str) -> Mapper:
    def mapper(value: Any, chat: dict[str, Any], notes: list[str]) -> None:
        chat[name] = value

    return mapper


def _tools(value: Any, chat: dict[str, Any], notes: list[str]) -> None:
    functions: list[dict[str, Any]] = []
    for i, tool in enumerate(value):
        kind = tool.get("type") if isinstance(tool, dict) else None
        if kind == "code_interpreter":
            chat["enable_code_interpreter"] = True
        elif kind == "function":
            functions.append(_function_tool(tool, f"tools[{i}]"))
        else:
            raise InvalidRequest(
                f"'tools[{i}]' has type {kind!r}; DashScope offers function tools and the "
                "code_interpreter.",
                param=f"tools[{i}]",
            )
    if functions and chat.get("enable_code_interpreter"):
        raise InvalidRequest(
            "'tools' cannot combine function tools with code_interpreter: DashScope's code "
            "interpreter and function calling are mutually exclusive. Send one or the other.",
            param="tools",
        )
    if functions:
        chat["tools"] = functions


def _function_tool(tool: dict[str, Any], where: str) -> dict[str, Any]:
    name = tool.get("name")
    if not isinstance(name, str) or not name:
        raise InvalidRequest(f"'{where}.name' is required.", param=f"{where}.name")
    function = {"name": name}
    for key in ("description", "parameters", "strict"):
        if tool.get(key) is not None:
            function[key] = tool[key]
    return {"type": "function", "function": function}


def _tool_choice(value: Any, chat: dict[str, Any], notes: list[str]) -> None:
    if isinstance(value, str):
        chat["tool_choice"] = value  # the chat translator checks the value
        return
    kind = value.get("type")
    if kind == "function" and isinstance(value.get("name"), str):
        chat["tool_choice"] = {"type": "function", "function": {"name": value["name"]}}
    elif kind == "code_interpreter":
        chat["tool_choice"] = "auto"
        notes.append("tool_choice: code_interpreter sent as auto (DashScope cannot force it)")
    else:
        raise InvalidRequest(
            "'tool_choice' must be auto, none, required, a function by name, or code_interpreter.",
            param="tool_choice",
        )


def _reasoning(value: Any, chat: dict[str, Any], notes: list[str]) -> None:
    effort = value.get("effort")
    if effort is not None:
        check_type(effort, (str,), "reasoning.effort")
        if effort not in _EFFORTS:
            # Checked here: the chat translator's 400 would name `reasoning_effort`, a field
            # Responses clients never sent.
            raise InvalidRequest(
                f"'reasoning.effort' must be one of {', '.join(_EFFORTS)}.",
                param="reasoning.effort",
            )
        chat["reasoning_effort"] = effort
    if value.get("summary") is not None:
        notes.append("reasoning.summary: dropped (the full thinking is returned as reasoning_text)")


def _text(value: Any, chat: dict[str, Any], notes: list[str]) -> None:
    if value.get("verbosity") is not None:
        notes.append("text.verbosity: dropped (no DashScope equivalent)")
    fmt = value.get("format")
    if fmt is None:
        return
    kind = fmt.get("type") if isinstance(fmt, dict) else None
    if kind == "json_object":
        chat["response_format"] = {"type": "json_object"}
    elif kind == "json_schema":
        schema = {k: v for k, v in fmt.items() if k != "type"}
        if not isinstance(schema.get("name"), str) or not isinstance(schema.get("schema"), dict):
            raise InvalidRequest(
                "'text.format' of type json_schema needs a `name` and a `schema` object.",
                param="text.format",
            )
        chat["response_format"] = {"type": "json_schema", "json_schema": schema}
    elif kind != "text":
        raise InvalidRequest(
            "'text.format.type' must be text, json_object or json_schema.", param="text.format"
        )


def _top_logprobs(value: Any, chat: dict[str, Any], notes: list[str]) -> None:
    chat["logprobs"] = True
    chat["top_logprobs"] = value


def _include(value: Any, chat: dict[str, Any], notes: list[str]) -> None:
    for entry in value:
        if entry == "message.output_text.logprobs":
            chat["logprobs"] = True
        else:
            why = _INCLUDE_NOTES.get(entry, "not available") if isinstance(entry, str) else ""
            notes.append(f"include: {entry!r} dropped ({why or 'not a string'})")


def _code_interpreter(body: dict[str, Any], chat: dict[str, Any]) -> None:
    """The interpreter runs only while thinking, so asking for it turns thinking on, unless the
    request says otherwise."""
    if not chat.get("enable_code_interpreter") or "enable_thinking" in body:
        return
    if chat.get("reasoning_effort") not in _NO_THINKING:
        chat["enable_thinking"] = True


def _echo(body: dict[str, Any]) -> dict[str, Any]:
    """The request fields a Response object repeats, as OpenAI returns them."""
    reasoning = body.get("reasoning") or {}
    return {
        "instructions": body.get("instructions"),
        "max_output_tokens": body.get("max_output_tokens"),
        "metadata": body.get("metadata") or {},
        "parallel_tool_calls": body.get("parallel_tool_calls", True) is not False,
        "previous_response_id": None,
        "reasoning": {"effort": reasoning.get("effort"), "summary": reasoning.get("summary")},
        "store": False,
        "temperature": body.get("temperature"),
        "text": body.get("text") or {"format": {"type": "text"}},
        "tool_choice": body.get("tool_choice") or "auto",
        "tools": body.get("tools") or [],
        "top_p": body.get("top_p"),
        "truncation": "disabled",
        "user": body.get("user"),
        "background": False,
    }


_MAPPERS: dict[str, Mapper] = {
    "model": _set("model"),
    "stream": _set("stream"),
    "max_output_tokens": _set("max_tokens"),
    "top_p": _set("top_p"),
    "tools": _tools,
    "tool_choice": _tool_choice,
    "reasoning": _reasoning,
    "text": _text,
    "top_logprobs": _top_logprobs,
    "include": _include,
}
