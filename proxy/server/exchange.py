"""One exchange, from the client's body to its traffic record, for either client API.

The story of an exchange: take a slot (lifecycle), parse and translate the request, open the
upstream stream and wait for its first frame (attempts.py, which retries), then either stream
the encoded items (stream_body.py) or fold them into one body, and in every outcome (success,
error, client gone) hand one record to `Services.on_end` and free the slot. What differs
between Chat Completions and the Responses API is the `Api` (proxy/traffic/apis.py). Framework-free:
app.py wraps the replies into Starlette responses.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable
from typing import Any

import orjson

from proxy.core.errors import (
    InvalidRequest,
    ProxyError,
    Unavailable,
    UpstreamTimeout,
    error_headers,
)
from proxy.core.plan import TranslationOptions, UpstreamPlan
from proxy.core.sse import SSEEvent
from proxy.core.summary import EMPTY_SUMMARY
from proxy.core.translation import Item, Translation
from proxy.server.attempts import Deadline, UpstreamAttempts, UpstreamCall
from proxy.server.services import Caller, Reply, Services
from proxy.server.stream_body import StreamedBody
from proxy.server.upstream_stream import WAIT, Stopped, Wait
from proxy.traffic.apis import Api
from proxy.traffic.record import ExchangeRecorder
from proxy.traffic.record_shape import Outcome

# Bodies from this size on are parsed and translated on a worker thread. orjson holds the GIL
# while it parses (tens of ms for 10 MB), but the translation is Python code the loop can
# interleave with; below it, a thread hop would cost more than it saves (`python -m
# bench.parse_stall`, docs/operations.md "Capacity").
OFF_LOOP_BYTES = 512 * 1024


class Exchange:
    # Slots: an exchange lives as long as its stream.
    __slots__ = (
        "_admitted",
        "_api",
        "_caller",
        "_deadline",
        "_headers",
        "_interval",
        "_key",
        "_options",
        "_outcome",
        "_recorded",
        "_recorder",
        "_rest_over",
        "_services",
        "_trace",
        "_translation",
        "_upstream",
        "_watching",
        "id",
        "model",
    )

    def __init__(
        self,
        services: Services,
        api: Api,
        *,
        options: TranslationOptions,
        recorder: ExchangeRecorder,
        caller: Caller,
    ) -> None:
        self.id = recorder.exchange_id
        self.model: object = None  # the request's `model`, once parsed (for metrics)
        self._services = services
        self._api = api
        self._options = options
        self._recorder = recorder
        self._caller = caller
        self._key = services.identify(caller.client_key)
        self._headers = {"x-proxy-request-id": self.id}
        self._translation: Translation | None = None
        self._upstream = UpstreamAttempts(services.upstream, services.retry, services.on_retry)
        self._admitted = False
        self._recorded = False
        # How a stream that finishes ended: "ok", or "local" (no upstream).
        self._outcome: Outcome = "ok"
        self._deadline = time.monotonic() + services.total_timeout
        self._trace = services.telemetry.begin() if services.telemetry else None
        # The frames after the first, polled by the body (`poll`).
        self._interval = 0.0  # seconds of silence before a keep-alive (0: none)
        self._watching = False  # the deadline and the drain's end are watched
        self._rest_over = False  # the closing items went out

    async def run(self, raw_body: bytes) -> Reply:
        """Everything up to the first byte. Errors become replies with their status, recorded."""
        try:
            return await self._start(raw_body)
        except ProxyError as error:
            reply = self._error_reply(error)  # before closing: it reads the upstream request id
            self._upstream.close()
            return reply
        except asyncio.CancelledError:
            self._upstream.close()
            self._record(status=499, outcome="cancelled")  # the client left before an answer
            raise
        except BaseException:
            self._upstream.close()
            self._record(status=500, outcome="error", error=ProxyError("internal error"))
            raise

    async def _start(self, raw_body: bytes) -> Reply:
        off_loop = len(raw_body) >= OFF_LOOP_BYTES
        body = await asyncio.to_thread(_json, raw_body) if off_loop else _json(raw_body)
        self.model = body.get("model") if isinstance(body, dict) else None
        # Before admission: a 503 (too many streams, draining) is recorded with its model.
        self._recorder.request(body)
        self._services.lifecycle.acquire()
        self._admitted = True
        translate = self._api.translate
        plan = (
            await asyncio.to_thread(translate, body, self._options)
            if off_loop
            else translate(body, self._options)
        )
        key = self._caller.upstream_key
        translation = self._translation = self._api.translation(
            self.id, plan, int(time.time()), keep_text=self._recorder.keeps_text
        )
        if self._trace is not None:
            translation.traced(self._trace.clock)
        self._plan(plan, translation)
        if plan.local_answer is not None:
            # Only results for the proxy's own calls came in: answering here ends agent loops
            # and never runs code again.
            self._rest_over = True
            return self._reply(plan, translation.local_answer(plan.local_answer), "local")
        call = UpstreamCall(plan.path, plan.body, key, self._caller.forward_headers)
        if self._trace is not None:
            self._trace.upstream()
        deadline = Deadline(self._deadline, self._total_timeout)
        first, chunks = await self._upstream.first_frame(call, self._first_items, deadline)
        self._recorder.chunks(chunks)
        self._recorder.upstream_request_id(translation.request_id or self._upstream.request_id)
        self._interval = self._services.keepalive if plan.stream else 0
        self._rest_over = not first
        if plan.stream:
            return self._reply(plan, chunks, "ok")
        try:
            while not self._rest_over:
                batch = self.poll()
                if batch is WAIT:
                    await self.sleep()
                else:
                    chunks.extend(batch or ())
        finally:
            self._unwatch()
            self._upstream.close()
        return self._reply(plan, chunks, "ok")

    def _first_items(self, first: list[SSEEvent]) -> list[Item]:
        # An error frame first raises here before the translation changes state.
        assert self._translation is not None
        self._recorder.first_frames(first)  # an error frame too: `logs replay` needs it
        return self._translation.feed(first) if first else self._translation.finish()

    def _plan(self, plan: UpstreamPlan[Any], translation: Translation) -> None:
        if plan.notes:
            self._headers["x-dashscope-proxy-notes"] = header_text("; ".join(plan.notes))
        local = plan.local_answer is not None
        self._recorder.plan(
            upstream=None if local else {"path": plan.path, "body": plan.body},
            notes=plan.notes,
            translation=translation.settings() if self._recorder.bodies else {},
        )

    def _reply(self, plan: UpstreamPlan[Any], chunks: list[Item], outcome: Outcome) -> Reply:
        self._with_request_id()
        if outcome == "local":  # upstream chunks were recorded as they were translated
            self._recorder.chunks(chunks)
        if plan.stream:
            self._outcome = outcome
            body = StreamedBody(self, chunks, encode=self._api.encode, trailer=self._api.trailer)
            return Reply(self._headers, stream=body)
        reply = self._api.reply(chunks)
        self._recorder.first_byte()
        self._record(status=200, outcome=outcome)
        return Reply(self._headers, body=reply)

    # The frames after the first, polled by the stream body (stream_body.StreamedBody) or, for
    # a non-stream answer, by `_start`: a method called per batch, nothing held between them.

    @property
    def rest_over(self) -> bool:
        """The closing items went out (or there were no frames after the first)."""
        return self._rest_over

    def poll(self) -> list[Item] | Wait | None:
        """The items of the frames that came since the last call, with the closing ones once
        the upstream stream is over (then `rest_over`); None when a keep-alive is due; WAIT
        when nothing is (`wait` or `sleep`, then poll again). Raises at the exchange's total
        deadline or when a shutdown's drain time is over."""
        stream, translation = self._upstream.stream, self._translation
        assert stream is not None
        assert translation is not None
        if not self._watching:
            self._watching = True
            stream.stop_in(self._deadline - time.monotonic())
            self._services.lifecycle.on_expired(stream.stop)
        try:
            events = stream.poll(self._interval)
        except Stopped as stop:
            raise self._stopped(stop) from None
        if events is WAIT or events is None:
            return events
        chunks = self._translate(translation, events) if events else []
        if stream.over:
            try:
                closing = translation.finish()
            except ProxyError:
                if not chunks:
                    raise
                # The items before the error go out first; `finish` raises again next time.
                return chunks
            self._rest_over = True
            self._unwatch()
            self._recorder.chunks(closing)
            chunks += closing
        return chunks

    def wait(self, ready: Callable[[], None]) -> None:
        """After a WAIT: call `ready` once something may be due (upstream_stream.notify)."""
        stream = self._upstream.stream
        assert stream is not None
        stream.notify(ready)

    def sleep(self) -> asyncio.Future[None]:
        """After a WAIT: done once something may be due."""
        stream = self._upstream.stream
        assert stream is not None
        return stream.sleep()

    def _unwatch(self) -> None:
        stream = self._upstream.stream
        if self._watching and stream is not None:
            self._watching = False
            self._services.lifecycle.forget(stream.stop)

    def _translate(self, translation: Translation, events: list[SSEEvent]) -> list[Item]:
        self._recorder.frames(events)
        chunks = translation.feed(events)
        self._recorder.chunks(chunks)
        return chunks

    def _stopped(self, stop: Stopped) -> ProxyError:
        if not stop.called or time.monotonic() >= self._deadline:
            return self._total_timeout()
        return Unavailable(
            "The proxy is shutting down and its drain time is over; the answer was cut short.",
            code="draining",
        )

    def _total_timeout(self) -> ProxyError:
        return UpstreamTimeout(
            f"the exchange took longer than {self._services.total_timeout:g} s",
            code="total_timeout",
        )

    # The stream body's owner (stream_body.StreamOwner).

    def started(self) -> None:
        self._recorder.first_byte()

    def failure(self, error: ProxyError) -> list[Item]:
        assert self._translation is not None
        return self._translation.failure(self._masked(error))

    def ended(self, error: ProxyError | None) -> None:
        self._unwatch()
        self._upstream.close()
        # Neither an error nor a finished translation: the client went away mid-stream.
        finished = self._translation is not None and self._translation.finished
        ended: Outcome = "error" if error else (self._outcome if finished else "cancelled")
        self._record(status=200, outcome=ended, error=error)

    # Recording and headers.

    def _error_reply(self, error: ProxyError) -> Reply:
        self._with_request_id(error.request_id)
        headers = {**self._headers, **error_headers(error)}
        self._record(status=error.status, outcome="error", error=error)
        return Reply(headers, status=error.status, body=self._masked(error).to_body())

    def _masked(self, error: ProxyError) -> ProxyError:
        caller = self._caller
        secrets = (caller.client_key, caller.upstream_key)
        return error.masked(lambda text: str(self._services.redactor.redact(text, secrets)))

    def _with_request_id(self, fallback: str | None = None) -> None:
        translation = self._translation
        request_id = (
            (translation.request_id if translation else None)
            or self._upstream.request_id
            or fallback
        )
        if request_id:
            self._headers["x-request-id"] = self._headers["x-dashscope-request-id"] = request_id
            self._recorder.upstream_request_id(request_id)

    def _record(self, *, status: int, outcome: Outcome, error: ProxyError | None = None) -> None:
        """The one end of every exchange: its record goes out and its slot is freed."""
        if self._recorded:
            return
        self._recorded = True
        translation = self._translation
        try:
            finished = self._recorder.finish(
                status=status,
                outcome=outcome,
                error=error,
                summary=translation.summary() if translation else EMPTY_SUMMARY,
                key=self._key,
                pricing=self._services.pricing,
            )
            self._services.on_end(finished, (self._caller.client_key,))
            if self._trace is not None:
                self._trace.end(
                    finished, (self._caller.client_key, self._caller.upstream_key or "")
                )
        finally:
            # After the record is out: a drain that sees no exchange left has every record.
            if self._admitted:
                self._services.lifecycle.release()


def header_text(text: str, limit: int = 4000) -> str:
    """`text` safe for an HTTP header: notes quote client-chosen names, which may hold CR/LF
    (header injection) or characters a header cannot carry; both are escaped as in JSON."""
    return json.dumps(text[:limit], ensure_ascii=True)[1:-1]


def _json(raw: bytes) -> Any:
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise InvalidRequest(f"The request body is not valid JSON: {exc}") from None
