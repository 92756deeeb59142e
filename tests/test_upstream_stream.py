"""The upstream stream's reading, over a real loopback connection: bytes that arrived together
are decoded together, reading stops while the consumer is behind, closing lets the connection
go, and a broken connection is an error after the frames that came before it."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable

import httpx
import pytest

from proxy.config import UpstreamSettings
from proxy.core.errors import UpstreamUnavailable
from proxy.core.sse import SSEEvent
from proxy.server import upstream_stream
from proxy.server.upstream import UpstreamClient
from proxy.server.upstream_stream import UpstreamStream
from tests.loop_upstream import loop_upstream

PATH = "/api/v1/services/aigc/text-generation/generation"


def frame(n: int, pad: int = 0) -> bytes:
    return b'id:%d\nevent:result\n:HTTP_STATUS/200\ndata:{"n":%d%s}\n\n' % (
        n,
        n,
        b',"pad":"%s"' % (b"x" * pad) if pad else b"",
    )


class Body(httpx.AsyncByteStream):
    """A response body that yields `pieces`, pausing before each index in `pauses` until set."""

    def __init__(self, pieces: list[bytes], pauses: dict[int, asyncio.Event] | None = None) -> None:
        self.pieces = pieces
        self.pauses = pauses or {}
        self.served = 0
        self.closed = False

    async def __aiter__(self) -> AsyncIterator[bytes]:
        for index, piece in enumerate(self.pieces):
            if index in self.pauses:
                await self.pauses[index].wait()
            self.served += 1
            yield piece

    async def aclose(self) -> None:
        self.closed = True


@contextlib.asynccontextmanager
async def client_for(
    body: Body | Callable[[], httpx.AsyncByteStream],
) -> AsyncIterator[UpstreamClient]:
    def handler(request: httpx.Request) -> httpx.Response:
        stream = body() if callable(body) else body
        return httpx.Response(200, headers={"content-type": "text/event-stream"}, stream=stream)

    async with loop_upstream(handler) as url:
        client = UpstreamClient(UpstreamSettings(base_url=url))
        try:
            yield client
        finally:
            await client.aclose()


async def open_stream(client: UpstreamClient) -> UpstreamStream:
    return await client.open(PATH, {"model": "m"}, "sk-test")


async def test_frames_that_arrived_together_come_out_as_one_batch() -> None:
    second, third = asyncio.Event(), asyncio.Event()
    body = Body([frame(1), frame(2), frame(3), frame(4), frame(5)], pauses={1: second, 2: third})
    async with client_for(body) as client:
        stream = await open_stream(client)
        first = await stream.first_events()
        assert [event.data for event in first] == ['{"n":1}']
        batches = batches_of(stream)
        second.set()
        batch = await anext(batches)
        assert batch is not None
        assert [event.data for event in batch] == ['{"n":2}']
        third.set()  # three HTTP chunks, written at once: one network read
        batch = await anext(batches)
        assert batch is not None
        assert [event.data for event in batch] == ['{"n":3}', '{"n":4}', '{"n":5}']
        assert await anext(batches, None) is None
        await stream.aclose()


async def test_a_frame_split_across_pieces_is_decoded_once_whole() -> None:
    whole = frame(1) + frame(2)
    async with client_for(Body([whole[:7], whole[7:50], whole[50:]])) as client:
        stream = await open_stream(client)
        events = await stream.first_events()
        events += await rest(stream)
        assert [event.data for event in events] == ['{"n":1}', '{"n":2}']
        await stream.aclose()


async def test_reading_stops_while_the_consumer_is_behind(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(upstream_stream, "_HIGH_WATER", 64 * 1024)
    count = 1000  # 64 MB: far more than the sockets' buffers hold
    body = Body([frame(n, pad=64 * 1024) for n in range(1, count + 1)])
    async with client_for(body) as client:
        stream = await open_stream(client)
        await stream.first_events()
        batches = batches_of(stream)
        await anext(batches)
        await asyncio.sleep(0.3)
        # The connection stopped reading: the server is held back by full socket buffers.
        assert body.served < count / 2
        tail = [event for batch in [b async for b in batches] if batch for event in batch]
        assert body.served == count
        assert tail[-1].data.startswith(f'{{"n":{count},')
        await stream.aclose()


async def test_closing_mid_stream_closes_the_connection_and_frees_its_slot() -> None:
    gate = asyncio.Event()
    body = Body([frame(1), frame(2)], pauses={1: gate})
    async with client_for(body) as client:
        stream = await open_stream(client)
        await stream.first_events()
        batches = batches_of(stream)
        waiting = asyncio.ensure_future(anext(batches))
        await asyncio.sleep(0.01)
        assert not waiting.done()
        waiting.cancel()
        await stream.aclose()
        await asyncio.wait_for(_until(lambda: body.closed), 5)  # the server saw the close
        assert client._pool.open == 0
        await stream.aclose()  # twice is harmless
        assert client._pool.open == 0


async def test_a_stream_read_to_its_end_leaves_its_connection_for_the_next() -> None:
    bodies = [Body([frame(1), frame(2)]), Body([frame(3)])]
    async with client_for(lambda: bodies.pop(0)) as client:
        for expected in (['{"n":1}', '{"n":2}'], ['{"n":3}']):
            stream = await open_stream(client)
            events = await stream.first_events()
            events += await rest(stream)
            assert [event.data for event in events] == expected
            await stream.aclose()
            assert client._pool.open == 1  # one connection, kept alive and reused


async def _until(check: Callable[[], bool]) -> None:
    while not check():  # noqa: ASYNC110  # the server's close is seen by polling, no event
        await asyncio.sleep(0.005)


async def _read_all(stream: UpstreamStream, events: list[SSEEvent]) -> None:
    events += await rest(stream)


async def rest(stream: UpstreamStream) -> list[SSEEvent]:
    """The frames after the first, to the end (no keep-alives are asked for)."""
    out: list[SSEEvent] = []
    async for batch in batches_of(stream):
        assert batch is not None
        out += batch
    return out


async def batches_of(
    stream: UpstreamStream, keepalive: float = 0.0
) -> AsyncIterator[list[SSEEvent] | None]:
    """`next_events()` until the stream is over."""
    while (batch := await stream.next_events(keepalive)) != []:
        yield batch


class Failing(httpx.AsyncByteStream):
    async def __aiter__(self) -> AsyncIterator[bytes]:
        yield frame(1)
        yield frame(2)
        raise RuntimeError("the server breaks off mid-body")


async def test_frames_before_a_broken_connection_come_out_before_the_error() -> None:
    async with client_for(Failing) as client:
        stream = await open_stream(client)
        events = await stream.first_events()
        with pytest.raises(UpstreamUnavailable, match="failed mid-stream"):
            await _read_all(stream, events)
        assert [event.data for event in events] == ['{"n":1}', '{"n":2}']
        await stream.aclose()
        assert client._pool.open == 0


async def test_a_connection_broken_before_the_first_frame_is_mapped() -> None:
    class FailsAtOnce(httpx.AsyncByteStream):
        async def __aiter__(self) -> AsyncIterator[bytes]:
            raise RuntimeError("the server breaks off")
            yield b""

    async with client_for(FailsAtOnce) as client:
        stream = await open_stream(client)
        with pytest.raises(UpstreamUnavailable, match="failed mid-stream"):
            await stream.first_events()
        await stream.aclose()
        assert client._pool.open == 0
