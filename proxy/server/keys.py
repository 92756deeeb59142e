"""Which keys a request may use (docs/architecture.md, "Keys").

By default the client's own DashScope key is forwarded (pass-through). With a server key
configured, clients must present one of the proxy keys, and DashScope gets the server key.
"""

from __future__ import annotations

import hmac

from starlette.requests import Request

from proxy.config import Settings
from proxy.core.errors import AuthenticationFailed


def authorize(request: Request, settings: Settings) -> None:
    """Raise a 401 unless the request may use this proxy."""
    keys = settings.auth.proxy_keys
    if not settings.upstream.api_key or not keys:
        return
    presented = client_key(request).encode()
    # Compare with every key, without stopping early, so timing tells nothing.
    matched = [hmac.compare_digest(presented, key.encode()) for key in keys]
    if not any(matched):
        raise AuthenticationFailed(
            "Invalid or missing proxy key: send one of the proxy's keys as "
            "'Authorization: Bearer <key>'."
        )


def client_key(request: Request) -> str:
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() == "bearer" and token.strip():
        return token.strip()
    return request.headers.get("api-key", "")


def upstream_key(request: Request, settings: Settings) -> str | None:
    """The key to call DashScope with; None when there is none (a 401, once the request is
    known to be otherwise valid)."""
    return settings.upstream.api_key or client_key(request) or None
