"""The body of a streamed answer: encoded items as they come, keep-alives in silences, an
in-band error if the stream breaks after the first byte, the protocol's trailer last.

`StreamedBody` is polled, not awaited: each `produce()` hands out what can be written now, or
WAIT. Two drivers write it: the server's own callbacks (event_stream.Pump, with no task woken
per frame) and, under another ASGI server, the request's task (`pull`).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Protocol

from proxy.core.errors import ProxyError
from proxy.core.sse import KEEPALIVE
from proxy.core.translation import Item
from proxy.server.upstream_stream import WAIT, Wait

log = logging.getLogger("proxy")


class StreamOwner(Protocol):
    """What the body asks of the exchange it belongs to."""

    @property
    def rest_over(self) -> bool:
        """The closing items were handed out: nothing follows but the trailer."""

    def started(self) -> None:
        """The first byte is about to go out."""

    def poll(self) -> list[Item] | Wait | None:
        """The next items; None when a keep-alive is due; WAIT when nothing is."""

    def wait(self, ready: Callable[[], None]) -> None:
        """After a WAIT: call `ready` once something may be due."""

    def sleep(self) -> Awaitable[None]:
        """After a WAIT: done once something may be due."""

    def failure(self, error: ProxyError) -> list[Item]:
        """The items that carry `error` in-band, as the protocol's clients expect it."""

    def ended(self, error: ProxyError | None) -> None:
        """The body is over: sent in full, failed with `error`, or abandoned by the client."""


class StreamedBody:
    """`produce()` until `done`; `close()` in every outcome (it ends the exchange once)."""

    __slots__ = ("_closed", "_encode", "_error", "_first", "_owner", "_trailer", "done")

    def __init__(
        self,
        owner: StreamOwner,
        first: list[Item],
        *,
        encode: Callable[[Item], bytes],
        trailer: bytes,
    ) -> None:
        self._owner = owner
        self._first: list[Item] | None = first
        self._encode = encode
        self._trailer = trailer
        self._error: ProxyError | None = None
        self._closed = False
        self.done = False  # the last bytes were handed out

    def produce(self) -> bytes | Wait:
        """The bytes to write now (one write per upstream read, not per item: each write is a
        send() to the client, the largest cost of a stream), or WAIT. The last bytes carry the
        closing items and the trailer; the exchange has ended (`close()`) when they come."""
        owner = self._owner
        try:
            first, self._first = self._first, None
            if first is not None:
                owner.started()
                data = self._encoded(first)
                del first  # not held while the next batch is awaited
            else:
                items = owner.poll()
                if items is WAIT:
                    return WAIT
                if items is None:
                    return KEEPALIVE
                data = self._encoded(items)
                del items
        except ProxyError as exc:
            # After the first byte an error can only travel in-band.
            self._error = exc
            return self._last(self._encoded(owner.failure(exc)))
        except Exception:
            log.exception("stream translation failed")
            error = self._error = ProxyError("internal error in the proxy")
            return self._last(self._encoded(owner.failure(error)))
        return self._last(data) if owner.rest_over else data

    def wait(self, ready: Callable[[], None]) -> None:
        self._owner.wait(ready)

    def sleep(self) -> Awaitable[None]:
        return self._owner.sleep()

    def close(self) -> None:
        if not self._closed:
            self._closed = True
            self._first = None
            self._owner.ended(self._error)

    def _encoded(self, items: list[Item]) -> bytes:
        encode = self._encode
        return b"".join([encode(item) for item in items])

    def _last(self, data: bytes) -> bytes:
        self.done = True
        self.close()
        return data + self._trailer if self._trailer else data


async def pull(body: StreamedBody, send: Callable[[bytes, bool], Awaitable[None]]) -> None:
    """Write `body` from the calling task: `send(data, more)` each part, the last with
    `more` False."""
    try:
        while not body.done:
            data = body.produce()
            if data is WAIT:
                await body.sleep()
            elif data or body.done:
                await send(data, not body.done)
    finally:
        body.close()
