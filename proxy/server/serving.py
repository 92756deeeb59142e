"""Running ASGI apps under uvicorn: in the foreground (`serve`) or on a background thread (the
demo and the tests, which need real servers on loopback with an ephemeral port)."""

from __future__ import annotations

import contextlib
import signal
import threading
import time
from collections.abc import Iterator
from types import FrameType, TracebackType
from typing import Any

import uvicorn

# Streams end themselves (in-band error, [DONE]) when the drain time is over; uvicorn's own
# deadline, which cancels whatever is left, comes this much later.
_CANCEL_MARGIN = 5.0


def uvicorn_config(
    app: Any,
    host: str,
    port: int,
    log_level: str = "info",
    *,
    drain_timeout: float = 30.0,
    own_logging: bool = False,
) -> uvicorn.Config:
    return uvicorn.Config(
        app,
        host=host,
        port=port,
        log_level=log_level,
        lifespan="on",
        server_header=False,
        timeout_graceful_shutdown=int(drain_timeout + _CANCEL_MARGIN),
        # With the proxy's JSON app log configured, uvicorn must not install its own handlers.
        log_config=None if own_logging else uvicorn.config.LOGGING_CONFIG,
        access_log=not own_logging,
    )


class DrainingServer(uvicorn.Server):
    """On SIGTERM (or Ctrl-C), drains the app first: readiness turns 503 and new requests are
    refused while the listener stays open; once the streams in flight are done, or cut at the
    drain deadline, uvicorn shuts down as usual. A second signal stops at once. The process
    then exits 0 instead of dying by the signal again."""

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        lifecycle = getattr(getattr(self.config.app, "state", None), "lifecycle", None)
        if lifecycle is None:
            super().handle_exit(sig, frame)
            return
        if lifecycle.draining:  # a second signal: the operator wants out now
            self.should_exit = self.force_exit = True
            return
        lifecycle.begin_drain(on_drained=self._drained)

    def _drained(self) -> None:
        self.should_exit = True

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


def serve_forever(
    app: Any, host: str, port: int, *, drain_timeout: float = 30.0, log_level: str = "info"
) -> None:
    config = uvicorn_config(
        app, host, port, log_level, drain_timeout=drain_timeout, own_logging=True
    )
    DrainingServer(config).run()


class BackgroundServer:
    """`with BackgroundServer(app) as server: server.url` — stops the server on exit."""

    def __init__(self, app: Any, host: str = "127.0.0.1", port: int = 0) -> None:
        self._server = uvicorn.Server(uvicorn_config(app, host, port, log_level="warning"))
        self._thread = threading.Thread(target=self._server.run, daemon=True)
        self.host = host
        self.port = port

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def start(self) -> BackgroundServer:
        self._thread.start()
        deadline = time.monotonic() + 10
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("the server did not start")
            time.sleep(0.005)
        sockets = self._server.servers[0].sockets
        self.port = sockets[0].getsockname()[1]
        return self

    def stop(self) -> None:
        self._server.should_exit = True
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
