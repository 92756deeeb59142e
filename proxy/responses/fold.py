"""Responses API stream events -> the Response object a non-stream client gets (sans-I/O).

It is the terminal event's Response: the very events a streaming client receives, so both modes
share one translation path. (The traffic record is summarised from the neutral events instead:
`proxy/core/summary.py`.)
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import cast

from proxy.core.errors import UpstreamUnavailable
from proxy.core.wire import Item
from proxy.responses.items import EventType, ResponseObject, StreamEvent

TERMINAL_EVENTS: frozenset[EventType] = frozenset(
    {"response.completed", "response.incomplete", "response.failed"}
)


def final_response(items: Sequence[Item]) -> ResponseObject:
    """The Response object of a complete stream: what a non-stream client receives."""
    for event in reversed(cast(Sequence[StreamEvent], items)):  # the encoder's items are events
        if event["type"] in TERMINAL_EVENTS:
            response: ResponseObject = event["response"]
            return response
    raise UpstreamUnavailable("DashScope's stream ended without an answer")
