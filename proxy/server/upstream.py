"""The one module that calls DashScope: opens native streams and maps transport failures.

Nothing here buffers a stream: bytes go to the SSE decoder as they arrive. The connections are
proxy/server/upstream_http.py; what a response head means (an error, a redirect, no event
stream) is read in `upstream_answers.py`.
"""

from __future__ import annotations

import asyncio
import logging
import math
import ssl
import time
from collections.abc import AsyncIterator, Callable, Mapping
from typing import Any
from urllib.parse import urlsplit

import orjson

from proxy.config import UpstreamSettings
from proxy.core.errors import (
    POOL_FULL,
    InvalidRequest,
    Unavailable,
    UpstreamTimeout,
    UpstreamUnavailable,
)
from proxy.core.http1 import Head, request_bytes
from proxy.core.sse import SSEDecoder, SSEEvent
from proxy.server.upstream_answers import check_answer
from proxy.server.upstream_http import (
    ConnectFailed,
    Connection,
    ConnectionBroken,
    ConnectTimeout,
    Origin,
    Pool,
    PoolFull,
)

log = logging.getLogger("proxy")

_POOL_FULL_LOG_EVERY = 60.0  # seconds between two "pool full" warnings
# Bytes read ahead of the consumer before the connection stops reading for it.
_HIGH_WATER = 64 * 1024


def upstream_address(url: str) -> tuple[Origin, str]:
    """Where the native base URL points: the origin, and the path prefix paths are joined to."""
    parts = urlsplit(url)
    scheme = parts.scheme
    port = parts.port or (443 if scheme == "https" else 80)
    return Origin(scheme, parts.hostname or "", port), parts.path.rstrip("/")


class Stopped(Exception):
    """`UpstreamStream.stop()` was called while frames were still coming."""


class UpstreamClient:
    """The process's connections to DashScope: one pool of at most `max_connections`."""

    def __init__(self, settings: UpstreamSettings) -> None:
        self._settings = settings
        self._origin, self._prefix = upstream_address(settings.url)
        tls = ssl.create_default_context() if self._origin.scheme == "https" else None
        self._pool = Pool(
            self._origin,
            settings.max_connections,
            connect_timeout=settings.connect_timeout,
            pool_timeout=settings.pool_timeout,
            tls=tls,
        )
        self._pool_full_count = 0  # refusals since the last warning
        self._pool_full_logged = -_POOL_FULL_LOG_EVERY

    @property
    def settings(self) -> UpstreamSettings:
        return self._settings

    def url(self, path: str) -> str:
        """The URL a native `path` is requested at."""
        origin = self._origin
        return f"{origin.scheme}://{origin.host_header}{self._prefix}{path}"

    async def aclose(self) -> None:
        self._pool.close()

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
        called when the request goes out (after the pool and the connection).
        """
        data = self.encode(path, body, api_key, headers)
        stream = await self._send(data, on_sent)
        await check_answer(stream)
        return stream

    def encode(
        self,
        path: str,
        body: Mapping[str, Any],
        api_key: str,
        headers: dict[str, str] | None = None,
    ) -> bytes:
        """The request's bytes: the native protocol's headers, the forwarded ones, the body."""
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
        forwarded = [(k, v) for k, v in (headers or {}).items() if k.lower() not in own]
        try:
            content = orjson.dumps(body)
        except orjson.JSONEncodeError:
            # The client's JSON parsed, but nests deeper than JSON encoders follow (255 levels).
            raise InvalidRequest("The request nests too deeply to be sent to DashScope.") from None
        try:
            return request_bytes(
                "POST",
                self._prefix + path,
                self._origin.host_header,
                [*forwarded, *protocol.items()],
                content,
            )
        except ValueError as exc:
            raise InvalidRequest(f"The request cannot be sent to DashScope: {exc}") from None

    async def _send(self, data: bytes, on_sent: Callable[[], None] | None) -> UpstreamStream:
        """The request on a pooled connection; once more on a new one when a reused connection
        turns out closed before any byte of an answer (the server closed it while idle)."""
        pool = self._pool
        while True:
            connection, reused = await self._connection()
            stream = UpstreamStream(connection, pool, self._settings)
            if on_sent is not None:
                on_sent()
            try:
                stream.head = await connection.send(data, stream)
            except ConnectionBroken as exc:
                pool.drop(connection)
                if reused and not exc.answered:
                    continue
                raise UpstreamUnavailable(
                    f"could not reach DashScope at {self._settings.url}: {exc}"
                ) from None
            except BaseException:
                pool.drop(connection)
                raise
            return stream

    async def _connection(self) -> tuple[Connection, bool]:
        try:
            return await self._pool.acquire()
        except PoolFull:
            raise self._pool_full() from None
        except ConnectTimeout:
            raise UpstreamTimeout(
                f"DashScope did not accept the connection within "
                f"{self._settings.connect_timeout:g} s"
            ) from None
        except ConnectFailed as exc:
            raise UpstreamUnavailable(
                f"could not reach DashScope at {self._settings.url}: {exc}"
            ) from None

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


class UpstreamStream:
    """An open native SSE stream. Always `aclose()` it, also when the client has gone.

    The connection hands over the body of every network read as it arrives (`body`, called
    by the connection's protocol, with no task per stream); the consumer decodes what came
    since it last looked at once: one wake-up, one translation batch and one write to the
    client per network read rather than per frame. The connection stops reading while
    `_HIGH_WATER` bytes wait, so a slow client still slows the upstream down.

    `read_timeout` is the silence between frames, not between bytes: the consumer keeps the
    time of the last frame it decoded and fails when it waits past it, whatever bytes (SSE
    comments, a frame that never ends) came in between. Keep-alives for the client and the
    exchange's own stop (its deadline, a shutdown's drain) are waited for in the same wait, so
    a stream costs no task: one timer wakes the consumer for the first deadline.
    """

    __slots__ = (
        "_arrived",
        "_connection",
        "_decoder",
        "_ended",
        "_failure",
        "_last_beat",
        "_last_frame",
        "_loop",
        "_paused",
        "_pending",
        "_pending_bytes",
        "_pool",
        "_read_all",
        "_settings",
        "_stopped",
        "_timer",
        "head",
    )

    def __init__(self, connection: Connection, pool: Pool, settings: UpstreamSettings) -> None:
        self.head: Head | None = None
        self._connection: Connection | None = connection
        self._pool = pool
        self._settings = settings
        self._decoder: SSEDecoder | None = None  # made when the first body bytes are decoded
        self._pending: list[bytes] = []
        self._pending_bytes = 0
        self._arrived: asyncio.Future[None] | None = None  # the consumer waits for bytes
        self._failure: Exception | None = None  # how the reading ended, if not cleanly
        self._read_all = False
        self._ended = False
        self._paused = False
        self._loop = asyncio.get_running_loop()
        self._last_frame = self._loop.time()  # when a frame last completed
        self._last_beat = self._last_frame  # when a batch or a keep-alive last went out
        self._timer: asyncio.TimerHandle | None = None  # wakes the consumer at its deadline
        self._stopped = False

    @property
    def request_id(self) -> str | None:
        return self.head.headers.get("x-request-id") if self.head is not None else None

    # The connection's side (upstream_http.BodySink).

    def body(self, piece: bytes) -> None:
        self._pending.append(piece)
        self._pending_bytes += len(piece)
        _wake(self._arrived)
        if self._pending_bytes >= _HIGH_WATER and not self._paused:
            self._paused = True
            if self._connection is not None:
                self._connection.pause()

    def end(self, failure: Exception | None) -> None:
        self._read_all = True
        if failure is not None:
            self._failure = UpstreamUnavailable(
                f"the connection to DashScope failed mid-stream: {failure}"
            )
        _wake(self._arrived)

    # The consumer's side.

    async def read_body(self, limit: int) -> bytes:
        """The body as bytes, up to about `limit` (an error answer's: small, never a stream)."""
        body = b""
        while len(body) <= limit:
            await self._wait()
            if not self._pending:
                break
            body += b"".join(self._take())
        return body

    async def first_events(self) -> list[SSEEvent]:
        """Wait for the first complete frame: only then does the proxy commit to a 200. The
        caller bounds the wait (first_frame_timeout counts from the request, attempts.py)."""
        while True:
            events = await self._next(silence=False) or []  # no keep-alive: never None
            if events or self._ended:
                return events

    async def events(self, keepalive: float = 0.0) -> AsyncIterator[list[SSEEvent] | None]:
        """The remaining frames, in batches as they arrive, ending with the decoder's flush;
        None after every `keepalive` seconds without a batch (0: never). Raises `Stopped` as
        soon as `stop()` was called."""
        self._last_beat = self._loop.time()
        while not self._ended:
            events = await self._next(silence=True, keepalive=keepalive)
            if events is None or events:
                self._last_beat = self._loop.time()
                yield events

    def stop(self) -> None:
        """End `events()` with `Stopped` (the exchange's deadline, a shutdown's drain)."""
        self._stopped = True
        _wake(self._arrived)

    async def _next(self, *, silence: bool, keepalive: float = 0.0) -> list[SSEEvent] | None:
        if not await self._wait(silence=silence, keepalive=keepalive):
            return None
        decoder = self._decoder
        if decoder is None:
            settings = self._settings
            decoder = self._decoder = SSEDecoder(
                max_line=settings.max_line_bytes, max_event=settings.max_event_bytes
            )
        if self._pending:
            pieces = self._take()
            events = decoder.feed(pieces[0] if len(pieces) == 1 else b"".join(pieces))
            if events:
                self._last_frame = self._loop.time()
            return events
        self._ended = True
        if self._failure is not None:
            raise self._failure
        # A last frame without its blank line whose JSON is cut short was truncated by the
        # connection's end; dropping it lets the translation report the truncation.
        return [event for event in decoder.finish() if _complete(event)]

    async def _wait(self, *, silence: bool = False, keepalive: float = 0.0) -> bool:
        """True once bytes are pending or the body is over; False when a keep-alive is due.
        With `silence`, raises at read_timeout. One timer wakes the consumer for whichever
        is first, re-armed only when it fires early (deadlines only move later)."""
        loop = self._loop
        while not self._pending and not self._read_all:
            if self._stopped:
                raise Stopped
            now, due = loop.time(), math.inf
            if silence:
                due = self._last_frame + self._settings.read_timeout
                if now >= due:
                    raise UpstreamTimeout(
                        f"DashScope sent no frame for {self._settings.read_timeout:g} s"
                    )
            if keepalive > 0:
                beat = self._last_beat + keepalive
                if now >= beat:
                    return False
                due = min(due, beat)
            self._arm(due)
            self._arrived = loop.create_future()
            try:
                await self._arrived
            finally:
                self._arrived = None
        if self._stopped:
            raise Stopped
        return True

    def _arm(self, due: float) -> None:
        timer = self._timer
        if due == math.inf or (timer is not None and timer.when() <= due):
            return
        if timer is not None:
            timer.cancel()
        self._timer = self._loop.call_at(due, self._timer_over)

    def _take(self) -> list[bytes]:
        pieces, self._pending, self._pending_bytes = self._pending, [], 0
        if self._paused:
            self._paused = False
            if self._connection is not None:
                self._connection.resume()
        return pieces

    def _timer_over(self) -> None:
        self._timer = None
        _wake(self._arrived)

    async def aclose(self) -> None:
        """Give the connection back (kept for another request only if the body was read to
        its end) and stop the timer."""
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        connection, self._connection = self._connection, None
        if connection is not None:
            self._pool.release(connection)


def _wake(waiter: asyncio.Future[None] | None) -> None:
    if waiter is not None and not waiter.done():
        waiter.set_result(None)


def _complete(event: SSEEvent) -> bool:
    if event.event == "error" or not event.data:
        return True
    try:
        orjson.loads(event.data)
    except orjson.JSONDecodeError:
        return False
    return True
