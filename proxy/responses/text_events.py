"""Which events a streamed text item speaks in, and what the answer's annotations are (sans-I/O).

A text item streams through four events: its part is added, its text grows by deltas, the text
is done, the part is done. The answer (`message`) speaks `output_text`; thinking speaks
`reasoning_text`, or, when the request asked for a summary (`reasoning.summary`: `auto`,
`concise` or `detailed`), the summary events: DashScope streams the thinking itself, so the
summary is the whole thinking, and clients that show only summaries (the Vercel AI SDK, the
Codex CLI) show it. Parts are placed by `content_index`, summary parts by `summary_index`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, NamedTuple, TypedDict

from proxy.core.search import citations
from proxy.responses.items import EventType, TextItem, UrlCitation

SUMMARIES = ("auto", "concise", "detailed")


class TextEvents(NamedTuple):
    part_added: EventType
    delta: EventType
    done: EventType
    part_done: EventType


_ANSWER = TextEvents(
    "response.content_part.added",
    "response.output_text.delta",
    "response.output_text.done",
    "response.content_part.done",
)
_THINKING = TextEvents(
    "response.content_part.added",
    "response.reasoning_text.delta",
    "response.reasoning_text.done",
    "response.content_part.done",
)
_SUMMARY = TextEvents(
    "response.reasoning_summary_part.added",
    "response.reasoning_summary_text.delta",
    "response.reasoning_summary_text.done",
    "response.reasoning_summary_part.done",
)


class At(TypedDict, total=False):
    item_id: str
    output_index: int
    content_index: int
    summary_index: int


def wants_summary(echo: Mapping[str, Any]) -> bool:
    """Whether the request (as its Response repeats it) asked for reasoning summaries."""
    reasoning = echo.get("reasoning")
    return isinstance(reasoning, dict) and reasoning.get("summary") in SUMMARIES


def events_of(text: TextItem) -> TextEvents:
    if text.kind == "message":
        return _ANSWER
    return _SUMMARY if text.summary else _THINKING


def at(text: TextItem) -> At:
    if text.summary:
        return {"item_id": text.id, "output_index": text.index, "summary_index": 0}
    return {"item_id": text.id, "output_index": text.index, "content_index": 0}


def url_citations(text: str, sources: Sequence[object]) -> list[UrlCitation]:
    """The answer's `url_citation` annotations: one per citation mark naming a source."""
    return [
        {
            "type": "url_citation",
            "url": cited.url,
            "title": cited.title,
            "start_index": cited.start,
            "end_index": cited.end,
        }
        for cited in citations(text, sources)
    ]
