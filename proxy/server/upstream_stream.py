"""An open native SSE stream: the bytes its connection hands over, decoded into frames for the
exchange, with the read timeout, keep-alives and the exchange's stop in one wait.
"""

from __future__ import annotations

import asyncio
import enum
import math
from collections.abc import Callable

import orjson

from proxy.config import UpstreamSettings
from proxy.core.errors import UpstreamTimeout, UpstreamUnavailable
from proxy.core.http1 import Head
from proxy.core.sse import SSEDecoder, SSEEvent
from proxy.server.upstream_http import Connection, Pool

# Bytes read ahead of the consumer before the connection stops reading for it.
_HIGH_WATER = 64 * 1024


class Stopped(Exception):
    """The stream was stopped while frames were still coming: by `stop()` (`called`, a
    shutdown's drain) or because the time `stop_in()` set is over (the exchange's deadline).
    The stream says which, as it knows: the exchange's own clock (time.monotonic) and the
    loop's (uvloop's is libuv's coarse, cached one) may disagree by milliseconds."""

    def __init__(self, *, called: bool) -> None:
        super().__init__("stopped" if called else "deadline")
        self.called = called


class Wait(enum.Enum):
    """`poll()`'s answer when nothing is due yet: wait (`sleep()`, `notify()`) and poll again."""

    WAIT = "wait"


WAIT = Wait.WAIT


class UpstreamStream:
    """An open native SSE stream. Always `aclose()` it, also when the client has gone.

    The connection hands over the body of every network read as it arrives (`body`, called
    by the connection's protocol, with no task per stream); the consumer decodes what came
    since it last looked at once (`poll`): one translation batch and one write to the client
    per network read rather than per frame. A consumer waits either for a future (`sleep`) or
    to be called back (`notify`), then from the connection's own callback, with no task woken
    at all. The connection stops reading while `_HIGH_WATER` bytes wait, so a slow client
    still slows the upstream down.

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
        "_due_at",
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
        "_ready",
        "_settings",
        "_stop_at",
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
        self._arrived: asyncio.Future[None] | None = None  # the consumer's wait for bytes
        self._ready: Callable[[], None] | None = None  # or its callback (`notify`)
        self._due_at = math.inf  # when the consumer is woken if no bytes come first
        self._failure: Exception | None = None  # how the reading ended, if not cleanly
        self._read_all = False
        self._ended = False
        self._paused = False
        self._loop = asyncio.get_running_loop()
        self._last_frame = self._loop.time()  # when a frame last completed
        self._last_beat = self._last_frame  # when a batch or a keep-alive last went out
        self._timer: asyncio.TimerHandle | None = None  # wakes the consumer at its deadline
        self._stopped = False
        self._stop_at = math.inf  # when `next_events()` stops by itself (the exchange's deadline)

    @property
    def request_id(self) -> str | None:
        return self.head.headers.get("x-request-id") if self.head is not None else None

    # The connection's side (upstream_http.BodySink).

    def body(self, piece: bytes, *, last: bool = False) -> None:
        self._pending.append(piece)
        self._pending_bytes += len(piece)
        self._read_all = self._read_all or last
        self._wake()
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
        self._wake()

    # The consumer's side.

    async def read_body(self, limit: int) -> bytes:
        """The body as bytes, up to about `limit` (an error answer's: small, never a stream)."""
        body = b""
        while len(body) <= limit:
            while not self._pending and not self._read_all:
                due = self._due(silence=False, keepalive=0.0)
                assert due is not None  # no keep-alive
                self._due_at = due
                await self.sleep()
            self._check_stop()
            if not self._pending:
                break
            body += b"".join(self._take())
        return body

    async def first_events(self) -> list[SSEEvent]:
        """Wait for the first complete frame: only then does the proxy commit to a 200. The
        caller bounds the wait (first_frame_timeout counts from the request, attempts.py)."""
        return await self.next_events(silence=False) or []  # no keep-alive: never None

    async def next_events(
        self, keepalive: float = 0.0, *, silence: bool = True
    ) -> list[SSEEvent] | None:
        """`poll()`, waited for: the next frames, None for a keep-alive, [] once over. One
        coroutine per batch that waits itself: a stream holds neither an async generator nor a
        frame under it while it waits."""
        while (events := self.poll(keepalive, silence=silence)) is WAIT:
            await self.sleep()
        return events

    @property
    def over(self) -> bool:
        """The last frame was handed out (with its batch): nothing more will come."""
        return self._ended

    def poll(self, keepalive: float = 0.0, *, silence: bool = True) -> list[SSEEvent] | Wait | None:
        """The frames that came since the last call, in one batch; the batch holding the last
        frame ends the stream (`over`), and [] once it is over. None once `keepalive` seconds
        passed without a batch (0: never); WAIT if nothing is due yet. With `silence`, raises
        at read_timeout; raises `Stopped` as soon as `stop()` was called or the time
        `stop_in()` set is over."""
        while not self._ended:
            if self._pending or self._read_all:
                self._check_stop()
                events = self._decode()
                if events:
                    self._last_beat = self._loop.time()
                    return events
                continue
            if self._timer is not None and not self._stopped:
                # Nothing came; the timer armed at the last WAIT fires no later than anything
                # falls due (a deadline or keep-alive only moves later), and then this is
                # worked out again: most calls are this one, once after each batch.
                return WAIT
            due = self._due(silence=silence, keepalive=keepalive)
            if due is None:
                self._last_beat = self._loop.time()
                return None
            self._due_at = due
            return WAIT
        return []

    def sleep(self) -> asyncio.Future[None]:
        """What the consumer awaits after a WAIT: done at the next bytes, the body's end, a
        stop, or when the next deadline or keep-alive is due."""
        self._arm(self._due_at)
        arrived = self._arrived = self._loop.create_future()
        return arrived

    def notify(self, ready: Callable[[], None]) -> None:
        """After a WAIT: call `ready` (once) when `sleep()` would be done, from the callback
        that brought the bytes, the end or the stop, or from the timer."""
        self._arm(self._due_at)
        self._ready = ready

    def stop(self) -> None:
        """End `poll()` with `Stopped` (a shutdown's drain)."""
        self._stopped = True
        self._wake()

    def stop_in(self, seconds: float) -> None:
        """End `poll()` with `Stopped` once `seconds` are over (the exchange's deadline),
        waited for in the consumer's own wait rather than by a timer of its own."""
        self._stop_at = self._loop.time() + seconds
        if self._timer is not None:  # a timer armed for later must not outlast the deadline
            self._arm(self._stop_at)

    def _decode(self) -> list[SSEEvent]:
        """The frames of the bytes that came since the last call; once the body has ended, the
        decoder's flush with them, and the stream is over."""
        decoder = self._decoder
        if decoder is None:
            settings = self._settings
            decoder = self._decoder = SSEDecoder(
                max_line=settings.max_line_bytes, max_event=settings.max_event_bytes
            )
        events: list[SSEEvent] = []
        if self._pending:
            pieces = self._take()
            events = decoder.feed(pieces[0] if len(pieces) == 1 else b"".join(pieces))
            if events:
                self._last_frame = self._loop.time()
            if not self._read_all or self._failure is not None:
                # Frames before a broken connection come out before its error, in a batch
                # of their own.
                return events
        self._ended = True
        if self._failure is not None:
            raise self._failure
        # The last read's frames and the flush in one batch: the answer's end goes out in one
        # write with them. A last frame without its blank line whose JSON is cut short was
        # truncated by the connection's end; dropping it lets the translation report that.
        events.extend(event for event in decoder.finish() if _complete(event))
        return events

    def _due(self, *, silence: bool, keepalive: float) -> float | None:
        """When the consumer is woken if no bytes come first: the stop time, read_timeout after
        the last frame (with `silence`) or the next keep-alive, whichever is first; None when a
        keep-alive is due now. Raises once the stop time or read_timeout is over."""
        now, due = self._loop.time(), self._stop_at
        if self._stopped or now >= due:
            raise Stopped(called=self._stopped)
        if silence:
            silent = self._last_frame + self._settings.read_timeout
            if now >= silent:
                raise UpstreamTimeout(
                    f"DashScope sent no frame for {self._settings.read_timeout:g} s"
                )
            due = min(due, silent)
        if keepalive > 0:
            beat = self._last_beat + keepalive
            if now >= beat:
                return None
            due = min(due, beat)
        return due

    def _check_stop(self) -> None:
        if self._stopped or (self._stop_at < math.inf and self._loop.time() >= self._stop_at):
            raise Stopped(called=self._stopped)

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
        self._wake()

    def _wake(self) -> None:
        arrived, ready = self._arrived, self._ready
        if arrived is not None and not arrived.done():
            arrived.set_result(None)
        if ready is not None:
            self._ready = None
            ready()

    async def aclose(self) -> None:
        self.close()

    def close(self) -> None:
        """Give the connection back (kept for another request only if the body was read to
        its end), stop the timer and forget the consumer's callback."""
        self._ready = None
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        connection, self._connection = self._connection, None
        if connection is not None:
            self._pool.release(connection)


def _complete(event: SSEEvent) -> bool:
    if event.event == "error" or not event.data:
        return True
    try:
        orjson.loads(event.data)
    except orjson.JSONDecodeError:
        return False
    return True
