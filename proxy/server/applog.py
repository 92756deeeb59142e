"""The application log: JSON lines on stderr, one per request at info, for log pipelines.

Unlike the traffic log it holds no prompts or answers: ids, status, timings, token counts.
"""

from __future__ import annotations

import logging
import sys
import time
from collections.abc import Callable, Hashable
from dataclasses import dataclass
from typing import Any

import orjson

from proxy.traffic.record import FinishedExchange
from proxy.traffic.redact import Redactor

log = logging.getLogger("proxy.requests")

# Attributes every LogRecord has; anything else was passed through `extra=` and is kept.
# (uvicorn adds `color_message`, the same text with terminal colours.)
_STANDARD = frozenset(vars(logging.LogRecord("", 0, "", 0, "", (), None))) | {
    "message",
    "color_message",
}


class JSONFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "time": self.formatTime(record, "%Y-%m-%dT%H:%M:%S") + f".{int(record.msecs):03d}Z",
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        line.update((k, v) for k, v in vars(record).items() if k not in _STANDARD)
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        return orjson.dumps(line, default=str).decode()


def configure_logging(level: str) -> None:
    handler = logging.StreamHandler(sys.stderr)
    formatter = JSONFormatter()
    formatter.converter = time.gmtime  # the "Z" in the timestamps
    handler.setFormatter(formatter)
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    # One line per request comes from the proxy itself; the HTTP clients' and uvicorn's
    # per-request lines would only repeat it.
    for noisy in ("httpx", "httpx2", "httpcore", "uvicorn.access"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    for name in ("uvicorn", "uvicorn.error"):
        logging.getLogger(name).handlers[:] = []
        logging.getLogger(name).propagate = True


# Refusals anyone can provoke without a key: each is logged (key guessing shows), but at most
# REFUSAL_LINES a second per status, so a flood of them cannot flood the log. Every one is
# still counted in dashscope_proxy_requests_total.
REFUSALS = frozenset({401, 404, 405, 408, 413})
REFUSAL_LINES = 10


@dataclass(slots=True)
class _Window:
    start: float
    written: int = 1
    suppressed: int = 0


class Throttle:
    """At most `limit` lines per key in each `period` seconds; the others are counted."""

    def __init__(
        self,
        limit: int = REFUSAL_LINES,
        period: float = 1.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.limit, self.period, self._clock = limit, period, clock
        self._windows: dict[Hashable, _Window] = {}

    def admit(self, key: Hashable) -> int | None:
        """None: leave this line out. Otherwise, write it: the number is how many lines of
        this key were left out before it (the window before), to say so first."""
        now = self._clock()
        window = self._windows.get(key)
        if window is None or now - window.start >= self.period:
            self._windows[key] = _Window(now)
            return window.suppressed if window else 0
        if window.written < self.limit:
            window.written += 1
            return 0
        window.suppressed += 1
        return None


def _admitted(throttle: Throttle | None, status: int) -> bool:
    """Whether a request line with this status is written; a refusal may be left out."""
    if throttle is None or status not in REFUSALS:
        return True
    suppressed = throttle.admit(status)
    if suppressed is None:
        return False
    if suppressed:
        log.warning(
            "suppressed %d request lines",
            suppressed,
            extra={"status": status, "suppressed": suppressed, "period_s": throttle.period},
        )
    return True


def log_exchange(finished: FinishedExchange, throttle: Throttle | None = None) -> None:
    """The request line, from the finished exchange (never its bodies)."""
    if not _admitted(throttle, finished.status):
        return
    usage, cost, key = finished.summary.usage, finished.cost, finished.key
    log.info(
        "request",
        extra={
            "id": finished.id,
            "upstream_request_id": finished.upstream_request_id,
            "endpoint": finished.endpoint,
            "model": loggable(finished.model),
            "stream": finished.stream,
            "status": finished.status,
            "outcome": finished.outcome,
            "error_code": None if finished.error is None else finished.error.code,
            "first_byte_ms": finished.timings["first_byte"],
            "total_ms": finished.timings["total"],
            "prompt_tokens": None if usage is None else usage.prompt_tokens,
            "completion_tokens": None if usage is None else usage.completion_tokens,
            "proxy_key": None if key is None else key.label,  # a name or fingerprint
            "cost": None if cost is None else str(cost.amount),
            "currency": None if cost is None else cost.currency,
        },
    )


_MAX_LOGGED = 128
_MASK_KEYS = Redactor()  # key-shaped strings; the client chose this text


def loggable(text: object) -> object:
    """A client-chosen text as the app log may hold it: key-shaped parts masked, and cut to a
    bounded length, so a pasted key or a 10 KB model name cannot reach the log pipeline."""
    if not isinstance(text, str):
        return text
    masked = str(_MASK_KEYS.redact(text))
    if len(masked) <= _MAX_LOGGED:
        return masked
    return f"{masked[:_MAX_LOGGED]}... ({len(masked)} characters)"


def log_route(path: str, status: int, throttle: Throttle | None = None) -> None:
    """The request line of a route that is not a chat exchange (models)."""
    if not _admitted(throttle, status):
        return
    log.info("request", extra={"endpoint": path, "status": status, "outcome": "ok"})
