"""The Responses API's web search tools -> DashScope's search (sans-I/O).

`web_search` and `web_search_preview` (with their dated aliases) turn on DashScope's
`enable_search` with sources and citation marks (`proxy/core/search.py`), so the answer carries
`url_citation` annotations and a `web_search_call` item. `external_web_access: false` asks for
no live access to the web; DashScope's search has no cached-only mode, so nothing is searched
then, and the notes say so. The tools' filters, location and context size have no DashScope
parameter: reported. A `tool_choice` naming a web search tool, or allowing only web search tools
with mode `required`, becomes `forced_search`.
"""

from __future__ import annotations

from typing import Any

from proxy.core.search import report_options

WEB_SEARCH_TYPES = (
    "web_search",
    "web_search_2025_08_26",
    "web_search_preview",
    "web_search_preview_2025_03_11",
)
_UNSENT = ("filters", "user_location", "search_context_size", "search_content_types")


def web_search_tool(tool: dict[str, Any], where: str, notes: list[str]) -> None:
    """Notes for what of one web search tool DashScope cannot take."""
    if tool.get("external_web_access") is False:
        notes.append(
            f"{where}: no live web search (external_web_access is false, and DashScope's "
            "search has no cached-only mode)"
        )
        return
    report_options(tool, where, _UNSENT, notes)


def forced_search(body: dict[str, Any]) -> bool:
    """Whether `tool_choice` wants a search whatever the model thinks (DashScope's
    `forced_search`): it names a web search tool, or allows web search tools alone and
    requires a call."""
    choice = body.get("tool_choice")
    if not isinstance(choice, dict):
        return False
    if choice.get("type") in WEB_SEARCH_TYPES:
        return True
    return (
        choice.get("type") == "allowed_tools"
        and choice.get("mode") == "required"
        and searches_only(choice.get("tools"))
    )


def searches_only(allowed: Any) -> bool:
    """Whether an `allowed_tools` list names web search tools and nothing else."""
    return (
        isinstance(allowed, list)
        and bool(allowed)
        and all(
            isinstance(entry, dict) and entry.get("type") in WEB_SEARCH_TYPES for entry in allowed
        )
    )


def live_search(tools: Any) -> bool:
    """Whether a tool asks for a live web search."""
    if not isinstance(tools, list):
        return False
    return any(
        isinstance(tool, dict)
        and tool.get("type") in WEB_SEARCH_TYPES
        and tool.get("external_web_access") is not False
        for tool in tools
    )
