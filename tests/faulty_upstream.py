"""A misbehaving DashScope for the fault tests: a raw asyncio TCP server on loopback.

Each connection plays a script, a tuple of steps: send bytes, pause, stall until the peer goes
away, reset (RST) or close (FIN). Connection n plays `scripts[n]`, the last script repeating,
so "a 500, then success" is two scripts. The bytes are DashScope's own native wire format,
rendered by the simulator (`build_scenario`, `render_frame`); only the misbehaviour is new.
Runs on its own thread and event loop, so synchronous tests can drive a proxy against it.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import struct
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from types import TracebackType

import orjson

from proxy.simulator import build_scenario, render_frame

REQUEST_ID = "faulty00-0000-4000-8000-000000000000"


@dataclass(frozen=True, slots=True)
class Send:
    data: bytes


@dataclass(frozen=True, slots=True)
class Pause:
    seconds: float


@dataclass(frozen=True, slots=True)
class Trickle:
    """Send `data` `times` times, `interval` seconds apart, until the peer goes away: a stream
    that keeps the connection busy without (or while) completing a frame."""

    data: bytes
    times: int
    interval: float = 0.0


@dataclass(frozen=True, slots=True)
class Stall:
    """Send nothing more; wait until the peer closes the connection."""


@dataclass(frozen=True, slots=True)
class Reset:
    """An abortive close: the peer reads ECONNRESET."""


@dataclass(frozen=True, slots=True)
class Close:
    """An orderly close (FIN): a close-delimited body ends here."""


@dataclass(frozen=True, slots=True)
class Refuse:
    """Reset at once, before reading the request: nothing is listening, as far as HTTP goes."""


Step = Send | Trickle | Pause | Stall | Reset | Close | Refuse
Script = tuple[Step, ...]


# ---- the wire format -------------------------------------------------------------------------


def frames(name: str = "plain_text", *, thinking: bool = True) -> list[bytes]:
    """The simulator's native frames for scenario `name`, each a complete SSE event."""
    body = {"parameters": {"incremental_output": True, "enable_thinking": thinking}}
    scenario = build_scenario(name, body)
    return [render_frame(n, frame) for n, frame in enumerate(scenario.frames, start=1)]


def sse_head(status: int = 200, headers: dict[str, str] | None = None) -> bytes:
    """A status line and headers for a close-delimited event stream."""
    fields = {
        "content-type": "text/event-stream;charset=UTF-8",
        "x-request-id": REQUEST_ID,
        "connection": "close",
        **(headers or {}),
    }
    lines = [f"HTTP/1.1 {status} Status", *(f"{k}: {v}" for k, v in fields.items())]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def native_error(
    status: int, code: str, message: str = "simulated failure", **headers: str
) -> bytes:
    """A complete JSON error response as DashScope sends it; header names use `_` for `-`."""
    body = orjson.dumps({"code": code, "message": message, "request_id": REQUEST_ID})
    fields = {
        "content-type": "application/json",
        "content-length": str(len(body)),
        "x-request-id": REQUEST_ID,
        "connection": "close",
        **{k.replace("_", "-"): v for k, v in headers.items()},
    }
    lines = [f"HTTP/1.1 {status} Status", *(f"{k}: {v}" for k, v in fields.items())]
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


def answer(name: str = "plain_text", *, gap: float = 0.0) -> Script:
    """A complete, well-behaved answer, frames `gap` seconds apart."""
    steps: list[Step] = [Send(sse_head())]
    for n, frame in enumerate(frames(name), start=1):
        if n > 1 and gap:
            steps.append(Pause(gap))
        steps.append(Send(frame))
    return (*steps, Close())


def first_frames(count: int = 1, name: str = "plain_text") -> Script:
    """The head and the first `count` frames, with a moment for them to be read."""
    return (Send(sse_head()), *(Send(f) for f in frames(name)[:count]), Pause(0.1))


# ---- the server -------------------------------------------------------------------------------


@dataclass(slots=True)
class Connection:
    """One accepted connection: what the proxy sent, and whether it went away."""

    index: int
    request: bytes = b""  # the request line, headers and body, as the proxy sent them
    sent: int = 0  # bytes of the script written to the connection so far
    peer_closed: threading.Event = field(default_factory=threading.Event)


class FaultyUpstream:
    """`with FaultyUpstream(script, ...) as upstream: upstream.url, upstream.connections`."""

    def __init__(self, *scripts: Script) -> None:
        assert scripts, "at least one script"
        self.scripts: Sequence[Script] = scripts
        self.connections: list[Connection] = []
        self.port = 0
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task[None]] = set()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> FaultyUpstream:
        self._thread.start()
        opening = asyncio.start_server(self._accept, "127.0.0.1", 0)
        self._server = asyncio.run_coroutine_threadsafe(opening, self._loop).result(5)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    def stop(self) -> None:
        asyncio.run_coroutine_threadsafe(self._shutdown(), self._loop).result(5)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(5)
        self._loop.close()

    def __enter__(self) -> FaultyUpstream:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    async def _shutdown(self) -> None:
        assert self._server is not None
        self._server.close()
        for task in list(self._tasks):
            task.cancel()
        for task in list(self._tasks):
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        connection = Connection(len(self.connections))
        self.connections.append(connection)
        script = self.scripts[min(connection.index, len(self.scripts) - 1)]
        try:
            await self._play(script, connection, reader, writer)
        except asyncio.CancelledError:
            pass  # stopping; a cancelled task here would be reported by asyncio's streams
        finally:
            self._tasks.discard(task)
            if not writer.transport.is_closing():
                writer.transport.abort()

    async def _play(
        self,
        script: Script,
        connection: Connection,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
    ) -> None:
        if script[:1] == (Refuse(),):
            _abort(writer)
            return
        try:
            connection.request = await _read_request(reader)
        except (asyncio.IncompleteReadError, ConnectionError):
            return
        gone = asyncio.Event()
        watcher = asyncio.create_task(_watch(reader, gone, connection))
        try:
            for step in script:
                if gone.is_set():
                    return  # the proxy let go: nothing more to play to it
                if isinstance(step, Send):
                    await _send(writer, step.data, connection)
                elif isinstance(step, Trickle):
                    await _trickle(writer, step, connection, gone)
                elif isinstance(step, Pause):
                    await asyncio.sleep(step.seconds)
                elif isinstance(step, Stall):
                    await gone.wait()
                elif isinstance(step, Reset | Refuse):
                    _abort(writer)
                    return
                else:
                    writer.close()
                    with contextlib.suppress(ConnectionError):
                        await writer.wait_closed()
                    return
        finally:
            watcher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await watcher


async def _send(writer: asyncio.StreamWriter, data: bytes, connection: Connection) -> None:
    writer.write(data)
    connection.sent += len(data)
    try:
        await writer.drain()
    except ConnectionError:
        # The proxy let go while we wrote. Said here, not only by `_watch`: the script may end
        # and cancel the watcher before it has run to see the same reset.
        connection.peer_closed.set()


async def _trickle(
    writer: asyncio.StreamWriter, step: Trickle, connection: Connection, gone: asyncio.Event
) -> None:
    for n in range(step.times):
        if gone.is_set():
            return
        if writer.transport.is_closing():  # only the proxy's close does that mid-trickle
            connection.peer_closed.set()
            return
        if n and step.interval:
            await asyncio.sleep(step.interval)
        await _send(writer, step.data, connection)


def _abort(writer: asyncio.StreamWriter) -> None:
    sock = writer.transport.get_extra_info("socket")
    if sock is not None:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    writer.transport.abort()


async def _read_request(reader: asyncio.StreamReader) -> bytes:
    head = await reader.readuntil(b"\r\n\r\n")
    length = 0
    for line in head.split(b"\r\n"):
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value.strip())
    return head + await reader.readexactly(length)


async def _watch(reader: asyncio.StreamReader, gone: asyncio.Event, connection: Connection) -> None:
    """Read until the peer closes (EOF or reset): that is the proxy letting go."""
    with contextlib.suppress(ConnectionError):
        while await reader.read(65536):
            pass
    connection.peer_closed.set()
    gone.set()
