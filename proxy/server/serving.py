"""Running ASGI apps under uvicorn: in the foreground (`serve`) or on a background thread (the
demo and the tests, which need real servers on loopback with an ephemeral port)."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import signal
import socket
import threading
import time
from collections.abc import Iterator
from types import FrameType, TracebackType
from typing import Any

import uvicorn

from proxy.config import ServerSettings
from proxy.server.connections import (
    PerRequestWarnings,
    head_timeout_protocol,
    throttle_accept_errors,
)
from proxy.server.file_limit import SPARE, fit_file_limit

# Streams end themselves (in-band error, [DONE]) when the drain time is over; uvicorn's own
# deadline, which cancels whatever is left, comes this much later.
_CANCEL_MARGIN = 5.0
# After a second signal, how long the cut requests get to unwind before the app closes.
_FORCED_CLEANUP = 1.0
_ASGI_FAILED = "Exception in ASGI application"  # uvicorn's line for an app that raised
_TICK = 1.0  # seconds between two renewals of the Date header while nothing else wakes us

log = logging.getLogger("proxy.server")


class CannotListen(Exception):
    """The address cannot be bound: the port is taken, or the address is not this machine's."""


def listen(host: str, port: int) -> list[socket.socket]:
    """The bound sockets for host:port (every address the name resolves to, as uvicorn would),
    taken before anything starts: a busy port is then one clear error, not a failed startup."""
    if not 0 <= port <= 65535:  # getaddrinfo would quietly take it modulo 65536
        raise CannotListen(f"cannot listen on {host}:{port}: not a port number")
    bound: list[socket.socket] = []
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
        for family, kind, proto, _, address in dict.fromkeys(infos):
            sock = socket.socket(family, kind, proto)
            bound.append(sock)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            if family == socket.AF_INET6:
                sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
            sock.bind(address)
    except (OSError, OverflowError) as exc:
        for sock in bound:
            sock.close()
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        raise CannotListen(f"cannot listen on {host}:{port}: {reason.lower()}") from None
    return bound


def uvicorn_config(
    app: Any,
    host: str,
    port: int,
    log_level: str = "info",
    *,
    server: ServerSettings | None = None,
    own_logging: bool = False,
) -> uvicorn.Config:
    """uvicorn's settings from [server]: the drain, and what one client connection may hold."""
    limits = server or ServerSettings()
    return uvicorn.Config(
        app,
        host=host,
        port=port,
        log_level=log_level,
        lifespan="on",
        loop=limits.loop,
        server_header=False,
        # Nothing reads the client's address, so X-Forwarded-* need not be parsed: one less
        # middleware around every request (and its frame held for a stream's life).
        proxy_headers=False,
        http=head_timeout_protocol(limits.header_timeout),
        timeout_keep_alive=limits.keep_alive_timeout,  # type: ignore[arg-type]  # a float works
        limit_concurrency=limits.max_client_connections,
        timeout_graceful_shutdown=int(limits.drain_timeout + _CANCEL_MARGIN),
        # With the proxy's JSON app log configured, uvicorn must not install its own handlers.
        log_config=None if own_logging else uvicorn.config.LOGGING_CONFIG,
        access_log=not own_logging,
    )


class Server(uvicorn.Server):
    """uvicorn's server, logging accept failures (out of file descriptors) once in a while
    rather than a traceback per attempt, and its per-request refusals at a bounded rate.

    uvicorn's main loop wakes ten times a second to see whether it should exit; this one
    sleeps until told to (`should_exit` set, from any thread or a signal handler) or until
    the next second, when the Date header is renewed as uvicorn does. An idle proxy used
    3.5 ms of CPU a second before (about 14 wake-ups); see docs/benchmarks.md."""

    def __init__(self, config: uvicorn.Config) -> None:
        self._exit_waker: tuple[asyncio.AbstractEventLoop, asyncio.Event] | None = None
        self._exiting = False
        super().__init__(config)
        self._warnings = PerRequestWarnings()

    @property
    def should_exit(self) -> bool:
        return self._exiting

    @should_exit.setter
    def should_exit(self, value: bool) -> None:
        self._exiting = value
        waker = self._exit_waker
        if value and waker is not None:
            loop, event = waker
            with contextlib.suppress(RuntimeError):  # the loop has closed: nothing waits
                loop.call_soon_threadsafe(event.set)

    async def main_loop(self) -> None:
        event = asyncio.Event()
        self._exit_waker = (asyncio.get_running_loop(), event)
        try:
            # on_tick(0) renews the Date header and says whether to stop, as uvicorn's does.
            while not await self.on_tick(0):
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(_TICK):
                        await event.wait()
        finally:
            self._exit_waker = None

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        throttle_accept_errors(asyncio.get_running_loop())
        logging.getLogger("uvicorn.error").addFilter(self._warnings)
        await super().startup(sockets)

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        try:
            await super().shutdown(sockets)
        finally:
            logging.getLogger("uvicorn.error").removeFilter(self._warnings)


class DrainingServer(Server):
    """On SIGTERM (or Ctrl-C), drains the app first: readiness turns 503 and new requests are
    refused while the listener stays open; once the streams in flight are done, or cut at the
    drain deadline, uvicorn shuts down as usual. A second signal stops at once. The process
    then exits 0 instead of dying by the signal again."""

    def __init__(self, config: uvicorn.Config, *, gc_threshold: int = 0) -> None:
        super().__init__(config)
        self._gc_threshold = gc_threshold

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        lifecycle = getattr(getattr(self.config.app, "state", None), "lifecycle", None)
        if lifecycle is None or not self.started:
            # Before startup nothing is in flight, and the app's loop may not be bound yet, so
            # a drain could never report back: stop as uvicorn would.
            super().handle_exit(sig, frame)
            return
        if lifecycle.draining:  # a second signal: the operator wants out now
            self.should_exit = self.force_exit = True
            return
        lifecycle.begin_drain(on_drained=self._drained)

    def _drained(self) -> None:
        self.should_exit = True

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        self._cut_quietly = _CutQuietly()
        logging.getLogger("uvicorn.error").addFilter(self._cut_quietly)
        await super().startup(sockets)
        tune_gc(self._gc_threshold)
        # uvicorn names the address only when it binds the sockets itself.
        if self.started and sockets:
            log.info("Listening on %s (Ctrl-C or SIGTERM drains and stops)", _url(sockets[0]))

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        try:
            await super().shutdown(sockets)
            if self.force_exit:
                # Forced, uvicorn skips the app's shutdown; asyncio.run would then cancel the
                # lifespan, which Starlette logs as a CancelledError traceback, and the
                # upstream pool and traffic log would not be closed. Cut the requests left,
                # then close.
                await self._cut_requests()
                await self.lifespan.shutdown()
        finally:
            logging.getLogger("uvicorn.error").removeFilter(self._cut_quietly)

    async def _cut_requests(self) -> None:
        # Dropping the connections ends each request as a client leaving would (the exchange
        # closes its upstream and records it); cancelling them would log a traceback each.
        for connection in list(self.server_state.connections):
            transport = getattr(connection, "transport", None)
            if transport is not None:
                transport.abort()
        tasks = set(self.server_state.tasks)
        if tasks:
            _, stuck = await asyncio.wait(tasks, timeout=_FORCED_CLEANUP)
            # Still waiting (for DashScope's first frame, say): cancelled, each exchange
            # records itself and logs its line; `_CutQuietly` keeps uvicorn from adding a
            # traceback for each.
            self._cut_quietly.cutting = True
            for task in stuck:
                task.cancel()
            if stuck:
                await asyncio.wait(stuck, timeout=_FORCED_CLEANUP)

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        # uvicorn's own version re-raises the signal after shutdown, so a drained proxy would
        # still die "killed by SIGTERM"; a clean drain should exit 0.
        if threading.current_thread() is not threading.main_thread():
            yield
            return
        handled = (signal.SIGINT, signal.SIGTERM)
        original = {sig: signal.signal(sig, self.handle_exit) for sig in handled}
        try:
            yield
        finally:
            for sig, handler in original.items():
                signal.signal(sig, handler)


class _CutQuietly(logging.Filter):
    """On uvicorn's logger: once a forced stop cancels the requests left, their cancellations
    are not logged, as their clients' connections are already gone (uvicorn would log
    "Exception in ASGI application" with a traceback for each, and then neither answers nor
    closes anything more). A filter rather than a wrapper around the app, whose frame every
    open stream would hold."""

    def __init__(self) -> None:
        super().__init__()
        self.cutting = False

    def filter(self, record: logging.LogRecord) -> bool:
        cancelled = record.exc_info is not None and isinstance(
            record.exc_info[1], asyncio.CancelledError
        )
        return not (self.cutting and cancelled and str(record.msg).startswith(_ASGI_FAILED))


def _url(sock: socket.socket) -> str:
    host, port = sock.getsockname()[:2]
    return f"http://[{host}]:{port}" if sock.family == socket.AF_INET6 else f"http://{host}:{port}"


def serve_forever(app: Any, server: ServerSettings, upstream_connections: int = 0) -> None:
    """Serve until SIGTERM or Ctrl-C has drained the app; `CannotListen` if the address is
    taken, raised before the app starts or anything is logged. The file limit is raised to
    cover the client connections and `upstream_connections` first, where it can be."""
    host, port = server.host, server.port
    config = uvicorn_config(app, host, port, server.log_level, server=server, own_logging=True)
    sockets = listen(host, port)
    short = fit_file_limit(server.max_client_connections + upstream_connections + SPARE)
    if short is not None:
        log.warning(short)
    DrainingServer(config, gc_threshold=server.gc_threshold).run(sockets=sockets)


def tune_gc(threshold: int) -> None:
    """The process's garbage collector for serving, once the app has started: what startup
    made is frozen, and the young threshold is `threshold` (0: Python's).

    Every frame makes a few dozen short-lived containers; a batch of frames outlives several
    young collections, gets promoted, and the full collections that follow scanned the whole
    heap, startup's objects included: about a tenth of a busy stream's CPU, in pauses of tens
    of ms (docs/operations.md). Frozen, startup's objects are out of every later scan. A larger
    young threshold saves more CPU but makes each young collection a longer pause."""
    gc.collect()
    gc.freeze()
    if threshold:
        _, middle, old = gc.get_threshold()
        gc.set_threshold(threshold, middle, old)


class BackgroundServer:
    """`with BackgroundServer(app) as server: server.url` — stops the server on exit. Entering
    raises `CannotListen` when the address cannot be bound."""

    def __init__(
        self,
        app: Any,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        server: ServerSettings | None = None,
    ) -> None:
        config = uvicorn_config(app, host, port, log_level="warning", server=server)
        self._server = Server(config)
        self._thread: threading.Thread | None = None
        self.host = host
        self.port = port

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def start(self) -> BackgroundServer:
        sockets = listen(self.host, self.port)
        self.port = sockets[0].getsockname()[1]
        self._thread = threading.Thread(target=self._server.run, args=(sockets,), daemon=True)
        self._thread.start()
        deadline = time.monotonic() + 10
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("the server did not start")
            time.sleep(0.005)
        return self

    def stop(self) -> None:
        self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout=10)

    def __enter__(self) -> BackgroundServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
