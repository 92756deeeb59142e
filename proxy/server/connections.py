"""What a client connection may hold of the server, below the app: how large a request's head
may be and how long it may take to send it, and how often an accept failure (out of file
descriptors) is logged.

uvicorn closes a connection idle after a response (`timeout_keep_alive`), but nothing bounds
the time a client takes to send a head: a client that trickles one byte every few seconds (a
slowloris), or connects and sends nothing, holds its connection and file descriptor forever,
and its httptools parser sets no bound on a head's size. `HeadTimeoutProtocol` adds both.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from collections.abc import Callable
from typing import Any, cast

import orjson
from uvicorn.protocols.http.flow_control import FlowControl
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from proxy.server.applog import Throttle

log = logging.getLogger("proxy.server")

# uvicorn's warnings, one per refused request: past the connection cap, or a head that is not
# HTTP. Anyone can provoke them, so they are rate-limited like the proxy's own refusals.
_PER_REQUEST_WARNINGS = frozenset({"Exceeded concurrency limit.", "Invalid HTTP request received."})

# What asyncio's accept loop reports when the process is out of file descriptors (EMFILE,
# ENFILE) or memory: it retries every second, and logs a traceback for each attempt.
_ACCEPT_FAILED = "socket.accept() out of system resource"
ACCEPT_LOG_PERIOD = 10.0  # at most one accept-failure line per this many seconds
DISCONNECT_HOOK = "dashscope_proxy.disconnect"  # the scope key of a `DisconnectHook`
BODY_WRITER = "dashscope_proxy.body_writer"  # the scope key of a response's `HeadWithBody`
MAX_HEAD = 16 * 1024  # a request head larger than this is refused (431), as h11 refused it
_HEAD_TOO_LARGE = orjson.dumps(
    {
        "error": {
            "message": f"The request head is larger than {MAX_HEAD} bytes.",
            "type": "invalid_request_error",
            "param": None,
            "code": "request_header_too_large",
        }
    }
)


class HeadTimeoutProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol (llhttp, in C: a fraction of h11's cost per request and
    per written chunk, docs/benchmarks.md), with a deadline for each request's head:
    `head_timeout` seconds from the connection, or from the end of the previous response, to
    the head's last byte. A connection that misses it is closed without an answer (no request
    was made)."""

    # uvicorn's protocol sets 28 attributes; one or two more and CPython 3.11 gives up the
    # class's shared instance layout (at most 30 keys) for a dict of its own per connection,
    # 1.3 KB more per open stream. Ours are slots.
    __slots__ = ("_disconnect", "_head_bytes", "_head_deadline")

    head_timeout = 10.0

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.pipeline = cast(deque[Any], _Pipeline())
        self._disconnect = DisconnectHook()
        self._head_deadline: asyncio.TimerHandle | None = None
        # Bytes received while a head is incomplete (None: no head begun, or it is whole);
        # llhttp sets no bound of its own.
        self._head_bytes: int | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self.flow._is_writable_event = cast(asyncio.Event, Signal(is_set=True))
        self._await_head(None)

    def data_received(self, data: bytes) -> None:
        super().data_received(data)
        # Counted after parsing: a head and the start of its body often come in one read.
        if self._head_bytes is not None and not self.transport.is_closing():
            self._head_bytes += len(data)
            if self._head_bytes > MAX_HEAD:
                self._refuse_head()

    def on_message_begin(self) -> None:
        self._head_bytes = 0  # counted from the read its first byte came in
        super().on_message_begin()
        cast(dict[str, Any], self.scope)[DISCONNECT_HOOK] = self._disconnect

    def on_headers_complete(self) -> None:
        self._head_bytes = None
        previous = self.cycle
        super().on_headers_complete()
        if self.cycle is not previous:  # a new request (not an upgrade): nothing waits on it yet
            self.cycle.message_event = cast(asyncio.Event, Signal())
            self._cancel_head_deadline()  # in time: not held (nor the last request) meanwhile
            # The request's scope has its headers; an app that is done with them can let go
            # of them (lane.py), as this protocol no longer reads them.
            self.headers = []
            cycle = self.cycle
            cycle.transport = writer = HeadWithBody(self.transport, self.loop, self.flow)
            cycle.scope[BODY_WRITER] = writer  # type: ignore[literal-required]

    def _refuse_head(self) -> None:
        self._head_bytes = None
        body = _HEAD_TOO_LARGE
        self.transport.write(
            b"HTTP/1.1 431 Request Header Fields Too Large\r\ncontent-type: application/json\r\n"
            b"connection: close\r\ncontent-length: %d\r\n\r\n%s" % (len(body), body)
        )
        self.transport.close()

    def connection_lost(self, exc: Exception | None) -> None:
        self._cancel_head_deadline()
        super().connection_lost(exc)
        self._disconnect.fire()

    def on_response_complete(self) -> None:
        super().on_response_complete()
        if not self.transport.is_closing():
            self._await_head(self.cycle)

    def _await_head(self, after: Any) -> None:
        self._cancel_head_deadline()
        self._head_deadline = self.loop.call_later(self.head_timeout, self._head_late, after)

    def _cancel_head_deadline(self) -> None:
        if self._head_deadline is not None:
            self._head_deadline.cancel()
            self._head_deadline = None

    def _head_late(self, after: Any) -> None:
        self._head_deadline = None
        # A new cycle means a head arrived in time; its own response re-arms the deadline.
        waiting = after is None or after.response_complete
        if self.cycle is after and waiting and not self.transport.is_closing():
            self.transport.close()


class HeadWithBody(asyncio.Transport):
    """A response's view of its connection: the head goes out with the first body bytes, in
    one `send()`, rather than alone just before them; the client then wakes once for both, and
    the proxy saves a system call per response. A head with nothing written behind it in the
    same turn of the event loop goes out alone at the end of that turn; a 100 Continue at once,
    as the client waits for it. Later writes go straight through: holding each chunk for the
    end of the turn cost more in latency at high concurrency than the sends it saved
    (docs/benchmarks.md).

    It is also a server extension, in each request's scope under `BODY_WRITER`: once the
    response has started (chunked, as uvicorn sends a body of no declared length), the app
    may write body chunks straight from any callback (`write_chunk`) while `paused` is False,
    rather than through `send` from the request's task; the end still goes through `send`."""

    __slots__ = ("_flow", "_head", "_loop", "_transport")

    def __init__(
        self, transport: asyncio.Transport, loop: asyncio.AbstractEventLoop, flow: FlowControl
    ) -> None:
        super().__init__()
        self._transport = transport
        self._loop = loop
        self._flow = flow
        self._head: bytes | None = None

    def write(self, data: bytes | bytearray | memoryview) -> None:
        head, self._head = self._head, None
        if head is not None:
            self._transport.write(head + data)
        elif data[:9] == b"HTTP/1.1 " and data[9:13] != b"100 ":
            self._head = bytes(data)
            self._loop.call_soon(self._flush)
        else:
            self._transport.write(data)

    @property
    def paused(self) -> bool:
        """The client is not reading: write nothing until `when_writable` calls back."""
        return self._flow.write_paused

    def write_chunk(self, data: bytes) -> None:
        """`data` as one chunk of the response's body; nothing once the client is gone."""
        if data and not self._transport.is_closing():
            self.write(b"%x\r\n%b\r\n" % (len(data), data))

    def when_writable(self, ready: Callable[[], None] | None) -> None:
        """Call `ready` (once) when the client reads again; None: no longer."""
        cast(Signal, self._flow._is_writable_event).when_set(ready)

    def _flush(self) -> None:
        head, self._head = self._head, None
        if head is not None and not self._transport.is_closing():
            self._transport.write(head)

    def close(self) -> None:
        self._flush()
        self._transport.close()

    def is_closing(self) -> bool:
        return self._transport.is_closing()

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return self._transport.get_extra_info(name, default)


class DisconnectHook:
    """A server extension, in each request's scope under `DISCONNECT_HOOK`: what `watch` was
    given is called once the client's connection is lost (at once if it already is). A
    streamed answer would otherwise need a task per stream waiting for `http.disconnect`
    (about 1.3 KB per open stream)."""

    __slots__ = ("_callback", "_lost")

    def __init__(self) -> None:
        self._callback: Callable[[], None] | None = None
        self._lost = False

    def watch(self, callback: Callable[[], None] | None) -> None:
        """Call `callback` when the connection is lost; None: no longer."""
        if callback is not None and self._lost:
            callback()
            return
        self._callback = callback

    def fire(self) -> None:
        self._lost = True
        callback, self._callback = self._callback, None
        if callback is not None:
            callback()


class Signal:
    """What uvicorn uses of an `asyncio.Event` (set, clear, is_set, wait) without its deque:
    uvicorn makes two events per connection (a request's body or disconnect, the socket being
    writable), each 860 bytes, for one waiter at a time; this is about 60, 120 once waited on.
    It can also call one callback back when set (`when_set`), for a writer with no task."""

    __slots__ = ("_ready", "_value", "_waiters")

    def __init__(self, *, is_set: bool = False) -> None:
        self._value = is_set
        self._waiters: list[asyncio.Future[None]] | None = None
        self._ready: Callable[[], None] | None = None

    def is_set(self) -> bool:
        return self._value

    def set(self) -> None:
        if self._value:
            return
        self._value = True
        for waiter in self._waiters or ():
            if not waiter.done():
                waiter.set_result(None)
        ready, self._ready = self._ready, None
        if ready is not None:
            ready()

    def when_set(self, ready: Callable[[], None] | None) -> None:
        """Call `ready` once when set (at once if it is); None: no longer."""
        if ready is not None and self._value:
            ready()
            return
        self._ready = ready

    def clear(self) -> None:
        self._value = False

    async def wait(self) -> bool:
        if self._value:
            return True
        waiters = self._waiters
        if waiters is None:
            waiters = self._waiters = []
        waiter = asyncio.get_running_loop().create_future()
        waiters.append(waiter)
        try:
            await waiter
        finally:
            waiters.remove(waiter)
        return True


class _Pipeline(list[Any]):
    """uvicorn's queue of pipelined requests (`appendleft`, `pop`), mostly empty: a list costs
    56 bytes where the deque it replaces costs 770."""

    __slots__ = ()

    def appendleft(self, item: Any) -> None:
        self.insert(0, item)


def head_timeout_protocol(seconds: float) -> type[HeadTimeoutProtocol]:
    """The protocol class for uvicorn's `http` setting, with this deadline."""
    return type(
        "HeadTimeoutProtocol", (HeadTimeoutProtocol,), {"__slots__": (), "head_timeout": seconds}
    )


def throttle_accept_errors(
    loop: asyncio.AbstractEventLoop, period: float = ACCEPT_LOG_PERIOD
) -> None:
    """Log accept failures as one line per `period`, counting the ones left out: out of file
    descriptors, asyncio logs a traceback per attempt, megabytes a minute on stderr."""
    throttle = Throttle(limit=1, period=period, clock=time.monotonic)
    default = loop.get_exception_handler()

    def handle(loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
        if not _accept_trouble(context):
            if default is None:
                loop.default_exception_handler(context)
            else:
                default(loop, context)
            return
        suppressed = throttle.admit("accept")
        if suppressed is not None:
            log.error(
                "cannot accept connections: %s",
                context.get("exception"),
                extra={"suppressed": suppressed, "period_s": period},
            )

    loop.set_exception_handler(handle)


def _accept_trouble(context: dict[str, Any]) -> bool:
    """A failed accept, or one of the retries asyncio schedules after each: one per attempt of
    its accept loop (uvicorn's backlog, 2048), which fail once the server has closed its
    listener at shutdown."""
    if context.get("message") == _ACCEPT_FAILED:
        return True
    callback = getattr(context.get("handle"), "_callback", None)
    return getattr(callback, "__name__", "") == "_start_serving"


class PerRequestWarnings(logging.Filter):
    """On uvicorn's logger: its per-request warnings at most `Throttle`'s rate, each written one
    saying how many were left out before it (`suppressed`)."""

    def __init__(self) -> None:
        super().__init__()
        self._throttle = Throttle()

    def filter(self, record: logging.LogRecord) -> bool:
        if record.msg not in _PER_REQUEST_WARNINGS:
            return True
        suppressed = self._throttle.admit(record.msg)
        if suppressed is None:
            return False
        record.suppressed = suppressed
        return True
