"""Admission and shutdown: how many exchanges run, and what happens after SIGTERM.

On SIGTERM the server (proxy/server/serving.py) calls `begin_drain`: readiness turns 503, new
exchanges are refused with a 503, and exchanges in flight may go on for `drain_timeout`
seconds; then the streams still open are told (`on_expired`) and end with an in-band error
and [DONE].
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable

from proxy.core.errors import Unavailable

_LAST_WORDS = 2.0  # seconds cut streams get to send their error before the server stops


class Lifecycle:
    def __init__(self, *, max_active: int = 0, drain_timeout: float = 30.0) -> None:
        self.max_active = max_active
        self.drain_timeout = drain_timeout
        self.active = 0
        self.draining = False
        self._expired: asyncio.Event | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._watcher: asyncio.Task[None] | None = None
        self._idle = asyncio.Event()  # no exchange in progress
        self._idle.set()
        # Called once when the drain time is over: the streams in flight end themselves.
        self._on_expired: set[Callable[[], None]] = set()

    def bind(self) -> None:
        """Called on the serving loop at startup: events belong to one loop."""
        self._loop = asyncio.get_running_loop()
        self._expired = asyncio.Event()

    def begin_drain(self, on_drained: Callable[[], None] | None = None) -> None:
        """Safe to call from a signal handler: the work is scheduled on the serving loop.
        `on_drained` runs once no exchange is left (or the drain time is over and the streams
        have had a moment to send their closing error)."""
        if self.draining:
            return
        self.draining = True
        loop = self._loop
        if loop is not None and not loop.is_closed():
            loop.call_soon_threadsafe(self._drain, on_drained)

    def _drain(self, on_drained: Callable[[], None] | None) -> None:
        loop, expired = self._loop, self._expired
        assert loop is not None
        assert expired is not None
        loop.call_later(self.drain_timeout, self._expire)
        if on_drained is not None:
            self._watcher = loop.create_task(self._watch(on_drained, expired))

    def on_expired(self, callback: Callable[[], None]) -> None:
        """Call `callback` when the drain time is over (soon, if it is already), unless it is
        `forget`-ten first. A set of callbacks rather than a task waiting per stream."""
        expired = self._expired
        if expired is not None and expired.is_set():
            asyncio.get_running_loop().call_soon(callback)
            return
        self._on_expired.add(callback)

    def forget(self, callback: Callable[[], None]) -> None:
        """Take back a callback; an equal one will do (a bound method got again)."""
        self._on_expired.discard(callback)

    def _expire(self) -> None:
        assert self._expired is not None
        self._expired.set()
        callbacks, self._on_expired = self._on_expired, set()
        for callback in callbacks:
            callback()

    async def _watch(self, on_drained: Callable[[], None], expired: asyncio.Event) -> None:
        idle = self._idle
        if self.active:
            waits = {asyncio.ensure_future(idle.wait()), asyncio.ensure_future(expired.wait())}
            _, pending = await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
            for future in pending:
                future.cancel()
        if self.active:
            # Streams cut by the deadline end themselves at once; give them a moment to say so.
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(idle.wait(), _LAST_WORDS)
        on_drained()

    def acquire(self) -> None:
        """Take one exchange's slot, or raise a 503 when draining or at the limit."""
        if self.draining:
            raise Unavailable(
                "The proxy is shutting down; retry on another replica.", code="draining"
            )
        if self.max_active and self.active >= self.max_active:
            raise Unavailable(
                f"The proxy is serving its maximum of {self.max_active} streams; retry shortly.",
                code="too_many_streams",
            )
        self.active += 1
        self._idle.clear()

    def release(self) -> None:
        self.active -= 1
        if not self.active:
            self._idle.set()
