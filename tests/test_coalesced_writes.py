"""What a response writes in one turn of the event loop goes out in one write at its end
(`CoalescedWrites`): the head with the first chunk, the last chunks with the end of the body."""

from __future__ import annotations

import asyncio
from typing import Any

from proxy.server.connections import CoalescedWrites

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


def _coalesced() -> tuple[Recording, CoalescedWrites]:
    raw = Recording()
    return raw, CoalescedWrites(raw, asyncio.get_running_loop())


async def test_the_writes_of_one_turn_go_out_together_at_its_end() -> None:
    raw, transport = _coalesced()
    transport.write(HEAD)
    transport.write(b"5\r\nfirst\r\n")
    assert raw.writes == []
    await asyncio.sleep(0)
    assert raw.writes == [HEAD + b"5\r\nfirst\r\n"]


async def test_a_write_in_a_later_turn_goes_out_on_its_own() -> None:
    raw, transport = _coalesced()
    transport.write(HEAD)
    await asyncio.sleep(0)
    transport.write(memoryview(b"6\r\nsecond\r\n"))
    await asyncio.sleep(0)
    assert raw.writes == [HEAD, b"6\r\nsecond\r\n"]


async def test_closing_sends_what_is_held_first_and_only_once() -> None:
    raw, transport = _coalesced()
    transport.write(HEAD)
    transport.write(b"0\r\n\r\n")
    transport.close()
    assert raw.writes == [HEAD + b"0\r\n\r\n"]
    assert raw.closed
    assert transport.is_closing()
    assert transport.get_extra_info("peername") == ("127.0.0.1", 1)
    await asyncio.sleep(0)
    assert raw.writes == [HEAD + b"0\r\n\r\n"]


async def test_nothing_is_written_to_a_connection_that_went_away_meanwhile() -> None:
    raw, transport = _coalesced()
    transport.write(HEAD)
    raw.closed = True  # the client left before the turn ended
    await asyncio.sleep(0)
    assert raw.writes == []
