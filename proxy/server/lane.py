"""The exchange routes' own lane through the app: a POST to a chat-completions or responses
path goes from the counting middleware straight to its handler.

Starlette would take it through its exception middleware, router, route and request wrapper
first, each a coroutine frame held for the whole stream and a wrapper around every chunk sent:
about 5 KB per open stream and a tenth of a request's CPU (docs/benchmarks.md). The lane does
what they did for these routes: it sets the route (for the counter's label) and the path
parameters, and turns an error into the OpenAI-shaped answer the app's handlers make. Every
other request goes the usual way.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Awaitable, Callable

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from starlette.types import ASGIApp, Receive, Scope, Send

from proxy.core.errors import ProxyError

log = logging.getLogger("proxy")

Endpoint = Callable[[Request], Awaitable[Callable[[Scope, Receive, Send], Awaitable[None]]]]
ErrorAnswer = Callable[[ProxyError], Response]


class ExchangeLane:
    def __init__(self, app: ASGIApp, routes: list[Route], error_response: ErrorAnswer) -> None:
        self.app = app
        self._error_response = error_response
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

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        route = self._route(scope) if scope["type"] == "http" else None
        if route is None:
            await self.app(scope, receive, send)
            return
        endpoint: Endpoint = route.endpoint
        try:
            response = await endpoint(Request(scope, receive))
        except ProxyError as error:
            response = self._error_response(error)
        except Exception as exc:
            log.error("unexpected error on %s", scope["path"], exc_info=exc)
            response = self._error_response(ProxyError("internal error in the proxy"))
        await response(scope, receive, send)

    def _route(self, scope: Scope) -> Route | None:
        if scope["method"] != "POST":
            return None
        path: str = scope["path"]
        route = self._exact.get(path)
        if route is not None:
            scope["route"], scope["path_params"] = route, {}
            return route
        for pattern, candidate in self._patterns:
            match = pattern.match(path)
            if match is not None:
                scope["route"], scope["path_params"] = candidate, match.groupdict()
                return candidate
        return None
