"""Message content on spans, only when the operator opts in (no OpenTelemetry import).

The GenAI conventions record content as `gen_ai.input.messages`, `gen_ai.output.messages` and
`gen_ai.system_instructions` (JSON, in their role/parts shape) and an interpreter run's code as
its `gen_ai.tool.call.arguments`. Everything goes through the traffic log's redactor first,
with the exchange's own keys: a key pasted in a prompt is masked on a span as in the log.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import orjson

from proxy.core.summary import ChoiceSummary, ExchangeSummary
from proxy.server.telemetry_attributes import Attributes
from proxy.traffic.redact import Redactor

Part = dict[str, Any]
Message = dict[str, Any]


def content_attributes(
    request: object, summary: ExchangeSummary, redactor: Redactor, secrets: tuple[str, ...]
) -> Attributes:
    """The chat span's content attributes, redacted and JSON-encoded."""
    values: dict[str, object] = {}
    if isinstance(request, Mapping):
        if isinstance(request.get("messages"), list):
            values["gen_ai.input.messages"] = [_chat_message(m) for m in request["messages"]]
        elif "input" in request:
            values["gen_ai.input.messages"] = _responses_input(request["input"])
        instructions = request.get("instructions")
        if isinstance(instructions, str) and instructions:
            values["gen_ai.system_instructions"] = [_text(instructions)]
    if summary.choices:
        values["gen_ai.output.messages"] = [_output(choice) for choice in summary.choices]
    return {name: _encoded(value, redactor, secrets) for name, value in values.items()}


def code_attributes(code: str, redactor: Redactor, secrets: tuple[str, ...]) -> Attributes:
    return {"gen_ai.tool.call.arguments": _encoded({"code": code}, redactor, secrets)}


def _encoded(value: object, redactor: Redactor, secrets: tuple[str, ...]) -> str:
    return orjson.dumps(redactor.redact(value, secrets)).decode()


def _text(text: str) -> Part:
    return {"type": "text", "content": text}


def _parts(content: object) -> list[Part]:
    """A message's content (a string or a list of typed parts, either API) as parts."""
    if isinstance(content, str):
        return [_text(content)] if content else []
    if not isinstance(content, list):
        return []
    parts: list[Part] = []
    for part in content:
        if not isinstance(part, Mapping):
            continue
        text = part.get("text")
        if isinstance(text, str):
            parts.append(_text(text))
        else:  # media: its kind, not its bytes or URL
            parts.append({"type": str(part.get("type", "unknown"))})
    return parts


def _chat_message(message: object) -> Message:
    if not isinstance(message, Mapping):
        return {"role": "unknown", "parts": []}
    role = str(message.get("role", "unknown"))
    if role == "tool":
        response = {"type": "tool_call_response", "id": message.get("tool_call_id")}
        return {"role": role, "parts": [{**response, "response": message.get("content")}]}
    parts = _parts(message.get("content"))
    for call in message.get("tool_calls") or ():
        function = call.get("function") if isinstance(call, Mapping) else None
        if isinstance(function, Mapping):
            parts.append(
                {
                    "type": "tool_call",
                    "id": call.get("id"),
                    "name": function.get("name"),
                    "arguments": function.get("arguments"),
                }
            )
    return {"role": role, "parts": parts}


def _responses_input(value: object) -> list[Message]:
    if isinstance(value, str):
        return [{"role": "user", "parts": [_text(value)]}]
    if not isinstance(value, list):
        return []
    return [_responses_item(item) for item in value if isinstance(item, Mapping)]


def _responses_item(item: Mapping[str, Any]) -> Message:
    kind = item.get("type", "message")
    if kind == "function_call":
        call = {"type": "tool_call", "id": item.get("call_id"), "name": item.get("name")}
        return {"role": "assistant", "parts": [{**call, "arguments": item.get("arguments")}]}
    if kind == "function_call_output":
        response = {"type": "tool_call_response", "id": item.get("call_id")}
        return {"role": "tool", "parts": [{**response, "response": item.get("output")}]}
    if kind == "message":
        return {"role": str(item.get("role", "user")), "parts": _parts(item.get("content"))}
    return {"role": "user", "parts": [{"type": str(kind)}]}


def _output(choice: ChoiceSummary) -> Message:
    parts: list[Part] = []
    if choice.reasoning:
        parts.append({"type": "reasoning", "content": choice.reasoning})
    if choice.answer:
        parts.append(_text(choice.answer))
    for call in choice.function_calls:
        parts.append(
            {
                "type": "tool_call",
                "id": call.call_id,
                "name": call.name,
                "arguments": call.arguments,
            }
        )
    return {"role": "assistant", "parts": parts, "finish_reason": choice.finish_reason or ""}
