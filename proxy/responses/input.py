"""A Responses API `input` -> chat-completions messages (sans-I/O).

The Responses API sends a conversation as a list of items; the chat translator already knows
how to send messages to DashScope, so items become the messages a chat client would have sent.
Items the proxy itself produced for server-side tools (`code_interpreter_call`,
`web_search_call`) are history, never requests: DashScope already ran them, so they are not
sent, and code never runs again because of them. Reasoning items are not sent either.
"""

from __future__ import annotations

from typing import Any

from proxy.chat.messages import json_type
from proxy.core.errors import InvalidRequest

_ROLES = ("user", "system", "developer", "assistant")
_HOSTED = ("code_interpreter_call", "web_search_call")
_TEXT_PARTS = ("input_text", "output_text", "text")


def input_messages(value: Any, instructions: str | None, notes: list[str]) -> list[Any]:
    messages: list[Any] = []
    if instructions:
        messages.append({"role": "system", "content": instructions})
    if isinstance(value, str):
        messages.append({"role": "user", "content": value})
        return messages
    if not isinstance(value, list) or not value:
        raise InvalidRequest(
            "'input' is required: a string or a non-empty array of items.", param="input"
        )
    skipped = {"hosted": 0, "reasoning": 0}
    for index, item in enumerate(value):
        _add_item(messages, item, f"input[{index}]", skipped)
    if skipped["hosted"]:
        notes.append(
            f"input: {skipped['hosted']} code_interpreter_call/web_search_call item(s) not "
            "sent (DashScope already ran them)"
        )
    if skipped["reasoning"]:
        notes.append(f"input: {skipped['reasoning']} reasoning item(s) not sent")
    return _close_assistants(messages)


def _add_item(messages: list[Any], item: Any, where: str, skipped: dict[str, int]) -> None:
    if not isinstance(item, dict):
        raise InvalidRequest(f"'{where}' must be an object, got {json_type(item)}.", param=where)
    kind = item.get("type", "message" if "role" in item else None)
    if kind == "message":
        _message(messages, item, where)
    elif kind == "function_call":
        _assistant(messages)["tool_calls"].append(_function_call(item, where))
    elif kind == "function_call_output":
        call_id = _string(item, "call_id", where)
        output = _content_text(item.get("output"), f"{where}.output")
        messages.append({"role": "tool", "tool_call_id": call_id, "content": output})
    elif kind in _HOSTED:
        skipped["hosted"] += 1
    elif kind == "reasoning":
        skipped["reasoning"] += 1
    elif kind == "item_reference":
        raise InvalidRequest(
            f"'{where}': item references need stored responses, and the proxy stores nothing; "
            "send the items themselves.",
            param=where,
        )
    else:
        raise InvalidRequest(
            f"'{where}' has type {kind!r}; the proxy takes message, function_call, "
            "function_call_output, reasoning and code_interpreter_call items.",
            param=where,
        )


def _message(messages: list[Any], item: dict[str, Any], where: str) -> None:
    role = item.get("role")
    if role not in _ROLES:
        raise InvalidRequest(
            f"'{where}.role' must be one of {', '.join(_ROLES)}.", param=f"{where}.role"
        )
    content = item.get("content")
    if role == "assistant":
        text = _content_text(content, f"{where}.content")
        message = _assistant(messages)
        message["content"] = (message["content"] or "") + text
        return
    if isinstance(content, str):
        messages.append({"role": role, "content": content})
        return
    if not isinstance(content, list):
        raise InvalidRequest(
            f"'{where}.content' must be a string or an array of parts.", param=f"{where}.content"
        )
    parts = [_part(part, f"{where}.content[{i}]") for i, part in enumerate(content)]
    messages.append({"role": role, "content": parts})


def _assistant(messages: list[Any]) -> dict[str, Any]:
    """The assistant message being built: consecutive assistant items are one chat turn."""
    last = messages[-1] if messages else None
    if isinstance(last, dict) and last.get("role") == "assistant" and "tool_calls" in last:
        return last
    message: dict[str, Any] = {"role": "assistant", "content": None, "tool_calls": []}
    messages.append(message)
    return message


def _close_assistants(messages: list[Any]) -> list[Any]:
    """The messages as a chat client sends them: no empty `tool_calls`, no null-only turns."""
    closed: list[Any] = []
    for message in messages:
        if isinstance(message, dict) and message.get("role") == "assistant":
            message = {k: v for k, v in message.items() if v or k == "role"}
            message.setdefault("content", "")
        closed.append(message)
    return closed


def _function_call(item: dict[str, Any], where: str) -> dict[str, Any]:
    arguments = item.get("arguments", "")
    if not isinstance(arguments, str):
        raise InvalidRequest(
            f"'{where}.arguments' must be a string of JSON.", param=f"{where}.arguments"
        )
    return {
        "id": _string(item, "call_id", where),
        "type": "function",
        "function": {"name": _string(item, "name", where), "arguments": arguments},
    }


def _part(part: Any, where: str) -> dict[str, Any]:
    kind = part.get("type") if isinstance(part, dict) else None
    if kind in _TEXT_PARTS and isinstance(part.get("text"), str):
        return {"type": "text", "text": part["text"]}
    if kind == "input_image" and isinstance(part.get("image_url"), str):
        image: dict[str, Any] = {"url": part["image_url"]}
        if isinstance(part.get("detail"), str):
            image["detail"] = part["detail"]
        return {"type": "image_url", "image_url": image}
    if kind == "input_image":
        raise InvalidRequest(
            f"'{where}': images need an `image_url` (a URL or a data: URL); file ids live in "
            "OpenAI's file store.",
            param=where,
        )
    raise InvalidRequest(
        f"'{where}' has type {kind!r}; the proxy takes input_text and input_image parts.",
        param=where,
    )


def _content_text(content: Any, where: str) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        texts = []
        for i, part in enumerate(content):
            kind = part.get("type") if isinstance(part, dict) else None
            if kind == "refusal" and isinstance(part.get("refusal"), str):
                texts.append(part["refusal"])
            elif kind in _TEXT_PARTS and isinstance(part.get("text"), str):
                texts.append(part["text"])
            else:
                raise InvalidRequest(f"'{where}[{i}]' must be a text part.", param=f"{where}[{i}]")
        return "".join(texts)
    raise InvalidRequest(f"'{where}' must be a string or an array of text parts.", param=where)


def _string(item: dict[str, Any], key: str, where: str) -> str:
    value = item.get(key)
    if not isinstance(value, str) or not value:
        raise InvalidRequest(f"'{where}.{key}' is required.", param=f"{where}.{key}")
    return value
