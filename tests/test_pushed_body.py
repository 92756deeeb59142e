"""A streamed answer's body as the two writers send it: under the proxy's own server from the
callbacks that bring its bytes (no task woken per frame), writing nothing while the client
does not read and all of it once it does; under another ASGI server from the request's task,
[DONE] and the body's end as one write."""

from __future__ import annotations

import asyncio
import contextlib
import re
import socket
from collections.abc import AsyncIterator, MutableMapping
from typing import Any

import httpx
import orjson
import pytest
from uvicorn.protocols.http.flow_control import FlowControl

from proxy.config import ServerSettings, Settings, UpstreamSettings
from proxy.server.app import create_app
from proxy.server.connections import BODY_WRITER, HeadWithBody, Signal
from proxy.server.serving import BackgroundServer
from tests.contract import check_sse_bytes
from tests.loop_upstream import loop_upstream
from tests.test_disconnect import chat_scope

REQUEST = orjson.dumps(
    {"model": "qwen-plus", "messages": [{"role": "user", "content": "Hi"}], "stream": True}
)


def native_frame(n: int, text: str, finish: str = "null") -> bytes:
    payload = {
        "output": {
            "choices": [
                {"message": {"role": "assistant", "content": text}, "finish_reason": finish}
            ]
        },
        "usage": {"input_tokens": 3, "output_tokens": n, "total_tokens": n + 3},
        "request_id": "req-pushed",
    }
    return b"id:%d\nevent:result\n:HTTP_STATUS/200\ndata:%s\n\n" % (n, orjson.dumps(payload))


class Frames(httpx.AsyncByteStream):
    """`count` frames of `size` characters each, one network write each; those from
    `held_from` on once `release` is set."""

    def __init__(self, count: int, size: int, held_from: int | None = None) -> None:
        self.texts = [chr(ord("a") + n % 26) * size for n in range(count)]
        self.held_from = held_from
        self.release = asyncio.Event()

    async def __aiter__(self) -> AsyncIterator[bytes]:
        last = len(self.texts)
        for n, text in enumerate(self.texts, 1):
            if n == self.held_from:
                await self.release.wait()
            yield native_frame(n, text, "stop" if n == last else "null")


def answer_with(frames: Frames) -> Any:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, headers={"content-type": "text/event-stream"}, stream=frames)

    return handler


def settings_for(url: str) -> Settings:
    return Settings(upstream=UpstreamSettings(base_url=url, api_key="sk-test"))


def dechunk(raw: bytes) -> bytes:
    """An HTTP/1.1 chunked body's bytes, to its last chunk."""
    body, rest = b"", raw
    while True:
        size_line, _, rest = rest.partition(b"\r\n")
        size = int(size_line, 16)
        if size == 0:
            return body
        body, rest = body + rest[:size], rest[size + 2 :]


@pytest.mark.parametrize("loop", ["uvloop", "asyncio"])
async def test_a_client_that_stops_reading_for_a_while_gets_every_byte(loop: str) -> None:
    if loop == "uvloop":
        pytest.importorskip("uvloop")
    frames = Frames(count=160, size=48 * 1024)  # 7.5 MB: more than the proxy's socket holds
    async with loop_upstream(answer_with(frames)) as url:
        app = create_app(settings_for(url))
        server = BackgroundServer(app, server=ServerSettings(loop=loop)).start()
        try:
            sock = socket.socket()
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
            sock.connect((server.host, server.port))
            sock.setblocking(False)
            reader, writer = await asyncio.open_connection(sock=sock, limit=1 << 16)
            writer.write(
                b"POST /v1/chat/completions HTTP/1.1\r\nhost: x\r\ncontent-type: "
                b"application/json\r\ncontent-length: %d\r\n\r\n%s" % (len(REQUEST), REQUEST)
            )
            answer = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), timeout=5)
            await asyncio.sleep(0.5)  # not reading: the proxy's writes to us back up
            while not answer.endswith(b"\r\n0\r\n\r\n"):
                answer += await asyncio.wait_for(reader.read(1 << 20), timeout=10)
            writer.close()
            await writer.wait_closed()
        finally:
            await asyncio.to_thread(server.stop)
    head, _, body = answer.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200 ")
    message = check_sse_bytes(dechunk(body)).message
    assert message["content"] == "".join(frames.texts)


class Requesting:
    """The ASGI receive and send of a client that sends REQUEST and keeps what it gets."""

    def __init__(self) -> None:
        self.sent: list[dict[str, Any]] = []
        self._requested = False

    async def receive(self) -> dict[str, Any]:
        if not self._requested:
            self._requested = True
            return {"type": "http.request", "body": REQUEST, "more_body": False}
        await asyncio.Event().wait()
        return {"type": "http.disconnect"}

    async def send(self, message: MutableMapping[str, Any]) -> None:
        self.sent.append(dict(message))

    def bodies(self) -> list[dict[str, Any]]:
        return [m for m in self.sent if m["type"] == "http.response.body"]


async def test_the_done_line_and_the_bodys_end_go_out_in_one_write_under_another_server() -> None:
    frames = Frames(count=3, size=10)
    client = Requesting()
    async with loop_upstream(answer_with(frames)) as url:
        app = create_app(settings_for(url))
        async with app.router.lifespan_context(app):
            await asyncio.wait_for(app(chat_scope(), client.receive, client.send), timeout=5)
    bodies = client.bodies()
    assert [m["more_body"] for m in bodies] == [True] * (len(bodies) - 1) + [False]
    assert all(m["body"] for m in bodies)  # no empty write for the end
    assert bodies[-1]["body"].endswith(b"data: [DONE]\n\n")
    body = b"".join(m["body"] for m in bodies)
    assert check_sse_bytes(body).message["content"] == "".join(frames.texts)


async def test_nothing_is_written_while_the_client_is_not_reading_and_the_rest_once_it_is() -> None:
    """The server's writer (connections.HeadWithBody) over a recording transport, with
    uvicorn's flow control: the frames that come while writing is paused wait, in order."""
    frames = Frames(count=6, size=10, held_from=3)
    client = Requesting()
    raw = Recording()
    flow = FlowControl(raw)
    flow._is_writable_event = Signal(is_set=True)  # type: ignore[assignment]  # as the server does
    writer = HeadWithBody(raw, asyncio.get_running_loop(), flow)
    async with loop_upstream(answer_with(frames)) as url:
        app = create_app(settings_for(url))
        async with app.router.lifespan_context(app):
            scope = {**chat_scope(), BODY_WRITER: writer}
            answering = asyncio.ensure_future(app(scope, client.receive, client.send))
            await asyncio.wait_for(raw.second_frame_out.wait(), timeout=5)
            flow.pause_writing()
            written = len(raw.writes)
            frames.release.set()
            await asyncio.sleep(0.2)  # the other frames arrive meanwhile
            assert len(raw.writes) == written
            assert not answering.done()
            flow.resume_writing()
            await asyncio.wait_for(answering, timeout=5)
    [end] = client.bodies()  # only the end goes through `send`
    assert end["more_body"] is False
    assert end["body"].endswith(b"data: [DONE]\n\n")
    body = dechunk(b"".join(raw.writes) + b"0\r\n\r\n") + end["body"]
    assert check_sse_bytes(body).message["content"] == "".join(frames.texts)


class Recording(asyncio.Transport):
    def __init__(self) -> None:
        super().__init__()
        self.writes: list[bytes] = []
        self.second_frame_out = asyncio.Event()

    def write(self, data: Any) -> None:
        self.writes.append(bytes(data))
        if b"bb" in data:
            self.second_frame_out.set()

    def is_closing(self) -> bool:
        return False


@contextlib.asynccontextmanager
async def upstream_in_two_writes(first: bytes, rest: bytes) -> AsyncIterator[str]:
    """An upstream that answers any request with a chunked SSE body: its head and `first` in
    one write, then, a moment later, `rest` and the body's end in another."""

    serving: set[asyncio.Task[None]] = set()

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        serving.add(task)
        try:
            await answer(reader, writer)
        finally:
            writer.close()
            await writer.wait_closed()

    async def answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        head = await reader.readuntil(b"\r\n\r\n")
        length = re.search(rb"content-length: *([0-9]+)", head, re.IGNORECASE)
        await reader.readexactly(int(length.group(1)) if length else 0)
        writer.write(
            b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\n"
            b"transfer-encoding: chunked\r\n\r\n" + _chunk(first)
        )
        await asyncio.sleep(0.05)
        writer.write(_chunk(rest) + b"0\r\n\r\n")
        await reader.read()  # until the proxy lets the connection go

    server = await asyncio.start_server(serve, "127.0.0.1", 0)
    try:
        yield f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}"
    finally:
        server.close()
        await asyncio.gather(*serving, return_exceptions=True)
        await server.wait_closed()


def _chunk(data: bytes) -> bytes:
    return b"%x\r\n%s\r\n" % (len(data), data)


async def test_the_last_frames_and_the_end_read_together_go_out_in_one_write() -> None:
    client, raw = Requesting(), Recording()
    flow = FlowControl(raw)
    flow._is_writable_event = Signal(is_set=True)  # type: ignore[assignment]  # as the server does
    writer = HeadWithBody(raw, asyncio.get_running_loop(), flow)
    rest = native_frame(2, "bb") + native_frame(3, "cc", "stop")
    async with upstream_in_two_writes(native_frame(1, "aa"), rest) as url:
        app = create_app(settings_for(url))
        async with app.router.lifespan_context(app):
            scope = {**chat_scope(), BODY_WRITER: writer}
            await asyncio.wait_for(app(scope, client.receive, client.send), timeout=5)
    assert len(raw.writes) == 1  # the first frame's chunk, written from the callback
    [end] = client.bodies()  # the rest, the closing chunk and [DONE]: one write
    assert b'"bb"' in end["body"]
    assert b'"finish_reason":"stop"' in end["body"]
    assert end["body"].endswith(b"data: [DONE]\n\n")
    body = dechunk(b"".join(raw.writes) + b"0\r\n\r\n") + end["body"]
    assert check_sse_bytes(body).message["content"] == "aabbcc"
