"""The simulated model's tool use: call a tool the request declares, then answer from its result.

Like a model, it reads the functions in `parameters.tools`: it calls one, with arguments made
from that function's JSON schema, and once the conversation ends with the tool's result it
answers by quoting it. A directive in the last user message chooses the call:
`[sim-call:NAME]`, or `[sim-call:NAME {"json": "arguments"}]`, so a test can have a coding
agent run a harmless command (`[sim-call:exec_command {"cmd": "echo hi"}]`). Without one it
calls the function `tool_choice` names, else the first declared one. Its arguments fit the
function's schema (`proxy.simulator.schema_example`).
"""

import json
import re
from collections.abc import Mapping
from typing import Any

from proxy.simulator.request_view import last_user_text, messages, parameters, text_of
from proxy.simulator.schema_example import example
from proxy.simulator.scripts import Script
from proxy.simulator.timeline import CallDelta, Step, call, finish, say_text, think_text

DIRECTIVE = re.compile(r"\[sim-call:([A-Za-z0-9_.\-]+)")
ANSWER_PREFIX = "The tool returned:"
_CALL_REQUEST_ID = "7a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d"
_ANSWER_REQUEST_ID = "8b2c3d4e-5f6a-4b7c-9d8e-0f1a2b3c4d5e"


def wants_tool_use(body: Mapping[str, Any]) -> bool:
    """Whether a request with tools gets this behaviour: a directive asks for it, or no
    `get_weather` is declared (that one keeps its recorded script)."""
    names = [_name(tool) for tool in _tools(body)]
    return DIRECTIVE.search(last_user_text(body)) is not None or "get_weather" not in names


def tool_use(body: Mapping[str, Any], thinking: bool) -> Script:
    """The call, or, when the conversation ends with its result, the answer."""
    history = messages(body)
    if history and history[-1].get("role") == "tool":
        result = text_of(history[-1].get("content")).strip()
        return _answer(f"{ANSWER_PREFIX} {result}", thinking)
    name, arguments = chosen_call(body)
    calls = sum(1 for message in history if message.get("role") == "tool")
    steps: list[Step] = []
    if thinking:
        steps += think_text(f"I should call {name}.")
    # Arguments in two pieces, the call's id and name on the first, as DashScope streams them.
    half = len(arguments) // 2
    steps.append(call(CallDelta(0, arguments[:half], f"call_sim_{calls}", name), tokens=8))
    steps.append(call(CallDelta(0, arguments[half:]), tokens=8, reason="tool_calls"))
    return Script(_CALL_REQUEST_ID, 120, tuple(steps))


def chosen_call(body: Mapping[str, Any]) -> tuple[str, str]:
    """The tool to call and its arguments (JSON text): the directive's, else the one
    `tool_choice` names, else the first tool, with arguments from its schema."""
    tools = {_name(tool): tool for tool in _tools(body)}
    text = last_user_text(body)
    match = DIRECTIVE.search(text)
    if match is None:
        name = _forced(body) if _forced(body) in tools else next(iter(tools), "")
        return name, json.dumps(example(_schema(tools.get(name))))
    name = match.group(1)
    rest = text[match.end() :].lstrip()
    if rest.startswith("{"):
        arguments, _ = json.JSONDecoder().raw_decode(rest)
        return name, json.dumps(arguments)
    return name, json.dumps(example(_schema(tools.get(name))))


def _answer(text: str, thinking: bool) -> Script:
    steps: list[Step] = []
    if thinking:
        steps += think_text("The tool answered; I will tell the user what it said.")
    steps += say_text(text)
    steps.append(finish("stop"))
    return Script(_ANSWER_REQUEST_ID, 200, tuple(steps))


def _tools(body: Mapping[str, Any]) -> list[dict[str, Any]]:
    tools = parameters(body).get("tools")
    return [t for t in tools if isinstance(t, dict)] if isinstance(tools, list) else []


def _name(tool: dict[str, Any]) -> str:
    function = tool.get("function")
    name = function.get("name") if isinstance(function, dict) else None
    return name if isinstance(name, str) else ""


def _forced(body: Mapping[str, Any]) -> str:
    """The function `tool_choice` names (instructor and llama-index force their schema's)."""
    choice = parameters(body).get("tool_choice")
    function = choice.get("function") if isinstance(choice, dict) else None
    name = function.get("name") if isinstance(function, dict) else None
    return name if isinstance(name, str) else ""


def _schema(tool: dict[str, Any] | None) -> Any:
    function = tool.get("function") if tool else None
    return function.get("parameters") if isinstance(function, dict) else None
