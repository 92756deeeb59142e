"""Keep-alives and stops in the upstream stream's own wait: while DashScope is silent (a code
run), the stream yields None every keep-alive interval and keeps every frame in order; `stop()`
(a shutdown's drain) ends it at once, `stop_in()` (the exchange's deadline) once its time is
over; and a stream costs no task."""

from __future__ import annotations

import asyncio

import pytest

from proxy.server.lifecycle import Lifecycle
from proxy.server.upstream_stream import Stopped
from tests.test_upstream_stream import Body, batches_of, client_for, frame, open_stream


async def test_keep_alives_while_the_upstream_is_silent_then_the_frames_in_order() -> None:
    gate = asyncio.Event()
    async with client_for(Body([frame(1), frame(2), frame(3)], pauses={1: gate})) as client:
        stream = await open_stream(client)
        await stream.first_events()
        batches = batches_of(stream, keepalive=0.02)
        assert await anext(batches) is None
        assert await anext(batches) is None  # one per interval, not only the first
        gate.set()
        seen = []
        async for batch in batches:
            if batch is not None:
                seen += [event.data for event in batch]
        assert seen == ['{"n":2}', '{"n":3}']
        await stream.aclose()


@pytest.mark.parametrize("keepalive", [0.0, -1.0])
async def test_no_interval_means_no_keep_alives(keepalive: float) -> None:
    gate = asyncio.Event()
    async with client_for(Body([frame(1), frame(2)], pauses={1: gate})) as client:
        stream = await open_stream(client)
        await stream.first_events()
        batches = batches_of(stream, keepalive=keepalive)
        waiting = asyncio.ensure_future(anext(batches))
        await asyncio.sleep(0.05)
        assert not waiting.done()
        gate.set()
        batch = await waiting
        assert batch is not None
        assert [event.data for event in batch] == ['{"n":2}']
        await stream.aclose()


async def test_stop_ends_a_waiting_stream_at_once_and_runs_no_task() -> None:
    gate = asyncio.Event()
    async with client_for(Body([frame(1), frame(2)], pauses={1: gate})) as client:
        stream = await open_stream(client)
        await stream.first_events()
        tasks = len(asyncio.all_tasks())
        batches = batches_of(stream, keepalive=30)
        waiting = asyncio.ensure_future(anext(batches))
        await asyncio.sleep(0.01)
        assert len(asyncio.all_tasks()) == tasks + 1  # only the test's own `waiting`
        stream.stop()
        with pytest.raises(Stopped, match=r"^stopped$"):
            await waiting
        await stream.aclose()


def _frame_then_one_waiting() -> tuple[Body, asyncio.Event]:
    """Frame 1; frame 2 once the event is set; the body's end never (the stream is not over)."""
    sent, never = asyncio.Event(), asyncio.Event()
    return Body([frame(1), frame(2), frame(3)], pauses={1: sent, 2: never}), sent


async def test_stop_wins_over_frames_that_are_waiting() -> None:
    body, second = _frame_then_one_waiting()
    async with client_for(body) as client:
        stream = await open_stream(client)
        await stream.first_events()
        second.set()
        await asyncio.sleep(0.01)
        stream.stop()
        with pytest.raises(Stopped, match=r"^stopped$"):
            await stream.next_events()
        await stream.aclose()


async def test_stop_in_ends_a_waiting_stream_at_its_deadline_with_no_timer_of_its_own() -> None:
    gate = asyncio.Event()
    async with client_for(Body([frame(1), frame(2)], pauses={1: gate})) as client:
        stream = await open_stream(client)
        await stream.first_events()
        stream.stop_in(0.05)
        batches = batches_of(stream, keepalive=0.02)
        assert await anext(batches) is None  # keep-alives until the deadline
        with pytest.raises(Stopped, match=r"^deadline$"):
            async for _ in batches:
                pass
        await stream.aclose()


async def test_a_deadline_that_passed_wins_over_frames_that_are_waiting() -> None:
    body, second = _frame_then_one_waiting()
    async with client_for(body) as client:
        stream = await open_stream(client)
        await stream.first_events()
        second.set()
        stream.stop_in(0.0)
        await asyncio.sleep(0.01)
        with pytest.raises(Stopped, match=r"^deadline$"):
            await stream.next_events()
        await stream.aclose()


async def test_the_drain_deadline_calls_each_watcher_once_and_late_ones_soon() -> None:
    lifecycle = Lifecycle(drain_timeout=0.01)
    lifecycle.bind()
    called: list[str] = []
    lifecycle.on_expired(lambda: called.append("a"))
    lifecycle.on_expired(called.clear)
    lifecycle.forget(called.clear)  # taken back (by an equal bound method): not called
    lifecycle.begin_drain()
    await asyncio.sleep(0.05)
    assert called == ["a"]
    lifecycle.on_expired(lambda: called.append("late"))
    lifecycle.forget(called.clear)  # nothing to take back
    await asyncio.sleep(0)
    assert called == ["a", "late"]
