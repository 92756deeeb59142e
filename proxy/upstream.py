"""The one module that owns httpx: opens DashScope native streams and maps transport failures.

Nothing here buffers a stream: bytes go to the SSE decoder as they arrive. Error bodies (small,
and sent before any stream) are the only thing read whole.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import httpx
import orjson

from proxy.config import UpstreamSettings
from proxy.errors import InvalidRequest, UpstreamError, UpstreamTimeout, UpstreamUnavailable
from proxy.native_stream import native_error
from proxy.retry import parse_retry_after
from proxy.sse import SSEDecoder, SSEEvent

_MAX_ERROR_BODY = 64 * 1024


class UpstreamClient:
    """One shared connection pool to DashScope for the whole process."""

    def __init__(
        self, settings: UpstreamSettings, *, transport: httpx.AsyncBaseTransport | None = None
    ) -> None:
        self._settings = settings
        self._client = httpx.AsyncClient(
            base_url=settings.url,
            timeout=httpx.Timeout(
                connect=settings.connect_timeout,
                read=settings.read_timeout,
                write=settings.connect_timeout,
                pool=settings.connect_timeout,
            ),
            limits=httpx.Limits(
                max_connections=settings.max_connections,
                max_keepalive_connections=settings.max_connections,
            ),
            transport=transport,
        )

    async def aclose(self) -> None:
        await self._client.aclose()

    async def open(
        self,
        path: str,
        body: dict[str, Any],
        api_key: str,
        headers: dict[str, str] | None = None,
    ) -> UpstreamStream:
        """POST a streaming request; raise the mapped error unless DashScope answered 2xx.

        `headers` (forwarded client headers) cannot override the protocol's own.
        """
        protocol = {
            "Authorization": f"Bearer {api_key}",
            "Content-Type": "application/json",
            "Accept": "text/event-stream",
            "X-DashScope-SSE": "enable",
            "X-Accel-Buffering": "no",
            "User-Agent": "dashscope-proxy",
        }
        if self._settings.workspace:
            protocol["X-DashScope-WorkSpace"] = self._settings.workspace
        # Forwarded headers never duplicate or override the protocol's own (case-insensitively).
        own = {name.lower() for name in protocol}
        forwarded = {k: v for k, v in (headers or {}).items() if k.lower() not in own}
        try:
            content = orjson.dumps(body)
        except orjson.JSONEncodeError:
            # The client's JSON parsed, but nests deeper than JSON encoders follow (255 levels).
            raise InvalidRequest("The request nests too deeply to be sent to DashScope.") from None
        request = self._client.build_request(
            "POST", path, content=content, headers={**forwarded, **protocol}
        )
        try:
            # The response head counts towards the first frame: both are "no answer yet".
            async with asyncio.timeout(self._settings.first_frame_timeout):
                response = await self._client.send(request, stream=True)
        except httpx.ConnectTimeout:
            raise UpstreamTimeout(
                f"DashScope did not accept the connection within "
                f"{self._settings.connect_timeout:g} s"
            ) from None
        except (TimeoutError, httpx.TimeoutException):
            raise UpstreamTimeout(
                f"DashScope sent no response within {self._settings.first_frame_timeout:g} s"
            ) from None
        except httpx.HTTPError as exc:
            raise UpstreamUnavailable(
                f"could not reach DashScope at {self._settings.url}: {type(exc).__name__}"
            ) from None
        if response.status_code >= 300:
            raise await _error_from_response(response)
        return UpstreamStream(response, self._settings)


async def _error_from_response(response: httpx.Response) -> Exception:
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
    status = response.status_code
    error: UpstreamError | None = None
    if "event-stream" in response.headers.get("content-type", ""):
        decoder = SSEDecoder()
        events = decoder.feed(body) + decoder.finish()
        # The request id may be only in the header, for SSE error bodies as for JSON ones.
        error = native_error(events[0].data, events[0].status or status) if events else None
    if error is None:
        error = native_error(body, status)
    if error.request_id is None:
        error.request_id = response.headers.get("x-request-id")
    error.retry_after = parse_retry_after(response.headers.get("retry-after"))
    return error


class UpstreamStream:
    """An open native SSE stream. Always `aclose()` it, also when the client has gone."""

    def __init__(self, response: httpx.Response, settings: UpstreamSettings) -> None:
        self._response = response
        self._settings = settings
        self._bytes = response.aiter_bytes()
        self._decoder = SSEDecoder()
        self._ended = False

    @property
    def request_id(self) -> str | None:
        request_id: str | None = self._response.headers.get("x-request-id")
        return request_id

    async def first_events(self) -> list[SSEEvent]:
        """Wait for the first complete frame: only then does the proxy commit to a 200."""
        timeout = self._settings.first_frame_timeout
        try:
            async with asyncio.timeout(timeout):
                while not self._ended:
                    events = await self._next()
                    if events:
                        return events
        except TimeoutError:
            raise UpstreamTimeout(f"DashScope sent no frame within {timeout:g} s") from None
        return []

    async def events(self) -> AsyncIterator[list[SSEEvent]]:
        """The remaining frames, in batches as they arrive, ending with the decoder's flush."""
        while not self._ended:
            events = await self._next()
            if events:
                yield events

    async def _next(self) -> list[SSEEvent]:
        try:
            chunk = await anext(self._bytes)
        except StopAsyncIteration:
            self._ended = True
            # A last frame without its blank line whose JSON is cut short was truncated by the
            # connection's end; dropping it lets the translation report the truncation.
            return [event for event in self._decoder.finish() if _complete(event)]
        except httpx.TimeoutException:
            raise UpstreamTimeout(
                f"DashScope sent nothing for {self._settings.read_timeout:g} s"
            ) from None
        except httpx.HTTPError as exc:
            raise UpstreamUnavailable(
                f"the connection to DashScope failed mid-stream: {type(exc).__name__}"
            ) from None
        return self._decoder.feed(chunk)

    async def aclose(self) -> None:
        await self._response.aclose()


def _complete(event: SSEEvent) -> bool:
    if event.event == "error" or not event.data:
        return True
    try:
        orjson.loads(event.data)
    except orjson.JSONDecodeError:
        return False
    return True
