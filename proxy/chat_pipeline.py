"""Native SSE events -> chat.completion.chunk objects: the whole Chat Completions translation.

Pure: the I/O shell feeds decoded upstream events and writes out what comes back.
"""

from __future__ import annotations

from typing import Any

from proxy.chat_stream import ChatChunkEncoder, ChunkIdentity, usage_object
from proxy.code_runs import DEFAULT_FORMAT
from proxy.errors import ProxyError, UpstreamUnavailable
from proxy.events import ContentDelta, Finish, Usage
from proxy.native_stream import NativeStreamTranslator
from proxy.sse import SSEEvent


class ChatTranslation:
    def __init__(
        self, identity: ChunkIdentity, *, include_usage: bool, code_format: str = DEFAULT_FORMAT
    ) -> None:
        self.identity = identity
        self.finished = False  # the answer is complete: its closing chunks were produced
        self._native = NativeStreamTranslator()
        self._encoder = ChatChunkEncoder(
            identity, include_usage=include_usage, code_format=code_format
        )
        self._error: ProxyError | None = None  # raised once the chunks before it are out

    @property
    def request_id(self) -> str | None:
        """DashScope's request id, once a frame has carried it."""
        return self._native.request_id

    @property
    def code_runs(self) -> list[str]:
        return self._native.code_runs

    @property
    def usage(self) -> dict[str, Any] | None:
        """The final usage in OpenAI's shape, whether or not the client asked to receive it."""
        usage = self._encoder.usage
        return None if usage is None else usage_object(usage)

    def feed(self, events: list[SSEEvent]) -> list[dict[str, Any]]:
        if self._error is not None:
            raise self._error
        chunks: list[dict[str, Any]] = []
        for event in events:
            try:
                translated = self._native.feed(event)
            except ProxyError as error:
                if not chunks:
                    raise
                # Frames before the error came in the same read: their chunks go out first, the
                # error with the next call, so the output does not depend on how bytes arrive.
                self._error = error
                return chunks
            for item in translated:
                chunks.extend(self._encoder.feed(item))
        return chunks

    def finish(self) -> list[dict[str, Any]]:
        """The closing chunks; raises if the upstream stopped before finishing its answer."""
        if self._error is not None:
            raise self._error
        if self._native.truncated:
            raise UpstreamUnavailable(
                "DashScope's stream ended before the answer was finished",
                code="upstream_truncated",
            )
        chunks: list[dict[str, Any]] = []
        for translated in self._native.finish():
            chunks.extend(self._encoder.feed(translated))
        chunks.extend(self._encoder.finish())
        self.finished = True
        return chunks

    def local_answer(self, text: str) -> list[dict[str, Any]]:
        """A complete answer made by the proxy itself, without DashScope (and without tokens)."""
        chunks: list[dict[str, Any]] = []
        for event in (ContentDelta(0, text), Finish(0, "stop"), Usage(0, 0, None, None, None)):
            chunks.extend(self._encoder.feed(event))
        chunks.extend(self._encoder.finish())
        self.finished = True
        return chunks
