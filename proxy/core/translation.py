"""Native SSE events -> a client protocol's output items: the one pipeline both APIs run.

The native stream translator turns upstream frames into protocol-neutral events; the client
API's encoder turns those into its items (chat chunks, Responses API events), and a summary
builder keeps what the answer was (`proxy/core/summary.py`). This owns the rules every
protocol follows: an error frame that comes after good frames in the same read is raised only
once the items before it are out, and a stream that ends before the answer is finished is an
error, never an empty success. Pure: the I/O shell feeds and writes.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Protocol

from proxy.core.errors import ProxyError, UpstreamUnavailable
from proxy.core.events import ContentDelta, Event, Finish, Usage
from proxy.core.native_stream import NativeStreamTranslator
from proxy.core.sse import SSEEvent
from proxy.core.summary import ExchangeSummary, SummaryBuilder
from proxy.core.wire import Item as Item  # the shell imports it from here


class Encoder(Protocol):
    """A client protocol's encoder over the neutral events."""

    def feed(self, event: Event) -> list[Item]: ...

    def finish(self) -> list[Item]: ...

    def fail(self, error: ProxyError, usage: Usage | None) -> list[Item]:
        """How an error after the first byte travels in-band, as the protocol's clients expect
        it; `usage` is what DashScope reported last, when it reported any."""
        ...


class Translation:
    """Feed decoded upstream events, get the client's items; `finish()` once upstream ends.

    `settings` gives what a replay of the recorded frames needs to make the same items again
    (the client API's `restore` reads them back); it is called only when they are recorded."""

    def __init__(
        self,
        encoder: Encoder,
        settings: Callable[[], Mapping[str, object]],
        *,
        keep_text: bool = True,
    ) -> None:
        self.finished = False  # the answer is complete: its closing items were produced
        self._encoder = encoder
        self._settings = settings
        self._native = NativeStreamTranslator()
        self._summary = SummaryBuilder(usage_only=not keep_text)
        self._error: ProxyError | None = None  # raised once the items before it are out

    @property
    def request_id(self) -> str | None:
        """DashScope's request id, once a frame has carried it."""
        return self._native.request_id

    def summary(self) -> ExchangeSummary:
        """What the answer was so far, from the events themselves (whether or not the client
        asked for usage, and with the usage DashScope last reported if the stream broke off)."""
        return self._summary.summary(self._native.last_usage)

    def traced(self, clock: Callable[[], float]) -> None:
        """Before the first event: keep everything the summary can hold and time each code run
        by `clock`, for the exchange's telemetry spans."""
        self._summary = SummaryBuilder(clock=clock)

    def settings(self) -> dict[str, object]:
        return dict(self._settings())

    def feed(self, events: list[SSEEvent]) -> list[Item]:
        if self._error is not None:
            raise self._error
        items: list[Item] = []
        for event in events:
            try:
                translated = self._native.feed(event)
            except ProxyError as error:
                if not items:
                    raise
                # Frames before the error came in the same read: their items go out first, the
                # error with the next call, so the output does not depend on how bytes arrive.
                self._error = error
                return items
            for item in translated:
                items.extend(self._emit(item))
        return items

    def finish(self) -> list[Item]:
        """The closing items; raises if the upstream stopped before finishing its answer."""
        if self._error is not None:
            raise self._error
        if self._native.truncated:
            raise UpstreamUnavailable(
                "DashScope's stream ended before the answer was finished",
                code="upstream_truncated",
            )
        items: list[Item] = []
        for translated in self._native.finish():
            items.extend(self._emit(translated))
        items.extend(self._encoder.finish())
        self.finished = True
        return items

    def local_answer(self, text: str) -> list[Item]:
        """A complete answer made by the proxy itself, without DashScope (and without tokens)."""
        items: list[Item] = []
        for event in (ContentDelta(0, text), Finish(0, "stop"), Usage(0, 0, None, None, None)):
            items.extend(self._emit(event))
        items.extend(self._encoder.finish())
        self.finished = True
        return items

    def _emit(self, event: Event) -> list[Item]:
        self._summary.add(event)
        return self._encoder.feed(event)

    def failure(self, error: ProxyError) -> list[Item]:
        """How an error after the first byte travels in-band, as the protocol's clients expect."""
        return self._encoder.fail(error, self._native.last_usage)
