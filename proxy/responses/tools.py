"""The Responses API's tool types -> DashScope functions, and back (sans-I/O).

DashScope's native protocol knows one kind of client-executed tool, the function, plus its own
server-side ones. So every tool a client executes becomes a function upstream, and the name
DashScope sees is enough to shape the call the way the client declared it:

- `function`: its own name.
- `namespace`: each function or custom tool inside it as `<namespace>__<name>`, so two
  namespaces may hold tools of one name; the call comes back with the original `name` and the
  `namespace` field set.
- `custom` (freeform text, optionally a grammar or regex): a function with one string parameter,
  `input`, whose description carries the grammar; the call comes back as a `custom_tool_call`.
- `local_shell`, `shell`, `apply_patch` (built-ins the client runs): a function of that name
  with the parameters of OpenAI's call item; the call comes back as that item
  (`proxy/responses/tool_calls.py`).

`tool_table` rebuilds the same names from the tools a Response object repeats, so the encoder
(and a replay) need nothing else. Two tools that would reach DashScope under one name are a 400:
DashScope could not tell their calls apart. Tool types DashScope cannot back are a 400 that
names the tool and what to use instead.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from proxy.core.errors import InvalidRequest

ToolKind = Literal["function", "custom", "local_shell", "shell", "apply_patch"]
BUILT_INS: tuple[ToolKind, ...] = ("local_shell", "shell", "apply_patch")
SEPARATOR = "__"  # between a namespace and a tool's name, upstream

# The hosted tools that DashScope cannot back, and what to do instead.
REFUSED: dict[str, str] = {
    "file_search": "DashScope has no vector stores: retrieve in your application and put the "
    "passages in `input`, or offer retrieval as a function tool",
    "computer_use_preview": "DashScope has no computer-use model: drive the screen from a "
    "function tool",
    "computer": "DashScope has no computer-use model: drive the screen from a function tool",
    "computer_use": "DashScope has no computer-use model: drive the screen from a function tool",
    "mcp": "the proxy calls no MCP server: list the server's tools as function tools and call "
    "the server from your application",
    "image_generation": "generate images with DashScope's image models (their own API), "
    "offered as a function tool",
    "tool_search": "send the tools themselves (function and namespace tools)",
    "programmatic_tool_calling": "DashScope runs no client program: offer the tools as "
    "functions and let the model call them",
}


@dataclass(frozen=True, slots=True)
class ClientTool:
    """A client-executed tool as the client declared it, and its name upstream."""

    kind: ToolKind
    name: str  # the client's name (a built-in's is its type)
    namespace: str | None
    upstream: str  # the function name DashScope sees


def upstream_name(name: str, namespace: str | None) -> str:
    return f"{namespace}{SEPARATOR}{name}" if namespace else name


def client_tools(tools: Any) -> list[tuple[str, ClientTool, dict[str, Any]]]:
    """Every client-executed tool in `tools`, with where it was and its declaration; hosted
    tools are left to the caller. Raises InvalidRequest for a malformed tool or a clash."""
    found: list[tuple[str, ClientTool, dict[str, Any]]] = []
    seen: dict[str, str] = {}
    for i, tool in enumerate(tools if isinstance(tools, list) else ()):
        where = f"tools[{i}]"
        kind = tool.get("type") if isinstance(tool, dict) else None
        if kind == "namespace":
            found.extend(_namespace(tool, where))
        elif kind in ("function", "custom"):
            found.append((where, _named(tool, where, kind, None), tool))
        elif kind in BUILT_INS:
            found.append((where, ClientTool(kind, kind, None, kind), tool))
    for where, client, _ in found:
        if client.upstream in seen:
            raise InvalidRequest(
                f"'{where}' would reach DashScope as the function {client.upstream!r}, "
                f"as '{seen[client.upstream]}' does; give one of them another name.",
                param=where,
            )
        seen[client.upstream] = where
    return found


def tool_table(tools: Any) -> dict[str, ClientTool]:
    """The client's tools by their name upstream (for tools a request already passed)."""
    try:
        return {client.upstream: client for _, client, _ in client_tools(tools)}
    except InvalidRequest:  # a Response object repeats only tools that were accepted
        return {}


def _namespace(tool: dict[str, Any], where: str) -> list[tuple[str, ClientTool, dict[str, Any]]]:
    namespace = _name(tool, where)
    members = tool.get("tools")
    if not isinstance(members, list) or not members:
        raise InvalidRequest(
            f"'{where}.tools' must be a non-empty array of function and custom tools.",
            param=f"{where}.tools",
        )
    found = []
    for j, member in enumerate(members):
        inner = f"{where}.tools[{j}]"
        kind = member.get("type") if isinstance(member, dict) else None
        if kind not in ("function", "custom"):
            raise InvalidRequest(
                f"'{inner}' has type {kind!r}; a namespace holds function and custom tools.",
                param=inner,
            )
        found.append((inner, _named(member, inner, kind, namespace), member))
    return found


def _named(tool: dict[str, Any], where: str, kind: ToolKind, namespace: str | None) -> ClientTool:
    name = _name(tool, where)
    return ClientTool(kind, name, namespace, upstream_name(name, namespace))


def _name(tool: dict[str, Any], where: str) -> str:
    name = tool.get("name")
    if not isinstance(name, str) or not name:
        raise InvalidRequest(f"'{where}.name' is required.", param=f"{where}.name")
    return name


def refusal(kind: Any, where: str) -> InvalidRequest:
    """The 400 for a tool type the proxy does not offer, naming it and the alternative."""
    instead = REFUSED.get(kind) if isinstance(kind, str) else None
    if instead is None:
        instead = (
            "the proxy offers function, namespace, custom, local_shell, shell, apply_patch, "
            "code_interpreter and web_search tools"
        )
    return InvalidRequest(
        f"'{where}' has type {kind!r}, which DashScope cannot back: {instead}.", param=where
    )


def native_function(client: ClientTool, tool: dict[str, Any]) -> dict[str, Any]:
    """The DashScope function a client tool is offered as."""
    if client.kind == "function":
        function = {"name": client.upstream}
        for key in ("description", "parameters", "strict"):
            if tool.get(key) is not None:
                function[key] = tool[key]
        return {"type": "function", "function": function}
    if client.kind == "custom":
        return _function(client.upstream, _custom_description(tool), _CUSTOM_PARAMETERS)
    description, parameters = _BUILT_IN_FUNCTIONS[client.kind]
    return _function(client.upstream, description, parameters)


def _function(name: str, description: str, parameters: dict[str, Any]) -> dict[str, Any]:
    function = {"name": name, "description": description, "parameters": parameters}
    return {"type": "function", "function": function}


def _custom_description(tool: dict[str, Any]) -> str:
    """The tool's description, then what its `input` must look like: the model sees no other
    trace of the grammar."""
    description = tool.get("description")
    lines = [description] if isinstance(description, str) and description else []
    fmt = tool.get("format")
    if isinstance(fmt, dict) and fmt.get("type") == "grammar":
        syntax = fmt.get("syntax")
        definition = fmt.get("definition")
        what = "regular expression" if syntax == "regex" else f"{syntax} grammar"
        lines.append(
            f"Put the whole input, as free text, in `input`; it must match this {what}:\n"
            f"{definition}"
        )
    else:
        lines.append("Put the whole input, as free text, in `input`.")
    return "\n\n".join(lines)


_CUSTOM_PARAMETERS = {
    "type": "object",
    "properties": {"input": {"type": "string", "description": "the tool's free-text input"}},
    "required": ["input"],
}
_STRINGS = {"type": "array", "items": {"type": "string"}}
_BUILT_IN_FUNCTIONS: dict[ToolKind, tuple[str, dict[str, Any]]] = {
    "local_shell": (
        "Run a command on the user's machine and get its output.",
        {
            "type": "object",
            "properties": {
                "command": {**_STRINGS, "description": "the program and its arguments (argv)"},
                "working_directory": {"type": "string"},
                "timeout_ms": {"type": "integer"},
            },
            "required": ["command"],
        },
    ),
    "shell": (
        "Run shell command lines on the user's machine, in order, and get their output.",
        {
            "type": "object",
            "properties": {
                "commands": {**_STRINGS, "description": "shell command lines"},
                "timeout_ms": {"type": "integer"},
                "max_output_length": {"type": "integer"},
            },
            "required": ["commands"],
        },
    ),
    "apply_patch": (
        "Create, update or delete one file on the user's machine.",
        {
            "type": "object",
            "properties": {
                "type": {"type": "string", "enum": ["create_file", "update_file", "delete_file"]},
                "path": {"type": "string"},
                "diff": {
                    "type": "string",
                    "description": "a V4A diff: the new file's lines, or the changed hunks",
                },
            },
            "required": ["type", "path"],
        },
    ),
}
