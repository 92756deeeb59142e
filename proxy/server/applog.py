"""The application log: JSON lines on stderr, one per request at info, for log pipelines.

Unlike the traffic log it holds no prompts or answers: ids, status, timings, token counts.
"""

from __future__ import annotations

import logging
import sys
import time
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


def log_exchange(finished: FinishedExchange) -> None:
    """The request line, from the finished exchange (never its bodies)."""
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


def log_route(path: str, status: int) -> None:
    """The request line of a route that is not a chat exchange (models)."""
    log.info("request", extra={"endpoint": path, "status": status, "outcome": "ok"})
