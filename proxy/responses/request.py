"""OpenAI Responses API request -> DashScope native request (sans-I/O).

`proxy/responses/fields.py` says what happens to every field; its rows become native
parameters here, with the rules chat completions shares (`proxy/core/parameters.py`), and the
input items become native turns (`proxy/responses/input.py`). Validation happens here, before
any response starts, so a bad request is a real 400 naming the problem; every value the proxy
changes or drops is reported in the notes.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from proxy.core.echoes import strip_echoes
from proxy.core.errors import InvalidRequest
from proxy.core.fields import STR, check_type
from proxy.core.native_request import native_request
from proxy.core.parameters import (
    Draft,
    check_exclusive,
    clamp_top_p,
    exclusive_tools,
    native_parameter,
    parallel_by_default,
    required_model,
    served_family,
    set_tool_choice,
)
from proxy.core.plan import Sealer, TranslationOptions, UpstreamPlan
from proxy.core.search import settle_search
from proxy.core.thinking import interpreter_thinking, set_thinking, settle_thinking
from proxy.responses.fields import RESPONSES_FIELD_BY_NAME
from proxy.responses.input import input_turns
from proxy.responses.web_search import (
    WEB_SEARCH_TYPES,
    forced_search,
    live_search,
    web_search_tool,
)

# The request fields a Response object repeats (its `echo`), as OpenAI returns them.
ResponseEcho = dict[str, Any]
Mapper = Callable[[Any, Draft], None]


@dataclass(frozen=True, slots=True)
class ResponseExtras:
    """What only a Responses answer needs from the request."""

    echo: ResponseEcho = field(default_factory=dict)  # the fields its Response repeats
    include_sources: bool = False  # `include`: `web_search_call.action.sources`
    sealer: Sealer | None = None  # `include`: `reasoning.encrypted_content`


# Values that ask for nothing the proxy lacks: not worth a note.
_DEFAULTS: dict[str, Any] = {"store": False, "truncation": "disabled", "background": False}
_INCLUDE_NOTES = {
    "code_interpreter_call.outputs": "DashScope does not return the interpreter's outputs",
}
_SOURCES = "web_search_call.action.sources"
_SEALED = "reasoning.encrypted_content"
_SUMMARIES = ("auto", "concise", "detailed")


def translate_responses_request(
    body: Any, options: TranslationOptions | None = None
) -> UpstreamPlan[ResponseExtras]:
    options = options or TranslationOptions()
    if not isinstance(body, dict):
        raise InvalidRequest("The request body must be a JSON object.")
    model = required_model(body)
    family = served_family(model, options.models)
    draft = Draft(body, family)
    for key, value in body.items():
        _field(key, value, draft)
    settle_search(draft, live=live_search(body.get("tools")), forced=forced_search(body))
    turns = input_turns(
        body.get("input"), body.get("instructions"), draft.notes, draft.parameters, options.sealer
    )
    echoes = strip_echoes(turns)
    draft.notes.extend(echoes.notes("input"))
    interpreter_thinking(draft)
    check_exclusive(draft.parameters)
    parallel_by_default(draft)
    settle_thinking(draft, "text.format")
    path, native = native_request(model, echoes.messages, draft.finish(), family)
    return UpstreamPlan(
        model=model,
        path=path,
        body=native,
        stream=bool(body.get("stream")),
        extras=_extras(body, options.sealer, draft.notes),
        notes=tuple(draft.notes),
        local_answer=echoes.local_answer,
    )


def _field(key: str, value: Any, draft: Draft) -> None:
    spec = RESPONSES_FIELD_BY_NAME.get(key)
    if spec is None:  # DashScope's own parameters, and extras, as in chat completions
        native_parameter(key, value, draft)
        return
    if value is None or _DEFAULTS.get(key, ...) == value:
        return
    check_type(value, spec.types, key)
    if spec.treatment == "refused":
        raise InvalidRequest(f"'{key}' is not supported: {_plain(spec.how)}.", param=key)
    if spec.treatment == "reported":
        draft.notes.append(f"{key}: dropped ({_plain(spec.how)})")
    elif key in _MAPPERS:
        _MAPPERS[key](value, draft)
    elif spec.treatment == "passed":
        draft.parameters[key] = value
    # The rest (`model`, `input`, `instructions`, `stream`, ...) is read where it is used.


def _plain(how: str) -> str:
    return how.replace("`", "")


def _set(name: str) -> Mapper:
    def mapper(value: Any, draft: Draft) -> None:
        draft.parameters[name] = value

    return mapper


def _tools(value: Any, draft: Draft) -> None:
    functions: list[dict[str, Any]] = []
    for i, tool in enumerate(value):
        kind = tool.get("type") if isinstance(tool, dict) else None
        if kind == "code_interpreter":
            draft.parameters["enable_code_interpreter"] = True
        elif kind == "function":
            functions.append(_function_tool(tool, f"tools[{i}]"))
        elif kind in WEB_SEARCH_TYPES:
            web_search_tool(tool, f"tools[{i}]", draft.notes)
        else:
            raise InvalidRequest(
                f"'tools[{i}]' has type {kind!r}; DashScope offers function tools, the "
                "code_interpreter and web_search.",
                param=f"tools[{i}]",
            )
    if functions and draft.parameters.get("enable_code_interpreter"):
        raise exclusive_tools("cannot combine function tools with code_interpreter")
    if functions:
        draft.parameters["tools"] = functions


def _function_tool(tool: dict[str, Any], where: str) -> dict[str, Any]:
    name = tool.get("name")
    if not isinstance(name, str) or not name:
        raise InvalidRequest(f"'{where}.name' is required.", param=f"{where}.name")
    function = {"name": name}
    for key in ("description", "parameters", "strict"):
        if tool.get(key) is not None:
            function[key] = tool[key]
    return {"type": "function", "function": function}


def _function_names(tools: Any) -> list[str | None]:
    """The function tools' names, as a chat request would list them."""
    if not isinstance(tools, list):
        return []
    return [
        name if isinstance(name := tool.get("name"), str) else None
        for tool in tools
        if isinstance(tool, dict) and tool.get("type") == "function"
    ]


def _tool_choice(value: Any, draft: Draft) -> None:
    kind = value.get("type") if isinstance(value, dict) else None
    if isinstance(value, str):
        set_tool_choice(value, _function_names(draft.body.get("tools")), draft)
    elif kind == "function" and isinstance(value.get("name"), str):
        draft.parameters["tool_choice"] = {"type": "function", "function": {"name": value["name"]}}
    elif kind == "code_interpreter":
        draft.parameters["tool_choice"] = "auto"
        draft.notes.append("tool_choice: code_interpreter sent as auto (DashScope cannot force it)")
    elif kind in WEB_SEARCH_TYPES:
        pass  # `search_options.forced_search`, set by settle_search
    else:
        raise InvalidRequest(
            "'tool_choice' must be auto, none, required, a function by name, or code_interpreter.",
            param="tool_choice",
        )


def _reasoning(value: Any, draft: Draft) -> None:
    effort = value.get("effort")
    if effort is not None:
        check_type(effort, STR, "reasoning.effort")
        set_thinking(effort, "reasoning.effort", draft)
    summary = value.get("summary")
    if summary is not None and summary not in _SUMMARIES:
        draft.notes.append(
            f"reasoning.summary: {summary!r} dropped (not auto, concise or detailed)"
        )


def _text(value: Any, draft: Draft) -> None:
    if value.get("verbosity") is not None:
        draft.notes.append("text.verbosity: dropped (no DashScope equivalent)")
    fmt = value.get("format")
    if fmt is None:
        return
    kind = fmt.get("type") if isinstance(fmt, dict) else None
    if kind == "json_object":
        draft.parameters["response_format"] = {"type": "json_object"}
    elif kind == "json_schema":
        schema = {k: v for k, v in fmt.items() if k != "type"}
        if not isinstance(schema.get("name"), str) or not isinstance(schema.get("schema"), dict):
            raise InvalidRequest(
                "'text.format' of type json_schema needs a `name` and a `schema` object.",
                param="text.format",
            )
        draft.parameters["response_format"] = {"type": "json_schema", "json_schema": schema}
    elif kind != "text":
        raise InvalidRequest(
            "'text.format.type' must be text, json_object or json_schema.", param="text.format"
        )


def _top_logprobs(value: Any, draft: Draft) -> None:
    draft.parameters["logprobs"] = True
    draft.parameters["top_logprobs"] = value


def _include(value: Any, draft: Draft) -> None:
    for entry in value:
        if entry == "message.output_text.logprobs":
            draft.parameters["logprobs"] = True
        elif entry not in (_SOURCES, _SEALED):  # read by `_extras`
            why = _INCLUDE_NOTES.get(entry, "not available") if isinstance(entry, str) else ""
            draft.notes.append(f"include: {entry!r} dropped ({why or 'not a string'})")


def _extras(body: dict[str, Any], sealer: Sealer | None, notes: list[str]) -> ResponseExtras:
    include = body.get("include") or ()
    if _SEALED in include and sealer is None:
        notes.append(f"include: {_SEALED!r} dropped (the proxy has no sealing key)")
    return ResponseExtras(
        echo=_echo(body),
        include_sources=_SOURCES in include,
        sealer=sealer if _SEALED in include else None,
    )


def _echo(body: dict[str, Any]) -> ResponseEcho:
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
    # Both cap everything generated, thinking included (docs/dashscope-protocol.md).
    "max_output_tokens": _set("max_completion_tokens"),
    "top_p": clamp_top_p,
    "tools": _tools,
    "tool_choice": _tool_choice,
    "reasoning": _reasoning,
    "text": _text,
    "top_logprobs": _top_logprobs,
    "include": _include,
}
