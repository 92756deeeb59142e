"""What DashScope's response head says, before any of its stream is read: an event stream to
read on, or an error to raise (DashScope's own, a redirect, or an answer that is no stream),
made by proxy/core/error_answer.py, the mapping `logs replay` uses too.

Error bodies (small, and sent before any stream) are the only thing read whole, and only up to
`_MAX_ERROR_BODY` bytes.
"""

from __future__ import annotations

import httpx

from proxy.core.error_answer import ErrorAnswer, answered, is_event_stream, is_redirect
from proxy.core.retry import parse_retry_after

_MAX_ERROR_BODY = 64 * 1024


async def check_answer(response: httpx.Response) -> None:
    """Return if `response` is a 2xx event stream; else close it and raise what it means."""
    status = response.status_code
    headers = response.headers
    content_type = headers.get("content-type", "")
    if is_event_stream(status, content_type):
        return
    if is_redirect(status):
        await response.aclose()
        body = b""
    else:
        body = await _body(response)
    raise answered(
        ErrorAnswer(status, content_type, body, headers.get("location", "")),
        request_id=headers.get("x-request-id"),
        retry_after=parse_retry_after(headers.get("retry-after")),
    )


async def _body(response: httpx.Response) -> bytes:
    try:
        body = b""
        async for piece in response.aiter_bytes():
            body += piece
            if len(body) > _MAX_ERROR_BODY:
                break
    except httpx.HTTPError:
        pass
    finally:
        await response.aclose()
    return body
