"""The one place every response is counted and logged, whatever route answered and however.

A pure ASGI middleware around the routes (and `count_response` in the exchange routes' lane,
lane.py, which passes it by): a 401 before an exchange starts, a 413 while the body is read, a
404 for an unknown path and a stream that ended are all counted once, by route template (never
the raw path, which the client chooses). An exchange writes its own app-log line from its
record; the other responses get a short line here. Refusals anyone can provoke (401, 404, 405,
408, 413) are counted each, but their lines are rate-limited (applog.py).
"""

from __future__ import annotations

from dataclasses import dataclass

from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from proxy.server.applog import Throttle, log_route
from proxy.server.metrics import OTHER, Metrics

_SCOPE_KEY = "dashscope_proxy.observed"
# Probes and scrapes come every few seconds; counting them is cheap, logging them is noise.
_QUIET = frozenset({"/healthz", "/readyz", "/metrics"})


@dataclass(slots=True)
class Observed:
    """What a route handler tells the counter about its request."""

    model: object = None  # the request's `model`, once the body was read
    logged: bool = False  # the exchange wrote its own app-log line


def begin_notes(scope: Scope) -> Observed:
    """The request's notes, fresh: a route handler fills them in for the counter."""
    notes = scope[_SCOPE_KEY] = Observed()
    return notes


def observed(request: Request) -> Observed:
    """The request's notes for the counter (a fresh one when no counter wraps the app)."""
    notes = request.scope.get(_SCOPE_KEY)
    if not isinstance(notes, Observed):
        notes = request.scope[_SCOPE_KEY] = Observed()
    return notes


class ResponseCounter:
    def __init__(self, app: ASGIApp, metrics: Metrics, throttle: Throttle | None = None) -> None:
        self.app = app
        self.metrics = metrics
        self.throttle = throttle  # refusals' lines (401, 404, ...) are rate-limited

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        notes = begin_notes(scope)
        status = 500  # what the server answers if the app raises before it starts a response

        async def watch(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, watch)
        finally:
            count_response(self.metrics, self.throttle, scope, notes, status)


def count_response(
    metrics: Metrics, throttle: Throttle | None, scope: Scope, notes: Observed, status: int
) -> None:
    """The one count (and, unless the exchange logged itself, log line) of a response."""
    route = _route_template(scope)
    metrics.response(route, notes.model, status)
    if not notes.logged and route not in _QUIET:
        log_route(route, status, throttle)


def _route_template(scope: Scope) -> str:
    path = getattr(scope.get("route"), "path", None)
    return path if isinstance(path, str) else OTHER
