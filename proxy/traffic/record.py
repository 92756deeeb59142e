"""One traffic record per exchange: what was asked, thought, run and answered (sans-I/O).

The shell reports the exchange's moments to an `ExchangeRecorder`; `finish()` returns a
`FinishedExchange`, the typed facts metrics and the application log read, whose `record()` is
the JSON line the traffic writer redacts and appends (docs/traffic-log.md). What the answer
was comes from the translation's `ExchangeSummary`, made from the protocol-neutral events, so
the recorder never re-reads the emitted items: it keeps them only when capture asks for it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from proxy.core.cost import Cost, Pricing, search_strategy_of
from proxy.core.errors import ProxyError
from proxy.core.events import UsageObject, usage_object
from proxy.core.key_identity import KeyIdentity
from proxy.core.sse import SSEEvent
from proxy.core.summary import EMPTY_SUMMARY, ChoiceSummary, ExchangeSummary
from proxy.core.wire import Item
from proxy.traffic.record_shape import (
    Frame,
    Message,
    Outcome,
    RecordCost,
    RecordKey,
    Response,
    Timings,
    TrafficRecord,
    UpstreamAnswer,
    UpstreamRequest,
)

# 2: a message holds the model's own output; interpreter runs are only in `code_runs`.
RECORD_VERSION = 2


@dataclass(frozen=True, slots=True)
class FinishedExchange:
    """Everything one exchange tells, typed: metrics and the app log read the attributes, the
    traffic log gets `record()`."""

    id: str
    upstream_request_id: str | None
    client_request_id: str | None
    started_at: float  # Unix seconds
    endpoint: str
    model: str | None
    stream: bool | None
    status: int
    outcome: Outcome
    error: ProxyError | None
    timings: Timings
    summary: ExchangeSummary
    request: object  # the client's body, as it came
    upstream_request: UpstreamRequest | None
    notes: tuple[str, ...]
    translation: Mapping[str, object] | None  # what a replay needs
    frames: list[Frame] | None = None  # captured upstream frames
    chunks: list[Item] | None = None  # captured emitted items
    upstream_error: UpstreamAnswer | None = None  # captured with the frames
    key: KeyIdentity | None = None  # the proxy key that made the call
    cost: Cost | None = None  # None: no usage, or no price for the model

    def record(self) -> TrafficRecord:
        error = self.error
        record: TrafficRecord = {
            "v": RECORD_VERSION,
            "id": self.id,
            "upstream_request_id": self.upstream_request_id,
            "client_request_id": self.client_request_id,
            "started_at": self.started_at,
            "endpoint": self.endpoint,
            "model": self.model,
            "stream": self.stream,
            "status": self.status,
            "outcome": self.outcome,
            "error": None
            if error is None
            else {
                "type": error.type,
                "code": error.code,
                "message": error.message,
                "status": error.status,
            },
            "request": self.request,
            "upstream_request": self.upstream_request,
            "notes": list(self.notes),
            "translation": self.translation,
            "timings_ms": self.timings,
            "response": response_of(self.summary),
            "usage": usage_of(self.summary),
            "key": key_of(self.key),
            "cost": cost_of(self.cost),
        }
        if self.frames is not None:
            record["frames"] = self.frames
        if self.upstream_error is not None:
            record["upstream_error"] = self.upstream_error
        if self.chunks is not None:
            record["chunks"] = self.chunks
        return record


def response_of(summary: ExchangeSummary) -> Response:
    """The record's `response`: each choice as a chat client's message, and the code runs."""
    return {
        "choices": [
            {
                "index": choice.index,
                "finish_reason": choice.finish_reason,
                "message": _message(choice),
            }
            for choice in summary.choices
        ],
        "code_runs": list(summary.code_runs),
    }


def usage_of(summary: ExchangeSummary) -> UsageObject | None:
    return None if summary.usage is None else usage_object(summary.usage)


def key_of(key: KeyIdentity | None) -> RecordKey | None:
    return None if key is None else {"name": key.name, "fingerprint": key.fingerprint}


def cost_of(cost: Cost | None) -> RecordCost | None:
    if cost is None:
        return None
    return {
        "amount": str(cost.amount),
        "currency": cost.currency,
        "family": cost.family,
        "prices_as_of": cost.as_of,
    }


def _message(choice: ChoiceSummary) -> Message:
    calls = choice.function_calls
    message: Message = {"role": "assistant", "content": choice.answer or (None if calls else "")}
    if choice.reasoning:
        message["reasoning_content"] = choice.reasoning
    if calls:
        message["tool_calls"] = [
            {
                "id": call.call_id,
                "type": "function",
                "function": {"name": call.name, "arguments": call.arguments},
            }
            for call in calls
        ]
    if choice.search_results is not None:
        message["search_info"] = {"search_results": list(choice.search_results)}
    return message


class ExchangeRecorder:
    """Collects one exchange's moments as they happen; `finish()` once, at its end."""

    # Slots: a recorder lives as long as its stream.
    __slots__ = (
        "_chunks",
        "_client_request_id",
        "_clock",
        "_endpoint",
        "_first_byte",
        "_first_frame",
        "_frames",
        "_model",
        "_notes",
        "_request",
        "_started_at",
        "_strategy",
        "_stream",
        "_t0",
        "_translation",
        "_upstream",
        "_upstream_request_id",
        "bodies",
        "exchange_id",
    )

    keeps_text = True  # the record holds what was thought, run and answered

    def __init__(
        self,
        *,
        exchange_id: str,
        started_at: float,
        clock: Callable[[], float],
        endpoint: str,
        client_request_id: str | None = None,
        capture_frames: bool = False,
        capture_chunks: bool = False,
    ) -> None:
        self.exchange_id = exchange_id
        self._started_at = started_at
        self._endpoint = endpoint
        self._client_request_id = client_request_id
        self._clock = clock
        self._t0 = clock()
        self._frames: list[Frame] | None = [] if capture_frames else None
        self._chunks: list[Item] | None = [] if capture_chunks else None
        self._first_frame: float | None = None
        self._first_byte: float | None = None
        self._upstream_request_id: str | None = None
        self._request: object = None
        self._model: str | None = None
        self._stream: bool | None = None
        self._upstream: UpstreamRequest | None = None
        self._strategy: str | None = None  # the upstream request's search strategy (its cost)
        self._notes: tuple[str, ...] = ()
        self._translation: Mapping[str, object] | None = None
        # The client's body, the upstream request and the translation's settings are kept.
        self.bodies = True

    def request(self, body: object) -> None:
        self._request = body if self.bodies else None
        if isinstance(body, dict):
            model = body.get("model")
            self._model = model if isinstance(model, str) else None
            self._stream = bool(body.get("stream"))

    def plan(
        self,
        *,
        upstream: UpstreamRequest | None,
        notes: Sequence[str],
        translation: Mapping[str, object],
    ) -> None:
        """What the proxy sends upstream (None when it answers itself), and what replaying the
        translation needs."""
        self._strategy = search_strategy_of(upstream["body"]) if upstream else None
        self._notes = tuple(notes)
        if self.bodies:
            self._upstream = upstream
            self._translation = translation

    def frames(self, events: list[SSEEvent]) -> None:
        if self._first_frame is None and events:
            self._first_frame = self._clock()
        if self._frames is not None:
            self._frames.extend(
                {"event": e.event, "status": e.status, "data": e.data} for e in events
            )

    def first_frames(self, events: list[SSEEvent]) -> None:
        """An attempt's first frames, before their translation (which raises on an error
        frame): what an earlier attempt sent is not what this answer is made of."""
        if self._frames is not None:
            self._frames.clear()
        self._first_frame = None
        self.frames(events)

    def chunks(self, chunks: Sequence[Item]) -> None:
        if self._chunks is not None:
            self._chunks.extend(chunks)

    def first_byte(self) -> None:
        if self._first_byte is None:
            self._first_byte = self._clock()

    def upstream_request_id(self, request_id: str | None) -> None:
        if request_id:
            self._upstream_request_id = request_id

    def finish(
        self,
        *,
        status: int,
        outcome: Outcome,
        error: ProxyError | None = None,
        summary: ExchangeSummary = EMPTY_SUMMARY,
        key: KeyIdentity | None = None,
        pricing: Pricing | None = None,
    ) -> FinishedExchange:
        """The finished exchange; `summary` is the translation's (empty when none began),
        `key` the proxy key that made it, `pricing` what its cost is computed at."""
        cost = None
        if pricing is not None:
            cost = pricing.cost(self._model, summary.usage, self._strategy)
        return FinishedExchange(
            id=self.exchange_id,
            upstream_request_id=self._upstream_request_id,
            client_request_id=self._client_request_id,
            started_at=self._started_at,
            endpoint=self._endpoint,
            model=self._model,
            stream=self._stream,
            status=status,
            outcome=outcome,
            error=error,
            timings={
                "upstream_first_frame": self._since(self._first_frame),
                "first_byte": self._since(self._first_byte),
                "total": self._since(self._clock()),
            },
            summary=summary,
            request=self._request,
            upstream_request=self._upstream,
            notes=self._notes,
            translation=self._translation,
            frames=self._frames,
            chunks=self._chunks,
            upstream_error=self._answer(error),
            key=key,
            cost=cost,
        )

    def _answer(self, error: ProxyError | None) -> UpstreamAnswer | None:
        answer = None if error is None else error.answer
        if self._frames is None or answer is None:
            return None
        body = answer.body.decode("utf-8", "replace")
        kept: UpstreamAnswer = {
            "status": answer.status,
            "content_type": answer.content_type,
            "body": body,
        }
        if answer.location:
            kept["location"] = answer.location
        return kept

    def _since(self, moment: float | None) -> float | None:
        return None if moment is None else round((moment - self._t0) * 1000, 3)


class NullRecorder(ExchangeRecorder):
    """For when the traffic log is off: metrics, the app log and telemetry still get the
    finished exchange, but nothing is captured, whatever the settings say. Without `bodies`
    (nothing reads them: no telemetry either) the client's body, the upstream request and the
    translation's settings are not held for the exchange's life, a stream's whole length."""

    __slots__ = ()

    keeps_text = False

    def __init__(self, *, bodies: bool = True, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._frames = self._chunks = None
        self.bodies = bodies
