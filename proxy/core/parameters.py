"""The native `parameters` rules both client APIs share (sans-I/O): the model's family (and the
refusal of families the native protocol does not serve), DashScope's own parameters, the
`top_p` clamp, tool choice and OpenAI's parallel tool calls, and the interpreter's exclusion of
function tools. Thinking, per family, is in `proxy/core/thinking.py`.

Every change a rule makes to what the client asked for is written into the notes, which the
`x-dashscope-proxy-notes` response header carries; docs/fields.md lists the rules.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from proxy.core.errors import InvalidRequest
from proxy.core.fields import FORCED, NATIVE_FIELD_BY_NAME, check_type
from proxy.core.models import UNKNOWN, ModelFamily, ModelTable

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
    family: ModelFamily = UNKNOWN  # the model's, from the model table
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


def served_family(model: str, table: ModelTable) -> ModelFamily:
    """The model's family; a 400 before any upstream call for a family the native protocol does
    not serve (docs/models.md)."""
    family = table.family_of(model)
    if family.endpoint == "compatible-only":
        raise InvalidRequest(
            f"'model': {model} is in the {family.name} family, which DashScope serves only "
            "through its OpenAI-compatible mode (/compatible-mode/v1). This proxy speaks "
            "DashScope's native protocol, so it cannot serve it: call DashScope's compatible "
            "mode directly for this model.",
            param="model",
            code="model_not_supported",
        )
    return family


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


def parallel_by_default(draft: Draft) -> None:
    """OpenAI calls several tools at once unless told not to; DashScope calls one unless told
    to. A request with tools that does not say gets OpenAI's default, which is what it means."""
    if draft.parameters.get("tools") and draft.body.get("parallel_tool_calls") is None:
        draft.parameters["parallel_tool_calls"] = True


def exclusive_tools(what: str) -> InvalidRequest:
    """The 400 for function tools with the code interpreter; `what` says how they were asked."""
    return InvalidRequest(f"'tools' {what}: {EXCLUSIVE}", param="tools")


def check_exclusive(parameters: dict[str, Any]) -> None:
    if parameters.get("enable_code_interpreter") and parameters.get("tools"):
        raise exclusive_tools("cannot be combined with 'enable_code_interpreter'")
