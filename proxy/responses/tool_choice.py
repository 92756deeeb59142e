"""The Responses API's `tool_choice`, in every shape, -> DashScope's (sans-I/O).

DashScope takes `auto`, `none` or one function by name (`proxy/core/parameters.py` turns
`required` into the only tool, or `auto`). A named tool of any client-executed type is its
function upstream (`proxy/responses/tools.py`). `allowed_tools` has no native form: the tools
offered upstream are cut down to the allowed ones, which is what the model may call, and its
`mode` is then read as `auto` or `required` (reported). A web search tool by type, or
`allowed_tools` of web search tools alone with mode `required`, is DashScope's
`search_options.forced_search` (`proxy/core/search.py`); the code interpreter cannot be forced:
`auto` (reported).
"""

from __future__ import annotations

from typing import Any

from proxy.core.errors import InvalidRequest
from proxy.core.parameters import Draft, set_tool_choice
from proxy.responses.tools import BUILT_INS, client_tools
from proxy.responses.web_search import WEB_SEARCH_TYPES, searches_only

_HOSTED = ("code_interpreter", *WEB_SEARCH_TYPES)
_SHAPES = (
    "'tool_choice' must be auto, none, required, a function or custom tool by name, a "
    "built-in tool type (local_shell, shell, apply_patch, code_interpreter, web_search), or "
    "allowed_tools."
)


def map_tool_choice(value: Any, draft: Draft) -> None:
    names = _upstream_names(draft.body.get("tools"))
    if isinstance(value, str):
        set_tool_choice(value, [*names.values()], draft)
        return
    kind = value.get("type") if isinstance(value, dict) else None
    if kind == "allowed_tools":
        _allowed(value, names, draft)
    elif kind in WEB_SEARCH_TYPES:
        pass  # `search_options.forced_search`, set by settle_search
    elif kind == "code_interpreter":
        draft.parameters["tool_choice"] = "auto"
        draft.notes.append(f"tool_choice: {kind} sent as auto (DashScope cannot force it)")
    else:
        upstream = names.get(_key(value, "tool_choice"))
        if upstream is None:
            raise InvalidRequest(
                f"'tool_choice' names {_describe(value)}, which 'tools' does not declare.",
                param="tool_choice",
            )
        draft.parameters["tool_choice"] = {"type": "function", "function": {"name": upstream}}


def _allowed(value: dict[str, Any], names: dict[tuple[str, ...], str], draft: Draft) -> None:
    mode, allowed = value.get("mode"), value.get("tools")
    if mode not in ("auto", "required") or not isinstance(allowed, list):
        raise InvalidRequest(
            "'tool_choice' of type allowed_tools needs a `mode` (auto or required) and a "
            "`tools` array.",
            param="tool_choice",
        )
    keep: set[str] = set()
    for i, entry in enumerate(allowed):
        key = _key(entry, f"tool_choice.tools[{i}]")
        if key[0] in _HOSTED:
            continue  # DashScope's own tools stay as the request turned them on
        upstream = names.get(key)
        if upstream is None:
            raise InvalidRequest(
                f"'tool_choice.tools[{i}]' names {_describe(entry)}, which 'tools' does not "
                "declare.",
                param=f"tool_choice.tools[{i}]",
            )
        keep.add(upstream)
    functions = draft.parameters.get("tools") or []
    draft.parameters["tools"] = [t for t in functions if t["function"]["name"] in keep]
    if not draft.parameters["tools"]:
        del draft.parameters["tools"]
    sent = f"tool_choice: allowed_tools sent as {len(keep)} of {len(functions)} function(s)"
    if mode == "required" and searches_only(allowed):
        # A call is required and only the search may be it: DashScope's forced search, which
        # settle_search sets (or drops, reported, when the request searches nothing). A
        # `tool_choice` of auto here would let the model answer without searching.
        draft.notes.append(f"{sent}, mode required as search_options.forced_search")
        return
    draft.notes.append(f"{sent}, mode {mode}")
    allowed_names: list[str | None] = [*sorted(keep)]
    set_tool_choice(mode, allowed_names, draft)


def _upstream_names(tools: Any) -> dict[tuple[str, ...], str]:
    """How a tool choice may name each client tool -> its function name upstream (`tools` was
    translated first, so it is valid)."""
    names: dict[tuple[str, ...], str] = {}
    for _, client, _ in client_tools(tools):
        if client.kind in BUILT_INS:
            names[(client.kind,)] = client.upstream
        else:
            names[(client.kind, client.name, client.namespace or "")] = client.upstream
    return names


def _key(value: Any, where: str) -> tuple[str, ...]:
    kind = value.get("type") if isinstance(value, dict) else None
    if not isinstance(kind, str):
        raise InvalidRequest(_SHAPES, param=where)
    if kind in BUILT_INS or kind in _HOSTED:
        return (kind,)
    name, namespace = value.get("name"), value.get("namespace") or ""
    if kind not in ("function", "custom") or not isinstance(name, str):
        raise InvalidRequest(_SHAPES, param=where)
    return (kind, name, namespace)


def _describe(value: dict[str, Any]) -> str:
    kind, name, namespace = value.get("type"), value.get("name"), value.get("namespace")
    if name is None:
        return f"the {kind} tool"
    return f"the {kind} tool {f'{namespace}.' if namespace else ''}{name!r}"
