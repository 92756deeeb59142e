"""What DashScope's response head says, before any of its stream is read: an event stream to
read on, or an error to raise (DashScope's own, a redirect, or an answer that is no stream).

Error bodies (small, and sent before any stream) are the only thing read whole, and only up to
`_MAX_ERROR_BODY` bytes.
"""

from __future__ import annotations

import httpx

from proxy.core.errors import UpstreamError, UpstreamRedirect, UpstreamUnavailable
from proxy.core.native_stream import native_error
from proxy.core.retry import parse_retry_after
from proxy.core.sse import SSEDecoder

_MAX_ERROR_BODY = 64 * 1024
_MAX_QUOTED = 200  # characters of a Location header quoted in a message


async def check_answer(response: httpx.Response) -> None:
    """Return if `response` is a 2xx event stream; else close it and raise what it means."""
    status = response.status_code
    content_type = response.headers.get("content-type", "")
    if status < 300 and "event-stream" in content_type:
        return
    if 300 <= status < 400:
        await response.aclose()
        location = response.headers.get("location", "")[:_MAX_QUOTED] or "nowhere"
        raise UpstreamRedirect(
            f"DashScope's address answered {status}, redirecting to {location}; the proxy does "
            "not follow redirects: check [upstream] base_url and region"
        )
    body = await _body(response)
    if status >= 400:
        raise _error(response, body)
    error = native_error(body, status) if "json" in content_type else None
    if error is not None and error.code != "upstream_error":
        raise _error(response, body)  # DashScope's JSON error, on a 200
    raise UpstreamUnavailable(
        f"DashScope answered {status} with {content_type or 'no content type'} instead of an "
        "event stream",
        code="upstream_not_an_event_stream",
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


def _error(response: httpx.Response, body: bytes) -> UpstreamError:
    status = response.status_code
    error: UpstreamError | None = None
    if "event-stream" in response.headers.get("content-type", ""):
        decoder = SSEDecoder()
        events = decoder.feed(body) + decoder.finish()
        # The request id may be only in the header, for SSE error bodies as for JSON ones.
        error = native_error(events[0].data, events[0].status or status) if events else None
    if error is None:
        error = native_error(body, status)
    return UpstreamError(
        error.message,
        status=error.status,
        code=error.code,
        request_id=error.request_id or response.headers.get("x-request-id"),
        retry_after=parse_retry_after(response.headers.get("retry-after")),
    )
