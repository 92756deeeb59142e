"""The Responses API's output items, as dicts shaped like OpenAI's (sans-I/O).

What `proxy/responses_stream.py` builds its events from: the open text and function-call
items it grows, and the finished shape of every item type it emits.
"""

from __future__ import annotations

from typing import Any

from proxy.core.events import Usage
from proxy.core.wire import Item

# DashScope runs the code in a sandbox it does not name; the item type requires some id.
CONTAINER_ID = "dashscope"


class TextItem:
    """An open reasoning or message item: its text so far."""

    __slots__ = ("id", "index", "kind", "logprobs", "parts")

    def __init__(self, kind: str, index: int, item_id: str) -> None:
        self.kind = kind
        self.index = index
        self.id = item_id
        self.parts: list[str] = []
        self.logprobs: list[Any] = []

    def part(self, text: str) -> Item:
        if self.kind == "reasoning":
            return {"type": "reasoning_text", "text": text}
        # A copy: the list keeps growing after this part has gone out.
        return {
            "type": "output_text",
            "text": text,
            "annotations": [],
            "logprobs": list(self.logprobs),
        }

    def item(self, status: str) -> Item:
        text = "".join(self.parts)
        if self.kind == "reasoning":
            return {
                "id": self.id,
                "type": "reasoning",
                "summary": [],
                "content": [self.part(text)],
                "status": status,
            }
        return message_item(self.id, status, [self.part(text)])


class CallItem:
    """An open function call item."""

    __slots__ = ("arguments", "call_id", "id", "index", "name")

    def __init__(self, index: int, item_id: str, call_id: str, name: str) -> None:
        self.index = index
        self.id = item_id
        self.call_id = call_id
        self.name = name
        self.arguments: list[str] = []

    def item(self, status: str) -> Item:
        return function_call_item(self, "".join(self.arguments), status)


def response_usage(usage: Usage) -> Item:
    """The Responses API's usage object; the interpreter run count under `x_tools`, as in
    chat completions."""
    body: dict[str, Any] = {
        "input_tokens": usage.prompt_tokens,
        "input_tokens_details": {"cached_tokens": usage.cached_tokens or 0},
        "output_tokens": usage.completion_tokens,
        "output_tokens_details": {"reasoning_tokens": usage.reasoning_tokens or 0},
        "total_tokens": usage.total_tokens,
    }
    if usage.code_interpreter_runs is not None:
        body["x_tools"] = {"code_interpreter": {"count": usage.code_interpreter_runs}}
    return body


def message_item(item_id: str, status: str, content: list[Item]) -> Item:
    return {
        "id": item_id,
        "type": "message",
        "role": "assistant",
        "status": status,
        "content": content,
    }


def code_call_item(item_id: str, code: str, status: str) -> Item:
    return {
        "id": item_id,
        "type": "code_interpreter_call",
        "status": status,
        "code": code,
        "container_id": CONTAINER_ID,
        "outputs": None,
    }


def function_call_item(call: CallItem, arguments: str, status: str) -> Item:
    return {
        "id": call.id,
        "type": "function_call",
        "status": status,
        "call_id": call.call_id,
        "name": call.name,
        "arguments": arguments,
    }
