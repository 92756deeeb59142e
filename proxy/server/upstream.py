"""The one module that owns httpx: opens DashScope native streams and maps transport failures.

Nothing here buffers a stream: bytes go to the SSE decoder as they arrive. Error bodies (small,
and sent before any stream) are the only thing read whole.
"""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import AsyncIterator, Callable, Mapping
from typing import Any

import httpx
import orjson

from proxy.config import UpstreamSettings
from proxy.core.error_answer import AnsweredError, ErrorAnswer
from proxy.core.errors import InvalidRequest, UpstreamTimeout, UpstreamUnavailable
from proxy.core.retry import parse_retry_after
from proxy.core.sse import SSEDecoder, SSEEvent

_MAX_ERROR_BODY = 64 * 1024
# Bytes read ahead of the consumer before the reader waits for it.
_HIGH_WATER = 64 * 1024
# Connections per httpcore pool: its bookkeeping is linear in them, per request.
_SHARD_CONNECTIONS = 64


class UpstreamClient:
    """The process's connections to DashScope, in pools of at most `_SHARD_CONNECTIONS`.

    httpcore scans every connection of a pool whenever a request starts or a response closes,
    so one pool of a thousand connections spends most of the proxy's CPU in those scans, and
    even at 64 streams they stretch the slowest first bytes. A request goes to the pool with
    the fewest open streams (at one stream at a time, always the first).
    """

    def __init__(
        self, settings: UpstreamSettings, *, transport: httpx.AsyncBaseTransport | None = None
    ) -> None:
        self._settings = settings
        # A given transport (tests) is shared, and each client would close it: one pool then.
        sizes = [settings.max_connections] if transport else _shard_sizes(settings.max_connections)
        tls = httpx.create_ssl_context()  # about 1 MB each: the pools share one
        self._clients = [_client(settings, size, transport, tls) for size in sizes]
        self._streams = [0] * len(sizes)  # open streams per pool

    async def aclose(self) -> None:
        for client in self._clients:
            await client.aclose()

    async def open(
        self,
        path: str,
        body: Mapping[str, Any],
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
            # A copy: orjson's result keeps its 4 KiB buffer, held for the stream's whole life.
            content = bytes(memoryview(orjson.dumps(body)))
        except orjson.JSONEncodeError:
            # The client's JSON parsed, but nests deeper than JSON encoders follow (255 levels).
            raise InvalidRequest("The request nests too deeply to be sent to DashScope.") from None
        shard = self._shard()
        self._streams[shard] += 1
        try:
            response = await self._send(shard, path, content, {**forwarded, **protocol})
        except BaseException:
            self._streams[shard] -= 1
            raise
        return UpstreamStream(response, self._settings, lambda: self._release(shard))

    def _shard(self) -> int:
        return self._streams.index(min(self._streams))

    def _release(self, shard: int) -> None:
        self._streams[shard] -= 1

    async def _send(
        self, shard: int, path: str, content: bytes, headers: dict[str, str]
    ) -> httpx.Response:
        client = self._clients[shard]
        request = client.build_request("POST", path, content=content, headers=headers)
        try:
            # The response head counts towards the first frame: both are "no answer yet".
            async with asyncio.timeout(self._settings.first_frame_timeout):
                response = await client.send(request, stream=True)
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
        return response


def _shard_sizes(connections: int) -> list[int]:
    """`connections` split into as few pools as keep each within `_SHARD_CONNECTIONS`."""
    shards = -(-connections // _SHARD_CONNECTIONS)
    return [connections // shards + (i < connections % shards) for i in range(shards)]


def _client(
    settings: UpstreamSettings,
    connections: int,
    transport: httpx.AsyncBaseTransport | None,
    tls: ssl.SSLContext,
) -> httpx.AsyncClient:
    return httpx.AsyncClient(
        base_url=settings.url,
        verify=tls,
        timeout=httpx.Timeout(
            connect=settings.connect_timeout,
            read=settings.read_timeout,
            write=settings.connect_timeout,
            pool=settings.connect_timeout,
        ),
        limits=httpx.Limits(max_connections=connections, max_keepalive_connections=connections),
        transport=transport,
    )


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
    content_type = response.headers.get("content-type", "")
    return AnsweredError(
        ErrorAnswer(response.status_code, content_type, body),
        request_id=response.headers.get("x-request-id"),
        retry_after=parse_retry_after(response.headers.get("retry-after")),
    )


class UpstreamStream:
    """An open native SSE stream. Always `aclose()` it, also when the client has gone.

    One reader task per stream pulls bytes off the connection. httpx hands over one piece per
    HTTP chunk, and DashScope sends one chunk per frame, so a single network read holds dozens
    of pieces; the reader collects every piece already received before the consumer wakes,
    and the consumer decodes them at once: one wake-up, one translation batch and one write to
    the client per network read rather than per frame. It stops reading while `_HIGH_WATER`
    bytes wait, so a slow client still slows the upstream down.
    """

    def __init__(
        self,
        response: httpx.Response,
        settings: UpstreamSettings,
        on_close: Callable[[], None] = lambda: None,
    ) -> None:
        self._response = response
        self._on_close: Callable[[], None] | None = on_close
        self._settings = settings
        self._decoder = SSEDecoder()
        self._bytes = response.aiter_bytes()
        self._pending: list[bytes] = []
        self._pending_bytes = 0
        # Futures only while someone waits (Events would cost a deque each per open stream).
        self._arrived: asyncio.Future[None] | None = None  # the consumer waits for pieces
        self._drained: asyncio.Future[None] | None = None  # the reader waits for the consumer
        self._reader: asyncio.Task[None] | None = None
        self._failure: Exception | None = None  # how the reading ended, if not cleanly
        self._read_all = False
        self._ended = False

    @property
    def request_id(self) -> str | None:
        request_id: str | None = self._response.headers.get("x-request-id")
        return request_id

    async def first_events(self) -> list[SSEEvent]:
        """Wait for the first complete frame: only then does the proxy commit to a 200.

        Read in the caller's own task: the first frame usually came with the response head,
        and handing it over through the reader task would cost two loop turns of latency."""
        timeout = self._settings.first_frame_timeout
        try:
            async with asyncio.timeout(timeout):
                while not self._read_all:
                    try:
                        piece = await anext(self._bytes)
                    except StopAsyncIteration:
                        self._read_all = True
                        break
                    except Exception as exc:
                        raise _read_failure(exc, self._settings) from None
                    events = self._decoder.feed(piece)
                    if events:
                        return events
        except TimeoutError:
            raise UpstreamTimeout(f"DashScope sent no frame within {timeout:g} s") from None
        return await self._next()

    async def events(self) -> AsyncIterator[list[SSEEvent]]:
        """The remaining frames, in batches as they arrive, ending with the decoder's flush."""
        while not self._ended:
            events = await self._next()
            if events:
                yield events

    async def _next(self) -> list[SSEEvent]:
        loop = asyncio.get_running_loop()
        if self._reader is None and not self._read_all:
            self._reader = loop.create_task(self._read())
        while not self._pending and not self._read_all:
            self._arrived = loop.create_future()
            try:
                await self._arrived
            finally:
                self._arrived = None
        if self._pending:
            pieces, self._pending, self._pending_bytes = self._pending, [], 0
            _wake(self._drained)
            return self._decoder.feed(pieces[0] if len(pieces) == 1 else b"".join(pieces))
        self._ended = True
        if self._failure is not None:
            raise self._failure
        # A last frame without its blank line whose JSON is cut short was truncated by the
        # connection's end; dropping it lets the translation report the truncation.
        return [event for event in self._decoder.finish() if _complete(event)]

    async def _read(self) -> None:
        try:
            async for piece in self._bytes:
                self._pending.append(piece)
                self._pending_bytes += len(piece)
                _wake(self._arrived)
                if self._pending_bytes >= _HIGH_WATER:
                    self._drained = asyncio.get_running_loop().create_future()
                    try:
                        await self._drained
                    finally:
                        self._drained = None
        except Exception as exc:  # raised to the consumer once the bytes before it are out
            self._failure = _read_failure(exc, self._settings)
        finally:
            self._read_all = True
            _wake(self._arrived)

    async def aclose(self) -> None:
        reader, self._reader = self._reader, None
        if reader is not None and not reader.done():
            reader.cancel()
            # The read must unwind before its connection is closed under it; `wait` does not
            # raise the reader's cancellation, only this task's own.
            await asyncio.wait([reader])
        on_close, self._on_close = self._on_close, None
        if on_close is not None:
            on_close()
        await self._response.aclose()


def _wake(waiter: asyncio.Future[None] | None) -> None:
    if waiter is not None and not waiter.done():
        waiter.set_result(None)


def _read_failure(exc: Exception, settings: UpstreamSettings) -> Exception:
    if isinstance(exc, httpx.TimeoutException):
        return UpstreamTimeout(f"DashScope sent nothing for {settings.read_timeout:g} s")
    if isinstance(exc, httpx.HTTPError):
        return UpstreamUnavailable(
            f"the connection to DashScope failed mid-stream: {type(exc).__name__}"
        )
    return exc


def _complete(event: SSEEvent) -> bool:
    if event.event == "error" or not event.data:
        return True
    try:
        orjson.loads(event.data)
    except orjson.JSONDecodeError:
        return False
    return True
