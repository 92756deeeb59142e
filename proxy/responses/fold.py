"""Responses API stream events -> what is kept of them (sans-I/O).

A non-stream client gets the terminal event's Response object: the very events a streaming
client receives, so both modes share one translation path. The traffic recorder gets a summary
in the same shape as for chat completions (choices with reasoning, answer and tool calls, and
usage), so `dashscope-proxy logs` reads both APIs alike.
"""

from __future__ import annotations

from typing import Any

from proxy.core.errors import UpstreamUnavailable

Item = dict[str, Any]
TERMINAL_EVENTS = frozenset({"response.completed", "response.incomplete", "response.failed"})
_FINISH = {"max_output_tokens": "length", "content_filter": "content_filter"}


def final_response(events: list[Item]) -> Item:
    """The Response object of a complete stream: what a non-stream client receives."""
    for event in reversed(events):
        if event.get("type") in TERMINAL_EVENTS:
            response: Item = event["response"]
            return response
    raise UpstreamUnavailable("DashScope's stream ended without an answer")


class ResponsesFold:
    """Folds events as they pass into a chat-shaped summary, without keeping the stream."""

    __slots__ = ("_calls", "_content", "_reasoning", "_response", "_started")

    def __init__(self) -> None:
        self._started = False
        self._reasoning: list[str] = []
        self._content: list[str] = []
        self._calls: dict[int, Item] = {}  # by output index
        self._response: Item | None = None  # the terminal event's

    @property
    def empty(self) -> bool:
        return not self._started

    def add(self, event: Item) -> None:
        self._started = True
        kind = event.get("type")
        if kind == "response.reasoning_text.delta":
            self._reasoning.append(event["delta"])
        elif kind == "response.output_text.delta":
            self._content.append(event["delta"])
        elif kind == "response.output_item.added" and event["item"]["type"] == "function_call":
            item = event["item"]
            self._calls[event["output_index"]] = {
                "id": item["call_id"],
                "type": "function",
                "function": {"name": item["name"], "arguments": ""},
            }
        elif kind == "response.function_call_arguments.delta":
            self._calls[event["output_index"]]["function"]["arguments"] += event["delta"]
        elif kind in TERMINAL_EVENTS:
            self._response = event["response"]

    def completion(self) -> Item:
        message: Item = {"role": "assistant", "content": "".join(self._content) or None}
        if self._reasoning:
            message["reasoning_content"] = "".join(self._reasoning)
        if self._calls:
            message["tool_calls"] = [call for _, call in sorted(self._calls.items())]
        response = self._response or {}
        summary: Item = {
            "choices": [{"index": 0, "message": message, "finish_reason": self._finish()}]
        }
        usage = response.get("usage")
        if usage is not None:
            summary["usage"] = chat_usage(usage)
        return summary

    def _finish(self) -> str | None:
        response = self._response
        if response is None or response.get("status") == "failed":
            return None
        details = response.get("incomplete_details") or {}
        if response.get("status") == "incomplete":
            return _FINISH.get(str(details.get("reason")), "stop")
        return "tool_calls" if self._calls else "stop"


def chat_usage(usage: Item) -> Item:
    """A Responses usage object in chat-completions shape."""
    body: Item = {
        "prompt_tokens": usage["input_tokens"],
        "completion_tokens": usage["output_tokens"],
        "total_tokens": usage["total_tokens"],
        "completion_tokens_details": usage["output_tokens_details"],
        "prompt_tokens_details": usage["input_tokens_details"],
    }
    if "x_tools" in usage:
        body["x_tools"] = usage["x_tools"]
    return body
