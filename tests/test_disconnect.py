"""A client that goes away mid-stream: the upstream stream must be closed, nothing left hanging.

The ASGI app is driven by hand so the disconnect arrives exactly after the first chunk (the
`http.disconnect` path, as under another server), and behind the proxy's own server, whose lost
connection calls the stream back.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest

from proxy.config import Settings, TrafficLogSettings, UpstreamSettings
from proxy.server import event_stream
from proxy.server.app import create_app
from proxy.server.serving import BackgroundServer
from proxy.simulator import build_scenario, render_frame
from tests.conftest import read_jsonl
from tests.loop_upstream import loop_upstream

REQUEST = {
    "model": "qwen3-max-preview",
    "messages": [{"role": "user", "content": "What is 123 to the power of 21?"}],
    "stream": True,
    "enable_code_interpreter": True,
    "enable_thinking": True,
}


class SlowUpstream(httpx.AsyncByteStream):
    """The seed stream, one frame at a time, that never ends on its own after a few frames."""

    def __init__(self) -> None:
        self.closed = asyncio.Event()
        self.frames_sent = 0

    async def __aiter__(self) -> AsyncIterator[bytes]:
        scenario = build_scenario("seed_single_run", {"parameters": {"incremental_output": True}})
        for n, frame in enumerate(scenario.frames[:5], 1):
            self.frames_sent += 1
            yield render_frame(n, frame)
        await asyncio.Event().wait()  # an interpreter run that takes forever

    async def aclose(self) -> None:
        await asyncio.sleep(0)  # closing a real connection awaits, so a cancelled close is lost
        self.closed.set()


def answer_with(upstream: SlowUpstream) -> Callable[[httpx.Request], httpx.Response]:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, headers={"content-type": "text/event-stream"}, stream=upstream)

    return handler


def make_app(upstream_url: str) -> Any:
    settings = Settings(upstream=UpstreamSettings(base_url=upstream_url, api_key="sk-test"))
    return create_app(settings)


def chat_scope(headers: tuple[tuple[bytes, bytes], ...] = ()) -> dict[str, Any]:
    return {
        "type": "http",
        # uvicorn announces spec 2.3: Starlette then listens for http.disconnect.
        "asgi": {"version": "3.0", "spec_version": "2.3"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": "/v1/chat/completions",
        "raw_path": b"/v1/chat/completions",
        "query_string": b"",
        "root_path": "",
        "headers": [(b"content-type", b"application/json"), *headers],
        "client": ("127.0.0.1", 1),
        "server": ("127.0.0.1", 8000),
    }


async def leave_after_first_chunk(
    app: Any,
    body: bytes,
    headers: tuple[tuple[bytes, bytes], ...] = (),
    seen: Callable[[dict[str, Any]], None] = lambda scope: None,
) -> list[dict[str, Any]]:
    """Drive `app` by hand as a client that sends `body`, then disconnects as soon as the
    first chunk of the response arrives (`seen` gets the request's scope then); returns the
    ASGI messages the app sent."""
    disconnect = asyncio.Event()
    sent: list[dict[str, Any]] = []
    requested = False

    async def receive() -> dict[str, Any]:
        nonlocal requested
        if not requested:
            requested = True
            return {"type": "http.request", "body": body, "more_body": False}
        await disconnect.wait()
        return {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)
        if message["type"] == "http.response.body" and message.get("body"):
            seen(scope)
            disconnect.set()

    scope = chat_scope(headers)
    await asyncio.wait_for(app(scope, receive, send), timeout=5)
    return sent


async def test_client_disconnect_closes_the_upstream_stream() -> None:
    upstream = SlowUpstream()
    async with loop_upstream(answer_with(upstream)) as url:
        sent = await leave_after_first_chunk(make_app(url), orjson.dumps(REQUEST))
        await asyncio.wait_for(upstream.closed.wait(), timeout=5)

    assert sent[0]["type"] == "http.response.start"
    assert sent[0]["status"] == 200
    chunks = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
    assert chunks.startswith(b"data: ")
    assert b"[DONE]" not in chunks  # the client left; nothing more was written for it


async def test_a_stream_does_not_hold_the_requests_headers() -> None:
    upstream = SlowUpstream()
    streaming: list[object] = []
    async with loop_upstream(answer_with(upstream)) as url:
        await leave_after_first_chunk(
            make_app(url),
            orjson.dumps(REQUEST),
            ((b"x-request-id", b"r-1"),),
            seen=lambda scope: streaming.append(scope["headers"]),
        )
        await asyncio.wait_for(upstream.closed.wait(), timeout=5)
    assert streaming == [()]


class HeldUpstream(SlowUpstream):
    """The slow stream, its first frame held back until `release` is set."""

    def __init__(self) -> None:
        super().__init__()
        self.asked = asyncio.Event()
        self.release = asyncio.Event()

    async def __aiter__(self) -> AsyncIterator[bytes]:
        self.asked.set()
        await self.release.wait()
        async for frame in super().__aiter__():
            yield frame


async def behind_a_server(
    upstream: SlowUpstream, log: Path, leave: Callable[[asyncio.StreamReader], Awaitable[None]]
) -> list[dict[str, Any]]:
    """REQUEST through the proxy's own server (a traffic log at `log`) from a client that
    closes its connection once `leave` returns; the records, once the upstream stream closed."""
    async with loop_upstream(answer_with(upstream)) as url:
        settings = Settings(
            upstream=UpstreamSettings(base_url=url, api_key="sk-test"),
            traffic_log=TrafficLogSettings(path=str(log)),
        )
        server = BackgroundServer(create_app(settings)).start()
        try:
            reader, writer = await asyncio.open_connection(server.host, server.port)
            body = orjson.dumps(REQUEST)
            writer.write(
                b"POST /v1/chat/completions HTTP/1.1\r\nhost: x\r\ncontent-type: application/json"
                b"\r\ncontent-length: %d\r\n\r\n%s" % (len(body), body)
            )
            await leave(reader)
            writer.transport.abort()
            await asyncio.wait_for(upstream.closed.wait(), timeout=5)
        finally:
            await asyncio.to_thread(server.stop)
    return read_jsonl(log)


@pytest.fixture
def watchers(monkeypatch: pytest.MonkeyPatch) -> list[object]:
    """The tasks waiting for `http.disconnect`: none under the proxy's own server, whose lost
    connection calls the stream back."""
    started: list[object] = []
    monkeypatch.setattr(event_stream, "_disconnect", started.append)
    return started


async def test_a_client_that_closes_its_connection_cancels_the_stream_at_once(
    tmp_path: Path, watchers: list[object]
) -> None:
    answer = b""

    async def after_the_first_chunk(reader: asyncio.StreamReader) -> None:
        nonlocal answer
        while b"data: " not in answer:
            answer += await asyncio.wait_for(reader.read(65536), timeout=5)

    upstream = SlowUpstream()
    (record,) = await behind_a_server(upstream, tmp_path / "log.jsonl", after_the_first_chunk)
    assert answer.startswith(b"HTTP/1.1 200 ")
    assert (record["status"], record["outcome"]) == (200, "cancelled")
    assert watchers == []


async def test_a_client_gone_before_the_first_frame_is_not_streamed_to(
    tmp_path: Path, watchers: list[object]
) -> None:
    upstream = HeldUpstream()

    async def before_the_first_frame(reader: asyncio.StreamReader) -> None:
        await asyncio.wait_for(upstream.asked.wait(), timeout=5)

    async def release_once_gone() -> None:
        await asyncio.sleep(0.2)  # the server has seen the connection close
        upstream.release.set()

    releasing = asyncio.ensure_future(release_once_gone())
    (record,) = await behind_a_server(upstream, tmp_path / "log.jsonl", before_the_first_frame)
    await releasing
    assert (record["status"], record["outcome"]) == (200, "cancelled")
    assert watchers == []


async def test_a_response_start_that_fails_still_ends_the_exchange() -> None:
    """Sending the head can fail (the server refuses a header, the task is cancelled there):
    the exchange must still be recorded, free its slot and let its upstream connection go."""
    upstream = SlowUpstream()
    async with loop_upstream(answer_with(upstream)) as url:
        app = make_app(url)
        requested = False

        async def receive() -> dict[str, Any]:
            nonlocal requested
            if not requested:
                requested = True
                return {"type": "http.request", "body": orjson.dumps(REQUEST), "more_body": False}
            await asyncio.Event().wait()
            return {"type": "http.disconnect"}

        async def send(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                raise RuntimeError("Invalid HTTP header value.")

        scope = chat_scope()
        with pytest.raises(RuntimeError, match="Invalid HTTP header value"):
            await asyncio.wait_for(app(scope, receive, send), timeout=5)
        await asyncio.wait_for(upstream.closed.wait(), timeout=5)
    assert app.state.lifecycle.active == 0
