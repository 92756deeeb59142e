"""The proxy's HTTP/1.1 connections to DashScope: an asyncio protocol per connection and one
pool of them per process, with the parsing in proxy/core/http1.py.

Why our own rather than httpx: a stream's bytes go from the socket callback straight to the
stream's buffer, with no task reading per stream, no per-chunk events and no per-request
client objects; an open stream holds a protocol, a parser and its buffer (docs/benchmarks.md
has the figures that decided it).
"""

from __future__ import annotations

import asyncio
import collections
import ssl
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol, cast

from proxy.core.http1 import Head, ProtocolError, ResponseParser

# A connection idle for longer is not reused: servers close idle ones (DashScope's gateway
# after about a minute), and a request sent on one they are closing fails.
IDLE_EXPIRY = 5.0


class ConnectFailed(Exception):
    """No connection could be made (refused, unreachable, TLS failed)."""


class ConnectTimeout(Exception):
    """No connection within connect_timeout."""


class PoolFull(Exception):
    """Every connection stayed busy for pool_timeout."""


class ConnectionBroken(Exception):
    """The connection failed or ended before the response did (`answered`: after its head)."""

    def __init__(self, message: str, *, answered: bool = False) -> None:
        super().__init__(message)
        self.answered = answered


class BodySink(Protocol):
    """What a connection hands a response's body to, as it arrives."""

    def body(self, piece: bytes, *, last: bool = False) -> None:
        """`last`: the body ends with this piece (then `end` is not called)."""

    def end(self, failure: Exception | None) -> None: ...


@dataclass(frozen=True, slots=True)
class Origin:
    scheme: str
    host: str
    port: int

    @property
    def host_header(self) -> str:
        default = 443 if self.scheme == "https" else 80
        return self.host if self.port == default else f"{self.host}:{self.port}"


class Connection(asyncio.Protocol):
    """One keep-alive connection; carries one request at a time."""

    __slots__ = ("_answered", "_head", "_parser", "_sink", "_transport", "closed", "idle_since")

    def __init__(self) -> None:
        self._transport: asyncio.Transport | None = None
        self._parser: ResponseParser | None = None
        self._head: asyncio.Future[Head] | None = None
        self._sink: BodySink | None = None
        self._answered = False  # a response byte came for the current request
        self.closed = False
        self.idle_since = 0.0

    # asyncio.Protocol

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # A stream transport; not an asyncio.Transport subclass under uvloop.
        self._transport = cast(asyncio.Transport, transport)

    def data_received(self, data: bytes) -> None:
        parser = self._parser
        if parser is None:  # nothing was asked: a server that talks out of turn
            self.close()
            return
        self._answered = True
        try:
            body = parser.feed(data)
        except ProtocolError as exc:
            self._fail(ConnectionBroken(f"bad response: {exc}", answered=parser.head is not None))
            self.close()
            return
        head = self._head
        if parser.head is not None and head is not None:
            self._head = None
            if not head.done():
                head.set_result(parser.head)
        sink = self._sink
        if body and sink is not None:
            if parser.done:
                # The body and its end together: the stream can answer the last frame and
                # the end in one write to its client.
                self._sink = None
                sink.body(body, last=True)
                return
            sink.body(body)
        if parser.done:
            self._finish(None)

    def eof_received(self) -> bool:
        return False  # close our side too

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        parser = self._parser
        if parser is None:
            return
        if parser.done:
            return
        try:
            if exc is not None:  # a reset is no end, even of a body the close would end
                raise ProtocolError(type(exc).__name__)
            parser.eof()
        except ProtocolError as error:
            reason = type(exc).__name__ if exc is not None else str(error)
            self._fail(ConnectionBroken(reason, answered=self._answered))
            return
        self._finish(None)

    # The pool's and the stream's side.

    def send(self, data: bytes, sink: BodySink) -> asyncio.Future[Head]:
        """Write one request; the future gets the response head."""
        assert self._transport is not None
        self._parser = ResponseParser()
        self._sink = sink
        self._answered = False
        self._head = head = asyncio.get_running_loop().create_future()
        self._transport.write(data)
        return head

    @property
    def reusable(self) -> bool:
        parser = self._parser
        done = parser is not None and parser.done and parser.head is not None
        return done and parser.head.keep_alive and not self.closed  # type: ignore[union-attr]

    def detach(self) -> None:
        """The stream is done with this connection: later bytes have no one to go to."""
        self._sink = None
        self._head = None
        if self.reusable:
            self._parser = None

    def pause(self) -> None:
        if self._transport is not None and not self.closed:
            self._transport.pause_reading()

    def resume(self) -> None:
        if self._transport is not None and not self.closed:
            self._transport.resume_reading()

    def close(self) -> None:
        self.closed = True
        if self._transport is not None:
            self._transport.close()

    def _finish(self, failure: Exception | None) -> None:
        sink, self._sink = self._sink, None
        if sink is not None:
            sink.end(failure)

    def _fail(self, failure: Exception) -> None:
        head, self._head = self._head, None
        if head is not None and not head.done():
            head.set_exception(failure)
        self._finish(failure)


class Pool:
    """At most `size` connections to one origin, idle ones reused last-in first-out."""

    def __init__(
        self,
        origin: Origin,
        size: int,
        *,
        connect_timeout: float,
        pool_timeout: float,
        tls: ssl.SSLContext | None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.origin = origin
        self.size = size
        self.open = 0  # connections made and not yet closed or dropped
        self._connect_timeout = connect_timeout
        self._pool_timeout = pool_timeout
        self._tls = tls
        self._clock = clock
        self._idle: list[Connection] = []
        self._waiters: collections.deque[asyncio.Future[None]] = collections.deque()

    async def acquire(self) -> tuple[Connection, bool]:
        """A connection for one request, and whether it was used before."""
        deadline: float | None = None
        while True:
            reused = self._idle_connection()
            if reused is not None:
                return reused, True
            if self.open < self.size:
                return await self._connect(), False
            loop = asyncio.get_running_loop()
            deadline = deadline if deadline is not None else loop.time() + self._pool_timeout
            waiter = loop.create_future()
            self._waiters.append(waiter)
            try:
                async with asyncio.timeout_at(deadline):
                    await waiter
            except TimeoutError:
                raise PoolFull from None
            finally:
                if waiter in self._waiters:
                    self._waiters.remove(waiter)

    def release(self, connection: Connection) -> None:
        """Back to the pool when it can carry another request, else closed."""
        reusable = connection.reusable
        connection.detach()
        if reusable:
            connection.idle_since = self._clock()
            self._idle.append(connection)
        else:
            connection.close()
            self.open -= 1
        self._wake_one()

    def drop(self, connection: Connection) -> None:
        """A connection that was acquired and will not be released (it failed)."""
        connection.detach()
        connection.close()
        self.open -= 1
        self._wake_one()

    def close(self) -> None:
        for connection in self._idle:
            connection.close()
        self.open -= len(self._idle)
        self._idle.clear()

    def _idle_connection(self) -> Connection | None:
        now = self._clock()
        while self._idle:
            connection = self._idle.pop()
            if not connection.closed and now - connection.idle_since < IDLE_EXPIRY:
                return connection
            connection.close()
            self.open -= 1
        return None

    async def _connect(self) -> Connection:
        self.open += 1
        origin, loop = self.origin, asyncio.get_running_loop()
        try:
            async with asyncio.timeout(self._connect_timeout):
                _, connection = await loop.create_connection(
                    Connection,
                    origin.host,
                    origin.port,
                    ssl=self._tls,
                    server_hostname=origin.host if self._tls else None,
                )
        except BaseException as exc:
            self.open -= 1  # the slot taken above is free again, for a waiter if any
            self._wake_one()
            if isinstance(exc, TimeoutError):
                raise ConnectTimeout from None
            if isinstance(exc, OSError | ssl.SSLError):
                raise ConnectFailed(type(exc).__name__) from None
            raise
        return connection

    def _wake_one(self) -> None:
        while self._waiters:
            waiter = self._waiters.popleft()
            if not waiter.done():
                waiter.set_result(None)
                return
