"""Opening the upstream stream and reading its first frame, retrying what may succeed.

The proxy commits to a 200 only once the first frame is in and translated: DashScope reports
many request errors as an `event:error` frame on an HTTP 200 (docs/dashscope-protocol.md).
Nothing has reached the client before that, so a retry cannot duplicate output, and no code has
run; after it, nothing is retried.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Callable
from dataclasses import dataclass

from proxy.core.errors import ProxyError, UpstreamTimeout
from proxy.core.native_request import NativeRequest
from proxy.core.retry import RetryPolicy, retry_delay
from proxy.core.sse import SSEEvent
from proxy.core.translation import Item
from proxy.server.upstream import UpstreamClient
from proxy.server.upstream_stream import UpstreamStream


@dataclass(frozen=True, slots=True)
class Deadline:
    """When an exchange must be over (`time.monotonic()`), and the error it ends with then."""

    at: float
    error: Callable[[], ProxyError]


@dataclass(frozen=True, slots=True)
class UpstreamCall:
    path: str
    body: NativeRequest
    key: str
    headers: dict[str, str]


class UpstreamAttempts:
    """One exchange's upstream stream: `stream` is the open one (for its request id and the
    rest of its frames) until `close()`."""

    __slots__ = ("_on_retry", "_policy", "_upstream", "stream")

    def __init__(
        self, upstream: UpstreamClient, policy: RetryPolicy, on_retry: Callable[[], None]
    ) -> None:
        self.stream: UpstreamStream | None = None
        self._upstream = upstream
        self._policy = policy
        self._on_retry = on_retry

    @property
    def request_id(self) -> str | None:
        """DashScope's request id from the response head, when a stream is open."""
        return self.stream.request_id if self.stream is not None else None

    async def first_frame(
        self,
        call: UpstreamCall,
        translate: Callable[[list[SSEEvent]], list[Item]],
        deadline: Deadline,
    ) -> tuple[list[SSEEvent], list[Item]]:
        """The first frame's events and their translation. `translate` must raise before it
        changes state on an error frame. A final error leaves the failed stream open, so its
        request id can still be read. Every attempt, and every wait between them, ends by the
        exchange's `deadline`."""
        started, attempt = time.monotonic(), 0
        try:
            async with asyncio.timeout(deadline.at - time.monotonic()):
                while True:
                    attempt += 1
                    try:
                        first = await self._attempt(call)
                        return first, translate(first)
                    except ProxyError as error:
                        delay = retry_delay(
                            self._policy,
                            error,
                            attempt=attempt,
                            elapsed=time.monotonic() - started,
                            jitter=random.random(),
                        )
                        # A retry whose wait would end past the deadline could only time out.
                        if delay is None or time.monotonic() + delay >= deadline.at:
                            raise
                    self.close()
                    self._on_retry()
                    await asyncio.sleep(delay)
        except TimeoutError:
            raise deadline.error() from None

    async def _attempt(self, call: UpstreamCall) -> list[SSEEvent]:
        """One attempt's first frame, within first_frame_timeout of the request going out (the
        response head included: both are "no answer yet"). Until then (the wait for a pool
        slot and the connection, which have their own timeouts) the limit is their sum."""
        settings = self._upstream.settings
        loop = asyncio.get_running_loop()
        limit = settings.first_frame_timeout
        try:
            async with asyncio.timeout(
                settings.pool_timeout + settings.connect_timeout + limit
            ) as first_frame:

                def sent() -> None:
                    first_frame.reschedule(loop.time() + limit)

                self.stream = await self._upstream.open(
                    call.path, call.body, call.key, call.headers, on_sent=sent
                )
                return await self.stream.first_events()
        except TimeoutError:
            raise UpstreamTimeout(
                f"DashScope sent no frame within {limit:g} s of the request"
            ) from None

    def close(self) -> None:
        """Let the stream go: synchronous, so a cancellation (a client leaving) cannot cut
        the release of its connection short."""
        stream, self.stream = self.stream, None
        if stream is not None:
            stream.close()
