"""DashScope's answer when it refuses a request with a non-2xx status (sans-I/O).

Such an answer is small and comes whole, before any stream: a JSON body `{"code", "message",
"request_id"}`, or an event-stream body holding one `event:error` frame (gateway errors). The
shell reads it (proxy/server/upstream.py) and turns it into the client's error here; the traffic
record keeps it when frames are captured, and `logs replay` turns it into an error again with
the same function, so what replay shows is what today's proxy would answer.
"""

from __future__ import annotations

from dataclasses import dataclass

from proxy.core.errors import UpstreamError
from proxy.core.native_stream import native_error
from proxy.core.sse import SSEDecoder


@dataclass(frozen=True, slots=True)
class ErrorAnswer:
    status: int
    content_type: str
    body: bytes


class AnsweredError(UpstreamError):
    """An upstream error with the answer it was made from."""

    def __init__(
        self,
        answer: ErrorAnswer,
        *,
        request_id: str | None = None,
        retry_after: float | None = None,
    ) -> None:
        error = error_of(answer)
        super().__init__(
            error.message,
            status=error.status,
            code=error.code,
            # The request id may be only in the header, for SSE error bodies as for JSON ones.
            request_id=error.request_id or request_id,
            retry_after=retry_after,
        )
        self.answer = answer


def error_of(answer: ErrorAnswer) -> UpstreamError:
    """The client's error for DashScope's answer (without the response head's request id)."""
    if "event-stream" in answer.content_type:
        decoder = SSEDecoder()
        events = decoder.feed(answer.body) + decoder.finish()
        if events:
            return native_error(events[0].data, events[0].status or answer.status)
    return native_error(answer.body, answer.status)
