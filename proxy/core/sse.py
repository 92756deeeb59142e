"""Server-sent events: an incremental decoder (sans-I/O) and the OpenAI-side encoder.

The decoder is written for DashScope's native framing (`id:`, `event:`, a `:HTTP_STATUS/NNN`
comment, `data:` with no space after the colon) but follows the SSE grammar, so it reads
OpenAI-style streams too. Bytes may arrive split anywhere, including inside a UTF-8 character
or between CR and LF.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import orjson

_STATUS_COMMENT = b":HTTP_STATUS/"
_BOM = b"\xef\xbb\xbf"


@dataclass(slots=True)
class SSEEvent:
    event: str = "message"
    data: str = ""
    id: str | None = None
    # DashScope's per-event logical HTTP status, carried in the `:HTTP_STATUS/NNN` comment line.
    status: int | None = None


class SSEDecoder:
    """Feed raw bytes, get complete events. Call `finish()` once the stream has ended."""

    __slots__ = ("_buffer", "_data", "_event", "_has_field", "_id", "_started", "_status")

    def __init__(self) -> None:
        self._buffer = b""
        self._started = False
        self._event: str | None = None
        self._data: list[str] = []
        self._id: str | None = None
        self._status: int | None = None
        self._has_field = False

    def feed(self, chunk: bytes) -> list[SSEEvent]:
        buffer = self._buffer + chunk if self._buffer else chunk
        if not self._started:
            # The SSE grammar allows one UTF-8 byte-order mark before the first line.
            if len(buffer) < len(_BOM) and _BOM.startswith(buffer):
                self._buffer = buffer
                return []
            self._started = True
            buffer = buffer.removeprefix(_BOM)
        # A trailing CR may be the first half of a CRLF: keep it until the next byte decides.
        limit = len(buffer) - 1 if buffer.endswith(b"\r") else len(buffer)
        end = max(buffer.rfind(b"\n", 0, limit), buffer.rfind(b"\r", 0, limit))
        if end < 0:
            self._buffer = buffer
            return []
        self._buffer = buffer[end + 1 :]
        body = buffer[:end]
        if body.endswith(b"\r") and buffer[end] == 0x0A:
            body = body[:-1]
        if b"\r" in body:
            body = body.replace(b"\r\n", b"\n").replace(b"\r", b"\n")
        events: list[SSEEvent] = []
        for line in body.split(b"\n"):
            event = self._line(line)
            if event is not None:
                events.append(event)
        return events

    def finish(self) -> list[SSEEvent]:
        """Flush a last event whose terminating blank line never came."""
        events: list[SSEEvent] = []
        if self._buffer:
            buffer, self._buffer = self._buffer.rstrip(b"\r"), b""
            for line in buffer.replace(b"\r\n", b"\n").replace(b"\r", b"\n").split(b"\n"):
                event = self._line(line)
                if event is not None:
                    events.append(event)
        event = self._dispatch()
        if event is not None:
            events.append(event)
        return events

    def _line(self, line: bytes) -> SSEEvent | None:
        if not line:
            return self._dispatch()
        if line[0] == 0x3A:  # ":" starts a comment; DashScope hides the event's status in one.
            if line.startswith(_STATUS_COMMENT):
                digits = line[len(_STATUS_COMMENT) :].strip()
                if digits.isdigit():
                    self._status = int(digits)
                    self._has_field = True
            return None
        name, sep, value = line.partition(b":")
        if sep and value[:1] == b" ":
            value = value[1:]
        if name == b"data":
            self._data.append(value.decode("utf-8", errors="replace"))
        elif name == b"event":
            self._event = value.decode("utf-8", errors="replace")
        elif name == b"id":
            self._id = value.decode("utf-8", errors="replace")
        else:
            return None
        self._has_field = True
        return None

    def _dispatch(self) -> SSEEvent | None:
        if not self._has_field:
            return None
        event = SSEEvent(
            event=self._event or "message",
            data="\n".join(self._data),
            id=self._id,
            status=self._status,
        )
        self._event = None
        self._data = []
        self._id = None
        self._status = None
        self._has_field = False
        return event


DONE = b"data: [DONE]\n\n"
# A comment line: OpenAI clients ignore it, but it resets read timeouts along the way.
KEEPALIVE = b": keep-alive\n\n"


def encode_data(payload: Any) -> bytes:
    """One `data:` frame holding a JSON object, as OpenAI clients expect (no `event:` line)."""
    return b"data: " + orjson.dumps(payload) + b"\n\n"


def encode_named(payload: Mapping[str, Any]) -> bytes:
    """One frame named by the object's `type`, as the Responses API frames its events (the
    type is in the data too)."""
    name: str = payload["type"]
    return b"event: " + name.encode() + b"\ndata: " + orjson.dumps(payload) + b"\n\n"
