"""The exchange routes' own lane through the app: a POST to a chat-completions or responses
path goes from the app's entry (`ProxyApp.__call__`) straight to its handler, counted there.

Starlette would take it through its error middleware, the counting middleware, its exception
middleware, router, route and request wrapper first, each a coroutine frame (some with a
wrapper around `send`) held for the whole stream and a call around every chunk sent: about
6 KB per open stream and a tenth of a request's CPU (docs/benchmarks.md). The lane does what
they did for these routes: it sets the route and the path parameters, turns an error into the
OpenAI-shaped answer the app's handlers make, and counts the response (observe.py); the
handler runs in the request's trace context when telemetry is on (telemetry.TraceHeaders).
Every other request goes the usual way.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Awaitable, Callable
from typing import Any, Protocol

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from starlette.types import Receive, Scope, Send

from proxy.core.errors import ProxyError
from proxy.server.applog import Throttle
from proxy.server.metrics import Metrics
from proxy.server.observe import Observed, begin_notes, count_response
from proxy.server.telemetry import trace_headers

log = logging.getLogger("proxy")


class Answer(Protocol):
    """What a handler of the lane returns: a Starlette response or an event_stream.EventStream."""

    status_code: int

    def __call__(self, scope: Scope, receive: Receive, send: Send) -> Awaitable[None]: ...


Endpoint = Callable[[Request], Awaitable[Answer]]
ErrorAnswer = Callable[[ProxyError], Response]


class ExchangeLane:
    """The exchange routes, and how their handlers' answers and errors are made and counted."""

    def __init__(
        self,
        routes: list[Route],
        error_response: ErrorAnswer,
        metrics: Metrics,
        throttle: Throttle | None = None,
        *,
        tracing: bool = False,
    ) -> None:
        self._error_response = error_response
        self._metrics = metrics
        self._throttle = throttle
        self._tracing = tracing  # telemetry is on: handlers run in the trace context
        # Exact paths first (one dict lookup), then the /ci/<format>/ ones.
        self._exact: dict[str, Route] = {}
        self._patterns: list[tuple[re.Pattern[str], Route]] = []
        for route in routes:
            if "POST" not in (route.methods or ()):
                continue
            if "{" in route.path:
                self._patterns.append((route.path_regex, route))
            else:
                self._exact[route.path] = route

    def takes(self, scope: Scope) -> bool:
        """Whether the request is the lane's; if so, its route and path parameters are set."""
        if scope["type"] != "http" or scope["method"] != "POST":
            return False
        path: str = scope["path"]
        route = self._exact.get(path)
        if route is not None:
            scope["route"], scope["path_params"] = route, {}
            return True
        for pattern, candidate in self._patterns:
            match = pattern.match(path)
            if match is not None:
                scope["route"], scope["path_params"] = candidate, match.groupdict()
                return True
        return False

    async def answer(self, scope: Scope, receive: Receive) -> Answer:
        """The handler's answer to a request `takes` said is the lane's, or its error's."""
        endpoint: Endpoint = scope["route"].endpoint
        try:
            if not self._tracing:
                return await endpoint(Request(scope, receive))
            with trace_headers(scope):
                return await endpoint(Request(scope, receive))
        except ProxyError as error:
            return self._error_response(error)
        except Exception as exc:
            log.error("unexpected error on %s", scope["path"], exc_info=exc)
            return self._error_response(ProxyError("internal error in the proxy"))

    def count(self, scope: Scope, notes: Observed, status: int) -> None:
        count_response(self._metrics, self._throttle, scope, notes, status)


class ProxyApp(Starlette):
    """The Starlette app with the exchange lane in front: its requests skip Starlette's own
    layers, and the lane's flow runs in this one frame, the only one of the app's (besides
    the answer's) a stream holds."""

    def __init__(self, *, lane: ExchangeLane, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._lane = lane

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        lane = self._lane
        if not lane.takes(scope):
            await super().__call__(scope, receive, send)
            return
        scope["app"] = self  # as Starlette would set it
        notes = begin_notes(scope)
        status = 500  # what the server answers if the answer raises before it starts
        try:
            response = await lane.answer(scope, receive)
            status = response.status_code  # an answer's first message is its start
            scope["headers"] = ()  # read by the handler: not held for the stream's life
            await response(scope, receive, send)
        finally:
            lane.count(scope, notes, status)
