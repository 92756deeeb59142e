"""`with_heartbeat`: None while the source is silent, without ever losing the read in flight.

The source is gated by asyncio.Events, so what is pending when is decided by the test, not by
timing; only "the source is still blocked after the interval" relies on the clock, and the gate
makes that certain.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator, AsyncIterator
from typing import Any, cast

import pytest

from proxy.server.heartbeat import with_heartbeat

TICK = 0.01  # heartbeat interval: short, since the gated source is blocked for as long as needed
LIMIT = 2.0  # a broken heartbeat must fail these tests, not hang them


class GatedSource:
    """Yields one item per opened gate; records every read started, finished and cancelled."""

    def __init__(self, items: list[str]) -> None:
        self.items = items
        self.gates = [asyncio.Event() for _ in items]
        self.started = 0
        self.delivered = 0
        self.cancelled = 0
        self.closed = False

    def open(self, n: int | None = None) -> None:
        for gate in self.gates if n is None else [self.gates[n]]:
            gate.set()

    async def run(self) -> AsyncIterator[str]:
        try:
            for gate, item in zip(self.gates, self.items, strict=True):
                self.started += 1
                try:
                    await gate.wait()
                except asyncio.CancelledError:
                    self.cancelled += 1
                    raise
                self.delivered += 1
                yield item
        finally:
            self.closed = True


async def close(beats: AsyncIterator[Any]) -> None:
    """What a consumer that stops early does (Starlette closes the body iterator)."""
    closing = asyncio.ensure_future(cast(AsyncGenerator[Any, None], beats).aclose())
    done, _ = await asyncio.wait({closing}, timeout=LIMIT)  # never cancels `closing` itself
    if not done:
        closing.cancel()
        raise AssertionError("closing hung: the pending read was not cancelled")
    closing.result()


async def beat(beats: AsyncIterator[Any]) -> Any:
    return await asyncio.wait_for(anext(beats), LIMIT)


async def collect(beats: AsyncIterator[Any]) -> list[Any]:
    return [item async for item in beats]


async def next_item(beats: AsyncIterator[str | None]) -> tuple[str, int]:
    """The next real item, and how many heartbeats came before it."""
    nones = 0
    while (item := await beat(beats)) is None:
        nones += 1
    return item, nones


async def test_a_heartbeat_while_the_source_is_blocked_then_the_item() -> None:
    source = GatedSource(["frame-1"])
    beats = with_heartbeat(source.run(), TICK)
    assert await beat(beats) is None
    assert await beat(beats) is None
    assert (source.started, source.delivered, source.cancelled) == (1, 0, 0)
    source.open(0)
    item, _ = await next_item(beats)
    assert item == "frame-1"
    # The item came from the read started before the heartbeats: it was never restarted.
    assert (source.started, source.delivered, source.cancelled) == (1, 1, 0)
    await close(beats)


async def test_items_keep_their_order_across_heartbeats() -> None:
    source = GatedSource(["a", "b", "c"])
    beats = with_heartbeat(source.run(), TICK)
    source.open(0)
    assert (await next_item(beats))[0] == "a"
    assert await beat(beats) is None  # "b" is gated
    source.open(1)
    source.open(2)
    assert [(await next_item(beats))[0] for _ in range(2)] == ["b", "c"]
    assert source.cancelled == 0
    await close(beats)


async def test_the_end_of_the_source_ends_it() -> None:
    source = GatedSource(["a", "b"])
    source.open()
    received = await asyncio.wait_for(collect(with_heartbeat(source.run(), TICK)), LIMIT)
    assert [item for item in received if item is not None] == ["a", "b"]
    assert source.closed


async def test_an_empty_source_ends_at_once() -> None:
    source = GatedSource([])
    assert await asyncio.wait_for(collect(with_heartbeat(source.run(), TICK)), LIMIT) == []


async def test_closing_early_cancels_the_pending_read() -> None:
    source = GatedSource(["never"])
    beats = with_heartbeat(source.run(), TICK)
    assert await beat(beats) is None
    await close(beats)
    assert (source.started, source.cancelled, source.delivered) == (1, 1, 0)
    assert source.closed


async def test_closing_between_items_has_nothing_to_cancel() -> None:
    source = GatedSource(["a", "b"])
    source.open(0)
    beats = with_heartbeat(source.run(), TICK)
    assert (await next_item(beats))[0] == "a"
    await close(beats)
    assert source.cancelled == 0
    assert source.started == 1  # the next read was never started


async def test_an_error_in_the_source_reaches_the_consumer() -> None:
    async def failing() -> AsyncIterator[str]:
        yield "a"
        raise ConnectionResetError("upstream went away")

    beats = with_heartbeat(failing(), TICK)
    assert (await next_item(beats))[0] == "a"
    with pytest.raises(ConnectionResetError, match="went away"):
        await next_item(beats)


@pytest.mark.parametrize("interval", [0, -1])
async def test_no_interval_passes_items_through_without_heartbeats(interval: float) -> None:
    source = GatedSource(["a", "b", "c"])
    beats = with_heartbeat(source.run(), interval)
    first = asyncio.ensure_future(anext(beats))
    await asyncio.sleep(TICK * 3)  # blocked far longer than a tick: still no None
    assert not first.done()
    source.open()
    assert await asyncio.wait_for(first, LIMIT) == "a"
    assert await asyncio.wait_for(collect(beats), LIMIT) == ["b", "c"]
