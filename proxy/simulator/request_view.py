"""What the simulator reads from a native request body: parameters, messages, media parts."""

from collections.abc import Mapping
from typing import Any


def parameters(body: Mapping[str, Any]) -> Mapping[str, Any]:
    params = body.get("parameters")
    return params if isinstance(params, dict) else {}


def flag(body: Mapping[str, Any], name: str) -> bool:
    return parameters(body).get(name) is True


def messages(body: Mapping[str, Any]) -> list[dict[str, Any]]:
    inputs = body.get("input")
    found = inputs.get("messages") if isinstance(inputs, dict) else None
    return [m for m in found if isinstance(m, dict)] if isinstance(found, list) else []


def text_of(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        # Both `{"text": ...}` (multimodal) and `{"type": "text", "text": ...}` parts.
        parts = [p.get("text") for p in content if isinstance(p, dict)]
        return "\n".join(p for p in parts if isinstance(p, str))
    return ""


def last_user_text(body: Mapping[str, Any]) -> str:
    for message in reversed(messages(body)):
        if message.get("role") == "user":
            return text_of(message.get("content"))
    inputs = body.get("input")
    prompt = inputs.get("prompt") if isinstance(inputs, dict) else None  # legacy requests
    return prompt if isinstance(prompt, str) else ""


def has_tool_result(body: Mapping[str, Any]) -> bool:
    """Whether the conversation already answers a function call (the model should reply)."""
    return any(message.get("role") == "tool" for message in messages(body))


def media(body: Mapping[str, Any]) -> list[tuple[str, str]]:
    """`(kind, url)` of every image and video part, in order (multimodal parts only)."""
    found = []
    for message in messages(body):
        content = message.get("content")
        for part in content if isinstance(content, list) else ():
            if not isinstance(part, dict):
                continue
            for kind in ("image", "video"):
                value = part.get(kind)
                if isinstance(value, str):
                    found.append((kind, value))
                elif isinstance(value, list):
                    found.extend((kind, v) for v in value if isinstance(v, str))
    return found
