"""Keep-alive during silent gaps: while DashScope's code interpreter runs, the upstream sends
nothing for seconds, and clients or load balancers with read timeouts would give up."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import TypeVar

T = TypeVar("T")


async def with_heartbeat(source: AsyncIterator[T], interval: float) -> AsyncIterator[T | None]:
    """Yield the source's items, and None after every `interval` seconds without one.

    The pending read is never cancelled by a heartbeat (cancelling a half-done network read
    would lose bytes); it is only cancelled when the consumer stops early.
    """
    if interval <= 0:
        async for item in source:
            yield item
        return
    pending: asyncio.Future[T] | None = None
    try:
        while True:
            if pending is None:
                pending = asyncio.ensure_future(anext(source))
            done, _ = await asyncio.wait({pending}, timeout=interval)
            if not done:
                yield None
                continue
            finished, pending = pending, None
            try:
                item = finished.result()
            except StopAsyncIteration:
                return
            yield item
    finally:
        if pending is not None:
            pending.cancel()
            with contextlib.suppress(asyncio.CancelledError, StopAsyncIteration):
                await pending
