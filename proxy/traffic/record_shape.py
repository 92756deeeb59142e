"""What one line of the traffic log holds, field by field (docs/traffic-log.md): the typed
shape `proxy/traffic/record.py` fills."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Literal, NotRequired, TypedDict

from proxy.core.events import UsageObject
from proxy.core.wire import Item

Outcome = Literal["ok", "error", "cancelled", "local"]


class RecordError(TypedDict):
    type: str
    code: str | None
    message: str
    status: int  # the error's own: an in-band error's record has status 200


class Timings(TypedDict):
    """Milliseconds from the request's arrival; None for a moment never reached."""

    upstream_first_frame: float | None
    first_byte: float | None
    total: float | None


class Frame(TypedDict):
    event: str
    status: int | None
    data: str


class UpstreamAnswer(TypedDict):
    """DashScope's answer when it was no event stream, as it came (its body cut at 64 KiB)."""

    status: int
    content_type: str
    body: str  # empty for a redirect, which is not read
    location: NotRequired[str]  # a redirect's Location header


class UpstreamRequest(TypedDict):
    path: str
    body: object  # the native request, as sent


class CallFunction(TypedDict):
    name: str
    arguments: str


class ToolCall(TypedDict):
    id: str | None
    type: Literal["function"]
    function: CallFunction


class SearchInfo(TypedDict):
    search_results: list[object]


class Message(TypedDict):
    role: Literal["assistant"]
    content: str | None  # None only beside tool calls, as a chat client gets it
    reasoning_content: NotRequired[str]
    tool_calls: NotRequired[list[ToolCall]]
    search_info: NotRequired[SearchInfo]


class Choice(TypedDict):
    index: int
    finish_reason: str | None
    message: Message


class Response(TypedDict):
    choices: list[Choice]
    code_runs: list[str]


class RecordKey(TypedDict):
    """The proxy key that made the call: its name in the config, and its fingerprint."""

    name: str | None
    fingerprint: str


class RecordCost(TypedDict):
    """The exchange's cost: a decimal amount as a string (exact), in the region's currency,
    at the prices of the family and date given."""

    amount: str
    currency: str
    family: str
    prices_as_of: str


class TrafficRecord(TypedDict):
    """One line of the traffic log, field by field as docs/traffic-log.md describes it."""

    v: int
    id: str
    upstream_request_id: str | None
    client_request_id: str | None
    started_at: float
    endpoint: str
    model: str | None
    stream: bool | None
    status: int
    outcome: Outcome
    error: RecordError | None
    request: object
    upstream_request: UpstreamRequest | None
    notes: list[str]
    translation: Mapping[str, object] | None
    timings_ms: Timings
    response: Response
    usage: UsageObject | None
    key: RecordKey | None  # added within version 2: older records have neither
    cost: RecordCost | None
    frames: NotRequired[list[Frame]]
    upstream_error: NotRequired[UpstreamAnswer]  # with frames, when DashScope answered non-2xx
    chunks: NotRequired[list[Item]]
