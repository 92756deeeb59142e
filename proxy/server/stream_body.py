"""The body of a streamed answer: encoded items as they come, keep-alives in silences, an
in-band error if the stream breaks after the first byte, the protocol's trailer last."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable
from typing import Protocol

from proxy.core.errors import ProxyError
from proxy.core.sse import KEEPALIVE
from proxy.core.translation import Item

log = logging.getLogger("proxy")


class StreamOwner(Protocol):
    """What the body tells the exchange it belongs to."""

    def started(self) -> None:
        """The first byte is about to go out."""

    def failure(self, error: ProxyError) -> list[Item]:
        """The items that carry `error` in-band, as the protocol's clients expect it."""

    async def ended(self, error: ProxyError | None) -> None:
        """The body is over: sent in full, failed with `error`, or abandoned by the client."""


async def stream_body(
    owner: StreamOwner,
    first: list[Item],
    rest: AsyncIterator[list[Item] | None] | None,
    *,
    encode: Callable[[Item], bytes],
    trailer: bytes,
) -> AsyncIterator[bytes]:
    """`rest` yields batches of items, or None for a silence worth a keep-alive comment."""
    error: ProxyError | None = None
    try:
        owner.started()
        # One write per upstream read, not per item: each write is a send() to the client,
        # and the send()s were the largest cost of a stream (docs/benchmarks.md).
        if first:
            yield b"".join([encode(item) for item in first])
        del first  # neither these items nor a batch are held while the next batch is awaited
        if rest is not None:
            async for batch in rest:
                if batch is None:
                    yield KEEPALIVE
                elif batch:
                    yield b"".join([encode(item) for item in batch])
                del batch
    except ProxyError as exc:
        # After the first byte an error can only travel in-band.
        error = exc
        yield b"".join([encode(item) for item in owner.failure(exc)])
    except Exception:
        log.exception("stream translation failed")
        error = ProxyError("internal error in the proxy")
        yield b"".join([encode(item) for item in owner.failure(error)])
    finally:
        await owner.ended(error)
    if trailer:
        yield trailer
