"""One exchange, from the client's body to its traffic record, for either client API.

The I/O around the pure translation: it opens the upstream stream, waits for the first frame
before committing to a 200, then either streams encoded items or folds them, and in every
outcome (success, error, client gone) hands one record to the traffic writer. What differs
between Chat Completions and the Responses API is data (`proxy/apis.py`). Framework-free:
`proxy/app.py` wraps the results into Starlette responses.
"""

from __future__ import annotations

import asyncio
import json
import logging
import random
import time
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any

import anyio
import orjson

from proxy.chat.request import TranslationOptions, UpstreamPlan
from proxy.core.errors import (
    InvalidRequest,
    ProxyError,
    Unavailable,
    UpstreamTimeout,
    error_headers,
)
from proxy.core.retry import RetryPolicy, retry_delay
from proxy.core.sse import KEEPALIVE, SSEEvent
from proxy.core.translation import Item, Translation
from proxy.server.apis import Api
from proxy.server.heartbeat import Stopped, with_heartbeat
from proxy.server.lifecycle import Lifecycle
from proxy.server.upstream import UpstreamClient, UpstreamStream
from proxy.traffic.record import ExchangeRecorder

log = logging.getLogger("proxy")


@dataclass(slots=True)
class Reply:
    """What to answer: a stream of bytes, or a JSON body, with headers and status."""

    headers: dict[str, str]
    status: int = 200
    body: Any = None  # a JSON-able object, for non-stream replies and errors
    stream: AsyncIterator[bytes] | None = None


@dataclass(slots=True)
class Services:
    """What every exchange of one app shares."""

    upstream: UpstreamClient
    lifecycle: Lifecycle
    retry: RetryPolicy
    keepalive: float
    total_timeout: float
    # Gets every finished record (traffic log, metrics, app log) with the secrets to mask.
    on_end: Callable[[dict[str, Any], tuple[str, ...]], None]
    on_retry: Callable[[], None] = lambda: None


class Exchange:
    def __init__(
        self,
        services: Services,
        api: Api,
        *,
        options: TranslationOptions,
        recorder: ExchangeRecorder,
        client_key: str,
        forward_headers: dict[str, str] | None = None,
    ) -> None:
        self.id = recorder.exchange_id
        self._services = services
        self._api = api
        self._options = options
        self._recorder = recorder
        self._client_key = client_key
        self._forward = forward_headers or {}
        self._headers = {"x-proxy-request-id": self.id}
        self._translation: Translation | None = None
        self._stream: UpstreamStream | None = None
        self._admitted = False
        self._recorded = False
        self._deadline = time.monotonic() + services.total_timeout

    async def run(self, raw_body: bytes, upstream_key: Callable[[], str]) -> Reply:
        """Everything up to the first byte. Errors become replies with their status, recorded."""
        try:
            return await self._start(raw_body, upstream_key)
        except ProxyError as error:
            reply = self._error_reply(error)  # before closing: it reads the upstream request id
            await self._close()
            return reply
        except anyio.get_cancelled_exc_class():
            await self._close()
            self._record(status=499, outcome="cancelled")  # the client left before an answer
            raise
        except BaseException:
            await self._close()
            self._record(status=500, outcome="error", error=ProxyError("internal error"))
            raise

    async def _start(self, raw_body: bytes, upstream_key: Callable[[], str]) -> Reply:
        self._services.lifecycle.acquire()
        self._admitted = True
        body = _json(raw_body)
        self._recorder.request(body)
        plan = self._api.translate(body, self._options)
        key = upstream_key()
        translation = self._translation = self._api.translation(self.id, plan, int(time.time()))
        self._plan(plan, translation)
        if plan.local_answer is not None:
            # Only results for the proxy's own calls came in: answering here ends agent loops
            # and never runs code again.
            return self._reply(plan, translation.local_answer(plan.local_answer), None, "local")
        first, chunks = await self._first_frame(plan, key, translation)
        self._recorder.upstream_request_id(translation.request_id or self._stream_request_id())
        rest = self._rest(plan.stream) if first else None
        if plan.stream:
            return self._reply(plan, chunks, rest, "ok")
        try:
            async for batch in rest or _nothing():
                chunks.extend(batch or ())
        finally:
            await self._close()
        return self._reply(plan, chunks, None, "ok")

    async def _first_frame(
        self, plan: UpstreamPlan, key: str, translation: Translation
    ) -> tuple[list[SSEEvent], list[Item]]:
        """Open the upstream stream and translate its first frame, retrying what may succeed.

        Commit to a 200 only once the first frame is in and translated: DashScope reports many
        request errors as an `event:error` frame on an HTTP 200. Nothing has reached the
        client yet, so a retry cannot duplicate output, and no code has run.
        """
        started, attempt = time.monotonic(), 0
        while True:
            attempt += 1
            try:
                self._stream = await self._services.upstream.open(
                    plan.path, plan.body, key, self._forward
                )
                first = await self._stream.first_events()
                # An error frame first raises here before the translation changes state.
                chunks = translation.feed(first) if first else translation.finish()
            except ProxyError as error:
                delay = retry_delay(
                    self._services.retry,
                    error,
                    attempt=attempt,
                    elapsed=time.monotonic() - started,
                    jitter=random.random(),
                )
                if delay is None:
                    raise
                await self._close()
                self._services.on_retry()
                await anyio.sleep(delay)
                continue
            self._recorder.frames(first)
            self._recorder.chunks(chunks)
            return first, chunks

    def _stream_request_id(self) -> str | None:
        return self._stream.request_id if self._stream else None

    def _plan(self, plan: UpstreamPlan, translation: Translation) -> None:
        if plan.notes:
            self._headers["x-dashscope-proxy-notes"] = header_text("; ".join(plan.notes))
        local = plan.local_answer is not None
        self._recorder.plan(
            upstream=None if local else {"path": plan.path, "body": plan.body},
            notes=plan.notes,
            translation=translation.settings(),
        )

    def _reply(
        self,
        plan: UpstreamPlan,
        chunks: list[Item],
        rest: AsyncIterator[list[Item] | None] | None,
        outcome: str,
    ) -> Reply:
        self._with_request_id()
        if outcome == "local":  # upstream chunks were recorded as they were translated
            self._recorder.chunks(chunks)
        if plan.stream:
            return Reply(self._headers, stream=self._body(chunks, rest, outcome))
        body = self._api.reply(chunks)
        self._recorder.first_byte()
        self._record(status=200, outcome=outcome)
        return Reply(self._headers, body=body)

    def _feed(self, events: list[SSEEvent]) -> list[Item]:
        assert self._translation is not None
        self._recorder.frames(events)
        chunks = self._translation.feed(events)
        self._recorder.chunks(chunks)
        return chunks

    def _finish_translation(self) -> list[Item]:
        assert self._translation is not None
        chunks = self._translation.finish()
        self._recorder.chunks(chunks)
        return chunks

    async def _rest(self, stream_mode: bool) -> AsyncIterator[list[Item] | None]:
        """The chunks of the frames after the first, then the closing ones; None while the
        upstream is silent for the keep-alive interval. Ends early, with an error, at the
        exchange's total deadline or when a shutdown's drain time is over."""
        assert self._stream is not None
        services = self._services
        interval = services.keepalive if stream_mode else 0
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        deadline = loop.call_later(max(0.0, self._deadline - time.monotonic()), stop.set)
        drained = services.lifecycle.expired
        watch = asyncio.ensure_future(drained.wait()) if drained is not None else None
        if watch is not None:
            watch.add_done_callback(lambda _: stop.set())
        try:
            async for events in with_heartbeat(self._stream.events(), interval, stop=stop):
                yield None if events is None else self._feed(events)
        except Stopped:
            if time.monotonic() >= self._deadline:
                raise UpstreamTimeout(
                    f"the exchange took longer than {services.total_timeout:g} s",
                    code="total_timeout",
                ) from None
            raise Unavailable(
                "The proxy is shutting down and its drain time is over; the answer was cut short.",
                code="draining",
            ) from None
        finally:
            deadline.cancel()
            if watch is not None:
                watch.cancel()
        yield self._finish_translation()

    async def _body(
        self,
        chunks: list[Item],
        rest: AsyncIterator[list[Item] | None] | None,
        outcome: str,
    ) -> AsyncIterator[bytes]:
        error: ProxyError | None = None
        encode = self._api.encode
        try:
            self._recorder.first_byte()
            # One write per upstream read, not per item: each write is a send() to the client,
            # and the send()s were the largest cost of a stream (docs/benchmarks.md).
            if chunks:
                yield b"".join([encode(chunk) for chunk in chunks])
            async for batch in rest or _nothing():
                if batch is None:
                    yield KEEPALIVE
                elif batch:
                    yield b"".join([encode(chunk) for chunk in batch])
        except ProxyError as exc:
            # After the first byte an error can only travel in-band, as OpenAI clients expect it.
            error = exc
            yield b"".join([encode(item) for item in self._failure(exc)])
        except Exception:
            log.exception("stream translation failed")
            error = ProxyError("internal error in the proxy")
            yield b"".join([encode(item) for item in self._failure(error)])
        finally:
            await self._close()
            # Neither an error nor a finished translation: the client went away mid-stream.
            finished = self._translation is not None and self._translation.finished
            ended = "error" if error else (outcome if finished else "cancelled")
            self._record(status=200, outcome=ended, error=error)
        if self._api.trailer:
            yield self._api.trailer

    def _failure(self, error: ProxyError) -> list[Item]:
        assert self._translation is not None
        return self._translation.failure(error)

    def _error_reply(self, error: ProxyError) -> Reply:
        self._with_request_id(getattr(error, "request_id", None))
        headers = {**self._headers, **error_headers(error)}
        self._record(status=error.status, outcome="error", error=error)
        return Reply(headers, status=error.status, body=error.to_body())

    def _with_request_id(self, fallback: str | None = None) -> None:
        translation, stream = self._translation, self._stream
        request_id = (translation.request_id if translation else None) or (
            stream.request_id if stream else None
        )
        request_id = request_id or fallback
        if request_id:
            self._headers["x-request-id"] = self._headers["x-dashscope-request-id"] = request_id
            self._recorder.upstream_request_id(request_id)

    def _record(self, *, status: int, outcome: str, error: ProxyError | None = None) -> None:
        """The one end of every exchange: its record goes out and its slot is freed."""
        if self._recorded:
            return
        self._recorded = True
        if self._admitted:
            self._services.lifecycle.release()
        translation = self._translation
        record = self._recorder.finish(
            status=status,
            outcome=outcome,
            error=error,
            code_runs=translation.code_runs if translation else [],
            usage=translation.usage if translation else None,
        )
        self._services.on_end(record, (self._client_key,))

    async def _close(self) -> None:
        stream, self._stream = self._stream, None
        if stream is not None:
            # On a client disconnect the surrounding scope is cancelled, and anyio would cancel
            # this await too; shielding it makes sure the upstream connection is released.
            with anyio.CancelScope(shield=True):
                await stream.aclose()


def header_text(text: str, limit: int = 4000) -> str:
    """`text` safe for an HTTP header: notes quote client-chosen names, which may hold CR/LF
    (header injection) or characters a header cannot carry; both are escaped as in JSON."""
    return json.dumps(text[:limit], ensure_ascii=True)[1:-1]


def new_exchange_id() -> str:
    return uuid.uuid4().hex


def _json(raw: bytes) -> Any:
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise InvalidRequest(f"The request body is not valid JSON: {exc}") from None


async def _nothing() -> AsyncIterator[Any]:
    return
    yield
