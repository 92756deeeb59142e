"""Running ASGI apps under uvicorn: in the foreground (`serve`) or on a background thread (the
demo and the tests, which need real servers on loopback with an ephemeral port)."""

from __future__ import annotations

import threading
import time
from types import TracebackType
from typing import Any

import uvicorn


def uvicorn_config(app: Any, host: str, port: int, log_level: str = "info") -> uvicorn.Config:
    return uvicorn.Config(
        app,
        host=host,
        port=port,
        log_level=log_level,
        lifespan="on",
        # The proxy writes its own JSON bodies and SSE; uvicorn's defaults are fine otherwise.
        server_header=False,
        timeout_graceful_shutdown=30,
    )


def serve_forever(app: Any, host: str, port: int) -> None:
    uvicorn.Server(uvicorn_config(app, host, port)).run()


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
