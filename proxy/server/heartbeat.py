"""Keep-alive during silent gaps: while DashScope's code interpreter runs, the upstream sends
nothing for seconds, and clients or load balancers with read timeouts would give up. The same
wait also notices when a shutdown's drain time is over."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Iterator
from typing import TypeVar

from proxy.server.shielded import shielded

T = TypeVar("T")


@contextlib.contextmanager
def stop_at(deadline: float, drained: asyncio.Event | None) -> Iterator[asyncio.Event]:
    """An event set at the monotonic `deadline` or once `drained` is set, whichever is first."""
    stop = asyncio.Event()
    timer = asyncio.get_running_loop().call_later(max(0.0, deadline - time.monotonic()), stop.set)
    watch = asyncio.ensure_future(drained.wait()) if drained is not None else None
    if watch is not None:
        watch.add_done_callback(lambda _: stop.set())
    try:
        yield stop
    finally:
        timer.cancel()
        if watch is not None:
            watch.cancel()


class Stopped(Exception):
    """The `stop` event was set while items were still coming."""


async def with_heartbeat(
    source: AsyncIterator[T], interval: float, stop: asyncio.Event | None = None
) -> AsyncIterator[T | None]:
    """Yield the source's items, and None after every `interval` seconds without one (0: never);
    raise `Stopped` as soon as `stop` is set.

    The pending read is never cancelled by a heartbeat (cancelling a half-done network read
    would lose bytes); it is only cancelled when the consumer stops early or `stop` is set.
    """
    if interval <= 0 and stop is None:
        async for item in source:
            yield item
        return
    pending: asyncio.Future[T] | None = None
    stopping = asyncio.ensure_future(stop.wait()) if stop is not None else None
    try:
        while True:
            if pending is None:
                pending = asyncio.ensure_future(anext(source))
            waiting: set[asyncio.Future[object]] = {pending}  # type: ignore[arg-type]
            if stopping is not None:
                waiting.add(stopping)  # type: ignore[arg-type]
            await asyncio.wait(
                waiting, timeout=interval if interval > 0 else None, return_when="FIRST_COMPLETED"
            )
            if stopping is not None and stopping.done():
                raise Stopped
            if not pending.done():
                yield None
                continue
            finished, pending = pending, None
            try:
                item = finished.result()
            except StopAsyncIteration:
                return
            yield item
    finally:
        for future in (pending, stopping):
            if future is not None and not future.done():
                future.cancel()
                # Wait for the cancelled read to unwind before anyone closes what it reads
                # from; a client disconnect cancels this scope, which would cut the wait short.
                with contextlib.suppress(asyncio.CancelledError, StopAsyncIteration):
                    await shielded(future)
