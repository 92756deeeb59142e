"""The server's main loop sleeps until it is told to stop (or the Date header is due): it
does not poll, yet `should_exit` set from another thread stops it at once."""

from __future__ import annotations

import asyncio
import threading

import pytest
import uvicorn
from starlette.applications import Starlette

from proxy.server import serving
from proxy.server.serving import Server


def _server() -> Server:
    return Server(uvicorn.Config(Starlette(), lifespan="off", log_level="warning"))


def _ticking(
    server: Server, monkeypatch: pytest.MonkeyPatch, stop_after: int = 0
) -> list[list[bytes]]:
    """Each on_tick the main loop makes, recorded as the default header names it left (the
    headers are emptied first, so a tick that did not renew the Date shows as []); with
    `stop_after`, the loop is told to stop after that many ticks."""
    ticks: list[list[bytes]] = []
    on_tick = server.on_tick

    async def recording(counter: int) -> bool:
        server.server_state.default_headers = []
        stop = await on_tick(counter)
        ticks.append([name for name, _ in server.server_state.default_headers])
        return stop or len(ticks) == stop_after

    monkeypatch.setattr(server, "on_tick", recording)
    return ticks


async def test_should_exit_from_another_thread_ends_the_main_loop_at_once(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # With a tick of an hour, only the wake-up can end the loop within the test's timeout.
    monkeypatch.setattr(serving, "_TICK", 3600.0)
    server = _server()
    ticks = _ticking(server, monkeypatch)
    loop_task = asyncio.create_task(server.main_loop())
    await asyncio.sleep(0.3)  # uvicorn's own loop would have looked three times by now
    assert not loop_task.done()
    assert len(ticks) == 1
    threading.Thread(target=setattr, args=(server, "should_exit", True)).start()
    await asyncio.wait_for(loop_task, timeout=5)
    assert server.should_exit
    assert len(ticks) == 2


async def test_the_main_loop_renews_the_date_header_each_tick(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(serving, "_TICK", 0.01)
    server = _server()
    ticks = _ticking(server, monkeypatch, stop_after=3)
    await asyncio.wait_for(server.main_loop(), timeout=5)
    assert ticks == [[b"date"]] * 3


def test_a_server_told_to_exit_before_its_loop_runs_does_not_start_it() -> None:
    server = _server()
    server.should_exit = True  # no loop yet: nothing to wake, and no error
    assert asyncio.run(asyncio.wait_for(server.main_loop(), timeout=5)) is None
