"""Web search, for both client APIs (sans-I/O): what DashScope is asked for when a client asks
for OpenAI's web search, and the `url_citation` annotations its answer carries.

OpenAI's web search (the Responses API's `web_search` tools, Chat Completions'
`web_search_options`) becomes DashScope's `enable_search`, with `search_options` asking for the
sources (`enable_source`, which returns `search_info`) and for citation marks in the answer
(`enable_citation` with `citation_format`); what the client put in its own `search_options`
(through `extra_body`) wins. A mark `[ref_N]` in the answer cites the source whose `index` is N;
each becomes an annotation over the mark's characters (docs/dashscope-protocol.md, "Web search
sources").
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from proxy.core.parameters import Draft

CITATION_FORMAT = "[ref_<number>]"
# Asked for whenever the client asked for OpenAI's web search.
SEARCH_OPTIONS: dict[str, Any] = {
    "enable_source": True,
    "enable_citation": True,
    "citation_format": CITATION_FORMAT,
}
# DashScope's two citation formats: `[ref_<number>]` (ours) and its default `[<number>]`.
_MARK = re.compile(r"\[(?:ref_)?(\d{1,4})\]")


@dataclass(frozen=True, slots=True)
class Citation:
    """A source cited at `start:end` of the answer (Python string indexes)."""

    url: str
    title: str
    start: int
    end: int


def settle_search(draft: Draft, *, live: bool, forced: bool = False) -> None:
    """Turn on DashScope's search when the client asked for a live one (`forced`: the client
    wants a search whatever the model thinks). Run once every field is in, so the client's own
    `search_options` and `enable_search` win whatever their order."""
    if not live:
        if forced:
            draft.notes.append("tool_choice: dropped (it names a web search that searches nothing)")
        return
    draft.parameters.setdefault("enable_search", True)
    own = draft.parameters.get("search_options")
    asked = {**SEARCH_OPTIONS, "forced_search": True} if forced else SEARCH_OPTIONS
    draft.parameters["search_options"] = {**asked, **(own if isinstance(own, dict) else {})}


def report_options(
    value: dict[str, Any], where: str, keys: Sequence[str], notes: list[str]
) -> None:
    """Notes for the options of OpenAI's web search that DashScope has no parameter for."""
    for key in keys:
        if value.get(key) is not None:
            notes.append(f"{where}.{key}: dropped (DashScope's search takes no {key})")


def citations(text: str, results: Sequence[object]) -> list[Citation]:
    """The sources `text` cites by their marks, in order; marks naming no source are left."""
    sources: dict[int, dict[str, Any]] = {}
    for result in results:
        if isinstance(result, dict) and isinstance(result.get("url"), str):
            index = result.get("index")
            if isinstance(index, int):
                sources[index] = result
    found: list[Citation] = []
    if not sources:
        return found
    for mark in _MARK.finditer(text):
        source = sources.get(int(mark.group(1)))
        if source is not None:
            title = source.get("title")
            title = title if isinstance(title, str) else ""
            found.append(Citation(source["url"], title, mark.start(), mark.end()))
    return found
