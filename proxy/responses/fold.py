"""Responses API stream events -> the Response object a non-stream client gets (sans-I/O).

It is the terminal event's Response: the very events a streaming client receives, so both modes
share one translation path. (The traffic record is summarised from the neutral events instead:
`proxy/core/summary.py`.)
"""

from __future__ import annotations

from proxy.core.errors import UpstreamUnavailable
from proxy.core.wire import Item

TERMINAL_EVENTS = frozenset({"response.completed", "response.incomplete", "response.failed"})


def final_response(events: list[Item]) -> Item:
    """The Response object of a complete stream: what a non-stream client receives."""
    for event in reversed(events):
        if event.get("type") in TERMINAL_EVENTS:
            response: Item = event["response"]
            return response
    raise UpstreamUnavailable("DashScope's stream ended without an answer")
