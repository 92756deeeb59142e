"""The client-facing APIs the proxy serves, by the name their traffic records give.

What differs between Chat Completions and the Responses API is one class each
(`proxy/chat/api.py`, `proxy/responses/api.py`); the exchange (`proxy/server/exchange.py`) and
the replay (`proxy/inspect/replay.py`) do everything else the same way for both
(docs/architecture.md).
"""

from __future__ import annotations

from collections.abc import Mapping

from proxy.chat.api import CHAT_COMPLETIONS
from proxy.core.client_api import ClientApi
from proxy.responses.api import RESPONSES_API

Api = ClientApi
CHAT: Api = CHAT_COMPLETIONS
RESPONSES: Api = RESPONSES_API
_BY_NAME: dict[str, Api] = {api.name: api for api in (CHAT, RESPONSES)}


class UnknownApi(ValueError):
    """A record's settings name an API this proxy does not serve."""


def api_of(settings: Mapping[str, object]) -> Api:
    """The API a recorded exchange was served with, from its `translation` settings."""
    # Chat records made before chat's settings named their API have no `api` key, and only
    # chat ever recorded without one: a missing key means chat, on purpose.
    name = settings.get("api", CHAT.name)
    api = _BY_NAME.get(name) if isinstance(name, str) else None
    if api is None:
        raise UnknownApi(f"the record names an API this proxy does not serve: {name!r}")
    return api
