"""Native SSE events -> chat.completion.chunk objects: the whole Chat Completions translation.

Pure: the I/O shell feeds decoded upstream events and writes out what comes back.
"""

from __future__ import annotations

from typing import Any

from proxy.chat_stream import ChatChunkEncoder, ChunkIdentity
from proxy.errors import UpstreamUnavailable
from proxy.native_stream import NativeStreamTranslator
from proxy.sse import SSEEvent


class ChatTranslation:
    def __init__(self, identity: ChunkIdentity, *, include_usage: bool) -> None:
        self._native = NativeStreamTranslator()
        self._encoder = ChatChunkEncoder(identity, include_usage=include_usage)

    @property
    def request_id(self) -> str | None:
        """DashScope's request id, once a frame has carried it."""
        return self._native.request_id

    def feed(self, events: list[SSEEvent]) -> list[dict[str, Any]]:
        chunks: list[dict[str, Any]] = []
        for event in events:
            for translated in self._native.feed(event):
                chunks.extend(self._encoder.feed(translated))
        return chunks

    def finish(self) -> list[dict[str, Any]]:
        """The closing chunks; raises if the upstream stopped before finishing its answer."""
        if self._native.truncated:
            raise UpstreamUnavailable(
                "DashScope's stream ended before the answer was finished",
                code="upstream_truncated",
            )
        chunks: list[dict[str, Any]] = []
        for translated in self._native.finish():
            chunks.extend(self._encoder.feed(translated))
        chunks.extend(self._encoder.finish())
        return chunks
