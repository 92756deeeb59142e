"""Fold a stream of chat.completion.chunk objects into one `chat.completion` (sans-I/O).

Non-stream clients are served by streaming upstream and folding the very chunks a streaming
client would have received, so both modes share one translation path.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import cast

from proxy.chat.wire import (
    Annotation,
    ChatChunk,
    ChatCompletion,
    ChunkChoice,
    CompletionChoice,
    FinishReason,
    Message,
    RunCode,
    SearchInfo,
    ToolCall,
    ToolCallDelta,
)
from proxy.core.errors import UpstreamUnavailable
from proxy.core.events import UsageObject
from proxy.core.wire import Item


class _Call:
    __slots__ = ("arguments", "id", "name", "type")

    def __init__(self, call: ToolCallDelta) -> None:
        self.id = call.get("id")
        self.type = call.get("type", "function")
        self.name = call["function"].get("name")
        self.arguments: list[str] = []

    def tool_call(self) -> ToolCall:
        return {
            "id": self.id,
            "type": self.type,
            "function": {"name": self.name, "arguments": "".join(self.arguments)},
        }


class _Choice:
    __slots__ = (
        "annotations",
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
        self.tool_calls: dict[int, _Call] = {}
        self.code_runs: dict[int, RunCode] = {}
        self.logprobs: list[object] | None = None
        self.search: SearchInfo | None = None
        self.annotations: list[Annotation] = []
        self.finish_reason: FinishReason | None = None

    def add(self, entry: ChunkChoice) -> None:
        delta = entry["delta"]
        if delta.get("content"):
            self.content.append(delta["content"])
        if delta.get("reasoning_content"):
            self.reasoning.append(delta["reasoning_content"])
        for call in delta.get("tool_calls") or ():
            self._add_call(call)
        for run in delta.get("code_interpreter_calls") or ():
            slot = self.code_runs.setdefault(run["index"], {"id": run["id"], "code": ""})
            slot["code"] += run["code"]
        if "search_info" in delta:
            self.search = delta["search_info"]
        self.annotations.extend(delta.get("annotations", ()))
        logprobs = entry["logprobs"]
        if logprobs is not None:
            self.logprobs = (self.logprobs or []) + logprobs["content"]
        if entry["finish_reason"]:
            self.finish_reason = entry["finish_reason"]

    def _add_call(self, call: ToolCallDelta) -> None:
        slot = self.tool_calls.get(call["index"])
        if slot is None:
            slot = self.tool_calls[call["index"]] = _Call(call)
        arguments = call["function"].get("arguments")
        if arguments:
            slot.arguments.append(arguments)

    def completion_choice(self, index: int) -> CompletionChoice:
        return {
            "index": index,
            "message": self._message(),
            "logprobs": None if self.logprobs is None else {"content": self.logprobs},
            "finish_reason": self.finish_reason,
        }

    def _message(self) -> Message:
        message: Message = {"role": "assistant", "content": "".join(self.content), "refusal": None}
        if self.reasoning:
            message["reasoning_content"] = "".join(self.reasoning)
        if self.tool_calls:
            if not self.content:
                message["content"] = None
            message["tool_calls"] = [
                call.tool_call() for _, call in sorted(self.tool_calls.items())
            ]
        if self.code_runs:
            message["code_interpreter_calls"] = [run for _, run in sorted(self.code_runs.items())]
        if self.search is not None:
            message["search_info"] = self.search
        if self.annotations:
            message["annotations"] = self.annotations
        return message


def fold_chunks(items: Iterable[Item]) -> ChatCompletion:
    """One `chat.completion` from the chunks of a complete stream (usage chunk included)."""
    head: ChatChunk | None = None
    usage: UsageObject | None = None
    choices: dict[int, _Choice] = {}
    for chunk in cast(Iterable[ChatChunk], items):  # the chat encoder's items are chunks
        head = head or chunk
        usage = chunk.get("usage", usage)
        for entry in chunk["choices"]:
            choice = choices.get(entry["index"])
            if choice is None:
                choice = choices[entry["index"]] = _Choice()
            choice.add(entry)
    if head is None:
        raise UpstreamUnavailable("DashScope's stream ended without an answer")
    completion: ChatCompletion = {
        "id": head["id"],
        "object": "chat.completion",
        "created": head["created"],
        "model": head["model"],
        "choices": [choice.completion_choice(index) for index, choice in sorted(choices.items())],
    }
    if usage is not None:
        completion["usage"] = usage
    return completion
