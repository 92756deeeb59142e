"""A response's head goes out with its first body bytes in one write (`HeadWithBody`): the
client wakes once for both, and the proxy saves a system call per response."""

from __future__ import annotations

import asyncio
from typing import Any

from uvicorn.protocols.http.flow_control import FlowControl

from proxy.server.connections import HeadWithBody, Signal

HEAD = b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\n\r\n"


class Recording(asyncio.Transport):
    def __init__(self) -> None:
        super().__init__()
        self.writes: list[bytes] = []
        self.closed = False

    def write(self, data: Any) -> None:
        self.writes.append(bytes(data))

    def close(self) -> None:
        self.closed = True

    def is_closing(self) -> bool:
        return self.closed

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return {"peername": ("127.0.0.1", 1)}.get(name, default)


def _held() -> tuple[Recording, HeadWithBody]:
    raw, transport, _ = _with_flow()
    return raw, transport


def _with_flow() -> tuple[Recording, HeadWithBody, FlowControl]:
    raw = Recording()
    flow = FlowControl(raw)
    flow._is_writable_event = Signal(is_set=True)  # type: ignore[assignment]  # as the server does
    return raw, HeadWithBody(raw, asyncio.get_running_loop(), flow), flow


async def test_the_head_goes_out_with_the_first_body_bytes_then_each_write_alone() -> None:
    raw, transport = _held()
    transport.write(HEAD)
    assert raw.writes == []
    transport.write(b"5\r\nfirst\r\n")
    transport.write(memoryview(b"6\r\nsecond\r\n"))
    assert raw.writes == [HEAD + b"5\r\nfirst\r\n", b"6\r\nsecond\r\n"]
    await asyncio.sleep(0)  # the flush the head scheduled finds nothing left
    assert len(raw.writes) == 2


async def test_a_head_with_no_body_behind_it_goes_out_alone_at_the_end_of_the_turn() -> None:
    raw, transport = _held()
    transport.write(HEAD)
    await asyncio.sleep(0)
    assert raw.writes == [HEAD]
    transport.write(b"0\r\n\r\n")
    assert raw.writes == [HEAD, b"0\r\n\r\n"]


async def test_a_100_continue_goes_at_once() -> None:
    raw, transport = _held()
    transport.write(b"HTTP/1.1 100 Continue\r\n\r\n")
    assert raw.writes == [b"HTTP/1.1 100 Continue\r\n\r\n"]


async def test_closing_sends_a_held_head_first_and_only_once() -> None:
    raw, transport = _held()
    transport.write(HEAD)
    transport.close()
    assert raw.writes == [HEAD]
    assert raw.closed
    assert transport.is_closing()
    assert transport.get_extra_info("peername") == ("127.0.0.1", 1)
    await asyncio.sleep(0)
    assert raw.writes == [HEAD]


async def test_nothing_is_written_to_a_connection_that_went_away_meanwhile() -> None:
    raw, transport = _held()
    transport.write(HEAD)
    raw.closed = True  # the client left before the turn ended
    await asyncio.sleep(0)
    assert raw.writes == []


async def test_body_chunks_are_framed_and_go_out_with_a_held_head() -> None:
    raw, transport = _held()
    transport.write(HEAD)
    transport.write_chunk(b"data: 1\n\n")
    transport.write_chunk(b"")  # nothing: an empty chunk would end the body
    transport.write_chunk(b"x" * 300)
    assert raw.writes == [HEAD + b"9\r\ndata: 1\n\n\r\n", b"12c\r\n" + b"x" * 300 + b"\r\n"]
    raw.closed = True
    transport.write_chunk(b"late")  # the client is gone: dropped
    assert len(raw.writes) == 2


async def test_a_paused_client_calls_back_once_when_it_reads_again() -> None:
    _, transport, flow = _with_flow()
    called: list[str] = []
    assert not transport.paused
    flow.pause_writing()
    assert transport.paused
    transport.when_writable(lambda: called.append("first"))
    transport.when_writable(lambda: called.append("second"))  # replaces the first
    flow.resume_writing()
    assert called == ["second"]
    assert not transport.paused
    flow.pause_writing()
    flow.resume_writing()
    assert called == ["second"]  # once
    transport.when_writable(lambda: called.append("now"))  # writable already: at once
    assert called == ["second", "now"]
    flow.pause_writing()
    transport.when_writable(lambda: called.append("never"))
    transport.when_writable(None)  # taken back
    flow.resume_writing()
    assert called == ["second", "now"]
