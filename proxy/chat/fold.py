"""Fold a stream of chat.completion.chunk objects into one `chat.completion` (sans-I/O).

Non-stream clients are served by streaming upstream and folding the very chunks a streaming
client would have received, so both modes share one translation path.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from proxy.chat.code_runs import VENDOR_KEY
from proxy.core.errors import UpstreamUnavailable
from proxy.core.wire import Item


class _Choice:
    __slots__ = (
        "code_runs",
        "content",
        "finish_reason",
        "logprobs",
        "reasoning",
        "search",
        "tool_calls",
    )

    def __init__(self) -> None:
        self.content: list[str] = []
        self.reasoning: list[str] = []
        self.tool_calls: dict[int, dict[str, Any]] = {}
        self.code_runs: dict[int, dict[str, Any]] = {}
        self.logprobs: list[Any] | None = None
        self.search: Any = None
        self.finish_reason: str | None = None

    def add(self, entry: dict[str, Any]) -> None:
        delta = entry["delta"]
        if delta.get("content"):
            self.content.append(delta["content"])
        if delta.get("reasoning_content"):
            self.reasoning.append(delta["reasoning_content"])
        for call in delta.get("tool_calls") or ():
            self._add_call(call)
        for run in delta.get(VENDOR_KEY) or ():
            slot = self.code_runs.setdefault(run["index"], {"id": run.get("id"), "code": ""})
            slot["code"] += run.get("code", "")
        if delta.get("search_info") is not None:
            self.search = delta["search_info"]
        logprobs = entry.get("logprobs")
        if logprobs and logprobs.get("content") is not None:
            self.logprobs = (self.logprobs or []) + logprobs["content"]
        if entry.get("finish_reason"):
            self.finish_reason = entry["finish_reason"]

    def _add_call(self, call: dict[str, Any]) -> None:
        slot = self.tool_calls.get(call["index"])
        function = call.get("function") or {}
        if slot is None:
            slot = self.tool_calls[call["index"]] = {
                "id": call.get("id"),
                "type": call.get("type", "function"),
                "function": {"name": function.get("name"), "arguments": []},
            }
        if function.get("arguments"):
            slot["function"]["arguments"].append(function["arguments"])

    def message(self) -> dict[str, Any]:
        message: dict[str, Any] = {"role": "assistant", "content": "".join(self.content)}
        if self.reasoning:
            message["reasoning_content"] = "".join(self.reasoning)
        if self.tool_calls:
            if not self.content:
                message["content"] = None
            message["tool_calls"] = [
                {
                    "id": call["id"],
                    "type": call["type"],
                    "function": {
                        "name": call["function"]["name"],
                        "arguments": "".join(call["function"]["arguments"]),
                    },
                }
                for _, call in sorted(self.tool_calls.items())
            ]
        if self.code_runs:
            message[VENDOR_KEY] = [run for _, run in sorted(self.code_runs.items())]
        if self.search is not None:
            message["search_info"] = self.search
        return message


class ChunkFold:
    """Folds chunks as they pass, so a stream can be summarised without keeping it."""

    __slots__ = ("_choices", "_head", "_usage")

    def __init__(self) -> None:
        self._head: Item | None = None
        self._usage: Any = None
        self._choices: dict[int, _Choice] = {}

    @property
    def empty(self) -> bool:
        return self._head is None

    def add(self, chunk: Item) -> None:
        if self._head is None:
            self._head = chunk
        if chunk.get("usage") is not None:
            self._usage = chunk["usage"]
        for entry in chunk["choices"]:
            choice = self._choices.get(entry["index"])
            if choice is None:
                choice = self._choices[entry["index"]] = _Choice()
            choice.add(entry)

    def completion(self) -> dict[str, Any]:
        head = self._head
        if head is None:
            raise UpstreamUnavailable("DashScope's stream ended without an answer")
        completion: dict[str, Any] = {
            "id": head["id"],
            "object": "chat.completion",
            "created": head["created"],
            "model": head["model"],
            "choices": [
                {
                    "index": index,
                    "message": choice.message(),
                    "logprobs": None if choice.logprobs is None else {"content": choice.logprobs},
                    "finish_reason": choice.finish_reason,
                }
                for index, choice in sorted(self._choices.items())
            ],
        }
        if self._usage is not None:
            completion["usage"] = self._usage
        return completion


def fold_chunks(chunks: Iterable[Item]) -> dict[str, Any]:
    """One `chat.completion` from the chunks of a complete stream (usage chunk included)."""
    fold = ChunkFold()
    for chunk in chunks:
        fold.add(chunk)
    return fold.completion()
