"""The test suite's own reading of a server-sent event stream, independent of proxy/core/sse.py.

The contract checkers (tests/contract.py, tests/responses_contract.py) read the proxy's output
with this, not with the product's decoder, so a bug in that decoder cannot hide itself. It
follows the WHATWG "event stream interpretation" rules, only as far as the checkers need:
lines end in CRLF, LF or CR; a line starting with `:` is a comment; `field: value` loses one
space after the colon; `data` lines of one event join with LF; a blank line dispatches an event
that had at least one `data` line; `id`, `retry` and unknown fields are ignored; an event
without its blank line at the end of the stream is dropped.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_LINE_END = re.compile(r"\r\n|\r|\n")


@dataclass(frozen=True, slots=True)
class WireEvent:
    event: str | None  # the `event:` field, None when the event named none
    data: str


def read_events(body: bytes) -> list[WireEvent]:
    """Every event the stream dispatches, in order (the body must be UTF-8)."""
    text = body.decode("utf-8").removeprefix("\ufeff")
    events: list[WireEvent] = []
    name: str | None = None
    data: list[str] = []
    for line in _LINE_END.split(text)[:-1]:  # what follows the last line end is no line yet
        if not line:
            if data:
                events.append(WireEvent(name, "\n".join(data)))
            name, data = None, []
            continue
        if line.startswith(":"):
            continue
        field, _, value = line.partition(":")
        value = value.removeprefix(" ")
        if field == "data":
            data.append(value)
        elif field == "event":
            name = value
    return events
