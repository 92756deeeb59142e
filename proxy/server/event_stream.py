"""A streamed answer as the ASGI response Starlette's route runs: the head, then the body
(stream_body.StreamedBody) written as it is made.

Under the proxy's own server, the body is written from the callbacks that bring its bytes
(`Pump`): the upstream connection's read, the stream's timer, the client's socket becoming
writable again. Nothing wakes the request's task per frame; it waits once, for the end, and
sends that through the server as usual. Under another server, the task writes the body itself
(stream_body.pull).

Starlette's StreamingResponse runs the body and a listener for the client's disconnect as two
tasks in an anyio task group per stream; here the client's leaving cancels the request's own
task (so the upstream stream is let go at once, also while DashScope is silent). That task
group was 5 % of a request's CPU and a few KB per open stream (docs/benchmarks.md). The
proxy's own server calls back when the connection is lost (connections.DisconnectHook); under
another server, one small task waits for `http.disconnect`.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from functools import partial
from typing import Any, Protocol

from starlette.types import Receive, Scope, Send

from proxy.server.connections import BODY_WRITER, DISCONNECT_HOOK, DisconnectHook
from proxy.server.stream_body import StreamedBody, pull
from proxy.server.upstream_stream import WAIT

_SSE_RAW_HEADERS = ((b"cache-control", b"no-cache"), (b"x-accel-buffering", b"no"))


class ChunkWriter(Protocol):
    """What the server lets a started response write from any callback (connections.py)."""

    @property
    def paused(self) -> bool: ...

    def write_chunk(self, data: bytes) -> None: ...

    def when_writable(self, ready: Callable[[], None] | None) -> None: ...


class EventStream:
    """`text/event-stream` with `headers`, its body written as it is made."""

    __slots__ = ("_body", "_gone", "_headers", "_over", "_task")

    status_code = 200

    def __init__(self, body: StreamedBody, headers: dict[str, str]) -> None:
        self._body = body
        self._headers = [
            (b"content-type", b"text/event-stream; charset=utf-8"),
            *((k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in headers.items()),
            *_SSE_RAW_HEADERS,
        ]
        self._task: asyncio.Task[Any] | None = None
        self._gone = False  # the client left: the cancellation is ours
        self._over = False  # the body is sent or failed: a disconnect now cancels nothing

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        headers, self._headers = self._headers, []
        body = self._body
        try:
            await send({"type": "http.response.start", "status": 200, "headers": headers})
        except BaseException:
            body.close()  # the exchange ends (its record, its slot, its upstream connection)
            raise
        del headers  # not held for the stream's life
        task = self._task = asyncio.current_task()
        assert task is not None
        hook: DisconnectHook | None = scope.get(DISCONNECT_HOOK)
        watch = None
        if hook is not None:
            hook.watch(self._client_gone)
        else:
            watch = asyncio.ensure_future(_disconnect(receive))
            watch.add_done_callback(self._watched)
        writer: ChunkWriter | None = scope.get(BODY_WRITER)
        try:
            if writer is not None:
                await self._pushed(body, writer, send)
            else:
                await pull(body, partial(_send_body, send))
        except asyncio.CancelledError:
            if not self._gone:
                raise
            task.uncancel()  # our own cancellation: the client left, nothing more to send
        finally:
            self._over = True
            self._task = None
            if hook is not None:
                hook.watch(None)
            if watch is not None:
                watch.cancel()

    async def _pushed(self, body: StreamedBody, writer: ChunkWriter, send: Send) -> None:
        done: asyncio.Future[bytes] = asyncio.get_running_loop().create_future()
        try:
            Pump(body, writer, done).run()
            last = await done
        finally:
            writer.when_writable(None)
            body.close()
        self._over = True
        await _send_body(send, last, False)

    def _client_gone(self) -> None:
        if not self._over and self._task is not None:
            self._gone = True
            self._task.cancel()

    def _watched(self, watch: asyncio.Future[None]) -> None:
        if not watch.cancelled():
            self._client_gone()


class Pump:
    """Writes a body's parts as they are made, from whichever callback finds one due: the
    request's task once at the start, then the upstream stream's callback (bytes, its end, a
    stop, a keep-alive's time) or the client's socket draining. `done` gets the last part,
    which the task sends as the response's end."""

    __slots__ = ("_body", "_done", "_writer")

    def __init__(self, body: StreamedBody, writer: ChunkWriter, done: asyncio.Future[bytes]):
        self._body = body
        self._writer = writer
        self._done = done

    def run(self) -> None:
        body, writer, done = self._body, self._writer, self._done
        while not done.done():
            if writer.paused:
                # The client is behind: the upstream stream buffers, then stops reading.
                writer.when_writable(self.run)
                return
            data = body.produce()  # an error, any Exception, comes out as in-band bytes
            if data is WAIT:
                body.wait(self.run)
                return
            if body.done:
                done.set_result(data)
            else:
                writer.write_chunk(data)


async def _send_body(send: Send, data: bytes, more: bool) -> None:
    await send({"type": "http.response.body", "body": data, "more_body": more})


async def _disconnect(receive: Receive) -> None:
    while (await receive())["type"] != "http.disconnect":
        pass
