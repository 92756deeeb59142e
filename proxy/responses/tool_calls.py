"""A model-requested call, shaped as the item type its tool was declared as (sans-I/O).

DashScope returns every client-executed call as a function call; `proxy/responses/tools.py`
says which client tool its name stands for. The encoder (`proxy/responses/stream.py`) opens a
`CallItem` per call and asks it how to stream:

- `function` (namespaced or not): a `function_call` item, its arguments streamed by
  `response.function_call_arguments.*`; a namespaced one carries its original `name` and
  `namespace`.
- `custom`: a `custom_tool_call` item whose `input` is the string the function's one parameter
  held, streamed by `response.custom_tool_call_input.*` as the JSON of the arguments decodes.
- `local_shell`, `shell`, `apply_patch`: a `local_shell_call`, `shell_call` or
  `apply_patch_call` item, as OpenAI shapes them. OpenAI streams no arguments for these, and
  their fields are known only once the arguments are whole, so the item is announced when the
  call ends (`deferred`), complete.
"""

from __future__ import annotations

from typing import Any, Literal, NotRequired, TypedDict

import orjson

from proxy.responses.tools import ClientTool

CallStatus = Literal["in_progress", "completed", "incomplete"]
_ITEM_TYPES = {
    "function": "function_call",
    "custom": "custom_tool_call",
    "local_shell": "local_shell_call",
    "shell": "shell_call",
    "apply_patch": "apply_patch_call",
}
# The item id's prefix, by item type.
_PREFIXES = {
    "function_call": "fc",
    "custom_tool_call": "ctc",
    "local_shell_call": "lsh",
    "shell_call": "sh",
    "apply_patch_call": "apc",
}


class FunctionCallItem(TypedDict):
    id: str
    type: Literal["function_call"]
    status: CallStatus
    call_id: str
    name: str
    arguments: str
    namespace: NotRequired[str]


class CustomToolCallItem(TypedDict):
    id: str
    type: Literal["custom_tool_call"]
    status: CallStatus
    call_id: str
    name: str
    input: str
    namespace: NotRequired[str]


class BuiltInCallItem(TypedDict):
    """A `local_shell_call` (`action`), `shell_call` (`action`) or `apply_patch_call`
    (`operation`)."""

    id: str
    type: Literal["local_shell_call", "shell_call", "apply_patch_call"]
    status: CallStatus
    call_id: str
    action: NotRequired[dict[str, Any]]
    operation: NotRequired[dict[str, Any]]


CallOutputItem = FunctionCallItem | CustomToolCallItem | BuiltInCallItem


class CallItem:
    """An open call: where it is in the output, and its arguments so far."""

    __slots__ = ("arguments", "call_id", "id", "index", "input", "name", "tool")

    def __init__(self, call_id: str, name: str, tool: ClientTool | None) -> None:
        self.index = -1  # until announced
        self.id = ""
        self.call_id = call_id
        self.name = name  # upstream's
        self.tool = tool
        self.arguments: list[str] = []
        self.input = InputDecoder() if self.type == "custom_tool_call" else None

    @property
    def type(self) -> str:
        kind = self.tool.kind if self.tool else "function"
        return _ITEM_TYPES[kind]

    @property
    def deferred(self) -> bool:
        """Announced only when its arguments are whole (a built-in's call)."""
        return self.type not in ("function_call", "custom_tool_call")

    def announce(self, index: int, id_prefix: str) -> None:
        self.index = index
        self.id = f"{_PREFIXES[self.type]}_{id_prefix}_{index}"

    def item(self, status: CallStatus) -> CallOutputItem:
        arguments = "".join(self.arguments)
        tool, name = self.tool, self.name
        if tool is None or tool.kind == "function":
            call: FunctionCallItem = {
                "id": self.id,
                "type": "function_call",
                "status": status,
                "call_id": self.call_id,
                "name": tool.name if tool else name,
                "arguments": arguments,
            }
            if tool and tool.namespace:
                call["namespace"] = tool.namespace
            return call
        if tool.kind == "custom":
            custom: CustomToolCallItem = {
                "id": self.id,
                "type": "custom_tool_call",
                "status": status,
                "call_id": self.call_id,
                "name": tool.name,
                "input": custom_input(arguments) if status == "completed" else self._streamed(),
            }
            if tool.namespace:
                custom["namespace"] = tool.namespace
            return custom
        return self._built_in(tool, _object(arguments), status)

    def _streamed(self) -> str:
        return self.input.text if self.input else ""

    def _built_in(
        self, tool: ClientTool, arguments: dict[str, Any], status: CallStatus
    ) -> BuiltInCallItem:
        item: BuiltInCallItem = {
            "id": self.id,
            "type": "apply_patch_call",
            "status": status,
            "call_id": self.call_id,
        }
        if tool.kind == "apply_patch":
            # Its status has no `incomplete`: a call cut short is still in progress.
            item["status"] = "completed" if status == "completed" else "in_progress"
            item["operation"] = _operation(arguments)
        elif tool.kind == "shell":
            item["type"] = "shell_call"
            item["action"] = {
                "commands": _strings(arguments.get("commands")),
                "timeout_ms": _integer(arguments.get("timeout_ms")),
                "max_output_length": _integer(arguments.get("max_output_length")),
            }
        else:
            item["type"] = "local_shell_call"
            item["action"] = {
                "type": "exec",
                "command": _strings(arguments.get("command")),
                "env": {},
                "timeout_ms": _integer(arguments.get("timeout_ms")),
                "working_directory": _string(arguments.get("working_directory")),
                "user": None,
            }
        return item


def custom_input(arguments: str) -> str:
    """The custom tool's input from its function's arguments: the `input` string (or the one
    string the model put under another key); else the arguments as they came."""
    parsed = _object(arguments)
    value = parsed.get("input")
    if isinstance(value, str):
        return value
    strings = [v for v in parsed.values() if isinstance(v, str)]
    return strings[0] if len(parsed) == 1 and strings else arguments


class InputDecoder:
    """The `input` string of `{"input": "..."}` arguments, decoded as their pieces arrive, so
    a custom call's input streams rather than arriving whole at the end."""

    __slots__ = ("_at", "_closed", "_raw", "text")

    def __init__(self) -> None:
        self._raw = ""
        self._at = -1  # where the undecoded rest of the string starts; -1 before it opens
        self._closed = False
        self.text = ""  # decoded so far

    def feed(self, piece: str) -> str:
        """The input text these arguments pieces add (possibly nothing yet)."""
        self._raw += piece
        if self._at < 0:
            compact = "".join(self._raw.split())  # before the string opens, spaces mean nothing
            if not compact.startswith('{"input":"'):
                return ""
            self._at = self._raw.index('"', self._raw.index(":")) + 1
        added = self._decode()
        self.text += added
        return added

    def _decode(self) -> str:
        out: list[str] = []
        raw, at = self._raw, self._at
        while at < len(raw) and not self._closed:
            char = raw[at]
            if char == '"':
                self._closed = True
                break
            if char != "\\":
                out.append(char)
                at += 1
                continue
            size = 6 if raw[at + 1 : at + 2] == "u" else 2
            if at + size > len(raw):
                break  # an escape split between pieces: wait for the rest
            out.append(_unescape(raw[at : at + size]))
            at += size
        self._at = at
        return "".join(out)


def _unescape(escape: str) -> str:
    try:
        decoded = orjson.loads(f'"{escape}"')
    except orjson.JSONDecodeError:  # a lone surrogate half, or nonsense: keep it as it came
        return escape
    return str(decoded)


def _object(arguments: str) -> dict[str, Any]:
    try:
        parsed = orjson.loads(arguments or "{}")
    except orjson.JSONDecodeError:
        return {}
    return parsed if isinstance(parsed, dict) else {}


def _operation(arguments: dict[str, Any]) -> dict[str, Any]:
    kind = arguments.get("type")
    kind = kind if kind in ("create_file", "delete_file") else "update_file"
    operation = {"type": kind, "path": _string(arguments.get("path")) or ""}
    if kind != "delete_file":
        operation["diff"] = _string(arguments.get("diff")) or ""
    return operation


def _strings(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    return [v for v in value if isinstance(v, str)] if isinstance(value, list) else []


def _string(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def _integer(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None
