"""The one module that owns httpx: opens DashScope native streams and maps transport failures.

Nothing here buffers a stream: bytes go to the SSE decoder as they arrive. What a response
head means (an error, a redirect, no event stream) is read in `upstream_answers.py`.
"""

from __future__ import annotations

import asyncio
import logging
import ssl
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from typing import Any

import httpx
import orjson

from proxy.config import UpstreamSettings
from proxy.core.errors import (
    POOL_FULL,
    InvalidRequest,
    Unavailable,
    UpstreamTimeout,
    UpstreamUnavailable,
)
from proxy.core.sse import SSEDecoder, SSEEvent
from proxy.server.upstream_answers import check_answer

log = logging.getLogger("proxy")

_POOL_FULL_LOG_EVERY = 60.0  # seconds between two "pool full" warnings
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
        self._pool_full_count = 0  # refusals since the last warning
        self._pool_full_logged = -_POOL_FULL_LOG_EVERY

    @property
    def settings(self) -> UpstreamSettings:
        return self._settings

    async def aclose(self) -> None:
        for client in self._clients:
            await client.aclose()

    async def open(
        self,
        path: str,
        body: Mapping[str, Any],
        api_key: str,
        headers: dict[str, str] | None = None,
        on_sent: Callable[[], None] | None = None,
    ) -> UpstreamStream:
        """POST a streaming request; raise the mapped error unless DashScope answered 2xx with
        an event stream.

        `headers` (forwarded client headers) cannot override the protocol's own. `on_sent` is
        called when the request starts going out (after the pool and the connection).
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
            response = await self._send(shard, path, content, {**forwarded, **protocol}, on_sent)
        except BaseException:
            self._streams[shard] -= 1
            raise
        return UpstreamStream(response, self._settings, lambda: self._release(shard))

    def _shard(self) -> int:
        return self._streams.index(min(self._streams))

    def _release(self, shard: int) -> None:
        self._streams[shard] -= 1

    async def _send(
        self,
        shard: int,
        path: str,
        content: bytes,
        headers: dict[str, str],
        on_sent: Callable[[], None] | None,
    ) -> httpx.Response:
        client = self._clients[shard]
        request = client.build_request("POST", path, content=content, headers=headers)
        if on_sent is not None:
            request.extensions["trace"] = _on_request_sent(on_sent)
        try:
            response = await client.send(request, stream=True)
        except httpx.PoolTimeout:
            raise self._pool_full() from None
        except httpx.ConnectTimeout:
            raise UpstreamTimeout(
                f"DashScope did not accept the connection within "
                f"{self._settings.connect_timeout:g} s"
            ) from None
        except httpx.TimeoutException:  # the write: the request itself
            raise UpstreamTimeout(
                f"DashScope did not take the request within {self._settings.connect_timeout:g} s"
            ) from None
        except httpx.HTTPError as exc:
            raise UpstreamUnavailable(
                f"could not reach DashScope at {self._settings.url}: {type(exc).__name__}"
            ) from None
        await check_answer(response)
        return response

    def _pool_full(self) -> Unavailable:
        """Every connection stayed busy for pool_timeout: the proxy's capacity, not DashScope's
        answer, so a 503 the client may retry shortly, and a warning (one per minute at most,
        with the count since the last one)."""
        self._pool_full_count += 1
        now = time.monotonic()
        if now - self._pool_full_logged >= _POOL_FULL_LOG_EVERY:
            log.warning(
                "upstream connection pool full",
                extra={
                    "max_connections": self._settings.max_connections,
                    "refused": self._pool_full_count,
                },
            )
            self._pool_full_logged, self._pool_full_count = now, 0
        return Unavailable(
            f"The proxy's {self._settings.max_connections} connections to DashScope "
            f"(max_connections) stayed busy for {self._settings.pool_timeout:g} s; retry shortly.",
            code=POOL_FULL,
        )


def _on_request_sent(on_sent: Callable[[], None]) -> Callable[[str, Any], Awaitable[None]]:
    """An httpcore trace callback that calls `on_sent` when the request starts going out:
    after the wait for a pool slot and the connection, which have timeouts of their own."""

    async def trace(event: str, info: Any) -> None:
        if event.endswith("send_request_headers.started"):
            on_sent()

    return trace


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
        # No read timeout: a socket read's silence is not what read_timeout means (the silence
        # between frames); the first-frame deadline (attempts.py) and the stream's own clock
        # (UpstreamStream) bound every read.
        timeout=httpx.Timeout(
            connect=settings.connect_timeout,
            read=None,
            write=settings.connect_timeout,
            pool=settings.pool_timeout,
        ),
        limits=httpx.Limits(max_connections=connections, max_keepalive_connections=connections),
        transport=transport,
    )


class UpstreamStream:
    """An open native SSE stream. Always `aclose()` it, also when the client has gone.

    One reader task per stream pulls bytes off the connection. httpx hands over one piece per
    HTTP chunk, and DashScope sends one chunk per frame, so a single network read holds dozens
    of pieces; the reader collects every piece already received before the consumer wakes,
    and the consumer decodes them at once: one wake-up, one translation batch and one write to
    the client per network read rather than per frame. It stops reading while `_HIGH_WATER`
    bytes wait, so a slow client still slows the upstream down.

    `read_timeout` is the silence between frames, not between bytes: the consumer keeps the
    time of the last frame it decoded and fails when it waits past it, whatever bytes (SSE
    comments, a frame that never ends) came in between. One timer per stream wakes it, armed
    for the deadline it saw and re-armed when it fires early, not one per wait.
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
        self._decoder = SSEDecoder(
            max_line=settings.max_line_bytes, max_event=settings.max_event_bytes
        )
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
        self._last_frame = asyncio.get_running_loop().time()  # when a frame last completed
        self._silence: asyncio.TimerHandle | None = None  # wakes the consumer at its deadline

    @property
    def request_id(self) -> str | None:
        request_id: str | None = self._response.headers.get("x-request-id")
        return request_id

    async def first_events(self) -> list[SSEEvent]:
        """Wait for the first complete frame: only then does the proxy commit to a 200. The
        caller bounds the wait (first_frame_timeout counts from the request, attempts.py).

        Read in the caller's own task: the first frame usually came with the response head,
        and handing it over through the reader task would cost two loop turns of latency."""
        while not self._read_all:
            try:
                piece = await anext(self._bytes)
            except StopAsyncIteration:
                self._read_all = True
                break
            except Exception as exc:
                raise _read_failure(exc) from None
            events = self._decoder.feed(piece)
            if events:
                self._last_frame = asyncio.get_running_loop().time()
                return events
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
            self._await_silence(loop)
            self._arrived = loop.create_future()
            try:
                await self._arrived
            finally:
                self._arrived = None
        if self._pending:
            pieces, self._pending, self._pending_bytes = self._pending, [], 0
            _wake(self._drained)
            events = self._decoder.feed(pieces[0] if len(pieces) == 1 else b"".join(pieces))
            if events:
                self._last_frame = loop.time()
            return events
        self._ended = True
        if self._failure is not None:
            raise self._failure
        # A last frame without its blank line whose JSON is cut short was truncated by the
        # connection's end; dropping it lets the translation report the truncation.
        return [event for event in self._decoder.finish() if _complete(event)]

    def _await_silence(self, loop: asyncio.AbstractEventLoop) -> None:
        """Raise if the silence since the last frame reached read_timeout; else make sure a
        timer wakes the consumer when it will."""
        deadline = self._last_frame + self._settings.read_timeout
        if loop.time() >= deadline:
            raise UpstreamTimeout(f"DashScope sent no frame for {self._settings.read_timeout:g} s")
        if self._silence is None:
            self._silence = loop.call_at(deadline, self._silence_over)

    def _silence_over(self) -> None:
        self._silence = None
        _wake(self._arrived)

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
            self._failure = _read_failure(exc)
        finally:
            self._read_all = True
            _wake(self._arrived)

    async def aclose(self) -> None:
        if self._silence is not None:
            self._silence.cancel()
            self._silence = None
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


def _read_failure(exc: Exception) -> Exception:
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
