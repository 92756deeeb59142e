"""History items of the non-function tool types -> native tool calls and results (sans-I/O).

A client sends back the calls it ran and their outputs. Each call becomes an assistant tool
call to the function its tool was offered as (`proxy/responses/tools.py` names it), with the
arguments that function takes; each output becomes a `tool` message with the text the model
should read.
"""

from __future__ import annotations

from typing import Any

import orjson

from proxy.core.errors import InvalidRequest
from proxy.core.native_request import NativeToolCall, tool_call
from proxy.responses.tools import upstream_name

CALLS = ("custom_tool_call", "local_shell_call", "shell_call", "apply_patch_call")
OUTPUTS = (
    "custom_tool_call_output",
    "local_shell_call_output",
    "shell_call_output",
    "apply_patch_call_output",
)


def history_call(item: dict[str, Any], where: str) -> NativeToolCall:
    """A call item of one of the `CALLS` types, as the native call the model made."""
    kind = item["type"]
    call_id = _string(item, "call_id", where)
    if kind == "custom_tool_call":
        name = upstream_name(_string(item, "name", where), item.get("namespace"))
        return tool_call(call_id, name, _json({"input": _text(item, "input", where)}))
    if kind == "local_shell_call":
        action = _object(item, "action", where)
        arguments = {k: action.get(k) for k in ("command", "working_directory", "timeout_ms")}
        return tool_call(call_id, "local_shell", _json(arguments))
    if kind == "shell_call":
        action = _object(item, "action", where)
        arguments = {k: action.get(k) for k in ("commands", "timeout_ms", "max_output_length")}
        return tool_call(call_id, "shell", _json(arguments))
    operation = _object(item, "operation", where)
    return tool_call(call_id, "apply_patch", _json(operation))


def history_output(item: dict[str, Any], where: str) -> tuple[str, Any]:
    """An output item of one of the `OUTPUTS` types: the call it answers, and its output (a
    string or content parts, as a function call's output)."""
    kind = item["type"]
    if kind == "local_shell_call_output":  # OpenAI names the call by `id` here
        call_id = item.get("call_id") or _string(item, "id", where)
        return call_id, item.get("output")
    call_id = _string(item, "call_id", where)
    if kind == "shell_call_output":
        return call_id, _shell_output(item.get("output"), f"{where}.output")
    if kind == "apply_patch_call_output":
        output = item.get("output")
        return call_id, f"{item.get('status')}: {output}" if output else str(item.get("status"))
    return call_id, item.get("output")


def _shell_output(chunks: Any, where: str) -> str:
    """Each command's stdout, stderr and outcome, as a person reading a terminal would."""
    if not isinstance(chunks, list):
        raise InvalidRequest(f"'{where}' must be an array of command outputs.", param=where)
    texts = []
    for chunk in chunks:
        chunk = chunk if isinstance(chunk, dict) else {}
        outcome = chunk.get("outcome") or {}
        ending = (
            f"exit code {outcome.get('exit_code')}"
            if outcome.get("type") == "exit"
            else str(outcome.get("type"))
        )
        streams = [chunk.get(name) for name in ("stdout", "stderr")]
        texts.append("".join(s for s in streams if isinstance(s, str)) + f"[{ending}]")
    return "\n".join(texts)


def _json(value: dict[str, Any]) -> str:
    return orjson.dumps({k: v for k, v in value.items() if v is not None}).decode()


def _string(item: dict[str, Any], key: str, where: str) -> str:
    value = item.get(key)
    if not isinstance(value, str) or not value:
        raise InvalidRequest(f"'{where}.{key}' is required.", param=f"{where}.{key}")
    return value


def _text(item: dict[str, Any], key: str, where: str) -> str:
    value = item.get(key)
    if not isinstance(value, str):
        raise InvalidRequest(f"'{where}.{key}' must be a string.", param=f"{where}.{key}")
    return value


def _object(item: dict[str, Any], key: str, where: str) -> dict[str, Any]:
    value = item.get(key)
    if not isinstance(value, dict):
        raise InvalidRequest(f"'{where}.{key}' must be an object.", param=f"{where}.{key}")
    return value
