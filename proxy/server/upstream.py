"""The one module that calls DashScope: opens native streams and maps transport failures.

Nothing here buffers a stream: bytes go to the SSE decoder as they arrive. The connections are
proxy/server/upstream_http.py; what a response head means (an error, a redirect, no event
stream) is read in `upstream_answers.py`.
"""

from __future__ import annotations

import logging
import ssl
import time
from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import urlsplit

import orjson

from proxy.config import UpstreamSettings
from proxy.core.errors import (
    POOL_FULL,
    InvalidRequest,
    Unavailable,
    UpstreamTimeout,
    UpstreamUnavailable,
)
from proxy.core.http1 import request_bytes
from proxy.server.upstream_answers import check_answer
from proxy.server.upstream_http import (
    ConnectFailed,
    Connection,
    ConnectionBroken,
    ConnectTimeout,
    Origin,
    Pool,
    PoolFull,
)
from proxy.server.upstream_stream import UpstreamStream

log = logging.getLogger("proxy")

_POOL_FULL_LOG_EVERY = 60.0  # seconds between two "pool full" warnings


def upstream_address(url: str) -> tuple[Origin, str]:
    """Where the native base URL points: the origin, and the path prefix paths are joined to."""
    parts = urlsplit(url)
    scheme = parts.scheme
    port = parts.port or (443 if scheme == "https" else 80)
    return Origin(scheme, parts.hostname or "", port), parts.path.rstrip("/")


class UpstreamClient:
    """The process's connections to DashScope: one pool of at most `max_connections`."""

    def __init__(self, settings: UpstreamSettings) -> None:
        self._settings = settings
        self._origin, self._prefix = upstream_address(settings.url)
        tls = ssl.create_default_context() if self._origin.scheme == "https" else None
        self._pool = Pool(
            self._origin,
            settings.max_connections,
            connect_timeout=settings.connect_timeout,
            pool_timeout=settings.pool_timeout,
            tls=tls,
        )
        self._pool_full_count = 0  # refusals since the last warning
        self._pool_full_logged = -_POOL_FULL_LOG_EVERY

    @property
    def settings(self) -> UpstreamSettings:
        return self._settings

    async def aclose(self) -> None:
        self._pool.close()

    async def open(
        self,
        path: str,
        body: Mapping[str, Any],
        api_key: str,
        headers: dict[str, str] | None = None,
        on_sent: Callable[[], None] | None = None,
    ) -> UpstreamStream:
        """POST a streaming request; raise the mapped error unless DashScope answered 2xx with
        an event stream.

        `headers` (forwarded client headers) cannot override the protocol's own. `on_sent` is
        called when the request goes out (after the pool and the connection).
        """
        data = self.encode(path, body, api_key, headers)
        stream = await self._send(data, on_sent)
        await check_answer(stream)
        return stream

    def encode(
        self,
        path: str,
        body: Mapping[str, Any],
        api_key: str,
        headers: dict[str, str] | None = None,
    ) -> bytes:
        """The request's bytes: the native protocol's headers, the forwarded ones, the body."""
        protocol = {
            "Authorization": f"Bearer {api_key}",
            "Content-Type": "application/json",
            "Accept": "text/event-stream",
            "X-DashScope-SSE": "enable",
            "X-Accel-Buffering": "no",
            "User-Agent": "dashscope-proxy",
        }
        if self._settings.workspace:
            protocol["X-DashScope-WorkSpace"] = self._settings.workspace
        # Forwarded headers never duplicate or override the protocol's own (case-insensitively).
        own = {name.lower() for name in protocol}
        forwarded = [(k, v) for k, v in (headers or {}).items() if k.lower() not in own]
        try:
            content = orjson.dumps(body)
        except orjson.JSONEncodeError:
            # The client's JSON parsed, but nests deeper than JSON encoders follow (255 levels).
            raise InvalidRequest("The request nests too deeply to be sent to DashScope.") from None
        try:
            return request_bytes(
                "POST",
                self._prefix + path,
                self._origin.host_header,
                [*forwarded, *protocol.items()],
                content,
            )
        except ValueError as exc:
            raise InvalidRequest(f"The request cannot be sent to DashScope: {exc}") from None

    async def _send(self, data: bytes, on_sent: Callable[[], None] | None) -> UpstreamStream:
        """The request on a pooled connection; once more on a new one when a reused connection
        turns out closed before any byte of an answer (the server closed it while idle)."""
        pool = self._pool
        while True:
            connection, reused = await self._connection()
            stream = UpstreamStream(connection, pool, self._settings)
            if on_sent is not None:
                on_sent()
            try:
                stream.head = await connection.send(data, stream)
            except ConnectionBroken as exc:
                pool.drop(connection)
                if reused and not exc.answered:
                    continue
                raise UpstreamUnavailable(
                    f"could not reach DashScope at {self._settings.url}: {exc}"
                ) from None
            except BaseException:
                pool.drop(connection)
                raise
            return stream

    async def _connection(self) -> tuple[Connection, bool]:
        try:
            return await self._pool.acquire()
        except PoolFull:
            raise self._pool_full() from None
        except ConnectTimeout:
            raise UpstreamTimeout(
                f"DashScope did not accept the connection within "
                f"{self._settings.connect_timeout:g} s"
            ) from None
        except ConnectFailed as exc:
            raise UpstreamUnavailable(
                f"could not reach DashScope at {self._settings.url}: {exc}"
            ) from None

    def _pool_full(self) -> Unavailable:
        """Every connection stayed busy for pool_timeout: the proxy's capacity, not DashScope's
        answer, so a 503 the client may retry shortly, and a warning (one per minute at most,
        with the count since the last one)."""
        self._pool_full_count += 1
        now = time.monotonic()
        if now - self._pool_full_logged >= _POOL_FULL_LOG_EVERY:
            log.warning(
                "upstream connection pool full",
                extra={
                    "max_connections": self._settings.max_connections,
                    "refused": self._pool_full_count,
                },
            )
            self._pool_full_logged, self._pool_full_count = now, 0
        return Unavailable(
            f"The proxy's {self._settings.max_connections} connections to DashScope "
            f"(max_connections) stayed busy for {self._settings.pool_timeout:g} s; retry shortly.",
            code=POOL_FULL,
        )
