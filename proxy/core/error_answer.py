"""DashScope's answer when it is not the event stream asked for, made into the client's error
(sans-I/O).

Such an answer comes whole, before any stream: DashScope's refusal with a non-2xx status (a
JSON body `{"code", "message", "request_id"}`, or an event-stream body holding one `event:error`
frame, from its gateway), a redirect (the configured address is wrong), or a 2xx that is no
event stream (DashScope's JSON error on a 200, or some other server's page). The shell reads it
(proxy/server/upstream_answers.py) and raises `answered()`; the traffic record keeps the answer
when frames are captured, and `logs replay` makes the error again with `error_of()`, so what
replay shows is what today's proxy would answer.
"""

from __future__ import annotations

from dataclasses import dataclass

from proxy.core.errors import ProxyError, UpstreamError, UpstreamRedirect, UpstreamUnavailable
from proxy.core.native_stream import native_error
from proxy.core.sse import SSEDecoder

_MAX_QUOTED = 200  # characters of a Location header quoted in a message


@dataclass(frozen=True, slots=True)
class ErrorAnswer:
    status: int
    content_type: str
    body: bytes  # a redirect's is not read
    location: str = ""  # a redirect's Location header


def is_event_stream(status: int, content_type: str) -> bool:
    """Whether DashScope's response head announces the stream asked for."""
    return status < 300 and "event-stream" in content_type


def is_redirect(status: int) -> bool:
    """A redirect's body is not read: where it points is in its head."""
    return 300 <= status < 400


def answered(
    answer: ErrorAnswer, *, request_id: str | None = None, retry_after: float | None = None
) -> ProxyError:
    """The error the shell raises for `answer`, with what the response head adds to
    DashScope's own errors (its request id, when the body has none, and Retry-After)."""
    error = error_of(answer)
    if isinstance(error, UpstreamError):
        error.request_id = error.request_id or request_id
        error.retry_after = retry_after
    error.answer = answer
    return error


def error_of(answer: ErrorAnswer) -> ProxyError:
    """The client's error for an answer that is no event stream (without its head's request
    id); `answer` is never a 2xx event stream (`is_event_stream`)."""
    status, content_type = answer.status, answer.content_type
    if is_redirect(status):
        location = answer.location[:_MAX_QUOTED] or "nowhere"
        return UpstreamRedirect(
            f"DashScope's address answered {status}, redirecting to {location}; the proxy does "
            "not follow redirects: check [upstream] base_url and region"
        )
    if status >= 400:
        return _refusal(answer)
    error = native_error(answer.body, status) if "json" in content_type else None
    if error is not None and error.code != "upstream_error":
        return error  # DashScope's JSON error, on a 200
    return UpstreamUnavailable(
        f"DashScope answered {status} with {content_type or 'no content type'} instead of an "
        "event stream",
        code="upstream_not_an_event_stream",
    )


def _refusal(answer: ErrorAnswer) -> UpstreamError:
    if "event-stream" in answer.content_type:
        decoder = SSEDecoder()
        events = decoder.feed(answer.body) + decoder.finish()
        if events:
            return native_error(events[0].data, events[0].status or answer.status)
    return native_error(answer.body, answer.status)
