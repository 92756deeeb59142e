"""Native SSE events -> chat.completion.chunk objects: the whole Chat Completions translation.

Pure: the I/O shell feeds decoded upstream events and writes out what comes back.
"""

from __future__ import annotations

from typing import Any

from proxy.chat.code_runs import DEFAULT_FORMAT
from proxy.chat.stream import ChatChunkEncoder, ChunkIdentity
from proxy.core.errors import ProxyError
from proxy.core.translation import Item, Translation


class ChatTranslation(Translation):
    def __init__(
        self, identity: ChunkIdentity, *, include_usage: bool, code_format: str = DEFAULT_FORMAT
    ) -> None:
        super().__init__(
            ChatChunkEncoder(identity, include_usage=include_usage, code_format=code_format)
        )
        self.identity = identity
        self._include_usage = include_usage
        self._code_format = code_format

    @classmethod
    def from_settings(cls, settings: dict[str, Any]) -> ChatTranslation:
        identity = ChunkIdentity(
            id=str(settings["chunk_id"]),
            created=int(settings["created"]),
            model=str(settings["model"]),
            call_id_prefix=str(settings["call_id_prefix"]),
        )
        return cls(
            identity,
            include_usage=bool(settings["include_usage"]),
            code_format=str(settings["code_format"]),
        )

    def settings(self) -> dict[str, Any]:
        identity = self.identity
        return {
            "chunk_id": identity.id,
            "created": identity.created,
            "model": identity.model,
            "call_id_prefix": identity.call_id_prefix,
            "code_format": self._code_format,
            "include_usage": self._include_usage,
        }

    def failure(self, error: ProxyError) -> list[Item]:
        return [error.to_body()]
