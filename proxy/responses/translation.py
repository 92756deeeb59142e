"""Native SSE events -> Responses API stream events: the whole Responses translation (pure).

The same native stream translator as Chat Completions feeds a Responses encoder; only the
items differ.
"""

from __future__ import annotations

from typing import Any

from proxy.core.errors import ProxyError
from proxy.core.translation import Item, Translation
from proxy.responses.stream import ResponseIdentity, ResponsesEventEncoder


class ResponsesTranslation(Translation):
    def __init__(self, identity: ResponseIdentity) -> None:
        self._responses = ResponsesEventEncoder(identity)
        super().__init__(self._responses)
        self.identity = identity

    @classmethod
    def from_settings(cls, settings: dict[str, Any]) -> ResponsesTranslation:
        echo = settings.get("echo")
        return cls(
            ResponseIdentity(
                id=str(settings["response_id"]),
                created_at=int(settings["created"]),
                model=str(settings["model"]),
                item_prefix=str(settings["item_prefix"]),
                echo=echo if isinstance(echo, dict) else {},
            )
        )

    def settings(self) -> dict[str, Any]:
        identity = self.identity
        return {
            "api": "responses",
            "response_id": identity.id,
            "created": identity.created_at,
            "model": identity.model,
            "item_prefix": identity.item_prefix,
            "echo": identity.echo,
        }

    def failure(self, error: ProxyError) -> list[Item]:
        return self._responses.fail(
            error.code or error.type, error.message, self._native.last_usage
        )
