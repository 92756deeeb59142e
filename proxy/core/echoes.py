"""Harmless echoes: the proxy's own code-interpreter calls, sent back in history (sans-I/O).

Agent frameworks send the proxy's own code-interpreter calls back in history, often answered by
fake tool results ("Error: code_interpreter is not a valid tool", ""). The code already ran on
DashScope's side, so those calls and results are removed before the upstream call, and a request
whose only new input is such results is answered without one: the loop ends there
(docs/architecture.md, "Echoed calls are harmless").

The proxy's calls are recognised statelessly by the ids it issued, which clients keep. Chat
messages and native turns hold calls alike (`tool_calls[].id`, `tool_call_id`), so both client
APIs strip with this module: chat on the client's messages, the Responses API on the turns its
input items became.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar, cast

# Every code-interpreter call the proxy shows as a tool call has an id with this prefix.
CALL_ID_PREFIX = "call_ci_"

Message = TypeVar("Message")


def is_own_call_id(call_id: Any) -> bool:
    return isinstance(call_id, str) and call_id.startswith(CALL_ID_PREFIX)


@dataclass(slots=True)
class EchoResult(Generic[Message]):
    messages: list[Message] = field(default_factory=list)
    removed_calls: int = 0
    removed_results: int = 0
    # Set when the request only answers the proxy's own calls: the reply to give without DashScope.
    local_answer: str | None = None

    def notes(self, where: str) -> list[str]:
        """What the removal changed, for the notes header; `where` names the conversation."""
        if not (self.removed_calls or self.removed_results):
            return []
        return [
            f"{where}: removed {self.removed_calls} echoed code_interpreter call(s) and "
            f"{self.removed_results} result(s) for them"
        ]


def strip_echoes(messages: list[Message]) -> EchoResult[Message]:
    """`messages` (chat messages or native turns) without the proxy's own calls and results."""
    result: EchoResult[Message] = EchoResult(local_answer=_local_answer(messages))
    for message in messages:
        if not isinstance(message, dict):
            result.messages.append(message)
        elif message.get("role") == "tool" and is_own_call_id(message.get("tool_call_id")):
            result.removed_results += 1
        elif message.get("role") == "assistant" and isinstance(message.get("tool_calls"), list):
            kept = [c for c in message["tool_calls"] if not _is_own_call(c)]
            result.removed_calls += len(message["tool_calls"]) - len(kept)
            if kept:
                result.messages.append(cast(Message, {**message, "tool_calls": kept}))
            elif _text_of(message.get("content")) or message.get("reasoning_content"):
                without = {k: v for k, v in message.items() if k != "tool_calls"}
                result.messages.append(cast(Message, without))
        else:
            result.messages.append(message)
    return result


def _is_own_call(call: Any) -> bool:
    return isinstance(call, dict) and is_own_call_id(call.get("id"))


def _local_answer(messages: list[Any]) -> str | None:
    """The last assistant turn's text, if everything after it answers only the proxy's calls."""
    tail: list[Any] = []
    for message in reversed(messages):
        if isinstance(message, dict) and message.get("role") == "assistant":
            calls = message.get("tool_calls")
            if (
                tail
                and isinstance(calls, list)
                and calls
                and all(_is_own_call(c) for c in calls)
                and all(_answers_own_call(m) for m in tail)
            ):
                return _text_of(message.get("content"))
            return None
        tail.append(message)
    return None


def _answers_own_call(message: Any) -> bool:
    return (
        isinstance(message, dict)
        and message.get("role") == "tool"
        and is_own_call_id(message.get("tool_call_id"))
    )


def _text_of(content: Any) -> str:
    """The text of a message's content: a string, or its parts' texts (chat or native parts)."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(
            part.get("text", "")
            for part in content
            if isinstance(part, dict) and isinstance(part.get("text"), str)
        )
    return ""
