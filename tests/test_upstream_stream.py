"""The upstream stream's reading: pieces that arrived together are decoded together, the reader
stops when the consumer falls behind, closing stops it, and pools are split to stay small."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable

import httpx
import pytest

from proxy.config import UpstreamSettings
from proxy.core.errors import UpstreamUnavailable
from proxy.server import upstream
from proxy.server.upstream import UpstreamClient, UpstreamStream

PATH = "/api/v1/services/aigc/text-generation/generation"


def frame(n: int) -> bytes:
    return b'id:%d\nevent:result\n:HTTP_STATUS/200\ndata:{"n":%d}\n\n' % (n, n)


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


def client_for(body: Body | Callable[[], httpx.AsyncByteStream]) -> UpstreamClient:
    def handler(request: httpx.Request) -> httpx.Response:
        stream = body() if callable(body) else body
        return httpx.Response(200, headers={"content-type": "text/event-stream"}, stream=stream)

    settings = UpstreamSettings(base_url="http://dashscope.test")
    return UpstreamClient(settings, transport=httpx.MockTransport(handler))


async def open_stream(client: UpstreamClient) -> UpstreamStream:
    return await client.open(PATH, {"model": "m"}, "sk-test")


async def test_pieces_that_arrived_together_come_out_as_one_batch() -> None:
    gate = asyncio.Event()
    body = Body([frame(1), frame(2), frame(3), frame(4), frame(5)], pauses={2: gate})
    client = client_for(body)
    stream = await open_stream(client)
    first = await stream.first_events()
    assert [event.data for event in first] == ['{"n":1}']
    batches = stream.events()
    batch = await anext(batches)
    assert [event.data for event in batch] == ['{"n":2}']
    gate.set()
    batch = await anext(batches)
    assert [event.data for event in batch] == ['{"n":3}', '{"n":4}', '{"n":5}']
    assert await anext(batches, None) is None
    await stream.aclose()
    await client.aclose()


async def test_a_frame_split_across_pieces_is_decoded_once_whole() -> None:
    whole = frame(1) + frame(2)
    client = client_for(Body([whole[:7], whole[7:50], whole[50:]]))
    stream = await open_stream(client)
    events = await stream.first_events()
    events += [event for batch in [b async for b in stream.events()] for event in batch]
    assert [event.data for event in events] == ['{"n":1}', '{"n":2}']
    await stream.aclose()
    await client.aclose()


async def test_the_reader_waits_while_the_consumer_is_behind(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(upstream, "_HIGH_WATER", 3 * len(frame(1)))
    body = Body([frame(n) for n in range(1, 21)])
    client = client_for(body)
    stream = await open_stream(client)
    await stream.first_events()
    batches = stream.events()
    await anext(batches)
    for _ in range(5):
        await asyncio.sleep(0)
    # At most the high-water mark is read ahead of a consumer that stopped reading.
    assert body.served <= 1 + 3 + 3
    rest = [event for batch in [b async for b in batches] for event in batch]
    assert body.served == 20
    assert rest[-1].data == '{"n":20}'
    await stream.aclose()
    await client.aclose()


async def test_closing_stops_a_pending_read_and_frees_its_pool_slot() -> None:
    gate = asyncio.Event()
    body = Body([frame(1), frame(2)], pauses={1: gate})
    client = client_for(body)
    stream = await open_stream(client)
    assert client._streams == [1]
    await stream.first_events()
    batches = stream.events()
    waiting = asyncio.ensure_future(anext(batches))
    await asyncio.sleep(0.01)
    assert not waiting.done()
    waiting.cancel()
    await stream.aclose()
    assert stream._reader is None
    assert body.closed
    assert client._streams == [0]
    await stream.aclose()  # twice is harmless
    assert client._streams == [0]
    await client.aclose()


class Failing(httpx.AsyncByteStream):
    async def __aiter__(self) -> AsyncIterator[bytes]:
        yield frame(1)
        yield frame(2)
        raise httpx.ReadError("connection reset")


async def test_frames_before_a_failed_read_come_out_before_the_error() -> None:
    client = client_for(Failing)
    stream = await open_stream(client)
    await stream.first_events()
    batches = stream.events()
    batch = await anext(batches)
    assert [event.data for event in batch] == ['{"n":2}']
    with pytest.raises(UpstreamUnavailable, match="mid-stream: ReadError"):
        await anext(batches)
    await stream.aclose()
    await client.aclose()


async def test_a_failed_first_read_is_mapped() -> None:
    class FailsAtOnce(httpx.AsyncByteStream):
        async def __aiter__(self) -> AsyncIterator[bytes]:
            raise httpx.ReadError("connection reset")
            yield b""

    client = client_for(FailsAtOnce)
    stream = await open_stream(client)
    with pytest.raises(UpstreamUnavailable, match="mid-stream: ReadError"):
        await stream.first_events()
    await stream.aclose()
    assert client._streams == [0]
    await client.aclose()


@pytest.mark.parametrize(
    ("connections", "sizes"),
    [(1, [1]), (64, [64]), (65, [33, 32]), (200, [50] * 4), (1016, [64] * 8 + [63] * 8)],
)
def test_pools_are_even_and_small_and_add_up(connections: int, sizes: list[int]) -> None:
    assert upstream._shard_sizes(connections) == sizes


async def test_streams_go_to_the_least_busy_pool() -> None:
    client = UpstreamClient(UpstreamSettings(base_url="http://dashscope.test"))
    assert len(client._clients) == 4
    client._streams = [2, 1, 1, 3]
    assert client._shard() == 1
    await client.aclose()
