"""Who may read the pages, and the headers every response carries.

With a token, a request must carry it: `Authorization: Bearer TOKEN`, or the cookie a visit to
any page with `?token=TOKEN` sets (the browser is then sent to the same page without the token
in its address). Tokens are compared in constant time. Without a token the server listens on
loopback only, and the Host header must name loopback too: a web page elsewhere cannot use DNS
rebinding to read the log through the user's browser.
"""

from __future__ import annotations

import hmac
import ipaddress
from urllib.parse import urlencode

from starlette.requests import Request
from starlette.responses import PlainTextResponse, RedirectResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

COOKIE = "dashscope_proxy_logs_token"
SECURITY_HEADERS = {
    "content-security-policy": (
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; "
        "connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'"
    ),
    "x-content-type-options": "nosniff",
    "x-frame-options": "DENY",
    "referrer-policy": "no-referrer",
    "cache-control": "no-store",
}
_LOOPBACK_NAMES = frozenset({"localhost", "127.0.0.1", "[::1]", "::1"})


def is_loopback_host(header: str) -> bool:
    """Whether a Host header (name or address, with or without a port) names loopback."""
    name = header.strip().lower()
    if name.startswith("["):
        name = name[: name.find("]") + 1] if "]" in name else name
    elif name.count(":") == 1:
        name = name.split(":", 1)[0]
    if name in _LOOPBACK_NAMES or name.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(name.strip("[]")).is_loopback
    except ValueError:
        return False


def same_token(given: str | None, token: str) -> bool:
    return given is not None and hmac.compare_digest(given.encode(), token.encode())


class Guard:
    """ASGI middleware: refuses what may not read, adds `SECURITY_HEADERS` to every answer."""

    def __init__(self, app: ASGIApp, token: str | None) -> None:
        self._app = app
        self._token = token

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self._app(scope, receive, send)
            return

        async def send_secured(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = [(k, v) for k, v in message.get("headers", [])]
                headers += [(k.encode(), v.encode()) for k, v in SECURITY_HEADERS.items()]
                message = {**message, "headers": headers}
            await send(message)

        refusal = self._refusal(Request(scope))
        if refusal is not None:
            await refusal(scope, receive, send_secured)
        else:
            await self._app(scope, receive, send_secured)

    def _refusal(self, request: Request) -> Response | None:
        if self._token is None:
            if is_loopback_host(request.headers.get("host", "")):
                return None
            return PlainTextResponse("this page answers on localhost only\n", status_code=421)
        offered = request.query_params.get("token")
        if offered is not None and same_token(offered, self._token):
            return _login(request, self._token)
        authorization = request.headers.get("authorization", "")
        bearer = authorization[7:] if authorization.lower().startswith("bearer ") else None
        if same_token(bearer, self._token) or same_token(request.cookies.get(COOKIE), self._token):
            return None
        return PlainTextResponse(
            "a token is needed: open this address with ?token=TOKEN once "
            "(the one `logs web --token` was given), or send Authorization: Bearer TOKEN\n",
            status_code=401,
            headers={"www-authenticate": "Bearer"},
        )


def _login(request: Request, token: str) -> Response:
    """The same address without the token, with the cookie that stands for it."""
    rest = [(k, v) for k, v in request.query_params.multi_items() if k != "token"]
    target = request.url.path + ("?" + urlencode(rest) if rest else "")
    response = RedirectResponse(target, status_code=303)
    response.set_cookie(COOKIE, token, httponly=True, samesite="strict", path="/")
    return response
