"""Which keys a request may use (docs/architecture.md, "Keys").

By default the client's own DashScope key is forwarded (pass-through). With a server key
configured, clients must present one of the proxy keys, and DashScope gets the server key.
"""

from __future__ import annotations

from functools import lru_cache

from starlette.requests import Request

from proxy.config import AuthSettings, Settings
from proxy.core.errors import AuthenticationFailed, InvalidRequest
from proxy.core.key_identity import KeyIdentity, KeyRing


def authorize(request: Request, settings: Settings) -> None:
    """Raise a 401 unless the request may use this proxy."""
    if proxy_keys_required(settings) and key_identity(client_key(request), settings) is None:
        raise AuthenticationFailed(
            "Invalid or missing proxy key: send one of the proxy's keys as "
            "'Authorization: Bearer <key>'."
        )


def proxy_keys_required(settings: Settings) -> bool:
    return bool(settings.upstream.api_key and settings.auth.proxy_keys)


def key_identity(presented: str, settings: Settings) -> KeyIdentity | None:
    """Which proxy key `presented` is (every key compared, in constant time); None when it is
    none of them, or when clients present their own DashScope keys (no proxy keys used)."""
    if not proxy_keys_required(settings):
        return None
    return keyring(settings.auth).identify(presented)


@lru_cache(maxsize=8)
def keyring(auth: AuthSettings) -> KeyRing:
    """The configured keys with their identities, hashed once per settings."""
    return KeyRing(auth.proxy_keys, auth.key_names)


def client_key(request: Request) -> str:
    scheme, _, token = ascii_header(request, "authorization").partition(" ")
    if scheme.lower() == "bearer" and token.strip():
        return token.strip()
    return ascii_header(request, "api-key")


def ascii_header(request: Request, name: str) -> str:
    """A header the proxy sends on to DashScope: HTTP/1.1 carries it only as ASCII, so other
    bytes are the client's mistake (a 400 naming the header), not an upstream failure."""
    value = request.headers.get(name, "")
    if not value.isascii():
        raise InvalidRequest(
            f"The {name} header holds bytes that are not ASCII; keys and forwarded headers "
            "must be ASCII text.",
            param=name,
        )
    return value


def upstream_key(request: Request, settings: Settings) -> str | None:
    """The key to call DashScope with; None when there is none (a 401, once the request is
    known to be otherwise valid)."""
    return settings.upstream.api_key or client_key(request) or None
