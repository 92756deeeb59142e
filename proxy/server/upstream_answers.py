"""What DashScope's response head says, before any of its stream is read: an event stream to
read on, or an error to raise (DashScope's own, a redirect, or an answer that is no stream),
made by proxy/core/error_answer.py, the mapping `logs replay` uses too.

Error bodies (small, and sent before any stream) are the only thing read whole, and only up to
`_MAX_ERROR_BODY` bytes.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from proxy.core.error_answer import ErrorAnswer, answered, is_event_stream, is_redirect
from proxy.core.retry import parse_retry_after

if TYPE_CHECKING:
    from proxy.server.upstream_stream import UpstreamStream

_MAX_ERROR_BODY = 64 * 1024


async def check_answer(stream: UpstreamStream) -> None:
    """Return if the stream's head is a 2xx event stream; else close it and raise what it
    means."""
    head = stream.head
    assert head is not None
    headers = head.headers
    content_type = headers.get("content-type", "")
    if is_event_stream(head.status, content_type):
        return
    try:
        body = b"" if is_redirect(head.status) else await stream.read_body(_MAX_ERROR_BODY)
    except Exception:  # a body cut short: what came is the answer
        body = b""
    finally:
        await stream.aclose()
    raise answered(
        ErrorAnswer(head.status, content_type, body[:_MAX_ERROR_BODY], headers.get("location", "")),
        request_id=headers.get("x-request-id"),
        retry_after=parse_retry_after(headers.get("retry-after")),
    )
