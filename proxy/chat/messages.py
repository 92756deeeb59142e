"""OpenAI chat messages -> DashScope native messages, for either endpoint (sans-I/O).

The text-generation endpoint takes string content (or text parts, which carry
`cache_control`); the multimodal-generation endpoint takes lists of untyped parts
(`{"text"}`, `{"image"}`, `{"video"}`) in every message. Changes are reported in `notes`.
"""

from __future__ import annotations

from typing import Any

from proxy.core.errors import InvalidRequest

ROLES = frozenset({"system", "developer", "user", "assistant", "tool"})
_MEDIA_PARTS = frozenset({"image_url", "video_url", "video"})
_KEPT_KEYS = frozenset({"role", "content", "tool_calls", "tool_call_id", "cache_control"})


def has_media(messages: list[Any]) -> bool:
    """Whether any message carries an image or a video, which only the multimodal endpoint takes."""
    return any(
        isinstance(part, dict)
        and isinstance(part.get("type"), str)
        and part["type"] in _MEDIA_PARTS
        for message in messages
        if isinstance(message, dict) and isinstance(message.get("content"), list)
        for part in message["content"]
    )


def translate_messages(
    messages: list[Any], *, multimodal: bool, preserve_thinking: bool, notes: list[str]
) -> list[dict[str, Any]]:
    return [
        _message(m, i, multimodal=multimodal, preserve_thinking=preserve_thinking, notes=notes)
        for i, m in enumerate(messages)
    ]


def _message(
    message: Any, i: int, *, multimodal: bool, preserve_thinking: bool, notes: list[str]
) -> dict[str, Any]:
    where = f"messages[{i}]"
    if not isinstance(message, dict):
        raise InvalidRequest(f"'{where}' must be an object.", param=where)
    role = message.get("role")
    if not isinstance(role, str) or role not in ROLES:  # (a dict is not even hashable)
        raise InvalidRequest(
            f"'{where}.role' must be one of {', '.join(sorted(ROLES))}; got {role!r}.",
            param=f"{where}.role",
        )
    if role == "developer":
        role = "system"
        notes.append(f"{where}.role: developer sent as system")
    parts = _parts(message, role, where, notes)
    texts = [j for j, part in enumerate(parts) if "text" in part]
    if message.get("cache_control") is not None and texts:
        # Clients (Open WebUI) mark a whole message; DashScope marks a text part.
        parts[texts[-1]] = {**parts[texts[-1]], "cache_control": message["cache_control"]}
    out: dict[str, Any] = {"role": role, "content": _content(parts, multimodal)}
    if role == "assistant" and message.get("tool_calls") is not None:
        out["tool_calls"] = _tool_calls(message["tool_calls"], where)
    if role == "tool":
        out["tool_call_id"] = _tool_call_id(message, where)
        if isinstance(message.get("name"), str):
            out["name"] = message["name"]
    reasoning = message.get("reasoning_content")
    if role == "assistant" and isinstance(reasoning, str) and reasoning:
        if preserve_thinking:
            out["reasoning_content"] = reasoning
        else:
            notes.append(f"{where}.reasoning_content: dropped (send preserve_thinking to keep it)")
    ignored = message.keys() - _KEPT_KEYS - {"reasoning_content"}
    if role == "tool":
        ignored -= {"name"}
    notes.extend(f"{where}.{key}: dropped" for key in sorted(ignored))
    return out


def _parts(
    message: dict[str, Any], role: str, where: str, notes: list[str]
) -> list[dict[str, Any]]:
    """The content as native parts (`{"text"}`, `{"image"}`, `{"video"}`), before the endpoint
    decides whether it travels as a string."""
    content = message.get("content")
    if isinstance(content, str):
        return [{"text": content}]
    if content is None and role == "assistant":
        return []
    if isinstance(content, list):
        return [_part(part, f"{where}.content[{j}]", notes) for j, part in enumerate(content)]
    raise InvalidRequest(
        f"'{where}.content' must be a string or an array of content parts, "
        f"got {json_type(content)}.",
        param=f"{where}.content",
    )


def _part(part: Any, where: str, notes: list[str]) -> dict[str, Any]:
    kind = part.get("type") if isinstance(part, dict) else None
    if kind == "text" and isinstance(part.get("text"), str):
        out: dict[str, Any] = {"text": part["text"]}
        if part.get("cache_control") is not None:
            out["cache_control"] = part["cache_control"]
        return out
    if kind in ("image_url", "video_url"):
        media = part.get(kind)
        url = _url(media, f"{where}.{kind}")
        notes.extend(f"{where}.{kind}.{key}: dropped" for key in sorted(media.keys() - {"url"}))
        return {"image" if kind == "image_url" else "video": url}
    if kind == "video" and isinstance(part.get("video"), list | str):
        return {"video": part["video"]}  # DashScope's own form: a URL or a list of frame URLs
    raise InvalidRequest(
        f"'{where}' must be a text, image_url or video_url part; parts of type {kind!r} "
        "are not supported.",
        param=where,
    )


def _url(value: Any, where: str) -> str:
    url = value.get("url") if isinstance(value, dict) else None
    if not isinstance(url, str) or not url.startswith(("http://", "https://", "data:", "oss://")):
        raise InvalidRequest(f"'{where}.url' must be an http(s) or data: URL.", param=where)
    return url


def _content(parts: list[dict[str, Any]], multimodal: bool) -> str | list[dict[str, Any]]:
    if multimodal:
        return parts
    if any("cache_control" in part for part in parts):
        return [{"type": "text", **part} for part in parts]
    return "".join(part["text"] for part in parts)


def _tool_call_id(message: dict[str, Any], where: str) -> str:
    call_id = message.get("tool_call_id")
    if not isinstance(call_id, str) or not call_id:
        raise InvalidRequest(
            f"'{where}.tool_call_id' is required for tool messages.", param=f"{where}.tool_call_id"
        )
    return call_id


def _tool_calls(calls: Any, where: str) -> list[dict[str, Any]]:
    if not isinstance(calls, list):
        raise InvalidRequest(f"'{where}.tool_calls' must be an array.", param=f"{where}.tool_calls")
    out = []
    for j, call in enumerate(calls):
        function = call.get("function") if isinstance(call, dict) else None
        if not isinstance(function, dict) or not isinstance(function.get("name"), str):
            raise InvalidRequest(
                f"'{where}.tool_calls[{j}]' must have a function with a name.",
                param=f"{where}.tool_calls[{j}]",
            )
        arguments = function.get("arguments")
        out.append(
            {
                "id": call.get("id"),
                "type": "function",
                "function": {
                    "name": function["name"],
                    # DashScope rejects history whose arguments are not JSON; "" means none.
                    "arguments": arguments if isinstance(arguments, str) and arguments else "{}",
                },
            }
        )
    return out


def json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "an array"
    return "an object"
