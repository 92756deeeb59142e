"""The native `parameters` rules both client APIs share (sans-I/O): DashScope's own parameters,
thinking from a reasoning effort, the `top_p` clamp, tool choice, and the interpreter's
exclusion of function tools.

Every change a rule makes to what the client asked for is written into the notes, which the
`x-dashscope-proxy-notes` response header carries; docs/fields.md lists the rules.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from proxy.core.errors import InvalidRequest
from proxy.core.fields import FORCED, NATIVE_FIELD_BY_NAME, check_type

# Thinking per reasoning effort: (enable_thinking, thinking_budget or None for the model's own).
EFFORTS: dict[str, tuple[bool, int | None]] = {
    "none": (False, None),
    "minimal": (False, None),
    "low": (True, 1024),
    "medium": (True, 8192),
    "high": (True, 32768),
    "xhigh": (True, None),
    "max": (True, None),
}
EXCLUSIVE = (
    "DashScope's code interpreter and function calling are mutually exclusive. "
    "Send one or the other."
)
_TOP_P_FLOOR = 1e-6
_TOOL_CHOICES = ("auto", "none")


@dataclass(slots=True)
class Draft:
    """The native parameters being built from one request, and the notes on what changed."""

    body: dict[str, Any]  # the client's request, for rules that read another field
    parameters: dict[str, Any] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    def finish(self) -> dict[str, Any]:
        """The parameters, with the ones the proxy always sends."""
        self.parameters.update(FORCED)
        return self.parameters


def required_model(body: dict[str, Any]) -> str:
    model = body.get("model")
    if not isinstance(model, str) or not model:
        raise InvalidRequest("'model' is required and must be a non-empty string.", param="model")
    return model


def native_parameter(key: str, value: Any, draft: Draft) -> None:
    """A key the API's own table does not name: one of DashScope's parameters (checked), or an
    extra the proxy does not know yet (sent as it is)."""
    spec = NATIVE_FIELD_BY_NAME.get(key)
    if value is None:
        return
    if spec is None:
        draft.parameters[key] = value
        return
    check_type(value, spec.types, key)
    if key in FORCED:
        if value != FORCED[key]:
            draft.notes.append(f"{key}: always {FORCED[key]!r}")
    else:
        draft.parameters[key] = value


def set_thinking(effort: Any, name: str, draft: Draft) -> None:
    """Thinking as a reasoning effort asks for it, unless the request sets it itself."""
    if not isinstance(effort, str) or effort not in EFFORTS:
        raise InvalidRequest(f"'{name}' must be one of {', '.join(EFFORTS)}.", param=name)
    thinking, budget = EFFORTS[effort]
    sent, given = [], []
    if draft.body.get("enable_thinking") is None:
        draft.parameters["enable_thinking"] = thinking
        sent.append(f"enable_thinking={str(thinking).lower()}")
    else:
        given.append("enable_thinking")
    if budget is not None and draft.body.get("thinking_budget") is None:
        draft.parameters["thinking_budget"] = budget
        sent.append(f"thinking_budget={budget}")
    elif budget is not None:
        given.append("thinking_budget")
    what = f"sent as {', '.join(sent)}" if sent else "not sent"
    if given:
        what += f" (the request's {' and '.join(given)} {'wins' if len(given) == 1 else 'win'})"
    draft.notes.append(f"{name}: {effort!r} {what}")


def clamp_top_p(value: Any, draft: Draft) -> None:
    clamped = min(max(value, _TOP_P_FLOOR), 1.0)
    if clamped != value:
        draft.notes.append(f"top_p: {value} clamped to {clamped} (DashScope accepts (0, 1])")
    draft.parameters["top_p"] = clamped


def set_tool_choice(value: Any, function_names: list[str | None], draft: Draft) -> None:
    """A tool choice in chat-completions form; DashScope has no `required`."""
    if value == "required":
        if len(function_names) == 1 and function_names[0]:
            value = {"type": "function", "function": {"name": function_names[0]}}
            draft.notes.append("tool_choice: required sent as the only tool, by name")
        else:
            value = "auto"
            draft.notes.append("tool_choice: required sent as auto (DashScope has no 'required')")
    elif (isinstance(value, dict) and value.get("type") != "function") or (
        isinstance(value, str) and value not in _TOOL_CHOICES
    ):
        raise InvalidRequest(
            "'tool_choice' must be auto, none, required or a function by name.",
            param="tool_choice",
        )
    draft.parameters["tool_choice"] = value


def exclusive_tools(what: str) -> InvalidRequest:
    """The 400 for function tools with the code interpreter; `what` says how they were asked."""
    return InvalidRequest(f"'tools' {what}: {EXCLUSIVE}", param="tools")


def check_exclusive(parameters: dict[str, Any]) -> None:
    if parameters.get("enable_code_interpreter") and parameters.get("tools"):
        raise exclusive_tools("cannot be combined with 'enable_code_interpreter'")
