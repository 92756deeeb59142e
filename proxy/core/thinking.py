"""Thinking, per model family (sans-I/O): what a reasoning effort becomes, and what the proxy
does where DashScope refuses a combination in thinking mode that OpenAI accepts.

DashScope's thinking mode takes `tool_choice` only as `auto` or `none`, and no structured
output (`response_format` json_object / json_schema); `thinking_budget` must stay below
`max_completion_tokens`; a family that always thinks refuses `enable_thinking: false`. Each is
a predictable upstream 400 for a valid OpenAI request, so the proxy settles them here, by the
model table (`proxy/core/model_table.py`), and says what it did in the notes (docs/fields.md,
"Thinking mode").
"""

from __future__ import annotations

from typing import Any

from proxy.core.errors import InvalidRequest
from proxy.core.models import ModelFamily
from proxy.core.parameters import Draft

EFFORTS = ("none", "minimal", "low", "medium", "high", "xhigh", "max")
# thinking_budget per effort where the family takes a budget; higher efforts think unbounded.
BUDGETS = {"low": 1024, "medium": 8192, "high": 32768}
# The effort names DashScope takes natively (DeepSeek V4): `xhigh` is its most.
NATIVE_EFFORTS = {
    "low": "low",
    "medium": "medium",
    "high": "high",
    "xhigh": "xhigh",
    "max": "xhigh",
}
_NO_THINKING = ("none", "minimal")
_STRUCTURED = ("json_object", "json_schema")


def set_thinking(effort: Any, name: str, draft: Draft) -> None:
    """Thinking as a reasoning effort asks for it, in the family's terms, unless the request
    sets it itself; the note says what was sent."""
    if not isinstance(effort, str) or effort not in EFFORTS:
        raise InvalidRequest(f"'{name}' must be one of {', '.join(EFFORTS)}.", param=name)
    family = draft.family
    dropped = _dropped_because(effort, family)
    if dropped:
        draft.notes.append(f"{name}: {effort!r} dropped ({dropped})")
        return
    thinking = effort not in _NO_THINKING
    sent: list[str] = []
    given: list[str] = []
    if family.thinking == "optional":
        _send("enable_thinking", thinking, draft, sent, given)
    if thinking and family.effort == "budget" and effort in BUDGETS:
        _send("thinking_budget", BUDGETS[effort], draft, sent, given)
    if thinking and family.effort == "native":
        _send("reasoning_effort", NATIVE_EFFORTS[effort], draft, sent, given)
    what = f"sent as {', '.join(sent)}" if sent else "not sent"
    if given:
        what += f" (the request's {' and '.join(given)} {'wins' if len(given) == 1 else 'win'})"
    draft.notes.append(f"{name}: {effort!r} {what}")


def _dropped_because(effort: str, family: ModelFamily) -> str | None:
    """Why the effort cannot reach this family, or None when it can."""
    if family.thinking == "never":
        return f"the {family.name} family does not think"
    if family.thinking == "always" and effort in _NO_THINKING:
        return f"the {family.name} family always thinks; DashScope refuses enable_thinking=false"
    if family.effort == "none":
        return f"the {family.name} family takes no effort or thinking budget"
    return None


def _send(key: str, value: Any, draft: Draft, sent: list[str], given: list[str]) -> None:
    # A key the request sets itself (through extra_body) wins over the effort's.
    if draft.body.get(key) is not None and key != "reasoning_effort":
        given.append(key)
        return
    draft.parameters[key] = value
    shown = str(value).lower() if isinstance(value, bool) else value
    sent.append(f"{key}={shown!r}" if isinstance(value, str) else f"{key}={shown}")


def settle_thinking(draft: Draft, format_name: str) -> None:
    """Resolve what DashScope refuses in thinking mode; `format_name` is the client's name for
    the structured-output field (`response_format`, or `text.format` on the Responses API)."""
    _bound_budget(draft)
    parameters = draft.parameters
    forced = isinstance(parameters.get("tool_choice"), dict)
    structured = _structured(parameters.get("response_format"))
    if not forced and structured is None:
        return
    family = draft.family
    if family.thinking == "always" or parameters.get("enable_code_interpreter"):
        _keep_thinking(draft, structured, format_name)
    elif family.thinking == "optional":
        _thinking_off(draft, "tool_choice" if forced else format_name, forced, structured)


def _structured(response_format: Any) -> str | None:
    kind = response_format.get("type") if isinstance(response_format, dict) else None
    return kind if kind in _STRUCTURED else None


def _keep_thinking(draft: Draft, structured: str | None, format_name: str) -> None:
    """Thinking cannot be turned off: by the family, or because the interpreter needs it.
    Structured output is refused; what is left is a forced function, which becomes `auto`."""
    family = draft.family
    why = (
        f"the {family.name} family always thinks"
        if family.thinking == "always"
        else "the code interpreter runs only while thinking"
    )
    if structured is not None:
        raise InvalidRequest(
            f"'{format_name}' of type {structured} cannot be served: DashScope refuses structured "
            f"output in thinking mode, and {why}. Use a model whose thinking can be turned off "
            "(such as qwen-plus), or ask for JSON in the prompt instead.",
            param=format_name,
        )
    draft.parameters["tool_choice"] = "auto"
    draft.notes.append(
        f"tool_choice: a named function sent as auto (DashScope takes only auto or none in "
        f"thinking mode, and {why})"
    )


def _thinking_off(draft: Draft, name: str, forced: bool, structured: str | None) -> None:
    """Turn thinking off for this request, which the family allows; a note when it would have
    thought (by the request, its effort or the family's default)."""
    parameters = draft.parameters
    thinking = parameters.get("enable_thinking", draft.family.thinks_by_default)
    parameters["enable_thinking"] = False
    for key in ("thinking_budget", "reasoning_effort"):
        parameters.pop(key, None)
    if thinking:
        what = "a forced tool_choice" if forced else f"response_format {structured}"
        draft.notes.append(
            f"{name}: sent with enable_thinking=false (DashScope refuses {what} in thinking mode)"
        )


def _bound_budget(draft: Draft) -> None:
    """DashScope wants thinking_budget below max_completion_tokens (the cap on everything it
    generates, thinking included), so a larger budget is lowered to fit."""
    parameters = draft.parameters
    budget = parameters.get("thinking_budget")
    limit = parameters.get("max_completion_tokens")
    if not isinstance(budget, int) or not isinstance(limit, int) or budget < limit:
        return
    if limit > 1:
        parameters["thinking_budget"] = limit - 1
        draft.notes.append(
            f"thinking_budget: {budget} lowered to {limit - 1} (DashScope needs it below "
            "max_completion_tokens)"
        )
    else:
        del parameters["thinking_budget"]
        draft.notes.append("thinking_budget: dropped (max_completion_tokens leaves no room)")


def interpreter_thinking(draft: Draft) -> None:
    """The interpreter runs only while thinking, so asking for it turns thinking on, unless the
    request decides thinking itself (`enable_thinking`, or an effort, which has its own note)."""
    parameters = draft.parameters
    if not parameters.get("enable_code_interpreter") or "enable_thinking" in draft.body:
        return
    if "enable_thinking" not in parameters:
        tools = draft.body.get("tools")
        hosted = isinstance(tools, list) and any(
            isinstance(tool, dict) and tool.get("type") == "code_interpreter" for tool in tools
        )
        asked = "tools: code_interpreter" if hosted else "enable_code_interpreter:"
        draft.notes.append(
            f"{asked} also sent as enable_thinking=true (the interpreter runs only while thinking)"
        )
        parameters["enable_thinking"] = True
