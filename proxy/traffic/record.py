"""One traffic record per exchange: what was asked, thought, run and answered (sans-I/O).

The shell reports the exchange's moments to an `ExchangeRecorder`; `finish()` returns the
record, a plain dict, which the writer redacts and appends as a JSON line. The recorder folds
the emitted chunks as they pass, so it never keeps the stream unless capture asks for it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol

from proxy.chat.fold import ChunkFold
from proxy.core.errors import ProxyError
from proxy.core.events import UsageObject
from proxy.core.sse import SSEEvent

RECORD_VERSION = 1


class Fold(Protocol):
    """Summarises one exchange's emitted items as they pass (chat chunks, Responses events)."""

    @property
    def empty(self) -> bool: ...

    def add(self, item: dict[str, Any], /) -> None: ...

    def completion(self) -> dict[str, Any]: ...


class ExchangeRecorder:
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
        fold: Fold | None = None,
    ) -> None:
        self.exchange_id = exchange_id
        self._clock = clock
        self._t0 = clock()
        # Summarises the emitted items in chat-completions shape, whichever API they belong to.
        self._fold: Fold = fold if fold is not None else ChunkFold()
        self._frames: list[dict[str, Any]] | None = [] if capture_frames else None
        self._chunks: list[dict[str, Any]] | None = [] if capture_chunks else None
        self._first_frame: float | None = None
        self._first_byte: float | None = None
        self._record: dict[str, Any] = {
            "v": RECORD_VERSION,
            "id": exchange_id,
            "upstream_request_id": None,
            "client_request_id": client_request_id,
            "started_at": started_at,
            "endpoint": endpoint,
            "model": None,
            "stream": None,
            "status": None,
            "outcome": None,
            "error": None,
            "request": None,
            "upstream_request": None,
            "notes": [],
            "translation": None,
        }

    def request(self, body: Any) -> None:
        self._record["request"] = body
        if isinstance(body, dict):
            model = body.get("model")
            self._record["model"] = model if isinstance(model, str) else None
            self._record["stream"] = bool(body.get("stream"))

    def plan(
        self,
        *,
        upstream: dict[str, Any] | None,
        notes: list[str],
        translation: dict[str, Any],
    ) -> None:
        """What the proxy sends upstream (None when it answers itself), and what replaying the
        translation needs."""
        self._record["upstream_request"] = upstream
        self._record["notes"] = list(notes)
        self._record["translation"] = translation

    def frames(self, events: list[SSEEvent]) -> None:
        if self._first_frame is None and events:
            self._first_frame = self._clock()
        if self._frames is not None:
            self._frames.extend(
                {"event": e.event, "status": e.status, "data": e.data} for e in events
            )

    def chunks(self, chunks: list[dict[str, Any]]) -> None:
        for chunk in chunks:
            self._fold.add(chunk)
        if self._chunks is not None:
            self._chunks.extend(chunks)

    def first_byte(self) -> None:
        if self._first_byte is None:
            self._first_byte = self._clock()

    def upstream_request_id(self, request_id: str | None) -> None:
        if request_id:
            self._record["upstream_request_id"] = request_id

    def finish(
        self,
        *,
        status: int,
        outcome: str,
        error: ProxyError | None = None,
        code_runs: list[str] | None = None,
        usage: UsageObject | None = None,
    ) -> dict[str, Any]:
        """The complete record. `outcome`: ok, error, cancelled or local (answered locally)."""
        record = self._record
        record["status"] = status
        record["outcome"] = outcome
        if error is not None:
            record["error"] = {"type": error.type, "code": error.code, "message": error.message}
        record["timings_ms"] = {
            "upstream_first_frame": self._since(self._first_frame),
            "first_byte": self._since(self._first_byte),
            "total": self._since(self._clock()),
        }
        record["response"] = self._response(code_runs or [])
        folded_usage = record["response"].pop("usage", None)
        record["usage"] = usage if usage is not None else folded_usage
        if self._frames is not None:
            record["frames"] = self._frames
        if self._chunks is not None:
            record["chunks"] = self._chunks
        return record

    def _since(self, moment: float | None) -> float | None:
        return None if moment is None else round((moment - self._t0) * 1000, 3)

    def _response(self, code_runs: list[str]) -> dict[str, Any]:
        if self._fold.empty:
            return {"choices": [], "code_runs": code_runs}
        completion = self._fold.completion()
        return {
            "choices": [
                {
                    "index": choice["index"],
                    "finish_reason": choice["finish_reason"],
                    "message": choice["message"],
                }
                for choice in completion["choices"]
            ],
            "code_runs": code_runs,
            "usage": completion.get("usage"),
        }


class NullRecorder(ExchangeRecorder):
    """Keeps the summary (status, timings, usage) that metrics and the app log need, but
    neither folds nor captures: the traffic log is off, so the hot path skips that work."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._frames = self._chunks = None

    def frames(self, events: list[SSEEvent]) -> None:
        if self._first_frame is None and events:
            self._first_frame = self._clock()

    def chunks(self, chunks: list[dict[str, Any]]) -> None:
        return None
