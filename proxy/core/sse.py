"""Server-sent events: an incremental decoder (sans-I/O) and the OpenAI-side encoder.

The decoder is written for DashScope's native framing (`id:`, `event:`, a `:HTTP_STATUS/NNN`
comment, `data:` with no space after the colon) but follows the SSE grammar, so it reads
OpenAI-style streams too. Bytes may arrive split anywhere, including inside a UTF-8 character
or between CR and LF.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import orjson

from proxy.core.errors import FrameTooLarge

_STATUS_COMMENT = b":HTTP_STATUS/"
_BOM = b"\xef\xbb\xbf"
# A whole frame as DashScope writes it: id, event, status comment, one data line (no space
# after a colon), then the blank line ending it, or the end of what has arrived so far.
_NATIVE_FRAME = re.compile(
    rb"id:(?! )([^\n]*)\nevent:(?! )([^\n]*)\n:HTTP_STATUS/([0-9]+)\ndata:(?! )([^\n]*)\n(?:\n|\Z)"
)
# Far above any real frame (DashScope's largest are cumulative code-interpreter snapshots of
# some hundred kilobytes), low enough that one stream cannot take the process's memory.
MAX_LINE = 8 * 1024 * 1024
MAX_EVENT = 16 * 1024 * 1024


@dataclass(slots=True)
class SSEEvent:
    event: str = "message"
    data: str = ""
    id: str | None = None
    # DashScope's per-event logical HTTP status, carried in the `:HTTP_STATUS/NNN` comment line.
    status: int | None = None


class SSEDecoder:
    """Feed raw bytes, get complete events. Call `finish()` once the stream has ended.

    Linear in the bytes fed: an unfinished line is kept as the pieces it came in (joined once,
    when it ends), and each piece is searched once. A line longer than `max_line` bytes, or an
    event whose data exceeds `max_event` bytes, raises `FrameTooLarge` as soon as it does.
    """

    __slots__ = (
        "_data",
        "_event",
        "_has_field",
        "_id",
        "_max_event",
        "_max_line",
        "_size",
        "_skip_lf",
        "_started",
        "_status",
        "_tail",
        "_tail_size",
    )

    def __init__(self, *, max_line: int = MAX_LINE, max_event: int = MAX_EVENT) -> None:
        self._max_line = max_line
        self._max_event = max_event
        self._tail: list[bytes] = []  # the unfinished last line, as it arrived
        self._tail_size = 0
        self._skip_lf = False  # the last piece ended in CR: an LF first in the next one is its pair
        self._started = False
        self._event: str | None = None
        self._data: list[str] = []
        self._size = 0  # bytes of data in the event so far
        self._id: str | None = None
        self._status: int | None = None
        self._has_field = False

    def feed(self, chunk: bytes) -> list[SSEEvent]:
        if not self._started:
            # The SSE grammar allows one UTF-8 byte-order mark before the first line.
            chunk = b"".join(self._tail) + chunk if self._tail else chunk
            self._tail, self._tail_size = [], 0
            if len(chunk) < len(_BOM) and _BOM.startswith(chunk):
                self._hold(chunk)
                return []
            self._started = True
            chunk = chunk.removeprefix(_BOM)
        if self._skip_lf and chunk:
            self._skip_lf = False
            if chunk[0] == 0x0A:
                chunk = chunk[1:]
        end = max(chunk.rfind(b"\n"), chunk.rfind(b"\r"))
        if end < 0:
            self._hold(chunk)
            return []
        body = b"".join([*self._tail, chunk[:end]]) if self._tail else chunk[:end]
        self._tail, self._tail_size = [], 0
        if chunk[end] == 0x0D:
            self._skip_lf = True
        elif body.endswith(b"\r"):
            body = body[:-1]
        self._hold(chunk[end + 1 :])
        return self._lines(body)

    def finish(self) -> list[SSEEvent]:
        """Flush a last event whose terminating blank line never came."""
        # The unfinished line (it holds no line break), then the blank line that never came.
        last, self._tail, self._tail_size = b"".join(self._tail), [], 0
        return self._lines(last + b"\n")

    def _hold(self, piece: bytes) -> None:
        if piece:
            self._tail.append(piece)
            self._tail_size += len(piece)
            if self._tail_size > self._max_line:
                raise FrameTooLarge(
                    f"DashScope sent an SSE line longer than {self._max_line} bytes"
                )

    def _lines(self, body: bytes) -> list[SSEEvent]:
        """The events the lines of `body` complete (`body` holds whole lines: the break after
        its last one was taken off)."""
        if b"\r" in body:
            body = body.replace(b"\r\n", b"\n").replace(b"\r", b"\n")
        events: list[SSEEvent] = []
        if self._has_field:
            # An event is under way: its lines up to the blank line ending it go line by line.
            # `body.split` is the lines of `head` then those of `body[end + 2 :]`.
            end = body.find(b"\n\n")
            if end < 0:
                return self._each_line(body)
            events, body = self._each_line(body[: end + 1]), body[end + 2 :]
        # DashScope writes every frame the same way: one match and three decodes each, rather
        # than five lines (bench/pipeline.py). Any other shape goes line by line from there.
        pos, size, match = 0, len(body), _NATIVE_FRAME.match
        while pos < size:
            frame = match(body, pos)
            if frame is None or frame.end() - pos > self._max_line:
                break
            ident, name, status, data = frame.groups()
            if len(data) > self._max_event:
                break
            events.append(
                SSEEvent(
                    name.decode("utf-8", errors="replace") or "message",
                    data.decode("utf-8", errors="replace"),
                    ident.decode("utf-8", errors="replace"),
                    int(status),
                )
            )
            pos = frame.end()
        if pos < size:
            events.extend(self._each_line(body[pos:]))
        return events

    def _each_line(self, body: bytes) -> list[SSEEvent]:
        # One loop over the lines with the event in locals: a call per line was a fifth of the
        # proxy's CPU per frame.
        max_line, max_event = self._max_line, self._max_event
        name, data, size = self._event, self._data, self._size
        ident, status, has_field = self._id, self._status, self._has_field
        events: list[SSEEvent] = []
        for line in body.split(b"\n"):
            if not line:
                if has_field:
                    events.append(SSEEvent(name or "message", "\n".join(data), ident, status))
                    name, data, size, ident, status, has_field = None, [], 0, None, None, False
                continue
            if len(line) > max_line:
                raise FrameTooLarge(f"DashScope sent an SSE line longer than {max_line} bytes")
            if line[0] == 0x3A:  # ":" starts a comment; DashScope hides the event's status in one
                if line.startswith(_STATUS_COMMENT):
                    digits = line[len(_STATUS_COMMENT) :].strip()
                    if digits.isdigit():
                        status, has_field = int(digits), True
                continue
            field, sep, value = line.partition(b":")
            if sep and value[:1] == b" ":
                value = value[1:]
            if field == b"data":
                size += len(value)
                if size > max_event:
                    raise FrameTooLarge(
                        f"DashScope sent an SSE event with more than {max_event} bytes of data"
                    )
                data.append(value.decode("utf-8", errors="replace"))
            elif field == b"event":
                name = value.decode("utf-8", errors="replace")
            elif field == b"id":
                ident = value.decode("utf-8", errors="replace")
            else:
                continue
            has_field = True
        self._event, self._data, self._size = name, data, size
        self._id, self._status, self._has_field = ident, status, has_field
        return events


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
